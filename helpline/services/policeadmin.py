"""`helpline keys police-init` and `police-grant`, on the police unit's own machine
(PoliceKeyAdmin), and the police public-key file it hands to the helpline's admin.

The unit's key pair is made here and never leaves this machine; the admin imports only
the public key (`keys police-import`, in `keyadmin`) after comparing its fingerprint.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpline.crypto.encoding import b64url_decode, b64url_encode
from helpline.crypto.errors import CryptoError
from helpline.crypto.keyfile import read_encryption_key_file, write_key_file
from helpline.crypto.keys import EncryptionKeyPair, EncryptionPublicKey
from helpline.crypto.revocation import check_fingerprint_text
from helpline.crypto.statements import key_statement_from_json
from helpline.crypto.wrap import wrap_team_key_grant
from helpline.domain.audit import AuditAction
from helpline.domain.roles import Role
from helpline.errors import InvalidState, NotFound
from helpline.services.approvals import ApprovedDevice, ApprovedDevices, check_device
from helpline.services.audit import AuditLog
from helpline.services.keyfolder import (
    APPROVED_FILE,
    DeviceMismatch,
    KeyAdminError,
    write_private,
)
from helpline.services.ports import Clock
from helpline.storage.redis_store import RedisStore

PUBLIC_KEY_KIND = "police-public-key"


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
        write_private(self.public_path, json.dumps(
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

