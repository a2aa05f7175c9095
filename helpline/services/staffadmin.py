"""The admin's console screens, server side: staff accounts with their devices, devices
waiting for approval (with the exact `helpline keys` lines to run on the admin
machine), and the team key periods with a warning before the current one ends.

The organisation key never comes to the server (docs/security.md, "Approving from the
console"): approving, granting and revoking stay `helpline keys ...` commands on the
admin machine. This service only reads what Redis holds (public keys, signed
statements, wraps) and says what to run. The statements it reads are checked against
the signing key published in Redis: enough to show a state, never a reason to trust a
device (the admin compares the fingerprints with the staff member's own screen).

Account changes go through AccountService; the rules added here are the admin's own:
an admin may not disable their own account or take away their own admin role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from helpline.crypto.errors import CryptoError
from helpline.crypto.keys import EncryptionPublicKey, KeyKind, SigningPublicKey, fingerprint
from helpline.crypto.revocation import revocations_from_json
from helpline.crypto.staff_statements import (
    StaffKeyStatement,
    staff_statement_from_dict,
    verify_staff_statement,
)
from helpline.crypto.statements import (
    KeyStatement,
    StatementKind,
    key_statement_from_json,
    verify_key_statement,
)
from helpline.domain.roles import Role
from helpline.domain.staff import Session, StaffMember
from helpline.errors import OwnAccount
from helpline.services.accounts import AccountService, generate_password
from helpline.services.ports import Clock
from helpline.storage.redis_store import RedisStore

# The roles that receive team keys (as services/keyadmin.py TEAM_ROLES).
TEAM_ROLES = frozenset({Role.COUNSELLOR, Role.SUPERVISOR})
ROTATE_COMMAND = "helpline keys rotate"
INIT_COMMAND = "helpline keys init"
DAY_MS = 86_400_000


@dataclass(frozen=True)
class DeviceState:
    """One account's current device as Redis holds it, and how far it is granted."""

    encryption_fingerprint: str
    signing_fingerprint: str
    granted: bool
    statement: StaffKeyStatement | None  # the verified staff statement of this device
    reason: str | None  # why it waits for the admin machine; None: nothing to do
    revoked: bool


def approve_commands(name: str, role: Role, enc: str, sig: str) -> list[str]:
    """The exact lines for the admin machine (and, for an officer, the police machine)."""
    lines = [f"helpline keys approve {name} {enc} --signing-fingerprint {sig}"
             f" --role {role.value}",
             f"helpline keys grant {name}"]
    if role is Role.POLICE:
        lines.append(f"helpline keys police-grant {name} --fingerprint {enc}"
                     f" --signing-fingerprint {sig}")
    return lines


def revoke_command(name: str) -> str:
    return f"helpline keys revoke {name}"


