"""Epoch statements and key commitments (docs/crypto.md, "Epoch statements"), checked
against the shared vectors in tests/vectors/epoch.json and by their rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpline.crypto.consent import sign_consent
from helpline.crypto.epochs import (
    EpochReader,
    ReaderKind,
    check_epoch_key,
    check_sendable,
    epoch_commitment,
    epoch_statement_from_wire,
    sign_epoch_statement,
    verify_epoch_statement,
)
from helpline.crypto.errors import ConsentLapsed, CryptoError, EncodingError
from helpline.crypto.keys import EncryptionKeyPair, SigningKeyPair, SigningPublicKey

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "epoch.json")
                     .read_text(encoding="utf-8"))
CONV = "Xq3m9Zt0Q1uVb8kLr2s7Yw"


def _outcome(entry: dict[str, Any]) -> str:
    try:
        verify_epoch_statement(
            epoch_statement_from_wire(entry["conversation_id"], entry["transport"]),
            SigningPublicKey(bytes.fromhex(entry["youth_public_key"])),
            conversation_id=entry["conversation_id"], epoch=entry["epoch"])
    except CryptoError as exc:
        return exc.code
    return "ok"


@pytest.mark.parametrize("entry", VECTORS["valid"], ids=lambda e: e["name"])
def test_valid_vectors(entry: dict[str, Any]) -> None:
    youth = SigningPublicKey(bytes.fromhex(VECTORS["youth"]["public_key"]))
    st = verify_epoch_statement(epoch_statement_from_wire(CONV, entry["transport"]), youth,
                                conversation_id=CONV, epoch=entry["epoch"])
    assert st.signed_bytes().hex() == entry["signed_bytes"]
    assert st.commitment.hex() == entry["commitment"]
    assert b"".join(r.to_bytes() for r in st.readers).hex() == entry["readers_bytes"]
    assert st.reader_kinds() == entry["reader_kinds"]
    assert st.to_wire() == entry["transport"]
    key = bytes.fromhex(entry["epoch_key"])
    for reader in st.readers:
        check_epoch_key(st, key, reader.fingerprint)


@pytest.mark.parametrize("entry", VECTORS["invalid"], ids=lambda e: e["name"])
def test_invalid_vectors(entry: dict[str, Any]) -> None:
    assert _outcome(entry) == entry["error"]


@pytest.mark.parametrize("entry", VECTORS["key_checks"], ids=lambda e: e["name"])
def test_key_checks(entry: dict[str, Any]) -> None:
    st = epoch_statement_from_wire(CONV, entry["statement"])
    try:
        check_epoch_key(st, bytes.fromhex(entry["epoch_key"]), entry["reader"])
        outcome = None
    except CryptoError as exc:
        outcome = exc.code
    assert outcome == entry["error"]


def test_commitments() -> None:
    for entry in VECTORS["commitments"]:
        assert epoch_commitment(bytes.fromhex(entry["epoch_key"]),
                                conversation_id=entry["conversation_id"],
                                epoch=entry["epoch"]).hex() == entry["commitment"]


def test_regenerated_file_is_identical() -> None:
    import runpy
    path = Path(__file__).resolve().parents[1] / "vectors" / "generate_epoch.py"
    assert runpy.run_path(str(path))["epoch_vectors"]() == VECTORS


def test_a_consent_lapses_for_sending() -> None:
    youth, police = SigningKeyPair.generate(), EncryptionKeyPair.generate()
    team = EncryptionKeyPair.generate()
    consent = sign_consent(CONV, police.public.fingerprint, False, 1000, youth)
    st = sign_epoch_statement(
        conversation_id=CONV, epoch=2, epoch_key=bytes(32),
        readers=[EpochReader(ReaderKind.TEAM, team.public.fingerprint),
                 EpochReader(ReaderKind.POLICE, police.public.fingerprint)],
        consent=consent, signing_key=youth)
    check_sendable(st, 999)
    with pytest.raises(ConsentLapsed):
        check_sendable(st, 1000)


def test_a_consent_must_name_the_police_reader() -> None:
    youth = SigningKeyPair.generate()
    team, police, other = (EncryptionKeyPair.generate() for _ in range(3))
    consent = sign_consent(CONV, other.public.fingerprint, False, 1000, youth)
    with pytest.raises(EncodingError):
        sign_epoch_statement(
            conversation_id=CONV, epoch=2, epoch_key=bytes(32),
            readers=[EpochReader(ReaderKind.TEAM, team.public.fingerprint),
                     EpochReader(ReaderKind.POLICE, police.public.fingerprint)],
            consent=consent, signing_key=youth)
