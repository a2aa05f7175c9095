"""Issue 10, finding 2 and the key parts of finding 7: no key reaches an unverified
device, staff statements expire and can be revoked, the police key is the police's.

Everything runs against the real Redis of the suite and the real key files; readers
are the real client keyrings.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from helpline.cli.demo import ensure_demo_accounts, ensure_demo_keys
from helpline.config import ConfigError, load_settings
from helpline.crypto.envelope import SenderRole
from helpline.crypto.errors import KeyRevoked, RevocationRollback
from helpline.crypto.keyfile import read_encryption_key_file, read_signing_key_file
from helpline.crypto.keyring import StaffKeyring, YouthKeyring, open_record, text_plaintext
from helpline.crypto.keys import EncryptionKeyPair, SigningKeyPair, generate_epoch_key
from helpline.crypto.revocation import RevocationTracker
from helpline.domain.audit import AuditAction
from helpline.domain.roles import Role
from helpline.services.audit import AuditLog
from helpline.services.keyadmin import KeyAdmin, KeyPolicy
from helpline.services.keyfolder import (
    DeviceMismatch,
    DeviceNotApproved,
    FingerprintMismatch,
    KeyAdminError,
)
from helpline.services.keys import KeyService
from helpline.services.policeadmin import PoliceKeyAdmin
from helpline.services.ports import SystemClock
from helpline.storage.redis_store import RedisStore
from tests.conftest import KEY_PASSPHRASE, ROOT, Harness

DAY = 86400


@dataclass
class FixedClock:
    now: int  # Unix seconds

    def now_ms(self) -> int:
        return self.now * 1000


@dataclass
class Keys:
    harness: Harness
    store: RedisStore
    clock: FixedClock

    @property
    def admin(self) -> KeyAdmin:
        return KeyAdmin(self.store, self.harness.tmp / "keys", KEY_PASSPHRASE, self.clock,
                        KeyPolicy())

    @property
    def police(self) -> PoliceKeyAdmin:
        return PoliceKeyAdmin(self.store, self.harness.tmp / "police-keys", KEY_PASSPHRASE,
                              self.clock, KeyPolicy().police_unit)

    async def device(self, name: str, role: Role = Role.COUNSELLOR, *,
                     approve: bool = True) -> StaffKeyring:
        """An account with a device registered in Redis (and approved by the admin)."""
        await self.harness.add_staff(name, role)
        ring = StaffKeyring.generate(name, self.harness.fingerprint)
        await self.store.set_device(name, ring.encryption.public.raw, ring.signing.public.raw)
        if approve:
            await self.admin.approve(name, role, ring.encryption.public.fingerprint,
                                     ring.signing.public.fingerprint)
        return ring

    async def loaded(self, ring: StaffKeyring) -> list[str]:
        """What this device can unlock from what the server would send it."""
        return ring.load_grants(await KeyService(self.store, None).keys_for(ring.username))


@pytest.fixture
async def keys(harness: Harness) -> AsyncIterator[Keys]:
    store = harness.store()
    k = Keys(harness, store, FixedClock(1_800_000_000))
    harness.fingerprint = await k.admin.init()
    try:
        yield k
    finally:
        await store.close()


async def _swap_device(store: RedisStore, name: str) -> None:
    """What a Redis writer does: put its own keys under someone's name."""
    await store.set_device(name, EncryptionKeyPair.generate().public.raw,
                           SigningKeyPair.generate().public.raw)


async def _audit_actions(store: RedisStore) -> list[str]:
    return [e.action for e in await AuditLog(store, SystemClock()).entries()]


# -- approved devices ------------------------------------------------------------------


async def test_a_swapped_device_gets_no_grant_from_grant_or_rotate(keys: Keys) -> None:
    await keys.device("anna")
    await _swap_device(keys.store, "anna")
    with pytest.raises(DeviceMismatch):
        await keys.admin.grant("anna")
    assert await keys.store.get_grants("anna") == {}
    assert await keys.store.get_staff_statements("anna") == {}  # nothing signed either
    _period, granted, refused = await keys.admin.rotate()
    assert granted == [] and refused == ["anna: device_mismatch"]
    assert await keys.store.get_grants("anna") == {}


async def test_a_counsellor_added_in_redis_alone_gets_nothing(keys: Keys) -> None:
    await keys.device("mallory", approve=False)
    with pytest.raises(DeviceNotApproved):
        await keys.admin.grant("mallory")
    _period, granted, _refused = await keys.admin.rotate()
    assert "mallory" not in granted
    assert await keys.store.get_grants("mallory") == {}
    assert await keys.store.get_staff_statements("mallory") == {}


