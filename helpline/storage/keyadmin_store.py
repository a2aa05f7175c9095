"""Key-administration storage beyond redis_store.py: the revocation list, and grants
written only while the device they were checked against is still the one in Redis.

Mixed into RedisStore (which provides `self.redis` and `self.keys`).

    {p}keys:revocations     string the organisation-signed revocation list (JSON)
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, cast

from redis.exceptions import WatchError

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from helpline.storage.keys import Keys


def revocations_key(keys: Keys) -> str:
    return f"{keys.prefix}keys:revocations"


class KeyAdminStoreMixin:
    redis: aioredis.Redis
    keys: Keys

    async def set_revocations(self, revocations_json: str) -> None:
        """Publish the signed revocation list (clients refuse an older serial anyway)."""
        await self.redis.set(revocations_key(self.keys), revocations_json)

    async def get_revocations(self) -> str | None:
        raw = cast(bytes | None, await self.redis.get(revocations_key(self.keys)))
        return raw.decode() if raw else None

    async def put_grants_if_device(
        self, username: str, encryption: bytes, signing: bytes, grants: Mapping[str, bytes],
        statement: tuple[str, str] | None,
    ) -> bool:
        """Store grants (subject -> wrap) and a staff statement (signing fingerprint,
        JSON) in one transaction, only if `device:{username}` still holds exactly these
        public keys: a device re-registered between the admin's check and this write
        must not receive what was wrapped for the checked one. False if it changed."""
        device_key = self.keys.device(username)
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(device_key)
                raw = await cast(Awaitable[dict[bytes, bytes]], pipe.hgetall(device_key))
                if raw.get(b"encryption") != encryption or raw.get(b"signing") != signing:
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                for subject, wrap in grants.items():
                    pipe.hset(self.keys.grants(username), subject, wrap)
                if statement is not None:
                    pipe.hset(self.keys.staff_statements(username), statement[0], statement[1])
                await pipe.execute()
            except WatchError:
                return False
        return True

    async def delete_grants(self, username: str) -> None:
        """Drop every grant of a person (a revoked device gets nothing more from Redis)."""
        await self.redis.delete(self.keys.grants(username))
