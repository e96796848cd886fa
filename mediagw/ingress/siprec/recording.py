"""One recording's media on its call: which stream is the customer's, decoding, DTMF pause, flush at the end."""

from __future__ import annotations

import asyncio
import logging
import re
from functools import partial

from mediagw.config import SiprecConfig
from mediagw.core.frames import Frame
from mediagw.core.node import MediaHandle
from mediagw.ingress.siprec.admission import SourceFilter, ip_of
from mediagw.ingress.siprec.callid import extract_guid, fallback_guid, valid_guid
from mediagw.ingress.siprec.dialog import Recording
from mediagw.ingress.siprec.jitterbuffer import MediaChunk
from mediagw.ingress.siprec.media import Decoder, PortPool, RtcpSink, StreamReceiver
from mediagw.ingress.siprec.offer import StreamPlan
from mediagw.ingress.siprec.params import SiprecParams
from mediagw.ingress.siprec.rtp import DtmfEnded, DtmfStarted
from mediagw.metrics import Metrics

log = logging.getLogger(__name__)
AUTO_SOURCES = (("avaya-ucid", ""), ("cisco-guid", ""), ("header", "X-UCID"))


def _same(receiver: StreamReceiver) -> StreamReceiver:
    return receiver


def guid_of(recording: Recording, config: SiprecConfig) -> str:
    """The guid start/stop-streaming will name this call by (always one they accept: `valid_guid`); from the
    Call-ID when the configured source is absent or unusable."""
    headers = recording.headers.get
    sources = AUTO_SOURCES if config.guid_source == "auto" else ((config.guid_source, config.guid_header),)
    for source, header in sources:
        try:
            guid = extract_guid(source, lambda name: headers(name.lower()), recording.metadata, header)
        except ValueError as error:
            log.warning("siprec call id from %s unusable: %s", source, error)
            continue
        if guid and valid_guid(guid, config.guid_source):
            return guid
        if guid:
            log.warning("siprec call id from %s unusable: not a guid start-streaming accepts", source)
    guid = fallback_guid(recording.call_id, config.guid_source)
    log.warning("siprec call without a %s id: named %s after its Call-ID", config.guid_source, guid)
    return guid


def expected_source(plan: StreamPlan, recording: Recording, check: str) -> str | None:
    """The host a stream's RTP may come from (`siprec.rtp_source_check`): the offer's c= address (`sdp`; the SIP
    peer's when the offer names none usable: 0.0.0.0 on hold, a host name), the SIP peer's (`signalling`), or
    None (`any`: latched to the first source)."""
    if check == "any":
        return None
    if check == "sdp" and plan.remote is not None:
        address = ip_of(plan.remote[0])
        if address is not None and not address.is_unspecified:
            return str(address)
    return recording.peer.address[0]


