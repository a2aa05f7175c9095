"""The supervisor's statistics dashboard and the admin's audit log, in Chromium.

Statistics: seeded weekly counts of two settled weeks are drawn as charts (the canvases
hold drawn pixels) with a table of the same numbers under each; a count of 1 shows as
hidden; the CSV downloaded from the page says exactly what the tables say. Audit: the
admin (no device keys needed) sees the log, filters it, the chain verifies, and an entry
changed in Redis is flagged by the next check."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from PIL import Image
from playwright.async_api import Page

from helpline.domain.retention import iso_week, stats_cell
from helpline.domain.roles import Role
from tests.browser.conftest import Browser, axe, shot, widget_server
from tests.browser.console_helpers import (
    approved_console,
    open_console,
    screen,
    sign_in,
    watch_errors,
)
from tests.conftest import Harness

WEEK_MS = 7 * 24 * 3600 * 1000
# (form, age band, language, campaign, referral, police) -> conversations, per week.
SEED = {
    3: {("sexual", "16_17", "nl", "tiktok", "care", False): 9,
        ("criminal", "12_15", "nl", None, "police", True): 6,
        ("labour", "16_17", "pl", None, "labour_inspectorate", False): 1},
    2: {("sexual", "16_17", "nl", "tiktok", "care", False): 7,
        ("criminal", "16_17", "en", None, "none", False): 8},
}


async def _seed(harness: Harness) -> list[str]:
    r = await harness.redis()
    weeks = []
    try:
        for ago, cells in SEED.items():
            week = iso_week(int(time.time() * 1000) - ago * WEEK_MS)
            weeks.append(week)
            for values, n in cells.items():
                await r.hset(f"{harness.prefix}stats:{week}", stats_cell(*values), n)
    finally:
        await r.aclose()
    return sorted(weeks)


# The first colours of charts.js's palette: bars, not axes or grid lines (grey).
BAR_COLOURS = ((0x00, 0x72, 0xB2), (0xD5, 0x5E, 0x00), (0x00, 0x9E, 0x73))


def _bar_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    return sum(n for n, (r, g, b) in colours
               if any(abs(r - cr) + abs(g - cg) + abs(b - cb) < 30 for cr, cg, cb in BAR_COLOURS))


async def _tables(page: Page) -> dict[tuple[str, str, str], str]:
    """(week, dimension, value) -> what the table cell says."""
    data = await page.evaluate("""() => [...document.querySelectorAll('table[data-table]')]
      .map((t) => ({
        dim: t.dataset.table,
        weeks: [...t.querySelectorAll('thead th')].slice(1).map((th) => th.textContent),
        rows: [...t.querySelectorAll('tbody tr')].map((tr) => ({value: tr.dataset.value,
               cells: [...tr.querySelectorAll('td')].map((td) => td.textContent)}))}))""")
    out = {}
    for table in data:
        for row in table["rows"]:
            for week, text in zip(table["weeks"], row["cells"], strict=True):
                out[(week, table["dim"], row["value"])] = text
    return out


async def test_the_dashboard_draws_the_settled_weeks_hides_small_cells_and_exports_the_same(
    harness: Harness, browser: Browser, tmp_path: Path
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    weeks = await _seed(harness)
    page = await browser.page()
    errors = watch_errors(page)
    await approved_console(harness, page, srv.url, "sanne", Role.SUPERVISOR)
    await page.get_by_role("button", name="Statistics").click()
    await screen(page, "stats", errors)
    await page.get_by_role("heading", name="Forms of exploitation").wait_for()

    cells = await _tables(page)
    assert cells[(weeks[0], "total", "total")] == "16"
    assert cells[(weeks[0], "form", "sexual")] == "9"
    assert cells[(weeks[0], "form", "labour")] == "hidden"  # a count of 1
    assert cells[(weeks[1], "form", "criminal")] == "8"
    assert cells[(weeks[0], "campaign", "tiktok")] == "9"
    assert cells[(weeks[0], "police", "yes")] == "6"
    # Every chart has its bars drawn (Chart.js loads as its own chunk).
    canvases = page.locator("canvas[data-chart]")
    assert await canvases.count() == 7
    for i in range(7):
        assert _bar_pixels(await canvases.nth(i).screenshot()) > 5000, i  # legend swatches: <2000
    assert await axe(page) == []
    await page.set_viewport_size({"width": 1280, "height": 2400})
    await shot(page, "console-stats")

    # The export a click away says what the page says, cell for cell.
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Download CSV").click()
    exported = (await (await info.value).path()).read_text()
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows and {r["week"] for r in rows} == set(weeks)
    for r in rows:
        shown = cells[(r["week"], r["dimension"], r["value"])]
        assert shown == (r["count"] or "hidden"), r
        total = cells[(r["week"], "total", "total")]
        assert total == (r["week_total"] or "hidden"), r
    exported_cells = {(r["week"], r["dimension"], r["value"]) for r in rows}
    assert exported_cells <= set(cells)
    # What the export leaves out, that week had none of: the page says 0.
    assert {v for k, v in cells.items() if k[1] != "total" and k not in exported_cells} == {"0"}
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Download JSON").click()
    as_json = json.loads((await (await info.value).path()).read_text())
    assert len(as_json["rows"]) == len({(r["week"], r["dimension"]) for r in rows})
    assert errors == []


async def test_the_admin_reads_filters_and_verifies_the_audit_log_and_sees_tampering(
    harness: Harness, browser: Browser
) -> None:
    srv = widget_server(harness)
    await harness.add_staff("ada", Role.ADMIN)
    await harness.add_staff("carmen")
    carmen = await harness.staff("carmen", create=False)  # a login of someone else
    assert carmen.token
    page = await browser.page()
    errors = watch_errors(page)
    await open_console(page, srv.url)
    await sign_in(page, "ada")
    await screen(page, "stats", errors)  # an admin needs no device keys
    assert await page.get_by_role("button", name="Queue").count() == 0
    await page.get_by_role("button", name="Audit log").click()
    await screen(page, "audit", errors)
    log = page.locator("table.audit-log tbody tr")
    await log.first.wait_for()
    logins = await page.locator("table.audit-log tbody tr", has_text="login").count()
    assert logins >= 2
    await page.get_by_label("Staff member").select_option("carmen")
    assert await log.count() >= 1
    assert all("carmen" in row for row in await log.all_inner_texts())
    await page.get_by_label("Staff member").select_option("")
    await page.get_by_label("Action").select_option("login")
    assert await log.count() == logins
    await page.get_by_role("button", name="Verify the chain").click()
    await page.get_by_text("The chain is intact").wait_for()
    assert await axe(page) == []
    await shot(page, "console-audit")

    # Someone with Redis rewrites the first entry: the next check names it.
    r = await harness.redis()
    try:
        first = json.loads(await r.lindex(f"{harness.prefix}audit", 0))
        first["actor"] = "nobody"
        await r.lset(f"{harness.prefix}audit", 0, json.dumps(first))
    finally:
        await r.aclose()
    await page.get_by_role("button", name="Refresh").click()
    await page.get_by_role("button", name="Verify the chain").click()
    await page.get_by_role("alert").filter(has_text="The chain is broken at entry 0").wait_for()
    flagged = page.locator("tr.flagged")
    assert await flagged.count() == 1
    assert "nobody" in await flagged.inner_text() and "(changed)" in await flagged.inner_text()
    assert await axe(page) == []
    await shot(page, "console-audit-broken")
