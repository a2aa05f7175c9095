"""Private key files: passphrase, mode 0600, no overwrite, typed reads."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from helpline.crypto.errors import KeyFileError, WrongPassphrase
from helpline.crypto.keyfile import (
    read_encryption_key_file,
    read_signing_key_file,
    write_key_file,
    write_unencrypted_key_file,
)
from helpline.crypto.keys import EncryptionKeyPair, SigningKeyPair


def test_encrypted_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "org.pem"
    key = SigningKeyPair.generate()
    write_key_file(path, key, b"correct horse")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert key.private_bytes_raw() not in path.read_bytes()
    assert read_signing_key_file(path, b"correct horse").public == key.public


def test_unencrypted_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "device.pem"
    key = EncryptionKeyPair.generate()
    write_unencrypted_key_file(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert read_encryption_key_file(path, None).public == key.public


def test_mode_is_0600_despite_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_unencrypted_key_file(tmp_path / "k.pem", EncryptionKeyPair.generate())
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


def test_wrong_or_missing_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "org.pem"
    write_key_file(path, SigningKeyPair.generate(), b"correct horse")
    with pytest.raises(WrongPassphrase):
        read_signing_key_file(path, b"battery staple")
    with pytest.raises(WrongPassphrase):
        read_signing_key_file(path, None)


def test_passphrase_for_an_unencrypted_file(tmp_path: Path) -> None:
    path = tmp_path / "device.pem"
    write_unencrypted_key_file(path, EncryptionKeyPair.generate())
    with pytest.raises(KeyFileError):
        read_encryption_key_file(path, b"pass")


def test_empty_passphrase_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        write_key_file(tmp_path / "k.pem", SigningKeyPair.generate(), b"")


def test_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    write_unencrypted_key_file(path, SigningKeyPair.generate())
    before = path.read_bytes()
    with pytest.raises(KeyFileError):
        write_unencrypted_key_file(path, SigningKeyPair.generate())
    assert path.read_bytes() == before


def test_wrong_kind(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    write_unencrypted_key_file(path, SigningKeyPair.generate())
    with pytest.raises(KeyFileError):
        read_encryption_key_file(path, None)


def test_readable_by_others_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    write_unencrypted_key_file(path, SigningKeyPair.generate())
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="group or others"):
        read_signing_key_file(path, None)


def test_missing_and_garbage(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        read_signing_key_file(tmp_path / "absent.pem", None)
    path = tmp_path / "garbage.pem"
    path.write_bytes(b"not a key")
    path.chmod(0o600)
    with pytest.raises(KeyFileError):
        read_signing_key_file(path, None)
