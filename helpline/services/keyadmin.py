"""The offline side of key management, used by `helpline keys ...` on an admin machine
(KeyAdmin) and on the police unit's own machine (PoliceKeyAdmin).

Private keys live only in passphrase-protected files in a keys folder (default
`<data dir>/keys`), never in Redis and never in the running server:

    admin machine                 signing.pem           organisation Ed25519 signing key
                                  team-<period>.pem     one X25519 team key per period
                                  approved-devices.json who may receive keys (see below)
                                  revocations.json      the last signed revocation list
                                  police-statement.json the signed police key statement
    police unit's machine         police-<unit>.pem     the police unit's X25519 key
                                  police-<unit>.pub.json  its public key, for the admin
                                  approved-devices.json officers' devices it granted to

Redis is not trusted to say who a device belongs to: a Redis writer could swap
`device:{name}` or add an account. So keys are wrapped only for a device the admin
approved on this machine (`keys approve NAME FINGERPRINT --signing-fingerprint FP
--role ROLE`, fingerprints read off the staff member's own screen), only if Redis
still holds exactly those keys, and with the role from the approved list. The check
runs before anything is signed or wrapped; a mismatch writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpline.crypto.encoding import b64url_decode, b64url_encode
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
from helpline.services.audit import AuditLog
from helpline.services.ports import Clock
from helpline.storage.redis_store import RedisStore

SIGNING_FILE = "signing.pem"
APPROVED_FILE = "approved-devices.json"
REVOCATIONS_FILE = "revocations.json"
POLICE_STATEMENT_FILE = "police-statement.json"
SKEW_SECONDS = 300  # clocks of phones and servers differ; a key is usable a bit early
MAX_POLICE_STATEMENT_DAYS = 366
TEAM_ROLES = (Role.COUNSELLOR, Role.SUPERVISOR)
PUBLIC_KEY_KIND = "police-public-key"
PERIOD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:\.[0-9]{1,4})?")


class KeyAdminError(HelplineError):
    code = "key_admin"


class DeviceNotApproved(KeyAdminError):
    code = "device_not_approved"
    default_message = "This device is not on the approved-devices list of this machine."


class DeviceMismatch(KeyAdminError):
    code = "device_mismatch"
    default_message = "The device keys in Redis are not the approved ones: nothing granted."


class FingerprintMismatch(KeyAdminError):
    code = "fingerprint_mismatch"
    default_message = "The key's fingerprint is not the one given: nothing signed."


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


@dataclass(frozen=True)
class ApprovedDevice:
    """One line of approved-devices.json: what the admin saw on the person's screen."""

    username: str
    role: Role
    encryption: str  # X25519 fingerprint, lowercase hex
    signing: str  # Ed25519 fingerprint
    approved_at: int  # Unix seconds; staff statements vouch from here on

    def to_dict(self) -> dict[str, object]:
        return {"role": self.role.value, "encryption": self.encryption,
                "signing": self.signing, "approved_at": self.approved_at}


