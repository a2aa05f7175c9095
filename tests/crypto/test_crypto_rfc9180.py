"""RFC 9180 vectors for our suite, checked against `cryptography`'s HPKE.

tests/vectors/rfc9180-base-x25519-sha256-aes256gcm.json is our suite's extract
(mode 0, kem 0x0020, kdf 0x0001, aead 0x0002) of the RFC vectors shipped in the
cryptography_vectors package; tests/vectors/generate.py writes it.

The RFC's first encryption uses aad "Count-0", and `cryptography`'s public
single-shot API has no aad argument, so that exact ciphertext can only be opened
through its private `_decrypt_with_aad` (what cryptography's own tests use). The
public path is checked with the RFC's key schedule instead: AES-256-GCM under the
vector's `key` and `base_nonce` with empty aad is what single-shot HPKE with the
vector's `enc` and `info` must produce, and `Suite.decrypt(enc || ct)` opens it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from helpline.crypto.wrap import HPKE_SUITE

VECTORS = Path(__file__).parents[1] / "vectors" / "rfc9180-base-x25519-sha256-aes256gcm.json"
SUITE = {"mode": 0, "kem_id": 0x0020, "kdf_id": 0x0001, "aead_id": 0x0002}


def _vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS.read_text())
    assert vectors, "no vectors for our suite"
    return vectors


def test_extract_holds_only_our_suite_and_matches_the_package() -> None:
    vectors = _vectors()
    for vector in vectors:
        assert {k: vector[k] for k in SUITE} == SUITE
    cryptography_vectors = pytest.importorskip("cryptography_vectors")
    source = Path(cryptography_vectors.__file__).parent / "HPKE" / "test-vectors.json"
    every = json.loads(source.read_text())
    assert vectors == [v for v in every if all(v[k] == want for k, want in SUITE.items())]


def test_recipient_key_derivation() -> None:
    for vector in _vectors():
        sk = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector["skRm"]))
        assert sk.public_key().public_bytes_raw().hex() == vector["pkRm"]
        assert vector["enc"] == vector["pkEm"]


def test_first_encryption_decrypts_with_aad() -> None:
    decrypt_with_aad = getattr(rust_openssl.hpke, "_decrypt_with_aad", None)
    if decrypt_with_aad is None:
        pytest.skip("this cryptography has no private _decrypt_with_aad")
    for vector in _vectors():
        sk = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector["skRm"]))
        first = vector["encryptions"][0]
        assert first["nonce"] == vector["base_nonce"]  # sequence 0: what single-shot uses
        blob = bytes.fromhex(vector["enc"] + first["ct"])
        info = bytes.fromhex(vector["info"])
        plaintext = decrypt_with_aad(
            HPKE_SUITE, blob, sk, info=info, aad=bytes.fromhex(first["aad"])
        )
        assert plaintext.hex() == first["pt"]
        # Without the aad the same bytes do not open: the public API is aad-less.
        with pytest.raises(InvalidTag):
            HPKE_SUITE.decrypt(blob, sk, info=info)


def test_public_single_shot_decrypt_follows_the_rfc_key_schedule() -> None:
    for vector in _vectors():
        sk = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector["skRm"]))
        key, base_nonce = bytes.fromhex(vector["key"]), bytes.fromhex(vector["base_nonce"])
        first = vector["encryptions"][0]
        plaintext = bytes.fromhex(first["pt"])
        # The vector's own ciphertext is AES-256-GCM under the derived key and nonce.
        aad = bytes.fromhex(first["aad"])
        assert AESGCM(key).decrypt(base_nonce, bytes.fromhex(first["ct"]), aad) == plaintext
        # The same with empty aad is what single-shot HPKE sends after `enc`.
        ct = AESGCM(key).encrypt(base_nonce, plaintext, b"")
        blob = bytes.fromhex(vector["enc"]) + ct
        assert HPKE_SUITE.decrypt(blob, sk, info=bytes.fromhex(vector["info"])) == plaintext
        with pytest.raises(InvalidTag):
            HPKE_SUITE.decrypt(blob, sk, info=b"another info")


def test_single_shot_encrypt_output_is_enc_then_ciphertext() -> None:
    vector = _vectors()[0]
    sk = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector["skRm"]))
    plaintext, info = b"x" * 32, b"info"
    out = HPKE_SUITE.encrypt(plaintext, sk.public_key(), info=info)
    assert len(out) == 32 + len(plaintext) + 16  # enc (Npk) || ciphertext || tag (Nt)
    assert HPKE_SUITE.decrypt(out, sk, info=info) == plaintext
    decrypt_with_aad = getattr(rust_openssl.hpke, "_decrypt_with_aad", None)
    if decrypt_with_aad is not None:
        assert decrypt_with_aad(HPKE_SUITE, out, sk, info=info, aad=b"") == plaintext
    # Swapping in the RFC's enc breaks it: the first 32 bytes are the encapsulated key.
    with pytest.raises(InvalidTag):
        HPKE_SUITE.decrypt(bytes.fromhex(vector["enc"]) + out[32:], sk, info=info)
    # Two encryptions never share an enc: the ephemeral key is fresh each time.
    assert HPKE_SUITE.encrypt(plaintext, sk.public_key(), info=info)[:32] != out[:32]
