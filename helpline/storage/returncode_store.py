"""Return-code storage: the look-up record, the code wrap, and the attempt counters.

Mixed into RedisStore. This module owns

    {p}return:{lookup hmac}        hash  conversation, verifier (32 bytes)
    {p}conv:{id} return_lookup     which look-up record is the conversation's (purge)
    {p}conv:{id}:e2e code_wrap     the blob, opaque to the server
    {p}codetry:{lookup hmac}       attempts at one code in the window (TTL = window)
    {p}codetry-conn:{sha256(sid)}  attempts from one connection in the window

Attempts are counted *before* the look-up, so a burst of parallel guesses cannot
slip past a limit that is only checked after the answer (INCR is atomic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from redis.exceptions import WatchError

from helpline.domain.ids import ConversationId
from helpline.errors import Conflict
from helpline.storage.base import StoreBase
from helpline.storage.keys import BadKey, Keys

# One attempt at a code and from a connection; each window starts at its first attempt
# (a script, not EXPIRE NX, which Redis before 7 lacks).
_COUNT = """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('incr', key)
  if out[i] == 1 then redis.call('expire', key, ARGV[1]) end
end
return out
"""

# Decrement only a counter that still exists: one that expired meanwhile must not come
# back as -1 without a TTL (and so never expire).
_REFUND = """
if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end
return 0
"""


def _hex64(value: str, what: str) -> str:
    if len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
        raise BadKey(what)
    return value


def code_attempts_key(keys: Keys, lookup: str) -> str:
    return f"{keys.prefix}codetry:{_hex64(lookup, 'return code lookup')}"


def connection_attempts_key(keys: Keys, connection_hash: str) -> str:
    return f"{keys.prefix}codetry-conn:{_hex64(connection_hash, 'connection hash')}"


@dataclass(frozen=True)
class ReturnCodeRecord:
    conversation_id: ConversationId
    verifier: bytes


class ReturnCodeStoreMixin(StoreBase):
    async def set_return_code(self, conversation_id: ConversationId, lookup: str,
                              verifier: bytes) -> None:
        """File the conversation under a code's look-up hash with its verifier, and drop
        the conversation's earlier code, in one step; Conflict if another conversation
        has this look-up (checked under WATCH, so two registrations cannot both win)."""
        conv_key, new_key = self.keys.conv(conversation_id), self.keys.return_code(lookup)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(conv_key, new_key)
                    owner = cast(bytes | None, await pipe.hget(new_key, "conversation"))
                    if owner is not None and owner.decode() != conversation_id:
                        raise Conflict("That code is taken; make another.")
                    old = cast(bytes | None, await pipe.hget(conv_key, "return_lookup"))
                    pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
                    if old and old.decode() != lookup:
                        pipe.delete(self.keys.return_code(old.decode()))
                    pipe.delete(new_key)
                    pipe.hset(new_key, mapping={"conversation": conversation_id,
                                                "verifier": verifier})
                    pipe.hset(conv_key, "return_lookup", lookup)
                    await pipe.execute()
                    return
                except WatchError:
                    continue

    async def find_return_code(self, lookup: str) -> ReturnCodeRecord | None:
        cid, verifier = cast(list[bytes | None], await self.redis.hmget(
            self.keys.return_code(lookup), ["conversation", "verifier"]))
        if cid is None or verifier is None:
            return None
        return ReturnCodeRecord(ConversationId(cid.decode()), verifier)

    async def set_code_wrap(self, conversation_id: ConversationId, blob: bytes) -> None:
        await self.redis.hset(self.keys.e2e(conversation_id), "code_wrap", blob)

    async def get_code_wrap(self, conversation_id: ConversationId) -> bytes | None:
        return cast(bytes | None, await self.redis.hget(
            self.keys.e2e(conversation_id), "code_wrap"))

    async def count_code_attempt(self, lookup: str, connection_hash: str,
                                 window_seconds: int) -> tuple[int, int]:
        """Count one attempt at a code and from a connection, atomically, before the
        look-up; (attempts at the code, attempts from the connection) in the window,
        which starts at the first attempt."""
        code_key = code_attempts_key(self.keys, lookup)
        conn_key = connection_attempts_key(self.keys, connection_hash)
        code_count, conn_count = await self.redis.eval(
            _COUNT, 2, code_key, conn_key, window_seconds)
        return int(code_count), int(conn_count)

    async def refund_code_attempt(self, lookup: str, connection_hash: str) -> None:
        """A right proof does not use up the code's (or the connection's) allowance."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.eval(_REFUND, 1, code_attempts_key(self.keys, lookup))
            pipe.eval(_REFUND, 1, connection_attempts_key(self.keys, connection_hash))
            await pipe.execute()
