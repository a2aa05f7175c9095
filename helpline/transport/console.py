"""The counsellor console: its page and its built files.

Routes:
- `GET /console`: the console's page; it loads /console/app.js as a module. The chat
  server's origin (this server's own) and the pinned organisation key's fingerprint go
  in `data-` attributes of the page, never in the URL.
- `GET /console/<file>`: the files `moderation/build.mjs` ships in
  helpline/static/console/.

Every answer: `Cache-Control: no-store`, `Referrer-Policy: no-referrer`, `nosniff` and
a strict Content-Security-Policy (this origin only, sockets to this origin, never in a
frame). The console is served from the server's own origin, which the socket origin
check allows by default (`Settings.origins`).
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from helpline.appkeys import SETTINGS
from helpline.config import Settings
from helpline.transport.widget import BASE_HEADERS, page, self_origin, ws_origin

STATIC = Path(__file__).resolve().parent.parent / "static" / "console"
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.(js|css)$")
CONTENT_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}

def page_csp(origin: str) -> str:
    """The console page's policy: scripts, styles and sockets of this origin only;
    images also from blob: URLs (the favicon with the count is drawn in the page)."""
    ws = ws_origin(origin)
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
            f"connect-src 'self' {ws}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


def console_document(settings: Settings, origin: str) -> tuple[str, dict[str, str]]:
    """The /console page and its headers, for the chat server at `origin`."""
    attrs = {"data-server": origin, "data-fingerprint": settings.pinned_fingerprint}
    text = page("Helpline console", attrs, ["/console/app.js"], ["/console/style.css"],
                '<div id="app"><noscript>The console needs JavaScript.</noscript></div>',
                lang="en")
    return text, {**BASE_HEADERS, "Content-Security-Policy": page_csp(origin)}


async def console_page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    text, headers = console_document(settings, self_origin(settings, request))
    return web.Response(text=text, content_type="text/html", charset="utf-8", headers=headers)


async def console_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    path = STATIC / name
    if not FILE_NAME.match(name) or not path.is_file():
        raise web.HTTPNotFound()
    headers = {**BASE_HEADERS,
               "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
               "Content-Type": CONTENT_TYPES[name.rsplit(".", 1)[1]]}
    return web.Response(body=path.read_bytes(), headers=headers)


def add_console_routes(app: web.Application) -> None:
    app.router.add_get("/console", console_page)
    app.router.add_get("/console/{name}", console_file)
