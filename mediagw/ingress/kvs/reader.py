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
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mediagw.config import AmazonConnectConfig
from mediagw.ingress.kvs.mkv import AudioBlock, FragmentTags, MkvError, MkvReader, Track, TracksFound

log = logging.getLogger(__name__)
ARN = re.compile(r"^arn:aws[\w-]*:kinesisvideo:(?P<region>[a-z0-9-]+):\d{12}:stream/[\w.-]+/\d+$")
ROLE_OF_TRACK = {"AUDIO_FROM_CUSTOMER": "customer", "AUDIO_TO_CUSTOMER": "agent"}
FRAGMENT_NUMBER = "AWS_KINESISVIDEO_FRAGMENT_NUMBER"
RETRYABLE = {"ConnectionLimitExceededException", "ClientLimitExceededException", "ThrottlingException"}


class ReaderFailed(Exception):
    """The reader gave up: `reason` is recorded on the call (no audio follows)."""


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
    """Reads one stream until stopped, the stream ends or it fails; `on_audio(role, pcm)` runs on the loop."""

    def __init__(
        self,
        stream_arn: str,
        position: ReadPosition,
        config: AmazonConnectConfig,
        on_audio: Callable[[str, np.ndarray], None],
        executor: ThreadPoolExecutor,
    ) -> None:
        self.stream_arn = stream_arn
        self.region = region_of(stream_arn)
        self.position = position
        self._config = config
        self._on_audio = on_audio
        self._executor = executor
        self._stopping = threading.Event()
        self._payload: Any = None  # the open GetMedia body: closed by stop() to unblock the read
        self._loop: asyncio.AbstractEventLoop | None = None
        self.error: str | None = None

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
            try:
                if self._read_once():
                    return  # the stream ended
                failures = 0
            except ReaderFailed:
                raise
            except Exception as error:  # botocore and urllib3 raise many kinds; each is judged below
                if self._stopping.is_set():
                    return  # stop() closed the body under the read
                failures += 1
                if not _retryable(error) or failures > self._config.max_retries:
                    raise ReaderFailed(_describe(error)) from error
                log.warning("GetMedia for %s failed (%s): retrying in %.1f s", self.stream_arn, _describe(error), delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self._config.retry_max_s)

    def _read_once(self) -> bool:
        """One GetMedia connection; True when the stream ended (or we were stopped), False to reconnect."""
        media = self._media_client()
        selector: dict[str, str] = {"StartSelectorType": "NOW"}
        if self.position.after_fragment:
            selector = {"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": self.position.after_fragment}
        elif self.position.selector == "FRAGMENT_NUMBER":
            raise ReaderFailed("FRAGMENT_NUMBER start needs afterFragmentNumber")
        response = media.get_media(StreamARN=self.stream_arn, StartSelector=selector)
        self._payload = response["Payload"]
        parser = MkvReader()
        roles: dict[int, str] = {}
        current: str | None = None
        try:
            for chunk in self._payload.iter_chunks(16384):
                if self._stopping.is_set():
                    return True
                for event in parser.feed(chunk):
                    if isinstance(event, TracksFound):
                        roles = _roles(event.tracks)
                    elif isinstance(event, FragmentTags) and FRAGMENT_NUMBER in event.tags:
                        if current is not None and current != event.tags[FRAGMENT_NUMBER]:
                            self.position.after_fragment = current  # the previous fragment was read whole
                        current = event.tags[FRAGMENT_NUMBER]
                    elif isinstance(event, AudioBlock) and event.track in roles:
                        self._deliver(roles[event.track], event)
        except MkvError as error:
            raise ReaderFailed(f"corrupt MKV from GetMedia: {error}") from error
        finally:
            self._payload = None
        if current is not None:
            self.position.after_fragment = current
        return True

    def _deliver(self, role: str, block: AudioBlock) -> None:
        """Blocks at or before what was already delivered (a re-read after a reconnect) are skipped."""
        if block.timecode_ms <= self.position.delivered_ms.get(role, -1):
            return
        self.position.delivered_ms[role] = block.timecode_ms
        samples = np.frombuffer(block.payload[: len(block.payload) // 2 * 2], dtype="<i2").astype(np.int16)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._on_audio, role, samples)

    def _media_client(self) -> Any:
        session = _session(self._config, self.region)
        control = session.client("kinesisvideo", endpoint_url=self._config.endpoint_url or None)
        endpoint = control.get_data_endpoint(StreamARN=self.stream_arn, APIName="GET_MEDIA")["DataEndpoint"]
        return session.client("kinesis-video-media", endpoint_url=endpoint)


def _session(config: AmazonConnectConfig, region: str) -> Any:
    """Credentials from the standard chain, or from an assumed role (cross-account Connect instances)."""
    import boto3

    if not config.role_arn:
        return boto3.Session(region_name=region)
    sts = boto3.client("sts", region_name=region)
    extra = {"ExternalId": config.external_id} if config.external_id else {}
    assumed = sts.assume_role(RoleArn=config.role_arn, RoleSessionName=f"mediagw-{int(time.time())}", **extra)
    credentials = assumed["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def _roles(tracks: list[Track]) -> dict[int, str]:
    """Amazon Connect's two tracks; wrong codec, rate or layout is a clear error, not noise."""
    roles = {}
    for track in tracks:
        role = ROLE_OF_TRACK.get(track.name or "")
        if role is None:
            continue
        if track.codec_id != "A_PCM/INT/LIT" or int(track.sampling_frequency or 0) != 8000 or track.channels != 1:
            raise ReaderFailed(
                f"track {track.name} is {track.codec_id} {track.sampling_frequency} Hz x{track.channels}: "
                "expected 16-bit PCM, 8 kHz, mono"
            )
        roles[track.number] = role
    if not roles:
        raise ReaderFailed("no AUDIO_FROM_CUSTOMER or AUDIO_TO_CUSTOMER track in the stream")
    return roles


def _retryable(error: Exception) -> bool:
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""
    if code:
        return code in RETRYABLE
    return True  # connection errors, read timeouts, a dropped body: reconnect after the last fragment


def _describe(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code', 'Error')}: {response['Error'].get('Message', '')}"[:300]
    return f"{type(error).__name__}: {error}"[:300]
