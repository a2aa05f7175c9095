"""What every store mixin builds on: the Redis client, the key names, the Lua scripts,
and the translation of a script's status word into a result or an error.

`RedisStore` (redis_store.py) is composed of one mixin per aggregate, in the way of
Synapse's `synapse/storage/databases/main/`; each mixin subclasses `StoreBase` and
its module docstring names the keys it owns (all declared in keys.py or in a helper
of that module). This module owns no key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from helpline.domain.conversation import State
from helpline.errors import CapacityReached, InvalidState, NotFound
from helpline.storage.batching import ScriptBatcher
from helpline.storage.keys import Keys


class StateConflict(InvalidState):
    """The conversation was not in a state the move allows; `current` says which."""

    def __init__(self, current: str | None) -> None:
        super().__init__()
        self.current = current


class StoreBase:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self._scripts: dict[str, AsyncScript] = {}
        self._batcher = ScriptBatcher(redis)

    def _script(self, source: str) -> AsyncScript:
        """The script object for `source`, made once per store.

        Registering only hashes the text (no round trip); redis-py sends EVALSHA and
        loads the script on the first NOSCRIPT answer.
        """
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.redis.register_script(source)
        return script

    async def _run(self, source: str, keys: list[str], args: list[Any]) -> list[bytes]:
        """Run a script that answers with a list whose first item is a status word."""
        return cast(list[bytes], await self._script(source)(keys=keys, args=args))

    async def _run_batched(self, source: str, keys: list[str], args: list[Any]
                           ) -> list[bytes]:
        """As `_run`, sent together with the calls made at about the same time (the hot
        path: a chat message; storage/batching.py)."""
        return cast(list[bytes], await self._batcher.run(self._script(source), keys, args))


def raise_for_status(res: list[bytes]) -> None:
    """Turn a script's status word into an error; `ok` and `duplicate` pass."""
    status = res[0]
    if status in (b"ok", b"duplicate"):
        return
    if status == b"not_found":
        raise NotFound()
    if status == b"capacity":
        raise CapacityReached()
    if status == b"invalid_state":
        raise StateConflict(res[1].decode() if len(res) > 1 else None)
    raise RuntimeError(f"unexpected script status {status!r}")


def states_csv(states: Iterable[State]) -> str:
    """States as the comma list the scripts match against."""
    return ",".join(s.value for s in states)


def int_field(raw: dict[bytes, bytes], key: bytes) -> int | None:
    value = raw.get(key)
    return int(value) if value else None


def str_field(raw: dict[bytes, bytes], key: bytes) -> str | None:
    value = raw.get(key)
    return value.decode() if value is not None else None
