"""SIPREC recording server core, sans-I/O: SIP requests in, responses and recording events out.

It is the UAS side of RFC 3261 for recording sessions: INVITE (offer in the body) answered at once with 200
and a recvonly SDP answer, re-INVITE/UPDATE for hold, new ports or codecs and session refresh, ACK, BYE,
CANCEL, OPTIONS. Transactions (retransmissions, the wait for the ACK) are kept in `transactions.py`. Session
timers (RFC 4028) end a session the SRC stopped refreshing. Time is passed in; `tick(now)` runs the timers.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from mediagw.ingress.siprec.admission import SourceFilter, UnconfirmedDialogs, stateless_response
from mediagw.ingress.siprec.dialog import Recording, bye_request, host_literal
from mediagw.ingress.siprec.offer import ACCEPTED_TYPES, OfferError, answer_sdp, plan_streams, read_offer
from mediagw.ingress.siprec.sdp import SessionDescription
from mediagw.ingress.siprec.sessiontimer import option_tags, session_expires
from mediagw.ingress.siprec.sip import (
    SipError,
    SipRequest,
    SipResponse,
    generate_tag,
    make_response,
    parse_name_addr,
)
from mediagw.ingress.siprec.transactions import AckTimeout, DialogKey, ServerTransactions
from mediagw.ingress.siprec.transactions import Peer as Peer  # re-exported: the transports use them from here
from mediagw.ingress.siprec.transactions import Send as Send
from mediagw.throttle import ThrottledLog

log = logging.getLogger(__name__)

SUPPORTED = ("siprec", "timer")
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"
BYE_REASONS = {  # the Reason header (RFC 3326) of a BYE we send
    "session timer expired": 'SIP;cause=408;text="Session timer expired"',
    "media timeout": 'SIP;cause=408;text="No RTP received"',
}


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


@dataclass(frozen=True)
class InviteRefused:
    """A new recording's INVITE answered with an error, for the metrics: `reason` is a short label."""

    reason: str  # source-not-allowed, unconfirmed-dialogs, max-calls, no-rtp-port, bad-offer, not-acceptable, ...
    status: int


Action = Send | RecordingStarted | RecordingUpdated | RecordingEnded | InviteRefused
OFFER_REFUSALS = {400: "bad-offer", 415: "media-type", 488: "not-acceptable", 503: "no-rtp-port"}


