"""Key values, raw export/import and fingerprints."""

from __future__ import annotations

import hashlib

import pytest

from helpline.crypto.encoding import encode_fields
from helpline.crypto.errors import BadSignature, EncodingError, InvalidKey
from helpline.crypto.keys import (
    EncryptionKeyPair,
    EncryptionPublicKey,
    KeyKind,
    SigningKeyPair,
    SigningPublicKey,
    fingerprint,
    generate_epoch_key,
    parse_fingerprint,
    verify_signature,
)


def test_fingerprint_definition() -> None:
    raw = bytes(range(32))
    expected = hashlib.sha256(encode_fields(b"helpline/v2/fingerprint/x25519", raw)).hexdigest()
    assert fingerprint(raw, KeyKind.X25519) == expected
    assert EncryptionPublicKey(raw).fingerprint == expected
    assert len(expected) == 64 and expected == expected.lower()


def test_fingerprint_differs_per_kind() -> None:
    raw = SigningKeyPair.generate().public.raw
    assert fingerprint(raw, KeyKind.X25519) != fingerprint(raw, KeyKind.ED25519)
    assert SigningPublicKey(raw).fingerprint == fingerprint(raw, KeyKind.ED25519)


def test_raw_round_trip() -> None:
    enc = EncryptionKeyPair.generate()
    again = EncryptionKeyPair.from_private_bytes(enc.private_bytes_raw())
    assert again.public == enc.public
    sig = SigningKeyPair.generate()
    assert SigningKeyPair.from_private_bytes(sig.private_bytes_raw()).public == sig.public
    assert EncryptionPublicKey(enc.public.raw) == enc.public
    assert enc.public.to_cryptography().public_bytes_raw() == enc.public.raw


def test_private_key_not_in_repr() -> None:
    pair = SigningKeyPair.generate()
    assert repr(pair) == "SigningKeyPair()"
    assert repr(EncryptionKeyPair.generate()) == "EncryptionKeyPair()"


@pytest.mark.parametrize("size", [0, 31, 33])
def test_wrong_lengths_refused(size: int) -> None:
    with pytest.raises(InvalidKey):
        EncryptionPublicKey(b"\x01" * size)
    with pytest.raises(InvalidKey):
        SigningPublicKey(b"\x01" * size)
    with pytest.raises(InvalidKey):
        EncryptionKeyPair.from_private_bytes(b"\x01" * size)
    with pytest.raises(InvalidKey):
        SigningKeyPair.from_private_bytes(b"\x01" * size)


def test_parse_fingerprint() -> None:
    fp = EncryptionKeyPair.generate().public.fingerprint
    assert parse_fingerprint(fp).hex() == fp
    for bad in (fp.upper(), fp[:-2], fp + "00", "x" * 64):
        with pytest.raises(EncodingError):
            parse_fingerprint(bad)


def test_epoch_keys_are_fresh() -> None:
    assert len(generate_epoch_key()) == 32
    assert generate_epoch_key() != generate_epoch_key()


def test_verify_signature() -> None:
    pair = SigningKeyPair.generate()
    signature = pair.sign(b"message")
    verify_signature(pair.public, signature, b"message")
    with pytest.raises(BadSignature):
        verify_signature(pair.public, signature, b"massage")
    with pytest.raises(BadSignature):
        verify_signature(SigningKeyPair.generate().public, signature, b"message")
