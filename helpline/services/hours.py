"""The opening hours in force: the console's edit if there is one, else the environment's.

HELPLINE_OPENING_HOURS and HELPLINE_HOLIDAYS are the start-up default. A supervisor or
an admin may replace them from the console (`PUT /api/hours`) and go back to them
(`DELETE /api/hours`); the edit lives in Redis (storage/directory_store.py, `hours`),
so the very next `open` in every server process uses it: `current()` reads it on each
call (one HMGET). The text is checked by the same parser as the environment's
(domain/hours.py). Nothing here is about a person.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from helpline.domain.audit import AuditAction
from helpline.domain.hours import OpeningHours, parse_hours
from helpline.errors import InvalidPayload
from helpline.services.audit import AuditLog
from helpline.services.ports import Clock
from helpline.storage.redis_store import RedisStore

log = logging.getLogger("helpline.hours")

HOURS = "hours"
OPENING_HOURS_MAX = 500  # characters of the HELPLINE_OPENING_HOURS text
HOLIDAYS_MAX = 366
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True)
class HoursSpec:
    """The opening hours as configured: the text and the holidays (ISO dates)."""

    opening_hours: str
    holidays: tuple[str, ...]

    def parsed(self) -> OpeningHours:
        return parse_hours(self.opening_hours, ",".join(self.holidays))

    def to_wire(self) -> dict[str, Any]:
        return {"opening_hours": self.opening_hours, "holidays": list(self.holidays)}


def env_spec(opening_hours: str, holidays: str) -> HoursSpec:
    """The environment's values (HELPLINE_OPENING_HOURS, HELPLINE_HOLIDAYS, already
    checked by config.py) as a spec."""
    return HoursSpec(opening_hours, tuple(d.strip() for d in holidays.split(",") if d.strip()))


def check_spec(opening_hours: str, holidays: list[str]) -> HoursSpec:
    """A spec from the console, checked like the environment's; InvalidPayload naming
    what is wrong. Holidays come back sorted, each once."""
    text = opening_hours.strip()
    if len(text) > OPENING_HOURS_MAX:
        raise InvalidPayload(f"opening_hours: longer than {OPENING_HOURS_MAX} characters.")
    if len(holidays) > HOLIDAYS_MAX:
        raise InvalidPayload(f"holidays: more than {HOLIDAYS_MAX} dates.")
    for day in holidays:
        if not isinstance(day, str) or not ISO_DATE.match(day):
            raise InvalidPayload(f"holidays: {str(day)[:20]!r} is not a date (YYYY-MM-DD).")
    spec = HoursSpec(text, tuple(sorted(set(holidays))))
    try:
        spec.parsed()
    except ValueError as exc:
        raise InvalidPayload(f"Not valid opening hours: {exc}") from None
    return spec


class HoursService:
    def __init__(self, store: RedisStore, clock: Clock, audit: AuditLog,
                 default: HoursSpec) -> None:
        default.parsed()  # checked by config.py already; fail at start, not at an open
        self.store = store
        self.clock = clock
        self.audit = audit
        self.default = default
        self._parsed: tuple[HoursSpec, OpeningHours] = (default, default.parsed())

    async def spec(self) -> tuple[HoursSpec, str, int]:
        """The spec in force, where it comes from (`env` or `console`), its version.
        Not parsed here: `change` checked it before storing it."""
        edited = await self.store.get_edited(HOURS)
        if edited.data is not None:
            try:
                raw = json.loads(edited.data)
                return (HoursSpec(str(raw["opening_hours"]), tuple(raw["holidays"])),
                        "console", edited.version)
            except (ValueError, KeyError, TypeError) as exc:
                log.error("stored opening hours unreadable (%s); using the environment's",
                          type(exc).__name__)
        return self.default, "env", edited.version

    async def current(self) -> OpeningHours:
        """The opening hours in force now: one read of Redis per call (every `open`),
        parsed again only when the spec changed."""
        spec, _, _ = await self.spec()
        cached_spec, cached = self._parsed
        if spec != cached_spec:
            try:
                cached = spec.parsed()
            except ValueError as exc:  # only a later, stricter parser could refuse it
                log.error("stored opening hours unreadable (%s); using the environment's",
                          type(exc).__name__)
                spec, cached = self.default, self.default.parsed()
            self._parsed = (spec, cached)
        return cached

    async def document(self) -> dict[str, Any]:
        """What `GET /api/hours` answers."""
        spec, source, _ = await self.spec()
        hours = await self.current()
        now = dt.datetime.fromtimestamp(self.clock.now_ms() / 1000, dt.UTC)
        change = hours.next_change(now)
        return {**spec.to_wire(), "source": source, "open_now": hours.is_open(now),
                "next_change_at": int(change.timestamp() * 1000) if change else None}

    async def change(self, actor: str, role: str, opening_hours: str,
                     holidays: list[str]) -> dict[str, Any]:
        spec = check_spec(opening_hours, holidays)
        await self.store.set_edited(HOURS, json.dumps(spec.to_wire(), sort_keys=True))
        await self.audit.record(actor, role, AuditAction.HOURS_CHANGED, None, spec.to_wire())
        return await self.document()

    async def reset(self, actor: str, role: str) -> dict[str, Any]:
        await self.store.set_edited(HOURS, None)
        await self.audit.record(actor, role, AuditAction.HOURS_RESET, None,
                                self.default.to_wire())
        return await self.document()
