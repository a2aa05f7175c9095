"""HPKE wraps of epoch keys and team key grants, and what binds them."""

from __future__ import annotations

import pytest

from helpline.crypto.encoding import decode_fields
from helpline.crypto.errors import (
    EncodingError,
    InvalidKey,
    UnsupportedSuite,
    UnsupportedVersion,
    UnwrapFailed,
)
from helpline.crypto.keys import EncryptionKeyPair, generate_epoch_key
from helpline.crypto.wrap import (
    HPKE_SUITE,
    WRAPPED_BYTES,
    conversation_key_info,
    team_key_grant_info,
    unwrap_conversation_key,
    unwrap_team_key_grant,
    wrap_conversation_key,
    wrap_team_key_grant,
)

TEAM = EncryptionKeyPair.generate()
STAFF = EncryptionKeyPair.generate()
OTHER = EncryptionKeyPair.generate()
CONV = "Xq3m9Zt0Q1uVb8kLr2s7Yw"


def test_conversation_key_round_trip() -> None:
    key = generate_epoch_key()
    wrapped = wrap_conversation_key(key, TEAM.public, conversation_id=CONV, epoch=3)
    assert len(wrapped) == WRAPPED_BYTES == 82
    assert wrapped[:2] == b"\x02\x01"
    assert unwrap_conversation_key(wrapped, TEAM, conversation_id=CONV, epoch=3) == key
    # Fresh ephemeral key every time: two wraps of one key differ.
    assert wrapped != wrap_conversation_key(key, TEAM.public, conversation_id=CONV, epoch=3)


def test_wrap_is_plain_hpke_with_our_info() -> None:
    # What a browser does with @hpke/core: open(enc || ct) with the same info.
    key = generate_epoch_key()
    wrapped = wrap_conversation_key(key, TEAM.public, conversation_id=CONV, epoch=1)
    info = conversation_key_info(TEAM.public, conversation_id=CONV, epoch=1)
    assert HPKE_SUITE.decrypt(wrapped[2:], TEAM.private_key, info=info) == key


def test_info_layout() -> None:
    info = conversation_key_info(TEAM.public, conversation_id=CONV, epoch=258)
    assert decode_fields(b"helpline/v2/wrap/conversation-key", info) == (
        b"\x02\x01",
        CONV.encode(),
        b"\x00\x00\x01\x02",
        TEAM.public.fingerprint_digest,
    )
    grant = team_key_grant_info(
        STAFF.public, period="2025-W48", grantee="anna", team_public_key=TEAM.public
    )
    assert decode_fields(b"helpline/v2/wrap/team-key-grant", grant) == (
        b"\x02\x01",
        b"2025-W48",
        b"anna",
        TEAM.public.fingerprint_digest,
        STAFF.public.fingerprint_digest,
    )


@pytest.mark.parametrize(
    "change",
    [
        {"recipient": OTHER},
        {"conversation_id": "Pd7Rk2Nw8Hc5Tj1Lm4Vx9A"},
        {"epoch": 2},
    ],
)
def test_conversation_key_wrong_context(change: dict[str, object]) -> None:
    wrapped = wrap_conversation_key(
        generate_epoch_key(), TEAM.public, conversation_id=CONV, epoch=1
    )
    args: dict[str, object] = {"recipient": TEAM, "conversation_id": CONV, "epoch": 1, **change}
    with pytest.raises(UnwrapFailed):
        unwrap_conversation_key(wrapped, **args)  # type: ignore[arg-type]


def test_flipped_bits_and_bad_headers() -> None:
    wrapped = wrap_conversation_key(
        generate_epoch_key(), TEAM.public, conversation_id=CONV, epoch=1
    )
    for index in range(2, len(wrapped)):
        bad = bytearray(wrapped)
        bad[index] ^= 0x80
        with pytest.raises(UnwrapFailed):
            unwrap_conversation_key(bytes(bad), TEAM, conversation_id=CONV, epoch=1)
    with pytest.raises(UnsupportedVersion):
        unwrap_conversation_key(b"\x01" + wrapped[1:], TEAM, conversation_id=CONV, epoch=1)
    with pytest.raises(UnsupportedSuite):
        unwrap_conversation_key(b"\x02\x02" + wrapped[2:], TEAM, conversation_id=CONV, epoch=1)
    for bad_length in (b"", wrapped[:1], wrapped[:-1], wrapped + b"\x00"):
        with pytest.raises(UnwrapFailed):
            unwrap_conversation_key(bad_length, TEAM, conversation_id=CONV, epoch=1)


def test_grant_round_trip() -> None:
    wrapped = wrap_team_key_grant(TEAM, STAFF.public, period="2025-W48", grantee="anna")
    team = unwrap_team_key_grant(
        wrapped, STAFF, period="2025-W48", grantee="anna", team_public_key=TEAM.public
    )
    assert team.public == TEAM.public
    assert team.private_bytes_raw() == TEAM.private_bytes_raw()


@pytest.mark.parametrize(
    "change",
    [
        {"recipient": OTHER},
        {"period": "2025-W49"},
        {"grantee": "bert"},
        {"team_public_key": OTHER.public},
    ],
)
def test_grant_wrong_context(change: dict[str, object]) -> None:
    wrapped = wrap_team_key_grant(TEAM, STAFF.public, period="2025-W48", grantee="anna")
    args: dict[str, object] = {
        "recipient": STAFF,
        "period": "2025-W48",
        "grantee": "anna",
        "team_public_key": TEAM.public,
        **change,
    }
    with pytest.raises(UnwrapFailed):
        unwrap_team_key_grant(wrapped, **args)  # type: ignore[arg-type]


def test_purposes_do_not_mix() -> None:
    # Same recipient, a grant opened as a conversation key and the other way round.
    grant = wrap_team_key_grant(TEAM, STAFF.public, period="2025-W48", grantee="anna")
    with pytest.raises(UnwrapFailed):
        unwrap_conversation_key(grant, STAFF, conversation_id="2025-W48", epoch=0)
    conv = wrap_conversation_key(generate_epoch_key(), STAFF.public, conversation_id=CONV, epoch=1)
    with pytest.raises(UnwrapFailed):
        unwrap_team_key_grant(
            conv, STAFF, period="2025-W48", grantee="anna", team_public_key=TEAM.public
        )


def test_grant_of_the_wrong_private_key_is_caught() -> None:
    # A granter who wraps another private key under the right info.
    from helpline.crypto.wrap import _wrap

    info = team_key_grant_info(
        STAFF.public, period="2025-W48", grantee="anna", team_public_key=TEAM.public
    )
    wrapped = _wrap(OTHER.private_bytes_raw(), STAFF.public, info)
    with pytest.raises(InvalidKey):
        unwrap_team_key_grant(
            wrapped, STAFF, period="2025-W48", grantee="anna", team_public_key=TEAM.public
        )


def test_bad_inputs() -> None:
    with pytest.raises(InvalidKey):
        wrap_conversation_key(b"short", TEAM.public, conversation_id=CONV, epoch=1)
    with pytest.raises(EncodingError):
        wrap_conversation_key(generate_epoch_key(), TEAM.public, conversation_id="", epoch=1)
    with pytest.raises(EncodingError):
        wrap_conversation_key(generate_epoch_key(), TEAM.public, conversation_id=CONV, epoch=-1)
