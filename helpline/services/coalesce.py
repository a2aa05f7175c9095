"""Pushing a whole snapshot for a burst of changes, at a bounded rate.

A snapshot (the overview of every live conversation) costs O(n) to build and send;
pushing one per change made every change cost O(n). `Coalesced` runs the push once
for many changes and, with `min_interval`, at most once per interval, so its cost
follows time, not the number of changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Coalesced:
    """Call it after every change; `push` runs so that every change is covered.

    Without `min_interval`, a caller returns once a run of `push` that *started after
    its call* finished (so what it changed was pushed before the caller answers); calls
    that arrive while a run is going share the next run instead of each starting one.

    With `min_interval` (seconds), a call within that time of the last run's end does
    not wait: one trailing run is scheduled for when the interval is over and covers
    every call made until it starts. A change is then pushed at most `min_interval`
    after it was made.
    """

    def __init__(self, push: Callable[[], Awaitable[None]], min_interval: float = 0.0
                 ) -> None:
        self.push = push
        self.min_interval = min_interval
        self._lock = asyncio.Lock()
        self._wanted = 0  # calls so far
        self._done = 0  # calls covered by a finished run
        self._last_end = float("-inf")
        self._trailing: asyncio.Task[None] | None = None

    async def __call__(self) -> None:
        self._wanted += 1
        mine = self._wanted
        if self._trailing is not None:
            return  # the scheduled run starts later than this call: it covers it
        if time.monotonic() - self._last_end < self.min_interval:
            self._trailing = asyncio.create_task(self._trail())
            return
        async with self._lock:
            if self._done >= mine:
                return
            await self._run()

    async def _run(self) -> None:
        covers = self._wanted
        try:
            await self.push()
        finally:
            self._last_end = time.monotonic()
        self._done = covers

    async def _trail(self) -> None:
        try:
            await asyncio.sleep(max(0.0, self._last_end + self.min_interval
                                    - time.monotonic()))
            async with self._lock:
                self._trailing = None  # calls from now on need a later run
                if self._done < self._wanted:
                    await self._run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed push is retried by the next change
            log.warning("a coalesced push failed: %s", type(exc).__name__)
        finally:
            self._trailing = None

    async def close(self) -> None:
        """Drop a scheduled run (at shutdown)."""
        task, self._trailing = self._trailing, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
