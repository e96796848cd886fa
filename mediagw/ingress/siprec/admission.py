"""Who may talk to the recording server, sans-I/O: a CIDR allowlist of sources (SIP and RTP), and a per-source
limit on dialogs that no ACK has confirmed yet, so one source cannot hold the RTP ports with INVITEs it never
completes."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable

from mediagw.ingress.siprec.sip import SipRequest, SipResponse, make_response

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DialogKey = tuple[str, str, str]  # Call-ID, local tag, remote tag
RETRY_AFTER_S = 5  # in a 503 for too many unconfirmed dialogs: the SRC may retry, or fail over, meanwhile


def parse_networks(cidrs: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`10.1.0.0/16`, `192.0.2.7` (one host), `2001:db8::/32`; ValueError naming the bad entry."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError as error:
            raise ValueError(f"{cidr!r} is not an IP address or CIDR network") from error
    return tuple(networks)


def ip_of(host: str) -> IpAddress | None:
    """The address of a socket's host string (an IPv4-mapped IPv6 address as IPv4, scope dropped); None for a
    name or anything else that is not an IP literal."""
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def same_host(a: str, b: str) -> bool:
    """Two host strings name the same address (127.0.0.1 and ::ffff:127.0.0.1 do)."""
    if a == b:
        return True
    first, second = ip_of(a), ip_of(b)
    return first is not None and first == second


class SourceFilter:
    """The sources allowed to send SIP and RTP: empty allows every source. Answers are cached per host string,
    so a packet costs a dict lookup (the cache is bounded: a spoofed flood cannot grow it without limit)."""

    CACHE_LIMIT = 4096

    def __init__(self, cidrs: Iterable[str] = ()) -> None:
        self._networks = parse_networks(cidrs)
        self._known: dict[str, bool] = {}

    @property
    def open(self) -> bool:
        return not self._networks

    def allows(self, host: str) -> bool:
        if not self._networks:
            return True
        known = self._known.get(host)
        if known is not None:
            return known
        address = ip_of(host)
        allowed = address is not None and any(address in network for network in self._networks)
        if len(self._known) >= self.CACHE_LIMIT:
            self._known.clear()
        self._known[host] = allowed
        return allowed


class UnconfirmedDialogs:
    """Dialogs answered 2xx whose ACK has not come, by source host. `limit` 0: no limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._by_source: dict[str, set[DialogKey]] = {}
        self._source_of: dict[DialogKey, str] = {}

    def full(self, source: str) -> bool:
        return bool(self.limit) and len(self._by_source.get(source, ())) >= self.limit

    def add(self, source: str, dialog: DialogKey) -> None:
        self._by_source.setdefault(source, set()).add(dialog)
        self._source_of[dialog] = source

    def confirmed(self, dialog: DialogKey) -> None:
        """The dialog's ACK came, or the dialog ended (timer H, BYE, shutdown): it no longer counts."""
        source = self._source_of.pop(dialog, None)
        if source is None:
            return
        pending = self._by_source[source]
        pending.discard(dialog)
        if not pending:
            del self._by_source[source]

    def count(self, source: str) -> int:
        return len(self._by_source.get(source, ()))

    def __len__(self) -> int:
        return len(self._source_of)


def stateless_response(request: SipRequest, status: int, reason: str) -> SipResponse:
    """A refusal sent without a server transaction: nothing kept, never retransmitted (a retransmitted request is
    answered again, with the same To tag: RFC 3261 §8.2.7). A 503 says when to try again."""
    seed = f"{request.call_id}\n{request.from_tag}\n{request.branch}\n{request.cseq[0]}".encode()
    headers = [("Retry-After", str(RETRY_AFTER_S))] if status == 503 else []
    return make_response(request, status, reason, to_tag=hashlib.sha256(seed).hexdigest()[:16], headers=headers)
