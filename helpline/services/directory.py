"""The counsellor console's reference data: canned answers and the referral directory.

Both ship in the package (`helpline/data/canned/<language>.json` and
`helpline/data/referrals.json`; format in docs/protocol.md, section 9) and are read and
checked strictly once, when the server starts: an unknown or missing field, a wrong
type, a size over its limit, a duplicate id, an id missing from one language or a kind
or region outside the closed lists stops the start with a `DirectoryDataError` naming
the file and the item. Nothing here touches Redis; the data holds nothing about anyone.
The files are the default: the console's edits, checked by the same parsers, are served
instead where there are any (services/directory_edits.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from helpline.crypto.errors import EncodingError
from helpline.crypto.plaintext import check_referral

ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TAG = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
LANGUAGE = re.compile(r"^[a-z]{2}$")
PHONE = re.compile(r"^\+?[0-9][0-9 -]{1,19}$")
URL = re.compile(r"^https://[^\s\"'<>]{3,200}$")

# Canned answers: sizes (characters).
TITLE_MAX = 80
TEXT_MAX = 1200
TAGS_MAX = 6
ANSWERS_MAX = 200
# Referrals: sizes (characters) and the closed lists.
NAME_MAX = 100
WHAT_MAX = 600
NOTE_MAX = 400
LABEL_MAX = 80
HOURS_MAX = 200
PHONES_MAX = 4
REFERRALS_MAX = 500
# The languages every referral's texts are written in (the console's languages).
REFERRAL_TEXT_LANGUAGES = ("nl", "en")
KINDS = ("care_coordination", "labour_inspectorate", "victim_support", "comensha",
         "shelter", "police", "youth_care", "sexual_violence", "other")
NATIONAL = "national"
PROVINCES = ("drenthe", "flevoland", "friesland", "gelderland", "groningen", "limburg",
             "noord-brabant", "noord-holland", "overijssel", "utrecht", "zeeland",
             "zuid-holland")
REGIONS = (NATIONAL, *PROVINCES)
QUERY_MAX = 100
# The canned answers' language when the console asks for none; its file must exist.
DEFAULT_LANGUAGE = "nl"


class DirectoryDataError(ValueError):
    """A data file that is missing, not JSON, or not in the expected shape."""


@dataclass(frozen=True)
class CannedAnswer:
    id: str
    title: str
    text: str
    tags: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "text": self.text,
                "tags": list(self.tags)}


@dataclass(frozen=True)
class Phone:
    number: str
    label: dict[str, str]


@dataclass(frozen=True)
class Referral:
    id: str
    name: str
    kind: str
    regions: tuple[str, ...]
    what: dict[str, str]
    languages: tuple[str, ...]
    phones: tuple[Phone, ...]
    url: str | None
    hours: dict[str, str] | None
    note: dict[str, str] | None

    def covers(self, region: str) -> bool:
        """Whether it serves `region`: national organisations serve every province."""
        return region in self.regions or (region != NATIONAL and NATIONAL in self.regions)

    def matches(self, needle: str) -> bool:
        """Case-insensitive substring search over name, kind and what (every language)."""
        haystack = (self.name, self.kind, *self.what.values())
        return any(needle in text.casefold() for text in haystack)

    def card(self, language: str) -> dict[str, Any]:
        """The referral card sent into a chat (helpline/crypto/plaintext.py), in `language`
        (nl or en; en otherwise), as the console builds it (moderation/src/app/desk.js)."""
        lang = "nl" if language == "nl" else "en"
        return {"id": self.id, "name": self.name, "kind": self.kind, "what": self.what[lang],
                "phones": [{"number": p.number, "label": p.label[lang]} for p in self.phones],
                "url": self.url, "hours": self.hours[lang] if self.hours else None}

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind,
                "regions": list(self.regions), "what": dict(self.what),
                "languages": list(self.languages),
                "contact": {"phones": [{"number": p.number, "label": dict(p.label)}
                                       for p in self.phones],
                            "url": self.url,
                            "hours": dict(self.hours) if self.hours else None},
                "note": dict(self.note) if self.note else None}


# -- strict readers ----------------------------------------------------------------------


def _fields(where: str, data: object, required: Iterable[str],
            optional: Iterable[str] = ()) -> dict[str, Any]:
    """`data` as an object with exactly the required keys and perhaps the optional ones."""
    if not isinstance(data, dict):
        raise DirectoryDataError(f"{where}: must be an object")
    required, optional = set(required), set(optional)
    missing = sorted(required - data.keys())
    unknown = sorted(data.keys() - required - optional)
    if missing:
        raise DirectoryDataError(f"{where}: missing {missing}")
    if unknown:
        raise DirectoryDataError(f"{where}: unknown fields {unknown}")
    return data


def _text(where: str, value: object, max_len: int, pattern: re.Pattern[str] | None = None
          ) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DirectoryDataError(f"{where}: must be a non-empty string")
    if len(value) > max_len:
        raise DirectoryDataError(f"{where}: longer than {max_len} characters")
    if value != value.strip():
        raise DirectoryDataError(f"{where}: leading or trailing white space")
    if pattern is not None and not pattern.match(value):
        raise DirectoryDataError(f"{where}: {value!r} is not of the form {pattern.pattern}")
    return value


def _list(where: str, value: object, min_items: int, max_items: int) -> list[Any]:
    if not isinstance(value, list) or not min_items <= len(value) <= max_items:
        raise DirectoryDataError(f"{where}: must be a list of {min_items} to {max_items} items")
    return value


def _unique(where: str, values: Iterable[str]) -> tuple[str, ...]:
    out = tuple(values)
    duplicates = sorted({v for v in out if out.count(v) > 1})
    if duplicates:
        raise DirectoryDataError(f"{where}: duplicates {duplicates}")
    return out


def _texts(where: str, value: object, max_len: int) -> dict[str, str]:
    """A text in every language of REFERRAL_TEXT_LANGUAGES: {"nl": ..., "en": ...}."""
    data = _fields(where, value, REFERRAL_TEXT_LANGUAGES)
    return {lang: _text(f"{where}.{lang}", data[lang], max_len)
            for lang in REFERRAL_TEXT_LANGUAGES}


def _read_json(entry: Traversable) -> Any:
    try:
        return json.loads(entry.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DirectoryDataError(f"{entry.name}: not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DirectoryDataError(f"{entry.name}: not valid JSON ({exc})") from None


# -- canned answers ----------------------------------------------------------------------


def parse_canned(data: object, where: str = "canned") -> tuple[str, tuple[CannedAnswer, ...]]:
    """One language's canned answers: `{"language", "answers": [{id, title, text, tags}]}`."""
    top = _fields(where, data, ("language", "answers"))
    language = _text(f"{where}.language", top["language"], 2, LANGUAGE)
    answers = []
    for n, raw in enumerate(_list(f"{where}.answers", top["answers"], 1, ANSWERS_MAX)):
        item = _fields(f"{where}.answers[{n}]", raw, ("id", "title", "text", "tags"))
        at = f"{where}.answers[{n}] ({item['id']!r})"
        tags = _unique(f"{at}.tags", (
            _text(f"{at}.tags", tag, 24, TAG)
            for tag in _list(f"{at}.tags", item["tags"], 1, TAGS_MAX)))
        answers.append(CannedAnswer(_text(f"{at}.id", item["id"], 40, ID),
                                    _text(f"{at}.title", item["title"], TITLE_MAX),
                                    _text(f"{at}.text", item["text"], TEXT_MAX), tags))
    _unique(f"{where}.answers ids", (a.id for a in answers))
    return language, tuple(answers)


