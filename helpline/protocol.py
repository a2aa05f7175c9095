"""The wire contract: namespaces, event names and payload parsing.

Every payload is a JSON object (a dict); a field that is not declared, a missing
required field, a wrong type or an oversized value is refused with
`invalid_payload` or `too_large` before anything else happens. docs/protocol.md
documents the same rules for browser clients.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from helpline.crypto.encoding import b64url_decode
from helpline.crypto.errors import EncodingError
from helpline.errors import InvalidPayload, TooLarge

YOUTH_NAMESPACE = "/youth"
STAFF_NAMESPACE = "/staff"
# Pushed to every connected client when this server process lost events (its Redis
# fan-out was cut off): fetch `history` of what you hold, as after a reconnect.
RESYNC_EVENT = "resync"

CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")

MAX_SEQ = 2**53 - 1  # the largest integer a browser's Number holds exactly


@dataclass(frozen=True)
class Str:
    pattern: re.Pattern[str] | None = None
    max_len: int = 200
    required: bool = True
    choices: type[StrEnum] | None = None


@dataclass(frozen=True)
class Int:
    minimum: int = 0
    maximum: int = MAX_SEQ
    required: bool = True


@dataclass(frozen=True)
class Bool:
    required: bool = True


@dataclass(frozen=True)
class Bytes:
    """A byte string, sent as unpadded base64url text; the lengths are of the bytes."""

    max_len: int
    required: bool = True
    min_len: int = 1


@dataclass(frozen=True)
class Items:
    """A list of objects, each checked against `spec`."""

    spec: Mapping[str, Field]
    max_items: int
    min_items: int = 1
    required: bool = True


@dataclass(frozen=True)
class Texts:
    """A list of strings, each checked against `item`."""

    item: Str
    max_items: int
    min_items: int = 1
    required: bool = True


@dataclass(frozen=True)
class Obj:
    """A nested object, checked against `spec`."""

    spec: Mapping[str, Field]
    required: bool = True


Field = Str | Int | Bool | Bytes | Items | Texts | Obj
Spec = Mapping[str, Field]
NO_FIELDS: Spec = {}
KEY = Bytes(32, min_len=32)  # a raw X25519 or Ed25519 public key
WRAPS = Items({"recipient": Str(FINGERPRINT, 64), "wrap": Bytes(256)}, max_items=8)
CAMPAIGN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
INVITE = re.compile(r"[A-Za-z0-9_-]{16}")
STEP = re.compile(r"[a-z0-9_]{1,40}")
LOOKUP_CODE = re.compile(r"[a-z]{3,8}-[a-z]{3,8}-[a-z]{3,8}")
# A return code's verifier (at registration) and proof (on a return): 32 bytes each.
CODE_VERIFIER = Bytes(32, min_len=32)
CODE_PROOF = Bytes(32, min_len=32)
B64URL = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
OFFER_ID = re.compile(r"^[A-Za-z0-9_-]{8,40}$")
CONSENT = Obj({"police_fingerprint": Str(FINGERPRINT, 64), "share_history": Bool(),
               "expires_at": Int(), "nonce": Str(B64URL, 100), "signature": Str(B64URL, 100)},
              required=False)
READER_KIND = re.compile(r"^(team|police)$")
EPOCH_STATEMENT = Obj({
    "v": Int(0, 255), "epoch": Int(1, 2**32 - 1), "commitment": Str(B64URL, 43),
    "readers": Items({"kind": Str(READER_KIND, 6), "fingerprint": Str(FINGERPRINT, 64)},
                     max_items=8),
    "consent": CONSENT, "signature": Str(B64URL, 86)})
HISTORY_WRAPS = Items({"epoch": Int(1, 2**32 - 1), "recipient": Str(FINGERPRINT, 64),
                       "wrap": Bytes(256)}, max_items=200)  # 200 fit one 64 KiB frame


# Byte strings on the wire. socket.io sends each binary value as an attachment of its
# own, and the stock browser client (socket.io-parser 4.2.6 and later) drops the
# connection on a packet with more than 10: a history page, a resume or
# `conversation_keys` holds hundreds. So the protocol has no binary values at all
# (docs/protocol.md, section 2): every byte string is unpadded base64url text, both
# ways. Services work with bytes; the edges convert.

# Fields whose text is a byte string, and maps whose values are (for the Python client,
# which turns them back into bytes).
BINARY_FIELDS = frozenset({"body", "wrap", "youth_signing_key", "code_wrap", "blob",
                           "encryption_key", "signing_key", "verifier", "proof"})
BINARY_MAPS = frozenset({"grants"})
# Signed statements keep their own transport form (base64url fields that are verified
# as text); from_wire leaves them as they are.
SIGNED_FIELDS = frozenset({"team", "police", "staff", "statements", "statement",
                           "revocations", "consent"})


def to_wire(value: Any) -> Any:
    """`value` with every bytes-like leaf as unpadded base64url text (new containers)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    return value