class ApprovedDevices:
    """The approved-devices file of one keys folder, parsed strictly.

        {"v": 2, "devices": {NAME: {"role": str, "encryption": hex, "signing": hex,
                                    "approved_at": int}}}
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, ApprovedDevice]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
            if not isinstance(data, dict) or set(data) != {"v", "devices"} or data["v"] != 2:
                raise ValueError("not a version 2 approved-devices file")
            out = {}
            for name, item in data["devices"].items():
                if not is_username(name) or not isinstance(item, dict) or set(item) != {
                        "role", "encryption", "signing", "approved_at"}:
                    raise ValueError(f"bad entry {name!r}")
                at = item["approved_at"]
                if isinstance(at, bool) or not isinstance(at, int) or at < 0:
                    raise ValueError(f"bad approved_at of {name!r}")
                out[name] = ApprovedDevice(name, Role(item["role"]),
                                           check_fingerprint_text(item["encryption"]),
                                           check_fingerprint_text(item["signing"]), at)
            return out
        except (ValueError, TypeError, AttributeError, CryptoError) as exc:
            raise KeyAdminError(f"{self.path} is damaged ({exc}): restore it from a backup"
                                ) from None

    def save(self, devices: Mapping[str, ApprovedDevice]) -> None:
        body = {"v": 2, "devices": {n: d.to_dict() for n, d in sorted(devices.items())}}
        _write_private(self.path, json.dumps(body, indent=1, sort_keys=True) + "\n")


def local_actor() -> str:
    """Who ran the command, for the audit log (the admin machine's user name)."""
    try:
        name = os.getlogin()
    except OSError:
        name = os.environ.get("USER", "")
    return name if is_username(name) else "admin-cli"


def check_device(entry: ApprovedDevice, device: Mapping[str, bytes]
                 ) -> tuple[EncryptionPublicKey, SigningPublicKey]:
    """The device's public keys, only if both match the approved fingerprints."""
    if "encryption" not in device or "signing" not in device:
        raise InvalidState(
            f"{entry.username} has no device key in Redis: they must sign in on it first.")
    try:
        enc, sig = EncryptionPublicKey(device["encryption"]), SigningPublicKey(device["signing"])
    except CryptoError:
        raise DeviceMismatch(f"{entry.username}'s device keys in Redis are malformed.") from None
    # Both keys: the encryption key receives the team keys, the signing key is what
    # the staff statement vouches for to the young person.
    if not (hmac.compare_digest(enc.fingerprint, entry.encryption)
            and hmac.compare_digest(sig.fingerprint, entry.signing)):
        raise DeviceMismatch(
            f"{entry.username}'s device in Redis has fingerprints {enc.fingerprint} /"
            f" {sig.fingerprint}, not the approved {entry.encryption} / {entry.signing}:"
            " nothing was granted. Check their screen; approve again only if it shows these.")
    return enc, sig


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
        _write_private(self.keys_dir / POLICE_STATEMENT_FILE, text + "\n")
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
        _write_private(self.keys_dir / f"team-{period}.statement.json", text + "\n")
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
        _write_private(self.keys_dir / REVOCATIONS_FILE, text + "\n")
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


class PoliceKeyAdmin:
    """`helpline keys police-*` on the police unit's own machine: its key pair never
    leaves it; officers' devices get the private key wrapped for them from here."""

    def __init__(self, store: RedisStore | None, keys_dir: Path, passphrase: bytes,
                 clock: Clock, unit: str, actor: str = "admin-cli") -> None:
        self.store = store
        self.keys_dir = keys_dir
        self.passphrase = passphrase
        self.clock = clock
        self.unit = unit
        self.actor = actor
        self.approved = ApprovedDevices(keys_dir / APPROVED_FILE)

    @property
    def key_path(self) -> Path:
        return self.keys_dir / f"police-{self.unit}.pem"

    @property
    def public_path(self) -> Path:
        return self.keys_dir / f"police-{self.unit}.pub.json"

    def init(self) -> tuple[str, str]:
        """Make the unit's key pair (an earlier one is kept as `.pem.<time>.old`).

        Writes the public-key file for the admin; returns (public key base64url,
        fingerprint), which the police read out to the admin over another channel.
        """
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        self.keys_dir.chmod(0o700)
        if self.key_path.exists():
            self.key_path.rename(self.key_path.with_name(
                f"{self.key_path.name}.{self.clock.now_ms() // 1000}.old"))
        pair = EncryptionKeyPair.generate()
        write_key_file(self.key_path, pair, self.passphrase)
        public = b64url_encode(pair.public.raw)
        _write_private(self.public_path, json.dumps(
            {"v": 2, "kind": PUBLIC_KEY_KIND, "unit": self.unit, "public_key": public,
             "fingerprint": pair.public.fingerprint}, indent=1, sort_keys=True) + "\n")
        self.public_path.chmod(0o644)  # public by design
        return public, pair.public.fingerprint

    async def grant(self, username: str, encryption_fingerprint: str,
                    signing_fingerprint: str) -> str:
        """Wrap the police key for an officer's device checked on their screen.

        Records the approval here, then grants only if Redis holds exactly these keys
        and publishes a police statement for this very key; returns the unit.
        """
        assert self.store is not None
        entry = ApprovedDevice(username, Role.POLICE,
                               check_fingerprint_text(encryption_fingerprint),
                               check_fingerprint_text(signing_fingerprint),
                               self.clock.now_ms() // 1000)
        member = await self.store.get_staff(username)
        if member is None or member.disabled or member.role is not Role.POLICE:
            raise NotFound(f"{username!r} is not an active police account.")
        enc, sig = check_device(entry, await self.store.get_device(username))
        pair = read_encryption_key_file(self.key_path, self.passphrase)
        published = await self.store.get_police_statement()
        if published is None or key_statement_from_json(
                published).statement.public_key != pair.public:
            raise InvalidState("The helpline does not publish this police key: send"
                               f" {self.public_path} to the admin for `keys police-import`.")
        devices = self.approved.load()
        devices[username] = entry
        self.approved.save(devices)
        wrap = wrap_team_key_grant(pair, enc, period=self.unit, grantee=username)
        if not await self.store.put_grants_if_device(username, enc.raw, sig.raw,
                                                     {self.unit: wrap}, None):
            raise DeviceMismatch(f"{username}'s device changed in Redis: nothing granted.")
        await AuditLog(self.store, self.clock).record(
            self.actor, "admin", AuditAction.KEYS_GRANT, None,
            {"user": username, "role": "police", "periods": [self.unit],
             "machine": "police", "encryption": enc.fingerprint})
        return self.unit


def read_police_public_file(path: Path) -> tuple[str, EncryptionPublicKey]:
    """(unit, public key) from a `police-init` public-key file, parsed strictly."""
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or set(data) != {"v", "kind", "unit", "public_key",
                                                       "fingerprint"}:
            raise ValueError("unexpected fields")
        if data["v"] != 2 or data["kind"] != PUBLIC_KEY_KIND:
            raise ValueError("not a version 2 police public-key file")
        public = EncryptionPublicKey(b64url_decode(data["public_key"]))
        if not isinstance(data["unit"], str):
            raise ValueError("unit must be text")
    except (OSError, ValueError, TypeError, CryptoError) as exc:
        raise KeyAdminError(f"{path} is not a police public-key file: {exc}") from None
    # The file's own "fingerprint" is informational; the admin's typed one is compared.
    return data["unit"], public


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, replacing it in one rename."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)
