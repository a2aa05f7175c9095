"""What a new user does first: `helpline serve --demo` (the real command), then, with only
what it printed, a young person chats in the printed /chat, the demo counsellor signs in
at the printed console URL on a new browser (restoring the printed backup file with the
printed passphrase), accepts, talks, offers the police; the young person agrees; the
demo officer signs in the same way in a third browser, joins and talks; the counsellor
ends and files the wrap-up."""

from __future__ import annotations

import asyncio
import re
import sys
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path

from playwright.async_api import Page

from tests.browser.conftest import Browser, close_browser, new_browser, shot
from tests.browser.console_helpers import DESK, screen, watch_errors, widget_to_queue
from tests.conftest import Harness, free_port


async def _printed(proc: asyncio.subprocess.Process, until: str) -> str:
    assert proc.stdout is not None
    out = ""
    while until not in out:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line, f"serve --demo exited:\n{out}"
        out += line
    return out


async def _restore_sign_in(page: Page, url: str, login: str, password: str, backup: Path,
                           passphrase: str) -> None:
    await page.set_viewport_size(DESK)
    await page.goto(url)
    await screen(page, "login")
    await page.locator("#ui-language").select_option("en")
    await page.get_by_label("Username").fill(login)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await screen(page, "setup")
    await page.get_by_role("button", name="Restore from a backup file").click()
    await page.get_by_label("Backup file").set_input_files(str(backup))
    await page.get_by_label("Passphrase (at least 12 characters)").fill(passphrase)
    await page.get_by_role("button", name="Restore").click()


async def test_a_new_user_takes_a_demo_chat_end_to_end_police_included(
    harness: Harness, browser: Browser, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = harness.env(HELPLINE_ALLOWED_ORIGINS=base, HELPLINE_EXIT_URL=f"{base}/healthz")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpline", "serve", "--demo", "--port", str(port),
        env=env, stdout=PIPE, stderr=STDOUT, cwd=env["HELPLINE_DATA_DIR"])
    p1 = p2 = None
    try:
        out = await _printed(proc, "play a counsellor")
        chat_url = re.search(r"chat:\s+(\S+)", out)
        console_url = re.search(r"console:\s+(\S+)", out)
        backup = re.search(r"file (\S+), passphrase (\S+)", out)
        logins = dict(re.findall(r"^\s+(\w+)\s+(?:counsellor|police)\s+(\S+)$", out, re.M))
        assert chat_url and console_url and backup, out
        assert console_url.group(1) == f"{base}/console"
        file_of = lambda login: Path(backup.group(1).replace("<login>", login))  # noqa: E731
        assert file_of("counsellor1").is_file()

        counsellor = await browser.page()
        errors = watch_errors(counsellor)
        await _restore_sign_in(counsellor, console_url.group(1), "counsellor1",
                               logins["counsellor1"], file_of("counsellor1"), backup.group(2))
        await screen(counsellor, "queue", errors)

        p1, youth_browser = await new_browser(tmp_path, "youth", locale="nl-NL")
        youth = await widget_to_queue(youth_browser, chat_url.group(1).rsplit("/", 1)[0])
        await counsellor.get_by_role("button", name="Accept conversation 1").click()
        await screen(counsellor, "chat", errors)
        await youth.get_by_label("Bericht").fill("hoi, ik zit in de problemen")
        await youth.get_by_role("button", name="Versturen").click()
        await counsellor.locator(".messages li.theirs", has_text="in de problemen").wait_for()
        await counsellor.get_by_label("Your message").fill("Ik ben er. Vertel maar.")
        await counsellor.get_by_label("Your message").press("Enter")
        await youth.locator(".messages li", has_text="Ik ben er. Vertel maar.").wait_for()

        await counsellor.get_by_role("button", name="Offer police handover").click()
        await youth.locator('#app[data-screen="offer"]').wait_for(timeout=15_000)
        await youth.get_by_role("button", name="Ja", exact=True).click()
        await counsellor.get_by_text("Police: the young person agreed").wait_for()

        p2, police_browser = await new_browser(tmp_path, "police", locale="en-GB")
        officer = await police_browser.page()
        await _restore_sign_in(officer, console_url.group(1), "police", logins["police"],
                               file_of("police"), backup.group(2))
        await screen(officer, "requests")
        await officer.get_by_role("button", name="Join request 1").click()
        await screen(officer, "chat")
        await officer.get_by_label("Your message").fill("Politie hier. Je bent veilig.")
        await officer.get_by_label("Your message").press("Enter")
        await youth.locator(".messages li", has_text="Politie hier.").wait_for()
        await counsellor.locator(".messages li", has_text="Politie hier.").wait_for()
        await shot(officer, "console-demo-police")

        await counsellor.get_by_role("button", name="End conversation").click()
        wrapup = counsellor.get_by_role("dialog", name="Wrap-up")
        await wrapup.get_by_role("group", name="Form of exploitation").get_by_label(
            "Criminal").check()
        await wrapup.get_by_role("group", name="Age band").get_by_label("Unknown").check()
        await wrapup.get_by_role("group", name="Referred to").get_by_label(
            "Police", exact=True).check()
        await wrapup.get_by_role("button", name="File and close").click()
        await counsellor.get_by_text("The conversation is closed and the wrap-up filed.").wait_for()
        await officer.get_by_text("you are no longer in this chat").wait_for()
        await shot(counsellor, "console-demo-closed")
        assert errors == []
    finally:
        for p, b in ((p1, locals().get("youth_browser")), (p2, locals().get("police_browser"))):
            if p is not None and b is not None:
                await close_browser(p, b)
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
