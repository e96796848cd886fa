"""Amazon Connect audio from Kinesis Video Streams: a GetMedia reader per call, resuming after its last fragment.

boto3 is synchronous, so each reader runs its GetMedia loop in a worker thread (bounded by
`amazon_connect.max_readers`) and hands PCM to the event loop; the MKV parsing is the sans-I/O `MkvReader`.
Throttling and dropped connections are retried with backoff from the last fragment read; blocks already
delivered are skipped on the re-read, so there is neither gap nor duplicate audio.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mediagw.config import AmazonConnectConfig
from mediagw.ingress.kvs.clients import KvsClients
from mediagw.ingress.kvs.mkv import AudioBlock, FragmentTags, MkvError, MkvReader, MkvTruncated, Track, TracksFound

log = logging.getLogger(__name__)
# Connect's stream names hold the instance alias and contact id; the reference's example ends in letters too
ARN = re.compile(r"^arn:aws[a-z-]*:kinesisvideo:(?P<region>[a-z0-9-]+):\d{12}:stream/[^/\s]+/\d+\S*$")
ROLE_OF_TRACK = {"AUDIO_FROM_CUSTOMER": "customer", "AUDIO_TO_CUSTOMER": "agent"}
FRAGMENT_NUMBER = "AWS_KINESISVIDEO_FRAGMENT_NUMBER"
RETRYABLE = {"ConnectionLimitExceededException", "ClientLimitExceededException", "ThrottlingException"}


# Application Status Codes (reference) a failed reader reports on the call's streams
ENCODING_NOT_SUPPORTED, SAMPLE_RATE_NOT_SUPPORTED = 4051, 4053
UNABLE_TO_TRANSCRIBE, AUDIO_DECODE_FAILURE, INTERNAL_ERROR = 4080, 4082, 5000


class ReaderFailed(Exception):
    """The reader gave up: `code` (an Application Status Code) and the reason are recorded on the call."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class StreamTruncated(Exception):
    """GetMedia's body ended inside an MKV element: read again from the last whole fragment."""


@dataclass
class ReadPosition:
    """Where a call's reading stands: the last fragment fully read and, per role, the last block delivered."""

    selector: str = "NOW"
    after_fragment: str = ""
    delivered_ms: dict[str, int] = field(default_factory=dict)


def region_of(stream_arn: str) -> str:
    match = ARN.match(stream_arn)
    if match is None:
        raise ValueError(f"not a Kinesis Video stream ARN: {stream_arn[:200]!r}")
    return match["region"]


