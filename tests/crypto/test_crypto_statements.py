"""Organisation-signed team and police key statements."""

from __future__ import annotations

import json

import pytest

from helpline.crypto.encoding import decode_fields
from helpline.crypto.errors import (
    BadSignature,
    EncodingError,
    InvalidKey,
    StatementNotValid,
    UnsupportedVersion,
    UntrustedSigner,
    WrongStatementKind,
)
from helpline.crypto.keys import EncryptionKeyPair, SigningKeyPair
from helpline.crypto.statements import (
    KeyStatement,
    SignedKeyStatement,
    StatementKind,
    key_statement_from_dict,
    key_statement_from_json,
    key_statement_to_dict,
    key_statement_to_json,
    sign_key_statement,
    verify_key_statement,
)

ORG = SigningKeyPair.generate()
OTHER = SigningKeyPair.generate()
TEAM = EncryptionKeyPair.generate()
T0 = 1_763_942_400


def team_statement(**change: object) -> KeyStatement:
    fields: dict[str, object] = {
        "kind": StatementKind.TEAM_KEY,
        "subject": "2025-W48",
        "public_key": TEAM.public,
        "not_before": T0,
        "not_after": T0 + 100,
        **change,
    }
    return KeyStatement(**fields)  # type: ignore[arg-type]


def verify(signed: SignedKeyStatement, **change: object) -> KeyStatement:
    args: dict[str, object] = {
        "pinned_fingerprint": ORG.public.fingerprint,
        "kind": StatementKind.TEAM_KEY,
        "at": T0 + 1,
        **change,
    }
    return verify_key_statement(signed, **args)  # type: ignore[arg-type]


def test_sign_and_verify() -> None:
    signed = sign_key_statement(team_statement(), ORG)
    assert verify(signed) == team_statement()


def test_signed_bytes_layout() -> None:
    fields = decode_fields(b"helpline/v2/statement/team-key", team_statement().signed_bytes())
    assert fields == (
        b"2025-W48",
        TEAM.public.raw,
        T0.to_bytes(8, "big"),
        (T0 + 100).to_bytes(8, "big"),
    )


def test_police_statement() -> None:
    police = EncryptionKeyPair.generate()
    statement = KeyStatement(StatementKind.POLICE_KEY, "police-nl", police.public, T0, T0 + 9)
    signed = sign_key_statement(statement, ORG)
    assert verify(signed, kind=StatementKind.POLICE_KEY).public_key == police.public
    with pytest.raises(WrongStatementKind):
        verify(signed)


def test_signed_by_another_key() -> None:
    with pytest.raises(UntrustedSigner):
        verify(sign_key_statement(team_statement(), OTHER))


def test_wrong_fingerprint_pinned() -> None:
    signed = sign_key_statement(team_statement(), ORG)
    with pytest.raises(UntrustedSigner):
        verify(signed, pinned_fingerprint=OTHER.public.fingerprint)
    with pytest.raises(EncodingError):
        verify(signed, pinned_fingerprint="not a fingerprint")


def test_signer_swapped_with_matching_pin() -> None:
    signed = sign_key_statement(team_statement(), ORG)
    forged = SignedKeyStatement(signed.statement, OTHER.public, signed.signature)
    with pytest.raises(BadSignature):
        verify(forged, pinned_fingerprint=OTHER.public.fingerprint)


@pytest.mark.parametrize(
    "change",
    [
        {"subject": "2025-W49"},
        {"public_key": EncryptionKeyPair.generate().public},
        {"not_before": T0 - 1},
        {"not_after": T0 + 101},
        {"kind": StatementKind.POLICE_KEY},
    ],
)
def test_altered_statement(change: dict[str, object]) -> None:
    signed = sign_key_statement(team_statement(), ORG)
    forged = SignedKeyStatement(team_statement(**change), signed.signer, signed.signature)
    kind = change.get("kind", StatementKind.TEAM_KEY)
    with pytest.raises(BadSignature):
        verify(forged, kind=kind)


def test_validity_window_is_inclusive() -> None:
    signed = sign_key_statement(team_statement(), ORG)
    verify(signed, at=T0)
    verify(signed, at=T0 + 100)
    verify(signed, at=None)  # reading an old transcript
    for at in (T0 - 1, T0 + 101):
        with pytest.raises(StatementNotValid):
            verify(signed, at=at)


def test_invalid_statement_values() -> None:
    for change in (
        {"subject": "week 48"},
        {"not_before": T0 + 101},
        {"not_after": 2**53},
        {"not_before": -1},
        {"not_before": True},
    ):
        with pytest.raises(EncodingError):
            team_statement(**change)


def test_transport_round_trip() -> None:
    signed = sign_key_statement(team_statement(), ORG)
    text = key_statement_to_json(signed)
    assert key_statement_from_json(text) == signed
    data = json.loads(text)
    assert data["kind"] == "team-key" and data["v"] == 2
    assert key_statement_from_dict(key_statement_to_dict(signed)) == signed


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"v": 1}, UnsupportedVersion),
        ({"v": "2"}, EncodingError),
        ({"kind": "staff-key"}, EncodingError),
        ({"not_before": "1"}, EncodingError),
        ({"not_before": 1.5}, EncodingError),
        ({"public_key": "AAAA"}, InvalidKey),
        ({"signature": "not base64!"}, EncodingError),
        ({"extra": 1}, EncodingError),
    ],
)
def test_transport_refuses(change: dict[str, object], error: type[Exception]) -> None:
    data = {**key_statement_to_dict(sign_key_statement(team_statement(), ORG)), **change}
    with pytest.raises(error):
        key_statement_from_dict(data)


def test_transport_refuses_missing_field_and_non_object() -> None:
    data = key_statement_to_dict(sign_key_statement(team_statement(), ORG))
    del data["signer"]
    with pytest.raises(EncodingError):
        key_statement_from_dict(data)
    for text in ("[]", "nope", '"x"'):
        with pytest.raises(EncodingError):
            key_statement_from_json(text)
