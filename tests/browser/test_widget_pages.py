"""The widget in a real Chromium: the snippet, the iframe, the headers, quick exit,
accessibility and the screens, against a real server process."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from playwright.async_api import Page, Response

from helpline.transport.widget import STATIC
from tests.browser.conftest import (
    Browser,
    axe,
    close_browser,
    code_cache_urls,
    history_urls,
    hosts,
    new_browser,
    profile_files_mentioning,
    quota_buckets,
    reopen,
    shot,
    storage_left,
    widget_server,
)
from tests.conftest import Harness

# Where a site's data lives in a Chromium profile: none of it may mention the helpline.
STORAGE_DIRS = ("Local Storage", "Session Storage", "IndexedDB", "Service Worker",
                "Cache/", "File System", "Shared Dictionary", "blob_storage", "Storage",
                "shared_proto_db", "databases")


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


async def _app_frame(page: Page):  # type: ignore[no-untyped-def]
    await page.get_by_role("button", name="Chat met ons").click()
    handle = await page.wait_for_selector("iframe")
    frame = await handle.content_frame()
    assert frame is not None
    await frame.get_by_role("button", name="Start de chat").wait_for()
    return frame


async def test_demo_page_loads_the_loader_with_a_valid_sri_and_opens_the_iframe(
    harness: Harness, browser: Browser
) -> None:
    srv = widget_server(harness)
    page = await browser.page()
    await page.goto(f"{srv.url}/demo")
    tag = page.locator('script[src$="/widget/loader.js"]')
    integrity = await tag.get_attribute("integrity")
    assert await tag.get_attribute("crossorigin") == "anonymous"
    async with aiohttp.ClientSession() as http, http.get(f"{srv.url}/widget/loader.js") as r:
        served = await r.read()
    assert integrity == _sri(served) == _sri((STATIC / "loader.js").read_bytes())
    frame = await _app_frame(page)
    # The app inside comes from the widget origin and knows nothing from the URL.
    assert frame.url == f"{srv.url}/chat"
    assert await page.get_by_role("button", name="Snel weg").is_visible()
    await shot(page, "demo-host-page-open")
    assert hosts(browser.requests) == {urlsplit(srv.url).netloc}, browser.requests


async def test_a_loader_that_does_not_match_its_integrity_is_not_run(
    harness: Harness, browser: Browser
) -> None:
    """The browser enforces the snippet's SRI: a changed loader draws nothing."""
    srv = widget_server(harness)
    page = await browser.page()
    await page.route("**/widget/loader.js", lambda route: route.fulfill(
        status=200, body=(STATIC / "loader.js").read_bytes() + b"\n;",
        headers={"Content-Type": "text/javascript", "Access-Control-Allow-Origin": "*"}))
    await page.goto(f"{srv.url}/demo")
    await page.wait_for_timeout(500)
    assert await page.get_by_role("button", name="Chat met ons").count() == 0


async def test_every_widget_response_carries_the_privacy_headers(
    harness: Harness, browser: Browser
) -> None:
    srv = widget_server(harness)
    page = await browser.page()
    seen: list[Response] = []
    page.on("response", lambda r: seen.append(r))
    await page.goto(f"{srv.url}/demo")
    await _app_frame(page)
    await page.goto(f"{srv.url}/chat")
    await page.get_by_role("button", name="Start de chat").wait_for()
    urls = {urlsplit(r.url).path for r in seen}
    assert {"/demo", "/chat", "/widget/loader.js", "/widget/app.js",
            "/widget/style.css"} <= urls, urls
    # Every built file too, fetched directly, and /exit.
    async with aiohttp.ClientSession() as http:
        direct = {}
        for name in [p.name for p in STATIC.iterdir()] + ["../exit"]:
            path = "/exit" if name == "../exit" else f"/widget/{name}"
            async with http.get(srv.url + path) as r:
                assert r.status == 200, path
                direct[path] = dict(r.headers)
    checked = [(urlsplit(r.url).path, await r.all_headers()) for r in seen
               if urlsplit(r.url).path.startswith(("/widget/", "/chat", "/demo", "/exit"))]
    checked += [(p, {k.lower(): v for k, v in h.items()}) for p, h in direct.items()]
    for path, headers in checked:
        assert headers.get("cache-control") == "no-store", path
        assert headers.get("referrer-policy") == "no-referrer", path
        assert headers.get("x-content-type-options") == "nosniff", path
        csp = headers.get("content-security-policy", "")
        assert "default-src 'none'" in csp, (path, csp)
        assert "frame-ancestors" in csp, (path, csp)
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, (path, csp)
        assert "set-cookie" not in headers, path
    assert direct["/exit"]["Clear-Site-Data"] == '"cache", "cookies", "storage"'


