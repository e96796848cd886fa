"""The remote ASR wire format (sans-I/O): utterance jobs and their results as Redis Stream entries, the keys they
live under, and what a worker's heartbeat says. Nodes (mediagw/backends/redis_asr.py) and workers
(asr/remote_worker.py) share it; nothing here does I/O.

- Jobs: one stream per language, `<prefix>jobs:<code>`, each read by the consumer group `workers`; a worker reads
  the streams of the languages its model has, so workers of different models (tiny.en on CPUs, a multilingual
  model on a GPU host) share a cluster and a job only reaches a worker that can decode it. An entry is one
  utterance: its PCM as raw little-endian int16, its language, hotwords, whether word timings are wanted, the
  node that asked (and that node's boot, so a restarted node's old jobs are known for orphans), and a deadline
  (Unix ms).
- Results: one stream per node, `<prefix>results:<node_id>`, read by that node alone from the last id it saw, so a
  Redis blip loses nothing Redis kept; a list popped with BLPOP would lose the result popped by a connection that
  broke before the reply arrived.
- Liveness: `<prefix>worker:<id>` (JSON WorkerInfo, expiring) listed in the sorted set `<prefix>workers` (score: when
  it expires); `<prefix>node:<node_id>` holds the node's boot id while the node lives.
- Drops: `<prefix>cancelled:<job id>` marks a job nobody waits for any more; `<prefix>dropped` counts drops by reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import orjson

from asr.recognizer import Recognition, RecognitionRequest, Word

VERSION = b"1"
GROUP = "workers"
MAX_PCM_BYTES = 8000 * 2 * 60  # a minute of 8 kHz int16: the segmenter cuts utterances far shorter

# why a worker dropped a job undecoded (the `<prefix>dropped` hash's fields)
EXPIRED, CANCELLED, ORPHANED, MALFORMED = "expired", "cancelled", "orphaned", "malformed"
DROP_REASONS = (EXPIRED, CANCELLED, ORPHANED, MALFORMED)


@dataclass(frozen=True)
class Keys:
    """Where everything lives; one prefix per cluster (several clusters may share one Redis)."""

    prefix: str = "mediagw:asr:"

    def jobs(self, language: str) -> str:
        return f"{self.prefix}jobs:{language}"

    @property
    def workers(self) -> str:
        return self.prefix + "workers"

    @property
    def dropped(self) -> str:
        return self.prefix + "dropped"

    def results(self, node_id: str) -> str:
        return f"{self.prefix}results:{node_id}"

    def worker(self, worker_id: str) -> str:
        return f"{self.prefix}worker:{worker_id}"

    def node(self, node_id: str) -> str:
        return f"{self.prefix}node:{node_id}"

    def cancelled(self, job_id: str) -> str:
        return f"{self.prefix}cancelled:{job_id}"

    @property
    def epoch(self) -> str:
        """A random token the first node sets (SET NX): another token, or none, means Redis lost its data."""
        return self.prefix + "epoch"


@dataclass(frozen=True)
class AsrJob:
    job_id: str  # unique per node boot: "<boot>-<n>"
    node_id: str  # whose results stream the answer goes to
    boot: str  # the node's boot id, as its liveness key holds it while that process lives
    deadline_ms: int  # Unix time in ms after which nobody waits for the result
    request: RecognitionRequest

    def fields(self) -> dict[bytes, bytes]:
        request = self.request
        return {
            b"v": VERSION,
            b"id": self.job_id.encode(),
            b"node": self.node_id.encode(),
            b"boot": self.boot.encode(),
            b"deadline": str(self.deadline_ms).encode(),
            b"lang": request.language.encode(),
            b"hot": request.hotwords.encode(),
            b"words": b"1" if request.word_timestamps else b"0",
            b"pcm": np.asarray(request.samples, dtype="<i2").tobytes(),
        }

    @classmethod
    def parse(cls, fields: Mapping[bytes, bytes]) -> AsrJob:
        """A job from a stream entry's fields; ValueError naming what is wrong (never quoting the audio)."""
        if fields.get(b"v") != VERSION:
            raise ValueError(f"ASR job has version {fields.get(b'v', b'')[:8]!r}, expected {VERSION!r}")
        pcm = _field(fields, b"pcm")
        if len(pcm) % 2 or len(pcm) > MAX_PCM_BYTES:
            raise ValueError(f"ASR job has {len(pcm)} bytes of PCM: odd, or over {MAX_PCM_BYTES}")
        raw = {name: _field(fields, name) for name in (b"deadline", b"id", b"node", b"boot", b"lang", b"hot")}
        try:
            deadline = int(raw.pop(b"deadline"))
            text = {name: value.decode() for name, value in raw.items()}
        except (ValueError, UnicodeDecodeError) as error:
            raise ValueError(f"ASR job has a malformed field ({type(error).__name__})") from None
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
        request = RecognitionRequest(samples, text[b"hot"], _field(fields, b"words") == b"1", text[b"lang"])
        return cls(text[b"id"], text[b"node"], text[b"boot"], deadline, request)