class RecordingMedia:
    """The receivers of one recording's streams, feeding its call; roles resolved at each packet batch, since
    start-streaming's mediaLineOrder may come after the media."""

    def __init__(
        self,
        media: MediaHandle,
        recording: Recording,
        config: SiprecConfig,
        metrics: Metrics,
        sources: SourceFilter | None = None,
    ) -> None:
        self.handle = media  # the call's media, as this recording feeds it
        self._metrics = metrics
        self._sources = sources or SourceFilter(config.allowed_sources)
        self._foreign = {
            reason: metrics.rtp_foreign.labels(reason).inc for reason in ("not-allowed", "unexpected-source")
        }
        self.recording = recording
        self._config = config
        self._agent_pattern = re.compile(config.agent_aor_pattern) if config.agent_aor_pattern else None
        self.receivers: dict[int, StreamReceiver] = {}
        self._rtcp: dict[int, asyncio.DatagramTransport] = {}
        self._decoders: dict[int, Decoder] = {}
        self._roles: dict[int, str] = {}
        self._roles_for: object = None
        self._dtmf_until = 0.0
        self._dtmf_keys = 0
        self._heard_at = asyncio.get_running_loop().time()  # the last RTP seen by flush_idle (or the start)

    async def open(self, ports: PortPool) -> None:
        """Receivers on the streams' ports. A port given back meanwhile (the recording ended while its streams
        opened: a BYE or timer H between two awaits) is skipped; what was opened is closed by `close`."""
        loop = asyncio.get_running_loop()
        for plan in self.recording.plans:
            if plan.active and plan.index not in self.receivers:
                pair = ports.sockets.get(plan.port)
                if pair is None:
                    continue
                expected = expected_source(plan, self.recording, self._config.rtp_source_check)
                receiver = StreamReceiver(plan, self._on_chunk, self._sources, expected, self._count_foreign)
                receiver.on_dtmf = self._on_dtmf
                await loop.create_datagram_endpoint(partial(_same, receiver), sock=pair[0])
                self.receivers[plan.index] = receiver
                if ports.sockets.get(plan.port) is not pair:
                    continue
                transport, _ = await loop.create_datagram_endpoint(RtcpSink, sock=pair[1])
                self._rtcp[plan.index] = transport
            self._retire_decoder(plan.index)
            self._decoders[plan.index] = Decoder(next(iter(plan.codecs.values())).name if plan.codecs else "")

    def _retire_decoder(self, index: int) -> None:
        """Count the payloads a stream's decoder could not decode (outcome "bad") and free it."""
        decoder = self._decoders.pop(index, None)
        if decoder is not None:
            if decoder.bad:
                self._metrics.rtp_packets.labels("bad").inc(decoder.bad)
            decoder.close()

    async def update(self, recording: Recording, ports: PortPool, released: tuple[int, ...]) -> None:
        """re-INVITE: streams whose port went away stop; the others take the new plan (codec, direction)."""
        self.recording = recording
        for index, receiver in list(self.receivers.items()):
            if receiver.plan.port in released:
                receiver.flush()
                self._count(receiver)
                receiver.close()
                self._rtcp.pop(index).close()
                del self.receivers[index]
        for plan in recording.plans:
            kept = self.receivers.get(plan.index)
            if kept is not None and kept.plan.port == plan.port:
                kept.plan = plan
                kept.expected = expected_source(plan, recording, self._config.rtp_source_check)
        await self.open(ports)
        self._roles_for = None

    def drain_port(self, port: int) -> None:
        """The port is about to be let go: its stream takes what the kernel still holds for it first."""
        for receiver in self.receivers.values():
            if receiver.plan.port == port:
                receiver.drain()

    def flush_idle(self, silent_since: float) -> None:
        for receiver in self.receivers.values():
            if 0 < receiver.last_packet_at < silent_since:
                receiver.flush()
                self._heard_at = max(self._heard_at, receiver.last_packet_at)
                receiver.last_packet_at = 0.0  # flushed; the next packet re-arms it

    def silent_for(self, now: float) -> float:
        """Seconds since the last RTP packet on any stream (or since the recording began); 0 while on hold,
        when the SRC said it sends nothing (every stream inactive or recvonly)."""
        if not any(plan.active and plan.direction in ("sendonly", "sendrecv") for plan in self.recording.plans):
            self._heard_at = now
            return 0.0
        heard = max([self._heard_at, *(receiver.last_packet_at for receiver in self.receivers.values())])
        return now - heard

    def close(self) -> tuple[str, ...]:
        """BYE: what the jitter buffers hold goes to the call; the roles that had media are returned."""
        for receiver in self.receivers.values():
            receiver.flush()
            self._count(receiver)
            receiver.close()
        for transport in self._rtcp.values():
            transport.close()
        for index in list(self._decoders):
            self._retire_decoder(index)
        roles = tuple(sorted(set(self._resolve_roles().values())))
        self.receivers.clear()
        return roles

    def _count_foreign(self, reason: str) -> None:
        self._foreign[reason]()

    def _count(self, receiver: StreamReceiver) -> None:
        for outcome, number in receiver.outcomes().items():
            if number:
                self._metrics.rtp_packets.labels(outcome).inc(number)

    # ---- media path

    def _on_chunk(self, plan: StreamPlan, chunk: MediaChunk) -> None:
        role = self._resolve_roles().get(plan.index)
        decoder = self._decoders.get(plan.index)
        if role is None or decoder is None:
            return
        position, count = self.handle.position(role) + chunk.gap, decoder.sample_count(chunk.payload)
        if self._keying_dtmf():  # keyed digits keep their place on the clock as silence, never transcribed
            self.handle.feed(role, Frame.silence(position, count))
        else:
            self.handle.feed(role, Frame.encoded(position, chunk.payload, decoder.decode, count))

    def _resolve_roles(self) -> dict[int, str]:
        """m-line index -> role, from metadata (participant order, agent AOR pattern) else mediaLineOrder."""
        params = self.handle.params
        order = params.media_line_order if isinstance(params, SiprecParams) else "CUSTOMER_FIRST"
        if self._roles_for == order:
            return self._roles
        active = [plan for plan in self.recording.plans if plan.active]
        ranked = sorted(active, key=self._participant_rank)
        first, second = ("agent", "customer") if order == "AGENT_FIRST" else ("customer", "agent")
        roles = {plan.index: (first if rank == 0 else second) for rank, plan in enumerate(ranked[:2])}
        if self._agent_pattern is not None and self.recording.metadata is not None:
            for plan in ranked:
                participant = self.recording.metadata.participant_for_label(plan.label or "")
                if participant is not None:
                    is_agent = any(self._agent_pattern.search(aor) for aor in participant.aors)
                    roles[plan.index] = "agent" if is_agent else "customer"
        self._roles, self._roles_for = roles, order
        return roles

    def _participant_rank(self, plan: StreamPlan) -> tuple[int, int]:
        """Streams sort by their sender's place in the metadata (the caller is listed first), then m-line."""
        metadata = self.recording.metadata
        if metadata is not None and plan.label is not None:
            participant = metadata.participant_for_label(plan.label)
            if participant is not None:
                return (metadata.participants.index(participant), plan.index)
        return (len(metadata.participants) if metadata else 0, plan.index)

    # ---- DTMF (PCI): keyed digits and a margin after them are not transcribed, when configured

    def _on_dtmf(self, plan: StreamPlan, event: DtmfStarted | DtmfEnded) -> None:
        loop_time = asyncio.get_running_loop().time()
        log.info("siprec dtmf %s on stream %d", "start" if isinstance(event, DtmfStarted) else "end", plan.index)
        if isinstance(event, DtmfStarted):
            self._dtmf_keys += 1
            self._dtmf_until = float("inf")
        else:
            self._dtmf_keys = max(0, self._dtmf_keys - 1)
            if self._dtmf_keys == 0:
                self._dtmf_until = loop_time + self._config.pause_on_dtmf_s

    def _keying_dtmf(self) -> bool:
        return self._config.pause_on_dtmf_s > 0 and asyncio.get_running_loop().time() < self._dtmf_until
