"""Write the shared test vectors (see README.md beside this file for their fields).

Run from the repository root:  .venv/bin/python tests/vectors/generate.py

Keys and nonces are derived from fixed names, so statement.json, envelope.json and
the RFC 9180 extract come out byte-identical on every run. HPKE draws a fresh
ephemeral key inside `cryptography` on every wrap, so the `wrapped` values in
wrap.json (and the negative cases cut from them) change per run; everything else
in that file is fixed, and any run's output must verify.
"""

from __future__ import annotations

import hashlib
import json
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cryptography_vectors
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from helpline.crypto.constants import NONCE_BYTES
from helpline.crypto.encoding import b64url_decode, b64url_encode
from helpline.crypto.envelope import (
    ROLE_CODES,
    SenderRole,
    _seal_with_fixed_nonce_for_vectors_only,
    message_aad,
    message_signature_input,
    parse_envelope,
)
from helpline.crypto.keys import EncryptionKeyPair, SigningKeyPair
from helpline.crypto.padding import pad
from helpline.crypto.staff_statements import (
    StaffKeyStatement,
    sign_staff_statement,
    staff_statement_to_dict,
)
from helpline.crypto.statements import (
    KeyStatement,
    SignedKeyStatement,
    StatementKind,
    key_statement_to_dict,
    sign_key_statement,
)
from helpline.crypto.wrap import (
    conversation_key_info,
    team_key_grant_info,
    wrap_conversation_key,
    wrap_team_key_grant,
)

HERE = Path(__file__).resolve().parent
RFC9180_FILE = "rfc9180-base-x25519-sha256-aes256gcm.json"
# Our suite in RFC 9180 numbering: base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
# AES-256-GCM.
RFC9180_SUITE = {"mode": 0, "kem_id": 0x0020, "kdf_id": 0x0001, "aead_id": 0x0002}

Json = dict[str, Any]


def _seed(name: str) -> bytes:
    """32 fixed bytes per name: reproducible keys without shipping key files."""
    return hashlib.sha256(b"helpline test vector seed: " + name.encode()).digest()


def _nonce(name: str) -> bytes:
    return _seed("nonce " + name)[:NONCE_BYTES]