@dataclass(frozen=True)
class AsrResult:
    """A job's outcome: its recognition, or the name of the error its decode raised (never the message, which
    may quote text)."""

    job_id: str
    worker_id: str
    recognition: Recognition | None = None
    error: str = ""

    def fields(self) -> dict[bytes, bytes]:
        out = {b"v": VERSION, b"id": self.job_id.encode(), b"worker": self.worker_id.encode()}
        if self.recognition is not None:
            out[b"r"] = orjson.dumps(asdict(self.recognition))
        else:
            out[b"error"] = (self.error or "Exception").encode()
        return out

    @classmethod
    def parse(cls, fields: Mapping[bytes, bytes]) -> AsrResult:
        if fields.get(b"v") != VERSION:
            raise ValueError(f"ASR result has version {fields.get(b'v', b'')[:8]!r}, expected {VERSION!r}")
        job_id, worker = _field(fields, b"id").decode(), _field(fields, b"worker").decode()
        if b"r" not in fields:
            return cls(job_id, worker, error=_field(fields, b"error").decode(errors="replace")[:100])
        try:
            data = orjson.loads(fields[b"r"])
            data["words"] = tuple(Word(**word) for word in data["words"])
            return cls(job_id, worker, Recognition(**data))
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(
                f"ASR result {job_id[:40]!r} has a malformed recognition ({type(error).__name__})"
            ) from None


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker's heartbeat says: which model it runs and the languages it can decode."""

    worker_id: str
    model: str
    languages: tuple[str, ...]
    device: str
    max_batch: int

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, data: bytes) -> WorkerInfo:
        try:
            raw = orjson.loads(data)
            return cls(
                str(raw["worker_id"]),
                str(raw["model"]),
                tuple(str(code) for code in raw["languages"]),
                str(raw["device"]),
                int(raw["max_batch"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"malformed ASR worker heartbeat ({type(error).__name__})") from None


Entry = tuple[bytes, dict[bytes, bytes] | None]  # a stream entry's id and fields (None: deleted while pending)


def entries_by_stream(reply: Any) -> dict[str, list[Entry]]:
    """The entries of an XREAD/XREADGROUP reply (RESP2 [[stream, entries]] or RESP3 {stream: entries}), by stream."""
    if not reply:
        return {}
    pairs = reply.items() if isinstance(reply, dict) else reply
    return {_text(stream): [(bytes(entry_id), fields) for entry_id, fields in entries] for stream, entries in pairs}


def stream_entries(reply: Any) -> list[Entry]:
    """The entries of an XREAD/XREADGROUP reply, of whatever streams."""
    return [entry for entries in entries_by_stream(reply).values() for entry in entries]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _field(fields: Mapping[bytes, bytes], name: bytes) -> bytes:
    value = fields.get(name)
    if value is None:
        raise ValueError(f"ASR stream entry lacks the field {name.decode()!r}")
    return value
