"""The widget's settings: a pinned fingerprint copied with colons or capitals still
pins (the app takes only 64 lowercase hex digits), a wrong one stops the start."""

from __future__ import annotations

import re

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
