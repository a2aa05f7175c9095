"""The counsellor console at /console in Chromium: a counsellor signs in, has the device
approved and granted by the admin (fingerprints read off the page), sees the live queue,
accepts the conversation of a young person played by the Python YouthClient, reads the
decrypted message and answers; the young person's client decrypts the answer. And a
lost race for a conversation (a colleague accepted it first) is said plainly."""

from __future__ import annotations

import json
import re

from playwright.async_api import Page, WebSocketRoute
from playwright.async_api import TimeoutError as PlaywrightTimeout

from helpline.domain.roles import Role
from tests.browser.conftest import ROOT, Browser, axe, shot, widget_server
from tests.conftest import PASSWORD, Harness

FROM_YOUTH = "ik durf het niemand te vertellen"
TO_YOUTH = "Fijn dat je schrijft. Ik lees mee."


async def _screen(page: Page, name: str, errors: list[str] | None = None) -> None:
    try:
        await page.locator(f'#app[data-screen="{name}"]').wait_for(timeout=15_000)
    except PlaywrightTimeout:
        shows = await page.locator("#app").inner_text()
        raise AssertionError(f"no {name} screen; the page shows: {shows}; "
                             f"errors: {errors}") from None


async def test_a_counsellor_signs_in_accepts_and_answers_in_the_console(
    harness: Harness, browser: Browser
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    await harness.add_staff("carmen")
    page = await browser.page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

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

    await _screen(page, "login")
    assert await axe(page) == []
    await shot(page, "console-login")
    await page.get_by_label("Username").fill("carmen")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()

    await _screen(page, "device", errors)
    await page.get_by_text("Waiting for an admin to approve this device").wait_for()
    enc = (await page.locator("#fp-encryption").inner_text()).strip()
    sig = (await page.locator("#fp-signing").inner_text()).strip()
    assert len(enc) == 64 and len(sig) == 64 and enc != sig
    assert await axe(page) == []
    await shot(page, "console-device")
    # Not approved yet: checking again keeps the device screen.
    await page.get_by_role("button", name="Check again").click()
    await page.get_by_text("Not approved yet.").wait_for()
    await _screen(page, "device")

    store = harness.store()
    try:  # the admin approves what the counsellor reads to them, then grants
        admin = harness.key_admin(store)
        await admin.approve("carmen", Role.COUNSELLOR, enc, sig)
        assert len(await admin.grant("carmen")) == 1
    finally:
        await store.close()
    await page.get_by_role("button", name="Check again").click()
    await _screen(page, "queue")
    await page.get_by_text("No one is waiting.").wait_for()
    assert await axe(page) == []
    await shot(page, "console-queue-empty")

    youth = await harness.secure_youth(srv)
    await youth.send_text(FROM_YOUTH)  # written while waiting
    accept = page.get_by_role("button", name="Accept conversation 1")
    await accept.wait_for()  # the live queue: no reload, no click
    await page.get_by_text("Language: nl").wait_for()
    await page.get_by_text("Waiting less than a minute").wait_for()
    assert await axe(page) == []
    await shot(page, "console-queue")

    await accept.click()
    await _screen(page, "chat")
    await youth.wait_for("state", lambda d: d.get("state") == "active")
    theirs = page.locator(".messages li.theirs")
    await theirs.filter(has_text=FROM_YOUTH).wait_for()
    assert await theirs.locator(".who").inner_text() == "Young person"

    await page.get_by_label("Your message").fill(TO_YOUTH)
    await page.get_by_role("button", name="Send").click()
    await page.locator(".messages li.mine").filter(has_text=TO_YOUTH).wait_for()
    assert await page.get_by_label("Your message").input_value() == ""
    await youth.wait_until(lambda: len(youth.messages) == 2)
    read = [(m.seq, m.sender_role, m.sender, m.text, m.error) for m in await youth.read()]
    assert read == [(1, "youth", "you", FROM_YOUTH, None),
                    (2, "counsellor", "carmen", TO_YOUTH, None)]
    assert await axe(page) == []
    await shot(page, "console-chat")

    # Who can read, from the young person's signed epoch statement.
    await page.get_by_text("Who can read this chat: the helpline team").wait_for()
    # "I can't talk freely": a signal inside the encrypted channel, shown as a banner.
    assert await page.get_by_role("alert").count() == 0
    await youth.send_signal("cannot_talk")
    await page.get_by_role("alert").filter(has_text="cannot talk freely").wait_for()
    assert await axe(page) == []
    await shot(page, "console-cannot-talk")

    # A canned answer: "/" and a few letters, Enter inserts the first match, Send sends it.
    compose = page.get_by_label("Your message")
    await compose.press_sequentially("/veilig")
    canned = page.get_by_role("list", name="Canned answers")
    await canned.get_by_role("button", name="Ben je nu veilig?").wait_for()
    assert await axe(page) == []
    await shot(page, "console-canned")
    await compose.press("Enter")
    assert (await compose.input_value()).startswith("Voordat we verder gaan: ben je nu op een")
    assert await canned.count() == 0
    await page.get_by_role("button", name="Send").click()
    await youth.wait_until(lambda: len(youth.messages) == 4)
    assert (await youth.read())[3].text == _canned_text("ask_safety")

    await page.get_by_role("button", name="End conversation").click()
    await page.get_by_text("This conversation has ended.").wait_for()
    await youth.wait_for("state", lambda d: d.get("state") == "ended")
    await page.get_by_role("button", name="Back to the queue").click()
    await _screen(page, "queue")
    assert errors == []


def _canned_text(answer_id: str) -> str:
    data = json.loads((ROOT / "helpline" / "data" / "canned" / "nl.json").read_text())
    return next(str(a["text"]) for a in data["answers"] if a["id"] == answer_id)


async def _approved_console(harness: Harness, page: Page, url: str, username: str) -> None:
    """Sign in at /console; the admin approves and grants the fingerprints on the page."""
    await harness.add_staff(username)
    await page.goto(f"{url}/console")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await _screen(page, "device")
    enc = (await page.locator("#fp-encryption").inner_text()).strip()
    sig = (await page.locator("#fp-signing").inner_text()).strip()
    store = harness.store()
    try:
        admin = harness.key_admin(store)
        await admin.approve(username, Role.COUNSELLOR, enc, sig)
        await admin.grant(username)
    finally:
        await store.close()
    await page.get_by_role("button", name="Check again").click()
    await _screen(page, "queue")


async def test_a_lost_race_for_a_conversation_says_so(harness: Harness, browser: Browser) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    page = await browser.page()
    # The race, made certain: the `queue` event telling the console that the conversation
    # left the queue is held back, so the console still offers it when the colleague has it.
    hold = {"left": False}

    async def socket(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if hold["left"] and isinstance(message, str) and '"queue"' in message \
                    and '"left"' in message:
                return
            ws.send(message)

        server.on_message(to_page)

    await page.route_web_socket(re.compile(r"/socket\.io/"), socket)
    await _approved_console(harness, page, srv.url, "carmen")
    colleague = await harness.secure_staff("anouk", server=srv)
    youth = await harness.secure_youth(srv)
    accept = page.get_by_role("button", name="Accept conversation 1")
    await accept.wait_for()
    hold["left"] = True
    assert youth.conversation_id is not None
    await colleague.accept(youth.conversation_id)
    await accept.click()
    await page.get_by_text("Another counsellor accepted this conversation first.").wait_for()
    await _screen(page, "queue")
    await page.get_by_text("No one is waiting.").wait_for()  # the queue, fetched again
    assert await axe(page) == []
    await shot(page, "console-lost-race")
