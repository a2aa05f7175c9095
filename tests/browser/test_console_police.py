"""The police handover in three browsers: a counsellor's console, the young person's
widget and an officer's console. The counsellor offers, the young person agrees in the
widget (without sharing what came before), the officer sees the request live, joins,
reads only from the handover on and talks; the young person's withdrawal removes the
officer at once; offered again, the officer joins and leaves by keyboard; offered a
third time, the counsellor ends the police part and the officer is out again. The
officer never sees a queue or another conversation. With the earlier conversation shared,
the officer reads it too, with the line where the handover came."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page

from helpline.domain.roles import Role
from tests.browser.conftest import Browser, axe, close_browser, new_browser, shot, widget_server
from tests.browser.console_helpers import approved_console, screen, watch_errors, widget_to_queue
from tests.conftest import Harness

BEFORE = "eerst alleen voor de hulpverlener"
AFTER = "nu mag de politie het ook lezen"
OFFICER = "Ik ben agent Jansen. Je bent niet alleen."


async def _widget_says(youth: Page, text: str) -> None:
    await youth.get_by_label("Bericht").fill(text)
    await youth.get_by_role("button", name="Versturen").click()


async def _consent(youth: Page, counsellor: Page) -> None:
    await counsellor.get_by_role("button", name="Offer police handover").click()
    await counsellor.get_by_text("Police: asked, waiting for the young person's answer").wait_for()
    await youth.locator('#app[data-screen="offer"]').wait_for(timeout=15_000)
    await youth.get_by_label("Ook de eerdere berichten delen").uncheck()
    await youth.get_by_role("button", name="Ja", exact=True).click()
    await counsellor.get_by_text(
        "Police: the young person agreed; waiting for an officer").wait_for()
    await counsellor.get_by_text(
        "Who can read this chat: the helpline team and the police").wait_for()


async def test_police_join_only_with_consent_and_leave_when_it_ends(
    harness: Harness, browser: Browser, tmp_path: Path
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    counsellor = await browser.page()
    errors = watch_errors(counsellor)
    p1, youth_browser = await new_browser(tmp_path, "youth", locale="nl-NL")
    p2, police_browser = await new_browser(tmp_path, "police", locale="en-GB")
    try:
        officer = await police_browser.page()
        officer_errors = watch_errors(officer)
        await approved_console(harness, counsellor, srv.url, "carmen")
        await approved_console(harness, officer, srv.url, "agent-jansen", Role.POLICE)
        # The officer's first screen: requests, no queue, nothing to join yet.
        await officer.get_by_text("No young person has asked for the police right now.").wait_for()
        assert await axe(officer) == []
        await shot(officer, "console-police-no-requests")

        youth = await widget_to_queue(youth_browser, srv.url)
        other = await harness.secure_youth(srv)  # someone else waiting: never the officer's
        await counsellor.get_by_role("button", name="Accept conversation 1").click()
        await screen(counsellor, "chat")
        await youth.locator('#app[data-screen="chat"]').wait_for()
        await _widget_says(youth, BEFORE)
        await counsellor.locator(".messages li.theirs", has_text=BEFORE).wait_for()

        await _consent(youth, counsellor)
        assert await axe(counsellor) == []
        await shot(counsellor, "console-handover-consented")

        # The request reaches the officer live; the queue never does.
        join = officer.get_by_role("button", name="Join request 1")
        await join.wait_for()
        await officer.get_by_text("Reads from the handover on").wait_for()
        assert await officer.get_by_role("button", name="Accept").count() == 0
        assert "Queue" not in await officer.locator("#app").inner_text()
        assert await officer.locator("#nav-home").inner_text() == "Handover requests (1)"
        assert await axe(officer) == []
        await shot(officer, "console-police-requests")
        await join.click()
        await screen(officer, "chat", officer_errors)
        await officer.get_by_text("You can read from the moment of the handover on").wait_for()
        await counsellor.get_by_text("Police: officer agent-jansen joined").wait_for()
        await youth.get_by_text("Er is een politieagent in deze chat").wait_for()

        await _widget_says(youth, AFTER)
        await officer.locator(".messages li.theirs", has_text=AFTER).wait_for()
        # Only from the handover on: what was written before is not there.
        assert BEFORE not in await officer.locator("#app").inner_text()
        await officer.get_by_label("Your message").fill(OFFICER)
        await officer.get_by_label("Your message").press("Enter")
        await youth.locator(".messages li", has_text=OFFICER).wait_for()
        await counsellor.locator(".messages li.theirs", has_text=OFFICER).wait_for()
        assert "Police (agent-jansen)" in await counsellor.locator(
            ".messages li.theirs", has_text=OFFICER).inner_text()
        await counsellor.get_by_text("From here on the police can read").wait_for()
        assert await axe(officer) == []
        await shot(officer, "console-police-chat")
        assert await axe(counsellor) == []
        await shot(counsellor, "console-police-joined")

        # The young person withdraws: the officer is out at once, nothing left on screen.
        await youth.get_by_role("button", name="Stop toegang politie").click()
        await officer.get_by_text("you are no longer in this chat").wait_for()
        await screen(officer, "requests")
        shown = await officer.locator("#app").inner_text()
        assert AFTER not in shown and OFFICER not in shown
        await counsellor.get_by_text("Police: the young person withdrew").wait_for()
        await counsellor.get_by_text("Who can read this chat: the helpline team", exact=True
                                     ).wait_for()

        # Offered and agreed again: the officer joins with Alt+A and leaves with Alt+E.
        await _consent(youth, counsellor)
        await officer.get_by_role("button", name="Join request 1").wait_for()
        await officer.locator("h1").click()
        await officer.keyboard.press("Alt+KeyA")
        await screen(officer, "chat")
        await counsellor.get_by_text("Police: officer agent-jansen joined").wait_for()
        await officer.keyboard.press("Alt+KeyE")
        await screen(officer, "requests")
        await counsellor.get_by_text("Police: the officer left").wait_for()

        # And once more; this time the counsellor ends the police part.
        await _consent(youth, counsellor)
        await officer.get_by_role("button", name="Join request 1").click()
        await screen(officer, "chat")
        await counsellor.get_by_text("Police: officer agent-jansen joined").wait_for()
        await counsellor.get_by_role("button", name="End the police part").click()
        await counsellor.get_by_text("Police: ended").wait_for()
        await officer.get_by_text("you are no longer in this chat").wait_for()
        await screen(officer, "requests")
        assert other.conversation_id is not None
        assert officer_errors == [] and errors == []
    finally:
        await close_browser(p1, youth_browser)
        await close_browser(p2, police_browser)


async def test_with_shared_history_the_officer_reads_from_the_start_with_the_line_shown(
    harness: Harness, browser: Browser, tmp_path: Path
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    counsellor = await browser.page()
    p1, youth_browser = await new_browser(tmp_path, "youth", locale="nl-NL")
    p2, police_browser = await new_browser(tmp_path, "police", locale="en-GB")
    try:
        officer = await police_browser.page()
        await approved_console(harness, counsellor, srv.url, "carmen")
        await approved_console(harness, officer, srv.url, "agent-jansen", Role.POLICE)
        youth = await widget_to_queue(youth_browser, srv.url)
        await counsellor.get_by_role("button", name="Accept conversation 1").click()
        await youth.locator('#app[data-screen="chat"]').wait_for()
        await _widget_says(youth, BEFORE)
        await counsellor.locator(".messages li.theirs", has_text=BEFORE).wait_for()

        await counsellor.get_by_role("button", name="Offer police handover").click()
        await youth.locator('#app[data-screen="offer"]').wait_for(timeout=15_000)
        assert await youth.get_by_label("Ook de eerdere berichten delen").is_checked()
        await youth.get_by_role("button", name="Ja", exact=True).click()
        await officer.get_by_text("Earlier conversation shared").wait_for()
        await officer.get_by_role("button", name="Join request 1").click()
        await screen(officer, "chat")
        await officer.locator(".messages li.theirs", has_text=BEFORE).wait_for()
        await _widget_says(youth, AFTER)
        await officer.locator(".messages li.theirs", has_text=AFTER).wait_for()
        # The line sits between what was shared and what came after the handover.
        order = await officer.locator(".messages li").all_inner_texts()
        before = next(i for i, x in enumerate(order) if BEFORE in x)
        line = order.index("From here on the police can read")
        after = next(i for i, x in enumerate(order) if AFTER in x)
        assert before < line < after, order
        assert order[0] == ("The young person shared the conversation before the handover "
                            "with you.")
        await shot(officer, "console-police-shared")
    finally:
        await close_browser(p1, youth_browser)
        await close_browser(p2, police_browser)
