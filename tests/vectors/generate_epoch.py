"""Write tests/vectors/epoch.json (README.md beside this file, "epoch.json").

Called by generate.py; also runs alone:  .venv/bin/python tests/vectors/generate_epoch.py

Signed epoch statements, their key commitments and reader encoding (docs/crypto.md,
"Epoch statements"). Keys and nonces derive from fixed names and Ed25519 is
deterministic, so the file comes out byte-identical on every run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpline.crypto.consent import Consent
from helpline.crypto.epochs import (
    EpochReader,
    EpochStatement,
    ReaderKind,
    epoch_commitment,
    sign_epoch_statement,
)
from helpline.crypto.keys import EncryptionKeyPair, SigningKeyPair

HERE = Path(__file__).resolve().parent
FILE = "epoch.json"
CONV = "Xq3m9Zt0Q1uVb8kLr2s7Yw"
OTHER_CONV = "Pd7Rk2Nw8Hc5Tj1Lm4Vx9A"
T0 = 1_764_547_200  # 2025-12-01T00:00:00Z
Json = dict[str, Any]


def _seed(name: str) -> bytes:
    # The same derivation as generate.py, so a key of one name is the same everywhere.
    return hashlib.sha256(b"helpline test vector seed: " + name.encode()).digest()


def _signing(name: str) -> SigningKeyPair:
    return SigningKeyPair.from_private_bytes(_seed("ed25519 " + name))


def _encryption(name: str) -> EncryptionKeyPair:
    return EncryptionKeyPair.from_private_bytes(_seed("x25519 " + name))


def epoch_vectors() -> Json:
    youth, other = _signing("youth"), _signing("someone else")
    team, police = _encryption("team 2025-W48"), _encryption("police unit")
    team_reader = EpochReader(ReaderKind.TEAM, team.public.fingerprint)
    police_reader = EpochReader(ReaderKind.POLICE, police.public.fingerprint)
    unsigned = Consent(CONV, police.public.fingerprint, True, T0 + 3600,
                       _seed("consent nonce"))
    consent = Consent(CONV, unsigned.police_fingerprint, True, unsigned.expires_at,
                      unsigned.nonce, youth.sign(unsigned.signed_bytes()))

    def valid(name: str, epoch: int, readers: list[EpochReader],
              with_consent: bool) -> tuple[Json, EpochStatement]:
        key = _seed(f"epoch key {CONV} {epoch}")
        st = sign_epoch_statement(conversation_id=CONV, epoch=epoch, epoch_key=key,
                                  readers=readers, consent=consent if with_consent else None,
                                  signing_key=youth)
        return {
            "name": name, "conversation_id": CONV, "epoch": epoch, "epoch_key": key.hex(),
            "commitment": st.commitment.hex(),
            "readers_bytes": b"".join(r.to_bytes() for r in st.readers).hex(),
            "consent_signed_bytes": consent.signed_bytes().hex() if with_consent else "",
            "signed_bytes": st.signed_bytes().hex(), "signature": st.signature.hex(),
            "transport": st.to_wire(), "reader_kinds": st.reader_kinds(),
        }, st

    team_only, team_st = valid("team only, epoch 1", 1, [team_reader], False)
    with_police, _police_st = valid("team and police, with consent", 2,
                                   [police_reader, team_reader], True)

    def invalid(name: str, transport: Json, error: str, *, conversation_id: str = CONV,
                epoch: int = 1, signer: SigningKeyPair = youth) -> Json:
        return {"name": name, "transport": transport, "conversation_id": conversation_id,
                "epoch": epoch, "youth_public_key": signer.public.raw.hex(), "error": error}

    def changed(base: Json, **fields: Any) -> Json:
        out = json.loads(json.dumps(base))
        out.update(fields)
        return out

    def resigned(build: Callable[[], EpochStatement]) -> Json:
        st = build()
        return EpochStatement(st.conversation_id, st.epoch, st.commitment, st.readers,
                              st.consent, youth.sign(st.signed_bytes())).to_wire()

    t1 = team_only["transport"]
    t2 = with_police["transport"]
    return {
        "description": "Signed epoch statements and key commitments; see README.md.",
        "youth": {"private_key": youth.private_bytes_raw().hex(),
                  "public_key": youth.public.raw.hex()},
        "team_public_key": team.public.raw.hex(),
        "team_fingerprint": team.public.fingerprint,
        "police_public_key": police.public.raw.hex(),
        "police_fingerprint": police.public.fingerprint,
        "valid": [team_only, with_police],
        "invalid": [
            invalid("signed by another key", t1, "epoch_unverified", signer=other),
            invalid("read as another epoch", t1, "epoch_unverified", epoch=2),
            invalid("read in another conversation", t1, "epoch_unverified",
                    conversation_id=OTHER_CONV),
            invalid("readers changed after signing",
                    changed(t2, readers=[t2["readers"][0]] if t2["readers"][0]["kind"] == "team"
                            else [t2["readers"][1]], consent=None),
                    "epoch_unverified", epoch=2),
            invalid("commitment changed", changed(t1, commitment=_flip_b64(t1["commitment"])),
                    "epoch_unverified"),
            invalid("version 1", changed(t1, v=1), "unsupported_version"),
            invalid("extra field", changed(t1, note="x"), "bad_encoding"),
            invalid("police reader without consent", changed(t2, consent=None),
                    "bad_encoding", epoch=2),
            invalid("consent without police reader",
                    resigned(lambda: EpochStatement(CONV, 3, team_st.commitment, (team_reader,),
                                                    None)) | {"consent": consent.to_wire()},
                    "bad_encoding", epoch=3),
            invalid("readers not sorted", changed(t2, readers=list(reversed(t2["readers"]))),
                    "bad_encoding", epoch=2),
            invalid("no team reader", changed(t2, readers=[
                r for r in t2["readers"] if r["kind"] == "police"]), "bad_encoding", epoch=2),
        ],
        "key_checks": [
            {"name": "the committed key, a listed reader", "statement": t2, "epoch": 2,
             "epoch_key": with_police["epoch_key"], "reader": police.public.fingerprint,
             "error": None},
            {"name": "another key than the committed one", "statement": t2, "epoch": 2,
             "epoch_key": _seed("another key").hex(), "reader": police.public.fingerprint,
             "error": "key_mismatch"},
            {"name": "a key that is not a reader", "statement": t1, "epoch": 1,
             "epoch_key": team_only["epoch_key"], "reader": police.public.fingerprint,
             "error": "not_a_reader"},
        ],
        "commitments": [
            {"conversation_id": CONV, "epoch": e, "epoch_key": _seed(f"k{e}").hex(),
             "commitment": epoch_commitment(_seed(f"k{e}"), conversation_id=CONV,
                                            epoch=e).hex()}
            for e in (1, 2, 4_294_967_295)],
    }


def _flip_b64(text: str) -> str:
    first = "B" if text[0] == "A" else "A"
    return first + text[1:]


def write_vectors(out_dir: Path = HERE) -> None:
    text = json.dumps(epoch_vectors(), indent=2, ensure_ascii=False) + "\n"
    (out_dir / FILE).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write_vectors()
