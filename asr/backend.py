"""What the pipeline needs of an ASR backend: the in-process pool (asr/pool.py) or the node's side of remote
workers (mediagw/backends/redis_asr.py)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from asr.pool import SpeculativeJob
from asr.recognizer import Recognition, RecognitionRequest


class AsrBackend(Protocol):
    @property
    def backlog(self) -> int:
        """Utterances waiting for a decode (over asr.max_backlog, new streams are refused with 5002)."""

    @property
    def queue_depth(self) -> int: ...

    @property
    def unfinished(self) -> int:
        """Utterances asked for and not answered yet."""

    async def transcribe(self, request: RecognitionRequest, stream: Hashable = None) -> Recognition:
        """The utterance's text; raises Abandoned at the shutdown deadline, PoolClosed once closed."""

    def speculate(self, request: RecognitionRequest, stream: Hashable = None) -> SpeculativeJob | None:
        """A decode ahead of need, or None (skipped)."""

    def confirm(self, job: SpeculativeJob) -> None: ...

    def withdraw(self, job: SpeculativeJob) -> bool: ...

    async def drain(self) -> None: ...

    def abandon(self) -> int:
        """The shutdown deadline: fail every unanswered utterance with Abandoned; how many."""

    async def close(self) -> None: ...