def from_wire(value: Any, key: str | None = None) -> Any:
    """The inverse for the server's answers and events, by field name (BINARY_FIELDS)."""
    if key in SIGNED_FIELDS:
        return value
    if isinstance(value, dict):
        if key in BINARY_MAPS:
            return {k: b64url_decode(v) if isinstance(v, str) else v for k, v in value.items()}
        return {k: from_wire(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if key in BINARY_FIELDS and isinstance(value, str):
        return b64url_decode(value)
    return value


def _b64_len(size: int) -> int:
    """Characters of unpadded base64url for `size` bytes."""
    return (4 * size + 2) // 3


def parse(payload: object, spec: Spec) -> dict[str, Any]:
    """Check `payload` against `spec`; return the declared fields that are present."""
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise InvalidPayload("The payload must be an object.")
    unknown = sorted(str(k) for k in payload if k not in spec)
    if unknown:
        raise InvalidPayload(f"Unknown field: {unknown[0][:40]}.")
    out: dict[str, Any] = {}
    for name, field in spec.items():
        if name not in payload or payload[name] is None:
            if field.required:
                raise InvalidPayload(f"The field {name!r} is required.")
            continue
        out[name] = _check(name, payload[name], field)
    return out


def _check(name: str, value: object, field: Field) -> object:
    if isinstance(field, Bool):
        if not isinstance(value, bool):
            raise InvalidPayload(f"The field {name!r} must be true or false.")
        return value
    if isinstance(field, Int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidPayload(f"The field {name!r} must be a whole number.")
        if not field.minimum <= value <= field.maximum:
            raise InvalidPayload(
                f"The field {name!r} must be from {field.minimum} to {field.maximum}."
            )
        return value
    if isinstance(field, Obj):
        return parse(value, field.spec)
    if isinstance(field, Items):
        if not isinstance(value, list):
            raise InvalidPayload(f"The field {name!r} must be a list.")
        if not field.min_items <= len(value) <= field.max_items:
            raise InvalidPayload(
                f"The field {name!r} must hold {field.min_items} to {field.max_items} items."
            )
        return [parse(item, field.spec) for item in value]
    if isinstance(field, Texts):
        if not isinstance(value, list):
            raise InvalidPayload(f"The field {name!r} must be a list.")
        if not field.min_items <= len(value) <= field.max_items:
            raise InvalidPayload(
                f"The field {name!r} must hold {field.min_items} to {field.max_items} items."
            )
        return [_check(name, item, field.item) for item in value]
    if isinstance(field, Bytes):
        # Byte strings travel as unpadded base64url text (transport/wire.py says why).
        if not isinstance(value, str):
            raise InvalidPayload(f"The field {name!r} must be base64url text.")
        if len(value) > _b64_len(field.max_len):
            raise TooLarge(f"The field {name!r} is larger than {field.max_len} bytes.")
        try:
            value = b64url_decode(value)
        except EncodingError:
            raise InvalidPayload(f"The field {name!r} must be unpadded base64url text.") \
                from None
        if len(value) < field.min_len:
            raise InvalidPayload(
                f"The field {name!r} must be at least {field.min_len} bytes."
            )
        if len(value) > field.max_len:
            raise TooLarge(f"The field {name!r} is larger than {field.max_len} bytes.")
        return bytes(value)
    if not isinstance(value, str):
        raise InvalidPayload(f"The field {name!r} must be text.")
    if len(value) > field.max_len:
        raise TooLarge(f"The field {name!r} is longer than {field.max_len} characters.")
    if field.choices is not None:
        allowed = [c.value for c in field.choices]
        if value not in allowed:
            raise InvalidPayload(f"The field {name!r} must be one of: {', '.join(allowed)}.")
        return field.choices(value)
    if field.pattern is not None and not field.pattern.fullmatch(value):
        raise InvalidPayload(f"The field {name!r} is not in the expected form.")
    return value
