"""A counsellor's desk in Chromium: three conversations at once with unread counts, the
count in the tab title and favicon, the sound off until chosen, a colleague's chat alerting
nobody here; a reload keeps the
device keys (IndexedDB) and shows every history decrypted again; and a backup file
moves the keys to another device, where no new approval is needed."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page

from helpline.client import YouthClient
from helpline.domain.roles import Role
from tests.browser.conftest import (
    Browser,
    axe,
    close_browser,
    new_browser,
    shot,
    until_js,
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
)
from tests.conftest import Harness

PASSPHRASE = "paarse olifant fietst naar huis"


async def _nav(page: Page, n: int) -> str:
    return (await page.locator(f"[data-chat='{n}']").inner_text()).strip()


async def _title_count(page: Page) -> int:
    title = await page.title()
    return int(title[1:title.index(")")]) if title.startswith("(") else 0


async def test_three_chats_at_once_with_unread_counts_and_a_reload_keeps_them(
    harness: Harness, browser: Browser
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    page = await browser.page()
    errors = watch_errors(page)
    await approved_console(harness, page, srv.url, "carmen")

    youths: list[YouthClient] = []
    for i in range(3):
        y = await harness.secure_youth(srv)
        await y.send_text(f"hallo van {i + 1}")
        youths.append(y)
    for i in range(3):  # accept each, back to the queue in between
        await page.get_by_role("button", name="Accept conversation 1").click()
        await screen(page, "chat", errors)
        await page.locator(".messages li.theirs").first.wait_for()
        if i < 2:
            await page.locator("#nav-home").click()
            await screen(page, "queue")
    order = []
    for n in (1, 2, 3):  # which young person is in which conversation
        await page.locator(f"[data-chat='{n}']").click()
        order.append(await page.locator(".messages li.theirs .text").first.inner_text())
    assert sorted(order) == ["hallo van 1", "hallo van 2", "hallo van 3"]
    by_chat = {n: youths[int(order[n - 1][-1]) - 1] for n in (1, 2, 3)}
    await page.get_by_label("Your message").fill("ik ben er voor je")
    await page.get_by_label("Your message").press("Enter")  # in conversation 3
    await page.locator(".messages li.mine").wait_for()
    assert await _title_count(page) == 0

    # Messages to the two conversations not on the screen: counted, no sound (off).
    await by_chat[1].send_text("een")
    await by_chat[2].send_text("twee")
    await by_chat[2].send_text("drie")
    await page.locator("[data-chat='1']", has_text="1 unread").wait_for()
    await page.locator("[data-chat='2']", has_text="2 unread").wait_for()
    assert await _nav(page, 3) == "Conversation 3"
    await until_js(page, "() => document.title === '(3) Helpline console'")
    icon = page.locator('link[rel="icon"]')
    assert await icon.get_attribute("data-count") == "3"
    assert (await icon.get_attribute("href") or "").startswith("blob:")
    assert await page.locator("body").get_attribute("data-sounds") is None
    assert "een" not in await page.title()  # never content in an alert
    assert await axe(page) == []
    await shot(page, "console-three-chats")

    # The sound, once chosen, plays for the next message (and is kept for next time).
    await page.get_by_role("button", name="Alerts").click()
    sound = page.get_by_label("Play a sound for new conversations and messages")
    assert not await sound.is_checked()
    assert await axe(page) == []
    await shot(page, "console-alerts")
    await sound.check()
    await page.get_by_label("Sound", exact=True).select_option("beep")
    await by_chat[1].send_text("vier")
    await page.locator("[data-chat='1']", has_text="2 unread").wait_for()
    await until_js(page, "() => document.body.dataset.sounds === '1'")
    assert await _title_count(page) == 4
    await page.locator("[data-chat='2']").click()  # read: its count goes
    assert await _nav(page, 2) == "Conversation 2"
    assert await _title_count(page) == 2

    # A colleague's conversation: waiting, it counts (anyone may take it); once the
    # colleague holds it, its messages alert nobody here.
    colleague = await harness.secure_staff("colleague")
    theirs = await harness.secure_youth(srv)
    await until_js(page, "() => document.title === '(3) Helpline console'")
    await colleague.accept(str(theirs.conversation_id))
    await until_js(page, "() => document.title === '(2) Helpline console'")
    await theirs.send_text("niet voor carmen")
    await colleague.wait_for("message", lambda d: True, timeout=10)
    await by_chat[1].send_text("vijf")  # this one does count: the last thing to arrive
    await page.locator("[data-chat='1']", has_text="3 unread").wait_for()
    assert await _title_count(page) == 3
    assert await page.locator("[data-chat]").count() == 3
    assert "niet voor carmen" not in await page.locator("body").inner_text()

    # A reload: memory is gone, the device keys are not; every history decrypts again.
    await page.reload()
    await screen(page, "login")
    await sign_in(page, "carmen")
    await screen(page, "queue", errors)  # no setup, no approval: the same device
    for n in (1, 2, 3):
        await page.locator(f"[data-chat='{n}']").wait_for()
    texts = {}
    for n in (1, 2, 3):
        await page.locator(f"[data-chat='{n}']").click()
        try:
            await page.locator(".messages li").first.wait_for(timeout=5000)
        except Exception:
            raise AssertionError(await page.locator("#app").inner_text() + str(errors)) from None
        texts[n] = [t.strip() for t in await page.locator(".messages li .text").all_inner_texts()]
    assert sorted(texts.values()) == sorted([
        ["hallo van " + order[0][-1], "een", "vier", "vijf"],
        ["hallo van " + order[1][-1], "twee", "drie"],
        ["hallo van " + order[2][-1], "ik ben er voor je"],
    ])
    assert await page.locator(".messages li.theirs .who").first.inner_text() == "Young person"
    await page.get_by_role("button", name="Alerts").click()
    assert await page.get_by_label("Play a sound for new conversations and messages").is_checked()
    assert errors == []


async def test_a_backup_file_moves_the_keys_to_another_device(
    harness: Harness, browser: Browser, tmp_path: Path
) -> None:
    fp = await harness.init_keys()
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT=fp)
    await harness.add_staff("carmen")
    page = await browser.page()
    await open_console(page, srv.url)
    await sign_in(page, "carmen")
    await screen(page, "setup")
    await page.get_by_role("button", name="Make new keys").click()
    await screen(page, "backup")
    await page.get_by_label("Passphrase (at least 12 characters)").fill("te kort")
    await page.get_by_label("Passphrase again").fill("te kort")
    await page.get_by_role("button", name="Save backup file").click()
    await page.get_by_text("The passphrase needs at least 12 characters.").wait_for()
    await page.get_by_label("Passphrase (at least 12 characters)").fill(PASSPHRASE)
    await page.get_by_label("Passphrase again").fill(PASSPHRASE)
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Save backup file").click()
    saved = tmp_path / "carmen-keys.json"
    await (await download.value).save_as(saved)
    assert (await download.value).suggested_filename == "helpline-keys-carmen.json"
    assert PASSPHRASE not in saved.read_text()
    enc, sig = await fingerprints(page)
    await page.get_by_text("The backup file was saved.").wait_for()
    await approve(harness, "carmen", Role.COUNSELLOR, enc, sig)
    await page.get_by_role("button", name="Check again").click()
    await screen(page, "queue")

    p, other = await new_browser(tmp_path, "laptop", locale="en-GB")
    try:
        laptop = await other.page()
        await open_console(laptop, srv.url)
        await sign_in(laptop, "carmen")
        await screen(laptop, "setup")
        await laptop.get_by_role("button", name="Restore from a backup file").click()
        await screen(laptop, "restore")
        assert await axe(laptop) == []
        await shot(laptop, "console-restore")
        await laptop.get_by_label("Backup file").set_input_files(str(saved))
        passphrase = laptop.get_by_label("Passphrase (at least 12 characters)")
        await passphrase.fill("niet de goede wachtzin")
        await laptop.get_by_role("button", name="Restore").click()
        await laptop.get_by_text("This passphrase does not open the backup file.").wait_for()
        await passphrase.fill(PASSPHRASE)
        await laptop.get_by_role("button", name="Restore").click()
        await screen(laptop, "queue")  # the same keys: approved already, nothing to wait for
        youth = await harness.secure_youth(srv)
        await youth.send_text("kan iemand me helpen")
        await laptop.get_by_role("button", name="Accept conversation 1").click()
        await laptop.locator(".messages li.theirs", has_text="kan iemand me helpen").wait_for()
    finally:
        await close_browser(p, other)
