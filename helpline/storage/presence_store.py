"""Staff presence: which staff members have a live `/staff` socket, in any process.

Mixed into RedisStore. This module owns

    {p}presence             zset   "{username} {process}/{sid}", one member per live staff
                                   socket, scored by when it lapses (ms)
    {p}presence:count       hash   username -> how many members it has in {p}presence

and reads (never writes) `{p}held:{username}`, the conversations a counsellor holds.

A socket's member lapses unless the process holding it refreshes it: every process
renews the scores of its own sockets a few times per TTL (services/team.py). A process
that crashes stops refreshing; its members lapse, and the next prune by any other
process removes them (docs/architecture.md, section 5b). The count hash turns "a
member came or went" into "a person came online or went offline" in the same atomic
script, so exactly one process reports each change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from helpline.storage.base import StoreBase

# KEYS: presence, presence:count; ARGV: lapse ms, then members. Adds or refreshes each
# member; answers the usernames that had no member before (they came online).
PRESENCE_UP = """
local came = {}
for i = 2, #ARGV do
  local member = ARGV[i]
  if redis.call('ZADD', KEYS[1], ARGV[1], member) == 1 then
    local user = string.match(member, '^(%S+) ')
    if redis.call('HINCRBY', KEYS[2], user, 1) == 1 then table.insert(came, user) end
  end
end
return came
"""

_DROP = """
local function drop(member, gone)
  if redis.call('ZREM', KEYS[1], member) == 1 then
    local user = string.match(member, '^(%S+) ')
    if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
      redis.call('HDEL', KEYS[2], user)
      table.insert(gone, user)
    end
  end
end
"""

# KEYS: presence, presence:count; ARGV: members. Answers the usernames left with none.
PRESENCE_DOWN = _DROP + """
local gone = {}
for i = 1, #ARGV do drop(ARGV[i], gone) end
return gone
"""

# KEYS: presence, presence:count; ARGV: now ms, limit. Drops lapsed members (of any
# process); answers the usernames left with none (they went offline).
PRESENCE_PRUNE = _DROP + """
local gone = {}
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(lapsed) do drop(member, gone) end
return gone
"""

PRUNE_LIMIT = 1000


def presence_member(username: str, socket_key: str) -> str:
    """The member for one socket; a username never holds a space (domain/ids.py)."""
    return f"{username} {socket_key}"


class PresenceStoreMixin(StoreBase):
    async def presence_up(self, members: Sequence[str], lapse_ms: int) -> list[str]:
        """Add or refresh these sockets' members; the usernames that came online."""
        if not members:
            return []
        res = await self._script(PRESENCE_UP)(
            keys=[self.keys.presence, self.keys.presence_count], args=[lapse_ms, *members])
        return [u.decode() for u in cast(list[bytes], res)]

    async def presence_down(self, members: Sequence[str]) -> list[str]:
        """Remove these sockets' members; the usernames that went offline."""
        if not members:
            return []
        res = await self._script(PRESENCE_DOWN)(
            keys=[self.keys.presence, self.keys.presence_count], args=list(members))
        return [u.decode() for u in cast(list[bytes], res)]

    async def presence_prune(self, now_ms: int) -> list[str]:
        """Remove every lapsed member; the usernames that went offline."""
        gone: list[str] = []
        while True:
            res = cast(list[bytes], await self._script(PRESENCE_PRUNE)(
                keys=[self.keys.presence, self.keys.presence_count],
                args=[now_ms, PRUNE_LIMIT]))
            gone += [u.decode() for u in res]
            if int(await self.redis.zcount(self.keys.presence, "-inf", now_ms)) == 0:
                return gone

    async def list_online(self, now_ms: int) -> set[str]:
        """Usernames with a member that has not lapsed (whether pruned yet or not)."""
        members = cast(list[bytes], await self.redis.zrangebyscore(
            self.keys.presence, f"({now_ms}", "+inf"))
        return {m.decode().split(" ", 1)[0] for m in members}

    async def count_held(self, usernames: Sequence[str]) -> list[int]:
        """How many conversations each holds (active, or ended awaiting wrap-up)."""
        if not usernames:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in usernames:
                pipe.scard(self.keys.held(name))
            return [int(n) for n in await pipe.execute()]
