"""Keyboard first: the help sheet on `?` lists every shortcut, and each one on it does
what it says, for a counsellor with two young people (the police variants of Alt+A and
Alt+E are in test_console_police.py)."""

from __future__ import annotations

import asyncio

from helpline.client import YouthClient
from tests.browser.conftest import Browser, axe, shot, widget_server
from tests.browser.console_helpers import approved_console, screen, watch_errors
from tests.conftest import Harness

SHEET = ["?", "Alt+Q", "Alt+N", "Alt+A", "Enter", "Shift+Enter", "/", "Alt+R", "Alt+E",
         "Alt+W", "Alt+P", "Alt+I", "Escape"]


async def test_every_shortcut_on_the_help_sheet_works(harness: Harness, browser: Browser) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    page = await browser.page()
    errors = watch_errors(page)
    await approved_console(harness, page, srv.url, "carmen")
    youths: list[YouthClient] = [await harness.secure_youth(srv) for _ in range(2)]
    await page.get_by_role("button", name="Accept conversation 2").wait_for()

    # ? opens the sheet (from anywhere but a text field); Escape closes it.
    await page.locator("h1").click()
    await page.keyboard.press("?")
    sheet = page.get_by_role("dialog", name="Keyboard shortcuts")
    await sheet.wait_for()
    assert [k.strip() for k in await sheet.locator("kbd").all_inner_texts()] == SHEET
    assert await axe(page) == []
    await shot(page, "console-help")
    await page.keyboard.press("Escape")
    await sheet.wait_for(state="detached")

    # Alt+A accepts the first in the queue, twice; Alt+Q goes back to the queue.
    await page.keyboard.press("Alt+KeyA")
    await screen(page, "chat", errors)
    await page.get_by_role("heading", name="Conversation 1").wait_for()
    await page.keyboard.press("Alt+KeyQ")
    await screen(page, "queue")
    await page.keyboard.press("Alt+KeyA")
    await page.get_by_role("heading", name="Conversation 2").wait_for()
    for y in youths:
        await y.wait_for("state", lambda d: d.get("state") == "active")
    # Alt+N: the next conversation, round.
    await page.keyboard.press("Alt+KeyN")
    await page.get_by_role("heading", name="Conversation 1").wait_for()
    await page.keyboard.press("Alt+KeyN")
    await page.get_by_role("heading", name="Conversation 2").wait_for()

    # Enter sends, Shift+Enter makes a new line (the focus is in the message field).
    compose = page.get_by_label("Your message")
    assert await page.evaluate("document.activeElement.id") == "compose"
    await page.keyboard.type("eerste regel")
    await page.keyboard.press("Shift+Enter")
    await page.keyboard.type("tweede regel")
    assert await compose.input_value() == "eerste regel\ntweede regel"
    await page.keyboard.press("Enter")
    await page.locator(".messages li.mine").filter(has_text="tweede regel").wait_for()
    # / and letters: canned answers; Enter takes the first.
    await page.keyboard.type("/veilig")
    await page.get_by_role("list", name="Canned answers").wait_for()
    await page.keyboard.press("Enter")
    assert (await compose.input_value()).startswith("Voordat we verder gaan")
    await compose.fill("")

    # Alt+R: the referral directory; Escape closes; Alt+I: an invite; Alt+W: the wrap-up.
    await page.keyboard.press("Alt+KeyR")
    await page.get_by_role("dialog", name="Refer to help").wait_for()
    await page.keyboard.press("Escape")
    await page.get_by_role("dialog", name="Refer to help").wait_for(state="detached")
    await page.keyboard.press("Alt+KeyI")
    await page.get_by_role("dialog", name="One-time invite").wait_for()
    await page.keyboard.press("Escape")
    await page.keyboard.press("Alt+KeyW")
    await page.get_by_role("dialog", name="Wrap-up").wait_for()
    await page.keyboard.press("Escape")
    await page.get_by_role("dialog", name="Wrap-up").wait_for(state="detached")

    # Alt+P offers the police handover: the young person gets the question.
    await page.keyboard.press("Alt+KeyP")
    await page.get_by_text("Police: asked, waiting for the young person's answer").wait_for()
    for _ in range(50):
        offered = [y for y in youths if y.events("handover_offer")]
        if offered:
            break
        await asyncio.sleep(0.1)
    assert len(offered) == 1
    # Alt+E ends the conversation; the wrap-up follows.
    await page.keyboard.press("Alt+KeyE")
    await page.get_by_text("This conversation has ended.").wait_for()
    await offered[0].wait_for("state", lambda d: d.get("state") == "ended")
    await page.get_by_role("dialog", name="Wrap-up").wait_for()
    assert errors == []
