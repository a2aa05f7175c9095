"""The directory every process serves: the console's edit of the canned answers and of
the referral directory, or the shipped files (services/directory.py) where there is none.

A supervisor or an admin replaces a whole document (`PUT /api/directory/canned` or
`/referrals`), checked by the same strict parsers as the shipped files, or goes back to
the shipped one (`DELETE`). The edit is stored in Redis with a version that counts
every change (storage/directory_store.py); a `PUT` that names the version it was based
on is refused with `conflict` if someone changed it meanwhile. Every process checks the
two versions on each read (one round trip) and re-reads a document only when its
version moved, so `GET /api/canned` and `/api/referrals` answer from the new data in
every process right after the change. Each change is audited and announced to every
staff console (`directory_changed`). The data holds nothing about anyone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from helpline.domain.audit import AuditAction
from helpline.errors import Conflict, InvalidPayload
from helpline.services.audit import AuditLog
from helpline.services.directory import (
    LANGUAGE,
    CannedAnswer,
    Directory,
    DirectoryDataError,
    Referral,
    check_canned_languages,
    parse_canned,
    parse_referrals,
)
from helpline.storage.directory_store import VersionConflict
from helpline.storage.redis_store import RedisStore

log = logging.getLogger("helpline.directory")

CANNED = "canned"
REFERRALS = "referrals"
WHATS = (CANNED, REFERRALS)
LANGUAGES_MAX = 20
DIRECTORY_CHANGED_EVENT = "directory_changed"

OnChanged = Callable[[str, int], Awaitable[None]]
Canned = dict[str, tuple[CannedAnswer, ...]]


# -- the documents -----------------------------------------------------------------------


def parse_canned_set(data: object) -> Canned:
    """`{"languages": {"nl": {"language": "nl", "answers": [...]}, ...}}`, each language
    as a shipped file, the same ids in every language (DirectoryDataError otherwise)."""
    if not isinstance(data, dict) or set(data) != {"languages"}:
        raise DirectoryDataError("canned: must be an object with only 'languages'")
    languages = data["languages"]
    if not isinstance(languages, dict) or not 1 <= len(languages) <= LANGUAGES_MAX:
        raise DirectoryDataError(
            f"canned.languages: must be an object of 1 to {LANGUAGES_MAX} languages")
    out: Canned = {}
    for code, doc in sorted(languages.items()):
        if not LANGUAGE.match(code):
            raise DirectoryDataError(f"canned.languages: {code[:10]!r} is not a language code")
        language, answers = parse_canned(doc, f"canned/{code}")
        if language != code:
            raise DirectoryDataError(f"canned/{code}: language is {language!r}")
        out[code] = answers
    check_canned_languages(out)
    return out


def canned_wire(canned: Canned) -> dict[str, Any]:
    return {"languages": {lang: {"language": lang, "answers": [a.to_wire() for a in answers]}
                          for lang, answers in sorted(canned.items())}}


def referrals_wire(referrals: tuple[Referral, ...]) -> dict[str, Any]:
    return {"referrals": [r.to_wire() for r in referrals]}


@dataclass(frozen=True)
class _Snapshot:
    """What one read saw: each document's version, whether it is an edit, the data."""

    versions: dict[str, int]
    edited: dict[str, bool]
    canned: Canned
    referrals: tuple[Referral, ...]
    directory: Directory


# -- the service -------------------------------------------------------------------------


class LiveDirectory:
    def __init__(self, store: RedisStore, shipped: Directory, audit: AuditLog,
                 on_changed: OnChanged) -> None:
        self.store = store
        self.shipped = shipped
        self.audit = audit
        self.on_changed = on_changed
        self._snapshot = _Snapshot({CANNED: -1, REFERRALS: -1}, {CANNED: False,
                                   REFERRALS: False}, shipped.canned_sets,
                                   shipped.all_referrals, shipped)

    async def current(self) -> Directory:
        """The directory in force now, in every process (a version check per call)."""
        return (await self._current()).directory

    async def _current(self) -> _Snapshot:
        snap = self._snapshot
        versions = await self.store.get_edited_versions(WHATS)
        if versions == snap.versions:
            return snap
        new_versions, edited = dict(snap.versions), dict(snap.edited)
        canned, referrals = snap.canned, snap.referrals
        for what in WHATS:
            if versions[what] == snap.versions[what]:
                continue
            stored = await self.store.get_edited(what)
            new_versions[what] = stored.version
            parsed: Any = None
            if stored.data is not None:
                try:
                    raw = json.loads(stored.data)
                    parsed = parse_canned_set(raw) if what == CANNED else parse_referrals(raw)
                except (ValueError, DirectoryDataError) as exc:
                    # Checked when stored; only a later, stricter parser could refuse it.
                    log.error("stored %s unreadable (%s); serving the shipped files", what,
                              exc)
            edited[what] = parsed is not None
            if what == CANNED:
                canned = parsed or self.shipped.canned_sets
            else:
                referrals = parsed or self.shipped.all_referrals
        snap = _Snapshot(new_versions, edited, canned, referrals, Directory(canned, referrals))
        self._snapshot = snap
        return snap

    async def document(self, what: str) -> dict[str, Any]:
        """What `GET /api/directory/<what>` answers: the whole document, its version and
        whether it is the shipped one or an edit."""
        snap = await self._current()
        body = canned_wire(snap.canned) if what == CANNED else referrals_wire(snap.referrals)
        return {**body, "version": snap.versions[what],
                "source": "edited" if snap.edited[what] else "shipped"}

    async def replace(self, what: str, actor: str, role: str, document: object,
                      expected_version: int | None) -> dict[str, Any]:
        """Check and store a whole document; InvalidPayload naming the item, Conflict if
        `expected_version` is given and no longer the current one."""
        try:
            if what == CANNED:
                canned = parse_canned_set(document)
                wire = canned_wire(canned)
                details = {"count": len(canned["nl"]) if "nl" in canned else 0,
                           "languages": sorted(canned)}
                action = AuditAction.CANNED_UPDATED
            else:
                referrals = parse_referrals(document)
                wire, details = referrals_wire(referrals), {"count": len(referrals)}
                action = AuditAction.REFERRALS_UPDATED
        except DirectoryDataError as exc:
            raise InvalidPayload(str(exc)) from None
        version = await self._store(what, json.dumps(wire, sort_keys=True,
                                                     separators=(",", ":")), expected_version)
        await self.audit.record(actor, role, action, None, {"version": version, **details})
        await self.on_changed(what, version)
        return await self.document(what)

    async def reset(self, what: str, actor: str, role: str) -> dict[str, Any]:
        """Back to the shipped file."""
        version = await self._store(what, None, None)
        action = AuditAction.CANNED_RESET if what == CANNED else AuditAction.REFERRALS_RESET
        await self.audit.record(actor, role, action, None, {"version": version})
        await self.on_changed(what, version)
        return await self.document(what)

    async def _store(self, what: str, data: str | None, expected: int | None) -> int:
        try:
            return await self.store.set_edited(what, data, expected)
        except VersionConflict as exc:
            raise Conflict(f"The {what} were changed since version {expected} (now "
                           f"version {exc.current}): reload them and make your change "
                           "again.") from None
