"""Identifiers: shape, and safe to paste into a command line."""

from __future__ import annotations

from helpline.domain.ids import is_conversation_id, new_conversation_id


def test_conversation_ids_are_22_characters_and_never_look_like_an_option() -> None:
    # One url-safe base64 character in 64 is "-"; 4,000 draws would hit a leading
    # "-" about 62 times if nothing prevented it.
    ids = [new_conversation_id() for _ in range(4000)]
    assert all(is_conversation_id(i) for i in ids)
    assert not [i for i in ids if i.startswith("-")]
    assert len(set(ids)) == len(ids)