async def test_the_approved_device_is_granted_and_the_role_comes_from_the_list(
    keys: Keys,
) -> None:
    anna = await keys.device("anna")
    [period] = await keys.admin.grant("anna")
    assert await keys.loaded(anna) == [period]
    new_period, granted, _ = await keys.admin.rotate()
    assert granted == ["anna"]
    assert sorted(await keys.loaded(anna)) == sorted([period, new_period])
    # Redis says counsellor, the admin approved an officer: no team key is wrapped.
    olga = await keys.device("olga", Role.COUNSELLOR, approve=False)
    await keys.admin.approve("olga", Role.POLICE, olga.encryption.public.fingerprint,
                             olga.signing.public.fingerprint)
    assert await keys.admin.grant("olga") == []
    assert await keys.store.get_grants("olga") == {}
    [statement] = (await keys.store.get_staff_statements("olga")).values()
    assert json.loads(statement)["role"] == "police"
    actions = await _audit_actions(keys.store)
    for action in (AuditAction.KEYS_INIT, AuditAction.DEVICE_APPROVED,
                   AuditAction.KEYS_GRANT, AuditAction.KEYS_ROTATE):
        assert action.value in actions


async def test_a_device_gets_only_the_periods_still_valid_unless_one_is_named(
    keys: Keys,
) -> None:
    old = await keys.store.get_current_period()
    assert old is not None
    keys.clock.now += 15 * DAY  # past the old statement's two periods
    new, _, _ = await keys.admin.rotate()
    anna = await keys.device("anna")
    assert await keys.admin.grant("anna") == [new]
    assert await keys.admin.grant("anna", [old]) == [old]  # explicitly, and audited
    assert sorted(await keys.store.get_grants("anna")) == sorted([old, new])
    entries = await AuditLog(keys.store, SystemClock()).entries()
    assert [e.details["explicit"] for e in entries if e.action == "keys_grant"] == [
        False, True]
    assert await keys.loaded(anna)  # the explicit grant opens with the statement


# -- staff statements: expiry and revocation -------------------------------------------


def _envelope(seq: int, role: str, sent_at_s: int, body: bytes) -> dict[str, Any]:
    return {"seq": seq, "sender_role": role, "sent_at": sent_at_s * 1000, "body": body}


async def _chat(keys: Keys) -> tuple[YouthKeyring, StaffKeyring, str, bytes]:
    anna = await keys.device("anna")
    await keys.admin.grant("anna")
    # The young person's side of one epoch; how epochs are agreed is not tested here.
    youth = YouthKeyring(keys.harness.fingerprint, epoch_keys={1: generate_epoch_key()},
                         epoch=1)
    return youth, anna, "c-revoke-test", youth.epoch_keys[1]


async def _conversation_keys(keys: Keys) -> dict[str, Any]:
    revocations = await keys.store.get_revocations()
    return {"staff": [json.loads(t) for t in
                      (await keys.store.get_staff_statements("anna")).values()],
            "revocations": json.loads(revocations) if revocations else None}


async def test_a_revoked_staff_key_is_refused_from_its_revocation_on(keys: Keys) -> None:
    youth, anna, cid, epoch_key = await _chat(keys)
    sealer = anna.sealer(cid, 1, epoch_key, SenderRole.COUNSELLOR, 0)
    before, after = (sealer.seal(text_plaintext(t)) for t in ("before", "after"))
    revoked_at = keys.clock.now + 60
    keys.clock.now = revoked_at
    assert anna.signing.public.fingerprint in await keys.admin.revoke("anna")
    assert await keys.store.get_grants("anna") == {}
    ring = YouthKeyring(keys.harness.fingerprint, signing=youth.signing,
                        epoch_keys=dict(youth.epoch_keys), epoch=1)
    reader, names = ring.reader(cid, await _conversation_keys(keys))
    first = open_record(reader, names, _envelope(1, "counsellor", revoked_at - 1, before))
    second = open_record(reader, names, _envelope(2, "counsellor", revoked_at, after))
    assert (first.text, first.sender, first.error) == ("before", "anna", None)
    assert (second.text, second.error) == (None, "key_revoked")
    # The revoked device cannot be granted again, not even after a new approval.
    with pytest.raises(DeviceNotApproved):
        await keys.admin.grant("anna")
    with pytest.raises(KeyAdminError):
        await keys.admin.approve("anna", Role.COUNSELLOR, anna.encryption.public.fingerprint,
                                 anna.signing.public.fingerprint)
    assert AuditAction.KEYS_REVOKE.value in await _audit_actions(keys.store)


