"""`helpline widget export DIR`: the widget as files for a separate static origin.

With `HELPLINE_WIDGET_ORIGIN` set, the loader opens `<widget origin>/chat` and quick
exit ends at `<widget origin>/exit`, so the static host serves those two pages as well
as the built files. This writes all of them, with the settings of this environment
(pinned fingerprint, exit URL, partner hosts) filled in, and `headers.json`: the
headers each path must be served with (docs/operations.md shows an nginx example).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from helpline.config import Settings, parse_origin
from helpline.transport.widget import (
    FILE_NAME,
    STATIC,
    chat_document,
    exit_document,
    file_headers,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("widget", help="the widget for a separate static origin")
    widget_sub = p.add_subparsers(dest="action", required=True)
    export = widget_sub.add_parser("export", help="write the widget's files into a folder")
    export.add_argument("folder", type=Path, help="an empty or new folder")
    export.add_argument("--server", required=True,
                        help="the chat server's public origin (https://chat.example.nl)")


def export(settings: Settings, folder: Path, server: str) -> dict[str, dict[str, str]]:
    """Write chat.html, exit.html, widget/* and headers.json; returns the headers."""
    if not settings.widget_origin:
        raise SystemExit("set HELPLINE_WIDGET_ORIGIN to the static origin first")
    if folder.exists() and any(folder.iterdir()):
        raise SystemExit(f"{folder} is not empty")
    (folder / "widget").mkdir(parents=True, exist_ok=True)
    headers: dict[str, dict[str, str]] = {}
    for path, document in (("/chat", chat_document(settings, server, settings.widget_origin)),
                           ("/exit", exit_document(settings))):
        text, page_headers = document
        (folder / f"{path[1:]}.html").write_text(text, encoding="utf-8")
        headers[path] = {**page_headers, "Content-Type": "text/html; charset=utf-8"}
    for built in sorted(STATIC.iterdir()):
        if FILE_NAME.match(built.name):
            shutil.copyfile(built, folder / "widget" / built.name)
            headers[f"/widget/{built.name}"] = file_headers(built.name)
    (folder / "headers.json").write_text(json.dumps(headers, indent=2, sort_keys=True) + "\n")
    return headers


async def run(settings: Settings, args: argparse.Namespace) -> int:
    try:  # written into the page and its CSP: one plain origin, nothing else
        server = parse_origin(args.server.rstrip("/"))
    except ValueError as exc:
        raise SystemExit(f"--server {exc}") from None
    headers = export(settings, args.folder, server)
    print(f"wrote {len(headers)} paths into {args.folder}: serve /chat from chat.html, "
          f"/exit from exit.html, /widget/* from widget/, each with its headers from "
          f"headers.json, at {settings.widget_origin}")
    print(f"the chat server needs HELPLINE_ALLOWED_ORIGINS to include {settings.widget_origin}")
    return 0
