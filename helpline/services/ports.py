"""The seams the services are handed: a clock and a notifier.

Services reach Redis only through `helpline.storage.RedisStore`, and people only
through a `Notifier`; neither knows about socket.io.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from helpline.domain.ids import ConversationId, Username


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class Notifier(Protocol):
    """Who is told what. `skip` is the connection that caused the event, if any."""

    async def to_youth(
        self, conversation_id: ConversationId, event: str, data: dict[str, Any],
        skip: str | None = None,
    ) -> None: ...

    async def to_staff(
        self, username: Username, event: str, data: dict[str, Any], skip: str | None = None
    ) -> None: ...

    async def to_queue_watchers(self, event: str, data: dict[str, Any]) -> None: ...

    async def to_overview_watchers(self, event: str, data: dict[str, Any]) -> None: ...

    async def to_police(self, event: str, data: dict[str, Any]) -> None: ...
