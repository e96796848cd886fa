"""asyncio transports of the SIPREC server: SIP over UDP and TCP into the sans-I/O core, RTP onto the call.

SIP connections (TCP, TLS) are limited per listener (`siprec.tcp_max_connections`: more are closed as accepted)
and closed after `siprec.tcp_idle_timeout_s` without a message, unless a recording's dialog uses them: our BYE
and in-dialog answers go back over the connection the dialog came on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
from collections.abc import Coroutine
from typing import Any

from mediagw.config import SiprecConfig
from mediagw.core.record import ROLES
from mediagw.ingress.siprec.admission import SourceFilter
from mediagw.ingress.siprec.dialog import Recording
from mediagw.ingress.siprec.g729 import g729_available
from mediagw.ingress.siprec.media import IDLE_FLUSH_S, PortPool
from mediagw.ingress.siprec.params import NAMESPACE
from mediagw.ingress.siprec.recording import RecordingMedia, guid_of
from mediagw.ingress.siprec.sip import SipError, SipRequest, SipResponse, StreamFramer, parse_message
from mediagw.ingress.siprec.srs import (
    Action,
    InviteRefused,
    Peer,
    RecordingEnded,
    RecordingServer,
    RecordingStarted,
    RecordingUpdated,
    Send,
    SrsOptions,
)
from mediagw.listeners import ConnectionLimit
from mediagw.services import Services

log = logging.getLogger(__name__)
MAX_DATAGRAM = 65535


class SiprecServer:
    """Owns the SIP sockets, the RTP port pool, the core and each recording's media."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self.config: SiprecConfig = services.config.siprec
        self.ports = PortPool(self.config.host, self.config.rtp_port_min, self.config.rtp_port_max)
        self.core: RecordingServer | None = None
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp_server: asyncio.Server | None = None
        self._tls_server: asyncio.Server | None = None
        self.tls_port = 0
        self._connections: dict[int, asyncio.StreamWriter] = {}
        refused = services.metrics.connections_refused
        limit = self.config.tcp_max_connections
        self._limits = {
            name: ConnectionLimit(f"SIP {name.upper()} listener", limit, refused.labels(f"sip-{name}").inc)
            for name in ("tcp", "tls")
        }
        self.sources = SourceFilter(self.config.allowed_sources)  # RTP; the core has its own for SIP
        self._connection_ids = itertools.count(1)
        self._media: dict[tuple[str, str, str], RecordingMedia] = {}
        self._timer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.counters = {"unparsable": 0}

    async def start(self) -> None:
        config = self.config
        for attempt in range(20):
            try:
                await self._listen(config.port)
                break
            except OSError:
                self._close_listeners()
                if config.port or attempt == 19:  # a fixed port that is taken is the operator's to fix
                    raise
        address = config.advertised_address or (config.host if config.host not in ("0.0.0.0", "::") else "127.0.0.1")
        options = SrsOptions(
            address=address,
            port=self.port,
            codecs=tuple(c for c in config.codecs if c != "G729" or g729_available()),  # G.729 only if decodable
            session_expires=config.session_expires_s,
            min_session_expires=config.min_session_expires_s,
            max_recordings=config.max_calls,
            tls_port=self.tls_port,
            allowed_sources=config.allowed_sources,
            max_unconfirmed_per_source=config.max_unconfirmed_per_source,
        )
        self.core = RecordingServer(options, self.ports.allocate, self._release_port)
        self._timer = asyncio.create_task(self._run_timers(), name="siprec-timers")
        log.info("siprec listening on %s port %d (%s)", config.host, self.port, "+".join(config.transports))

    async def _listen(self, port: int) -> None:
        """UDP and TCP on one port; with port 0 the TCP side may find the UDP side's number taken: retried."""
        loop = asyncio.get_running_loop()
        self.port = port
        if "udp" in self.config.transports:
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _SipDatagrams(self), local_addr=(self.config.host, port)
            )
            self.port = self._udp.get_extra_info("sockname")[1]
        if "tcp" in self.config.transports:
            self._tcp_server = await asyncio.start_server(self._serve_tcp, self.config.host, self.port)
            self.port = self._tcp_server.sockets[0].getsockname()[1]
        if self.config.tls_port >= 0 and self.config.tls_cert:  # SIP over TLS (RFC 3261 §26.2.1), port 5061 style
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.config.tls_cert, self.config.tls_key or None)
            self._tls_server = await asyncio.start_server(
                self._serve_tls, self.config.host, self.config.tls_port, ssl=context
            )
            self.tls_port = self._tls_server.sockets[0].getsockname()[1]

    def _close_listeners(self) -> None:
        if self._tls_server is not None:
            self._tls_server.close()
            self._tls_server = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp_server is not None:
            self._tcp_server.close()
            self._tcp_server = None

    def drain(self) -> None:
        """New INVITEs are answered 503 (Retry-After); the recordings in progress go on."""
        if self.core is not None:
            self.core.draining = True

    @property
    def recordings(self) -> int:
        """Recordings a drain waits for: an INVITE that no ACK confirmed is no call in progress."""
        return self.core.confirmed_recordings if self.core is not None else 0

    @property
    def in_progress(self) -> int:
        return self.recordings

    async def close(self) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Shutdown: BYE every SRC, flush every recording, close the sockets."""
        if self.core is not None:
            self._execute(self.core.end_all(asyncio.get_running_loop().time()))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._timer is not None:
            self._timer.cancel()
        self._close_listeners()
        for writer in self._connections.values():
            writer.close()

    # ---- SIP in

    def received(self, data: bytes, peer: Peer) -> None:
        if not data.strip():
            return  # keep-alive
        try:
            message = parse_message(data)
        except SipError as error:
            self.counters["unparsable"] += 1
            self._services.metrics.errors.labels(f"sip-{error.status}").inc()
            log.info("siprec dropped an unparsable message from %s: %s", peer.address[0], error.reason)
            return
        assert self.core is not None
        self._execute(self.core.receive(message, peer, asyncio.get_running_loop().time()))
        self._wake.set()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve_stream(reader, writer, "tcp")

    async def _serve_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve_stream(reader, writer, "tls")

    async def _serve_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: str) -> None:
        limit = self._limits[transport]
        if not limit.admit():
            writer.close()
            return
        connection = next(self._connection_ids)
        self._connections[connection] = writer
        address = writer.get_extra_info("peername")[:2]
        peer = Peer((address[0], address[1]), transport, connection)
        framer = StreamFramer()
        try:
            while not framer.broken:
                data = await self._read(reader, connection)
                if not data:
                    break
                for item in framer.feed(data):
                    if isinstance(item, SipError):
                        log.info("siprec TCP stream from %s broken: %s", address[0], item.reason)
                        self._services.metrics.errors.labels(f"sip-{item.status}").inc()
                    else:
                        self.received(item, peer)
        except ConnectionError:
            pass
        finally:
            limit.release()
            self._connections.pop(connection, None)
            writer.close()

    async def _read(self, reader: asyncio.StreamReader, connection: int) -> bytes:
        """The next bytes of a SIP connection; b"" at its end, or once idle while no recording uses it."""
        idle_s = self.config.tcp_idle_timeout_s
        while True:
            try:
                async with asyncio.timeout(idle_s or None):
                    return await reader.read(65536)
            except TimeoutError:
                if not self._in_use(connection):
                    log.info("siprec SIP connection idle for %.0f s: closed", idle_s)
                    return b""

    def _in_use(self, connection: int) -> bool:
        assert self.core is not None
        return any(recording.peer.connection == connection for recording in self.core.recordings.values())

    async def _run_timers(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            assert self.core is not None
            deadline = self.core.next_deadline()
            wait = IDLE_FLUSH_S if deadline is None else max(0.0, min(deadline - loop.time(), IDLE_FLUSH_S))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._execute(self.core.tick(loop.time()))
            for media in list(self._media.values()):
                media.flush_idle(loop.time() - IDLE_FLUSH_S)
                timeout = self.config.media_timeout_s
                if timeout and media.silent_for(loop.time()) > timeout:
                    log.warning(
                        "siprec recording without RTP for %.0f s: ended",
                        timeout,
                        extra={"ingress": NAMESPACE, "call_id": media.handle.guid},
                    )
                    self._execute(self.core.hang_up(media.recording.key, loop.time(), "media timeout"))

    def _release_port(self, port: int) -> None:
        """The core lets a port go (BYE, a re-INVITE): RTP sent before the BYE may still wait in its socket when
        the loop serves SIP first (under load), so its stream reads that before the socket closes."""
        for media in self._media.values():
            media.drain_port(port)
        self.ports.release(port)

    # ---- actions

    def _execute(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self._send(action.message, action.peer)
            elif isinstance(action, RecordingStarted):
                self._spawn(self._started(action.recording))
            elif isinstance(action, RecordingUpdated):
                media = self._media.get(action.recording.key)
                if media is not None:
                    self._spawn(media.update(action.recording, self.ports, action.released_ports))
            elif isinstance(action, RecordingEnded):
                self._spawn(self._ended(action.recording, action.reason))
            elif isinstance(action, InviteRefused):
                self._services.metrics.siprec_refused.labels(action.reason).inc()

    def _send(self, message: SipRequest | SipResponse, peer: Peer) -> None:
        data = bytes(message)
        if peer.connection is not None:
            writer = self._connections.get(peer.connection)
            if writer is not None and not writer.is_closing():
                writer.write(data)
        elif self._udp is not None:
            self._udp.sendto(data, peer.address)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _started(self, recording: Recording) -> None:
        guid = guid_of(recording, self.config)
        handle = await self._services.media.attach(NAMESPACE, guid, ROLES)
        media = RecordingMedia(handle, recording, self.config, self._services.metrics, self.sources)
        self._media[recording.key] = media
        await media.open(self.ports)
        if recording.ended and self._media.get(recording.key) is not media:  # ended (and closed) while opening
            media.close()
            return
        log.info(
            "siprec recording started streams=%d",
            sum(1 for plan in recording.plans if plan.active),
            extra={"ingress": NAMESPACE, "call_id": guid},
        )

    async def _ended(self, recording: Recording, reason: str) -> None:
        media = self._media.pop(recording.key, None)
        if media is None:
            return
        roles = media.close()
        await media.handle.detach(roles, ending=True)  # start/stop get 409-203 until the last utterances are out
        log.info("siprec recording ended: %s", reason, extra={"ingress": NAMESPACE, "call_id": media.handle.guid})


class _SipDatagrams(asyncio.DatagramProtocol):
    def __init__(self, server: SiprecServer) -> None:
        self._server = server

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._server.received(data, Peer((addr[0], addr[1]), "udp"))
