"""Return-code format 2 against tests/vectors/return-code.json, and its strict parsing."""

from __future__ import annotations

import json
import runpy
from functools import cache
from pathlib import Path

import pytest

from helpline.crypto.errors import CryptoError
from helpline.crypto.keys import SigningKeyPair
from helpline.crypto.returncode import (
    CODE_WORDS,
    LOOKUP_WORDS,
    SCRYPT_LOG2_N,
    SCRYPT_P,
    SCRYPT_R,
    CodeKeys,
    CodeWrapContents,
    PoliceState,
    derive_code_keys,
    kdf_salt,
    new_code,
    proof_matches,
    split_code,
    unwrap_with_code,
    wrap_for_code,
)

VECTORS = Path(__file__).parents[1] / "vectors"
DATA = json.loads((VECTORS / "return-code.json").read_text())
CID = "Zq3n8Xo1Vb6Tr0Yw2Lk5Hd"


@cache
def _keys(code: str) -> CodeKeys:
    return derive_code_keys(code)


def test_the_secret_part_has_55_bits_behind_64_mib_of_scrypt() -> None:
    # Finding 4: the landed code put 33 secret bits behind N = 2^15 (32 MiB).
    assert (CODE_WORDS - LOOKUP_WORDS) * 11 >= 48
    assert 128 * SCRYPT_R * 2**SCRYPT_LOG2_N >= 64 * 2**20 and SCRYPT_P == 1
    code = new_code()
    lookup, secret = split_code(code)
    assert len(code.split("-")) == 8 and lookup == "-".join(code.split("-")[:3])
    # The salt is the look-up words only; the password the secret words only.
    assert lookup.encode() in kdf_salt(lookup) and secret.encode() not in kdf_salt(lookup)


@pytest.mark.parametrize("entry", DATA["valid"], ids=lambda e: e["name"])
def test_valid_vectors(entry: dict[str, object]) -> None:
    keys = _keys(str(entry["code"]))
    assert keys.lookup == entry["lookup"]
    assert kdf_salt(keys.lookup).hex() == entry["kdf_salt"]
    assert (keys.master.hex(), keys.proof.hex(), keys.verifier.hex()) == (
        entry["master"], entry["proof"], entry["verifier"])
    assert keys.wrap_key(CID).hex() == entry["wrap_key"]
    contents = unwrap_with_code(bytes.fromhex(str(entry["blob"])), keys, CID)
    expected = entry["contents"]
    assert isinstance(expected, dict)
    assert contents.signing.private_bytes_raw().hex() == expected["signing_private_key"]
    assert contents.epoch == expected["epoch"]
    assert {str(e): k.hex() for e, k in contents.epoch_keys.items()} == expected["epoch_keys"]
    police = expected["police"]
    assert contents.police == (None if police is None else PoliceState(**police))
    assert proof_matches(keys.proof, keys.verifier)
    assert not proof_matches(bytes(32), keys.verifier)


@pytest.mark.parametrize("entry", DATA["invalid"], ids=lambda e: e["name"])
def test_invalid_vectors(entry: dict[str, str]) -> None:
    with pytest.raises(CryptoError) as info:
        unwrap_with_code(bytes.fromhex(entry["blob"]), _keys(entry["code"]),
                         entry["conversation_id"])
    assert info.value.code == entry["error"]


@pytest.mark.parametrize("entry", DATA["invalid_codes"], ids=lambda e: e["name"])
def test_invalid_codes(entry: dict[str, str]) -> None:
    with pytest.raises(CryptoError) as info:
        derive_code_keys(entry["code"])
    assert info.value.code == entry["error"]


def test_a_fresh_run_of_the_generator_is_byte_identical(tmp_path: Path) -> None:
    runpy.run_path(str(VECTORS / "generate_returncode.py"))["write_vectors"](tmp_path)
    assert (tmp_path / "return-code.json").read_bytes() == (
        VECTORS / "return-code.json").read_bytes()


def test_a_wrap_round_trips_and_refuses_what_it_could_not_open() -> None:
    keys = _keys(DATA["valid"][0]["code"])
    signing = SigningKeyPair.generate()
    police = PoliceState("0" * 64, 2**53 - 1, False)
    blob = wrap_for_code(keys, CID, CodeWrapContents(signing, {1: b"a" * 32}, 1, police))
    assert unwrap_with_code(blob, keys, CID).police == police
    for bad in (CodeWrapContents(signing, {1: b"a" * 31}, 1, None),  # short key
                CodeWrapContents(signing, {1: b"a" * 32}, 2, None),  # no current key
                CodeWrapContents(signing, {1: b"a" * 32}, 1, PoliceState("AB" * 32, 1, True))):
        with pytest.raises(CryptoError) as info:
            wrap_for_code(keys, CID, bad)
        assert info.value.code == "malformed_code_wrap"
