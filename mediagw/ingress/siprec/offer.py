"""A SIPREC offer (SDP, optional rs-metadata) read and answered: codec choice per stream, recvonly answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mediagw.ingress.siprec.metadata import MetadataError, RecordingMetadata, parse_metadata, split_multipart
from mediagw.ingress.siprec.sdp import Codec, MediaDescription, SdpError, SessionDescription, parse_sdp

SDP_TYPE = "application/sdp"
METADATA_TYPE = "application/rs-metadata+xml"
ACCEPTED_TYPES = f"{SDP_TYPE}, {METADATA_TYPE}, multipart/mixed"
DTMF_CODEC = "telephone-event"
# What the answer's direction is for each offered direction (RFC 3264 §6.1): we receive, never send.
ANSWER_DIRECTION = {"sendonly": "recvonly", "sendrecv": "recvonly", "recvonly": "inactive", "inactive": "inactive"}


class OfferError(ValueError):
    """An offer we cannot take: `status` is the SIP response (400, 415, 488) and `reason` its phrase."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class RecordingOffer:
    sdp: SessionDescription
    metadata: RecordingMetadata | None


@dataclass
class StreamPlan:
    """One offered m-line and what we answered: a receiving port and the codecs RTP may carry."""

    index: int  # position among the offer's m-lines
    label: str | None
    port: int  # local RTP port; 0: the stream is refused
    codecs: dict[int, Codec] = field(default_factory=dict)  # accepted payload type -> codec
    dtmf_payload_type: int | None = None
    direction: str = "sendonly"  # as offered: inactive or recvonly means the SRC sends nothing (hold)
    remote: tuple[str, int] | None = None  # where the SRC says it sends from (RTP is latched anyway)

    @property
    def active(self) -> bool:
        return self.port != 0


def read_offer(content_type: str | None, body: bytes) -> RecordingOffer | None:
    """The SDP and metadata of an INVITE/UPDATE body; None for an empty body (an offerless re-INVITE)."""
    if not body:
        return None
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind not in (SDP_TYPE, "multipart/mixed"):
        raise OfferError(415, "Unsupported Media Type")
    try:
        parts = split_multipart(content_type or SDP_TYPE, body)
    except MetadataError as error:
        raise OfferError(400, f"Bad multipart body: {error}"[:100]) from error
    sdp_parts = [p for p in parts if p.content_type.split(";", 1)[0].strip().lower() == SDP_TYPE]
    meta_parts = [p for p in parts if p.content_type.split(";", 1)[0].strip().lower() == METADATA_TYPE]
    if len(sdp_parts) != 1:
        raise OfferError(415 if not sdp_parts else 400, "Body needs exactly one application/sdp part")
    try:
        sdp = parse_sdp(sdp_parts[0].body)
    except SdpError as error:
        raise OfferError(400, f"Bad SDP: {error}"[:100]) from error
    metadata = None
    if meta_parts:
        try:
            metadata = parse_metadata(meta_parts[0].body)
        except MetadataError as error:
            raise OfferError(400, f"Bad recording metadata: {error}"[:100]) from error
    return RecordingOffer(sdp, metadata)


def plan_streams(
    sdp: SessionDescription,
    accepted: tuple[str, ...],
    allocate_port: Callable[[int], int | None],
) -> list[StreamPlan]:
    """One plan per m-line: audio with a codec we take gets a port (`allocate_port(index)`), others port 0.
    Raises OfferError 488 when no audio stream can be taken, 503 when no port is free."""
    plans = []
    for index, media in enumerate(sdp.media):
        plan = StreamPlan(index, media.label, 0, direction=media.direction)
        connection = sdp.connection_for(media)
        if connection and media.port:
            plan.remote = (connection, media.port)
        if media.media == "audio" and media.port != 0 and "RTP/AVP" in media.proto.upper():
            plan.codecs, plan.dtmf_payload_type = _choose_codec(media, accepted)
        plans.append(plan)
    if not any(plan.codecs for plan in plans):
        raise OfferError(488, "Not Acceptable Here")
    for plan in plans:
        if plan.codecs:
            port = allocate_port(plan.index)
            if port is None:
                raise OfferError(503, "Service Unavailable (no RTP port free)")
            plan.port = port
    return plans


def _choose_codec(media: MediaDescription, accepted: tuple[str, ...]) -> tuple[dict[int, Codec], int | None]:
    """The offerer's first codec that we take (RFC 3264 keeps its order); telephone-event beside it."""
    offered = media.codecs()
    chosen = next((c for c in offered if c.name.upper() in accepted and c.clock_rate == 8000), None)
    if chosen is None:
        return {}, None
    dtmf = next((c for c in offered if c.name.lower() == DTMF_CODEC and c.clock_rate == 8000), None)
    return {chosen.payload_type: chosen}, dtmf.payload_type if dtmf else None


def answer_sdp(offer: SessionDescription, plans: list[StreamPlan], address: str, session_id: int, version: int) -> str:
    """The SDP answer: every offered m-line answered in order, recvonly, labels echoed (RFC 7866 §8.1.1)."""
    family = "IP6" if ":" in address else "IP4"
    lines = [
        "v=0",
        f"o=mediagw {session_id} {version} IN {family} {address}",
        "s=mediagw",
        f"c=IN {family} {address}",
        "t=0 0",
    ]
    for plan, media in zip(plans, offer.media, strict=True):
        lines.extend(_answer_media(plan, media))
    return "\r\n".join(lines) + "\r\n"


def _answer_media(plan: StreamPlan, media: MediaDescription) -> list[str]:
    if not plan.active:  # refused: port 0 with the offered formats (RFC 3264 §6)
        return [f"m={media.media} 0 {media.proto} {' '.join(media.formats)}"]
    codecs = list(plan.codecs.values())
    formats = [str(c.payload_type) for c in codecs]
    if plan.dtmf_payload_type is not None:
        formats.append(str(plan.dtmf_payload_type))
    lines = [f"m=audio {plan.port} {media.proto} {' '.join(formats)}"]
    for codec in codecs:
        lines.append(f"a=rtpmap:{codec.payload_type} {codec.name}/{codec.clock_rate}")
        if codec.name.upper() == "G729":
            lines.append(f"a=fmtp:{codec.payload_type} annexb=no")  # we decode Annex B SID too, but ask for none
    if plan.dtmf_payload_type is not None:
        lines.append(f"a=rtpmap:{plan.dtmf_payload_type} {DTMF_CODEC}/8000")
        lines.append(f"a=fmtp:{plan.dtmf_payload_type} 0-15")
    lines.append(f"a={ANSWER_DIRECTION.get(plan.direction, 'recvonly')}")
    if plan.label is not None:
        lines.append(f"a=label:{plan.label}")
    return lines
