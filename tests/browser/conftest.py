"""Browser tests: Playwright for Python driving Debian's Chromium (/usr/bin/chromium;
`.ci/run` installs it, never `playwright install`) against a real `helpline serve`
process from the Harness, with a throw-away profile folder per test so what the
browser keeps on disk can be read afterwards.

Screenshots go to tests/browser/artifacts/ (gitignored), one per screen at 360 px.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, CDPSession, Page, async_playwright

from tests.conftest import Harness, ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
PHONE = {"width": 360, "height": 740}
CHROMIUM_PRESENT = Path(CHROMIUM).exists()


def widget_server(harness: Harness, **overrides: str) -> ServerProcess:
    """A server whose own origin may open sockets (the browser's pages come from it),
    with the demo page on and quick exit leaving for a page of the same server (so the
    test makes no request to a third party)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = harness.env(**{"HELPLINE_ALLOWED_ORIGINS": url, "HELPLINE_WIDGET_DEMO": "on",
                         "HELPLINE_EXIT_URL": f"{url}/healthz", **overrides})
    srv = ServerProcess(env, port, log_path=harness.tmp / f"server-{len(harness.servers)}.log")
    srv.start()
    harness.servers.append(srv)
    return srv


@dataclass
class Browser:
    """One persistent Chromium context on its own profile folder, plus what it asked for."""

    context: BrowserContext
    profile: Path
    requests: list[str] = field(default_factory=list)

    async def page(self) -> Page:
        page = self.context.pages[0] if self.context.pages else await self.context.new_page()
        return page

    async def cdp(self, page: Page) -> CDPSession:
        return await self.context.new_cdp_session(page)


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    if not CHROMIUM_PRESENT:
        pytest.fail("Debian's chromium is needed at /usr/bin/chromium "
                    "(apt-get install chromium fonts-dejavu-core; .ci/run does it)")
    profile = tmp_path / "profile"
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport=PHONE, locale="nl-NL")
        b = Browser(context, profile)
        context.on("request", lambda r: b.requests.append(r.url))
        try:
            yield b
        finally:
            await context.close()


async def new_browser(tmp_path: Path, name: str, **options: Any) -> tuple[Any, Browser]:
    """Another browser (a fresh profile), for tests that need a second one or a locale;
    returns (playwright, browser): close with close_browser."""
    p = await async_playwright().start()
    profile = tmp_path / name
    context = await p.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
        viewport=PHONE, **options)
    b = Browser(context, profile)
    context.on("request", lambda r: b.requests.append(r.url))
    return p, b


async def reopen(b: Browser) -> tuple[Any, Browser]:
    """The same profile folder in a new browser process (after b was closed)."""
    p = await async_playwright().start()
    context = await p.chromium.launch_persistent_context(
        str(b.profile), executable_path=CHROMIUM, headless=True, args=ARGS, viewport=PHONE)
    return p, Browser(context, b.profile)


async def close_browser(p: Any, b: Browser) -> None:
    await b.context.close()
    await p.stop()


def hosts(urls: list[str]) -> set[str]:
    return {urlsplit(u).netloc for u in urls if urlsplit(u).scheme in ("http", "https", "ws",
                                                                        "wss")}


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    # From the top: a full-page shot of a scrolled page draws the sticky header midway.
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def axe(page: Page) -> list[dict[str, Any]]:
    """axe-core from npm, evaluated in the page (the page's CSP stays on)."""
    if not AXE.exists():
        pytest.fail("node_modules/axe-core is missing: run `npm ci`")
    await page.evaluate(AXE.read_text() + "\n;0")
    result = await page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: tags})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' '))}))", AXE_TAGS)
    assert isinstance(result, list)
    return result


async def storage_left(browser: Browser, page: Page, origin: str) -> dict[str, Any]:
    """Everything a site could have left in the browser, read over CDP."""
    cdp = await browser.cdp(page)
    cookies = (await cdp.send("Storage.getCookies"))["cookies"]
    usage = await cdp.send("Storage.getUsageAndQuota", {"origin": origin})
    idb = (await cdp.send("IndexedDB.requestDatabaseNames",
                          {"securityOrigin": origin}))["databaseNames"]
    caches = (await cdp.send("CacheStorage.requestCacheNames",
                             {"securityOrigin": origin}))["caches"]
    history = await cdp.send("Page.getNavigationHistory")
    await cdp.detach()
    return {"cookies": cookies, "usage": usage["usage"], "indexeddb": idb, "caches": caches,
            "history": [e["url"] for e in history["entries"]]}


def profile_files_mentioning(profile: Path, needles: list[bytes],
                             skip: tuple[str, ...] = ()) -> list[str]:
    """Files of the profile folder (closed browser) holding any of the needles."""
    found = []
    for path in profile.rglob("*"):
        if not path.is_file() or any(s in path.parts for s in skip):
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if any(n in data for n in needles):
            found.append(str(path.relative_to(profile)))
    return sorted(found)


def history_urls(profile: Path) -> list[str]:
    """The URLs in the browser's own History database: what no page can erase."""
    db = profile / "Default" / "History"
    if not db.exists():
        return []
    copy = profile.parent / f"{profile.name}-History-copy"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as conn:
        rows = [r[0] for r in conn.execute("SELECT url FROM urls ORDER BY id")]
    return rows


def quota_buckets(profile: Path) -> list[tuple[Any, ...]]:
    """The storage buckets Chromium's quota database still lists (none may be ours)."""
    db = profile / "Default" / "WebStorage" / "QuotaManager"
    if not db.exists():
        return []
    copy = profile.parent / f"{profile.name}-QuotaManager-copy"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as conn:
        return list(conn.execute("SELECT * FROM buckets"))


def code_cache_urls(profile: Path, needle: bytes) -> list[str]:
    """The script URLs V8's code cache holds for the helpline's origin."""
    urls = []
    for path in (profile / "Default" / "Code Cache").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            urls += [m.decode() for m in re.findall(rb"https?://" + re.escape(needle) +
                                                   rb"/[\x21-\x7e]*", data)]
    # Keys name the top-level site too ("http://host:port/"): only the scripts count.
    return sorted({u for u in urls if not u.endswith("/")})


async def until_js(page: Page, expression: str, arg: Any = None, timeout: float = 15) -> Any:
    """Poll `expression` (a JS function of `arg`) until it returns something truthy.

    Not `page.wait_for_function`: its polling evaluates a string in the page, which the
    widget's CSP (no 'unsafe-eval') refuses whenever the first check is false."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := await page.evaluate(expression, arg)):
        assert loop.time() < deadline, f"never true: {expression}"
        await asyncio.sleep(0.1)
    return value