async def test_a_client_refuses_an_older_revocation_list(keys: Keys) -> None:
    old = json.loads(await keys.store.get_revocations() or "null")
    await keys.device("anna")
    await keys.admin.revoke("anna")
    new = json.loads(await keys.store.get_revocations() or "null")
    assert new["serial"] == old["serial"] + 1
    tracker = RevocationTracker(keys.harness.fingerprint)
    tracker.accept(new)
    with pytest.raises(RevocationRollback):
        tracker.accept(old)  # a server handing back the list from before the revocation
    assert tracker.accept(None) is tracker.current  # leaving it out changes nothing
    # And through a keyring: the reader refuses the conversation's keys.
    ring = YouthKeyring(keys.harness.fingerprint)
    ring.reader("c-x", {"staff": [], "revocations": new})
    with pytest.raises(RevocationRollback):
        ring.reader("c-x", {"staff": [], "revocations": old})


async def test_a_revoked_team_key_is_never_encrypted_to(keys: Keys) -> None:
    directory = await KeyService(keys.store, None).directory()
    team_fp = YouthKeyring(keys.harness.fingerprint).trusted_team_key(
        directory, keys.clock.now).fingerprint
    await keys.admin.revoke(team_fp)
    with pytest.raises(KeyRevoked):
        YouthKeyring(keys.harness.fingerprint).trusted_team_key(
            await KeyService(keys.store, None).directory(), keys.clock.now)


async def test_staff_statements_expire_and_readers_check_them_at_sent_at(keys: Keys) -> None:
    youth, anna, cid, epoch_key = await _chat(keys)
    [text] = (await keys.store.get_staff_statements("anna")).values()
    statement = json.loads(text)
    assert statement["not_after"] == keys.clock.now + 90 * DAY  # the default validity
    sealer = anna.sealer(cid, 1, epoch_key, SenderRole.COUNSELLOR, 0)
    late = sealer.seal(text_plaintext("late"))
    reader, names = youth.reader(cid, await _conversation_keys(keys))
    record = open_record(reader, names,
                         _envelope(1, "counsellor", statement["not_after"] + 1, late))
    assert (record.text, record.error) == (None, "statement_not_valid")
    # `keys grant` renews, and the renewal keeps the device's original start.
    keys.clock.now += 80 * DAY
    await keys.admin.grant("anna")
    [renewed] = (await keys.store.get_staff_statements("anna")).values()
    assert json.loads(renewed)["not_after"] == keys.clock.now + 90 * DAY
    assert json.loads(renewed)["not_before"] == statement["not_before"]


# -- the police key of the police ------------------------------------------------------


async def test_the_police_key_is_made_and_granted_on_the_police_machine(keys: Keys) -> None:
    assert not list((keys.harness.tmp / "keys").glob("police-*.pem"))  # init made none
    public, fp = keys.police.init()
    with pytest.raises(FingerprintMismatch):
        await keys.admin.police_import(keys.police.public_path, "0" * 64)
    assert await keys.store.get_police_statement() is None  # nothing signed
    assert await keys.admin.police_import(keys.police.public_path, fp) == fp
    statement = json.loads(await keys.store.get_police_statement() or "null")
    assert statement["public_key"] == public
    assert statement["not_after"] - statement["not_before"] <= 366 * DAY
    assert not list((keys.harness.tmp / "keys").glob("police-*.pem"))  # still none
    # An officer's swapped device gets nothing from the police machine either.
    olga = await keys.device("olga", Role.POLICE)
    await _swap_device(keys.store, "olga")
    with pytest.raises(DeviceMismatch):
        await keys.police.grant("olga", olga.encryption.public.fingerprint,
                                olga.signing.public.fingerprint)
    assert await keys.store.get_grants("olga") == {}
    await keys.store.set_device("olga", olga.encryption.public.raw, olga.signing.public.raw)
    await keys.police.grant("olga", olga.encryption.public.fingerprint,
                            olga.signing.public.fingerprint)
    assert await keys.loaded(olga) == [KeyPolicy().police_unit]
    assert AuditAction.POLICE_KEY_IMPORTED.value in await _audit_actions(keys.store)


