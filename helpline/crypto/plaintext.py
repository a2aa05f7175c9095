"""Message plaintexts (docs/crypto.md, "Message plaintext"): UTF-8 JSON objects with a
string `type`. A referral card is checked field by field, by the same rules as the
browser's widgets/src/crypto/plaintext.js (shared cases: tests/vectors/referral.json),
so what a widget shows as a card can only be a name, short texts, phone numbers and an
https address.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from helpline.crypto.errors import EncodingError

REFERRAL_LIMITS = {"name": 120, "what": 1000, "label": 120, "hours": 200, "url": 300, "phones": 5}
_CARD_FIELDS = frozenset({"id", "name", "kind", "what", "phones", "url", "hours"})
# Control characters (C0, DEL, C1) and the bidi overrides that could reorder a number.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ID = re.compile(r"[a-z0-9_]{1,64}")
_KIND = re.compile(r"[a-z_]{1,32}")
_PHONE = re.compile(r"\+?[0-9][0-9 -]{1,18}[0-9]")
_URL = re.compile(r"https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][\x21-\x7e]*)?")


def text_plaintext(text: str) -> bytes:
    return json.dumps({"type": "text", "text": text}, ensure_ascii=False).encode()


def read_plaintext(plaintext: bytes) -> dict[str, Any]:
    try:
        data = json.loads(plaintext.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise EncodingError("a message plaintext is a UTF-8 JSON object") from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise EncodingError("a message plaintext is a JSON object with a type")
    return data


def _bad(what: str) -> EncodingError:
    return EncodingError(f"a referral card {what}")


def _short_text(value: Any, limit: int, what: str, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit \
            or _UNSAFE.search(value):
        raise _bad(f"{what} is a text of 1 to {limit} characters")
    return value


def check_referral(card: Any) -> dict[str, Any]:
    """A plain copy of a valid card; EncodingError names the first bad field."""
    if not isinstance(card, dict) or set(card) != _CARD_FIELDS:
        raise _bad("has exactly the fields " + ", ".join(sorted(_CARD_FIELDS)))
    if not isinstance(card["id"], str) or not _ID.fullmatch(card["id"]):
        raise _bad("id is 1 to 64 of a-z, 0-9, _")
    if not isinstance(card["kind"], str) or not _KIND.fullmatch(card["kind"]):
        raise _bad("kind is 1 to 32 of a-z, _")
    phones = card["phones"]
    if not isinstance(phones, list) or len(phones) > REFERRAL_LIMITS["phones"]:
        raise _bad(f"phones is a list of at most {REFERRAL_LIMITS['phones']}")
    checked = []
    for phone in phones:
        if not isinstance(phone, dict) or set(phone) != {"number", "label"}:
            raise _bad("phone has exactly number and label")
        if not isinstance(phone["number"], str) or not _PHONE.fullmatch(phone["number"]):
            raise _bad("phone number is digits, spaces and dashes")
        checked.append({"number": phone["number"], "label": _short_text(
            phone["label"], REFERRAL_LIMITS["label"], "phone label", nullable=True)})
    url = card["url"]
    if url is not None and (not isinstance(url, str) or len(url) > REFERRAL_LIMITS["url"]
                            or not _URL.fullmatch(url)):
        raise _bad("url is null or an https address")
    return {
        "id": card["id"], "name": _short_text(card["name"], REFERRAL_LIMITS["name"], "name"),
        "kind": card["kind"],
        "what": _short_text(card["what"], REFERRAL_LIMITS["what"], "what", nullable=True),
        "phones": checked, "url": url,
        "hours": _short_text(card["hours"], REFERRAL_LIMITS["hours"], "hours", nullable=True),
    }


def referral_plaintext(card: Mapping[str, Any]) -> bytes:
    """The plaintext of a referral card, checked first: nothing malformed is sent."""
    return json.dumps({"type": "referral", "referral": check_referral(dict(card))},
                      ensure_ascii=False).encode()


def read_referral(data: Mapping[str, Any]) -> dict[str, Any]:
    """The card of a `referral` plaintext (as read_plaintext returned it)."""
    if set(data) != {"type", "referral"}:
        raise _bad("plaintext has exactly type and referral")
    return check_referral(data["referral"])