class KvsReader:
    """Reads one stream until stopped, the stream ends or it fails; `on_audio(role, pcm)` runs on the loop.

    `tracks_found` is set once the stream's tracks are known to be Connect's PCM, so start-streaming can wait
    briefly for the first outcome (a wrong ARN, a denied role or a wrong codec) and answer with it.
    """

    def __init__(
        self,
        stream_arn: str,
        position: ReadPosition,
        config: AmazonConnectConfig,
        clients: KvsClients,
        on_audio: Callable[[str, np.ndarray], None],
        executor: ThreadPoolExecutor,
    ) -> None:
        self.stream_arn = stream_arn
        self.region = region_of(stream_arn)
        self.position = position
        self._config = config
        self._clients = clients
        self._on_audio = on_audio
        self._executor = executor
        self._stopping = threading.Event()
        self._payload: Any = None  # the open GetMedia body: closed by stop() to unblock the read
        self._loop: asyncio.AbstractEventLoop | None = None
        self.tracks_found = asyncio.Event()

    async def run(self) -> None:
        """Until the stream ends or stop(); raises ReaderFailed with a clear reason."""
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(self._executor, self._read_with_retries)

    def stop(self) -> None:
        self._stopping.set()
        payload = self._payload
        if payload is not None:
            try:
                payload.close()
            except Exception:  # closing a half-read body may fail in many ways; it is going anyway
                log.debug("closing a GetMedia body failed", exc_info=True)

    # ---- worker thread

    def _read_with_retries(self) -> None:
        delay, failures = self._config.retry_initial_s, 0
        while not self._stopping.is_set():
            read_before = self.position.after_fragment
            try:
                self._read_once()
                return  # the stream ended, or stop()
            except ReaderFailed:
                raise
            except Exception as error:  # botocore and urllib3 raise many kinds; each is judged below
                if self._stopping.is_set():
                    return  # stop() closed the body under the read
                if self.position.after_fragment != read_before:  # it got further: count failures afresh
                    delay, failures = self._config.retry_initial_s, 0
                failures += 1
                if not _retryable(error) or failures > self._config.max_retries:
                    code = AUDIO_DECODE_FAILURE if isinstance(error, StreamTruncated) else UNABLE_TO_TRANSCRIBE
                    raise ReaderFailed(code, _describe(error)) from error
                log.warning("GetMedia for %s failed (%s): retrying in %.1f s", self.stream_arn, _describe(error), delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self._config.retry_max_s)

    def _read_once(self) -> None:
        """One GetMedia connection, read to its end (or until stopped)."""
        media = self._clients.media_for(self.stream_arn, self.region)
        selector: dict[str, str] = {"StartSelectorType": "NOW"}
        if self.position.after_fragment:
            selector = {"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": self.position.after_fragment}
        elif self.position.selector == "FRAGMENT_NUMBER":
            raise ReaderFailed(UNABLE_TO_TRANSCRIBE, "FRAGMENT_NUMBER start needs afterFragmentNumber")
        response = media.get_media(StreamARN=self.stream_arn, StartSelector=selector)
        self._payload = response["Payload"]
        parser, fragments = MkvReader(), _Fragments(self.position)
        roles: dict[int, str] = {}
        try:
            for chunk in self._payload.iter_chunks(16384):
                if self._stopping.is_set():
                    return
                audio: list[tuple[str, AudioBlock]] = []
                for event in parser.feed(chunk):
                    if isinstance(event, AudioBlock):
                        if event.track in roles:
                            audio.append((roles[event.track], event))
                    elif isinstance(event, TracksFound):
                        roles = _roles(event.tracks)  # every fragment repeats its Tracks
                        if not self.tracks_found.is_set():
                            self._signal(self.tracks_found.set)
                    elif isinstance(event, FragmentTags):
                        fragments.tagged(event.tags)
                self._deliver(audio)
            parser.close()
        except MkvTruncated as error:
            raise StreamTruncated(f"GetMedia body ended inside an MKV element: {error}") from error
        except MkvError as error:
            raise ReaderFailed(AUDIO_DECODE_FAILURE, f"corrupt MKV from GetMedia: {error}") from error
        finally:
            self._payload = None
        fragments.ended()

    def _deliver(self, audio: list[tuple[str, AudioBlock]]) -> None:
        """One hand-over to the loop per chunk read, a run of samples per role. Blocks at or before what was
        already delivered (a re-read after a reconnect) are skipped."""
        delivered = self.position.delivered_ms
        payloads: dict[str, list[bytes]] = {}
        for role, block in audio:
            if block.timecode_ms > delivered.get(role, -1):
                delivered[role] = block.timecode_ms
                payloads.setdefault(role, []).append(block.payload)
        for role, parts in payloads.items():
            data = b"".join(parts)
            samples = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)
            self._signal(self._on_audio, role, samples)

    def _signal(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(callback, *args)


class _Fragments:
    """Follows the fragment numbers in the Tags: a fragment is whole once the next one's number appears."""

    def __init__(self, position: ReadPosition) -> None:
        self._position = position
        self._current: str | None = None

    def tagged(self, tags: dict[str, str]) -> None:
        number = tags.get(FRAGMENT_NUMBER)
        if number is None:
            return
        if self._current is not None and self._current != number:
            self._position.after_fragment = self._current
        self._current = number

    def ended(self) -> None:
        if self._current is not None:
            self._position.after_fragment = self._current


def _roles(tracks: list[Track]) -> dict[int, str]:
    """Amazon Connect's two tracks; wrong codec, rate or layout is a clear error, not noise."""
    roles = {}
    for track in tracks:
        role = ROLE_OF_TRACK.get(track.name or "")
        if role is None:
            continue
        form = f"track {track.name} is {track.codec_id} {track.sampling_frequency:g} Hz x{track.channels}"
        if track.codec_id != "A_PCM/INT/LIT" or track.channels != 1 or track.bit_depth not in (None, 16):
            raise ReaderFailed(ENCODING_NOT_SUPPORTED, f"{form}: expected 16-bit PCM, mono")
        if int(track.sampling_frequency or 0) != 8000:
            raise ReaderFailed(SAMPLE_RATE_NOT_SUPPORTED, f"{form}: expected 8000 Hz")
        roles[track.number] = role
    if not roles:
        raise ReaderFailed(AUDIO_DECODE_FAILURE, "no AUDIO_FROM_CUSTOMER or AUDIO_TO_CUSTOMER track in the stream")
    return roles


def _retryable(error: Exception) -> bool:
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""
    if code:
        return code in RETRYABLE
    return True  # connection errors, read timeouts, a dropped or truncated body: reconnect after the last fragment


def _describe(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code', 'Error')}: {response['Error'].get('Message', '')}"[:300]
    return f"{type(error).__name__}: {error}"[:300]
