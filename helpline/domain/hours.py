"""Opening hours in Europe/Amsterdam time, with holidays.

Configured as text (HELPLINE_OPENING_HOURS), for example

    mon-fri 09:00-21:00; sat 12:00-18:00; sun closed

with HELPLINE_HOLIDAYS a comma list of dates (2026-12-25,2026-12-26) on which the
helpline is closed all day. "always" (the default) means open around the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class OpeningHours:
    # weekday (0 = Monday) -> list of (start minute, end minute) in local time
    week: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    holidays: frozenset[dt.date] = frozenset()
    always: bool = True

    def is_open(self, now: dt.datetime) -> bool:
        if self.always:
            return True
        local = now.astimezone(AMSTERDAM)
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.week.get(local.weekday(), []))

    def next_opening(self, now: dt.datetime) -> dt.datetime | None:
        """When the helpline opens next (now, if open); None if it never opens."""
        if self.is_open(now):
            return now
        local = now.astimezone(AMSTERDAM)
        for offset in range(0, 400):
            day = local.date() + dt.timedelta(days=offset)
            if day in self.holidays:
                continue
            for start, _ in sorted(self.week.get(day.weekday(), [])):
                opening = dt.datetime.combine(
                    day, dt.time(start // 60, start % 60), tzinfo=AMSTERDAM)
                if opening > local:
                    return opening
        return None

    def next_change(self, now: dt.datetime) -> dt.datetime | None:
        """When the helpline next closes (if open now) or opens (if closed now); None
        if it never changes ("always", or no opening hours at all)."""
        if self.always:
            return None
        open_now = self.is_open(now)
        local = now.astimezone(AMSTERDAM)
        for offset in range(0, 400):
            day = local.date() + dt.timedelta(days=offset)
            midnight = dt.datetime.combine(day, dt.time(0), tzinfo=AMSTERDAM)
            # is_open only changes at a span's start or end or at midnight (holidays).
            minutes = {0} | {m for span in self.week.get(day.weekday(), []) for m in span}
            for minute in sorted(minutes):
                at = midnight + dt.timedelta(minutes=minute)
                if at > local and self.is_open(at) != open_now:
                    return at
        return None


def parse_hours(spec: str, holidays: str = "") -> OpeningHours:
    """Parse the configuration text; raises ValueError naming what is wrong."""
    days_off = frozenset(dt.date.fromisoformat(d.strip()) for d in holidays.split(",")
                         if d.strip())
    if spec.strip().lower() in ("", "always"):
        return OpeningHours(holidays=days_off, always=True)
    week: dict[int, list[tuple[int, int]]] = {}
    for part in spec.split(";"):
        part = part.strip().lower()
        if not part:
            continue
        days_text, _, times = part.partition(" ")
        days = _days(days_text)
        times = times.strip()
        if times == "closed":
            continue
        for span in times.split(","):
            start, _, end = span.strip().partition("-")
            a, b = _minute(start), _minute(end)
            if not a < b:
                raise ValueError(f"{span!r}: the end must be after the start")
            for day in days:
                week.setdefault(day, []).append((a, b))
    return OpeningHours(week=week, holidays=days_off, always=False)


def _days(text: str) -> list[int]:
    first, _, last = text.partition("-")
    if first not in DAYS or (last and last not in DAYS):
        raise ValueError(f"{text!r}: days are mon, tue, wed, thu, fri, sat, sun or a range")
    a = DAYS.index(first)
    b = DAYS.index(last) if last else a
    return list(range(a, b + 1)) if a <= b else list(range(a, 7)) + list(range(0, b + 1))


def _minute(text: str) -> int:
    hours, _, minutes = text.partition(":")
    h, m = int(hours), int(minutes or "0")
    if not (0 <= h <= 24 and 0 <= m < 60) or h * 60 + m > 24 * 60:
        raise ValueError(f"{text!r} is not a time of day")
    return h * 60 + m
