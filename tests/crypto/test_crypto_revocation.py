"""The revocation list against tests/vectors/revocation.json, and its strict parsing."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from helpline.crypto.errors import CryptoError
from helpline.crypto.revocation import (
    RevocationTracker,
    revocations_from_dict,
    revocations_from_json,
    verify_revocations,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
DATA: dict[str, Any] = json.loads((VECTORS / "revocation.json").read_text())


@pytest.mark.parametrize("entry", DATA["valid"], ids=lambda e: e["name"])
def test_valid_lists_verify_with_the_committed_bytes(entry: dict[str, Any]) -> None:
    signed = revocations_from_dict(entry["transport"])
    assert signed.revocations.signed_bytes().hex() == entry["signed_bytes"]
    assert signed.signature.hex() == entry["signature"]
    verify_revocations(signed, pinned_fingerprint=entry["pinned_fingerprint"])


@pytest.mark.parametrize("check", DATA["checks"], ids=lambda c: f"{c['at']}")
def test_a_key_is_refused_from_its_revocation_time_on(check: dict[str, Any]) -> None:
    current = revocations_from_dict(DATA["valid"][-1]["transport"]).revocations
    try:
        current.check(check["fingerprint"], check["at"])
        error = None
    except CryptoError as exc:
        error = exc.code
    assert error == check["error"]


@pytest.mark.parametrize("entry", DATA["invalid"], ids=lambda e: e["name"])
def test_invalid_lists_are_refused_with_their_code(entry: dict[str, Any]) -> None:
    with pytest.raises(CryptoError) as caught:
        verify_revocations(revocations_from_dict(entry["transport"]),
                           pinned_fingerprint=entry["pinned_fingerprint"])
    assert caught.value.code == entry["error"]


def test_a_client_never_goes_back_to_an_older_list() -> None:
    tracker = RevocationTracker(DATA["signer"]["fingerprint"])
    for step in DATA["sequence"]:
        try:
            tracker.accept(step["transport"])
            error = None
        except CryptoError as exc:
            error = exc.code
        assert error == step["error"]
    assert tracker.current.serial == 3


@pytest.mark.parametrize("text", ["", "[]", "null", '{"v": 2}', "1"])
def test_garbage_is_bad_encoding(text: str) -> None:
    with pytest.raises(CryptoError) as caught:
        revocations_from_json(text)
    assert caught.value.code == "bad_encoding"


def test_the_generator_reproduces_the_committed_file(tmp_path: Path) -> None:
    runpy.run_path(str(VECTORS / "generate_revocation.py"))["write_vectors"](tmp_path)
    assert (tmp_path / "revocation.json").read_bytes() == (
        VECTORS / "revocation.json").read_bytes()