def test_the_police_statement_is_valid_at_most_a_year() -> None:
    with pytest.raises(KeyAdminError):
        KeyPolicy(police_statement_days=367)
    assert load_settings({"HELPLINE_POLICE_STATEMENT_DAYS": "366"}).police_statement_days == 366
    assert load_settings({}).police_statement_days == 365
    with pytest.raises(ConfigError, match="HELPLINE_POLICE_STATEMENT_DAYS"):
        load_settings({"HELPLINE_POLICE_STATEMENT_DAYS": "367"})


# -- the lost-device runbook, command by command -----------------------------------------


async def _cli(harness: Harness, *args: str, machine: str = "keys") -> str:
    passphrase = harness.tmp / "passphrase"
    passphrase.write_bytes(KEY_PASSPHRASE)
    env = harness.env(HELPLINE_KEYS_DIR=str(harness.tmp / machine),
                      HELPLINE_KEYS_PASSPHRASE_FILE=str(passphrase), PYTHONPATH=str(ROOT))
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "helpline", "keys", *args], env=env,
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_lost_device_runbook(harness: Harness) -> None:
    """docs/operations.md, "A lost or stolen device": every step as a command."""
    out = await _cli(harness, "init")
    harness.fingerprint = out.split()[-1]
    police_out = await _cli(harness, "police-init", machine="police-keys")
    police_fp = police_out.split("fingerprint (read it out to the helpline's admin): ")[1]
    await _cli(harness, "police-import",
               str(harness.tmp / "police-keys" / "police-police-unit.pub.json"),
               "--fingerprint", police_fp.split()[0])
    store = harness.store()
    try:
        await harness.add_staff("anna")
        lost = StaffKeyring.generate("anna", harness.fingerprint)
        await store.set_device("anna", lost.encryption.public.raw, lost.signing.public.raw)
        await _cli(harness, "approve", "anna", lost.encryption.public.fingerprint,
                   "--signing-fingerprint", lost.signing.public.fingerprint,
                   "--role", "counsellor")
        await _cli(harness, "grant", "anna")
        # The device is lost: revoke, rotate, and on the new device approve and grant.
        assert lost.signing.public.fingerprint in await _cli(harness, "revoke", "anna")
        out = await _cli(harness, "rotate")
        new_period = out.split("period ")[1].split(";")[0]
        new = StaffKeyring.generate("anna", harness.fingerprint)
        await store.set_device("anna", new.encryption.public.raw, new.signing.public.raw)
        await _cli(harness, "approve", "anna", new.encryption.public.fingerprint,
                   "--signing-fingerprint", new.signing.public.fingerprint,
                   "--role", "counsellor")
        await _cli(harness, "grant", "anna")
        mine = await KeyService(store, None).keys_for("anna")
        assert new_period in new.load_grants(mine)
        assert "serial 2" in await _cli(harness, "show")
        # The police machine grants an officer's device with the same check.
        await harness.add_staff("olga", Role.POLICE)
        olga = StaffKeyring.generate("olga", harness.fingerprint)
        await store.set_device("olga", olga.encryption.public.raw, olga.signing.public.raw)
        await _cli(harness, "police-grant", "olga", "--fingerprint",
                   olga.encryption.public.fingerprint, "--signing-fingerprint",
                   olga.signing.public.fingerprint, machine="police-keys")
        assert olga.load_grants(await KeyService(store, None).keys_for("olga")) == [
            "police-unit"]
    finally:
        await store.close()



async def test_the_demo_still_gives_demo_staff_working_keys(harness: Harness) -> None:
    """`serve --demo`: demo counsellors get team keys, the demo officer the police key,
    through the same approval rule; a restart changes nothing."""
    settings = load_settings(harness.env())
    for _start in range(2):
        await ensure_demo_accounts(settings)
        pin = await ensure_demo_keys(settings)
    devices = settings.data_dir / "demo-devices"
    store = harness.store()
    try:
        for name, expected in (("counsellor1", 1), ("police", 1)):
            ring = StaffKeyring(name, pin,
                                read_encryption_key_file(devices / f"{name}.encryption.pem",
                                                         None),
                                read_signing_key_file(devices / f"{name}.signing.pem", None))
            assert len(ring.load_grants(await KeyService(store, None).keys_for(name))) == \
                expected
        assert "police-unit" in await store.get_grants("police")
        assert not list((settings.data_dir / "keys").glob("police-*.pem"))
    finally:
        await store.close()
