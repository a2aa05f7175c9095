"""The counsellor console at /console in Chromium, with the young person in the real
widget in another browser: a counsellor signs in on a new device (the interface in
Dutch, then English), has the device approved and granted by the admin (fingerprints
read off the page), sees the live queue, accepts, exchanges encrypted messages, sees the
young person typing and the "can't talk freely" banner, sends a canned answer and a
referral card (shown in the widget), ends,
must file the wrap-up, and the conversation closes. And a race for one conversation
between two consoles is won by one, the other told so plainly."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from playwright.async_api import Page, WebSocketRoute

from helpline.domain.roles import Role
from tests.browser.conftest import (
    ROOT,
    Browser,
    axe,
    close_browser,
    new_browser,
    shot,
    widget_server,
)
from tests.browser.console_helpers import (
    approve,
    approved_console,
    fingerprints,
    open_console,
    screen,
    sign_in,
    watch_errors,
    widget_to_queue,
)
from tests.conftest import Harness

FROM_YOUTH = "ik durf het niemand te vertellen"
TO_YOUTH = "Fijn dat je schrijft. Ik lees mee."


def _canned_text(answer_id: str) -> str:
    data = json.loads((ROOT / "helpline" / "data" / "canned" / "nl.json").read_text())
    return next(str(a["text"]) for a in data["answers"] if a["id"] == answer_id)


async def _widget_says(youth: Page, text: str) -> None:
    await youth.get_by_label("Bericht").fill(text)
    await youth.get_by_role("button", name="Versturen").click()


async def test_a_counsellor_takes_a_chat_from_the_widget_to_the_wrap_up(
    harness: Harness, browser: Browser, tmp_path: Path
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    await harness.add_staff("carmen")
    page = await browser.page()
    errors = watch_errors(page)

    response = await page.goto(f"{srv.url}/console")
    assert response is not None and response.ok
    headers = response.headers
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    csp = headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert f"connect-src 'self' {srv.url.replace('http', 'ws', 1)};" in csp
    assert await page.locator("body").get_attribute("data-fingerprint") == fp

    # The browser asks for Dutch: the console speaks Dutch until English is chosen.
    await open_console(page, srv.url, language="")
    await page.get_by_role("heading", name="Inloggen").wait_for()
    assert await page.evaluate("document.documentElement.lang") == "nl"
    assert await axe(page) == []
    await shot(page, "console-login-nl")
    await page.locator("#ui-language").select_option("en")
    await page.get_by_role("heading", name="Sign in").wait_for()
    assert await page.evaluate("document.documentElement.lang") == "en"
    assert await axe(page) == []
    await shot(page, "console-login")

    await sign_in(page, "carmen")
    await screen(page, "setup", errors)
    assert await axe(page) == []
    await shot(page, "console-setup")
    await page.get_by_role("button", name="Make new keys").click()
    await screen(page, "backup", errors)
    assert await axe(page) == []
    await shot(page, "console-backup")
    await page.get_by_role("button", name="Skip: I stay on this device").click()
    enc, sig = await fingerprints(page)
    await page.get_by_text("Waiting for an admin to approve this device").wait_for()
    assert len(enc) == 64 and len(sig) == 64 and enc != sig
    assert await axe(page) == []
    await shot(page, "console-device")
    await page.get_by_role("button", name="Check again").click()
    await page.get_by_text("Not approved yet.").wait_for()
    await screen(page, "device")
    await approve(harness, "carmen", Role.COUNSELLOR, enc, sig)
    await page.get_by_role("button", name="Check again").click()
    await screen(page, "queue")
    await page.get_by_text("No one is waiting.").wait_for()
    await page.get_by_text("You hold 0 of 3 conversations.").wait_for()
    assert await axe(page) == []
    await shot(page, "console-queue-empty")

    p, other = await new_browser(tmp_path, "youth", locale="nl-NL")
    try:
        youth = await widget_to_queue(other, srv.url)
        accept = page.get_by_role("button", name="Accept conversation 1")
        await accept.wait_for()  # the live queue: no reload, no click
        await page.get_by_text("Language: nl").wait_for()
        await page.get_by_text("Waiting less than a minute").wait_for()
        assert await page.title() == "(1) Helpline console"
        assert await axe(page) == []
        await shot(page, "console-queue")

        await accept.click()
        await screen(page, "chat", errors)
        await youth.locator('#app[data-screen="chat"]').wait_for()
        assert await page.title() == "Helpline console"
        await page.get_by_text("Who can read this chat: the helpline team").wait_for()
        await page.get_by_text("Police: not involved").wait_for()

        # The young person types, then writes; the counsellor answers with Enter.
        await youth.get_by_label("Bericht").press_sequentially("ik ")
        await page.get_by_text("The young person is typing…").wait_for()
        await youth.get_by_label("Bericht").fill("")
        await _widget_says(youth, FROM_YOUTH)
        theirs = page.locator(".messages li.theirs")
        await theirs.filter(has_text=FROM_YOUTH).wait_for()
        assert await theirs.locator(".who").first.inner_text() == "Young person"
        assert await page.get_by_text("The young person is typing…").count() == 0
        compose = page.get_by_label("Your message")
        await compose.fill(TO_YOUTH)
        await compose.press("Enter")
        await page.locator(".messages li.mine").filter(has_text=TO_YOUTH).wait_for()
        assert await compose.input_value() == ""
        await youth.locator(".messages li").filter(has_text=TO_YOUTH).wait_for()
        assert await axe(page) == []
        await shot(page, "console-chat")

        # "I can't talk freely", from the widget's button: a banner, never content.
        assert await page.locator(".cannot-talk").count() == 0
        await youth.get_by_role("button", name="Ik kan niet vrij praten").click()
        await page.get_by_role("alert").filter(has_text="cannot talk freely").wait_for()
        assert await axe(page) == []
        await shot(page, "console-cannot-talk")

        # A canned answer: "/" and a few letters, Enter inserts the first, Enter sends.
        await compose.press_sequentially("/veilig")
        canned = page.get_by_role("list", name="Canned answers")
        await canned.get_by_role("button", name="Ben je nu veilig?").wait_for()
        assert await axe(page) == []
        await shot(page, "console-canned")
        await compose.press("Enter")
        assert await compose.input_value() == _canned_text("ask_safety")
        assert await canned.count() == 0
        await compose.press("Enter")
        await youth.locator(".messages li").filter(
            has_text=_canned_text("ask_safety")[:40]).wait_for()

        # A referral: the directory searched, CoMensha sent as a card the widget shows.
        await page.get_by_role("button", name="Referral", exact=True).click()
        panel = page.get_by_role("dialog", name="Refer to help")
        await panel.get_by_label("Search").fill("CoMensha")
        await panel.get_by_role("button", name="Search").click()
        await panel.get_by_role("heading", name="CoMensha").wait_for()
        assert await axe(page) == []
        await shot(page, "console-referral")
        await panel.get_by_role("button", name="Send to the young person: CoMensha").click()
        await page.get_by_text("Referral card sent: CoMensha.").wait_for()
        await page.locator(".messages li.mine .card").filter(
            has_text="Referral: CoMensha").wait_for()
        card = youth.get_by_role("region", name="Hier kun je hulp krijgen: CoMensha")
        await card.get_by_role("heading", name="CoMensha").wait_for()
        assert await card.get_by_role("link", name="Website: www.comensha.nl").get_attribute(
            "href") == "https://www.comensha.nl"
        assert "Landelijk Coördinatiecentrum tegen Mensenhandel" in await card.inner_text()

        # End: the wrap-up must be filed before the conversation closes.
        await page.get_by_role("button", name="End conversation").click()
        await page.get_by_text("This conversation has ended. File the wrap-up").wait_for()
        await youth.get_by_text("De chat is beëindigd.").wait_for()
        wrapup = page.get_by_role("dialog", name="Wrap-up")
        await wrapup.wait_for()
        await page.locator("[data-chat='1']", has_text="wrap-up needed").wait_for()
        await wrapup.get_by_role("button", name="File and close").click()
        await page.get_by_text("Choose an answer for each question.").wait_for()
        await screen(page, "chat")  # nothing was filed: still there
        await wrapup.get_by_role("group", name="Form of exploitation").get_by_label(
            "Labour", exact=True).check()
        await wrapup.get_by_role("group", name="Age band").get_by_label("16\N{EN DASH}17").check()
        # The card sent counts as a referral to care, already chosen.
        assert await wrapup.get_by_role("group", name="Referred to").get_by_label(
            "Care", exact=True).is_checked()
        assert await axe(page) == []
        await shot(page, "console-wrapup")
        await wrapup.get_by_role("button", name="File and close").click()
        await screen(page, "queue")
        await page.get_by_text("The conversation is closed and the wrap-up filed.").wait_for()
        assert await page.locator("[data-chat]").count() == 0
        await page.get_by_text("You hold 0 of 3 conversations.").wait_for()
    finally:
        await close_browser(p, other)

    assert errors == []


async def test_two_counsellors_accept_at_once_one_gets_it(
    harness: Harness, browser: Browser, tmp_path: Path
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    page = await browser.page()
    p, other = await new_browser(tmp_path, "colleague", locale="en-GB")
    # Both consoles still offer the conversation when both click: the `queue` events
    # saying it left the queue are held back until then, so both calls reach the server.
    hold = {"left": False}

    async def socket(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if hold["left"] and isinstance(message, str) and '"queue"' in message \
                    and '"left"' in message:
                return
            ws.send(message)

        server.on_message(to_page)

    try:
        colleague = await other.page()
        for c in (page, colleague):
            await c.route_web_socket(re.compile(r"/socket\.io/"), socket)
        await approved_console(harness, page, srv.url, "carmen")
        await approved_console(harness, colleague, srv.url, "anouk")
        youth = await harness.secure_youth(srv)
        buttons = [c.get_by_role("button", name="Accept conversation 1") for c in (page, colleague)]
        for b in buttons:
            await b.wait_for()
        hold["left"] = True
        await asyncio.gather(*(b.click() for b in buttons))  # the same instant
        lost = "Another counsellor accepted this conversation first."
        outcomes = []
        for c in (page, colleague):
            await c.locator('#app[data-screen="chat"], #app p.notice').first.wait_for()
            outcomes.append(await c.locator("#app").get_attribute("data-screen"))
        assert sorted(outcomes) == ["chat", "queue"], outcomes
        loser = colleague if outcomes[1] == "queue" else page
        await loser.get_by_text(lost).wait_for()
        await loser.get_by_text("No one is waiting.").wait_for()  # the queue, fetched again
        assert await axe(loser) == []
        await shot(loser, "console-lost-race")
        await youth.wait_for("state", lambda d: d.get("state") == "active")
    finally:
        await close_browser(p, other)
