"""Account storage: staff members, their sessions, and the login throttle.

Mixed into RedisStore. This module owns

    {p}staff                set    all usernames
    {p}staff:{username}     hash   role, password hash, disabled, created_at, languages
    {p}session:{hash}       hash   username, role, expires_at (TTL = session lifetime)
    {p}sessions:{username}  set    that person's session hashes (for revocation; TTL)
    {p}loginfail:{username} string failed-login counter (TTL = lock window)
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import cast

from redis.exceptions import WatchError

from helpline.domain.ids import Username
from helpline.domain.roles import Role
from helpline.domain.staff import Session, StaffMember
from helpline.storage import scripts
from helpline.storage.base import StoreBase

# Replace the hash only if it is still the one the caller checked the password
# against, so a re-hash at login never overwrites a password set in between.
# KEYS: staff(username); ARGV: expected hash, new hash
SWAP_HASH_SCRIPT = """
if redis.call('HGET', KEYS[1], 'password_hash') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'password_hash', ARGV[2])
return 1
"""


class AccountStoreMixin(StoreBase):
    async def create_staff(self, member: StaffMember) -> bool:
        """Store a new staff member; False if the name is taken."""
        key = self.keys.staff(member.username)
        fields = {
            "role": member.role.value,
            "password_hash": member.password_hash,
            "disabled": "1" if member.disabled else "0",
            "created_at": str(member.created_at),
            "languages": ",".join(member.languages),
        }
        args: list[str] = [member.username]
        for k, v in fields.items():
            args += [k, v]
        created = await self._script(scripts.CREATE_STAFF)(
            keys=[key, self.keys.staff_index], args=args)
        return bool(created)

    async def get_staff(self, username: str) -> StaffMember | None:
        raw = await cast(
            Awaitable[dict[bytes, bytes]], self.redis.hgetall(self.keys.staff(username))
        )
        return _staff(username, raw) if raw else None

    async def list_staff(self) -> list[StaffMember]:
        names = sorted(
            n.decode() for n in
            await cast(Awaitable[set[bytes]], self.redis.smembers(self.keys.staff_index))
        )
        # One round trip: this runs on every queue change (languages spoken).
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self.keys.staff(name))
            rows: list[dict[bytes, bytes]] = await pipe.execute()
        return [_staff(name, raw) for name, raw in zip(names, rows, strict=True) if raw]

    async def disable_staff(self, username: str) -> list[str]:
        """Mark disabled and delete every session, atomically; returns the session hashes."""
        skey = self.keys.sessions(username)
        hashes = [
            h.decode() for h in await cast(Awaitable[set[bytes]], self.redis.smembers(skey))
        ]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.staff(username), "disabled", "1")
            for h in hashes:
                pipe.delete(self.keys.session(h))
            pipe.delete(skey)
            await pipe.execute()
        return hashes

    async def update_staff(self, username: str, fields: Mapping[str, str],
                           revoke_sessions: bool) -> list[str] | None:
        """Change `fields` (role, languages) of an existing account and, if asked, delete
        every session of it, in one transaction; returns the session hashes deleted, or
        None if there is no such account. Watches the account and its session index, so
        a login in between makes it start again instead of leaving a session behind."""
        key, skey = self.keys.staff(username), self.keys.sessions(username)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key, skey)
                    if not await pipe.exists(key):
                        return None
                    hashes = [h.decode() for h in await cast(
                        Awaitable[set[bytes]], pipe.smembers(skey))] if revoke_sessions else []
                    pipe.multi()  # type: ignore[no-untyped-call]
                    for name, value in fields.items():
                        pipe.hset(key, name, value)
                    for h in hashes:
                        pipe.delete(self.keys.session(h))
                    if revoke_sessions:
                        pipe.delete(skey)
                    await pipe.execute()
                    return hashes
                except WatchError:
                    continue

    # -- sessions and login throttling --------------------------------------------

    async def create_session(self, session: Session, ttl_seconds: int) -> None:
        key = self.keys.session(session.token_hash)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={
                "username": session.username,
                "role": session.role.value,
                "expires_at": str(session.expires_at),
            })
            pipe.expire(key, ttl_seconds)
            pipe.sadd(self.keys.sessions(session.username), session.token_hash)
            # The index outlives no session by much: refreshed on every login.
            pipe.expire(self.keys.sessions(session.username), ttl_seconds)
            await pipe.execute()

    async def get_session(self, token_hash: str) -> Session | None:
        raw = await cast(
            Awaitable[dict[bytes, bytes]], self.redis.hgetall(self.keys.session(token_hash))
        )
        if not raw:
            return None
        return Session(
            username=Username(raw[b"username"].decode()),
            role=Role(raw[b"role"].decode()),
            expires_at=int(raw[b"expires_at"]),
            token_hash=token_hash,
        )

    async def delete_session(self, session: Session) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.session(session.token_hash))
            pipe.srem(self.keys.sessions(session.username), session.token_hash)
            await pipe.execute()

    async def count_login_failure(self, username: str, window_seconds: int) -> int:
        """Count one login attempt; the count lapses `window_seconds` after the first."""
        count = await self._script(scripts.COUNT_IN_WINDOW)(
            keys=[self.keys.login_failures(username)], args=[window_seconds])
        return int(count)

    async def clear_login_failures(self, username: str) -> None:
        await self.redis.delete(self.keys.login_failures(username))

    async def replace_password_hash(self, username: str, expected: str, new: str) -> bool:
        """Swap the stored hash if it is still `expected`; False if it changed meanwhile."""
        return bool(await self._script(SWAP_HASH_SCRIPT)(
            keys=[self.keys.staff(username)], args=[expected, new]))


def _staff(username: str, raw: dict[bytes, bytes]) -> StaffMember:
    langs = raw.get(b"languages", b"").decode()
    return StaffMember(
        username=Username(username),
        role=Role(raw[b"role"].decode()),
        password_hash=raw[b"password_hash"].decode(),
        disabled=raw.get(b"disabled") == b"1",
        created_at=int(raw[b"created_at"]),
        languages=tuple(x for x in langs.split(",") if x),
    )
