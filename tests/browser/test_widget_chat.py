"""A whole conversation in the browser: the young person in Chromium, the counsellor
played by helpline.client (StaffClient with its own keyring), both decrypting."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Page

from helpline.client import StaffClient
from helpline.domain.roles import Role
from tests.browser.conftest import (
    Browser,
    axe,
    close_browser,
    hosts,
    new_browser,
    profile_files_mentioning,
    shot,
    until_js,
    widget_server,
)
from tests.conftest import Harness, ServerProcess

TO_COUNSELLOR = "ze hebben mijn paspoort afgepakt"
TO_YOUTH = "Je bent hier veilig. Vertel maar."


async def _texts(counsellor: StaffClient, cid: str, want: str, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if want in [m.text for m in await counsellor.read(cid)]:
            return
        assert asyncio.get_running_loop().time() < deadline, await counsellor.read(cid)
        await asyncio.sleep(0.2)


async def _until(check: object, why: str, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():  # type: ignore[operator]
        assert loop.time() < deadline, why
        await asyncio.sleep(0.2)


async def _signals(counsellor: StaffClient, cid: str) -> list[str | None]:
    return [m.signal for m in await counsellor.read(cid) if m.kind == "signal"]


async def _screen(page: Page, name: str) -> None:
    await page.locator(f'#app[data-screen="{name}"]').wait_for(timeout=15_000)


async def _into_chat(harness: Harness, browser: Browser, shots: bool = False
                     ) -> tuple[ServerProcess, Page, StaffClient, str]:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    counsellor = await harness.secure_staff("anouk")
    page = await browser.page()
    await page.goto(f"{srv.url}/chat")
    await page.get_by_role("button", name="Start de chat").click()
    await _screen(page, "intake")
    if shots:
        assert await axe(page) == []
        await shot(page, "intake-language")
    await page.get_by_role("button", name="Nederlands").click()
    await page.locator(".choices button").first.wait_for()
    if shots:
        await shot(page, "intake-question")
    await page.locator("section button.link").click()  # the script's skip label
    await _screen(page, "queue")
    await page.get_by_text("Je bent nummer 1 in de wachtrij.").wait_for()
    await page.get_by_text("Wie kan deze chat nu lezen: het team van de hulplijn").wait_for()
    if shots:
        assert await axe(page) == []
        await shot(page, "queue")
    entries = await counsellor.queue()
    assert len(entries) == 1
    cid = entries[0]["conversation_id"]
    await counsellor.accept(cid)
    await _screen(page, "chat")
    return srv, page, counsellor, cid


async def test_intake_queue_and_a_chat_both_ways_with_a_counsellor(
    harness: Harness, browser: Browser
) -> None:
    srv, page, counsellor, cid = await _into_chat(harness, browser, shots=True)
    await page.get_by_label("Bericht").fill(TO_COUNSELLOR)
    await page.get_by_role("button", name="Versturen").click()
    await _texts(counsellor, cid, TO_COUNSELLOR)
    await counsellor.typing(cid, True)
    await page.get_by_text("De hulpverlener typt…").wait_for()
    await counsellor.send_text(cid, TO_YOUTH)
    await page.locator(".messages li.theirs", has_text=TO_YOUTH).wait_for()
    # Read out to screen readers from the live region.
    assert TO_YOUTH in (await page.locator("#live").text_content() or "")
    assert await axe(page) == []
    await shot(page, "chat")
    # "I can't talk freely" goes inside the encrypted channel.
    await page.locator("#cannot-talk").click()
    await page.get_by_text("De hulpverlener weet dat je nu niet vrij kunt praten.").wait_for()
    await _until(lambda: _signals(counsellor, cid), "the counsellor got no signal")
    assert await _signals(counsellor, cid) == ["cannot_talk"]
    # Someone walks in: the conversation blurs until tapped.
    await page.evaluate("window.dispatchEvent(new Event('blur'))")
    await page.get_by_role("button", name="Tik om de chat te tonen").wait_for()
    assert await page.locator("main.blurred").count() == 1
    await shot(page, "blurred")
    await page.get_by_role("button", name="Tik om de chat te tonen").click()
    assert await page.locator("main.blurred").count() == 0
    # The plaintext never went into a URL, and nothing went anywhere but the helpline.
    assert not [u for u in browser.requests if "paspoort" in u]
    assert hosts(browser.requests) == {urlsplit(srv.url).netloc}
    page.once("dialog", lambda d: asyncio.ensure_future(d.accept()))
    await page.get_by_role("button", name="Chat beëindigen").click()
    await _screen(page, "ended")
    await counsellor.wait_for("state", lambda d: d.get("state") == "ended", timeout=10)
    assert await axe(page) == []
    await shot(page, "ended")


async def test_quick_exit_mid_chat_ends_it_and_leaves_no_plaintext_on_disk(
    harness: Harness, browser: Browser
) -> None:
    srv, page, counsellor, cid = await _into_chat(harness, browser)
    await page.get_by_label("Bericht").fill(TO_COUNSELLOR)
    await page.get_by_role("button", name="Versturen").click()
    await _texts(counsellor, cid, TO_COUNSELLOR)
    await counsellor.send_text(cid, TO_YOUTH)
    await page.locator(".messages li.theirs", has_text=TO_YOUTH).wait_for()
    for _ in range(3):
        await page.keyboard.press("Escape")
    await page.wait_for_url(f"{srv.url}/healthz")
    # The counsellor is told: the young person ended the chat on the server.
    await counsellor.wait_for("state", lambda d: d.get("state") == "ended", timeout=10)
    await browser.context.close()
    needles = [TO_COUNSELLOR.encode(), TO_YOUTH.encode(),
               TO_COUNSELLOR.encode("utf-16-le"), TO_YOUTH.encode("utf-16-le")]
    assert profile_files_mentioning(browser.profile, needles) == []


async def test_a_return_code_is_shown_once_and_reopens_the_chat_in_a_fresh_browser(
    harness: Harness, browser: Browser, tmp_path: Path
) -> None:
    srv, page, counsellor, cid = await _into_chat(harness, browser)
    await counsellor.send_text(cid, TO_YOUTH)
    await page.locator(".messages li.theirs", has_text=TO_YOUTH).wait_for()
    await page.get_by_role("button", name="Terugkeercode vragen").click()
    await _screen(page, "code")
    code = " ".join(await page.locator("#code-words span").all_text_contents())
    assert len(code.split()) >= 6
    assert await axe(page) == []
    await shot(page, "return-code")
    await page.get_by_role("button", name="Ik heb hem opgeschreven").click()
    await _screen(page, "chat")
    assert await page.locator("#code-words").count() == 0  # shown once
    assert not [u for u in browser.requests if code.split()[0] in u]
    # Another device: a fresh profile, the code typed in, the history back.
    p, other = await new_browser(tmp_path, "other-device", locale="nl-NL")
    try:
        page2 = await other.page()
        await page2.goto(f"{srv.url}/chat")
        await page2.get_by_role("button", name="Ik heb een terugkeercode").click()
        await page2.get_by_label("Terugkeercode (woorden met spaties ertussen)").fill(code)
        await page2.get_by_role("button", name="Openen").click()
        await page2.locator(".messages li.theirs", has_text=TO_YOUTH).wait_for(timeout=20_000)
        await shot(page2, "reopened-with-code")
    finally:
        await close_browser(p, other)


async def test_the_police_offer_screen_says_what_police_would_see(
    harness: Harness, browser: Browser
) -> None:
    _srv, page, counsellor, cid = await _into_chat(harness, browser)
    await counsellor.offer_handover(cid)
    await _screen(page, "offer")
    await page.get_by_text("kan een politieagent vanaf nu lezen wat je schrijft").wait_for()
    await page.get_by_text("Ook de eerdere berichten van deze chat").wait_for()
    assert await axe(page) == []
    await shot(page, "police-offer")
    await page.get_by_role("button", name="Nu niet").click()
    await _screen(page, "chat")
    await page.get_by_role("button", name="De hulpverlener vraagt of de politie mee mag lezen"
                           ).click()
    await _screen(page, "offer")
    await page.get_by_role("button", name="Nee").click()
    await _screen(page, "chat")
    assert "het team van de hulplijn en de politie" not in (
        await page.locator("#readers").text_content() or "")


async def test_outside_opening_hours_a_message_can_be_left(
    harness: Harness, browser: Browser
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp,
                        HELPLINE_OPENING_HOURS="mon closed")
    page = await browser.page()
    await page.goto(f"{srv.url}/chat")
    await page.get_by_role("button", name="Start de chat").click()
    await _screen(page, "intake")
    await page.locator("section button.link").click()
    await _screen(page, "offline")
    await page.get_by_label("Bericht").fill(TO_COUNSELLOR)
    await page.get_by_role("button", name="Versturen").click()
    await page.locator(".messages li.mine", has_text=TO_COUNSELLOR).wait_for()
    assert await page.get_by_role("button", name="Terugkeercode vragen").is_visible()
    assert await axe(page) == []
    await shot(page, "offline")


async def test_an_urgent_intake_answer_shows_112_at_once(
    harness: Harness, browser: Browser
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    page = await browser.page()
    await page.goto(f"{srv.url}/chat")
    await page.get_by_role("button", name="Start de chat").click()
    await page.get_by_role("button", name="Nederlands").click()
    await page.get_by_role("button", name="16-17").click()
    await page.get_by_role("button", name="Iets anders").click()
    await page.get_by_role("button", name="Ja", exact=True).click()
    banner = page.get_by_role("alert").filter(has_text="Bel nu 112")
    await banner.wait_for()
    assert await page.get_by_role("link", name="Bel 112").get_attribute("href") == "tel:112"
    await _screen(page, "queue")
    assert await axe(page) == []
    await shot(page, "urgent-112")


async def test_a_team_key_the_pinned_key_did_not_sign_opens_nothing(
    harness: Harness, browser: Browser
) -> None:
    await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT="ab" * 32)  # not the org's key
    counsellor = await harness.secure_staff("anouk")
    page = await browser.page()
    await page.goto(f"{srv.url}/chat")
    await page.get_by_role("button", name="Start de chat").click()
    await page.get_by_text("De verbinding kon niet worden gecontroleerd. Er is niets verstuurd."
                           ).wait_for()
    assert await page.locator("#compose").count() == 0
    assert await page.locator(".choices button").count() == 0  # no intake: nothing opened
    assert await counsellor.queue() == []


async def test_a_reload_mid_chat_comes_back_with_the_history_and_leaves_nothing_on_disk(
    harness: Harness, browser: Browser
) -> None:
    srv, page, counsellor, cid = await _into_chat(harness, browser)
    await page.get_by_label("Bericht").fill(TO_COUNSELLOR)
    await page.get_by_role("button", name="Versturen").click()
    await _texts(counsellor, cid, TO_COUNSELLOR)
    await counsellor.send_text(cid, TO_YOUTH)
    await page.locator(".messages li.theirs", has_text=TO_YOUTH).wait_for()
    saved = await page.evaluate("window.name")
    assert saved.startswith("helpline-tab-1:")
    await page.reload()
    await _screen(page, "chat")
    # Both messages back, decrypted, each once.
    await page.locator(".messages li.theirs", has_text=TO_YOUTH).wait_for()
    assert await page.locator(".messages li", has_text=TO_COUNSELLOR).count() == 1
    assert await page.locator(".messages li", has_text=TO_YOUTH).count() == 1
    assert "paspoort" not in (await page.evaluate("location.href"))
    # The chat goes on both ways: the counsellor reads what is sent after the reload.
    after = "ben je er nog?"
    await page.get_by_label("Bericht").fill(after)
    await page.get_by_role("button", name="Versturen").click()
    await _texts(counsellor, cid, after)
    read = await counsellor.read(cid)
    assert [m.error for m in read] == [None] * len(read)
    assert [m.text for m in read if m.kind == "text"] == [TO_COUNSELLOR, TO_YOUTH, after]
    await counsellor.send_text(cid, "Ja, ik ben er.")
    await page.locator(".messages li.theirs", has_text="Ja, ik ben er.").wait_for()
    # What the tab kept is memory only: never on disk, and gone after quick exit.
    token_secret = saved.split('"token":"')[1].split('"')[0].split(".")[1]
    for _ in range(3):
        await page.keyboard.press("Escape")
    await page.wait_for_url(f"{srv.url}/healthz")
    assert await page.evaluate("window.name") == ""
    await browser.context.close()
    needles = [token_secret.encode(), token_secret.encode("utf-16-le"), TO_YOUTH.encode(),
               TO_YOUTH.encode("utf-16-le")]
    assert profile_files_mentioning(browser.profile, needles) == []


async def test_the_police_read_only_from_the_yes_the_sign_shows_it_and_withdraw_rekeys(
    harness: Harness, browser: Browser
) -> None:
    _srv, page, counsellor, cid = await _into_chat(harness, browser)
    police = await harness.secure_staff("agent-jansen", Role.POLICE)
    await page.get_by_label("Bericht").fill(TO_COUNSELLOR)
    await page.get_by_role("button", name="Versturen").click()
    await _texts(counsellor, cid, TO_COUNSELLOR)
    await counsellor.offer_handover(cid)
    await _screen(page, "offer")
    await page.get_by_label("Ook de eerdere berichten delen").uncheck()
    no_history = "De eerdere berichten van deze chat kan de politie niet lezen."
    await page.get_by_text(no_history).wait_for()
    await page.get_by_role("button", name="Ja", exact=True).click()
    await _screen(page, "chat")
    readers = page.locator("#readers")
    await readers.filter(has_text="het team van de hulplijn en de politie").wait_for()
    await counsellor.wait_for("handover", lambda d: d["handover"] == "consented")
    await police.police_join(cid)
    await page.get_by_text("Er is een politieagent in deze chat").wait_for()
    assert await axe(page) == []
    await shot(page, "police-joined")
    to_police = "ik wil aangifte doen"
    await page.get_by_label("Bericht").fill(to_police)
    await page.get_by_role("button", name="Versturen").click()
    await police.wait_until(lambda: len(police.messages(cid)) == 1)
    # Only what came after the yes: not the message from before it.
    assert [m.text for m in await police.read(cid)] == [to_police]
    await police.send_text(cid, "Ik ben agent Jansen.")
    await page.locator(".messages li.theirs", has_text="Ik ben agent Jansen.").wait_for()
    # Withdraw in one tap: the officer is out and the next message is for the team alone.
    await page.get_by_role("button", name="Stop toegang politie").click()
    await until_js(page, "() => !document.getElementById('readers').textContent"
                   ".includes('politie')")
    assert (await readers.text_content() or "").endswith("het team van de hulplijn")
    assert await page.locator("#officer-in").count() == 0
    await police.wait_for("handover", lambda d: d["handover"] == "withdrawn")
    private = "alleen voor jou"
    await page.get_by_label("Bericht").fill(private)
    await page.get_by_role("button", name="Versturen").click()
    await _texts(counsellor, cid, private)
    assert await counsellor.readers(cid) == ["team"]
    keys = await counsellor.conversation_keys(cid)
    assert police.keyring is not None
    assert keys["epoch"] not in police.keyring.verified_epochs(cid, keys).keys


async def test_a_destroyed_return_code_opens_nothing_in_a_fresh_browser(
    harness: Harness, browser: Browser, tmp_path: Path
) -> None:
    srv, page, counsellor, cid = await _into_chat(harness, browser)
    await counsellor.send_text(cid, TO_YOUTH)
    await page.locator(".messages li.theirs", has_text=TO_YOUTH).wait_for()
    await page.get_by_role("button", name="Terugkeercode vragen").click()
    await _screen(page, "code")
    code = " ".join(await page.locator("#code-words span").all_text_contents())
    await page.get_by_role("button", name="Mijn terugkeercode vernietigen").click()
    await _screen(page, "chat")
    await page.get_by_text("De terugkeercode werkt niet meer.").wait_for()
    p, other = await new_browser(tmp_path, "other-device", locale="nl-NL")
    try:
        page2 = await other.page()
        await page2.goto(f"{srv.url}/chat")
        await page2.get_by_role("button", name="Ik heb een terugkeercode").click()
        await page2.get_by_label("Terugkeercode (woorden met spaties ertussen)").fill(code)
        await page2.get_by_role("button", name="Openen").click()
        await page2.get_by_role("alert").wait_for(timeout=30_000)
        assert await page2.locator(".messages li").count() == 0
        assert await page2.locator('#app[data-screen="enter-code"]').count() == 1
    finally:
        await close_browser(p, other)


async def test_text_at_200_percent_on_a_360_px_phone_still_fits_and_works(
    harness: Harness, browser: Browser
) -> None:
    _srv, page, counsellor, cid = await _into_chat(harness, browser)
    await counsellor.send_text(cid, TO_YOUTH)
    message = page.locator(".messages li.theirs .text", has_text=TO_YOUTH)
    await message.wait_for()
    before = await message.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    # The browser's text size at 200% (the widget sizes everything in rem).
    await page.evaluate("document.documentElement.style.fontSize = '200%'")
    after = await message.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert after == 2 * before
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth"), "scrolls sideways"
    width = await page.evaluate("window.innerWidth")
    for target in ("#quick-exit", "#compose", ".compose button[type=submit]", "#cannot-talk"):
        box = await page.locator(target).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, target
    await page.get_by_label("Bericht").fill("groot")
    await page.get_by_role("button", name="Versturen").click()
    await _texts(counsellor, cid, "groot")
    await shot(page, "chat-text-200")


async def test_a_dropped_network_reconnects_by_itself_and_loses_or_repeats_nothing(
    harness: Harness, browser: Browser
) -> None:
    srv, page, counsellor, cid = await _into_chat(harness, browser)
    await page.get_by_label("Bericht").fill(TO_COUNSELLOR)
    await page.get_by_role("button", name="Versturen").click()
    await _texts(counsellor, cid, TO_COUNSELLOR)
    # The phone loses its network (the socket drops); both sides write meanwhile.
    await browser.context.set_offline(True)
    await page.get_by_text("Verbinding weg. Opnieuw verbinden…").wait_for(timeout=15_000)
    await shot(page, "connection-lost")
    while_away = "ik zit in de trein, slecht bereik"
    await page.get_by_label("Bericht").fill(while_away)
    await page.get_by_role("button", name="Versturen").click()
    waiting = page.locator(".messages li.mine", has_text=while_away)
    assert await waiting.locator(".status").text_content() == "wordt verstuurd"
    await counsellor.send_text(cid, TO_YOUTH)
    await asyncio.sleep(1)
    assert await page.locator(".messages li.theirs", has_text=TO_YOUTH).count() == 0
    # The network comes back: it reconnects, resumes, sends what waited.
    await browser.context.set_offline(False)
    await page.locator(".messages li.theirs", has_text=TO_YOUTH).wait_for(timeout=20_000)
    await _texts(counsellor, cid, while_away, timeout=20)
    await waiting.locator(".status", has_text=re.compile("^verstuurd$")).wait_for()
    assert await page.get_by_text("Verbinding weg. Opnieuw verbinden…").count() == 0
    # Each message exactly once on both sides, in order.
    for text in (TO_COUNSELLOR, while_away, TO_YOUTH):
        assert await page.locator(".messages li", has_text=text).count() == 1, text
    read = [m.text for m in await counsellor.read(cid) if m.kind == "text"]
    assert sorted(read) == sorted([TO_COUNSELLOR, while_away, TO_YOUTH])
    assert len(read) == 3
    assert hosts(browser.requests) == {urlsplit(srv.url).netloc}
