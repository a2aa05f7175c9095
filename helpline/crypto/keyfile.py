"""Private keys on disk: PKCS#8 PEM, passphrase-protected, file mode 0600.

For the organisation's signing key, team keys kept by the `keys` tool and staff
device keys in tools. Encryption is `cryptography`'s BestAvailableEncryption
(PKCS#8 PBES2); an unencrypted variant exists for test fixtures and throwaway
tool keys, and says so in its name.

Files are created exclusively (never overwriting a key that may be the only copy)
with mode 0600, and a file that group or others can read is refused on reading,
as ssh does, because a key that leaked that way must be treated as lost.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from helpline.crypto.errors import KeyFileError, WrongPassphrase
from helpline.crypto.keys import EncryptionKeyPair, SigningKeyPair

KeyPair = EncryptionKeyPair | SigningKeyPair


def write_key_file(path: Path, key_pair: KeyPair, passphrase: bytes) -> None:
    """Write `key_pair` encrypted under `passphrase`; refuses to overwrite a file."""
    if not passphrase:
        raise KeyFileError("an empty passphrase protects nothing")
    _write(path, key_pair, serialization.BestAvailableEncryption(passphrase))


def write_unencrypted_key_file(path: Path, key_pair: KeyPair) -> None:
    """Write `key_pair` in the clear (tests and tools only); still mode 0600."""
    _write(path, key_pair, serialization.NoEncryption())


def read_encryption_key_file(path: Path, passphrase: bytes | None) -> EncryptionKeyPair:
    """Read an X25519 key; `passphrase` None only for an unencrypted file."""
    key = _read(path, passphrase)
    if not isinstance(key, X25519PrivateKey):
        raise KeyFileError(f"{path} does not hold an X25519 key")
    return EncryptionKeyPair(key)


def read_signing_key_file(path: Path, passphrase: bytes | None) -> SigningKeyPair:
    """Read an Ed25519 key; `passphrase` None only for an unencrypted file."""
    key = _read(path, passphrase)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} does not hold an Ed25519 key")
    return SigningKeyPair(key)


def _write(
    path: Path, key_pair: KeyPair, encryption: serialization.KeySerializationEncryption
) -> None:
    pem = key_pair.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"{path} exists; refusing to overwrite a key") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as file:
            # The umask can only narrow 0600; set it anyway so the mode never depends on it.
            os.fchmod(file.fileno(), 0o600)
            file.write(pem)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise KeyFileError(f"cannot write {path}: {exc.strerror}") from exc


def _read(path: Path, passphrase: bytes | None) -> PrivateKeyTypes:
    try:
        mode = path.stat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            raise KeyFileError(f"{path} is open to group or others (mode {stat.S_IMODE(mode):o})")
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from exc
    encrypted = b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data
    if encrypted and passphrase is None:
        raise WrongPassphrase(f"{path} is encrypted; a passphrase is needed")
    if not encrypted and passphrase is not None:
        raise KeyFileError(f"{path} is not encrypted, yet a passphrase was given")
    try:
        return serialization.load_pem_private_key(data, password=passphrase)
    except (ValueError, TypeError) as exc:
        if encrypted:
            raise WrongPassphrase(f"wrong passphrase for {path}") from exc
        raise KeyFileError(f"{path} is not a PEM private key") from exc
