"""The offline side of key management, used by `helpline keys ...` on an admin machine.

Private keys live only in passphrase-protected files in a keys folder (default
`<data dir>/keys`), never in Redis and never in the running server:

    signing.pem           the organisation's Ed25519 signing key (signs statements)
    team-<period>.pem     one X25519 team key per period
    police-<unit>.pem     the police unit's X25519 key

What goes to Redis is public: signed statements, staff statements, and grants (team
or police private keys wrapped with HPKE for one staff device's public key).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

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
from helpline.crypto.staff_statements import (
    StaffKeyStatement,
    sign_staff_statement,
    staff_statement_to_dict,
)
from helpline.crypto.statements import (
    KeyStatement,
    StatementKind,
    key_statement_to_json,
    sign_key_statement,
)
from helpline.crypto.wrap import wrap_team_key_grant
from helpline.domain.roles import Role
from helpline.errors import Conflict, HelplineError, InvalidState, NotFound
from helpline.services.ports import Clock
from helpline.storage.redis_store import RedisStore

SIGNING_FILE = "signing.pem"
SKEW_SECONDS = 300  # clocks of phones and servers differ; a key is usable a bit early


class KeyAdminError(HelplineError):
    code = "key_admin"


@dataclass(frozen=True)
class KeyPolicy:
    period_days: int = 7
    police_unit: str = "police-unit"
    # A staff statement lasts this long; `keys grant` renews it.
    staff_statement_days: int = 365


class KeyAdmin:
    def __init__(self, store: RedisStore, keys_dir: Path, passphrase: bytes, clock: Clock,
                 policy: KeyPolicy) -> None:
        self.store = store
        self.keys_dir = keys_dir
        self.passphrase = passphrase
        self.clock = clock
        self.policy = policy

    # -- set-up and rotation ------------------------------------------------------------

    async def init(self) -> str:
        """Make the signing key, the first team key and the police unit key.

        Returns the signing key's fingerprint: it goes into the widget's embed snippet.
        """
        path = self.keys_dir / SIGNING_FILE
        if path.exists():
            raise Conflict(f"{path} exists already: keys are initialised.")
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        self.keys_dir.chmod(0o700)
        signing = SigningKeyPair.generate()
        write_key_file(path, signing, self.passphrase)
        await self.store.set_signing_key(signing.public.raw)
        await self._new_team_key(signing)
        police = EncryptionKeyPair.generate()
        write_key_file(self._police_path(), police, self.passphrase)
        now = self._now()
        statement = sign_key_statement(KeyStatement(
            StatementKind.POLICE_KEY, self.policy.police_unit, police.public,
            now - SKEW_SECONDS, now + 10 * 365 * 86400), signing)
        await self.store.set_police_statement(key_statement_to_json(statement))
        return signing.public.fingerprint

    async def rotate(self) -> tuple[str, list[str]]:
        """Make a new team key for the period starting now; new conversations use it.

        Every active counsellor and supervisor with a registered device is granted the
        new key at once; returns (period, who was granted).
        """
        previous = await self.store.get_current_period()
        period = await self._new_team_key(self._signing())
        if previous is not None:
            # Retention of the old period's conversations runs from here; the server's
            # key-retirement job shreds its grants when it is over.
            await self.store.mark_team_replaced(previous, self.clock.now_ms())
        team = read_encryption_key_file(self.keys_dir / f"team-{period}.pem", self.passphrase)
        granted: list[str] = []
        for member in await self.store.list_staff():
            if member.disabled or member.role not in (Role.COUNSELLOR, Role.SUPERVISOR):
                continue
            device = await self.store.get_device(member.username)
            if "encryption" not in device:
                continue
            wrap = wrap_team_key_grant(team, EncryptionPublicKey(device["encryption"]),
                                       period=period, grantee=member.username)
            await self.store.put_grant(member.username, period, wrap)
            granted.append(member.username)
        return period, granted

    async def publish(self) -> str:
        """Publish the statements of the keys in the folder again (e.g. to a fresh Redis)."""
        signing = self._signing()
        await self.store.set_signing_key(signing.public.raw)
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

    # -- grants ---------------------------------------------------------------------------

    async def grant(self, username: str, expect_fingerprint: str | None = None) -> list[str]:
        """Wrap the keys a staff member's role needs for their device, and vouch for it.

        Counsellors and supervisors get every team key in the folder; police the police
        unit key; every role gets a signed staff statement for its device keys.
        Returns the subjects (periods or unit) granted.
        """
        member = await self.store.get_staff(username)
        if member is None:
            raise NotFound(f"There is no account named {username!r}.")
        device = await self.store.get_device(username)
        if "encryption" not in device or "signing" not in device:
            raise InvalidState(
                f"{username} has no device key yet: they must sign in on their device first."
            )
        encryption = EncryptionPublicKey(device["encryption"])
        if expect_fingerprint and encryption.fingerprint != expect_fingerprint.lower():
            raise KeyAdminError(
                f"{username}'s registered device key has fingerprint {encryption.fingerprint},"
                " not the one expected: do not grant, ask them to check their device."
            )
        signing = self._signing()
        granted = []
        if member.role in (Role.COUNSELLOR, Role.SUPERVISOR):
            for period, team in self._team_keys().items():
                wrap = wrap_team_key_grant(team, encryption, period=period, grantee=username)
                await self.store.put_grant(username, period, wrap)
                granted.append(period)
        if member.role is Role.POLICE:
            unit = self.policy.police_unit
            police = read_encryption_key_file(self._police_path(), self.passphrase)
            wrap = wrap_team_key_grant(police, encryption, period=unit, grantee=username)
            await self.store.put_grant(username, unit, wrap)
            granted.append(unit)
        now = self._now()
        statement = sign_staff_statement(StaffKeyStatement(
            username, member.role.value, SigningPublicKey(device["signing"]), encryption,
            now - SKEW_SECONDS, now + self.policy.staff_statement_days * 86400), signing)
        await self.store.add_staff_statement(
            username, statement.statement.signing_key.fingerprint,
            json.dumps(staff_statement_to_dict(statement), sort_keys=True))
        return granted

    # -- helpers ----------------------------------------------------------------------------

    async def _new_team_key(self, signing: SigningKeyPair) -> str:
        now = self._now()
        period = self._period_name(now)
        team = EncryptionKeyPair.generate()
        write_key_file(self.keys_dir / f"team-{period}.pem", team, self.passphrase)
        # Valid for two periods, so one missed rotation does not stop new conversations.
        statement = sign_key_statement(KeyStatement(
            StatementKind.TEAM_KEY, period, team.public, now - SKEW_SECONDS,
            now + 2 * self.policy.period_days * 86400), signing)
        await self.store.put_team_statement(period, key_statement_to_json(statement),
                                            current=True)
        return period

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

    def _police_path(self) -> Path:
        return self.keys_dir / f"police-{self.policy.police_unit}.pem"

    def _now(self) -> int:
        return self.clock.now_ms() // 1000

