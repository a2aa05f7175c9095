"""Staff accounts: create, list, change (role, languages), reset a password, disable;
log in and out; check a session token.

Passwords are hashed with scrypt; a hash below the configured cost is replaced at the
next successful login. Session tokens are 256-bit random strings of which only the
SHA-256 is stored, with a TTL. Wrong passwords are counted per account and, past the
limit, the account refuses every attempt until the window has passed.

Audited (never an address, user agent or password): an account added, changed,
disabled or given a new password,
every successful login and logout, and the wrong password that locks an existing
account. Single wrong passwords are not logged: anyone can send them, for any name,
and the log is kept forever, so they would be a way to flood it; the lock-out entry
(at most one per account and lock window) says what an admin needs to know.
"""

from __future__ import annotations

import asyncio
import re
import secrets
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
# A staff member's languages: 2-letter lowercase codes (ISO 639-1), each once.
LANGUAGE_CODE = re.compile(r"[a-z]{2}")
MAX_LANGUAGES = 12


def check_languages(languages: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The languages as stored, or `InvalidPayload`: 2-letter codes, no repeats."""
    if len(languages) > MAX_LANGUAGES:
        raise InvalidPayload(f"At most {MAX_LANGUAGES} languages.")
    for lang in languages:
        if not isinstance(lang, str) or not LANGUAGE_CODE.fullmatch(lang):
            raise InvalidPayload("A language is a 2-letter lowercase code, such as nl or en.")
    if len(set(languages)) != len(languages):
        raise InvalidPayload("A language may be given once.")
    return tuple(languages)


def generate_password() -> str:
    """An initial password: 120 random bits, 20 characters of base64url."""
    return secrets.token_urlsafe(15)


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
        languages = check_languages(languages)
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

    async def get_user(self, username: str) -> StaffMember | None:
        return await self.store.get_staff(username) if is_username(username) else None

    async def change_user(self, username: str, role: Role | None = None,
                          languages: tuple[str, ...] | None = None, by: str = "cli"
                          ) -> StaffMember:
        """Change an account's role and/or languages in one step (`NotFound` if none).

        A new role also revokes every session of the account and drops its live
        connections (control message `session_revoked` per session), so it signs in
        again with the new role; `authenticate` refuses a session whose role is not the
        account's, for a login that raced the change.
        """
        member = await self.get_user(username)
        if member is None:
            raise NotFound(f"There is no account named {username!r}.")
        fields: dict[str, str] = {}
        details: dict[str, object] = {"account": username}
        role_changed = role is not None and role is not member.role
        if role is not None:
            fields["role"] = role.value
            details["role"] = role.value
        if languages is not None:
            languages = check_languages(languages)
            fields["languages"] = ",".join(languages)
            details["languages"] = list(languages)
        revoked = await self.store.update_staff(username, fields, revoke_sessions=role_changed)
        if revoked is None:
            raise NotFound(f"There is no account named {username!r}.")
        for token_hash in revoked:
            await self.store.publish_control({"type": "session_revoked",
                                              "session": token_hash})
        await self.audit.record(by, "admin", AuditAction.ACCOUNT_CHANGED, None, details)
        changed = await self.store.get_staff(username)
        assert changed is not None
        return changed

    async def reset_password(self, username: str, by: str = "cli") -> str:
        """Give the account a new random password and end every session of it (its live
        connections are dropped); returns the password, to be passed on once."""
        if await self.get_user(username) is None:
            raise NotFound(f"There is no account named {username!r}.")
        password = generate_password()
        revoked = await self.store.update_staff(
            username, {"password_hash": await self._hash(password)}, revoke_sessions=True)
        if revoked is None:
            raise NotFound(f"There is no account named {username!r}.")
        for token_hash in revoked:
            await self.store.publish_control({"type": "session_revoked",
                                              "session": token_hash})
        await self.audit.record(by, "admin", AuditAction.PASSWORD_RESET, None,
                                {"account": username})
        return password

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
        # A session opened with another role than the account has now (a role change
        # raced the login) is refused too: sign in again.
        if member is None or member.disabled or member.role is not session.role:
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