async def _assert_nothing_left(browser: Browser, page: Page, srv_url: str,
                               before_exit: list[str]) -> None:
    await page.wait_for_url(f"{srv_url}/healthz")
    cdp = await browser.cdp(page)
    history = [e["url"] for e in (await cdp.send("Page.getNavigationHistory"))["entries"]]
    cookies = (await cdp.send("Storage.getCookies"))["cookies"]
    await cdp.detach()
    assert cookies == []
    # No Back entry: the pages of the chat were replaced, not left behind.
    assert not [u for u in history if any(p in u for p in before_exit)], history
    assert history[-1] == f"{srv_url}/healthz"
    await browser.context.close()
    # On disk, before anything asks for the site's storage again: no site data of the
    # helpline in the profile. The browser's own History list holds the visited pages
    # (no page can erase that: the "cover your tracks" note says so).
    needle = urlsplit(srv_url).netloc.encode()
    stored = profile_files_mentioning(browser.profile, [needle, needle.replace(b":", b"_")])
    assert not [f for f in stored if any(f.startswith("Default/" + d) for d in STORAGE_DIRS)
                ], stored
    assert quota_buckets(browser.profile) == []
    # What Chromium keeps anyway, Clear-Site-Data or not: V8's code cache of the public
    # widget scripts, keyed by their URLs (no page, no message: docs/security.md).
    for name in code_cache_urls(browser.profile, needle):
        assert re.fullmatch(rf"{re.escape(srv_url)}/widget/[A-Za-z0-9-]+\.js", name), name
    assert {urlsplit(u).path for u in history_urls(browser.profile)} <= {
        "/chat", "/demo", "/healthz", "/exit"}
    # The same profile again, asked over CDP and from a page of the origin.
    p, again = await reopen(browser)
    try:
        page = await again.page()
        await page.goto(f"{srv_url}/healthz")
        left = await storage_left(again, page, srv_url)
        assert left["cookies"] == [] and left["indexeddb"] == [] and left["caches"] == []
        assert left["usage"] == 0, left
        assert await page.evaluate("localStorage.length + sessionStorage.length") == 0
        assert await page.evaluate(
            "navigator.serviceWorker.getRegistrations().then(r => r.length)") == 0
    finally:
        await close_browser(p, again)


@pytest.mark.parametrize("how", ["button", "escape"])
async def test_quick_exit_from_the_chat_page_leaves_nothing_behind(
    harness: Harness, browser: Browser, how: str
) -> None:
    srv = widget_server(harness)
    page = await browser.page()
    await page.goto(f"{srv.url}/chat")
    await page.get_by_role("button", name="Start de chat").wait_for()
    if how == "button":
        await page.get_by_role("button", name="Snel weg").click()
    else:
        for _ in range(3):
            await page.keyboard.press("Escape")
    await _assert_nothing_left(browser, page, srv.url, ["/chat", "/exit"])
    assert hosts(browser.requests) == {urlsplit(srv.url).netloc}


@pytest.mark.parametrize("how", ["host-button", "app-button", "host-escape"])
async def test_quick_exit_from_the_demo_page_leaves_nothing_behind(
    harness: Harness, browser: Browser, how: str
) -> None:
    srv = widget_server(harness)
    page = await browser.page()
    await page.goto(f"{srv.url}/demo")
    frame = await _app_frame(page)
    if how == "host-button":
        await page.get_by_role("button", name="Snel weg").click()
    elif how == "app-button":
        await frame.get_by_role("button", name="Snel weg").click()
    else:
        await page.locator("h1").click()
        for _ in range(3):
            await page.keyboard.press("Escape")
    await _assert_nothing_left(browser, page, srv.url, ["/demo", "/chat", "/exit"])


@pytest.mark.parametrize(("locale", "lang", "direction", "start"), [
    ("nl-NL", "nl", "ltr", "Start de chat"), ("ar", "ar", "rtl", "ابدأ الدردشة")])
