"""SIP transactions of the recording server, sans-I/O (RFC 3261 §17): responses kept for retransmitted
requests, final responses to INVITE retransmitted over UDP until the ACK (timers G and H), and the BYEs the
server sends retransmitted until a final response comes (timers E and F). Time is passed in.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from mediagw.ingress.siprec.sip import SipRequest, SipResponse, parse_via

T1, T2 = 0.5, 4.0
TRANSACTION_LIFETIME = 64 * T1  # timers H and J (and F for our BYEs): how long a transaction lives
MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7: a branch that identifies the transaction by itself

DialogKey = tuple[str, str, str]  # Call-ID, local tag, remote tag


@dataclass(frozen=True)
class Peer:
    """Where a message came from and goes back to: the source address, and the TCP connection if any."""

    address: tuple[str, int]
    transport: str  # "udp", "tcp" or "tls"
    connection: int | None = None

    @property
    def reliable(self) -> bool:
        return self.transport != "udp"


@dataclass(frozen=True)
class Send:
    message: SipRequest | SipResponse
    peer: Peer


@dataclass(frozen=True)
class AckTimeout:
    """Timer H fired on a 2xx to INVITE that no ACK confirmed (RFC 3261 §13.3.1.4): end the session."""

    dialog: DialogKey


@dataclass
class ServerTransaction:
    response: SipResponse
    peer: Peer
    expires: float
    invite: bool
    acked: bool = False


class ServerTransactions:
    """Server transactions by branch, sent-by and method; our BYEs awaiting a final response; their timers."""

    def __init__(self) -> None:
        self._table: dict[tuple[str, str, str], ServerTransaction] = {}
        # 2xx to INVITE by what its ACK carries: Call-ID, To tag, From tag, CSeq number (RFC 3261 §13.2.2.4)
        self._awaiting_ack: dict[tuple[str, str, str, int], ServerTransaction] = {}
        self._pending: set[str] = set()  # branches of our requests that no final response has answered
        self._timers: list[tuple[float, int, Callable[[float], list[Send | AckTimeout]]]] = []
        self._order = itertools.count()

    def lookup(self, request: SipRequest, method: str | None = None) -> ServerTransaction | None:
        """The transaction `request` belongs to (`method`: of another method with the same branch, for CANCEL)."""
        return self._table.get(_key(request, method or request.method))

    def record(self, request: SipRequest, response: SipResponse, peer: Peer, now: float) -> None:
        """Keep `response` for retransmissions of `request`; over UDP a final response to INVITE is resent."""
        invite = request.method == "INVITE"
        transaction = ServerTransaction(response, peer, now + TRANSACTION_LIFETIME, invite)
        key = _key(request, request.method)
        self._table[key] = transaction
        ack_key = _ack_key(response) if invite and response.status < 300 else None
        if ack_key is not None:
            self._awaiting_ack[ack_key] = transaction
        self._schedule(transaction.expires, lambda at: self.expire(key, ack_key, transaction))
        if invite and response.status >= 200 and not peer.reliable:
            self._resend_until_ack(transaction, now, T1)

    def ack(self, request: SipRequest) -> None:
        """An ACK: for a non-2xx it shares the INVITE's branch, for a 2xx the dialog and CSeq number."""
        transaction = self._table.get(_key(request, "INVITE")) or self._awaiting_ack.get(_ack_key(request))
        if transaction is not None:
            transaction.acked = True

    def expire(
        self, key: tuple[str, str, str], ack_key: tuple[str, str, str, int] | None, transaction: ServerTransaction
    ) -> list[Send | AckTimeout]:
        if self._table.get(key) is transaction:
            del self._table[key]
        if ack_key is not None and self._awaiting_ack.get(ack_key) is transaction:
            del self._awaiting_ack[ack_key]
            if not transaction.acked:
                response = transaction.response
                return [AckTimeout((response.call_id, response.to_tag or "", response.from_tag or ""))]
        return []

    def send_request(self, send: Send, now: float) -> None:
        """Our request (a BYE): over UDP resent from T1, doubling to T2, until a final response or timer F."""
        if send.peer.reliable or not isinstance(send.message, SipRequest):
            return
        branch = send.message.branch or ""
        self._pending.add(branch)
        self._resend_request(send, branch, now, T1, now + TRANSACTION_LIFETIME)

    def response_received(self, response: SipResponse) -> None:
        if response.status >= 200:
            self._pending.discard(response.branch or "")

    def next_deadline(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def tick(self, now: float) -> list[Send | AckTimeout]:
        actions: list[Send | AckTimeout] = []
        while self._timers and self._timers[0][0] <= now:
            _, _, run = heapq.heappop(self._timers)
            actions.extend(run(now))
        return actions

    def _resend_until_ack(self, transaction: ServerTransaction, now: float, interval: float) -> None:
        def again(at: float) -> list[Send | AckTimeout]:
            if transaction.acked or at >= transaction.expires:
                return []
            self._resend_until_ack(transaction, at, min(interval * 2, T2))
            return [Send(transaction.response, transaction.peer)]

        self._schedule(now + interval, again)

    def _resend_request(self, send: Send, branch: str, now: float, interval: float, until: float) -> None:
        def again(at: float) -> list[Send | AckTimeout]:
            if branch not in self._pending or at >= until:
                self._pending.discard(branch)
                return []
            self._resend_request(send, branch, at, min(interval * 2, T2), until)
            return [send]

        self._schedule(now + interval, again)

    def _schedule(self, at: float, run: Callable[[float], list[Send | AckTimeout]]) -> None:
        heapq.heappush(self._timers, (at, next(self._order), run))


def _key(request: SipRequest, method: str) -> tuple[str, str, str]:
    """RFC 3261 §17.2.3: branch, sent-by and method; without the magic cookie, what RFC 2543 matched on."""
    via = parse_via(request.headers.get_all("Via")[0])
    sent_by = f"{via.host}:{via.port or ''}"
    branch = via.branch or ""
    if not branch.startswith(MAGIC_COOKIE):
        branch = f"{request.call_id} {request.from_tag} {request.cseq[0]} {branch}"
    return branch, sent_by, method


def _ack_key(message: SipRequest | SipResponse) -> tuple[str, str, str, int]:
    return message.call_id, message.to_tag or "", message.from_tag or "", message.cseq[0]
