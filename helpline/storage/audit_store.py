"""Audit storage: the hash chain, checkpoint copies and read de-duplication.

Mixed into RedisStore. This module owns

    {p}audit                list   hash-chained audit entries (JSON), append-only
    {p}audit:head           string "count:hash" of the last entry
    {p}audit:checkpoints    list   signed checkpoints (JSON), oldest first: a copy for
                                   the admin API; the file outside Redis is the one
                                   `helpline audit verify` trusts
    {p}audit:seen:{action}:{user}:{cid}
                            string "1" while a staff read of that conversation (or "-"
                                   for none) is already in the log (TTL)
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import cast

from helpline.domain.ids import is_conversation_id, is_username
from helpline.storage import scripts
from helpline.storage.base import StoreBase
from helpline.storage.keys import BadKey

# How many checkpoint copies Redis keeps for the admin API (the file keeps all).
MAX_CHECKPOINT_COPIES = 10_000


def checkpoints_key(prefix: str) -> str:
    return f"{prefix}audit:checkpoints"


def read_seen_key(prefix: str, action: str, username: str, conversation_id: str | None
                  ) -> str:
    # Validated like every other key part, so no client string reaches another key.
    if not action.isidentifier():
        raise BadKey("audit action")
    if not is_username(username):
        raise BadKey("username")
    if conversation_id is not None and not is_conversation_id(conversation_id):
        raise BadKey("conversation id")
    return f"{prefix}audit:seen:{action}:{username}:{conversation_id or '-'}"


class AuditStoreMixin(StoreBase):
    async def get_audit_head(self) -> tuple[int, str]:
        raw = cast(bytes | None, await self.redis.get(self.keys.audit_head))
        if raw is None:
            return 0, "0" * 64
        count, _, digest = raw.decode().partition(":")
        return int(count), digest

    async def append_audit(self, expected_head: tuple[int, str], new_head: tuple[int, str],
                           *entries_json: str) -> bool:
        """Append entries (chained, in order) if the head is unchanged; False means
        someone appended first."""
        done = await self._script(scripts.APPEND_AUDIT)(
            keys=[self.keys.audit, self.keys.audit_head],
            args=[f"{expected_head[0]}:{expected_head[1]}", f"{new_head[0]}:{new_head[1]}",
                  *entries_json])
        return bool(done)

    async def read_audit(self, start: int, limit: int) -> list[str]:
        raw = await cast(Awaitable[list[bytes]],
                         self.redis.lrange(self.keys.audit, start, start + limit - 1))
        return [r.decode() for r in raw]

    async def add_audit_checkpoint(self, checkpoint_json: str) -> None:
        """Keep a copy of a signed checkpoint (newest last), bounded in number."""
        key = checkpoints_key(self.keys.prefix)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, checkpoint_json)
            pipe.ltrim(key, -MAX_CHECKPOINT_COPIES, -1)
            await pipe.execute()

    async def list_audit_checkpoints(self) -> list[str]:
        raw = await cast(Awaitable[list[bytes]],
                         self.redis.lrange(checkpoints_key(self.keys.prefix), 0, -1))
        return [r.decode() for r in raw]

    async def claim_audit_read(self, action: str, username: str,
                               conversation_id: str | None, ttl_seconds: int) -> bool:
        """True if this read is the first of its kind in the window (SET NX with TTL)."""
        key = read_seen_key(self.keys.prefix, action, username, conversation_id)
        return bool(await self.redis.set(key, "1", nx=True, ex=ttl_seconds))

    async def release_audit_read(self, action: str, username: str,
                                 conversation_id: str | None) -> None:
        """Forget a claim whose entry could not be written, so the next read tries again."""
        await self.redis.delete(read_seen_key(self.keys.prefix, action, username,
                                              conversation_id))
