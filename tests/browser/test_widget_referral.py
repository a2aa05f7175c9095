"""A referral card in the young person's widget: a counsellor (helpline.client) sends an
organisation from the shipped directory; the widget shows it as a card with tap-to-call
links and the website, says that calling leaves a trace, and a card that breaks the
rules (a script address, stray fields) is shown as unreadable, never as a link."""

from __future__ import annotations

import json

import pytest

from helpline.client import ClientError
from helpline.services.directory import load_directory
from tests.browser.conftest import Browser, axe, shot
from tests.browser.test_widget_chat import _into_chat
from tests.conftest import Harness


def _card(entry_id: str, language: str) -> dict[str, object]:
    entry = load_directory().referral(entry_id)
    assert entry is not None, entry_id
    return entry.card(language)


async def test_a_referral_card_shows_with_call_links_and_a_bad_one_is_unreadable(
    harness: Harness, browser: Browser
) -> None:
    _, page, counsellor, cid = await _into_chat(harness, browser)
    card = _card("veilig_thuis", "nl")
    await counsellor.send_referral(cid, card)

    shown = page.get_by_role("region", name="Hier kun je hulp krijgen: Veilig Thuis")
    await shown.wait_for()
    assert await shown.get_by_role("heading").inner_text() == "Veilig Thuis"
    call = shown.get_by_role("link", name="Bel 0800-2000")
    assert await call.get_attribute("href") == "tel:08002000"
    site = shown.get_by_role("link", name="Website: veiligthuis.nl")
    assert await site.get_attribute("href") == "https://veiligthuis.nl"
    assert await site.get_attribute("rel") == "noopener noreferrer"
    await shown.get_by_text("Bereikbaar: 24 uur per dag, 7 dagen per week").wait_for()
    await shown.get_by_text("belgeschiedenis").wait_for()
    assert str(card["what"]) in await shown.inner_text()
    assert await axe(page) == []
    await shot(page, "widget-referral")

    # Sent by a client that skips the checks: a script address in the url field.
    bad = dict(card, url="javascript:alert(document.cookie)")
    await counsellor.send_plaintext(cid, json.dumps(
        {"type": "referral", "referral": bad}).encode())
    await page.get_by_text("Dit bericht kon niet veilig worden gelezen.").wait_for()
    assert await page.locator("a[href^='javascript']").count() == 0
    assert await page.locator(".referral").count() == 1

    # The counsellor's own client reads both as the young person does.
    read = [m for m in await counsellor.read(cid) if m.kind == "referral" or m.error]
    assert [(m.kind, m.referral, m.error) for m in read] == [
        ("referral", card, None), ("text", None, "bad_encoding")]
    # And refuses to send a malformed card at all.
    with pytest.raises(ClientError) as err:
        await counsellor.send_referral(cid, dict(card, phones=[{"number": "bel ons"}]))
    assert err.value.code == "invalid_payload"
    assert len([m for m in await counsellor.read(cid) if m.kind == "referral"]) == 1
