"""Key value types, generation, raw import/export and fingerprints.

Two kinds of key pair: X25519 for encryption (team keys, police unit key, staff
device keys; used through HPKE) and Ed25519 for signing (the organisation's
offline key, each participant's message key). Public keys travel as their raw
32 bytes, which WebCrypto imports as "raw" for both algorithms.

A fingerprint is the lowercase hex SHA-256 of
`encode_fields(LABEL_FINGERPRINT_<KIND>, raw_public_key)`; the label per kind means
an X25519 key and an Ed25519 key with the same 32 bytes never share a fingerprint.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

from helpline.crypto.constants import (
    KEY_BYTES,
    LABEL_FINGERPRINT_ED25519,
    LABEL_FINGERPRINT_X25519,
)
from helpline.crypto.encoding import encode_fields, hex_decode
from helpline.crypto.errors import BadSignature, EncodingError, InvalidKey


class KeyKind(StrEnum):
    X25519 = "x25519"
    ED25519 = "ed25519"


_FINGERPRINT_LABELS = {
    KeyKind.X25519: LABEL_FINGERPRINT_X25519,
    KeyKind.ED25519: LABEL_FINGERPRINT_ED25519,
}


def _check_raw(raw: bytes, what: str) -> None:
    if not isinstance(raw, bytes) or len(raw) != KEY_BYTES:
        raise InvalidKey(f"{what} must be {KEY_BYTES} bytes")


def fingerprint_digest(public_key_raw: bytes, kind: KeyKind) -> bytes:
    """The 32-byte fingerprint that envelopes and wraps bind."""
    _check_raw(public_key_raw, "public key")
    return hashlib.sha256(encode_fields(_FINGERPRINT_LABELS[kind], public_key_raw)).digest()


def fingerprint(public_key_raw: bytes, kind: KeyKind) -> str:
    """Lowercase hex fingerprint, the form people and embed snippets pin."""
    return fingerprint_digest(public_key_raw, kind).hex()


def parse_fingerprint(text: str) -> bytes:
    """The digest of a hex fingerprint; refuses anything but 64 lowercase hex digits."""
    try:
        return hex_decode(text, KEY_BYTES)
    except EncodingError as exc:
        raise EncodingError("a fingerprint is 64 lowercase hex digits") from exc


def generate_epoch_key() -> bytes:
    """A fresh random 256-bit conversation epoch key (AES-256-GCM)."""
    return os.urandom(KEY_BYTES)


def check_secret(secret: bytes, what: str = "secret") -> bytes:
    """Refuse a symmetric key or wrapped secret that is not exactly 32 bytes."""
    _check_raw(secret, what)
    return secret


@dataclass(frozen=True)
class EncryptionPublicKey:
    """An X25519 public key (team, police unit or staff device), raw 32 bytes."""

    raw: bytes

    def __post_init__(self) -> None:
        _check_raw(self.raw, "X25519 public key")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw, KeyKind.X25519)

    @property
    def fingerprint_digest(self) -> bytes:
        return fingerprint_digest(self.raw, KeyKind.X25519)

    def to_cryptography(self) -> X25519PublicKey:
        return X25519PublicKey.from_public_bytes(self.raw)


@dataclass(frozen=True)
class SigningPublicKey:
    """An Ed25519 public key, raw 32 bytes."""

    raw: bytes

    def __post_init__(self) -> None:
        # Only the length is checked: OpenSSL defers point checks to verification,
        # where a key that is not a curve point simply never verifies.
        _check_raw(self.raw, "Ed25519 public key")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw, KeyKind.ED25519)

    @property
    def fingerprint_digest(self) -> bytes:
        return fingerprint_digest(self.raw, KeyKind.ED25519)

    def to_cryptography(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.raw)


# eq=False: key pairs compare by identity; comparing private keys is never needed.
@dataclass(frozen=True, eq=False)
class EncryptionKeyPair:
    """An X25519 key pair; the private half never leaves the holder's device."""

    private_key: X25519PrivateKey = field(repr=False)

    @property
    def public(self) -> EncryptionPublicKey:
        return EncryptionPublicKey(self.private_key.public_key().public_bytes_raw())

    def private_bytes_raw(self) -> bytes:
        """Raw 32-byte private key: only for wrapping a team key grant or test vectors."""
        return self.private_key.private_bytes_raw()

    @classmethod
    def generate(cls) -> EncryptionKeyPair:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> EncryptionKeyPair:
        _check_raw(raw, "X25519 private key")
        return cls(X25519PrivateKey.from_private_bytes(raw))


@dataclass(frozen=True, eq=False)
class SigningKeyPair:
    """An Ed25519 key pair (the raw private form is the 32-byte seed)."""

    private_key: Ed25519PrivateKey = field(repr=False)

    @property
    def public(self) -> SigningPublicKey:
        return SigningPublicKey(self.private_key.public_key().public_bytes_raw())

    def private_bytes_raw(self) -> bytes:
        return self.private_key.private_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    @classmethod
    def generate(cls) -> SigningKeyPair:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> SigningKeyPair:
        _check_raw(raw, "Ed25519 private key")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))


def verify_signature(public_key: SigningPublicKey, signature: bytes, message: bytes) -> None:
    """Raise BadSignature unless `signature` is a valid Ed25519 signature of `message`."""
    try:
        public_key.to_cryptography().verify(signature, message)
    except InvalidSignature as exc:
        raise BadSignature() from exc
