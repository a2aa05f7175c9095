"""StaffChat's `youthPins` (moderation/src/chat/staffchat.js) against a real server.

The console keeps each young person's signing key pinned per conversation in its
DeviceStore, so a reload (a new StaffChat on the same store) keeps trust on first use:
the key the server shows later must be the pinned one, or conversationKeys refuses it
with `key_changed`. The Node driver (tests/js/staff_chat.test.mjs) backs `youthPins`
with a store that outlives its StaffChat instances; the IndexedDB store itself is
checked in Chromium (tests/browser/test_console_devicestore.py).
"""

from __future__ import annotations

import pytest

from helpline.crypto.encoding import b64url_encode
from helpline.crypto.keys import SigningKeyPair
from tests.conftest import PASSWORD, Harness, ServerProcess
from tests.test_js_staff_chat import Console, JsError, console, signed_in_device

__all__ = ["console"]  # the fixture, imported for pytest


async def test_a_pinned_young_persons_key_survives_a_new_console_and_a_change_is_refused(
    harness: Harness, server: ServerProcess, console: Console
) -> None:
    await signed_in_device(harness, console, "carmen", chat="a")
    await console("new", "a2", pins="device")  # the same person, a console with pins
    await console("login", "a2", username="carmen", password=PASSWORD)
    await console("connect", "a2")
    youth = await harness.secure_youth()
    cid = youth.conversation_id
    assert cid is not None
    await console("accept", "a", conversationId=cid)
    await youth.send_text("hello")

    assert await console("getPin", pins="device", conversationId=cid) is None
    shown = await console("conversationKeys", "a2", conversationId=cid)
    assert shown is not None
    # First use: pinned in the store, not only in that console's memory.
    assert await console("getPin", pins="device", conversationId=cid) == shown

    # A reload: a new console on the same store trusts the same key...
    await console("new", "b", pins="device")
    await console("login", "b", username="carmen", password=PASSWORD)
    await console("connect", "b")
    assert await console("conversationKeys", "b", conversationId=cid) == shown

    # ...and one whose store pinned another key for this conversation refuses the
    # server's key, as it would a key the server swapped.
    other = b64url_encode(SigningKeyPair.generate().public.raw)
    await console("setPin", pins="elsewhere", conversationId=cid, key=other)
    await console("new", "c", pins="elsewhere")
    await console("login", "c", username="carmen", password=PASSWORD)
    await console("connect", "c")
    with pytest.raises(JsError) as refused:
        await console("conversationKeys", "c", conversationId=cid)
    assert refused.value.code == "key_changed"
    assert await console("getPin", pins="elsewhere", conversationId=cid) == other
