"""What the supervisors edit in the console: canned answers, the referral directory and
the opening hours, each a JSON document with a version.

Mixed into RedisStore. This module owns

    {p}edited:{what}        hash   version (integer, counts every change and reset),
                                   data (the document as JSON; absent: the start-up
                                   default, the shipped files or the environment)

with `what` one of `canned`, `referrals`, `hours` (keys.py, EDITABLE). A change and a
reset are one Lua script each: the version check, the new data and the version bump
happen together, so of two editors holding the same version exactly one succeeds, and
a reader that sees a version sees its data. Nothing here is about a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from helpline.storage.base import StoreBase

# KEYS: edited(what)
# ARGV: expected version ("" = any), data ("" = back to the default)
# Answers {'ok', new version} or {'conflict', current version}.
SET_EDITED = """
local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= v then return {'conflict', tostring(v)} end
v = redis.call('HINCRBY', KEYS[1], 'version', 1)
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], 'data')
else
  redis.call('HSET', KEYS[1], 'data', ARGV[2])
end
return {'ok', tostring(v)}
"""


@dataclass(frozen=True)
class Edited:
    """One document's version (0: never edited) and its JSON (None: the default)."""

    version: int
    data: bytes | None


class VersionConflict(Exception):
    """The document changed since the version the editor read; `current` is its own."""

    def __init__(self, current: int) -> None:
        super().__init__(current)
        self.current = current


class DirectoryStoreMixin(StoreBase):
    async def get_edited(self, what: str) -> Edited:
        """The version and data, read together."""
        version, data = cast(list[bytes | None], await self.redis.hmget(
            self.keys.edited(what), ["version", "data"]))
        return Edited(int(version or 0), data)

    async def get_edited_versions(self, whats: tuple[str, ...]) -> dict[str, int]:
        """The current version of each document, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for what in whats:
                pipe.hget(self.keys.edited(what), "version")
            raw = await pipe.execute()
        return {what: int(v or 0) for what, v in zip(whats, raw, strict=True)}

    async def set_edited(self, what: str, data: str | None,
                         expected_version: int | None = None) -> int:
        """Store `data` (None: back to the default) and return the new version; raises
        VersionConflict if `expected_version` is given and is not the current one."""
        res = await self._run(SET_EDITED, [self.keys.edited(what)], [
            "" if expected_version is None else str(expected_version), data or ""])
        if res[0] == b"conflict":
            raise VersionConflict(int(res[1]))
        return int(res[1])
