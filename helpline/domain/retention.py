"""Retention and statistics rules: when a conversation is purged, what is counted,
and how an export hides small numbers.

Nothing here touches storage. Counting happens once per conversation, into cells of
week x form x age band x language x campaign x referral x police handover; the
cells are counters, never rows about a conversation. An export shows, per week and
per dimension, how many conversations had each value, and:

- only weeks that are over, so a later export cannot be differenced against an
  earlier one to learn about a single new conversation;
- every count from 1 to 4 is suppressed ("primary" suppression, threshold 5);
- in each row (a week's values of one dimension, with the week's total), if exactly
  one count is suppressed, the smallest other non-zero count is suppressed too
  ("complementary" suppression), so no suppressed count equals the total minus the
  shown ones; a week whose total is below the threshold is suppressed entirely.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from helpline.domain.wrapup import AgeBand, ExploitationForm, Referral

THRESHOLD = 5
SUPPRESSED = None  # shown as an empty cell in CSV and null in JSON

DIMENSIONS = ("form", "age_band", "language", "campaign", "referral", "police")
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class RetentionPolicy:
    days: int = 30
    police_days: int = 365
    idle_hours: int = 24

    def purge_at(self, closed_at_ms: int, police_involved: bool) -> int:
        days = self.police_days if police_involved else self.days
        return closed_at_ms + days * DAY_MS

    @property
    def longest_days(self) -> int:
        return max(self.days, self.police_days)


def iso_week(ms: int) -> str:
    year, week, _ = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isocalendar()
    return f"{year}-W{week:02d}"


def week_is_over(week: str, now_ms: int) -> bool:
    year, number = week.split("-W")
    monday = dt.datetime.fromisocalendar(int(year), int(number), 1).replace(tzinfo=dt.UTC)
    return (monday + dt.timedelta(days=7)).timestamp() * 1000 <= now_ms


def stats_cell(form: str | None, age_band: str | None, language: str | None,
               campaign: str | None, referral: str | None, police: bool) -> str:
    """The counter a conversation adds one to; every value from a closed list."""
    values = (
        form if form in {f.value for f in ExploitationForm} else "unknown",
        age_band if age_band in {a.value for a in AgeBand} else "unknown",
        (language or "unknown")[:8],
        campaign or "none",
        referral if referral in {r.value for r in Referral} else "none",
        "yes" if police else "no",
    )
    return "|".join(values)


@dataclass(frozen=True)
class Row:
    week: str
    dimension: str
    total: int | None
    counts: dict[str, int | None]


def export_rows(weeks: Mapping[str, Mapping[str, int]], now_ms: int) -> list[Row]:
    """Per finished week and dimension, the suppressed counts of each value."""
    rows = []
    for week in sorted(w for w in weeks if week_is_over(w, now_ms)):
        cells = weeks[week]
        total = sum(cells.values())
        for position, dimension in enumerate(DIMENSIONS):
            counts: dict[str, int] = defaultdict(int)
            for cell, n in cells.items():
                counts[cell.split("|")[position]] += n
            rows.append(suppress(week, dimension, total, dict(counts)))
    return rows


def suppress(week: str, dimension: str, total: int, counts: dict[str, int]) -> Row:
    if total < THRESHOLD:
        return Row(week, dimension, SUPPRESSED, {k: SUPPRESSED for k in counts})
    shown: dict[str, int | None] = {
        k: (SUPPRESSED if 0 < v < THRESHOLD else v) for k, v in counts.items()}
    hidden = [k for k, v in shown.items() if v is SUPPRESSED]
    if len(hidden) == 1:
        others = sorted((v, k) for k, v in counts.items() if k not in hidden and v > 0)
        if others:
            shown[others[0][1]] = SUPPRESSED
    return Row(week, dimension, total, shown)


def rows_to_csv(rows: Iterable[Row]) -> str:
    lines = ["week,dimension,value,count,week_total"]
    for row in rows:
        total = "" if row.total is None else str(row.total)
        for value, count in sorted(row.counts.items()):
            lines.append(f"{row.week},{row.dimension},{value},"
                         f"{'' if count is None else count},{total}")
    return "\n".join(lines) + "\n"
