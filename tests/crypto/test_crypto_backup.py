"""Staff device backups against tests/vectors/staff-backup.json, and a JS-made one.

The same vector file is checked by tests/vectors/check_backup.mjs (the reference
check, through check_vectors.mjs) and by tests/js/backup.test.mjs (the console's own
moderation/src/crypto/backup.js), so the three agree on every byte.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from helpline.crypto.backup import (
    ITERATIONS,
    MIN_PASSPHRASE_CHARS,
    StaffDeviceKeys,
    _make_backup_with_fixed_salt_and_nonce_for_vectors_only,
    check_passphrase,
    derive_backup_key,
    make_backup,
    open_backup,
    parse_backup,
)
from helpline.crypto.errors import CryptoError
from helpline.crypto.keys import EncryptionKeyPair, SigningKeyPair

VECTORS = Path(__file__).parents[1] / "vectors"
DATA: dict[str, Any] = json.loads((VECTORS / "staff-backup.json").read_text(encoding="utf-8"))
PIN = DATA["valid"][0]["pinned_fingerprint"]


def test_the_committed_file_is_what_the_generator_writes(tmp_path: Path) -> None:
    runpy.run_path(str(VECTORS / "generate_backup.py"))["write_vectors"](tmp_path)
    assert (tmp_path / "staff-backup.json").read_bytes() == (
        VECTORS / "staff-backup.json").read_bytes()


@pytest.mark.parametrize("entry", DATA["valid"], ids=lambda e: e["name"])
def test_valid_vectors_open_and_make_the_same_text(entry: dict[str, Any]) -> None:
    header = parse_backup(entry["text"])
    assert header.aad().hex() == entry["aad"]
    assert header.ciphertext.hex() == entry["ciphertext"]
    salt = bytes.fromhex(entry["salt"])
    assert derive_backup_key(entry["passphrase"], salt, entry["iterations"]).hex() == entry[
        "derived_key"]
    keys = open_backup(entry["text"], entry["passphrase"],
                       pinned_fingerprint=entry["pinned_fingerprint"])
    assert keys.username == entry["username"]
    assert keys.encryption.private_bytes_raw().hex() == entry["encryption_private_key"]
    assert keys.signing.private_bytes_raw().hex() == entry["signing_private_key"]
    assert keys.encryption.public.fingerprint == entry["encryption_fingerprint"]
    assert keys.signing.public.fingerprint == entry["signing_fingerprint"]
    again = _make_backup_with_fixed_salt_and_nonce_for_vectors_only(
        keys, entry["passphrase"], iterations=entry["iterations"], salt=salt,
        nonce=bytes.fromhex(entry["nonce"]))
    assert again == entry["text"]


@pytest.mark.parametrize("entry", DATA["invalid"], ids=lambda e: e["name"])
def test_invalid_vectors_are_refused_with_their_code(entry: dict[str, Any]) -> None:
    with pytest.raises(CryptoError) as refused:
        open_backup(entry["text"], entry["passphrase"],
                    pinned_fingerprint=entry["pinned_fingerprint"])
    assert refused.value.code == entry["error"]


def test_passphrase_rule() -> None:
    assert DATA["min_passphrase_chars"] == MIN_PASSPHRASE_CHARS == 12
    for weak in DATA["weak_passphrases"]:
        with pytest.raises(CryptoError) as refused:
            check_passphrase(weak["passphrase"])
        assert refused.value.code == weak["error"]
    for strong in DATA["strong_passphrases"]:
        check_passphrase(strong)


def test_a_fresh_backup_uses_600000_iterations_and_a_fresh_salt() -> None:
    keys = StaffDeviceKeys("anna", PIN, EncryptionKeyPair.generate(), SigningKeyPair.generate())
    first = make_backup(keys, "correct horse battery staple")
    second = make_backup(keys, "correct horse battery staple")
    h1, h2 = parse_backup(first), parse_backup(second)
    assert h1.iterations == ITERATIONS == 600_000
    assert h1.salt != h2.salt and h1.nonce != h2.nonce and h1.ciphertext != h2.ciphertext
    # No private byte in the text, in any spelling the file uses.
    for raw in (keys.encryption.private_bytes_raw(), keys.signing.private_bytes_raw()):
        assert raw.hex() not in first and json.dumps(list(raw)) not in first
    opened = open_backup(first, "correct horse battery staple", pinned_fingerprint=PIN)
    assert opened.signing.public == keys.signing.public
    assert opened.encryption.public == keys.encryption.public
    with pytest.raises(CryptoError) as weak:
        make_backup(keys, "short")
    assert weak.value.code == "weak_passphrase"


def test_a_backup_made_in_javascript_opens_in_python() -> None:
    # Written by check_vectors.mjs (check_backup.mjs, WebCrypto only), committed.
    made = json.loads((VECTORS / "js-made.json").read_text(encoding="utf-8"))["staff_backup"]
    keys = open_backup(made["text"], made["passphrase"],
                       pinned_fingerprint=made["pinned_fingerprint"])
    assert keys.username == "js.made"
    assert keys.encryption.private_bytes_raw().hex() == made["encryption_private_key"]
    assert keys.signing.private_bytes_raw().hex() == made["signing_private_key"]
    with pytest.raises(CryptoError) as refused:
        open_backup(made["text"], made["passphrase"] + "x",
                    pinned_fingerprint=made["pinned_fingerprint"])
    assert refused.value.code == "backup_unlock_failed"
