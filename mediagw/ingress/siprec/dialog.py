"""A recording session's SIP dialog as the SRS keeps it, and the requests the SRS sends in it (RFC 3261 §12)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from mediagw.ingress.siprec.metadata import RecordingMetadata
from mediagw.ingress.siprec.offer import StreamPlan
from mediagw.ingress.siprec.sip import Headers, SipRequest, generate_branch, parse_name_addr
from mediagw.ingress.siprec.transactions import Peer


@dataclass
class Recording:
    """One recording session (a SIP dialog) and its streams."""

    call_id: str
    local_tag: str
    remote_tag: str
    remote_target: str  # the SRC's Contact URI: where in-dialog requests we send go
    route_set: list[str]  # the INVITE's Record-Route values in order: the Route of requests we send
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
    ended: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)


def bye_request(recording: Recording, via_host_port: str) -> SipRequest:
    """Our BYE in the dialog (its CSeq already counted), routed by the dialog's route set."""
    via = f"SIP/2.0/{recording.peer.transport.upper()} {via_host_port};branch={generate_branch()};rport"
    target, routes = _route(recording)
    headers = [
        ("Via", via),
        ("Max-Forwards", "70"),
        *(("Route", route) for route in routes),
        ("From", _with_tag(recording.local_uri, recording.local_tag)),
        ("To", recording.remote_uri),
        ("Call-ID", recording.call_id),
        ("CSeq", f"{recording.local_cseq} BYE"),
    ]
    return SipRequest("BYE", target, Headers(headers))


def _route(recording: Recording) -> tuple[str, list[str]]:
    """Request-URI and Route headers of a request we send in the dialog (RFC 3261 §12.2.1.1). It still goes to
    the peer the INVITE came from, which is the first proxy of the route set when there is one."""
    routes = recording.route_set
    if not routes:
        return recording.remote_target, []
    first = parse_name_addr(routes[0]).uri
    if "lr" in (param.partition("=")[0].strip().lower() for param in first.split(";")[1:]):
        return recording.remote_target, routes  # loose routing
    return first, [*routes[1:], f"<{recording.remote_target}>"]  # a strict router takes the Request-URI


def host_literal(address: str) -> str:
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def _with_tag(name_addr: str, tag: str) -> str:
    return name_addr if ";tag=" in name_addr.lower() else f"{name_addr};tag={tag}"
