"""Shared steps of the console's browser tests: open /console on a desk-sized window,
sign in, have the device approved and granted by the admin (the fingerprints read off
the page, as a counsellor reads them to their admin), and bring a young person from the
real widget into the queue."""

from __future__ import annotations

from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from helpline.domain.roles import Role
from tests.browser.conftest import Browser
from tests.conftest import PASSWORD, Harness

DESK = {"width": 1280, "height": 900}


async def screen(page: Page, name: str, errors: list[str] | None = None,
                 timeout: float = 15_000) -> None:
    try:
        await page.locator(f'#app[data-screen="{name}"]').wait_for(timeout=timeout)
    except PlaywrightTimeout:
        shows = await page.locator("#app").inner_text()
        raise AssertionError(f"no {name} screen; the page shows: {shows}; "
                             f"errors: {errors}") from None


def watch_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


async def open_console(page: Page, url: str, language: str = "en") -> None:
    await page.set_viewport_size(DESK)
    await page.goto(f"{url}/console")
    await screen(page, "login")
    if language:
        await page.locator("#ui-language").select_option(language)


async def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(password)
    await page.locator("form.login button[type=submit]").click()


async def fingerprints(page: Page) -> tuple[str, str]:
    await screen(page, "device")
    enc = (await page.locator("#fp-encryption").inner_text()).strip()
    sig = (await page.locator("#fp-signing").inner_text()).strip()
    return enc, sig


async def approve(harness: Harness, username: str, role: Role, enc: str, sig: str) -> None:
    store = harness.store()
    try:
        admin = harness.key_admin(store)
        await admin.approve(username, role, enc, sig)
        await admin.grant(username)
        if role is Role.POLICE:
            await harness.police_admin(store).grant(username, enc, sig)
    finally:
        await store.close()


async def new_device(page: Page) -> None:
    """On the setup screen: new keys, and no backup file."""
    await screen(page, "setup")
    await page.get_by_role("button", name="Make new keys").click()
    await screen(page, "backup")
    await page.get_by_role("button", name="Skip: I stay on this device").click()


async def approved_console(harness: Harness, page: Page, url: str, username: str,
                           role: Role = Role.COUNSELLOR, create: bool = True) -> None:
    """Signed in on a new device, approved and granted: the queue (or the requests)."""
    if create:
        await harness.add_staff(username, role)
    await open_console(page, url)
    await sign_in(page, username)
    await new_device(page)
    enc, sig = await fingerprints(page)
    await approve(harness, username, role, enc, sig)
    await page.get_by_role("button", name="Check again").click()
    await screen(page, "requests" if role is Role.POLICE else "queue")


async def widget_to_queue(b: Browser, url: str) -> Page:
    """A young person opens the real widget at /chat and skips the intake: queued."""
    page = await b.page()
    await page.goto(f"{url}/chat")
    await page.get_by_role("button", name="Start de chat").click()
    await page.locator('#app[data-screen="intake"]').wait_for(timeout=15_000)
    await page.get_by_role("button", name="Nederlands").click()
    await page.locator(".choices button").first.wait_for()
    await page.locator("section button.link").click()  # the script's skip label
    await page.locator('#app[data-screen="queue"]').wait_for(timeout=15_000)
    return page
