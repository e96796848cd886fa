"""The order in which a conversation's parties spoke, across their streams.

The agent's question and the customer's answer are decoded in parallel on two streams, so the answer's
transcript can be ready first. Redaction must see the question first: an utterance's text stage waits for
the other party's utterances that ended before it (by the loop time at which the segmenter closed each),
bounded by `limit_s`. When the limit passes, the utterance is redacted fail-safe, as if a secret were asked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(eq=False)
class Turn:
    role: str
    closed_at: float  # loop time at which the segmenter closed the utterance: ordered like the audio
    done: asyncio.Event = field(default_factory=asyncio.Event)
    wall: float = 0.0  # the same moment on the wall clock, which other nodes share


class TurnOrder:
    """One conversation's utterances whose text stage has not run yet."""

    def __init__(self) -> None:
        self._open: set[Turn] = set()

    def open(self, role: str, closed_at: float) -> Turn:
        turn = Turn(role, closed_at)
        self._open.add(turn)
        return turn

    def close(self, turn: Turn) -> None:
        self._open.discard(turn)
        turn.done.set()

    async def wait_for_earlier(self, turn: Turn, limit_s: float) -> bool:
        """Wait until the other parties' utterances closed before `turn` are through their text stage; False
        when `limit_s` passed first."""
        earlier = [t for t in self._open if t.role != turn.role and t.closed_at < turn.closed_at]
        if not earlier:
            return True
        try:
            async with asyncio.timeout(limit_s):
                for other in earlier:
                    await other.done.wait()
        except TimeoutError:
            return False
        return True


async def _pulled(turn: Turn) -> bool:
    return True


async def _pushed() -> None:
    return None


def _noted(turn: Turn) -> None:
    return None


class StreamTurns:
    """A stream's side of its conversation's TurnOrder: what its pipeline holds. `pull` and `push` exchange the
    conversation's redaction context with other nodes (mediagw/shared/context.py) around the text stage; `opened`
    and `closed` tell them of this node's turns, so that they wait for them as this node waits for its own."""

    def __init__(
        self,
        order: TurnOrder,
        role: str,
        limit_s: float,
        on_late: Callable[[], None],
        pull: Callable[[Turn], Awaitable[bool]] = _pulled,
        push: Callable[[], Awaitable[None]] = _pushed,
        opened: Callable[[Turn], None] = _noted,
        closed: Callable[[Turn], None] = _noted,
    ) -> None:
        self._order = order
        self._role = role
        self._limit_s = limit_s
        self._on_late = on_late
        self._pull = pull
        self._push = push
        self._opened = opened
        self._closed = closed

    def open(self, closed_at: float) -> Turn:
        turn = self._order.open(self._role, closed_at)
        turn.wall = time.time() - (asyncio.get_running_loop().time() - closed_at)
        self._opened(turn)
        return turn

    async def wait(self, turn: Turn) -> bool:
        """False (redact fail-safe) when the other party's earlier words are late, or other nodes' part of the
        context could not be read."""
        on_time = await self._order.wait_for_earlier(turn, self._limit_s)
        if not on_time:
            self._on_late()
        return await self._pull(turn) and on_time

    async def publish(self) -> None:
        """After the text stage: what it noted (a question asked) goes to the other nodes."""
        await self._push()

    def close(self, turn: Turn) -> None:
        self._order.close(turn)
        self._closed(turn)