class StaffAdmin:
    def __init__(self, store: RedisStore, accounts: AccountService, clock: Clock,
                 warn_days: int) -> None:
        self.store = store
        self.accounts = accounts
        self.clock = clock
        self.warn_days = warn_days

    # -- accounts -------------------------------------------------------------------------

    async def list_accounts(self) -> list[dict[str, Any]]:
        signer, revoked = await self._signer(), await self._revoked()
        out = []
        for member in await self.accounts.list_users():
            state = await self._device(member, signer, revoked)
            out.append(self._account(member, state))
        return out

    async def account(self, username: str) -> dict[str, Any]:
        member = await self.accounts.get_user(username)
        assert member is not None
        return self._account(member, await self._device(member, await self._signer(),
                                                         await self._revoked()))

    async def add(self, actor: Session, username: str, role: Role,
                  languages: tuple[str, ...]) -> tuple[dict[str, Any], str]:
        """A new account with a random initial password; the password is returned once."""
        password = generate_password()
        await self.accounts.add_user(username, role, password, languages, by=actor.username)
        return await self.account(username), password

    async def reset_password(self, actor: Session, username: str
                             ) -> tuple[dict[str, Any], str]:
        """A new random password (returned once); the account's sessions end."""
        password = await self.accounts.reset_password(username, by=actor.username)
        return await self.account(username), password

    async def disable(self, actor: Session, username: str) -> dict[str, Any]:
        if username == actor.username:
            raise OwnAccount("You cannot disable your own account: ask another admin.")
        await self.accounts.disable_user(username, by=actor.username)
        return await self.account(username)

    async def change(self, actor: Session, username: str, role: Role | None,
                     languages: tuple[str, ...] | None) -> dict[str, Any]:
        if username == actor.username and role is not None and role is not Role.ADMIN:
            raise OwnAccount("You cannot take away your own admin role: ask another admin.")
        await self.accounts.change_user(username, role, languages, by=actor.username)
        return await self.account(username)

    # -- devices --------------------------------------------------------------------------

    async def pending_devices(self) -> list[dict[str, Any]]:
        """Registered devices of enabled accounts that wait for the admin machine."""
        signer, revoked = await self._signer(), await self._revoked()
        out = []
        for member in await self.accounts.list_users():
            if member.disabled:
                continue
            state = await self._device(member, signer, revoked)
            if state is None or state.reason is None:
                continue
            out.append({
                "username": member.username, "role": member.role.value,
                "encryption_fingerprint": state.encryption_fingerprint,
                "signing_fingerprint": state.signing_fingerprint,
                "reason": state.reason,
                "commands": self._commands(member, state),
            })
        return out

    def _commands(self, member: StaffMember, state: DeviceState) -> list[str]:
        if state.revoked:
            return []  # revoked keys are never approved again: new keys on the device
        if (state.reason == "role_changed" and state.statement is not None
                and Role(state.statement.role) in TEAM_ROLES
                and member.role not in TEAM_ROLES):
            # The device holds team keys its new role must not have.
            return [revoke_command(member.username)]
        if state.reason == "statement_expired":
            return [f"helpline keys grant {member.username}"]
        return approve_commands(member.username, member.role, state.encryption_fingerprint,
                                state.signing_fingerprint)

    def _account(self, member: StaffMember, state: DeviceState | None) -> dict[str, Any]:
        device = None if state is None else {
            "encryption_fingerprint": state.encryption_fingerprint,
            "signing_fingerprint": state.signing_fingerprint,
        }
        granted = state is not None and state.granted
        return {
            "username": member.username,
            "role": member.role.value,
            "languages": list(member.languages),
            "disabled": member.disabled,
            "created_at": member.created_at,
            "device": device,
            "granted": granted,
            "pending": state is not None and state.reason is not None and not member.disabled,
            "statement_expires_at": state.statement.not_after * 1000
            if state is not None and state.statement is not None else None,
            "revoke_command": revoke_command(member.username) if granted else None,
        }

    async def _device(self, member: StaffMember, signer: str | None,
                      revoked: set[str]) -> DeviceState | None:
        raw = await self.store.get_device(member.username)
        try:
            enc = EncryptionPublicKey(raw["encryption"])
            sig = SigningPublicKey(raw["signing"])
        except (KeyError, CryptoError):
            return None
        statements = await self.store.get_staff_statements(member.username)
        statement = self._statement(statements.get(sig.fingerprint), member.username, enc,
                                    sig, signer)
        grants = await self.store.get_grants(member.username)
        is_revoked = bool({enc.fingerprint, sig.fingerprint} & revoked)
        # Grants are dropped when a device registers new keys, so any left are this one's.
        granted = (not is_revoked and statement is not None
                   and (bool(grants) or member.role is Role.ADMIN))
        reason: str | None
        if is_revoked:
            reason = "revoked"
        elif statement is None:
            reason = "keys_changed" if statements else "new"
        elif statement.role != member.role.value:
            reason = "role_changed"
        elif not granted:
            reason = "not_granted"
        elif statement.not_after * 1000 <= self.clock.now_ms():
            reason = "statement_expired"
        else:
            reason = None
        return DeviceState(enc.fingerprint, sig.fingerprint, granted, statement, reason,
                           is_revoked)

    @staticmethod
    def _statement(text: str | None, username: str, enc: EncryptionPublicKey,
                   sig: SigningPublicKey, signer: str | None) -> StaffKeyStatement | None:
        """The staff statement for exactly this device, if the published key signed it."""
        if text is None or signer is None:
            return None
        try:
            st = verify_staff_statement(staff_statement_from_dict(json.loads(text)),
                                        pinned_fingerprint=signer, at=None)
        except (CryptoError, ValueError, TypeError):
            return None
        if st.subject != username or st.encryption_key != enc or st.signing_key != sig:
            return None
        return st

    # -- key periods ----------------------------------------------------------------------

    async def key_periods(self) -> dict[str, Any]:
        """The team key periods in Redis, and a warning when a rotation is due."""
        signer = await self._signer()
        current = await self.store.get_current_period()
        replaced = await self.store.get_team_replaced()
        retired = await self.store.get_retired_periods()
        periods: list[tuple[str, KeyStatement]] = []
        for period, text in (await self.store.get_team_statements()).items():
            statement = self._team_statement(text, signer)
            if statement is not None and statement.subject == period:
                periods.append((period, statement))
        periods.sort(key=lambda p: (p[1].not_before, p[0]))
        rows = [{"period": period, "fingerprint": st.public_key.fingerprint,
                 "valid_from": st.not_before * 1000, "valid_until": st.not_after * 1000,
                 "current": period == current, "replaced_at": replaced.get(period),
                 "retired": period in retired} for period, st in periods]
        return {"periods": rows, "warn_days": self.warn_days,
                "warning": self._warning(current, periods)}

    def _warning(self, current: str | None, periods: list[tuple[str, KeyStatement]]
                 ) -> dict[str, Any] | None:
        now = self.clock.now_ms()
        mine = next((st for period, st in periods if period == current), None)
        if mine is None:
            return {"code": "no_team_key", "period": None, "ends_at": None,
                    "command": INIT_COMMAND if not periods else ROTATE_COMMAND}
        ends_at = mine.not_after * 1000
        if ends_at - now > self.warn_days * DAY_MS:
            return None
        if any(st.not_before > mine.not_before for _, st in periods):
            return None  # a next period exists already
        return {"code": "period_ending", "period": current, "ends_at": ends_at,
                "command": ROTATE_COMMAND}

    @staticmethod
    def _team_statement(text: str, signer: str | None) -> KeyStatement | None:
        if signer is None:
            return None
        try:
            return verify_key_statement(key_statement_from_json(text),
                                        pinned_fingerprint=signer,
                                        kind=StatementKind.TEAM_KEY, at=None)
        except (CryptoError, ValueError, TypeError):
            return None

    # -- helpers --------------------------------------------------------------------------

    async def _signer(self) -> str | None:
        raw = await self.store.get_signing_key()
        if raw is None:
            return None
        try:
            return fingerprint(SigningPublicKey(raw).raw, KeyKind.ED25519)
        except CryptoError:
            return None

    async def _revoked(self) -> set[str]:
        """Fingerprints on the published revocation list (read for display)."""
        text = await self.store.get_revocations()
        if text is None:
            return set()
        try:
            listed = revocations_from_json(text).revocations
        except (CryptoError, ValueError, TypeError):
            return set()
        return {r.fingerprint for r in listed.revoked}
