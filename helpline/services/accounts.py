"""Staff accounts: create, list, disable; log in and out; check a session token.

Passwords are hashed with scrypt; a hash below the configured cost is replaced at the
next successful login. Session tokens are 256-bit random strings of which only the
SHA-256 is stored, with a TTL. Wrong passwords are counted per account and, past the
limit, the account refuses every attempt until the window has passed.

Audited (never an address, user agent or password): an account added or disabled,
every successful login and logout, and the wrong password that locks an existing
account. Single wrong passwords are not logged: anyone can send them, for any name,
and the log is kept forever, so they would be a way to flood it; the lock-out entry
(at most one per account and lock window) says what an admin needs to know.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from helpline.domain.audit import AuditAction
from helpline.domain.ids import Username, is_username, new_secret, secret_hash
from helpline.domain.roles import Role
from helpline.domain.staff import Session, StaffMember
from helpline.errors import Conflict, InvalidPayload, NotFound, RateLimited, Unauthorized
from helpline.services import passwords
from helpline.services.audit import AuditLog
from helpline.services.ports import Clock
from helpline.storage.redis_store import RedisStore

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
# scrypt at N=2^17 takes 128 MiB per hash: at most this many at once per process, so a
# burst of logins queues instead of exhausting memory.
HASH_CONCURRENCY = 4


@dataclass(frozen=True)
class AccountPolicy:
    session_ttl_seconds: int
    login_max_failures: int
    login_lock_seconds: int
    scrypt_log2_n: int


@dataclass(frozen=True)
class LoginResult:
    token: str
    session: Session


class AccountService:
    def __init__(self, store: RedisStore, clock: Clock, policy: AccountPolicy,
                 audit: AuditLog | None = None) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.audit = audit or AuditLog(store, clock)
        self._dummy_hash: str | None = None
        self._hashing = asyncio.Semaphore(HASH_CONCURRENCY)

    async def add_user(
        self, username: str, role: Role, password: str, languages: tuple[str, ...] = (),
        by: str = "cli",
    ) -> StaffMember:
        """Create a staff account; `Conflict` if the name is taken."""
        if not is_username(username):
            raise InvalidPayload(
                "A username is 2-32 characters: lowercase letters, digits, '.', '_' or '-'."
            )
        if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
            raise InvalidPayload(
                f"A password is {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
            )
        member = StaffMember(
            username=Username(username),
            role=role,
            password_hash=await self._hash(password),
            disabled=False,
            created_at=self.clock.now_ms(),
            languages=languages,
        )
        if not await self.store.create_staff(member):
            raise Conflict(f"There is already an account named {username!r}.")
        await self.audit.record(by, "admin", AuditAction.ACCOUNT_ADDED, None,
                                {"account": username, "role": role.value})
        return member

    async def list_users(self) -> list[StaffMember]:
        return await self.store.list_staff()

    async def languages(self, username: str) -> list[str]:
        member = await self.store.get_staff(username)
        return list(member.languages) if member else []

    async def disable_user(self, username: str, by: str = "cli") -> int:
        """Disable the account, revoke its sessions and drop its live connections.

        Returns how many sessions were revoked. Every server process listens on the
        control channel and disconnects that person's sockets at once.
        """
        if not is_username(username) or await self.store.get_staff(username) is None:
            raise NotFound(f"There is no account named {username!r}.")
        revoked = await self.store.disable_staff(username)
        await self.store.publish_control({"type": "staff_disabled", "username": username})
        await self.audit.record(by, "admin", AuditAction.ACCOUNT_DISABLED, None,
                                {"account": username})
        return len(revoked)

    async def login(self, username: str, password: str) -> LoginResult:
        """Check the password and open a session; throttled per account."""
        if not is_username(username) or len(password) > MAX_PASSWORD_LENGTH:
            raise Unauthorized("Wrong username or password.")
        # Count the attempt before checking it (one atomic step), so that parallel
        # guesses cannot slip past the limit while their hashes are computed.
        attempts = await self.store.count_login_failure(username,
                                                        self.policy.login_lock_seconds)
        if attempts > self.policy.login_max_failures:
            raise RateLimited("Too many wrong passwords for this account. Try again later.")
        member = await self.store.get_staff(username)
        stored = member.password_hash if member else await self._get_dummy_hash()
        async with self._hashing:
            ok = await passwords.verify_password(password, stored)
        if not ok or member is None or member.disabled:
            if member is not None and attempts == self.policy.login_max_failures:
                # This wrong password locks the account: once per lock window. Logged
                # after the scrypt, whose own variance hides the extra write's time.
                await self.audit.record(member.username, member.role.value,
                                        AuditAction.LOGIN, None, {"result": "locked"})
            raise Unauthorized("Wrong username or password.")
        await self.store.clear_login_failures(username)
        await self._upgrade_hash(member, password)
        token = new_secret()
        session = Session(
            username=member.username,
            role=member.role,
            expires_at=self.clock.now_ms() + self.policy.session_ttl_seconds * 1000,
            token_hash=secret_hash(token),
        )
        await self.store.create_session(session, self.policy.session_ttl_seconds)
        await self.audit.record(member.username, member.role.value, AuditAction.LOGIN, None,
                                {"result": "ok"})
        return LoginResult(token=token, session=session)

    async def _upgrade_hash(self, member: StaffMember, password: str) -> None:
        """Re-hash a password stored below the configured cost (the password is only
        known here, at a successful login). Compare-and-set, so a password changed in
        the meantime is never overwritten."""
        if not passwords.needs_rehash(member.password_hash, self.policy.scrypt_log2_n):
            return
        new = await self._hash(password)
        await self.store.replace_password_hash(member.username, member.password_hash, new)

    async def _hash(self, password: str) -> str:
        async with self._hashing:
            return await passwords.hash_password(password, self.policy.scrypt_log2_n)

    async def authenticate(self, token: object) -> Session:
        """The live session for a token, or `Unauthorized` (unknown, expired, disabled)."""
        if not isinstance(token, str) or not 20 <= len(token) <= 128:
            raise Unauthorized()
        session = await self.store.get_session(secret_hash(token))
        if session is None or session.expires_at <= self.clock.now_ms():
            raise Unauthorized()
        member = await self.store.get_staff(session.username)
        if member is None or member.disabled:
            raise Unauthorized()
        return session

    async def is_session_live(self, session: Session) -> bool:
        """Cheap re-check for a connected socket: the session key still exists."""
        current = await self.store.get_session(session.token_hash)
        return current is not None and current.expires_at > self.clock.now_ms()

    async def logout(self, token: object) -> None:
        """Revoke the session; every socket opened with it is dropped at once."""
        session = await self.authenticate(token)
        await self.store.delete_session(session)
        await self.store.publish_control({"type": "session_revoked",
                                          "session": session.token_hash})
        await self.audit.record(session.username, session.role.value, AuditAction.LOGOUT,
                                None)

    async def _get_dummy_hash(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(
                passwords.dummy_hash, self.policy.scrypt_log2_n
            )
        return self._dummy_hash
