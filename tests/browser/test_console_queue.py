"""The console's queue as a counsellor relies on it: urgent first with the 112 note
(and still shown in the chat), language, campaign and the language hold; a
conversation kept for a colleague who speaks its language is refused in words; the
capacity limit shown and enforced; and a handover the young person declines shows as
declined. Young people are played by helpline.client (encrypting, with the pinned
organisation key)."""

from __future__ import annotations

from helpline.client import YouthClient
from tests.browser.conftest import Browser, axe, shot, widget_server
from tests.browser.console_helpers import approved_console, screen, watch_errors
from tests.conftest import Harness


async def _youth(harness: Harness, url: str, fp: str) -> YouthClient:
    youth = YouthClient(url, pinned_fingerprint=fp)
    harness.clients.append(youth)
    await youth.connect()
    return youth


async def test_the_queue_shows_urgent_first_campaign_and_hold_and_the_limit(
    harness: Harness, browser: Browser
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp, HELPLINE_MAX_CONVERSATIONS="1")
    await harness.add_staff("polska", languages=("nl", "pl"))  # someone speaks Polish
    page = await browser.page()
    errors = watch_errors(page)
    await harness.add_staff("carmen", languages=("nl",))
    await approved_console(harness, page, srv.url, "carmen", create=False)

    plain = await _youth(harness, srv.url, fp)
    await plain.open(language="nl", campaign="tiktok-zomer")
    polish = await _youth(harness, srv.url, fp)
    await polish.open(intake=True)
    await polish.answer_intake(choice="pl")
    await polish.skip_intake()
    danger = await _youth(harness, srv.url, fp)
    await danger.open(intake=True)
    for choice in ("nl", "16_17", "sexual"):
        await danger.answer_intake(choice=choice)
    assert (await danger.answer_intake(choice="yes"))["urgent"] is True  # "in danger now?"

    queue = page.get_by_role("list", name="Waiting conversations")
    rows = queue.get_by_role("listitem")
    await page.get_by_role("button", name="Accept conversation 3").wait_for()
    assert await rows.count() == 3
    first = await rows.nth(0).inner_text()
    assert "Urgent" in first and "In danger now: mention 112 if needed." in first
    assert await page.get_by_role("button", name="Accept conversation 1, urgent").count() == 1
    assert "Campaign: tiktok-zomer" in await rows.nth(1).inner_text()
    assert "Language: nl" in await rows.nth(1).inner_text()
    held = await rows.nth(2).inner_text()
    assert "Language: pl" in held and "Kept for pl speakers until" in held
    assert await page.title() == "(3) Helpline console"
    assert await axe(page) == []
    await shot(page, "console-queue-urgent")

    # Kept for the Polish speaker: refused in words, still waiting.
    await page.get_by_role("button", name="Accept conversation 3").click()
    await page.get_by_text(
        "This conversation is kept for a colleague who speaks its language.").wait_for()
    assert await rows.count() == 3

    # The urgent one first; then the limit (1 here) is shown and holds.
    await page.get_by_role("button", name="Accept conversation 1, urgent").click()
    await screen(page, "chat", errors)
    # Urgent stays in sight in the chat itself, not only in the queue.
    await page.locator(".urgent-chat").filter(
        has_text="Urgent In danger now: mention 112 if needed.").wait_for()
    await page.get_by_role("button", name="Queue (2)").click()
    await screen(page, "queue")
    await page.get_by_text("You hold 1 of 1 conversations. You are at your limit").wait_for()
    await page.get_by_role("button", name="Accept conversation 1").click()
    await page.get_by_text("Finish a conversation before you accept another one.").wait_for()
    assert await rows.count() == 2

    # A handover the young person declines: the counsellor sees the answer.
    await page.locator("[data-chat='1']").click()
    await screen(page, "chat")
    await page.get_by_role("button", name="Offer police handover").click()
    await page.get_by_text("asked, waiting for the young person's answer").wait_for()
    await danger.wait_for("handover_offer", lambda d: True, timeout=10)
    await danger.answer_handover(False)
    await page.get_by_text("Police: the young person said no").wait_for()
    assert await axe(page) == []
    await shot(page, "console-handover-declined")
    assert errors == []
