"""Staff device backup: a staff device's two private keys in a passphrase-protected file.

The console makes a staff member's device keys (X25519 for grants, Ed25519 for
messages) once, offers this file at that moment, and afterwards keeps only
non-extractable WebCrypto keys; the file is how the counsellor moves to another
device. The format is specified in docs/crypto.md ("Staff device backup") and shared
with moderation/src/crypto/backup.js through tests/vectors/staff-backup.json:

    key        = PBKDF2-HMAC-SHA256(UTF-8(NFC(passphrase)), salt (16), iterations, 32)
    aad        = encode_fields(LABEL_STAFF_BACKUP, ASCII username,
                               pinned fingerprint digest (32), ASCII KDF name,
                               u32be(iterations), salt (16),
                               X25519 public key (32), Ed25519 public key (32))
    ciphertext = AES-256-GCM(key, nonce (12), X25519 private (32) || Ed25519 seed (32), aad)

The file is JSON (field order fixed, two-space indent, a final newline) whose header
fields are exactly what the aad binds, so a changed header fails the tag like a wrong
passphrase does: both are `backup_unlock_failed`, since AES-GCM cannot tell them apart.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from helpline.crypto.constants import KEY_BYTES, NONCE_BYTES, PROTOCOL_VERSION, TAG_BYTES
from helpline.crypto.encoding import (
    b64url_decode,
    b64url_encode,
    encode_fields,
    identifier_bytes,
    uint_be,
)
from helpline.crypto.errors import CryptoError, EncodingError, UnsupportedVersion
from helpline.crypto.keys import (
    EncryptionKeyPair,
    EncryptionPublicKey,
    SigningKeyPair,
    SigningPublicKey,
    parse_fingerprint,
)

LABEL_STAFF_BACKUP: Final = b"helpline/v2/staff-backup"
KIND: Final = "staff-device-backup"
KDF_NAME: Final = "PBKDF2-HMAC-SHA256"
# OWASP's 2023 figure for PBKDF2-HMAC-SHA256; well under a second in a browser.
ITERATIONS: Final = 600_000
# A file may name another count (it is bound by the aad), within these bounds: below
# the floor a stolen file is too cheap to guess at; above the ceiling opening it would
# hang the console (a file is not trusted before its tag verified).
MIN_ITERATIONS: Final = 100_000
MAX_ITERATIONS: Final = 10_000_000
SALT_BYTES: Final = 16
MIN_PASSPHRASE_CHARS: Final = 12
CIPHERTEXT_BYTES: Final = 2 * KEY_BYTES + TAG_BYTES
FIELDS: Final = ("v", "kind", "username", "pinned_fingerprint", "encryption_key",
                 "signing_key", "kdf", "nonce", "ciphertext")
KDF_FIELDS: Final = ("name", "iterations", "salt")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class BadBackup(CryptoError):
    """Not a staff device backup of this format (shape, types, lengths, bounds)."""

    code = "bad_backup"
    default_message = "This is not a staff device backup file, or it is damaged."


class BackupUnlockFailed(CryptoError):
    """The AES-GCM tag failed: a wrong passphrase, or a changed file."""

    code = "backup_unlock_failed"
    default_message = "The passphrase is wrong, or the backup file was changed."


class WrongOrganisation(CryptoError):
    """The backup (or stored keys) belong to a console pinned to another organisation key."""

    code = "wrong_organisation"
    default_message = "These keys were made for another organisation's console."


class WeakPassphrase(CryptoError):
    """A new backup's passphrase is shorter than MIN_PASSPHRASE_CHARS."""

    code = "weak_passphrase"
    default_message = f"A backup passphrase has at least {MIN_PASSPHRASE_CHARS} characters."


@dataclass(frozen=True, eq=False)
class StaffDeviceKeys:
    """What a backup holds: whose device keys, for which organisation's console."""

    username: str
    pinned_fingerprint: str
    encryption: EncryptionKeyPair = field(repr=False)
    signing: SigningKeyPair = field(repr=False)


@dataclass(frozen=True)
class BackupHeader:
    """A parsed backup before it is opened (shown to check the fingerprints first)."""

    username: str
    pinned_fingerprint: str
    encryption_key: EncryptionPublicKey
    signing_key: SigningPublicKey
    iterations: int
    salt: bytes
    nonce: bytes
    ciphertext: bytes

    def aad(self) -> bytes:
        return encode_fields(
            LABEL_STAFF_BACKUP, identifier_bytes(self.username, "username"),
            parse_fingerprint(self.pinned_fingerprint), KDF_NAME.encode("ascii"),
            uint_be(self.iterations, 4), self.salt, self.encryption_key.raw,
            self.signing_key.raw)

    def to_text(self) -> str:
        return json.dumps({
            "v": PROTOCOL_VERSION, "kind": KIND, "username": self.username,
            "pinned_fingerprint": self.pinned_fingerprint,
            "encryption_key": b64url_encode(self.encryption_key.raw),
            "signing_key": b64url_encode(self.signing_key.raw),
            "kdf": {"name": KDF_NAME, "iterations": self.iterations,
                    "salt": b64url_encode(self.salt)},
            "nonce": b64url_encode(self.nonce),
            "ciphertext": b64url_encode(self.ciphertext),
        }, indent=2) + "\n"


def normalise_passphrase(passphrase: str) -> bytes:
    """The PBKDF2 password: NFC, so the same typed text gives the same bytes on any OS."""
    if not isinstance(passphrase, str):
        raise BackupUnlockFailed("a passphrase is text")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def check_passphrase(passphrase: str) -> None:
    """Refuse a passphrase too short for a file that may be copied and guessed offline."""
    if not isinstance(passphrase, str) or len(
            unicodedata.normalize("NFC", passphrase)) < MIN_PASSPHRASE_CHARS:
        raise WeakPassphrase()


