"""`helpline serve --demo`: demo staff accounts with generated passwords, and demo
organisation, police and device keys, so the first chat is encrypted at once.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from helpline.cli.common import account_service, key_admin, open_store, police_admin
from helpline.config import Settings
from helpline.crypto.backup import StaffDeviceKeys, make_backup, parse_backup
from helpline.crypto.keyfile import (
    read_encryption_key_file,
    read_signing_key_file,
    write_unencrypted_key_file,
)
from helpline.crypto.keys import EncryptionKeyPair, SigningKeyPair
from helpline.domain.roles import Role
from helpline.errors import Conflict

DEMO_ACCOUNTS = (
    ("counsellor1", Role.COUNSELLOR, ("nl", "en")),
    ("counsellor2", Role.COUNSELLOR, ("nl", "en", "pl")),
    ("supervisor", Role.SUPERVISOR, ("nl", "en")),
    ("police", Role.POLICE, ("nl",)),
    ("admin", Role.ADMIN, ()),
)
DEMO_FILE = "demo-logins.txt"
BACKUP_PASSPHRASE_FILE = "demo-backup-passphrase"  # noqa: S105 - a file name


def backup_path(settings: Settings, username: str) -> Path:
    """The demo account's console backup file (its device keys, for /console)."""
    return settings.data_dir / "demo-devices" / f"{username}.console-backup.json"


def demo_backup_passphrase(settings: Settings) -> str:
    return (settings.data_dir / BACKUP_PASSPHRASE_FILE).read_text().strip()


async def ensure_demo_accounts(settings: Settings) -> list[tuple[str, str, str]]:
    """Create the demo accounts that are missing; return every known demo login."""
    path = settings.data_dir / DEMO_FILE
    known: dict[str, tuple[str, str]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, role, password = line.split("\t")
            known[name] = (role, password)
    async with open_store(settings) as store:
        accounts = account_service(store, settings)
        existing = {m.username for m in await accounts.list_users()}
        for name, role, languages in DEMO_ACCOUNTS:
            if name in existing:
                continue
            password = secrets.token_urlsafe(12)
            try:
                await accounts.add_user(name, role, password, languages)
            except Conflict:
                continue
            known[name] = (role.value, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for name, (role_s, password) in known.items():
            f.write(f"{name}\t{role_s}\t{password}\n")
    return [(name, role_s, password) for name, (role_s, password) in known.items()]


async def ensure_demo_keys(settings: Settings) -> str:
    """Demo only: organisation keys with a passphrase kept beside them, and a device key
    per demo account, registered and granted, so the first chat is encrypted at once.
    A real deployment keeps the keys folder and passphrase off the server."""
    data = settings.data_dir
    passphrase_path = data / "demo-keys-passphrase"
    if not passphrase_path.exists():
        fd = os.open(passphrase_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24))
    async with open_store(settings) as store:
        passphrase = passphrase_path.read_bytes()
        admin = key_admin(settings, store, passphrase)
        # The demo plays the police unit's machine too, in a folder of its own.
        police = police_admin(settings, store, passphrase, data / "demo-police-keys")
        if not (settings.resolved_keys_dir / "signing.pem").exists():
            await admin.init()
        if not police.key_path.exists():
            _public, police_fp = police.init()
            await admin.police_import(police.public_path, police_fp)
        fp = await admin.publish()
        devices = data / "demo-devices"
        devices.mkdir(mode=0o700, exist_ok=True)
        for name, role, _ in DEMO_ACCOUNTS:
            enc_path, sig_path = devices / f"{name}.encryption.pem", devices / f"{name}.signing.pem"
            if not enc_path.exists():
                enc, sig = EncryptionKeyPair.generate(), SigningKeyPair.generate()
                write_unencrypted_key_file(enc_path, enc)
                write_unencrypted_key_file(sig_path, sig)
            enc = read_encryption_key_file(enc_path, None)
            sig = read_signing_key_file(sig_path, None)
            if await store.get_device(name) != {"encryption": enc.public.raw,
                                                "signing": sig.public.raw}:
                await store.set_device(name, enc.public.raw, sig.public.raw)
            # The demo approves its own device files; a real admin reads the
            # fingerprints off each person's screen.
            await admin.approve(name, role, enc.public.fingerprint, sig.public.fingerprint)
            await admin.grant(name)
            if role is Role.POLICE:
                await police.grant(name, enc.public.fingerprint, sig.public.fingerprint)
            _write_console_backup(settings, StaffDeviceKeys(name, fp, enc, sig))
        return fp


def _write_console_backup(settings: Settings, keys: StaffDeviceKeys) -> None:
    """The same device keys as a console backup file: in /console, "Restore from a
    backup file" signs the demo account in on its approved device at once."""
    secret = settings.data_dir / BACKUP_PASSPHRASE_FILE
    if not secret.exists():
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(12))
    path = backup_path(settings, keys.username)
    if path.exists() and parse_backup(path.read_text()).pinned_fingerprint == \
            keys.pinned_fingerprint:
        return
    text = make_backup(keys, demo_backup_passphrase(settings))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
