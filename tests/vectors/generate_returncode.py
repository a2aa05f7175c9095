"""Write tests/vectors/return-code.json (README.md beside this file, "return-code.json").

Called by generate.py; also runs alone:  .venv/bin/python tests/vectors/generate_returncode.py

Everything is fixed (code words, keys, nonces), so the file comes out byte-identical
on every run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from helpline.crypto.constants import PROTOCOL_VERSION
from helpline.crypto.encoding import encode_fields
from helpline.crypto.keys import SigningKeyPair
from helpline.crypto.returncode import (
    LABEL_KDF,
    LABEL_PROOF,
    LABEL_VERIFIER,
    LABEL_WRAP_KEY,
    SCRYPT_LOG2_N,
    SCRYPT_P,
    SCRYPT_R,
    CodeKeys,
    CodeWrapContents,
    PoliceState,
    _seal_payload_with_fixed_nonce_for_vectors_only,
    code_wrap_aad,
    code_wrap_payload,
    derive_code_keys,
    kdf_salt,
    split_code,
)

HERE = Path(__file__).resolve().parent
FILE = "return-code.json"
# Words of the BIP-39 English list; three look-up words, five secret words.
CODE = "legal-winner-thank-year-wave-sausage-worth-useful"
OTHER_SECRET = "legal-winner-thank-year-wave-sausage-worth-title"  # same look-up words
CONVERSATION = "Zq3n8Xo1Vb6Tr0Yw2Lk5Hd"
POLICE_FP = hashlib.sha256(b"vectors: police unit key").hexdigest()

Json = dict[str, Any]


def _fixed(name: str, size: int = 32) -> bytes:
    return hashlib.sha256(f"helpline return-code vectors: {name}".encode()).digest()[:size]


def _entry(name: str, keys: CodeKeys, contents: CodeWrapContents, nonce: bytes) -> Json:
    lookup, secret = split_code(CODE)
    payload = code_wrap_payload(contents)
    blob = _seal_payload_with_fixed_nonce_for_vectors_only(keys, CONVERSATION, payload, nonce)
    police = contents.police
    return {
        "name": name,
        "code": CODE,
        "lookup": lookup,
        "secret": secret,
        "kdf_password": secret.encode("ascii").hex(),
        "kdf_salt": kdf_salt(lookup).hex(),
        "master": keys.master.hex(),
        "proof_info": encode_fields(LABEL_PROOF).hex(),
        "proof": keys.proof.hex(),
        "verifier_input": encode_fields(LABEL_VERIFIER, keys.proof).hex(),
        "verifier": keys.verifier.hex(),
        "conversation_id": CONVERSATION,
        "wrap_key_info": encode_fields(LABEL_WRAP_KEY, CONVERSATION.encode()).hex(),
        "wrap_key": keys.wrap_key(CONVERSATION).hex(),
        "aad": code_wrap_aad(CONVERSATION).hex(),
        "nonce": nonce.hex(),
        "payload_text": payload.decode(),
        "blob": blob.hex(),
        "contents": {
            "signing_private_key": contents.signing.private_bytes_raw().hex(),
            "signing_public_key": contents.signing.public.raw.hex(),
            "epoch": contents.epoch,
            "epoch_keys": {str(e): k.hex() for e, k in sorted(contents.epoch_keys.items())},
            "police": None if police is None else {
                "fingerprint": police.fingerprint, "expires_at": police.expires_at,
                "share_history": police.share_history},
        },
    }


def returncode_vectors() -> Json:
    keys = derive_code_keys(CODE)
    signing = SigningKeyPair.from_private_bytes(_fixed("signing key"))
    team_only = CodeWrapContents(signing, {1: _fixed("epoch 1")}, 1, None)
    with_police = CodeWrapContents(
        signing, {1: _fixed("epoch 1"), 2: _fixed("epoch 2")}, 2,
        PoliceState(POLICE_FP, 1_767_225_600, True))
    valid = [_entry("team only, epoch 1", keys, team_only, _fixed("nonce 1", 12)),
             _entry("police may read, epoch 2", keys, with_police, _fixed("nonce 2", 12))]
    base = valid[1]
    blob = bytes.fromhex(base["blob"])
    good = json.loads(base["payload_text"])

    def bad_payload(name: str, payload: bytes | object) -> Json:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sealed = _seal_payload_with_fixed_nonce_for_vectors_only(
            keys, CONVERSATION, raw, _fixed("bad " + name, 12))
        return {"name": name, "code": CODE, "conversation_id": CONVERSATION,
                "blob": sealed.hex(), "payload_text": raw.decode("utf-8", "replace"),
                "error": "malformed_code_wrap"}

    def bad_blob(name: str, data: bytes, error: str, code: str = CODE,
                 conversation_id: str = CONVERSATION) -> Json:
        return {"name": name, "code": code, "conversation_id": conversation_id,
                "blob": data.hex(), "error": error}

    flipped = bytearray(blob)
    flipped[-1] ^= 1
    keys_two = dict(good["epoch_keys"])
    police = dict(good["police"])
    invalid = [
        bad_blob("other secret words", blob, "tampered", code=OTHER_SECRET),
        bad_blob("other conversation", blob, "tampered", conversation_id="Aq3n8Xo1Vb6Tr0Yw2Lk5Hd"),
        bad_blob("a tag bit flipped", bytes(flipped), "tampered"),
        bad_blob("format 1 blob", bytes([1]) + blob[1:], "unsupported_version"),
        bad_blob("version 3", bytes([3]) + blob[1:], "unsupported_version"),
        bad_blob("too short for nonce and tag", blob[:28], "bad_encoding"),
        bad_blob("empty", b"", "bad_encoding"),
        bad_payload("not JSON", b"signing=1"),
        bad_payload("not UTF-8", b"\xff\xfe{}"),
        bad_payload("a JSON array", [good]),
        bad_payload("police field missing (format 1 payload)",
                    {k: v for k, v in good.items() if k != "police"}),
        bad_payload("an extra field", {**good, "readers": []}),
        bad_payload("epoch as a string", {**good, "epoch": "2"}),
        bad_payload("epoch true", {**good, "epoch": True}),
        bad_payload("epoch 0", {**good, "epoch": 0}),
        bad_payload("no key for the current epoch", {**good, "epoch": 3}),
        bad_payload("a key for a later epoch", {**good, "epoch": 1}),
        bad_payload("epoch name with a leading zero",
                    {**good, "epoch_keys": {"01": keys_two["1"], "2": keys_two["2"]}}),
        bad_payload("empty epoch_keys", {**good, "epoch_keys": {}}),
        bad_payload("an epoch key of 31 bytes",
                    {**good, "epoch_keys": {**keys_two, "1": keys_two["1"][:-1]}}),
        bad_payload("a padded epoch key",
                    {**good, "epoch_keys": {**keys_two, "1": keys_two["1"] + "="}}),
        bad_payload("signing of 31 bytes", {**good, "signing": good["signing"][:-2]}),
        bad_payload("signing as bytes list", {**good, "signing": [1, 2]}),
        bad_payload("police a string", {**good, "police": "none"}),
        bad_payload("police fingerprint in capitals",
                    {**good, "police": {**police, "fingerprint": POLICE_FP.upper()}}),
        bad_payload("police expires_at as a string",
                    {**good, "police": {**police, "expires_at": "1767225600"}}),
        bad_payload("police expires_at above 2^53 - 1",
                    {**good, "police": {**police, "expires_at": 2**53}}),
        bad_payload("police share_history as 1", {**good, "police": {**police,
                                                                     "share_history": 1}}),
        bad_payload("police with an extra field", {**good, "police": {**police, "unit": "x"}}),
        bad_payload("a name twice", base["payload_text"][:-1].encode()
                    + b', "epoch": 2}'),
    ]
    return {
        "kdf": {"algorithm": "scrypt", "log2_n": SCRYPT_LOG2_N, "n": 2**SCRYPT_LOG2_N,
                "r": SCRYPT_R, "p": SCRYPT_P, "length": 32,
                "memory_bytes": 128 * SCRYPT_R * 2**SCRYPT_LOG2_N},
        "hkdf": {"hash": "SHA-256", "salt": "", "length": 32},
        "version": PROTOCOL_VERSION,
        "labels": {"kdf": LABEL_KDF.decode(), "proof": LABEL_PROOF.decode(),
                   "verifier": LABEL_VERIFIER.decode(), "wrap_key": LABEL_WRAP_KEY.decode(),
                   "aad": "helpline/v2/return-code"},
        "valid": valid,
        "invalid": invalid,
        "invalid_codes": [
            {"name": "six words (format 1)", "code": "legal-winner-thank-year-wave-sausage",
             "error": "invalid_return_code"},
            {"name": "nine words", "code": CODE + "-title", "error": "invalid_return_code"},
            {"name": "a word not on the list", "code": CODE.replace("useful", "usefull"),
             "error": "invalid_return_code"},
            {"name": "capitals", "code": CODE.upper(), "error": "invalid_return_code"},
            {"name": "spaces for hyphens", "code": CODE.replace("-", " "),
             "error": "invalid_return_code"},
        ],
    }


def write_vectors(out_dir: Path = HERE) -> None:
    (out_dir / FILE).write_text(json.dumps(returncode_vectors(), indent=2) + "\n",
                                encoding="utf-8")


if __name__ == "__main__":
    write_vectors()
