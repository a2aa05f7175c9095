"""Byte encodings that Python and the browser must produce identically.

- base64url without padding (RFC 4648 section 5), decoded strictly: any character
  outside the alphabet, padding, or non-zero spare bits is refused, so every value
  has exactly one text form and a signature or fingerprint over it cannot be
  dodged by an alternative spelling.
- Length-prefixed fields, for every byte string that is signed, hashed, used as
  HPKE `info` or as AES-GCM associated data:

      encode_fields(label, f1, ..., fn) =
          u32be(len(label)) || label || u32be(len(f1)) || f1 || ... || u32be(len(fn)) || fn

  The label (constants.LABEL_*) separates purposes; the length prefixes make the
  concatenation unambiguous, so no two different field lists give the same bytes.
  Four-byte lengths (not two) so a whole envelope fits as one field.
- Fixed-width big-endian unsigned integers and ASCII identifiers for the fields.
"""

from __future__ import annotations

import base64
import re

from helpline.crypto.constants import MAX_IDENTIFIER_BYTES
from helpline.crypto.errors import EncodingError

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:-]+")
_MAX_FIELD = 2**32 - 1


def b64url_encode(data: bytes) -> str:
    """base64url text of `data`, without `=` padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url, refusing every non-canonical form."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise EncodingError("not unpadded base64url text")
    if len(text) % 4 == 1:
        raise EncodingError("base64url text has an impossible length")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Non-zero spare bits in the last character decode to the same bytes; refuse them
    # so each byte string has one spelling.
    if b64url_encode(data) != text:
        raise EncodingError("base64url text is not canonical")
    return data


def hex_decode(text: str, length: int | None = None) -> bytes:
    """Decode lowercase hex (as used for fingerprints and in test vectors)."""
    if not isinstance(text, str) or not re.fullmatch(r"(?:[0-9a-f]{2})*", text):
        raise EncodingError("not lowercase hex")
    data = bytes.fromhex(text)
    if length is not None and len(data) != length:
        raise EncodingError(f"expected {length} bytes of hex, got {len(data)}")
    return data


def encode_fields(label: bytes, *fields: bytes) -> bytes:
    """Domain-separated, length-prefixed concatenation (see the module docstring)."""
    out = bytearray()
    for field in (label, *fields):
        if len(field) > _MAX_FIELD:
            raise EncodingError("field too long")
        out += len(field).to_bytes(4, "big")
        out += field
    return bytes(out)


def decode_fields(label: bytes, data: bytes) -> tuple[bytes, ...]:
    """Inverse of encode_fields; refuses another label or trailing bytes."""
    fields: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise EncodingError("truncated field length")
        size = int.from_bytes(data[pos : pos + 4], "big")
        pos += 4
        if pos + size > len(data):
            raise EncodingError("truncated field")
        fields.append(data[pos : pos + size])
        pos += size
    if not fields or fields[0] != label:
        raise EncodingError("unexpected domain label")
    return tuple(fields[1:])


def uint_be(value: int, size: int) -> bytes:
    """`value` as a `size`-byte big-endian unsigned integer; refuses what does not fit."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise EncodingError("expected an integer")
    if not 0 <= value < 2 ** (8 * size):
        raise EncodingError(f"integer {value} does not fit in {size} unsigned bytes")
    return value.to_bytes(size, "big")


def identifier_bytes(value: str, what: str) -> bytes:
    """ASCII bytes of an identifier (conversation id, period, unit, grantee name).

    Only `A-Z a-z 0-9 . _ : -`, 1 to MAX_IDENTIFIER_BYTES long, so both languages
    encode it the same way and it fits the one-byte length in an envelope header.
    """
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise EncodingError(f"{what} must be ASCII letters, digits or . _ : -")
    if len(value) > MAX_IDENTIFIER_BYTES:
        raise EncodingError(f"{what} is longer than {MAX_IDENTIFIER_BYTES} bytes")
    return value.encode("ascii")
