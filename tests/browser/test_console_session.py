"""A session runs out (here after 40 s, HELPLINE_SESSION_TTL_SECONDS): the console warns
before it ends and signs in again from the warning without losing the open chat; when it
has ended, the chat is hidden behind the password until the same person signs in again,
and then it is all back, with what arrived meanwhile."""

from __future__ import annotations

from tests.browser.conftest import Browser, axe, shot, widget_server
from tests.browser.console_helpers import approved_console, screen, watch_errors
from tests.conftest import PASSWORD, Harness


async def test_the_session_warns_renews_and_comes_back_after_it_ended(
    harness: Harness, browser: Browser
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp, HELPLINE_SESSION_TTL_SECONDS="40")
    page = await browser.page()
    errors = watch_errors(page)
    await approved_console(harness, page, srv.url, "carmen")
    youth = await harness.secure_youth(srv)
    await youth.send_text("ben je er nog")
    await page.get_by_role("button", name="Accept conversation 1").click()
    await page.locator(".messages li.theirs", has_text="ben je er nog").wait_for()

    # Less than five minutes left: the warning, with the password field in it.
    warning = page.get_by_role("alert").filter(has_text="Your session ends in 1 min.")
    await warning.wait_for(timeout=10_000)
    assert await axe(page) == []
    await shot(page, "console-session-warning")
    await page.locator("#renew-password").fill(PASSWORD)
    await page.get_by_role("button", name="Stay signed in").click()
    await screen(page, "chat")  # the chat stayed open
    await page.get_by_label("Your message").fill("ik ben er")
    await page.get_by_label("Your message").press("Enter")
    await youth.wait_until(lambda: len(youth.messages) == 2)
    assert (await youth.read())[1].text == "ik ben er"

    # Not renewed this time: when it ends, the chat is hidden until the password.
    await screen(page, "relogin", errors, timeout=60_000)
    await page.get_by_role("heading", name="Your session has ended.").wait_for()
    shown = await page.locator("#app").inner_text()
    assert "ben je er nog" not in shown and "ik ben er" not in shown
    assert await axe(page) == []
    await shot(page, "console-session-ended")
    await youth.send_text("hallo?")  # written while the counsellor was signed out
    await page.locator("#password").fill(PASSWORD)
    await page.get_by_role("button", name="Go on").click()
    await screen(page, "chat")
    await page.locator(".messages li.theirs", has_text="hallo?").wait_for()
    texts = [t.strip() for t in await page.locator(".messages li .text").all_inner_texts()]
    assert texts == ["ben je er nog", "ik ben er", "hallo?"]
    assert errors == []
