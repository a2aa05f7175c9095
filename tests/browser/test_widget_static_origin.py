"""The widget from a separate static origin (HELPLINE_WIDGET_ORIGIN): `helpline widget
export` writes the files, a plain static server (here a few lines of aiohttp that know
nothing of helpline) serves them with the headers it lists, and a young person on a
partner page chats with a counsellor: the code that holds the keys never came from the
chat server."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from tests.browser.conftest import Browser, hosts, shot, widget_server
from tests.conftest import Harness, free_port


@asynccontextmanager
async def _static_host(folder: Path, port: int) -> AsyncIterator[None]:
    headers = json.loads((folder / "headers.json").read_text())
    files = {"/chat": folder / "chat.html", "/exit": folder / "exit.html"}
    files.update({f"/widget/{p.name}": p for p in (folder / "widget").iterdir()})
    bodies = {path: p.read_bytes() for path, p in files.items()}

    async def serve(request: web.Request) -> web.Response:
        if request.path not in bodies:
            raise web.HTTPNotFound()
        return web.Response(body=bodies[request.path], headers=headers[request.path])

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def test_the_widget_from_a_separate_static_origin_chats_end_to_end(
    harness: Harness, browser: Browser, tmp_path: Path
) -> None:
    fp = await harness.init_keys()
    static = f"http://127.0.0.1:{free_port()}"
    settings = {"HELPLINE_WIDGET_ORIGIN": static, "HELPLINE_PINNED_FINGERPRINT": fp}
    srv = widget_server(harness, **settings)
    # The page that embeds the widget is the chat server's own /demo here; the socket
    # is opened from the static origin.
    srv.env["HELPLINE_ALLOWED_ORIGINS"] = f"{srv.url},{static}"
    srv.stop()
    srv.start()
    folder = tmp_path / "static-site"
    env = {**harness.env(**settings), "HELPLINE_WIDGET_HOSTS": srv.url,
           "HELPLINE_EXIT_URL": f"{srv.url}/healthz"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpline", "widget", "export", str(folder), "--server", srv.url,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    counsellor = await harness.secure_staff("anouk")
    async with _static_host(folder, urlsplit(static).port or 80):
        page = await browser.page()
        await page.goto(f"{srv.url}/demo")
        assert await page.locator("script[src]").get_attribute("src") == (
            f"{static}/widget/loader.js")
        await page.get_by_role("button", name="Chat met ons").click()
        frame = await (await page.wait_for_selector("iframe")).content_frame()
        assert frame is not None
        await frame.get_by_role("button", name="Start de chat").click()
        assert frame.url == f"{static}/chat"
        await frame.locator('#app[data-screen="intake"]').wait_for(timeout=15_000)
        await frame.locator("section button.link").click()
        await frame.locator('#app[data-screen="queue"]').wait_for(timeout=15_000)
        cid = (await counsellor.queue())[0]["conversation_id"]
        await counsellor.accept(cid)
        await frame.locator('#app[data-screen="chat"]').wait_for(timeout=15_000)
        await frame.get_by_label("Bericht").fill("hallo, is daar iemand?")
        await frame.get_by_role("button", name="Versturen").click()
        await counsellor.send_text(cid, "Ja, ik ben er. Vertel maar.")
        await frame.locator(".messages li.theirs", has_text="Ja, ik ben er.").wait_for()
        deadline = asyncio.get_running_loop().time() + 10
        while "hallo, is daar iemand?" not in [m.text for m in await counsellor.read(cid)]:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.2)
        await shot(page, "static-origin-chat")
    # Every script, style and page of the widget came from the static origin; the chat
    # server served only the partner page (with its favicon) and the socket.
    from_server = {urlsplit(u).path for u in browser.requests
                   if urlsplit(u).netloc == urlsplit(srv.url).netloc}
    assert from_server == {"/demo", "/widget/favicon.svg"}, from_server
    assert hosts(browser.requests) == {urlsplit(srv.url).netloc, urlsplit(static).netloc}
