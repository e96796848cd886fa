"""SIPREC recording server core, sans-I/O: SIP requests in, responses and recording events out.

It is the UAS side of RFC 3261 for recording sessions: INVITE (offer in the body) answered at once with 200
and a recvonly SDP answer, re-INVITE/UPDATE for hold, new ports or codecs and session refresh, ACK, BYE,
CANCEL, OPTIONS. Retransmitted requests get the response already sent; over UDP a final response to INVITE
is retransmitted until the ACK comes (timer G/H). Session timers (RFC 4028) end a session the SRC stopped
refreshing. Time is passed in; `tick(now)` runs the timers.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from mediagw.ingress.siprec.metadata import RecordingMetadata
from mediagw.ingress.siprec.offer import ACCEPTED_TYPES, OfferError, StreamPlan, answer_sdp, plan_streams, read_offer
from mediagw.ingress.siprec.sdp import SessionDescription
from mediagw.ingress.siprec.sip import (
    Headers,
    SipError,
    SipRequest,
    SipResponse,
    generate_branch,
    generate_tag,
    make_response,
    parse_name_addr,
)

log = logging.getLogger(__name__)

T1, T2 = 0.5, 4.0
TRANSACTION_LIFETIME = 64 * T1  # timers H and J: how long responses are kept for retransmitted requests
SUPPORTED = ("siprec", "timer")
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"


@dataclass(frozen=True)
class Peer:
    """Where a message came from and goes back to: the source address, and the TCP connection if any."""

    address: tuple[str, int]
    transport: str  # "udp" or "tcp"
    connection: int | None = None

    @property
    def reliable(self) -> bool:
        return self.transport != "udp"


@dataclass
class Recording:
    """One recording session (a SIP dialog) and its streams."""

    call_id: str
    local_tag: str
    remote_tag: str
    remote_target: str  # the SRC's Contact URI: where in-dialog requests we send go
    local_uri: str  # To of the INVITE (our From in requests we send)
    remote_uri: str  # From of the INVITE
    peer: Peer
    headers: dict[str, str]  # INVITE headers the guid may come from
    metadata: RecordingMetadata | None
    plans: list[StreamPlan]
    remote_cseq: int
    local_cseq: int = 0
    sdp_session_id: int = field(default_factory=lambda: secrets.randbelow(2**31))
    sdp_version: int = 0
    session_expires: int = 0  # 0: no session timer
    refreshed_at: float = 0.0
    last_answer: bytes = b""  # our SDP, repeated for a refresh without an offer
    acked: bool = False
    ended: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)


@dataclass(frozen=True)
class Send:
    message: SipRequest | SipResponse
    peer: Peer


@dataclass(frozen=True)
class RecordingStarted:
    recording: Recording


@dataclass(frozen=True)
class RecordingUpdated:
    """A re-INVITE/UPDATE changed streams (hold, ports, codecs) or metadata."""

    recording: Recording
    released_ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class RecordingEnded:
    recording: Recording
    reason: str  # "bye", "session timer expired", "no ack", "shutdown"


Action = Send | RecordingStarted | RecordingUpdated | RecordingEnded


@dataclass
class _ServerTransaction:
    response: SipResponse | None
    peer: Peer
    expires: float
    invite: bool
    acked: bool = False


@dataclass
class SrsOptions:
    address: str  # host in Contact, Via and the SDP answer
    port: int
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    session_expires: int = 1800
    min_session_expires: int = 90
    max_recordings: int = 2000


class RecordingServer:
    """The SRS state: dialogs by (Call-ID, local tag, remote tag), server transactions by Via branch."""

    def __init__(
        self,
        options: SrsOptions,
        allocate_port: Callable[[int], int | None],
        release_port: Callable[[int], None],
    ) -> None:
        self.options = options
        self._allocate_port = allocate_port
        self._release_port = release_port
        self.recordings: dict[tuple[str, str, str], Recording] = {}
        self._transactions: dict[tuple[str, str], _ServerTransaction] = {}
        self._timers: list[tuple[float, int, Callable[[float], list[Action]]]] = []
        self._order = itertools.count()
        self.counters = {"retransmissions": 0, "rejected": 0}

    # ---- input

    def receive(self, message: SipRequest | SipResponse, peer: Peer, now: float) -> list[Action]:
        if isinstance(message, SipResponse):
            return []  # responses to our BYEs: nothing more to do (their retransmission stops on any)
        try:
            return self._request(message, peer, now)
        except SipError as error:
            return self._reply(message, peer, now, error.status, error.reason)

    def next_deadline(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        while self._timers and self._timers[0][0] <= now:
            _, _, run = heapq.heappop(self._timers)
            actions.extend(run(now))
        return actions

    def end_all(self, now: float) -> list[Action]:
        """Shutdown: a BYE to every SRC, and every recording ended."""
        actions: list[Action] = []
        for recording in list(self.recordings.values()):
            actions.extend(self._hang_up(recording, now, "shutdown"))
        return actions

    # ---- requests

    def _request(self, request: SipRequest, peer: Peer, now: float) -> list[Action]:
        if request.method == "ACK":
            return self._ack(request)
        key = (request.branch or "", request.method)
        known = self._transactions.get(key)
        if known is not None:  # a retransmission: the same answer again (RFC 3261 §17.2)
            self.counters["retransmissions"] += 1
            return [Send(known.response, peer)] if known.response is not None else []
        if request.method == "OPTIONS":
            return self._reply(request, peer, now, 200, headers=_capabilities())
        if request.method == "CANCEL":
            return self._cancel(request, peer, now)
        if request.to_tag is None:
            if request.method == "INVITE":
                return self._invite(request, peer, now)
            if request.method in ("BYE", "UPDATE", "INFO"):
                return self._reply(request, peer, now, 481)
            return self._reply(request, peer, now, 405, headers=[("Allow", ALLOW)])
        recording = self.recordings.get((request.call_id, request.to_tag, request.from_tag or ""))
        if recording is None:
            return self._reply(request, peer, now, 481)
        number, _ = request.cseq
        if number <= recording.remote_cseq and request.method != "ACK":
            return self._reply(request, peer, now, 500, "Out of order CSeq")
        recording.remote_cseq = number
        if request.method == "BYE":
            return self._reply(request, peer, now, 200) + self._end(recording, "bye")
        if request.method in ("INVITE", "UPDATE"):
            return self._reoffer(recording, request, peer, now)
        if request.method == "INFO":
            return self._reply(request, peer, now, 200)
        return self._reply(request, peer, now, 405, headers=[("Allow", ALLOW)])

    def _invite(self, request: SipRequest, peer: Peer, now: float) -> list[Action]:
        unsupported = [tag for tag in _option_tags(request, "Require") if tag not in SUPPORTED]
        if unsupported:
            return self._reply(request, peer, now, 420, headers=[("Unsupported", ", ".join(unsupported))])
        if len(self.recordings) >= self.options.max_recordings:
            return self._reply(request, peer, now, 503, headers=[("Retry-After", "5")])
        expires, timer_problem = self._session_expires(request)
        if timer_problem:
            return self._reply(request, peer, now, 422, headers=[("Min-SE", str(self.options.min_session_expires))])
        allocated: list[int] = []
        try:
            offer = read_offer(request.headers.get("Content-Type"), request.body)
            if offer is None:
                raise OfferError(488, "Not Acceptable Here (an SRS needs the offer in the INVITE)")
            plans = plan_streams(offer.sdp, self.options.codecs, lambda _: self._take_port(allocated))
        except OfferError as error:
            for port in allocated:
                self._release_port(port)
            extra = [("Accept", ACCEPTED_TYPES)] if error.status == 415 else []
            return self._reply(request, peer, now, error.status, error.reason, headers=extra)
        contact = request.headers.get("Contact")
        recording = Recording(
            call_id=request.call_id,
            local_tag=generate_tag(),
            remote_tag=request.from_tag or "",
            remote_target=parse_name_addr(contact or request.headers.get("From") or "").uri,
            local_uri=request.headers.get("To") or "",
            remote_uri=request.headers.get("From") or "",
            peer=peer,
            headers={name.lower(): value for name, value in request.headers.items()},
            metadata=offer.metadata,
            plans=plans,
            remote_cseq=request.cseq[0],
            session_expires=expires,
            refreshed_at=now,
        )
        self.recordings[recording.key] = recording
        actions: list[Action] = [Send(make_response(request, 100), peer)] if not peer.reliable else []
        actions += self._answer(recording, request, peer, now, offer.sdp)
        actions.append(RecordingStarted(recording))
        return actions

    def _reoffer(self, recording: Recording, request: SipRequest, peer: Peer, now: float) -> list[Action]:
        """re-INVITE or UPDATE: a new offer (hold, ports, codecs, metadata) or a bare session refresh."""
        expires, timer_problem = self._session_expires(request)
        if timer_problem:
            return self._reply(request, peer, now, 422, headers=[("Min-SE", str(self.options.min_session_expires))])
        recording.session_expires, recording.refreshed_at = expires, now
        try:
            offer = read_offer(request.headers.get("Content-Type"), request.body)
        except OfferError as error:
            return self._reply(request, peer, now, error.status, error.reason)
        if offer is None:  # a refresh without an offer: the same answer again
            return self._answer(recording, request, peer, now, None)
        old_ports = {plan.index: plan.port for plan in recording.plans}
        allocated: list[int] = []

        def port_for(index: int) -> int | None:
            return old_ports.get(index) or self._take_port(allocated)

        try:
            plans = plan_streams(offer.sdp, self.options.codecs, port_for)
        except OfferError as error:
            for port in allocated:
                self._release_port(port)
            return self._reply(request, peer, now, error.status, error.reason)
        kept = {plan.port for plan in plans}
        released = tuple(port for port in old_ports.values() if port and port not in kept)
        for port in released:
            self._release_port(port)
        recording.plans = plans
        if offer.metadata is not None:
            recording.metadata = offer.metadata
        recording.sdp_version += 1
        return [*self._answer(recording, request, peer, now, offer.sdp), RecordingUpdated(recording, released)]

    def _answer(
        self, recording: Recording, request: SipRequest, peer: Peer, now: float, sdp: SessionDescription | None
    ) -> list[Action]:
        headers = [("Contact", f"<sip:srs@{_host(self.options.address)}:{self.options.port}>"), *_capabilities()]
        if recording.session_expires:
            headers += [("Session-Expires", f"{recording.session_expires};refresher=uac"), ("Require", "timer")]
        body = b""
        if sdp is not None:
            text = answer_sdp(
                sdp, recording.plans, self.options.address, recording.sdp_session_id, recording.sdp_version
            )
            body = recording.last_answer = text.encode()
            headers.append(("Content-Type", "application/sdp"))
        elif request.method == "INVITE" and recording.last_answer:
            headers.append(("Content-Type", "application/sdp"))  # an offerless re-INVITE gets our offer
            body = recording.last_answer
        if request.method == "INVITE":
            recording.acked = False  # its 2xx is retransmitted over UDP until the ACK
        actions = self._reply(request, peer, now, 200, headers=headers, body=body, to_tag=recording.local_tag)
        if recording.session_expires:  # RFC 4028 §10: BYE a little before the interval runs out
            expires = recording.session_expires
            self._schedule(now + expires - min(32, expires / 3), partial(self._check_refresh, recording))
        return actions

    def _ack(self, request: SipRequest) -> list[Action]:
        recording = self.recordings.get((request.call_id, request.to_tag or "", request.from_tag or ""))
        if recording is not None:
            recording.acked = True
        transaction = self._transactions.get((request.branch or "", "INVITE"))
        if transaction is not None:  # a non-2xx final response (or the 2xx, same branch) was acknowledged
            transaction.acked = True
        return []

    def _cancel(self, request: SipRequest, peer: Peer, now: float) -> list[Action]:
        # INVITEs are answered at once, so a CANCEL always comes after the final response: 200, no effect
        # (RFC 3261 §9.2); a CANCEL for no INVITE at all is 481.
        known = (request.branch or "", "INVITE") in self._transactions
        return self._reply(request, peer, now, 200 if known else 481)

    # ---- ending

    def _end(self, recording: Recording, reason: str) -> list[Action]:
        if recording.ended:
            return []
        recording.ended = True
        self.recordings.pop(recording.key, None)
        for plan in recording.plans:
            if plan.port:
                self._release_port(plan.port)
        return [RecordingEnded(recording, reason)]

    def _hang_up(self, recording: Recording, now: float, reason: str) -> list[Action]:
        """We end the session: BYE to the SRC (retransmitted over UDP until any response or timer F)."""
        recording.local_cseq += 1
        bye = SipRequest("BYE", recording.remote_target, Headers())
        via = f"{_host(self.options.address)}:{self.options.port};branch={generate_branch()};rport"
        bye.headers.add("Via", f"SIP/2.0/{recording.peer.transport.upper()} {via}")
        bye.headers.add("Max-Forwards", "70")
        bye.headers.add("From", _with_tag(recording.local_uri, recording.local_tag))
        bye.headers.add("To", recording.remote_uri)
        bye.headers.add("Call-ID", recording.call_id)
        bye.headers.add("CSeq", f"{recording.local_cseq} BYE")
        if reason == "session timer expired":
            bye.headers.add("Reason", 'SIP;cause=408;text="Session timer expired"')
        send = Send(bye, recording.peer)
        if not recording.peer.reliable:
            self._retransmit(send, now, T1, now + TRANSACTION_LIFETIME)
        return [send, *self._end(recording, reason)]

    def _check_refresh(self, recording: Recording, now: float) -> list[Action]:
        if recording.ended or not recording.session_expires:
            return []
        expires = recording.session_expires
        if now - recording.refreshed_at >= expires - min(32, expires / 3):
            log.warning("siprec session %s not refreshed: ended", recording.call_id)
            return self._hang_up(recording, now, "session timer expired")
        return []

    # ---- responses and timers

    def _reply(
        self,
        request: SipRequest,
        peer: Peer,
        now: float,
        status: int,
        reason: str | None = None,
        *,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        to_tag: str | None = None,
    ) -> list[Action]:
        if status >= 300:
            self.counters["rejected"] += 1
            log.info("siprec %s answered %d %s", request.method, status, reason or "")
            to_tag = to_tag or generate_tag()
        response = make_response(request, status, reason, to_tag=to_tag, headers=headers, body=body)
        invite = request.method == "INVITE"
        transaction = _ServerTransaction(response, peer, now + TRANSACTION_LIFETIME, invite)
        key = (request.branch or "", request.method)
        self._transactions[key] = transaction
        self._schedule(transaction.expires, partial(self._forget, key, transaction))
        send = Send(response, peer)
        if invite and status >= 200 and not peer.reliable:
            self._retransmit_until_ack(transaction, send, now, T1)
        return [send]

    def _forget(self, key: tuple[str, str], transaction: _ServerTransaction, _now: float) -> list[Action]:
        if self._transactions.get(key) is transaction:
            del self._transactions[key]
            if transaction.invite and not transaction.acked and transaction.response is not None:
                return self._no_ack(transaction.response)
        return []

    def _no_ack(self, response: SipResponse) -> list[Action]:
        """Timer H: a 2xx never acknowledged ends its session (RFC 3261 §13.3.1.4)."""
        if response.status >= 300:
            return []
        for recording in list(self.recordings.values()):
            if recording.call_id == response.call_id and not recording.acked:
                return self._hang_up(recording, 0.0, "no ack")
        return []

    def _retransmit_until_ack(self, transaction: _ServerTransaction, send: Send, now: float, interval: float) -> None:
        def again(at: float) -> list[Action]:
            if transaction.acked or self._acked_dialog(send.message) or at >= transaction.expires:
                return []
            self._retransmit_until_ack(transaction, send, at, min(interval * 2, T2))
            return [send]

        self._schedule(now + interval, again)

    def _acked_dialog(self, message: SipRequest | SipResponse) -> bool:
        recording = next((r for r in self.recordings.values() if r.call_id == message.call_id), None)
        return recording is not None and recording.acked

    def _retransmit(self, send: Send, now: float, interval: float, until: float) -> None:
        """Timer E for our BYE: retransmit until a response (any response ends the dialog anyway) or timer F."""

        def again(at: float) -> list[Action]:
            if at >= until:
                return []
            self._retransmit(send, at, min(interval * 2, T2), until)
            return [send]

        self._schedule(now + interval, again)

    def _schedule(self, at: float, run: Callable[[float], list[Action]]) -> None:
        heapq.heappush(self._timers, (at, next(self._order), run))

    def _take_port(self, allocated: list[int]) -> int | None:
        port = self._allocate_port(len(allocated))
        if port is not None:
            allocated.append(port)
        return port

    def _session_expires(self, request: SipRequest) -> tuple[int, bool]:
        """RFC 4028: the interval the SRC asked for (0: none); True when it is below our Min-SE (422)."""
        value = request.headers.get("Session-Expires")
        if value is None:
            return 0, False
        try:
            asked = int(value.split(";", 1)[0].strip())
        except ValueError as error:
            raise SipError(400, "Bad Session-Expires") from error
        if asked < self.options.min_session_expires:
            return 0, True
        return min(asked, self.options.session_expires), False


def _option_tags(request: SipRequest, name: str) -> list[str]:
    return [tag.strip().lower() for value in request.headers.get_all(name) for tag in value.split(",") if tag.strip()]


def _capabilities() -> list[tuple[str, str]]:
    return [("Allow", ALLOW), ("Supported", ", ".join(SUPPORTED)), ("Accept", ACCEPTED_TYPES)]


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def _with_tag(name_addr: str, tag: str) -> str:
    return name_addr if ";tag=" in name_addr.lower() else f"{name_addr};tag={tag}"
