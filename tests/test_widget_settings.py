"""The widget's settings: a pinned fingerprint copied with colons or capitals still
pins (the app takes only 64 lowercase hex digits), a wrong one stops the start."""

from __future__ import annotations

import asyncio
import re
import sys
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path

import aiohttp
import pytest

from helpline.config import ConfigError, load_settings
from tests.browser.conftest import widget_server
from tests.conftest import Harness

FP = "0123456789abcdef" * 4


def test_a_fingerprint_with_colons_and_capitals_is_normalised() -> None:
    copied = ":".join(FP[i:i + 2] for i in range(0, 64, 2)).upper()
    assert load_settings({"HELPLINE_PINNED_FINGERPRINT": copied}).pinned_fingerprint == FP
    for bad in (FP[:-2], FP + "00", "zz" * 32, "not a key"):
        with pytest.raises(ConfigError, match="HELPLINE_PINNED_FINGERPRINT"):
            load_settings({"HELPLINE_PINNED_FINGERPRINT": bad})


async def test_the_chat_page_carries_the_normalised_fingerprint(harness: Harness) -> None:
    srv = widget_server(harness, HELPLINE_PINNED_FINGERPRINT="-".join([FP.upper()[:32],
                                                                       FP.upper()[32:]]))
    async with aiohttp.ClientSession() as http, http.get(f"{srv.url}/chat") as r:
        page = await r.text()
    assert re.findall(r'data-fingerprint="([^"]*)"', page) == [FP]


async def test_behind_a_tls_proxy_the_pages_name_the_public_https_origin(harness: Harness
                                                                         ) -> None:
    """The proxy talks plain http to the server; the browser is on https://."""
    public = "https://chat.example.nl"
    srv = widget_server(harness, HELPLINE_PUBLIC_ORIGIN=public, HELPLINE_ALLOWED_ORIGINS=public)
    async with aiohttp.ClientSession() as http, http.get(f"{srv.url}/chat") as r:
        page, csp = await r.text(), r.headers["Content-Security-Policy"]
    assert re.findall(r'data-server="([^"]*)"', page) == [public]
    assert f"{public}/widget/app.js" in page
    assert "connect-src 'self' https://chat.example.nl wss://chat.example.nl;" in csp
    assert re.findall(r'data-hosts="([^"]*)"', page) == [public]
    assert "http://" not in csp and "ws://" not in csp
    assert load_settings({"HELPLINE_PUBLIC_ORIGIN": public}).origins == (public,)


async def test_widget_export_refuses_a_server_that_is_not_an_origin(harness: Harness,
                                                                    tmp_path: Path) -> None:
    env = {**harness.env(), "HELPLINE_WIDGET_ORIGIN": "https://widget.example.org"}
    for bad in ("chat.example.nl", "https://a.example 'unsafe-inline'", "https://a;b"):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "helpline", "widget", "export", str(tmp_path / "site"),
            "--server", bad, env=env, stdout=PIPE, stderr=STDOUT)
        out, _ = await proc.communicate()
        assert proc.returncode != 0 and out.startswith(b"--server ") and b"origin" in out, out
        assert not (tmp_path / "site").exists()  # nothing half-written
