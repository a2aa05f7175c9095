"""Write tests/vectors/staff-backup.json (README.md beside this file, "staff-backup.json").

Called by generate.py; also runs alone:  .venv/bin/python tests/vectors/generate_backup.py

Everything is fixed (keys, passphrases, salts, nonces), so the file comes out
byte-identical on every run. The vectors use 100,000 PBKDF2 iterations, the lowest
count a reader accepts, so that both test suites stay quick; real files use 600,000.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from helpline.crypto.backup import (
    CIPHERTEXT_BYTES,
    ITERATIONS,
    KDF_NAME,
    KIND,
    LABEL_STAFF_BACKUP,
    MAX_ITERATIONS,
    MIN_ITERATIONS,
    MIN_PASSPHRASE_CHARS,
    SALT_BYTES,
    BackupHeader,
    StaffDeviceKeys,
    _make_backup_with_fixed_salt_and_nonce_for_vectors_only,
    derive_backup_key,
    parse_backup,
)
from helpline.crypto.encoding import b64url_decode, b64url_encode
from helpline.crypto.keys import EncryptionKeyPair, SigningKeyPair

HERE = Path(__file__).resolve().parent
FILE = "staff-backup.json"
VECTOR_ITERATIONS = MIN_ITERATIONS
PIN = hashlib.sha256(b"vectors: organisation key").hexdigest()
OTHER_PIN = hashlib.sha256(b"vectors: another organisation").hexdigest()
PASSPHRASE = "correct horse battery staple"
# Typed with a combining accent (NFD); NFC makes it "café ..." with one U+00E9.
PASSPHRASE_NFD = "cafe\u0301 au lait, s'il vous plai\u0302t"

Json = dict[str, Any]


def _fixed(name: str, size: int = 32) -> bytes:
    return hashlib.sha256(f"helpline staff-backup vectors: {name}".encode()).digest()[:size]


def _keys(name: str) -> StaffDeviceKeys:
    return StaffDeviceKeys(name, PIN,
                           EncryptionKeyPair.from_private_bytes(_fixed(name + " x25519")),
                           SigningKeyPair.from_private_bytes(_fixed(name + " ed25519")))


def _valid(name: str, keys: StaffDeviceKeys, passphrase: str) -> Json:
    salt, nonce = _fixed(name + " salt", SALT_BYTES), _fixed(name + " nonce", 12)
    text = _make_backup_with_fixed_salt_and_nonce_for_vectors_only(
        keys, passphrase, iterations=VECTOR_ITERATIONS, salt=salt, nonce=nonce)
    header = parse_backup(text)
    return {
        "name": name,
        "passphrase": passphrase,
        "kdf_password": unicodedata.normalize("NFC", passphrase).encode().hex(),
        "username": keys.username,
        "pinned_fingerprint": keys.pinned_fingerprint,
        "encryption_private_key": keys.encryption.private_bytes_raw().hex(),
        "encryption_public_key": keys.encryption.public.raw.hex(),
        "encryption_fingerprint": keys.encryption.public.fingerprint,
        "signing_private_key": keys.signing.private_bytes_raw().hex(),
        "signing_public_key": keys.signing.public.raw.hex(),
        "signing_fingerprint": keys.signing.public.fingerprint,
        "iterations": VECTOR_ITERATIONS,
        "salt": salt.hex(),
        "nonce": nonce.hex(),
        "derived_key": derive_backup_key(passphrase, salt, VECTOR_ITERATIONS).hex(),
        "aad": header.aad().hex(),
        "plaintext": (keys.encryption.private_bytes_raw()
                      + keys.signing.private_bytes_raw()).hex(),
        "ciphertext": header.ciphertext.hex(),
        "text": text,
    }


def backup_vectors() -> Json:
    anna = _keys("anna")
    valid = [_valid("anna, ASCII passphrase", anna, PASSPHRASE),
             _valid("bert.j, passphrase typed in NFD", _keys("bert.j"), PASSPHRASE_NFD)]
    base_text = valid[0]["text"]
    base: Json = json.loads(base_text)
    header = parse_backup(base_text)
    key = bytes.fromhex(valid[0]["derived_key"])

    def bad(name: str, data: Json | str, error: str, passphrase: str = PASSPHRASE,
            pinned: str = PIN) -> Json:
        text = data if isinstance(data, str) else json.dumps(data, indent=2) + "\n"
        return {"name": name, "text": text, "passphrase": passphrase,
                "pinned_fingerprint": pinned, "error": error}

    def with_kdf(**kdf: Any) -> Json:
        return {**base, "kdf": {**base["kdf"], **kdf}}

    def b64_flip(value: str) -> str:
        raw = bytearray(b64url_decode(value))
        raw[-1] ^= 1
        return b64url_encode(bytes(raw))

    # Sealed correctly under the right passphrase, but for public keys that are not
    # the private keys' (only a faulty maker writes this): the tag passes, then refused.
    bert = _keys("bert.j")
    mismatched = BackupHeader(header.username, header.pinned_fingerprint,
                              bert.encryption.public, header.signing_key, header.iterations,
                              header.salt, header.nonce, b"")
    mismatched_ct = AESGCM(key).encrypt(header.nonce, bytes.fromhex(valid[0]["plaintext"]),
                                        mismatched.aad())
    mismatched_text = replace(mismatched, ciphertext=mismatched_ct).to_text()

    invalid = [
        bad("wrong passphrase", base, "backup_unlock_failed", passphrase=PASSPHRASE + "!"),
        bad("passphrase not normalised the same (NFD of another text)", base,
            "backup_unlock_failed", passphrase=PASSPHRASE.replace("o", "o\u0301", 1)),
        bad("empty passphrase", base, "backup_unlock_failed", passphrase=""),
        bad("a ciphertext bit flipped", {**base, "ciphertext": b64_flip(base["ciphertext"])},
            "backup_unlock_failed"),
        bad("a nonce bit flipped", {**base, "nonce": b64_flip(base["nonce"])},
            "backup_unlock_failed"),
        bad("username changed", {**base, "username": "anne"}, "backup_unlock_failed"),
        bad("signing key swapped for another", {**base, "signing_key": b64url_encode(
            bert.signing.public.raw)}, "backup_unlock_failed"),
        bad("iterations changed by one", with_kdf(iterations=VECTOR_ITERATIONS + 1),
            "backup_unlock_failed"),
        bad("salt changed", with_kdf(salt=b64_flip(base["kdf"]["salt"])),
            "backup_unlock_failed"),
        bad("pinned fingerprint changed along with the console's pin",
            {**base, "pinned_fingerprint": OTHER_PIN}, "backup_unlock_failed", pinned=OTHER_PIN),
        bad("made for another organisation's console", base, "wrong_organisation",
            pinned=OTHER_PIN),
        bad("keys do not match the public keys in the file", mismatched_text, "bad_backup"),
        bad("iterations below 100000", with_kdf(iterations=MIN_ITERATIONS - 1), "bad_backup"),
        bad("iterations above 10000000", with_kdf(iterations=MAX_ITERATIONS + 1), "bad_backup"),
        bad("iterations as a string", with_kdf(iterations=str(VECTOR_ITERATIONS)), "bad_backup"),
        bad("iterations true", with_kdf(iterations=True), "bad_backup"),
        bad("iterations as a float", with_kdf(iterations=100000.5), "bad_backup"),
        bad("another KDF", with_kdf(name="scrypt"), "bad_backup"),
        bad("a salt of 15 bytes", with_kdf(salt=b64url_encode(header.salt[:15])), "bad_backup"),
        bad("kdf with an extra field", with_kdf(hash="SHA-256"), "bad_backup"),
        bad("version 3", {**base, "v": 3}, "unsupported_version"),
        bad("version 1", {**base, "v": 1}, "unsupported_version"),
        bad("version as a string", {**base, "v": "2"}, "bad_backup"),
        bad("another kind", {**base, "kind": "police-public-key"}, "bad_backup"),
        bad("an extra field", {**base, "note": "laptop"}, "bad_backup"),
        bad("the nonce missing", {k: v for k, v in base.items() if k != "nonce"}, "bad_backup"),
        bad("a nonce of 16 bytes", {**base, "nonce": b64url_encode(bytes(16))}, "bad_backup"),
        bad("a ciphertext one byte short", {**base, "ciphertext": b64url_encode(
            header.ciphertext[:-1])}, "bad_backup"),
        bad("padded base64url", {**base, "ciphertext": base["ciphertext"] + "="}, "bad_backup"),
        bad("fingerprint in capitals", {**base, "pinned_fingerprint": PIN.upper()},
            "bad_backup", pinned=PIN.upper()),
        bad("a username with a space", {**base, "username": "anna b"}, "bad_backup"),
        bad("not JSON", "v=2", "bad_backup"),
        bad("a JSON array", json.dumps([base]), "bad_backup"),
        bad("a name twice", base_text.rstrip()[:-1] + ', "v": 2}\n', "bad_backup"),
    ]
    return {
        "description": "Staff device backups (docs/crypto.md, 'Staff device backup').",
        "kind": KIND,
        "version": 2,
        "label": LABEL_STAFF_BACKUP.decode(),
        "kdf": {"name": KDF_NAME, "hash": "SHA-256", "length": 32, "salt_bytes": SALT_BYTES,
                "iterations_made": ITERATIONS, "min_iterations": MIN_ITERATIONS,
                "max_iterations": MAX_ITERATIONS, "normalisation": "NFC"},
        "aead": {"name": "AES-256-GCM", "nonce_bytes": 12, "ciphertext_bytes": CIPHERTEXT_BYTES},
        "min_passphrase_chars": MIN_PASSPHRASE_CHARS,
        "valid": valid,
        "invalid": invalid,
        "weak_passphrases": [
            {"name": "eleven characters", "passphrase": "abcdefghijk", "error": "weak_passphrase"},
            {"name": "empty", "passphrase": "", "error": "weak_passphrase"},
            # 12 code points in NFD, 11 after NFC: the rule counts what NFC leaves.
            {"name": "twelve only before NFC", "passphrase": "cafe\u0301 au lai",
             "error": "weak_passphrase"},
        ],
        "strong_passphrases": ["abcdefghijkl", "ünïcödé-wörd", PASSPHRASE],
    }


def write_vectors(out_dir: Path = HERE) -> None:
    (out_dir / FILE).write_text(json.dumps(backup_vectors(), indent=2, ensure_ascii=False)
                                + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_vectors()