def derive_backup_key(passphrase: str, salt: bytes, iterations: int) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt,
                      iterations=iterations).derive(normalise_passphrase(passphrase))


def make_backup(keys: StaffDeviceKeys, passphrase: str, *, iterations: int = ITERATIONS) -> str:
    """The backup file's text, with a fresh salt and nonce."""
    return _make(keys, passphrase, iterations, os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES))


def _make_backup_with_fixed_salt_and_nonce_for_vectors_only(
        keys: StaffDeviceKeys, passphrase: str, *, iterations: int, salt: bytes,
        nonce: bytes) -> str:
    """Vector generation only: a fixed salt and nonce make every file alike."""
    return _make(keys, passphrase, iterations, salt, nonce)


def _make(keys: StaffDeviceKeys, passphrase: str, iterations: int, salt: bytes,
          nonce: bytes) -> str:
    check_passphrase(passphrase)
    _check_iterations(iterations)
    header = BackupHeader(keys.username, keys.pinned_fingerprint, keys.encryption.public,
                          keys.signing.public, iterations, salt, nonce, b"")
    aad = header.aad()  # also checks the username and fingerprint
    plaintext = keys.encryption.private_bytes_raw() + keys.signing.private_bytes_raw()
    ciphertext = AESGCM(derive_backup_key(passphrase, salt, iterations)).encrypt(
        nonce, plaintext, aad)
    text = replace(header, ciphertext=ciphertext).to_text()
    parse_backup(text)  # never hand out a file this code could not read again
    return text


def parse_backup(text: str | bytes) -> BackupHeader:
    """The header of a backup file, checked strictly; nothing is decrypted yet."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBackup("not JSON text") from exc
    if not isinstance(data, dict):
        raise BadBackup("a backup is a JSON object")
    version = data.get("v")
    if isinstance(version, int) and not isinstance(version, bool) and version != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"backup version {version}")
    _exact(data, FIELDS, "a backup")
    if data["v"] != PROTOCOL_VERSION or data["kind"] != KIND:
        raise BadBackup("not a staff device backup")
    username = data["username"]
    pin = data["pinned_fingerprint"]
    try:
        identifier_bytes(username, "username")
    except EncodingError as exc:
        raise BadBackup("the username is not an identifier") from exc
    if not isinstance(pin, str) or not _FINGERPRINT.fullmatch(pin):
        raise BadBackup("the pinned fingerprint is 64 lowercase hex digits")
    kdf = _exact(data["kdf"], KDF_FIELDS, "kdf")
    if kdf["name"] != KDF_NAME:
        raise BadBackup(f"the KDF is {KDF_NAME}")
    iterations = kdf["iterations"]
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise BadBackup("the iteration count is a whole number")
    _check_iterations(iterations, BadBackup)
    return BackupHeader(
        username, pin,
        EncryptionPublicKey(_bytes(data["encryption_key"], KEY_BYTES, "encryption_key")),
        SigningPublicKey(_bytes(data["signing_key"], KEY_BYTES, "signing_key")), iterations,
        _bytes(kdf["salt"], SALT_BYTES, "salt"), _bytes(data["nonce"], NONCE_BYTES, "nonce"),
        _bytes(data["ciphertext"], CIPHERTEXT_BYTES, "ciphertext"))


def open_backup(text: str | bytes, passphrase: str, *, pinned_fingerprint: str) -> StaffDeviceKeys:
    """The keys of a backup made for the console pinned to `pinned_fingerprint`.

    Checks in this order: shape (`bad_backup`, `unsupported_version`), organisation
    (`wrong_organisation`, before the slow KDF), tag (`backup_unlock_failed`), and that
    the private keys belong to the file's public keys (`bad_backup`).
    """
    header = parse_backup(text)
    if header.pinned_fingerprint != pinned_fingerprint:
        raise WrongOrganisation()
    key = derive_backup_key(passphrase, header.salt, header.iterations)
    try:
        plaintext = AESGCM(key).decrypt(header.nonce, header.ciphertext, header.aad())
    except InvalidTag as exc:
        raise BackupUnlockFailed() from exc
    encryption = EncryptionKeyPair.from_private_bytes(plaintext[:KEY_BYTES])
    signing = SigningKeyPair.from_private_bytes(plaintext[KEY_BYTES:])
    # Only a faulty maker can get here (the tag covers the public keys): refuse it,
    # since the admin approved the fingerprints the header shows.
    if encryption.public != header.encryption_key or signing.public != header.signing_key:
        raise BadBackup("the private keys do not belong to the file's public keys")
    return StaffDeviceKeys(header.username, header.pinned_fingerprint, encryption, signing)


def _check_iterations(iterations: int, error: type[CryptoError] = BadBackup) -> None:
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise error(f"the iteration count is from {MIN_ITERATIONS} to {MAX_ITERATIONS}")


def _exact(value: object, names: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != set(names):
        raise BadBackup(f"{what} must have exactly the fields {sorted(names)}")
    return value


def _bytes(value: object, size: int, what: str) -> bytes:
    try:
        raw = b64url_decode(value) if isinstance(value, str) else b""
    except EncodingError:
        raw = b""
    if len(raw) != size:
        raise BadBackup(f"{what} must be {size} bytes of unpadded base64url")
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A duplicate name has no single meaning across JSON parsers: refuse it.
    out = dict(pairs)
    if len(out) != len(pairs):
        raise BadBackup("a JSON name appears twice")
    return out


def _no_constant(name: str) -> None:
    raise BadBackup(f"{name} is not JSON")
