"""The shared vector files verify, from their own fields, as a browser test would.

Checks the committed files in tests/vectors/ and a fresh run of generate.py:
statement.json, envelope.json and the RFC 9180 extract must come out
byte-identical; wrap.json differs only in HPKE output (fresh ephemeral keys).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from helpline.crypto.envelope import (
    Sender,
    SenderRole,
    _seal_with_fixed_nonce_for_vectors_only,
    message_aad,
    open_envelope,
    parse_envelope,
)
from helpline.crypto.errors import CryptoError
from helpline.crypto.keys import (
    EncryptionKeyPair,
    EncryptionPublicKey,
    SigningKeyPair,
    SigningPublicKey,
)
from helpline.crypto.reader import TranscriptReader
from helpline.crypto.staff_statements import staff_statement_from_dict, verify_staff_statement
from helpline.crypto.statements import (
    KeyStatement,
    StatementKind,
    key_statement_from_dict,
    verify_key_statement,
)
from helpline.crypto.wrap import (
    HPKE_SUITE,
    conversation_key_info,
    team_key_grant_info,
    unwrap_conversation_key,
    unwrap_team_key_grant,
)

VECTORS = Path(__file__).parents[1] / "vectors"
FILES = (
    "js-made.json",
    "statement.json",
    "wrap.json",
    "envelope.json",
    "staff-statement.json",
    "rfc9180-base-x25519-sha256-aes256gcm.json",
)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "helpline_vector_generator", VECTORS / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _outcome(action: Callable[[], object]) -> str:
    try:
        action()
    except CryptoError as exc:
        return exc.code
    return "ok"


def _load(directory: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / name).read_text(encoding="utf-8"))
    return data


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- statement.json -------------------------------------------------------------


def check_statements(data: dict[str, Any]) -> None:
    signer = SigningKeyPair.from_private_bytes(_h(data["signer"]["private_key"]))
    assert signer.public.raw.hex() == data["signer"]["public_key"]
    assert signer.public.fingerprint == data["signer"]["fingerprint"]
    assert data["valid"] and data["invalid"]
    for entry in data["valid"]:
        statement = KeyStatement(
            kind=StatementKind(entry["kind"]),
            subject=entry["subject"],
            public_key=EncryptionPublicKey(_h(entry["public_key"])),
            not_before=entry["not_before"],
            not_after=entry["not_after"],
        )
        assert statement.public_key.fingerprint == entry["public_key_fingerprint"]
        assert statement.signed_bytes().hex() == entry["signed_bytes"], entry["name"]
        assert (
            signer.sign(statement.signed_bytes()).hex() == entry["signature"]
        )  # Ed25519 is deterministic
        signed = key_statement_from_dict(entry["transport"])
        assert signed.statement == statement and signed.signature.hex() == entry["signature"]
        verified = verify_key_statement(
            signed,
            pinned_fingerprint=entry["pinned_fingerprint"],
            kind=StatementKind(entry["kind"]),
            at=entry["at"],
        )
        assert verified == statement
    for entry in data["invalid"]:

        def attempt(entry: dict[str, Any] = entry) -> object:
            return verify_key_statement(
                key_statement_from_dict(entry["transport"]),
                pinned_fingerprint=entry["pinned_fingerprint"],
                kind=StatementKind(entry["kind"]),
                at=entry["at"],
            )

        assert _outcome(attempt) == entry["error"], entry["name"]


# --- wrap.json ------------------------------------------------------------------


def _unwrap_entry(entry: dict[str, Any]) -> bytes:
    recipient = EncryptionKeyPair.from_private_bytes(_h(entry["recipient_private_key"]))
    wrapped = _h(entry["wrapped"])
    if entry["purpose"] == "conversation-key":
        return unwrap_conversation_key(
            wrapped, recipient, conversation_id=entry["conversation_id"], epoch=entry["epoch"]
        )
    team = unwrap_team_key_grant(
        wrapped,
        recipient,
        period=entry["period"],
        grantee=entry["grantee"],
        team_public_key=EncryptionPublicKey(_h(entry["team_public_key"])),
    )
    return team.private_bytes_raw()


def _info(entry: dict[str, Any]) -> bytes:
    recipient = EncryptionPublicKey(_h(entry["recipient_public_key"]))
    if entry["purpose"] == "conversation-key":
        return conversation_key_info(
            recipient, conversation_id=entry["conversation_id"], epoch=entry["epoch"]
        )
    return team_key_grant_info(
        recipient,
        period=entry["period"],
        grantee=entry["grantee"],
        team_public_key=EncryptionPublicKey(_h(entry["team_public_key"])),
    )


def check_wraps(data: dict[str, Any]) -> None:
    assert data["hpke"] == {"mode": 0, "kem_id": 32, "kdf_id": 1, "aead_id": 2, "aad": ""}
    assert data["valid"] and data["invalid"]
    for entry in data["valid"] + data["invalid"]:
        recipient = EncryptionKeyPair.from_private_bytes(_h(entry["recipient_private_key"]))
        assert recipient.public.raw.hex() == entry["recipient_public_key"]
        assert recipient.public.fingerprint == entry["recipient_fingerprint"]
        assert _info(entry).hex() == entry["info"], entry["name"]
    for entry in data["valid"]:
        assert _unwrap_entry(entry).hex() == entry["secret"], entry["name"]
        # Plain HPKE, as @hpke/core would open it: skip the 2 header bytes.
        recipient = EncryptionKeyPair.from_private_bytes(_h(entry["recipient_private_key"]))
        opened = HPKE_SUITE.decrypt(
            _h(entry["wrapped"])[2:], recipient.private_key, info=_h(entry["info"])
        )
        assert opened.hex() == entry["secret"]
    for entry in data["invalid"]:
        assert _outcome(_unwrapper(entry)) == entry["error"], entry["name"]


def _unwrapper(entry: dict[str, Any]) -> Callable[[], object]:
    return lambda: _unwrap_entry(entry)


# --- envelope.json --------------------------------------------------------------


def check_envelopes(data: dict[str, Any]) -> None:
    senders = {}
    for s in data["senders"]:
        key = SigningKeyPair.from_private_bytes(_h(s["private_key"]))
        assert key.public.raw.hex() == s["public_key"]
        assert key.public.fingerprint == s["fingerprint"]
        senders[s["name"]] = (key, SenderRole(s["role"]))
    assert data["valid"] and data["invalid"] and data["reader"]
    for entry in data["valid"]:
        key, role = senders[entry["sender"]]
        envelope = _h(entry["envelope"])
        parsed = parse_envelope(envelope)
        assert parsed.header_bytes.hex() == entry["header"]
        assert message_aad(parsed.header_bytes).hex() == entry["aad"]
        assert parsed.nonce.hex() == entry["nonce"]
        assert parsed.ciphertext.hex() == entry["ciphertext"]
        assert parsed.signature_input.hex() == entry["signature_input"]
        assert parsed.signature.hex() == entry["signature"]
        again = _seal_with_fixed_nonce_for_vectors_only(
            _h(entry["plaintext"]),
            epoch_key=_h(entry["epoch_key"]),
            conversation_id=entry["conversation_id"],
            epoch=entry["epoch"],
            counter=entry["counter"],
            role=SenderRole(entry["role"]),
            signing_key=key,
            nonce=_h(entry["nonce"]),
        )
        assert again == envelope, entry["name"]
        message = open_envelope(
            envelope,
            epoch_key=_h(entry["epoch_key"]),
            conversation_id=entry["conversation_id"],
            epoch=entry["epoch"],
            sender=Sender(SigningPublicKey(_h(entry["sender_public_key"])), role),
        )
        assert message.plaintext.hex() == entry["plaintext"]
        assert message.plaintext.decode() == entry["plaintext_text"]
        assert (
            message.counter == entry["counter"]
            and message.sender_fingerprint == entry["sender_fingerprint"]
        )
    for entry in data["invalid"]:
        expect = entry["expect"]

        def attempt(entry: dict[str, Any] = entry, expect: dict[str, Any] = expect) -> object:
            return open_envelope(
                _h(entry["envelope"]),
                epoch_key=_h(expect["epoch_key"]),
                conversation_id=expect["conversation_id"],
                epoch=expect["epoch"],
                sender=Sender(
                    SigningPublicKey(_h(expect["sender_public_key"])), SenderRole(expect["role"])
                ),
            )

        assert _outcome(attempt) == entry["error"], entry["name"]
    for sequence in data["reader"]:
        reader = TranscriptReader(sequence["conversation_id"])
        for epoch, key_hex in sequence["epoch_keys"].items():
            reader.add_epoch_key(int(epoch), _h(key_hex))
        for s in sequence["senders"]:
            reader.add_sender(Sender(SigningPublicKey(_h(s["public_key"])), SenderRole(s["role"])))
        for number, step in enumerate(sequence["steps"]):
            where = f"{sequence['name']}, step {number}"
            if step["result"] == "ok":
                entry = reader.open(_h(step["envelope"]))
                assert entry.message.plaintext.hex() == step["plaintext"], where
                assert entry.missing == step["missing"], where
            else:
                assert _outcome(_opener(reader, step["envelope"])) == step["result"], where


def _opener(reader: TranscriptReader, envelope_hex: str) -> Callable[[], object]:
    return lambda: reader.open(_h(envelope_hex))


# --- the tests ------------------------------------------------------------------


def test_committed_statement_vectors_verify() -> None:
    check_statements(_load(VECTORS, "statement.json"))


def check_staff_statements(data: dict[str, Any]) -> None:
    for entry in data["valid"]:
        signed = staff_statement_from_dict(entry["transport"])
        assert signed.statement.signed_bytes().hex() == entry["signed_bytes"], entry["name"]
        verify_staff_statement(signed, pinned_fingerprint=entry["pinned_fingerprint"],
                               at=entry["at"])
    for entry in data["invalid"]:
        def attempt(entry: dict[str, Any] = entry) -> object:
            return verify_staff_statement(staff_statement_from_dict(entry["transport"]),
                                          pinned_fingerprint=entry["pinned_fingerprint"],
                                          at=entry["at"])
        assert _outcome(attempt) == entry["error"], entry["name"]


def test_committed_staff_statement_vectors_verify() -> None:
    check_staff_statements(_load(VECTORS, "staff-statement.json"))


def test_committed_wrap_vectors_verify() -> None:
    check_wraps(_load(VECTORS, "wrap.json"))


def test_committed_envelope_vectors_verify() -> None:
    check_envelopes(_load(VECTORS, "envelope.json"))


def _without_wrapped(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_wrapped(v) for k, v in value.items() if k != "wrapped"}
    if isinstance(value, list):
        return [_without_wrapped(v) for v in value]
    return value


def test_regenerated_vectors_verify_and_match(tmp_path: Path) -> None:
    _generator().generate(tmp_path)
    check_statements(_load(tmp_path, "statement.json"))
    check_wraps(_load(tmp_path, "wrap.json"))
    check_envelopes(_load(tmp_path, "envelope.json"))
    check_staff_statements(_load(tmp_path, "staff-statement.json"))
    same = ("statement.json", "envelope.json", "staff-statement.json",
            "rfc9180-base-x25519-sha256-aes256gcm.json")
    for name in same:
        assert (tmp_path / name).read_bytes() == (VECTORS / name).read_bytes(), name
    assert _without_wrapped(_load(tmp_path, "wrap.json")) == _without_wrapped(
        _load(VECTORS, "wrap.json")
    )


@pytest.mark.parametrize("name", FILES)
def test_files_are_plain_json(name: str) -> None:
    # No NaN, no duplicate keys: what JSON.parse in a browser reads the same way.
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys))
        return dict(pairs)

    def refuse(constant: str) -> None:
        raise AssertionError(constant)

    json.loads(
        (VECTORS / name).read_text(encoding="utf-8"),
        object_pairs_hook=no_duplicates,
        parse_constant=refuse,
    )


def test_js_made_wrap_and_envelope_open_in_python() -> None:
    # Written by check_vectors.mjs (WebCrypto + @hpke/core), committed as js-made.json.
    data = _load(VECTORS, "js-made.json")
    wrap, envelope = data["wrap"], data["envelope"]
    epoch_key = unwrap_conversation_key(
        _h(wrap["wrapped"]),
        EncryptionKeyPair.from_private_bytes(_h(wrap["recipient_private_key"])),
        conversation_id=wrap["conversation_id"],
        epoch=wrap["epoch"],
    )
    assert epoch_key.hex() == wrap["secret"] == envelope["epoch_key"]
    message = open_envelope(
        _h(envelope["envelope"]),
        epoch_key=epoch_key,
        conversation_id=envelope["conversation_id"],
        epoch=envelope["epoch"],
        sender=Sender(SigningPublicKey(_h(envelope["sender_public_key"])), SenderRole.YOUTH),
    )
    assert message.plaintext.decode() == envelope["plaintext"]
