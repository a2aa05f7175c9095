"""Key-administration storage: the organisation's public keys and statements, staff
devices, grants of team and police keys (written only while the device they were
checked against is still the one in Redis), and the revocation list.

Mixed into RedisStore. This module owns

    {p}keys:signing         string the organisation's signing public key (raw 32 bytes)
    {p}keys:team            hash   period -> signed team key statement (JSON)
    {p}keys:team:current    string the period new conversations encrypt to
    {p}keys:team:replaced   hash   period -> when a newer team key replaced it (ms)
    {p}keys:retired         set    team periods whose grants were shredded
    {p}keys:police          string signed police unit key statement (JSON)
    {p}keys:revocations     string the organisation-signed revocation list (JSON)
    {p}device:{username}    hash   encryption, signing (public, raw) of the current device
    {p}statements:{username} hash  signing key fingerprint -> signed staff statement (JSON)
    {p}grants:{username}    hash   period or police unit -> wrapped private key

The private keys never come here: only public keys, signed statements and HPKE wraps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, cast

from redis.exceptions import WatchError

from helpline.storage.base import StoreBase

if TYPE_CHECKING:
    from helpline.storage.keys import Keys


def revocations_key(keys: Keys) -> str:
    return f"{keys.prefix}keys:revocations"


class KeyAdminStoreMixin(StoreBase):
    async def set_signing_key(self, raw: bytes) -> None:
        await self.redis.set(self.keys.signing_key, raw)

    async def get_signing_key(self) -> bytes | None:
        return cast(bytes | None, await self.redis.get(self.keys.signing_key))

    async def put_team_statement(self, period: str, statement_json: str,
                                 current: bool) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.team_keys, period, statement_json)
            if current:
                pipe.set(self.keys.current_team_key, period)
            await pipe.execute()

    async def get_team_statements(self) -> dict[str, str]:
        raw = await cast(Awaitable[dict[bytes, bytes]], self.redis.hgetall(self.keys.team_keys))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def get_current_period(self) -> str | None:
        raw = cast(bytes | None, await self.redis.get(self.keys.current_team_key))
        return raw.decode() if raw else None

    async def set_police_statement(self, statement_json: str) -> None:
        await self.redis.set(self.keys.police_key, statement_json)

    async def get_police_statement(self) -> str | None:
        raw = cast(bytes | None, await self.redis.get(self.keys.police_key))
        return raw.decode() if raw else None

    async def set_device(self, username: str, encryption: bytes, signing: bytes) -> None:
        """Register a staff device's public keys; earlier grants no longer apply."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.device(username), self.keys.grants(username))
            pipe.hset(self.keys.device(username),
                      mapping={"encryption": encryption, "signing": signing})
            await pipe.execute()

    async def get_device(self, username: str) -> dict[str, bytes]:
        raw = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.device(username)))
        return {k.decode(): v for k, v in raw.items()}

    async def add_staff_statement(self, username: str, signing_fingerprint: str,
                                  statement_json: str) -> None:
        await self.redis.hset(self.keys.staff_statements(username), signing_fingerprint,
                              statement_json)

    async def get_staff_statements(self, username: str) -> dict[str, str]:
        """Signing key fingerprint -> statement, for every device this person has had."""
        raw = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.staff_statements(username)))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def put_grant(self, username: str, subject: str, wrap: bytes) -> None:
        await self.redis.hset(self.keys.grants(username), subject, wrap)

    async def get_grants(self, username: str) -> dict[str, bytes]:
        raw = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.grants(username)))
        return {k.decode(): v for k, v in raw.items()}

    async def mark_team_replaced(self, period: str, at_ms: int) -> None:
        await cast(Awaitable[bool], self.redis.hsetnx(self.keys.team_replaced, period, at_ms))

    async def get_team_replaced(self) -> dict[str, int]:
        raw = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.team_replaced))
        return {k.decode(): int(v) for k, v in raw.items()}

    async def retire_period(self, period: str) -> int:
        """Shred a team period: delete every staff member's grant of it, atomically."""
        names = [n.decode() for n in await cast(
            Awaitable[set[bytes]], self.redis.smembers(self.keys.staff_index))]
        async with self.redis.pipeline(transaction=True) as pipe:
            for name in names:
                pipe.hdel(self.keys.grants(name), period)
            pipe.sadd(self.keys.retired_periods, period)
            results = await pipe.execute()
        return sum(int(r) for r in results[:-1])

    async def get_retired_periods(self) -> set[str]:
        raw = await cast(Awaitable[set[bytes]], self.redis.smembers(self.keys.retired_periods))
        return {r.decode() for r in raw}

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
