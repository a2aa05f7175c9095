"""Referral cards against the shared cases in tests/vectors/referral.json (the widget's
library checks the same file: tests/js/vector_checks.mjs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpline.crypto.errors import EncodingError
from helpline.crypto.plaintext import read_plaintext, read_referral, referral_plaintext

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "referral.json")
                     .read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_a_valid_card_reads_back_and_is_sent_as_is(case: dict[str, Any]) -> None:
    card = read_referral(read_plaintext(case["plaintext"].encode()))
    assert card == case["card"]
    assert read_referral(read_plaintext(referral_plaintext(card))) == case["card"]


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["name"])
def test_a_malformed_card_is_refused_when_read_and_when_sent(case: dict[str, Any]) -> None:
    data = read_plaintext(case["plaintext"].encode())
    with pytest.raises(EncodingError):
        read_referral(data)
    if isinstance(data.get("referral"), dict) and set(data) == {"type", "referral"}:
        with pytest.raises(EncodingError):
            referral_plaintext(data["referral"])
