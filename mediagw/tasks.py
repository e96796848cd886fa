"""Background work that outlives the request or socket that began it, held by name until it ends."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class TaskRegistry:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def keep(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run work that outlives its connection (an abandoned stream's last utterances) to completion."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def running(self, prefix: str) -> int:
        """Kept work whose name starts with `prefix` (a drain waits for the streams still flushing: "drain-")."""
        return sum(1 for task in self._tasks if task.get_name().startswith(prefix))

    def stop(self, name: str, prefix: bool = False) -> None:
        """Cancel kept work by name (endless loops such as the retention purge, timers such as call linger)."""
        for task in list(self._tasks):
            if task.get_name() == name or (prefix and task.get_name().startswith(name)):
                task.cancel()

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for kept work; what is still running after `timeout_s` is cancelled (a shutdown's promise)."""
        if not self._tasks:
            return
        _, late = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
