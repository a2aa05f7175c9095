"""Who may receive keys: the approved-devices file of a keys folder, and the check of a
device's keys in Redis against it.

Redis is not trusted to say who a device belongs to: a Redis writer could swap
`device:{name}` or add an account. So keys are wrapped only for a device the admin
approved on this machine (`keys approve NAME FINGERPRINT --signing-fingerprint FP
--role ROLE`, fingerprints read off the staff member's own screen), only if Redis
still holds exactly those keys, and with the role from the approved list. The check
runs before anything is signed or wrapped; a mismatch writes nothing.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from helpline.crypto.errors import CryptoError
from helpline.crypto.keys import EncryptionPublicKey, SigningPublicKey
from helpline.crypto.revocation import check_fingerprint_text
from helpline.domain.ids import is_username
from helpline.domain.roles import Role
from helpline.errors import InvalidState
from helpline.services.keyfolder import DeviceMismatch, KeyAdminError, write_private


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
        write_private(self.path, json.dumps(body, indent=1, sort_keys=True) + "\n")


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