async def test_the_start_screen_has_no_accessibility_violations(
    harness: Harness, tmp_path: Path, locale: str, lang: str, direction: str, start: str
) -> None:
    srv = widget_server(harness)
    p, b = await new_browser(tmp_path, f"profile-{lang}", locale=locale)
    try:
        page = await b.page()
        await page.goto(f"{srv.url}/chat")
        await page.get_by_role("button", name=start).wait_for()
        assert await page.evaluate("[document.documentElement.lang, document.dir]") == [
            lang, direction]
        assert await axe(page) == []
        await shot(page, f"start-{lang}")
        await page.locator("summary").click()
        assert await axe(page) == []
        await shot(page, f"cover-your-tracks-{lang}")
        await page.locator("#have-code").click()
        await page.locator("#code-input").wait_for()
        assert await axe(page) == []
        await shot(page, f"enter-code-{lang}")
    finally:
        await close_browser(p, b)


async def test_the_language_can_be_switched_and_arabic_is_right_to_left(
    harness: Harness, browser: Browser
) -> None:
    srv = widget_server(harness)
    page = await browser.page()
    await page.goto(f"{srv.url}/chat")
    await page.get_by_role("button", name="Start de chat").wait_for()
    await page.get_by_label("Taal").select_option("ar")
    await page.get_by_role("button", name="ابدأ الدردشة").wait_for()
    assert await page.evaluate("document.dir") == "rtl"
    await page.get_by_label("اللغة").select_option("pt")
    await page.get_by_role("button", name="Começar o chat").wait_for()
    assert await page.evaluate("[document.documentElement.lang, document.dir]") == ["pt", "ltr"]
    # Each language is its own chunk, fetched only when chosen.
    chunks = [u for u in browser.requests if re.search(r"/widget/chunk-", u)]
    assert len(chunks) >= 3


async def test_keyboard_only_reaches_start_and_quick_exit_with_visible_focus(
    harness: Harness, browser: Browser
) -> None:
    srv = widget_server(harness)
    page = await browser.page()
    await page.goto(f"{srv.url}/chat")
    await page.get_by_role("button", name="Start de chat").wait_for()
    reached = []
    for _ in range(12):
        await page.keyboard.press("Tab")
        info = await page.evaluate(
            "(() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return [e.id || e.tagName, s.outlineStyle, s.outlineWidth]; })()")
        if info[0] == "BODY":
            break
        reached.append(info[0])
        assert info[1] != "none" and info[2] != "0px", info
    assert "quick-exit" in reached and "start" in reached, reached
    assert reached.index("quick-exit") < reached.index("start")


async def test_the_disguise_look_shows_a_neutral_launcher_and_title(
    harness: Harness, browser: Browser
) -> None:
    srv = widget_server(harness)
    page = await browser.page()
    await page.goto(f"{srv.url}/demo?look=disguise")
    launcher = page.get_by_role("button", name="Notities")
    await launcher.wait_for()
    assert await page.get_by_role("button", name="Chat met ons").count() == 0
    await shot(page, "disguise-launcher")
    await launcher.click()
    handle = await page.wait_for_selector("iframe")
    assert await handle.get_attribute("title") == "Notities"
    frame = await handle.content_frame()
    assert frame is not None
    await frame.get_by_role("button", name="Start de chat").wait_for()
    assert await frame.evaluate("document.title") == "Notities"
    assert await frame.locator(".brand").text_content() == "Notities"
    await shot(page, "disguise-open")


async def test_motion_is_off_when_the_young_person_asks_for_reduced_motion(
    harness: Harness, browser: Browser
) -> None:
    srv = widget_server(harness)
    page = await browser.page()
    durations = {}
    for motion in ("no-preference", "reduce"):
        await page.emulate_media(reduced_motion=motion)  # type: ignore[arg-type]
        await page.goto(f"{srv.url}/chat")
        await page.get_by_role("button", name="Start de chat").wait_for()
        # The blur that hides the chat when someone walks in is the widget's one motion.
        durations[motion] = await page.evaluate(
            "(() => { const m = document.getElementById('main'); m.classList.add('blurred');"
            " return getComputedStyle(m).transitionDuration; })()")
    assert durations == {"no-preference": "0.15s", "reduce": "0s"}
