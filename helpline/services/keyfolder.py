"""The keys folder of an offline key machine, shared by `keyadmin`, `approvals` and
`policeadmin`: the file names, the owner-only write, the errors of key management and
who ran the command.

Private keys live only in passphrase-protected files in a keys folder (default
`<data dir>/keys`), never in Redis and never in the running server:

    admin machine                 signing.pem           organisation Ed25519 signing key
                                  team-<period>.pem     one X25519 team key per period
                                  approved-devices.json who may receive keys (approvals)
                                  revocations.json      the last signed revocation list
                                  police-statement.json the signed police key statement
    police unit's machine         police-<unit>.pem     the police unit's X25519 key
                                  police-<unit>.pub.json  its public key, for the admin
                                  approved-devices.json officers' devices it granted to
"""

from __future__ import annotations

import os
from pathlib import Path

from helpline.domain.ids import is_username
from helpline.errors import HelplineError

SIGNING_FILE = "signing.pem"
APPROVED_FILE = "approved-devices.json"
REVOCATIONS_FILE = "revocations.json"
POLICE_STATEMENT_FILE = "police-statement.json"
SKEW_SECONDS = 300  # clocks of phones and servers differ; a key is usable a bit early


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


def local_actor() -> str:
    """Who ran the command, for the audit log (the admin machine's user name)."""
    try:
        name = os.getlogin()
    except OSError:
        name = os.environ.get("USER", "")
    return name if is_username(name) else "admin-cli"


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, replacing it in one rename."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)
