"""The young person's widget: the chat page, its built files, quick exit and the demo.

Routes:
- `GET /chat`: the chat app as a full page (outreach links), and inside the iframe the
  loader opens. Settings go in `data-` attributes of the page, never in the URL.
- `GET /widget/<file>`: the files `widgets/build.mjs` ships in helpline/static/widget/.
- `GET /exit`: quick exit's last stop: `Clear-Site-Data` for this origin, then (exit.js)
  `location.replace` to the neutral exit URL, so Back does not come back.
- `GET /demo` (only with `HELPLINE_WIDGET_DEMO=on`, which `helpline serve --demo`
  sets): a host page with the snippet, its `integrity` computed from the shipped loader.

Every answer: `Cache-Control: no-store`, `Referrer-Policy: no-referrer`, `nosniff` and
a strict Content-Security-Policy (this origin only; frame-ancestors as configured).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path

from aiohttp import web

from helpline.appkeys import SETTINGS
from helpline.config import Settings

STATIC = Path(__file__).resolve().parent.parent / "static" / "widget"
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(\.[a-z]+)?\.(js|css|svg)$")
CONTENT_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
                 "svg": "image/svg+xml"}

BASE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def self_origin(settings: Settings, request: web.Request) -> str:
    """This server's origin as browsers reach it (HELPLINE_PUBLIC_ORIGIN behind a proxy)."""
    return settings.public_origin or f"{request.scheme}://{request.host}"


def widget_origin(settings: Settings, request: web.Request) -> str:
    return settings.widget_origin or self_origin(settings, request)


def ws_origin(origin: str) -> str:
    return "ws" + origin.removeprefix("http")


def _headers(csp: str, **extra: str) -> dict[str, str]:
    return {**BASE_HEADERS, "Content-Security-Policy": csp, **extra}


def _frame_ancestors(settings: Settings) -> str:
    return " ".join(("'self'", *settings.widget_hosts))


def _app_csp(settings: Settings, server: str, origin: str) -> str:
    sources = " ".join(dict.fromkeys(("'self'", origin)))
    connect = " ".join(dict.fromkeys(("'self'", server, ws_origin(server))))
    return (f"default-src 'none'; script-src {sources}; style-src {sources}; "
            f"img-src {sources}; connect-src {connect}; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors {_frame_ancestors(settings)}")


def page(title: str, body_attrs: dict[str, str], scripts: list[str], styles: list[str],
          body: str, lang: str = "nl") -> str:
    attrs = "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in body_attrs.items())
    links = "".join(f'<link rel="stylesheet" href="{html.escape(s)}">' for s in styles)
    tags = "".join(f'<script type="module" src="{html.escape(s)}"></script>' for s in scripts)
    return (f'<!doctype html><html lang="{lang}" dir="ltr"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title>"
            '<link rel="icon" href="/widget/favicon.svg" type="image/svg+xml">'
            f"{links}{tags}</head><body{attrs}>{body}</body></html>")


def chat_document(settings: Settings, server: str, origin: str) -> tuple[str, dict[str, str]]:
    """The /chat page and its headers, for the chat server `server` and the widget code
    at `origin` (also written out for a separate static origin: cli/widget.py)."""
    text = page("Chat", {
        "data-server": server,
        "data-fingerprint": settings.pinned_fingerprint,
        "data-language": settings.default_language,
        "data-exit-url": settings.exit_url,
        "data-hosts": " ".join((server, *settings.widget_hosts)),
    }, [f"{origin}/widget/app.js"], [f"{origin}/widget/style.css"],
        '<div id="app"><noscript>Deze chat heeft JavaScript nodig. '
        "This chat needs JavaScript.</noscript></div>")
    return text, _headers(_app_csp(settings, server, origin))


def exit_document(settings: Settings) -> tuple[str, dict[str, str]]:
    """The /exit page and its headers (Clear-Site-Data for the origin that serves it)."""
    text = page("Chat", {"data-exit-url": settings.exit_url}, ["/widget/exit.js"], [], "")
    csp = (f"default-src 'none'; script-src 'self'; base-uri 'none'; form-action 'none'; "
           f"frame-ancestors {_frame_ancestors(settings)}")
    return text, _headers(csp, **{"Clear-Site-Data": '"cache", "cookies", "storage"'})


def file_headers(name: str) -> dict[str, str]:
    """The headers of a built file, wherever it is served from."""
    headers = _headers("default-src 'none'; frame-ancestors 'none'",
                       **{"Content-Type": CONTENT_TYPES[name.rsplit(".", 1)[1]]})
    if name == "loader.js":
        # Host pages load it cross-origin with integrity= and crossorigin (CORS, no
        # credentials): anyone may read this public file.
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return headers


def _html(document: tuple[str, dict[str, str]]) -> web.Response:
    text, headers = document
    return web.Response(text=text, content_type="text/html", charset="utf-8", headers=headers)


async def chat_page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return _html(chat_document(settings, self_origin(settings, request),
                               widget_origin(settings, request)))


async def exit_page(request: web.Request) -> web.Response:
    return _html(exit_document(request.app[SETTINGS]))


async def widget_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    path = STATIC / name
    if not FILE_NAME.match(name) or not path.is_file():
        raise web.HTTPNotFound()
    headers = file_headers(name)
    settings = request.app[SETTINGS]
    if name != "loader.js" and settings.widget_origin:  # served to another origin's pages
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        headers["Access-Control-Allow-Origin"] = self_origin(settings, request)
    return web.Response(body=path.read_bytes(), headers=headers)


def loader_integrity() -> str:
    digest = hashlib.sha384((STATIC / "loader.js").read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


def snippet(settings: Settings, server: str, origin: str, look: str = "default") -> str:
    """The one script tag a partner site adds (README, "The widget")."""
    attrs = {
        "src": f"{origin}/widget/loader.js",
        "integrity": loader_integrity(),
        "crossorigin": "anonymous",
        "data-server": server,
        "data-widget": origin,
        "data-fingerprint": settings.pinned_fingerprint,
        "data-language": "",
        "data-campaign": "",
        "data-look": look,
    }
    return "<script " + " ".join(
        f'{k}="{html.escape(v, quote=True)}"' for k, v in attrs.items()) + "></script>"


async def demo_page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    origin = widget_origin(settings, request)
    server = self_origin(settings, request)
    # /demo?look=disguise shows the look for when someone may be watching.
    look = "disguise" if request.query.get("look") == "disguise" else "default"
    tag = snippet(settings, server, origin, look)
    body = ('<main><h1>Demo partner site</h1>'
            "<p>This page stands for a partner's website. The helpline's snippet below "
            "draws the chat button and the quick-exit button; the chat itself runs in a "
            "frame from the helpline's widget origin.</p>"
            f"<pre>{html.escape(tag)}</pre></main>")
    text = page("Demo partner site", {}, [], [], body + tag, lang="en")
    sources = " ".join(dict.fromkeys(("'self'", origin)))
    csp = (f"default-src 'none'; script-src {sources}; frame-src {sources}; img-src 'self'; "
           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return web.Response(text=text, content_type="text/html", charset="utf-8",
                        headers=_headers(csp))


def add_widget_routes(app: web.Application, settings: Settings) -> None:
    app.router.add_get("/chat", chat_page)
    app.router.add_get("/exit", exit_page)
    app.router.add_get("/widget/{name}", widget_file)
    if settings.widget_demo:
        app.router.add_get("/demo", demo_page)
