"""Outreach: a counsellor makes a one-time invite in the console; it shows as a link and
as a QR code that reads back (zxing-cpp on a screenshot) as that very link; a young
person who opens it, in the real widget or with helpline.client, comes straight to this
counsellor, whose console gets the chat; a used link says so and offers the normal start."""

from __future__ import annotations

import io
import re
from pathlib import Path

import zxingcpp
from PIL import Image

from helpline.client import YouthClient
from tests.browser.conftest import (
    Browser,
    axe,
    close_browser,
    new_browser,
    shot,
    until_js,
    widget_server,
)
from tests.browser.console_helpers import approved_console, screen, watch_errors
from tests.conftest import Harness


async def test_an_invite_shows_as_link_and_qr_and_brings_the_young_person_here(
    harness: Harness, browser: Browser, tmp_path: Path
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    page = await browser.page()
    errors = watch_errors(page)
    await approved_console(harness, page, srv.url, "carmen")
    await page.get_by_role("button", name="Invite", exact=True).click()
    panel = page.get_by_role("dialog", name="One-time invite")
    await panel.wait_for()
    link = await panel.get_by_role("textbox", name="Invite link").input_value()
    match = re.fullmatch(re.escape(srv.url) + r"/chat#invite=([A-Za-z0-9_-]{16})", link)
    assert match, link
    qr = panel.get_by_role("img", name="QR code of the invite link")
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(await qr.screenshot())))
    assert [d.text for d in decoded] == [link]
    assert await axe(page) == []
    await shot(page, "console-invite")

    # Another invite is another code; the first still works (once).
    await panel.get_by_role("button", name="Make another invite").click()
    await until_js(page, "(old) => document.getElementById('invite-link').value !== old", link)
    second = await panel.get_by_role("textbox", name="Invite link").input_value()
    youth = YouthClient(srv.url, pinned_fingerprint=fp)
    harness.clients.append(youth)
    await youth.connect()
    opened = await youth.open(invite=match.group(1))
    assert opened["state"] == "active"
    await page.get_by_text("A conversation was given to you.").wait_for()
    await page.locator("[data-chat='1']").click()
    await screen(page, "chat", errors)
    await youth.send_text("ik heb je kaartje gekregen")
    await page.locator(".messages li.theirs", has_text="ik heb je kaartje gekregen").wait_for()

    # The second link, opened on a phone: the widget says who invited, skips the intake
    # and the queue, and drops the code from the address bar.
    p, phone = await new_browser(tmp_path, "phone", locale="nl-NL")
    try:
        widget = await phone.page()
        await widget.goto(second)
        await widget.get_by_role("heading", name="Een hulpverlener heeft je uitgenodigd").wait_for()
        assert await widget.evaluate("location.href") == f"{srv.url}/chat"
        assert await axe(widget) == []
        await shot(widget, "widget-invited")
        await widget.get_by_role("button", name="Start de chat").click()
        await widget.locator('#app[data-screen="chat"]').wait_for()
        await page.get_by_text("A conversation was given to you.").wait_for()
        await page.locator("[data-chat='2']").click()
        await widget.get_by_label("Bericht").fill("via de link")
        await widget.get_by_role("button", name="Versturen").click()
        await page.locator(".messages li.theirs", has_text="via de link").wait_for()

        # Used once: a second phone with the same link is told so, and can start normally.
        again = await phone.context.new_page()
        await again.goto(second)
        await again.get_by_role("button", name="Start de chat").click()
        await again.get_by_role("status").filter(has_text="werkt niet meer").wait_for()
        await again.get_by_role("heading", name="Praat met iemand").wait_for()
        await again.get_by_role("button", name="Start de chat").click()
        await again.locator('#app[data-screen="intake"]').wait_for()
    finally:
        await close_browser(p, phone)
    assert errors == []