def check_canned_languages(canned: dict[str, tuple[CannedAnswer, ...]]) -> None:
    """Every language has the default language's ids, in its order, with its tags."""
    if DEFAULT_LANGUAGE not in canned:
        raise DirectoryDataError(f"canned: no {DEFAULT_LANGUAGE}.json")
    ref_lang, ref = DEFAULT_LANGUAGE, canned[DEFAULT_LANGUAGE]
    for lang, answers in sorted(canned.items()):
        if [a.id for a in answers] != [a.id for a in ref]:
            extra = sorted({a.id for a in answers} - {a.id for a in ref})
            missing = sorted({a.id for a in ref} - {a.id for a in answers})
            raise DirectoryDataError(
                f"canned/{lang}.json: ids differ from {ref_lang}.json (missing {missing}, "
                f"extra {extra}, or another order)")
        for a, b in zip(answers, ref, strict=True):
            if a.tags != b.tags:
                raise DirectoryDataError(
                    f"canned/{lang}.json: {a.id!r} has tags {list(a.tags)}, "
                    f"{ref_lang}.json has {list(b.tags)}")


# -- referrals ---------------------------------------------------------------------------


def _referral(n: int, raw: object) -> Referral:
    item = _fields(f"referrals[{n}]", raw,
                   ("id", "name", "kind", "regions", "what", "languages", "contact"),
                   ("note",))
    at = f"referrals[{n}] ({item['id']!r})"
    kind = _text(f"{at}.kind", item["kind"], 40)
    if kind not in KINDS:
        raise DirectoryDataError(f"{at}.kind: {kind!r} is not one of {list(KINDS)}")
    regions = _unique(f"{at}.regions", (
        _text(f"{at}.regions", r, 20)
        for r in _list(f"{at}.regions", item["regions"], 1, len(PROVINCES))))
    unknown = [r for r in regions if r not in REGIONS]
    if unknown:
        raise DirectoryDataError(f"{at}.regions: {unknown} not among {list(REGIONS)}")
    if NATIONAL in regions and len(regions) > 1:
        raise DirectoryDataError(f"{at}.regions: 'national' stands alone")
    languages = _unique(f"{at}.languages", (
        _text(f"{at}.languages", lang, 2, LANGUAGE)
        for lang in _list(f"{at}.languages", item["languages"], 1, 20)))
    contact = _fields(f"{at}.contact", item["contact"], ("phones", "url", "hours"))
    phones = []
    for m, p in enumerate(_list(f"{at}.contact.phones", contact["phones"], 0, PHONES_MAX)):
        phone = _fields(f"{at}.contact.phones[{m}]", p, ("number", "label"))
        phones.append(Phone(_text(f"{at}.contact.phones[{m}].number", phone["number"], 20,
                                  PHONE),
                            _texts(f"{at}.contact.phones[{m}].label", phone["label"],
                                   LABEL_MAX)))
    url = (None if contact["url"] is None
           else _text(f"{at}.contact.url", contact["url"], 208, URL))
    if not phones and url is None:
        raise DirectoryDataError(f"{at}.contact: needs a phone number or a url")
    hours = (None if contact["hours"] is None
             else _texts(f"{at}.contact.hours", contact["hours"], HOURS_MAX))
    note = (None if item.get("note") is None
            else _texts(f"{at}.note", item["note"], NOTE_MAX))
    referral = Referral(_text(f"{at}.id", item["id"], 40, ID),
                        _text(f"{at}.name", item["name"], NAME_MAX), kind, regions,
                        _texts(f"{at}.what", item["what"], WHAT_MAX), languages,
                        tuple(phones), url, hours, note)
    # What the directory holds must also pass the widget's card rules, or the console
    # could not send it.
    for lang in REFERRAL_TEXT_LANGUAGES:
        try:
            check_referral(referral.card(lang))
        except EncodingError as exc:
            raise DirectoryDataError(f"{at}: not sendable as a card ({exc.message})") from None
    return referral