@dataclass
class SrsOptions:
    address: str  # host in Contact, Via and the SDP answer
    port: int
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    session_expires: int = 1800
    min_session_expires: int = 90
    max_recordings: int = 2000
    tls_port: int = 0  # our SIP-over-TLS port, for Contact and Via on TLS connections
    allowed_sources: tuple[str, ...] = ()  # CIDR networks whose requests are served (empty: all); others get 403
    max_unconfirmed_per_source: int = 0  # 2xx-answered INVITEs awaiting their ACK per source host; 0: no limit

    def port_for(self, transport: str) -> int:
        return self.tls_port if transport == "tls" and self.tls_port else self.port


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
        self._transactions = ServerTransactions()
        self._sources = SourceFilter(options.allowed_sources)
        self._unconfirmed = UnconfirmedDialogs(options.max_unconfirmed_per_source)
        self._flood_log = ThrottledLog(log)
        self._timers: list[tuple[float, int, Callable[[float], list[Action]]]] = []  # session timer checks
        self._order = itertools.count()
        self.counters = {"retransmissions": 0, "rejected": 0}
        self.draining = False  # the gateway is draining: new recordings are refused (503), the open ones go on

    # ---- input

    def receive(self, message: SipRequest | SipResponse, peer: Peer, now: float) -> list[Action]:
        if isinstance(message, SipResponse):  # to one of our BYEs: a final one stops its retransmission
            self._transactions.response_received(message)
            return []
        if not self._sources.allows(peer.address[0]):
            return self._forbidden(message, peer, now)
        try:
            return self._request(message, peer, now)
        except SipError as error:
            refused = [InviteRefused("bad-request", error.status)] if _initial_invite(message) else []
            return self._reply(message, peer, now, error.status, error.reason) + refused

    @property
    def confirmed_recordings(self) -> int:
        """Recordings whose INVITE was ACKed (a flood of INVITEs never ACKed holds no call a drain waits for)."""
        return len(self.recordings) - len(self._unconfirmed)

    def next_deadline(self) -> float | None:
        deadlines = (self._transactions.next_deadline(), self._timers[0][0] if self._timers else None)
        return min((d for d in deadlines if d is not None), default=None)

    def tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        for due in self._transactions.tick(now):
            actions.extend(self._no_ack(due.dialog, now) if isinstance(due, AckTimeout) else [due])
        while self._timers and self._timers[0][0] <= now:
            _, _, run = heapq.heappop(self._timers)
            actions.extend(run(now))
        return actions

    def hang_up(self, key: tuple[str, str, str], now: float, reason: str) -> list[Action]:
        """End one recording from outside SIP (its media stopped): BYE to the SRC, the recording ended."""
        recording = self.recordings.get(key)
        return self._hang_up(recording, now, reason) if recording is not None else []

    def end_all(self, now: float) -> list[Action]:
        """Shutdown: a BYE to every SRC, and every recording ended."""
        actions: list[Action] = []
        for recording in list(self.recordings.values()):
            actions.extend(self._hang_up(recording, now, "shutdown"))
        return actions

    # ---- requests

    def _request(self, request: SipRequest, peer: Peer, now: float) -> list[Action]:
        if request.method == "ACK":
            self._transactions.ack(request)
            self._unconfirmed.confirmed((request.call_id, request.to_tag or "", request.from_tag or ""))
            return []
        known = self._transactions.lookup(request)
        if known is not None:  # a retransmission: the same answer again (RFC 3261 §17.2)
            self.counters["retransmissions"] += 1
            return [Send(known.response, peer)]
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
        if request.cseq[0] <= recording.remote_cseq:
            return self._reply(request, peer, now, 500, "Out of order CSeq")
        recording.remote_cseq = request.cseq[0]
        if request.method == "BYE":
            return self._reply(request, peer, now, 200) + self._end(recording, "bye")
        if request.method in ("INVITE", "UPDATE"):
            return self._reoffer(recording, request, peer, now)
        if request.method == "INFO":
            return self._reply(request, peer, now, 200)
        return self._reply(request, peer, now, 405, headers=[("Allow", ALLOW)])

    def _invite(self, request: SipRequest, peer: Peer, now: float) -> list[Action]:
        unsupported = [tag for tag in option_tags(request, "Require") if tag not in SUPPORTED]
        if unsupported:
            headers = [("Unsupported", ", ".join(unsupported))]
            return self._reply(request, peer, now, 420, headers=headers) + [InviteRefused("require", 420)]
        if self._unconfirmed.full(peer.address[0]):  # answered statelessly: a flood keeps no state here
            self._flood_log.log(now, "siprec INVITE from %s refused: too many dialogs awaiting ACK", peer.address[0])
            response = stateless_response(request, 503, "Service Unavailable (too many dialogs awaiting ACK)")
            return [Send(response, peer), InviteRefused("unconfirmed-dialogs", 503)]
        if self.draining:  # this node is stopping: the SRC records the call on another SRS
            reason = "Service Unavailable (shutting down)"
            return self._reply(request, peer, now, 503, reason, headers=[("Retry-After", "5")]) + [
                InviteRefused("draining", 503)
            ]
        if len(self.recordings) >= self.options.max_recordings:
            return self._reply(request, peer, now, 503, headers=[("Retry-After", "5")]) + [
                InviteRefused("max-calls", 503)
            ]
        expires, timer_problem = self._session_expires(request)
        if timer_problem:
            headers = [("Min-SE", str(self.options.min_session_expires))]
            return self._reply(request, peer, now, 422, headers=headers) + [InviteRefused("session-timer", 422)]
        try:
            for route in request.headers.get_all("Record-Route"):
                parse_name_addr(route)
        except SipError:
            return self._reply(request, peer, now, 400, "Bad Record-Route") + [InviteRefused("bad-request", 400)]
        allocated: list[int] = []
        try:
            offer = read_offer(request.headers.get("Content-Type"), request.body)
            if offer is None:
                raise OfferError(488, "Not Acceptable Here (an SRS needs the offer in the INVITE)")
            plans = plan_streams(offer.sdp, self.options.codecs, lambda _: self._take_port(allocated))
        except OfferError as error:
            refused = InviteRefused(OFFER_REFUSALS.get(error.status, "bad-offer"), error.status)
            return [*self._refuse(request, peer, now, error, allocated), refused]
        contact = request.headers.get("Contact")
        recording = Recording(
            call_id=request.call_id,
            local_tag=generate_tag(),
            remote_tag=request.from_tag or "",
            remote_target=parse_name_addr(contact or request.headers.get("From") or "").uri,
            route_set=request.headers.get_all("Record-Route"),
            local_uri=request.headers.get("To") or "",
            remote_uri=request.headers.get("From") or "",
            peer=peer,
            headers={name.lower(): value for name, value in request.headers.items()},
            metadata=offer.metadata,
            plans=plans,
            remote_cseq=request.cseq[0],
        )
        self.recordings[recording.key] = recording
        self._unconfirmed.add(peer.address[0], recording.key)
        actions: list[Action] = [Send(make_response(request, 100), peer)] if not peer.reliable else []
        actions += self._answer(recording, request, peer, now, offer.sdp, expires)
        actions.append(RecordingStarted(recording))
        return actions

    def _reoffer(self, recording: Recording, request: SipRequest, peer: Peer, now: float) -> list[Action]:
        """re-INVITE or UPDATE: a new offer (hold, ports, codecs, metadata) or a bare session refresh."""
        expires, timer_problem = self._session_expires(request)
        if timer_problem:
            return self._reply(request, peer, now, 422, headers=[("Min-SE", str(self.options.min_session_expires))])
        old_ports = {plan.index: plan.port for plan in recording.plans}
        allocated: list[int] = []
        try:
            offer = read_offer(request.headers.get("Content-Type"), request.body)
            if offer is None:  # a refresh without an offer: the same answer again
                return self._answer(recording, request, peer, now, None, expires)
            plans = plan_streams(offer.sdp, self.options.codecs, lambda i: self._take_port(allocated, old_ports.get(i)))
        except OfferError as error:
            return self._refuse(request, peer, now, error, allocated)
        kept = {plan.port for plan in plans}
        released = tuple(port for port in old_ports.values() if port and port not in kept)
        for port in released:
            self._release_port(port)
        recording.plans = plans
        if offer.metadata is not None:
            recording.metadata = offer.metadata
        recording.sdp_version += 1
        return [*self._answer(recording, request, peer, now, offer.sdp, expires), RecordingUpdated(recording, released)]

    def _answer(
        self,
        recording: Recording,
        request: SipRequest,
        peer: Peer,
        now: float,
        sdp: SessionDescription | None,
        expires: int,
    ) -> list[Action]:
        """The 2xx to an accepted (re-)INVITE or UPDATE; only a 2xx refreshes the session (RFC 4028 §10)."""
        recording.session_expires, recording.refreshed_at = expires, now
        headers = [("Contact", self._contact(peer)), *_capabilities()]
        if request.method == "INVITE":  # RFC 3261 §12.1.1: proxies that record-route stay in the dialog
            headers += [("Record-Route", value) for value in request.headers.get_all("Record-Route")]
        if expires:
            headers += [("Session-Expires", f"{expires};refresher=uac"), ("Require", "timer")]
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
        actions = self._reply(request, peer, now, 200, headers=headers, body=body, to_tag=recording.local_tag)
        if expires:  # RFC 4028 §10: BYE a little before the interval runs out
            self._schedule(now + expires - min(32, expires / 3), partial(self._check_refresh, recording))
        return actions

    def _cancel(self, request: SipRequest, peer: Peer, now: float) -> list[Action]:
        # INVITEs are answered at once, so a CANCEL always comes after the final response: 200, no effect
        # (RFC 3261 §9.2), with the INVITE response's To tag; a CANCEL for no INVITE at all is 481.
        invite = self._transactions.lookup(request, "INVITE")
        if invite is None:
            return self._reply(request, peer, now, 481)
        return self._reply(request, peer, now, 200, to_tag=invite.response.to_tag)

    # ---- ending

    def _end(self, recording: Recording, reason: str) -> list[Action]:
        if recording.ended:
            return []
        recording.ended = True
        self.recordings.pop(recording.key, None)
        self._unconfirmed.confirmed(recording.key)
        for plan in recording.plans:
            if plan.port:
                self._release_port(plan.port)
        return [RecordingEnded(recording, reason)]

    def _hang_up(self, recording: Recording, now: float, reason: str) -> list[Action]:
        """We end the session: BYE to the SRC (retransmitted over UDP until a final response or timer F)."""
        recording.local_cseq += 1
        port = self.options.port_for(recording.peer.transport)
        bye = bye_request(recording, f"{host_literal(self.options.address)}:{port}")
        if reason in BYE_REASONS:
            bye.headers.add("Reason", BYE_REASONS[reason])
        send = Send(bye, recording.peer)
        self._transactions.send_request(send, now)
        return [send, *self._end(recording, reason)]

    def _check_refresh(self, recording: Recording, now: float) -> list[Action]:
        if recording.ended or not recording.session_expires:
            return []
        expires = recording.session_expires
        if now - recording.refreshed_at >= expires - min(32, expires / 3):
            log.warning("siprec session %s not refreshed: ended", recording.call_id)
            return self._hang_up(recording, now, "session timer expired")
        return []

    def _no_ack(self, dialog: DialogKey, now: float) -> list[Action]:
        """Timer H: a 2xx never acknowledged ends its session (RFC 3261 §13.3.1.4)."""
        recording = self.recordings.get(dialog)
        return self._hang_up(recording, now, "no ack") if recording is not None else []

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
        # RFC 3261 §8.2.6.2: every final response gets a To tag (make_response keeps one the request has)
        response = make_response(request, status, reason, to_tag=to_tag or generate_tag(), headers=headers, body=body)
        self._transactions.record(request, response, peer, now)
        return [Send(response, peer)]

    def _refuse(
        self, request: SipRequest, peer: Peer, now: float, error: OfferError, allocated: list[int] | None = None
    ) -> list[Action]:
        for port in allocated or ():
            self._release_port(port)
        extra = [("Accept", ACCEPTED_TYPES)] if error.status == 415 else []  # RFC 3261 §21.4.13
        return self._reply(request, peer, now, error.status, error.reason, headers=extra)

    def _forbidden(self, message: SipRequest | SipResponse, peer: Peer, now: float) -> list[Action]:
        """A source outside `allowed_sources`: 403, stateless (no transaction, no retransmission to amplify a
        forged source); an ACK or a response is dropped."""
        if isinstance(message, SipResponse) or message.method == "ACK":
            return []
        self.counters["rejected"] += 1
        self._flood_log.log(now, "siprec %s from %s refused: source not allowed", message.method, peer.address[0])
        response = stateless_response(message, 403, "Forbidden (source not allowed)")
        refused = [InviteRefused("source-not-allowed", 403)] if _initial_invite(message) else []
        return [Send(response, peer), *refused]

    def _contact(self, peer: Peer) -> str:
        transport = "" if peer.transport == "udp" else f";transport={peer.transport}"
        return f"<sip:srs@{host_literal(self.options.address)}:{self.options.port_for(peer.transport)}{transport}>"

    def _schedule(self, at: float, run: Callable[[float], list[Action]]) -> None:
        heapq.heappush(self._timers, (at, next(self._order), run))

    def _session_expires(self, request: SipRequest) -> tuple[int, bool]:
        return session_expires(request, self.options.min_session_expires, self.options.session_expires)

    def _take_port(self, allocated: list[int], kept: int | None = None) -> int | None:
        """The stream's port so far (`kept`) or a new one, noted in `allocated` to give back if the offer fails."""
        if kept:
            return kept
        port = self._allocate_port(len(allocated))
        if port is not None:
            allocated.append(port)
        return port


def _initial_invite(message: SipRequest | SipResponse) -> bool:
    return isinstance(message, SipRequest) and message.method == "INVITE" and message.to_tag is None


def _capabilities() -> list[tuple[str, str]]:
    return [("Allow", ALLOW), ("Supported", ", ".join(SUPPORTED)), ("Accept", ACCEPTED_TYPES)]
