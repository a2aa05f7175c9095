"""Write tests/vectors/revocation.json (README.md beside this file, "revocation.json").

Called by generate.py; also runs alone:  .venv/bin/python tests/vectors/generate_revocation.py

Keys derive from fixed names and Ed25519 is deterministic, so the file comes out
byte-identical on every run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from helpline.crypto.keys import EncryptionKeyPair, SigningKeyPair
from helpline.crypto.revocation import (
    Revocation,
    RevocationList,
    revocations_to_dict,
    sign_revocations,
)

HERE = Path(__file__).resolve().parent
FILE = "revocation.json"
T0 = 1_764_547_200  # 2025-12-01T00:00:00Z
Json = dict[str, Any]


def _seed(name: str) -> bytes:
    # The same derivation as generate.py, so "organisation" is the same key everywhere.
    return hashlib.sha256(b"helpline test vector seed: " + name.encode()).digest()


def _signing(name: str) -> SigningKeyPair:
    return SigningKeyPair.from_private_bytes(_seed("ed25519 " + name))


def _encryption(name: str) -> EncryptionKeyPair:
    return EncryptionKeyPair.from_private_bytes(_seed("x25519 " + name))


def revocation_vectors() -> Json:
    org, other = _signing("organisation"), _signing("not the organisation")
    pin = org.public.fingerprint
    anna = _signing("anna device signing").public.fingerprint  # a lost staff device
    team = _encryption("team 2025-W48").public.fingerprint  # a leaked team key
    bert = _signing("bert device signing").public.fingerprint  # never revoked
    entries = tuple(sorted([Revocation(anna, T0 + 600), Revocation(team, T0 + 900)],
                           key=lambda r: r.fingerprint))
    first = RevocationList(1, T0)
    current = RevocationList(3, T0 + 900, entries)

    def valid(name: str, revocations: RevocationList) -> Json:
        signed = sign_revocations(revocations, org)
        return {"name": name, "transport": revocations_to_dict(signed),
                "signed_bytes": revocations.signed_bytes().hex(),
                "signature": signed.signature.hex(), "pinned_fingerprint": pin}

    transport = revocations_to_dict(sign_revocations(current, org))
    revoked = transport["revoked"]
    assert isinstance(revoked, list)

    def invalid(name: str, data: Json, error: str) -> Json:
        return {"name": name, "transport": data, "pinned_fingerprint": pin, "error": error}

    return {
        "description": "Organisation-signed revocation lists; see README.md.",
        "signer": {"name": "organisation", "public_key": org.public.raw.hex(),
                   "fingerprint": pin},
        "valid": [valid("no key revoked yet (as `keys init` publishes)", first),
                  valid("a staff device and a team key revoked", current)],
        # Per key: is a use at `at` (a message's sent_at, in seconds) refused?
        "checks": [
            {"fingerprint": anna, "at": T0 + 599, "error": None},
            {"fingerprint": anna, "at": T0 + 600, "error": "key_revoked"},
            {"fingerprint": team, "at": T0 + 901, "error": "key_revoked"},
            {"fingerprint": bert, "at": T0 + 10**6, "error": None},
        ],
        "invalid": [
            invalid("signed by another key",
                    revocations_to_dict(sign_revocations(current, other)), "untrusted_signer"),
            invalid("serial raised", {**transport, "serial": 4}, "bad_signature"),
            invalid("an entry dropped", {**transport, "revoked": revoked[1:]},
                    "bad_signature"),
            invalid("revocation time moved later",
                    {**transport, "revoked": [{**revoked[0], "revoked_at": T0 + 10**6},
                                              revoked[1]]}, "bad_signature"),
            invalid("entries out of order", {**transport, "revoked": revoked[::-1]},
                    "bad_encoding"),
            invalid("an entry twice", {**transport, "revoked": [revoked[0], revoked[0]]},
                    "bad_encoding"),
            invalid("upper-case fingerprint",
                    {**transport, "revoked": [{**revoked[0],
                                               "fingerprint": revoked[0]["fingerprint"].upper()},
                                              revoked[1]]}, "bad_encoding"),
            invalid("extra field", {**transport, "extra": 1}, "bad_encoding"),
            invalid("version 1", {**transport, "v": 1}, "unsupported_version"),
        ],
        # What one client sees in order; the last list goes back in time.
        "sequence": [
            {"transport": valid("", first)["transport"], "error": None},
            {"transport": transport, "error": None},
            {"transport": valid("", first)["transport"], "error": "revocation_rollback"},
        ],
    }


def write_vectors(out_dir: Path = HERE) -> None:
    (out_dir / FILE).write_text(json.dumps(revocation_vectors(), indent=2) + "\n",
                                encoding="utf-8")


if __name__ == "__main__":
    write_vectors()