def parse_referrals(data: object) -> tuple[Referral, ...]:
    """The referral directory: `{"referrals": [...]}` (format in docs/protocol.md)."""
    top = _fields("referrals.json", data, ("referrals",))
    out = tuple(_referral(n, raw) for n, raw in enumerate(
        _list("referrals", top["referrals"], 1, REFERRALS_MAX)))
    _unique("referrals ids", (r.id for r in out))
    return out


# -- the service -------------------------------------------------------------------------


class Directory:
    """Read-only look-ups over the loaded data (no I/O after the start)."""

    def __init__(self, canned: dict[str, tuple[CannedAnswer, ...]],
                 referrals: tuple[Referral, ...]) -> None:
        check_canned_languages(canned)
        self._canned = dict(canned)
        self._referrals = referrals

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages with canned answers, sorted."""
        return tuple(sorted(self._canned))

    @property
    def canned_sets(self) -> dict[str, tuple[CannedAnswer, ...]]:
        """Every language's canned answers (to combine with an edited directory)."""
        return dict(self._canned)

    @property
    def all_referrals(self) -> tuple[Referral, ...]:
        return self._referrals

    def canned(self, language: str) -> list[dict[str, Any]]:
        """The canned answers of one language (a KeyError for another language)."""
        return [a.to_wire() for a in self._canned[language]]

    def referral(self, referral_id: str) -> Referral | None:
        return next((r for r in self._referrals if r.id == referral_id), None)

    def referrals(self, region: str | None = None, kind: str | None = None,
                  query: str | None = None) -> list[dict[str, Any]]:
        """The organisations that serve `region` (national ones serve every province),
        of `kind`, whose name, kind or description contains `query` (any case)."""
        needle = query.casefold() if query else None
        return [r.to_wire() for r in self._referrals
                if (region is None or r.covers(region))
                and (kind is None or r.kind == kind)
                and (needle is None or r.matches(needle))]


def load_directory(folder: Traversable | Path | None = None) -> Directory:
    """Read and check the data (by default `helpline/data`, shipped in the package)."""
    root: Traversable = folder if folder is not None else resources.files("helpline.data")
    canned: dict[str, tuple[CannedAnswer, ...]] = {}
    canned_dir = root / "canned"
    if not canned_dir.is_dir():
        raise DirectoryDataError("canned: folder not found")
    for entry in sorted(canned_dir.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        language, answers = parse_canned(_read_json(entry), f"canned/{entry.name}")
        if f"{language}.json" != entry.name:
            raise DirectoryDataError(f"canned/{entry.name}: language is {language!r}")
        canned[language] = answers
    referrals = parse_referrals(_read_json(root / "referrals.json"))
    return Directory(canned, referrals)
