"""Strict base64url, length-prefixed fields, integers and identifiers."""

from __future__ import annotations

import pytest

from helpline.crypto.constants import ALL_LABELS
from helpline.crypto.encoding import (
    b64url_decode,
    b64url_encode,
    decode_fields,
    encode_fields,
    hex_decode,
    identifier_bytes,
    uint_be,
)
from helpline.crypto.errors import EncodingError


@pytest.mark.parametrize("data", [b"", b"f", b"fo", b"foo", b"foob", bytes(range(256))])
def test_b64url_round_trip(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text) == data


def test_b64url_known_values() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"
    assert b64url_encode(b"foob") == "Zm9vYg"


@pytest.mark.parametrize(
    "text",
    [
        "Zm9vYg==",  # padding
        "Zm9vYh",  # non-zero spare bits: same bytes, second spelling
        "Zm9v+w",  # standard alphabet
        "Zm9v/w",
        "Zm9vY",  # impossible length
        "Zm9v Yg",
        "Zm9vYg\n",
    ],
)
def test_b64url_refuses_non_canonical(text: str) -> None:
    with pytest.raises(EncodingError):
        b64url_decode(text)


def test_hex_decode_is_strict() -> None:
    assert hex_decode("00ff", 2) == b"\x00\xff"
    for bad in ("00FF", "0", "zz", " 00"):
        with pytest.raises(EncodingError):
            hex_decode(bad)
    with pytest.raises(EncodingError):
        hex_decode("00", 2)


def test_encode_fields_layout() -> None:
    assert encode_fields(b"L", b"ab", b"") == (
        b"\x00\x00\x00\x01L" + b"\x00\x00\x00\x02ab" + b"\x00\x00\x00\x00"
    )


def test_encode_fields_is_unambiguous() -> None:
    # Moving a byte from one field to the next must change the encoding.
    assert encode_fields(b"L", b"ab", b"c") != encode_fields(b"L", b"a", b"bc")
    assert encode_fields(b"L", b"abc") != encode_fields(b"L", b"ab", b"c")
    # A label that is a prefix of another cannot be confused with it.
    assert encode_fields(b"helpline/v2/msg", b"-aad") != encode_fields(b"helpline/v2/msg-aad")


def test_decode_fields_inverts_and_checks_label() -> None:
    data = encode_fields(b"L", b"ab", b"", b"xyz")
    assert decode_fields(b"L", data) == (b"ab", b"", b"xyz")
    with pytest.raises(EncodingError):
        decode_fields(b"M", data)
    with pytest.raises(EncodingError):
        decode_fields(b"L", data[:-1])


def test_labels_are_distinct_ascii() -> None:
    assert len(set(ALL_LABELS)) == len(ALL_LABELS)
    for label in ALL_LABELS:
        assert label.decode("ascii").startswith("helpline/v2/")


def test_uint_be() -> None:
    assert uint_be(1, 4) == b"\x00\x00\x00\x01"
    assert uint_be(2**32 - 1, 4) == b"\xff" * 4
    for bad in (-1, 2**32):
        with pytest.raises(EncodingError):
            uint_be(bad, 4)
    with pytest.raises(EncodingError):
        uint_be(True, 4)


def test_identifiers() -> None:
    assert identifier_bytes("Xq3m9Zt0Q1uVb8kLr2s7Yw", "id") == b"Xq3m9Zt0Q1uVb8kLr2s7Yw"
    assert identifier_bytes("2025-W48", "period") == b"2025-W48"
    assert identifier_bytes("a" * 128, "id") == b"a" * 128
    for bad in ("", "a" * 129, "café", "a b", "a/b", "a\n"):
        with pytest.raises(EncodingError):
            identifier_bytes(bad, "id")