def _flip(data: bytes, index: int, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[index] ^= 1 << bit
    return bytes(out)


def _signing(name: str) -> SigningKeyPair:
    return SigningKeyPair.from_private_bytes(_seed("ed25519 " + name))


def _encryption(name: str) -> EncryptionKeyPair:
    return EncryptionKeyPair.from_private_bytes(_seed("x25519 " + name))


def _signing_json(name: str, key: SigningKeyPair) -> Json:
    return {
        "name": name,
        "private_key": key.private_bytes_raw().hex(),
        "public_key": key.public.raw.hex(),
        "fingerprint": key.public.fingerprint,
    }


def _encryption_json(name: str, key: EncryptionKeyPair) -> Json:
    return {
        "name": name,
        "private_key": key.private_bytes_raw().hex(),
        "public_key": key.public.raw.hex(),
        "fingerprint": key.public.fingerprint,
    }


# --- RFC 9180 -------------------------------------------------------------------


def rfc9180_vectors() -> list[Json]:
    """Our suite's entries from the RFC 9180 vectors shipped in cryptography_vectors."""
    path = Path(cryptography_vectors.__file__).parent / "HPKE" / "test-vectors.json"
    every: list[Json] = json.loads(path.read_text())
    return [v for v in every if all(v[k] == want for k, want in RFC9180_SUITE.items())]


# --- statements -----------------------------------------------------------------

C0_TEXT = "Ja, je bent anoniem. Waar wil je over praten? 🙂"
T0 = 1_763_942_400  # 2025-11-24T00:00:00Z, a Monday
WEEK = 7 * 24 * 3600


def statement_vectors() -> Json:
    org = _signing("organisation")
    other = _signing("not the organisation")
    team = _encryption("team 2025-W48")
    police = _encryption("police unit")
    team_statement = KeyStatement(
        kind=StatementKind.TEAM_KEY,
        subject="2025-W48",
        public_key=team.public,
        not_before=T0,
        not_after=T0 + WEEK - 1,
    )
    police_statement = KeyStatement(
        kind=StatementKind.POLICE_KEY,
        subject="police-nl-ahm",
        public_key=police.public,
        not_before=T0,
        not_after=T0 + 52 * WEEK,
    )
    signed_team = sign_key_statement(team_statement, org)
    signed_police = sign_key_statement(police_statement, org)
    pin = org.public.fingerprint

    def valid(name: str, signed: SignedKeyStatement, at: int) -> Json:
        s = signed.statement
        return {
            "name": name,
            "kind": s.kind.value,
            "subject": s.subject,
            "public_key": s.public_key.raw.hex(),
            "public_key_fingerprint": s.public_key.fingerprint,
            "not_before": s.not_before,
            "not_after": s.not_after,
            "signed_bytes": s.signed_bytes().hex(),
            "signature": signed.signature.hex(),
            "transport": key_statement_to_dict(signed),
            "pinned_fingerprint": pin,
            "at": at,
        }

    def invalid(
        name: str,
        transport: Json,
        error: str,
        *,
        kind: str = "team-key",
        pinned: str = pin,
        at: int | None = T0 + 3600,
    ) -> Json:
        return {
            "name": name,
            "transport": transport,
            "kind": kind,
            "pinned_fingerprint": pinned,
            "at": at,
            "error": error,
        }

    team_t: Json = key_statement_to_dict(signed_team)
    police_t: Json = key_statement_to_dict(signed_police)

    def changed(base: Json, **fields: Any) -> Json:
        return {**base, **fields}

    by_other = key_statement_to_dict(sign_key_statement(team_statement, other))
    signed_as_police = sign_key_statement(
        KeyStatement(
            kind=StatementKind.POLICE_KEY,
            subject=team_statement.subject,
            public_key=team_statement.public_key,
            not_before=team_statement.not_before,
            not_after=team_statement.not_after,
        ),
        org,
    )
    return {
        "description": "Organisation-signed key statements; see README.md.",
        "signer": _signing_json("organisation", org),
        "other_signer": _signing_json("not the organisation", other),
        "valid": [
            valid("team key for 2025-W48", signed_team, T0 + 3600),
            valid("police unit key", signed_police, T0 + 3600),
            valid("team key at the first second", signed_team, T0),
            valid("team key at the last second", signed_team, T0 + WEEK - 1),
            {**valid("old team key read later (no time check)", signed_team, 0), "at": None},
        ],
        "invalid": [
            invalid("signed by another key", by_other, "untrusted_signer"),
            invalid(
                "another key pinned",
                team_t,
                "untrusted_signer",
                pinned=other.public.fingerprint,
            ),
            invalid(
                "signer swapped, pin follows it",
                changed(team_t, signer=by_other["signer"]),
                "bad_signature",
                pinned=other.public.fingerprint,
            ),
            invalid("subject changed", changed(team_t, subject="2025-W49"), "bad_signature"),
            invalid(
                "public key swapped",
                changed(team_t, public_key=police_t["public_key"]),
                "bad_signature",
            ),
            invalid(
                "not_after extended", changed(team_t, not_after=T0 + 2 * WEEK), "bad_signature"
            ),
            invalid(
                "police statement relabelled as team key",
                changed(key_statement_to_dict(signed_as_police), kind="team-key"),
                "bad_signature",
            ),
            invalid("police key where a team key is asked", police_t, "wrong_statement_kind"),
            invalid("expired", team_t, "statement_not_valid", at=T0 + WEEK),
            invalid("not yet valid", team_t, "statement_not_valid", at=T0 - 1),
            invalid("unknown version", changed(team_t, v=1), "unsupported_version"),
            invalid(
                "padded base64url",
                changed(team_t, signature=team_t["signature"] + "=="),
                "bad_encoding",
            ),
            invalid("extra field", changed(team_t, extra=1), "bad_encoding"),
            invalid(
                "flipped signature bit",
                changed(team_t, signature=_b64_flip(team_t["signature"])),
                "bad_signature",
            ),
        ],
    }


def _b64_flip(text: str) -> str:
    return b64url_encode(_flip(b64url_decode(text), 0))


# --- wraps ----------------------------------------------------------------------


def wrap_vectors() -> Json:
    team = _encryption("team 2025-W48")
    police = _encryption("police unit")
    staff = _encryption("staff device anna")
    intruder = _encryption("someone else")
    epoch_key_1 = _seed("epoch key conv-A epoch 1")
    epoch_key_2 = _seed("epoch key conv-A epoch 2")
    conv = "Xq3m9Zt0Q1uVb8kLr2s7Yw"  # shaped like the server's 22-character ids

    def conv_entry(
        name: str,
        wrapped: bytes,
        recipient: EncryptionKeyPair,
        conversation_id: str,
        epoch: int,
        secret: bytes | None,
        error: str | None = None,
    ) -> Json:
        entry: Json = {
            "name": name,
            "purpose": "conversation-key",
            "recipient_private_key": recipient.private_bytes_raw().hex(),
            "recipient_public_key": recipient.public.raw.hex(),
            "recipient_fingerprint": recipient.public.fingerprint,
            "conversation_id": conversation_id,
            "epoch": epoch,
            "info": conversation_key_info(
                recipient.public, conversation_id=conversation_id, epoch=epoch
            ).hex(),
            "wrapped": wrapped.hex(),
        }
        if secret is not None:
            entry["secret"] = secret.hex()
        if error is not None:
            entry["error"] = error
        return entry

    def grant_entry(
        name: str,
        wrapped: bytes,
        recipient: EncryptionKeyPair,
        period: str,
        grantee: str,
        team_key: EncryptionKeyPair,
        error: str | None = None,
    ) -> Json:
        entry: Json = {
            "name": name,
            "purpose": "team-key-grant",
            "recipient_private_key": recipient.private_bytes_raw().hex(),
            "recipient_public_key": recipient.public.raw.hex(),
            "recipient_fingerprint": recipient.public.fingerprint,
            "period": period,
            "grantee": grantee,
            "team_public_key": team_key.public.raw.hex(),
            "team_fingerprint": team_key.public.fingerprint,
            "info": team_key_grant_info(
                recipient.public,
                period=period,
                grantee=grantee,
                team_public_key=team_key.public,
            ).hex(),
            "wrapped": wrapped.hex(),
        }
        if error is None:
            entry["secret"] = team_key.private_bytes_raw().hex()
        else:
            entry["error"] = error
        return entry

    w_team = wrap_conversation_key(epoch_key_1, team.public, conversation_id=conv, epoch=1)
    w_police = wrap_conversation_key(epoch_key_2, police.public, conversation_id=conv, epoch=2)
    w_grant = wrap_team_key_grant(team, staff.public, period="2025-W48", grantee="anna")

    def bad_conv(name: str, wrapped: bytes, error: str, **change: Any) -> Json:
        args: Json = {"recipient": team, "conversation_id": conv, "epoch": 1, **change}
        return conv_entry(name, wrapped, secret=None, error=error, **args)

    def bad_grant(name: str, error: str, **change: Any) -> Json:
        args: Json = {
            "wrapped": w_grant,
            "recipient": staff,
            "period": "2025-W48",
            "grantee": "anna",
            "team_key": team,
            **change,
        }
        return grant_entry(name, error=error, **args)

    hpke_end = len(w_team)
    return {
        "description": "HPKE wraps of 32-byte secrets; see README.md.",
        "hpke": {**RFC9180_SUITE, "aad": ""},
        "valid": [
            conv_entry("epoch 1 key for the team key", w_team, team, conv, 1, epoch_key_1),
            conv_entry("epoch 2 key for the police unit", w_police, police, conv, 2, epoch_key_2),
            grant_entry("team key granted to anna", w_grant, staff, "2025-W48", "anna", team),
        ],
        "invalid": [
            bad_conv("wrong recipient key", w_team, "unwrap_failed", recipient=intruder),
            bad_conv("another conversation", w_team, "unwrap_failed", conversation_id="other"),
            bad_conv("another epoch", w_team, "unwrap_failed", epoch=2),
            bad_conv("police wrap opened with the team key", w_police, "unwrap_failed", epoch=2),
            bad_conv(
                "grant opened as a conversation key", w_grant, "unwrap_failed", recipient=staff
            ),
            bad_conv("flipped bit in enc", _flip(w_team, 2), "unwrap_failed"),
            bad_conv("flipped bit in ciphertext", _flip(w_team, 40), "unwrap_failed"),
            bad_conv("flipped bit in tag", _flip(w_team, hpke_end - 1), "unwrap_failed"),
            bad_conv("truncated", w_team[:-1], "unwrap_failed"),
            bad_conv("version 1", bytes([1]) + w_team[1:], "unsupported_version"),
            bad_conv("suite 2", w_team[:1] + bytes([2]) + w_team[2:], "unsupported_suite"),
            bad_grant("grant for another period", "unwrap_failed", period="2025-W49"),
            bad_grant("grant for another grantee", "unwrap_failed", grantee="bert"),
            bad_grant("grant for another team key", "unwrap_failed", team_key=police),
            bad_grant("grant opened by another device", "unwrap_failed", recipient=intruder),
            bad_grant(
                "conversation wrap opened as a grant",
                "unwrap_failed",
                wrapped=w_team,
                recipient=team,
            ),
        ],
    }


# --- envelopes ------------------------------------------------------------------


def envelope_vectors() -> Json:
    conv = "Xq3m9Zt0Q1uVb8kLr2s7Yw"
    other_conv = "Pd7Rk2Nw8Hc5Tj1Lm4Vx9A"
    keys = {
        "youth": (_signing("youth"), SenderRole.YOUTH),
        "counsellor": (_signing("counsellor anna"), SenderRole.COUNSELLOR),
        "police": (_signing("police officer"), SenderRole.POLICE),
        "bot": (_signing("intake bot"), SenderRole.BOT),
    }
    epoch_keys = {1: _seed("epoch key conv-A epoch 1"), 2: _seed("epoch key conv-A epoch 2")}
    other_epoch_key = _seed("epoch key conv-B epoch 1")

    def seal(
        sender: str,
        text: str,
        counter: int,
        *,
        epoch: int = 1,
        conversation_id: str = conv,
        role: SenderRole | None = None,
        epoch_key: bytes | None = None,
    ) -> bytes:
        key, own_role = keys[sender]
        return _seal_with_fixed_nonce_for_vectors_only(
            text.encode(),
            epoch_key=epoch_keys[epoch] if epoch_key is None else epoch_key,
            conversation_id=conversation_id,
            epoch=epoch,
            counter=counter,
            role=own_role if role is None else role,
            signing_key=key,
            nonce=_nonce(f"{sender} {conversation_id} {epoch} {counter} {text}"),
        )

    def resign(envelope: bytes, signer: str, mutate: Callable[[bytearray], None]) -> bytes:
        """Change header bytes, then sign again as `signer`: a key holder's forgery."""
        body = bytearray(envelope[:-64])
        mutate(body)
        return bytes(body) + keys[signer][0].sign(message_signature_input(bytes(body)))

    def valid(name: str, sender: str, text: str, counter: int, epoch: int = 1) -> Json:
        envelope = seal(sender, text, counter, epoch=epoch)
        parsed = parse_envelope(envelope)
        key, role = keys[sender]
        return {
            "name": name,
            "sender": sender,
            "sender_public_key": key.public.raw.hex(),
            "sender_fingerprint": key.public.fingerprint,
            "role": role.value,
            "conversation_id": conv,
            "epoch": epoch,
            "counter": counter,
            "epoch_key": epoch_keys[epoch].hex(),
            "nonce": parsed.nonce.hex(),
            "plaintext": text.encode().hex(),
            "plaintext_text": text,
            "padded": pad(text.encode()).hex(),
            "header": parsed.header_bytes.hex(),
            "aad": message_aad(parsed.header_bytes).hex(),
            "ciphertext": parsed.ciphertext.hex(),
            "signature_input": parsed.signature_input.hex(),
            "signature": parsed.signature.hex(),
            "envelope": envelope.hex(),
        }

    def invalid(
        name: str,
        envelope: bytes,
        error: str,
        *,
        sender: str = "youth",
        conversation_id: str = conv,
        epoch: int = 1,
        epoch_key: bytes | None = None,
    ) -> Json:
        key, role = keys[sender]
        return {
            "name": name,
            "envelope": envelope.hex(),
            "expect": {
                "conversation_id": conversation_id,
                "epoch": epoch,
                "epoch_key": (epoch_keys[epoch] if epoch_key is None else epoch_key).hex(),
                "sender_public_key": key.public.raw.hex(),
                "role": role.value,
            },
            "error": error,
        }

    hello = seal("youth", "hoi, ik wil iets vragen", 0)
    n = len(conv)
    counter_at = 8 + n
    nonce_at = 44 + n

    def set_counter(value: int) -> Callable[[bytearray], None]:
        def mutate(body: bytearray) -> None:
            body[counter_at : counter_at + 4] = value.to_bytes(4, "big")

        return mutate

    def become(sender: str) -> Callable[[bytearray], None]:
        key, role = keys[sender]

        def mutate(body: bytearray) -> None:
            body[2] = ROLE_CODES[role]
            body[12 + n : 44 + n] = key.public.fingerprint_digest

        return mutate

    def move_to(conversation_id: str) -> Callable[[bytearray], None]:
        def mutate(body: bytearray) -> None:
            assert len(conversation_id) == n
            body[4 : 4 + n] = conversation_id.encode()

        return mutate

    def sender_json(name: str) -> Json:
        key, role = keys[name]
        return {"name": name, "public_key": key.public.raw.hex(), "role": role.value}

    def step(
        envelope: bytes, result: str = "ok", text: str | None = None, missing: int = 0
    ) -> Json:
        entry: Json = {"envelope": envelope.hex(), "result": result}
        if result == "ok":
            assert text is not None
            entry["plaintext"] = text.encode().hex()
            entry["missing"] = missing
        return entry

    def sequence(name: str, steps: list[Json], epochs: tuple[int, ...] = (1,)) -> Json:
        return {
            "name": name,
            "conversation_id": conv,
            "epoch_keys": {str(e): epoch_keys[e].hex() for e in epochs},
            "senders": [sender_json(s) for s in ("youth", "counsellor", "police", "bot")],
            "steps": steps,
        }

    y0 = hello
    y1 = seal("youth", "is dit anoniem?", 1)
    y3 = seal("youth", "ben je er nog?", 3)
    c0 = seal("counsellor", C0_TEXT, 0)
    c1 = seal("counsellor", "", 1)
    b0 = seal("bot", "Je praat nu met een automatische assistent.", 0)
    p0 = seal("police", "Hallo, ik ben van de politie.", 0, epoch=2)
    y0e2 = seal("youth", "oké", 0, epoch=2)
    foreign = seal("youth", "hoi", 0, conversation_id=other_conv, epoch_key=other_epoch_key)
    # Signed and encrypted correctly, but the plaintext was not padded (300 raw bytes).
    unpadded_header = parse_envelope(hello).header_bytes
    unpadded_nonce = _nonce("unpadded")
    unpadded_body = unpadded_header + unpadded_nonce + AESGCM(epoch_keys[1]).encrypt(
        unpadded_nonce, b"x" * 300, message_aad(unpadded_header))
    unpadded = unpadded_body + keys["youth"][0].sign(message_signature_input(unpadded_body))

    return {
        "description": "Signed AES-256-GCM message envelopes; see README.md.",
        "senders": [
            {**_signing_json(name, key), "role": role.value} for name, (key, role) in keys.items()
        ],
        "epoch_keys": {str(e): k.hex() for e, k in epoch_keys.items()},
        "valid": [
            valid("youth's first message", "youth", "hoi, ik wil iets vragen", 0),
            valid("counsellor with emoji", "counsellor", C0_TEXT, 0),
            valid("empty body", "counsellor", "", 1),
            valid("bot notice", "bot", "Je praat nu met een automatische assistent.", 0),
            valid("police in epoch 2", "police", "Hallo, ik ben van de politie.", 0, epoch=2),
        ],
        "invalid": [
            invalid("version 1", bytes([1]) + hello[1:], "unsupported_version"),
            invalid("plaintext not padded", unpadded, "bad_padding"),
            invalid("suite 2", hello[:1] + bytes([2]) + hello[2:], "unsupported_suite"),
            invalid("unknown role byte", hello[:2] + bytes([9]) + hello[3:], "malformed_envelope"),
            invalid("truncated", hello[:100], "malformed_envelope"),
            invalid(
                "conversation id length zero",
                hello[:3] + bytes([0]) + hello[4:],
                "malformed_envelope",
            ),
            invalid(
                "opened in another conversation",
                hello,
                "wrong_conversation",
                conversation_id=other_conv,
            ),
            invalid("opened in another epoch", hello, "wrong_epoch", epoch=2),
            invalid("expected another sender", hello, "unknown_sender", sender="counsellor"),
            invalid(
                "youth's key claiming the counsellor role",
                seal("youth", "ik ben de hulpverlener", 5, role=SenderRole.COUNSELLOR),
                "wrong_role",
            ),
            invalid("flipped bit in counter", _flip(hello, counter_at + 3), "bad_signature"),
            invalid("flipped bit in nonce", _flip(hello, nonce_at), "bad_signature"),
            invalid("flipped bit in ciphertext", _flip(hello, nonce_at + 12), "bad_signature"),
            invalid("flipped bit in tag", _flip(hello, len(hello) - 65), "bad_signature"),
            invalid("flipped bit in signature", _flip(hello, len(hello) - 1), "bad_signature"),
            invalid(
                "counter changed and re-signed by the sender",
                resign(hello, "youth", set_counter(7)),
                "tampered",
            ),
            invalid(
                "moved to another conversation and re-signed",
                resign(hello, "youth", move_to(other_conv)),
                "tampered",
                conversation_id=other_conv,
            ),
            invalid(
                "counsellor re-signs the youth's ciphertext as their own",
                resign(hello, "counsellor", become("counsellor")),
                "tampered",
                sender="counsellor",
            ),
            invalid("wrong epoch key", hello, "tampered", epoch_key=other_epoch_key),
        ],
        "reader": [
            sequence(
                "a conversation in order, with a gap and a new epoch",
                [
                    step(b0, text="Je praat nu met een automatische assistent."),
                    step(y0, text="hoi, ik wil iets vragen"),
                    step(c0, text=C0_TEXT),
                    step(y1, text="is dit anoniem?"),
                    step(c1, text=""),
                    step(y3, text="ben je er nog?", missing=1),
                    step(p0, text="Hallo, ik ben van de politie."),
                    step(y0e2, text="oké"),
                ],
                epochs=(1, 2),
            ),
            sequence(
                "a replayed message",
                [
                    step(y0, text="hoi, ik wil iets vragen"),
                    step(y1, text="is dit anoniem?"),
                    step(y1, "replay"),
                    step(y0, "replay"),
                ],
            ),
            sequence(
                "two messages swapped",
                [
                    step(y1, text="is dit anoniem?", missing=1),
                    step(y0, "reordered"),
                    step(y3, text="ben je er nog?", missing=1),
                ],
            ),
            sequence(
                "a message from another conversation",
                [
                    step(foreign, "wrong_conversation"),
                    step(y0, text="hoi, ik wil iets vragen"),
                ],
            ),
            sequence(
                "an epoch the reader has no key for",
                [
                    step(p0, "wrong_epoch"),
                    step(y0, text="hoi, ik wil iets vragen"),
                ],
            ),
            sequence(
                "a forgery does not advance the counter",
                [
                    step(resign(y1, "youth", set_counter(9)), "tampered"),
                    step(_flip(y1, nonce_at), "bad_signature"),
                    step(y1, text="is dit anoniem?", missing=1),
                ],
            ),
        ],
    }


# --- writing --------------------------------------------------------------------


def staff_statement_vectors() -> Json:
    """Staff-key statements: a device's signing and encryption keys vouched for."""
    org = _signing("organisation")
    other = _signing("not the organisation")
    statement = StaffKeyStatement(
        subject="anna", role="counsellor",
        signing_key=_signing("anna device signing").public,
        encryption_key=_encryption("anna device encryption").public,
        not_before=T0, not_after=T0 + 52 * WEEK)
    signed = sign_staff_statement(statement, org)
    transport: Json = staff_statement_to_dict(signed)
    pin = org.public.fingerprint

    def invalid(name: str, data: Json, error: str, pinned: str = pin,
                at: int | None = T0 + 3600) -> Json:
        return {"name": name, "transport": data, "pinned_fingerprint": pinned, "at": at,
                "error": error}

    return {
        "description": "Organisation-signed staff-key statements; see README.md.",
        "signer": _signing_json("organisation", org),
        "valid": [{
            "name": "counsellor anna's device",
            "transport": transport,
            "signed_bytes": statement.signed_bytes().hex(),
            "signature": signed.signature.hex(),
            "pinned_fingerprint": pin,
            "at": T0 + 3600,
        }],
        "invalid": [
            invalid("signed by another key",
                    staff_statement_to_dict(sign_staff_statement(statement, other)),
                    "untrusted_signer"),
            invalid("role raised to police", {**transport, "role": "police"}, "bad_signature"),
            invalid("subject changed", {**transport, "subject": "bert"}, "bad_signature"),
            invalid("signing key swapped",
                    {**transport, "signing_key": transport["encryption_key"]},
                    "bad_signature"),
            invalid("expired", transport, "statement_not_valid", at=T0 + 53 * WEEK),
            invalid("extra field", {**transport, "extra": 1}, "bad_encoding"),
        ],
    }


def _write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def generate(out_dir: Path = HERE) -> None:
    """Write all vector files into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / RFC9180_FILE, rfc9180_vectors())
    _write(out_dir / "statement.json", statement_vectors())
    _write(out_dir / "wrap.json", wrap_vectors())
    _write(out_dir / "envelope.json", envelope_vectors())
    _write(out_dir / "staff-statement.json", staff_statement_vectors())
    runpy.run_path(str(HERE / "generate_returncode.py"))["write_vectors"](out_dir)
    runpy.run_path(str(HERE / "generate_revocation.py"))["write_vectors"](out_dir)
    runpy.run_path(str(HERE / "generate_epoch.py"))["write_vectors"](out_dir)
    runpy.run_path(str(HERE / "generate_backup.py"))["write_vectors"](out_dir)


if __name__ == "__main__":
    generate()
