"""Outreach: a counsellor makes a one-time invite in the console; it shows as a link and
as a QR code that reads back (zxing-cpp on a screenshot) as that very link; a young
person who opens it comes straight to this counsellor, whose console gets the chat."""

from __future__ import annotations

import io
import re

import zxingcpp
from PIL import Image

from helpline.client import YouthClient
from tests.browser.conftest import Browser, axe, shot, until_js, widget_server
from tests.browser.console_helpers import approved_console, screen, watch_errors
from tests.conftest import Harness


async def test_an_invite_shows_as_link_and_qr_and_brings_the_young_person_here(
    harness: Harness, browser: Browser
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
    assert errors == []

