"""`helpline keys ...` on the helpline's admin machine (KeyAdmin): set-up, team-key
rotation, publishing, pruning, approving devices, grants, revocation and the import of
the police unit's public key.

The keys folder's layout and the errors are in `keyfolder`; who may receive keys, and
how a device in Redis is checked against that, in `approvals`; the police unit's own
machine in `policeadmin`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpline.crypto.errors import CryptoError
from helpline.crypto.keyfile import (
    read_encryption_key_file,
    read_signing_key_file,
    write_key_file,
)
from helpline.crypto.keys import (
    EncryptionKeyPair,
    EncryptionPublicKey,
    SigningKeyPair,
    SigningPublicKey,
)
from helpline.crypto.revocation import (
    EMPTY,
    RevocationList,
    check_fingerprint_text,
    revocations_from_json,
    revocations_to_json,
    sign_revocations,
    verify_revocations,
)
from helpline.crypto.staff_statements import (
    StaffKeyStatement,
    sign_staff_statement,
    staff_statement_to_dict,
)
from helpline.crypto.statements import (
    KeyStatement,
    StatementKind,
    key_statement_from_json,
    key_statement_to_json,
    sign_key_statement,
    verify_key_statement,
)
from helpline.crypto.wrap import wrap_team_key_grant
from helpline.domain.audit import AuditAction
from helpline.domain.ids import is_username
from helpline.domain.roles import Role
from helpline.errors import Conflict, HelplineError, InvalidState, NotFound
from helpline.services.approvals import ApprovedDevice, ApprovedDevices, check_device
from helpline.services.audit import AuditLog
from helpline.services.keyfolder import (
    APPROVED_FILE,
    POLICE_STATEMENT_FILE,
    REVOCATIONS_FILE,
    SIGNING_FILE,
    SKEW_SECONDS,
    DeviceMismatch,
    DeviceNotApproved,
    FingerprintMismatch,
    KeyAdminError,
    write_private,
)
from helpline.services.policeadmin import read_police_public_file
from helpline.services.ports import Clock
from helpline.storage.redis_store import RedisStore

MAX_POLICE_STATEMENT_DAYS = 366
TEAM_ROLES = (Role.COUNSELLOR, Role.SUPERVISOR)
PERIOD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:\.[0-9]{1,4})?")


@dataclass(frozen=True)
class KeyPolicy:
    period_days: int = 7
    police_unit: str = "police-unit"
    # A staff statement lasts this long; `keys grant` renews it.
    staff_statement_days: int = 90
    police_statement_days: int = 365

    def __post_init__(self) -> None:
        if not 1 <= self.police_statement_days <= MAX_POLICE_STATEMENT_DAYS:
            raise KeyAdminError(
                f"a police key statement is valid 1 to {MAX_POLICE_STATEMENT_DAYS} days")
        if self.staff_statement_days < 1 or self.period_days < 1:
            raise KeyAdminError("validity periods are at least one day")


class KeyAdmin:
    def __init__(self, store: RedisStore, keys_dir: Path, passphrase: bytes, clock: Clock,
                 policy: KeyPolicy, actor: str = "admin-cli") -> None:
        self.store = store
        self.keys_dir = keys_dir
        self.passphrase = passphrase
        self.clock = clock
        self.policy = policy
        self.actor = actor
        self.approved = ApprovedDevices(keys_dir / APPROVED_FILE)
        self.audit = AuditLog(store, clock)

    # -- set-up and rotation ------------------------------------------------------------

    async def init(self) -> str:
        """Make the signing key, the first team key and an empty revocation list.

        The police key is made on the police unit's machine (`keys police-init`) and
        imported here as a public key only. Returns the signing key's fingerprint: it
        goes into the widget's embed snippet.
        """
        path = self.keys_dir / SIGNING_FILE
        if path.exists():
            raise Conflict(f"{path} exists already: keys are initialised.")
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        self.keys_dir.chmod(0o700)
        signing = SigningKeyPair.generate()
        write_key_file(path, signing, self.passphrase)
        await self.store.set_signing_key(signing.public.raw)
        period = await self._new_team_key(signing)
        # Serial 1 from the start: a client that saw it never accepts "no list" as newer.
        await self._publish_revocations(EMPTY.with_revoked([], self._now()), signing)
        await self._audit(AuditAction.KEYS_INIT, {"signing": signing.public.fingerprint,
                                                  "period": period})
        return signing.public.fingerprint

    async def rotate(self) -> tuple[str, list[str], list[str]]:
        """Make a new team key for the period starting now; new conversations use it.

        Every approved counsellor and supervisor whose device in Redis still matches
        the approved fingerprints is granted the new key at once; returns (period, who
        was granted, who was refused with the reason).
        """
        signing = self._signing()
        plan: list[tuple[ApprovedDevice, EncryptionPublicKey, SigningPublicKey]] = []
        refused: list[str] = []
        # Checked before the key exists, so nothing is wrapped for an unchecked device.
        for entry in sorted(self.approved.load().values(), key=lambda e: e.username):
            if entry.role not in TEAM_ROLES:
                continue
            try:
                plan.append((entry, *await self._checked_device(entry)))
            except HelplineError as exc:
                refused.append(f"{entry.username}: {exc.code}")
        previous = await self.store.get_current_period()
        period = await self._new_team_key(signing)
        if previous is not None:
            # Retention of the old period's conversations runs from here; the server's
            # key-retirement job shreds its grants when it is over.
            await self.store.mark_team_replaced(previous, self.clock.now_ms())
        team = read_encryption_key_file(self.keys_dir / f"team-{period}.pem", self.passphrase)
        granted: list[str] = []
        for entry, enc, sig in plan:
            wrap = wrap_team_key_grant(team, enc, period=period, grantee=entry.username)
            if await self.store.put_grants_if_device(entry.username, enc.raw, sig.raw,
                                                     {period: wrap}, None):
                granted.append(entry.username)
            else:
                refused.append(f"{entry.username}: {DeviceMismatch.code}")
        await self._audit(AuditAction.KEYS_ROTATE, {"period": period, "granted": granted,
                                                    "refused": refused})
        return period, granted, refused

    async def publish(self) -> str:
        """Publish the signing key, revocation list and police statement again (e.g. to a
        fresh Redis); team statements are re-published by `rotate`."""
        signing = self._signing()
        await self.store.set_signing_key(signing.public.raw)
        await self.store.set_revocations(revocations_to_json(
            sign_revocations(self._revocations(signing), signing)))
        police = self.keys_dir / POLICE_STATEMENT_FILE
        if police.exists():
            await self.store.set_police_statement(police.read_text().strip())
        await self._audit(AuditAction.KEYS_PUBLISH, {"signing": signing.public.fingerprint})
        return signing.public.fingerprint

    async def prune(self) -> list[str]:
        """Delete the key files of periods the server has retired (crypto-shredding:
        once gone here too, no copy of their conversations can be read by anyone)."""
        removed = []
        for period in sorted(await self.store.get_retired_periods()):
            path = self.keys_dir / f"team-{period}.pem"
            if path.exists():
                path.unlink()
                removed.append(period)
        return removed

    # -- approval, grants, revocation ---------------------------------------------------

    async def approve(self, username: str, role: Role, encryption_fingerprint: str,
                      signing_fingerprint: str) -> ApprovedDevice:
        """Record a device the admin verified on the person's own screen."""
        if not is_username(username):
            raise KeyAdminError(f"{username!r} is not a valid user name.")
        enc = check_fingerprint_text(encryption_fingerprint)
        sig = check_fingerprint_text(signing_fingerprint)
        revoked = self._revocations(self._signing())
        for fp in (enc, sig):
            if revoked.revoked_at(fp) is not None:
                raise KeyAdminError(f"key {fp} is revoked: it cannot be approved again.")
        devices = self.approved.load()
        entry = ApprovedDevice(username, role, enc, sig, self._now())
        known = devices.get(username)
        if known is not None and (known.role, known.encryption, known.signing) == (
                role, enc, sig):
            # The same device again: keep when it was first vouched for, so its
            # earlier messages stay inside its statement's window.
            return known
        devices[username] = entry
        self.approved.save(devices)
        await self._audit(AuditAction.DEVICE_APPROVED, {"user": username, "role": role.value,
                                                        "encryption": enc, "signing": sig})
        return entry

    async def grant(self, username: str, periods: list[str] | None = None) -> list[str]:
        """Wrap the keys an approved device's role needs, and vouch for it.

        Counsellors and supervisors get the team keys of the periods whose statement is
        valid now (new conversations may use them), or exactly `periods` when given
        (an older one, explicitly; audited); every role gets a staff statement valid
        for `staff_statement_days` (a renewal). Officers' police key comes from the
        police machine (`keys police-grant`). Returns the periods granted.
        """
        signing = self._signing()
        entry = self.approved.load().get(username)
        if entry is None:
            raise DeviceNotApproved(
                f"{username} has no approved device here: run `helpline keys approve"
                f" {username} FINGERPRINT --signing-fingerprint FP --role ROLE` first.")
        enc, sig = await self._checked_device(entry)
        team_keys = self._grantable_team_keys(signing, periods) if entry.role in TEAM_ROLES \
            else {}
        if periods and entry.role not in TEAM_ROLES:
            raise KeyAdminError(f"{username} is {entry.role.value}: no team keys to grant.")
        wraps = {period: wrap_team_key_grant(team, enc, period=period, grantee=username)
                 for period, team in team_keys.items()}
        now = self._now()
        statement = sign_staff_statement(StaffKeyStatement(
            username, entry.role.value, sig, enc, max(entry.approved_at - SKEW_SECONDS, 0),
            now + self.policy.staff_statement_days * 86400), signing)
        if not await self.store.put_grants_if_device(
                username, enc.raw, sig.raw, wraps,
                (sig.fingerprint, json.dumps(staff_statement_to_dict(statement),
                                             sort_keys=True))):
            raise DeviceMismatch(f"{username}'s device changed in Redis while granting:"
                                 " nothing was granted.")
        await self._audit(AuditAction.KEYS_GRANT, {
            "user": username, "role": entry.role.value, "periods": sorted(wraps),
            "explicit": bool(periods), "statement_not_after": statement.statement.not_after})
        return sorted(wraps)

    async def revoke(self, target: str) -> list[str]:
        """Revoke a person's approved device keys (by NAME) or one key (FINGERPRINT).

        Signs and publishes the next revocation list, takes the device off the approved
        list and drops its grants in Redis; returns the fingerprints revoked.
        """
        signing = self._signing()
        devices = self.approved.load()
        if target in devices:
            entry = devices.pop(target)
            fingerprints, users = [entry.encryption, entry.signing], [target]
        else:
            try:
                fp = check_fingerprint_text(target)
            except CryptoError:
                raise NotFound(f"{target!r} is neither an approved user nor a fingerprint."
                               ) from None
            users = [n for n, d in devices.items() if fp in (d.encryption, d.signing)]
            fingerprints = [fp]
            for name in users:
                fingerprints += [devices[name].encryption, devices[name].signing]
                del devices[name]
        current = self._revocations(signing)
        await self._publish_revocations(current.with_revoked(sorted(set(fingerprints)),
                                                             self._now()), signing)
        self.approved.save(devices)
        for name in users:
            await self.store.delete_grants(name)
        await self._audit(AuditAction.KEYS_REVOKE, {"target": target, "users": users,
                                                    "fingerprints": sorted(set(fingerprints))})
        return sorted(set(fingerprints))

    async def police_import(self, path: Path, expect_fingerprint: str) -> str:
        """Sign a statement for the police unit's public key, after comparing its
        fingerprint with the one the police read out; returns the fingerprint."""
        expected = check_fingerprint_text(expect_fingerprint)
        unit, public = read_police_public_file(path)
        if unit != self.policy.police_unit:
            raise KeyAdminError(f"{path} is for unit {unit!r}, not {self.policy.police_unit!r}.")
        if not hmac.compare_digest(public.fingerprint, expected):
            raise FingerprintMismatch(
                f"{path} holds a key with fingerprint {public.fingerprint}, not {expected}:"
                " nothing was signed.")
        if self._revocations(self._signing()).revoked_at(public.fingerprint) is not None:
            raise KeyAdminError(f"police key {public.fingerprint} is revoked.")
        signing = self._signing()
        now = self._now()
        text = key_statement_to_json(sign_key_statement(KeyStatement(
            StatementKind.POLICE_KEY, unit, public, now - SKEW_SECONDS,
            now + self.policy.police_statement_days * 86400), signing))
        write_private(self.keys_dir / POLICE_STATEMENT_FILE, text + "\n")
        await self.store.set_police_statement(text)
        await self._audit(AuditAction.POLICE_KEY_IMPORTED, {
            "unit": unit, "fingerprint": public.fingerprint,
            "days": self.policy.police_statement_days})
        return public.fingerprint

    # -- helpers ----------------------------------------------------------------------------

    async def _checked_device(self, entry: ApprovedDevice
                              ) -> tuple[EncryptionPublicKey, SigningPublicKey]:
        member = await self.store.get_staff(entry.username)
        if member is None:
            raise NotFound(f"There is no account named {entry.username!r}.")
        if member.disabled:
            raise InvalidState(f"{entry.username}'s account is disabled.")
        return check_device(entry, await self.store.get_device(entry.username))

    def _grantable_team_keys(self, signing: SigningKeyPair, periods: list[str] | None
                             ) -> dict[str, EncryptionKeyPair]:
        """Team keys by period: those named, or those whose statement is valid now."""
        if periods:
            out = {}
            for period in periods:
                path = self.keys_dir / f"team-{period}.pem"
                if not PERIOD.fullmatch(period) or not path.exists():
                    raise NotFound(f"No team key file for period {period!r}.")
                out[period] = read_encryption_key_file(path, self.passphrase)
            return out
        return {period: key for period, key in self._team_keys().items()
                if self._team_valid_now(signing, period, key)}

    def _team_valid_now(self, signing: SigningKeyPair, period: str,
                        key: EncryptionKeyPair) -> bool:
        path = self.keys_dir / f"team-{period}.statement.json"
        if not path.exists():
            return False
        try:
            statement = verify_key_statement(
                key_statement_from_json(path.read_text()),
                pinned_fingerprint=signing.public.fingerprint, kind=StatementKind.TEAM_KEY,
                at=self._now())
        except CryptoError:
            return False
        return statement.public_key == key.public

    async def _new_team_key(self, signing: SigningKeyPair) -> str:
        now = self._now()
        period = self._period_name(now)
        team = EncryptionKeyPair.generate()
        write_key_file(self.keys_dir / f"team-{period}.pem", team, self.passphrase)
        # Valid for two periods, so one missed rotation does not stop new conversations.
        text = key_statement_to_json(sign_key_statement(KeyStatement(
            StatementKind.TEAM_KEY, period, team.public, now - SKEW_SECONDS,
            now + 2 * self.policy.period_days * 86400), signing))
        # A copy beside the key: `grant` decides which periods are current from it,
        # not from Redis.
        write_private(self.keys_dir / f"team-{period}.statement.json", text + "\n")
        await self.store.put_team_statement(period, text, current=True)
        return period

    def _revocations(self, signing: SigningKeyPair) -> RevocationList:
        path = self.keys_dir / REVOCATIONS_FILE
        if not path.exists():
            return EMPTY
        try:
            return verify_revocations(revocations_from_json(path.read_text()),
                                      pinned_fingerprint=signing.public.fingerprint)
        except CryptoError as exc:
            raise KeyAdminError(f"{path} does not verify ({exc.code}): restore it") from None

    async def _publish_revocations(self, revocations: RevocationList,
                                   signing: SigningKeyPair) -> None:
        text = revocations_to_json(sign_revocations(revocations, signing))
        write_private(self.keys_dir / REVOCATIONS_FILE, text + "\n")
        await self.store.set_revocations(text)

    def _period_name(self, now: int) -> str:
        day = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d")
        name, n = day, 1
        while (self.keys_dir / f"team-{name}.pem").exists():
            n += 1
            name = f"{day}.{n}"
        return name

    def _team_keys(self) -> dict[str, EncryptionKeyPair]:
        out = {}
        for path in sorted(self.keys_dir.glob("team-*.pem")):
            out[path.stem.removeprefix("team-")] = read_encryption_key_file(path,
                                                                            self.passphrase)
        return out

    def _signing(self) -> SigningKeyPair:
        path = self.keys_dir / SIGNING_FILE
        if not path.exists():
            raise InvalidState(f"No signing key in {self.keys_dir}: run `helpline keys init`.")
        try:
            return read_signing_key_file(path, self.passphrase)
        except CryptoError as exc:
            raise KeyAdminError(f"Cannot read {path}: {exc}") from None

    async def _audit(self, action: AuditAction, details: dict[str, Any]) -> None:
        await self.audit.record(self.actor, "admin", action, None, details)

    def _now(self) -> int:
        return self.clock.now_ms() // 1000
