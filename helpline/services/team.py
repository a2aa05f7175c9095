"""The team view for supervisors and admins: who is on the floor, who is online, how
many conversations each holds. Counts only, never anything about a young person.

Presence is per socket and lapses (storage/presence_store.py): this process renews
its own sockets every third of `ttl_s` and, at the same time, prunes the lapsed
sockets of every process, so a crashed process's staff go offline within `ttl_s`
plus a third of it (docs/architecture.md, section 5b). Each change of someone's
online state is pushed once, by the process that made it, as the `team` event to the
overview room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Iterable
from typing import Any

from helpline.domain.access import StaffActor
from helpline.domain.handover import Handover
from helpline.domain.roles import CHAT_ROLES, OVERVIEW_ROLES, Role
from helpline.errors import Forbidden
from helpline.services.ports import Clock, Notifier
from helpline.storage.presence_store import presence_member
from helpline.storage.redis_store import RedisStore

log = logging.getLogger("helpline.team")

# Whose presence is tracked and who is listed: the people who answer chats or join
# them. Admins look after the system and are not "on the floor".
TEAM_ROLES = frozenset({Role.COUNSELLOR, Role.SUPERVISOR, Role.POLICE})
# Who may see the team (the same as the overview: supervisors and admins).
TEAM_VIEW_ROLES = OVERVIEW_ROLES


class TeamService:
    def __init__(self, store: RedisStore, notifier: Notifier, clock: Clock, ttl_s: float,
                 max_conversations: int) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.ttl_s = ttl_s
        self.max_conversations = max_conversations
        # This process's name in presence members: unique per start, so a restarted
        # process never renews the members of its previous life.
        self.process = secrets.token_hex(6)
        self._local: dict[str, str] = {}  # sid -> presence member, this process's sockets
        self._task: asyncio.Task[None] | None = None

    # -- presence -------------------------------------------------------------------

    async def connected(self, sid: str, username: str, role: Role) -> None:
        """A staff socket of this process is live (after its authentication)."""
        if role not in TEAM_ROLES:
            return
        member = presence_member(username, f"{self.process}/{sid}")
        # Remembered first: if Redis fails now, the next heartbeat adds it.
        self._local[sid] = member
        try:
            await self._changed(await self.store.presence_up([member], self._lapse_ms()))
        except Exception as exc:  # presence must never refuse a connection
            log.warning("presence up failed: %s", type(exc).__name__)

    async def disconnected(self, sid: str) -> None:
        member = self._local.pop(sid, None)
        if member is None:
            return
        try:
            await self._changed(await self.store.presence_down([member]))
        except Exception as exc:  # the member lapses by itself
            log.warning("presence down failed: %s", type(exc).__name__)

    async def heartbeat(self) -> None:
        """Renew this process's sockets, then drop every lapsed one (of any process)."""
        came = await self.store.presence_up(list(self._local.values()), self._lapse_ms())
        gone = await self.store.presence_prune(self.clock.now_ms())
        await self._changed([*came, *gone])

    async def running(self) -> AsyncIterator[None]:
        """For the app's cleanup context: the heartbeat runs while the app does."""
        self._task = asyncio.create_task(self._beat())
        yield
        await self.close()

    async def close(self) -> None:
        """Stop the heartbeat and take this process's sockets out at once (at shutdown,
        before the server waits for its open connections)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        members, self._local = list(self._local.values()), {}
        try:
            await self._changed(await self.store.presence_down(members))
        except Exception as exc:  # they lapse by themselves
            log.warning("presence shutdown failed: %s", type(exc).__name__)

    async def _beat(self) -> None:
        while True:
            try:
                await self.heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: try again next beat
                log.warning("presence heartbeat failed: %s", type(exc).__name__)
            await asyncio.sleep(self.ttl_s / 3)

    def _lapse_ms(self) -> int:
        return self.clock.now_ms() + int(self.ttl_s * 1000)

    async def _changed(self, usernames: Iterable[str]) -> None:
        changed = sorted(set(usernames))
        if changed:
            await self.notifier.to_overview_watchers("team", {"changed": changed})

    # -- the team view --------------------------------------------------------------

    async def team(self, actor: StaffActor) -> list[dict[str, Any]]:
        """Every enabled counsellor, supervisor and police account, by username: role,
        languages, online, how many conversations each holds, the limit."""
        if actor.role not in TEAM_VIEW_ROLES:
            raise Forbidden()
        members = [m for m in await self.store.list_staff()
                   if not m.disabled and m.role in TEAM_ROLES]
        online = await self.store.list_online(self.clock.now_ms())
        chatters = [m.username for m in members if m.role in CHAT_ROLES]
        holds: dict[str, int] = dict(zip(chatters, await self.store.count_held(chatters),
                                         strict=True))
        if any(m.role is Role.POLICE for m in members):
            # An officer holds the conversations they joined (until the wrap-up).
            for conv in await self.store.list_conversations_with_handover(
                    Handover.JOINED.value):
                if conv.police_officer:
                    holds[conv.police_officer] = holds.get(conv.police_officer, 0) + 1
        return [{"username": m.username, "role": m.role.value,
                 "languages": list(m.languages), "online": m.username in online,
                 "holds": holds.get(m.username, 0),
                 "max_conversations": self.max_conversations}
                for m in sorted(members, key=lambda m: m.username)]

