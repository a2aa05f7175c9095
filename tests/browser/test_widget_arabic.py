"""Every screen of the widget in Arabic (right to left): axe-core finds nothing, and a
screenshot of each is kept. The Dutch run of the same screens is in test_widget_chat.py
and test_widget_pages.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import Page

from helpline.domain.roles import Role
from tests.browser.conftest import (
    axe,
    close_browser,
    new_browser,
    shot,
    until_js,
    widget_server,
)
from tests.conftest import Harness

TO_COUNSELLOR = "أخذوا جواز سفري"
TO_YOUTH = "أنت في أمان هنا. احكِ لي."


async def _screen(page: Page, name: str) -> None:
    await page.locator(f'#app[data-screen="{name}"]').wait_for(timeout=15_000)


async def _clean(page: Page, name: str) -> None:
    """The screen is right to left, has no axe violations, and is photographed."""
    assert await page.evaluate("[document.documentElement.lang, document.dir]") == ["ar", "rtl"]
    assert await axe(page) == [], name
    await shot(page, f"{name}-ar")


async def test_every_chat_screen_in_arabic_is_accessible(harness: Harness, tmp_path: Path
                                                         ) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    counsellor = await harness.secure_staff("anouk")
    police = await harness.secure_staff("agent-jansen", Role.POLICE)
    p, b = await new_browser(tmp_path, "profile-ar", locale="ar")
    try:
        page = await b.page()
        await page.goto(f"{srv.url}/chat")
        await page.get_by_role("button", name="ابدأ الدردشة").click()
        await _screen(page, "intake")
        await _clean(page, "intake-language")
        # The first button of each step: the conversation's language, an age band, a
        # topic, then "yes" to danger, which shows the 112 banner.
        for _ in range(4):
            before = await page.locator("p.assistant").text_content()
            await page.locator(".choices button").first.click()
            await until_js(
                page, "(t) => document.querySelector('p.assistant')?.textContent !== t "
                "|| document.querySelector('#app').dataset.screen !== 'intake'", before)
        # "Yes" to danger: the 112 banner, and first in line without the last question.
        await page.get_by_role("alert").filter(has_text="112").wait_for()
        await _screen(page, "queue")
        await _clean(page, "urgent-112")
        cid = (await counsellor.queue())[0]["conversation_id"]
        await counsellor.accept(cid)
        await _screen(page, "chat")
        await page.get_by_label("رسالة").fill(TO_COUNSELLOR)
        await page.get_by_role("button", name="إرسال").click()
        await counsellor.send_text(cid, TO_YOUTH)
        await page.locator(".messages li.theirs", has_text=TO_YOUTH).wait_for()
        await _clean(page, "chat")
        await page.evaluate("window.dispatchEvent(new Event('blur'))")
        await page.locator("main.blurred").wait_for()
        await _clean(page, "blurred")
        await page.locator("#unveil").click()
        await counsellor.offer_handover(cid)
        await _screen(page, "offer")
        await _clean(page, "police-offer")
        await page.get_by_role("button", name="نعم", exact=True).click()
        await _screen(page, "chat")
        await counsellor.wait_for("handover", lambda d: d["handover"] == "consented")
        await police.police_join(cid)
        await page.locator("#officer-in").wait_for()
        await _clean(page, "police-joined")
        await page.get_by_role("button", name="احصل على رمز عودة").click()
        await _screen(page, "code")
        await _clean(page, "return-code")
        await page.get_by_role("button", name="كتبته").click()
        await _screen(page, "chat")
        page.once("dialog", lambda d: asyncio.ensure_future(d.accept()))
        await page.get_by_role("button", name="إنهاء الدردشة").click()
        await _screen(page, "ended")
        await _clean(page, "ended")
    finally:
        await close_browser(p, b)


async def test_the_closed_screen_in_arabic_is_accessible(harness: Harness, tmp_path: Path
                                                         ) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp,
                        HELPLINE_OPENING_HOURS="mon closed")
    p, b = await new_browser(tmp_path, "profile-ar", locale="ar")
    try:
        page = await b.page()
        await page.goto(f"{srv.url}/chat")
        await page.get_by_role("button", name="ابدأ الدردشة").click()
        await _screen(page, "intake")
        await page.locator("section button.link").click()
        await _screen(page, "offline")
        await page.get_by_label("رسالة").fill(TO_COUNSELLOR)
        await page.get_by_role("button", name="إرسال").click()
        await page.locator(".messages li.mine", has_text=TO_COUNSELLOR).wait_for()
        await _clean(page, "offline")
    finally:
        await close_browser(p, b)
