"""Return codes, format 2: come back with eight words, proven before anything opens.

A code is eight words from the BIP-39 English list, made on the young person's
device: three **look-up** words (the server files the conversation under a keyed
hash of them) and five **secret** words (55 bits) that never leave the device. From
the secret words, behind a memory-hard KDF salted with the look-up words:

    master   = scrypt(password = ASCII secret words joined by "-",
                      salt = encode_fields(LABEL_KDF, ASCII look-up words),
                      N = 2^16, r = 8, p = 1, length 32)          (64 MiB, see docs)
    proof    = HKDF-SHA256(ikm = master, salt = "", info = encode_fields(LABEL_PROOF), 32)
    verifier = SHA-256(encode_fields(LABEL_VERIFIER, proof))
    wrap key = HKDF-SHA256(ikm = master, salt = "",
                           info = encode_fields(LABEL_WRAP_KEY, conversation id), 32)
    blob     = 02 || nonce (12) || AES-256-GCM(wrap key, nonce, payload,
                                               aad = encode_fields(LABEL_RETURN_CODE, cid))

The server stores the verifier at registration and is shown the proof on a return:
it can check the proof (a hash) but cannot turn either into the wrap key. The
payload is UTF-8 JSON with exactly the fields `signing`, `epoch`, `epoch_keys` and
`police` (docs/crypto.md, "Return codes"), parsed strictly after the tag verified.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from mnemonic import Mnemonic

from helpline.crypto.constants import (
    KEY_BYTES,
    LABEL_RETURN_CODE,
    MAX_JSON_INT,
    NONCE_BYTES,
    PROTOCOL_VERSION,
    TAG_BYTES,
)
from helpline.crypto.encoding import b64url_decode, b64url_encode, encode_fields, identifier_bytes
from helpline.crypto.errors import CryptoError, EncodingError, Tampered, UnsupportedVersion
from helpline.crypto.keys import SigningKeyPair

# Labels of this format only (the AES-GCM aad keeps the shared LABEL_RETURN_CODE).
LABEL_KDF = b"helpline/v2/return-code/kdf"
LABEL_PROOF = b"helpline/v2/return-code/proof"
LABEL_VERIFIER = b"helpline/v2/return-code/verifier"
LABEL_WRAP_KEY = b"helpline/v2/return-code/wrap-key"

# Part of the format (the browser must use the same): 128 * r * N = 64 MiB of memory,
# the floor the issue sets for a 48-to-64-bit secret; p = 1 since a browser gets no
# parallelism from more lanes, only the attacker would.
SCRYPT_LOG2_N = 16
SCRYPT_R = 8
SCRYPT_P = 1
LOOKUP_WORDS = 3  # shown to the server, to find the conversation
SECRET_WORDS = 5  # 55 bits the server never sees
CODE_WORDS = LOOKUP_WORDS + SECRET_WORDS
PROOF_BYTES = 32
VERIFIER_BYTES = 32
MAX_EPOCH = 2**32 - 1
# Far above any real chat (a new epoch only at a police join or leave) and keeps the
# blob under the server's 8,192-byte `code_wrap` limit.
MAX_EPOCH_KEYS = 64

WORDS: tuple[str, ...] = tuple(Mnemonic("english").wordlist)  # BIP-39, 2,048 words
_WORD_SET = frozenset(WORDS)
_EPOCH_NAME = re.compile(r"[1-9][0-9]{0,9}")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class InvalidReturnCode(CryptoError):
    """Not eight words of the list joined by `-` (a mistyped code, before any I/O)."""

    code = "invalid_return_code"
    default_message = "A return code is eight words from the word list, joined by '-'."


class MalformedCodeWrap(CryptoError):
    """The blob opened (the tag verified) but its payload is not exactly format 2."""

    code = "malformed_code_wrap"
    default_message = "The return-code wrap does not hold the expected fields."


@dataclass(frozen=True)
class PoliceState:
    """Who besides the team may read, as the young person's client last knew it."""

    fingerprint: str  # the police unit key's fingerprint, 64 lowercase hex digits
    expires_at: int  # the consent's expiry, Unix seconds
    share_history: bool


@dataclass(frozen=True)
class CodeWrapContents:
    """What a return code opens: everything needed to read and write on."""

    signing: SigningKeyPair
    epoch_keys: Mapping[int, bytes]
    epoch: int
    police: PoliceState | None


@dataclass(frozen=True)
class CodeKeys:
    """What one scrypt run over a code gives; the proof and master stay on the device."""

    lookup: str
    master: bytes
    proof: bytes
    verifier: bytes

    def wrap_key(self, conversation_id: str) -> bytes:
        info = encode_fields(LABEL_WRAP_KEY, identifier_bytes(conversation_id, "conversation id"))
        return _hkdf(self.master, info)


def new_code() -> str:
    """Eight random words; made on the young person's device."""
    return "-".join(secrets.choice(WORDS) for _ in range(CODE_WORDS))


def split_code(code: str) -> tuple[str, str]:
    """(look-up words, secret words), each joined by `-`; InvalidReturnCode otherwise."""
    words = code.split("-") if isinstance(code, str) else []
    if len(words) != CODE_WORDS or not all(w in _WORD_SET for w in words):
        raise InvalidReturnCode()
    return "-".join(words[:LOOKUP_WORDS]), "-".join(words[LOOKUP_WORDS:])


def lookup_part(code: str) -> str:
    return split_code(code)[0]


def kdf_salt(lookup: str) -> bytes:
    return encode_fields(LABEL_KDF, lookup.encode("ascii"))


def verifier_for_proof(proof: bytes) -> bytes:
    """What the server keeps at registration and recomputes from a shown proof."""
    return hashlib.sha256(encode_fields(LABEL_VERIFIER, proof)).digest()


def proof_matches(proof: bytes, verifier: bytes) -> bool:
    """Constant-time: a timing difference must not tell a guesser how close it was."""
    return hmac.compare_digest(verifier_for_proof(proof), verifier)


def derive_code_keys(code: str) -> CodeKeys:
    """Run the KDF once (about 0.4 s and 64 MiB); everything else is cheap HKDF."""
    lookup, secret = split_code(code)
    master = Scrypt(salt=kdf_salt(lookup), length=KEY_BYTES, n=2**SCRYPT_LOG2_N,
                    r=SCRYPT_R, p=SCRYPT_P).derive(secret.encode("ascii"))
    proof = _hkdf(master, encode_fields(LABEL_PROOF))
    return CodeKeys(lookup, master, proof, verifier_for_proof(proof))


def code_wrap_aad(conversation_id: str) -> bytes:
    return encode_fields(LABEL_RETURN_CODE, identifier_bytes(conversation_id, "conversation id"))


def code_wrap_payload(contents: CodeWrapContents) -> bytes:
    """The payload's JSON bytes (field order fixed, though readers must not rely on it)."""
    police = contents.police
    return json.dumps({
        "signing": b64url_encode(contents.signing.private_bytes_raw()),
        "epoch": contents.epoch,
        "epoch_keys": {str(e): b64url_encode(k) for e, k in sorted(contents.epoch_keys.items())},
        "police": None if police is None else {
            "fingerprint": police.fingerprint, "expires_at": police.expires_at,
            "share_history": police.share_history},
    }).encode()


def wrap_for_code(keys: CodeKeys, conversation_id: str, contents: CodeWrapContents) -> bytes:
    payload = code_wrap_payload(contents)
    parse_code_wrap_payload(payload)  # never upload what a client could not open again
    return _seal(keys.wrap_key(conversation_id), conversation_id, payload,
                 os.urandom(NONCE_BYTES))


def _seal_payload_with_fixed_nonce_for_vectors_only(
        keys: CodeKeys, conversation_id: str, payload: bytes, nonce: bytes) -> bytes:
    """Vector generation only: a fixed nonce reused under one key breaks AES-GCM."""
    return _seal(keys.wrap_key(conversation_id), conversation_id, payload, nonce)


def unwrap_with_code(blob: bytes, keys: CodeKeys, conversation_id: str) -> CodeWrapContents:
    """Open and strictly parse a blob; checks in the order of docs/crypto.md."""
    if len(blob) < 1:
        raise EncodingError("not a return-code blob")
    if blob[0] != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"return-code wrap version {blob[0]}; only "
                                 f"{PROTOCOL_VERSION} is read (make a new code)")
    if len(blob) < 1 + NONCE_BYTES + TAG_BYTES:
        raise EncodingError("return-code blob too short")
    try:
        payload = AESGCM(keys.wrap_key(conversation_id)).decrypt(
            blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:], code_wrap_aad(conversation_id))
    except InvalidTag as exc:
        raise Tampered("wrong code, another conversation, or the blob was changed") from exc
    return parse_code_wrap_payload(payload)


def parse_code_wrap_payload(payload: bytes) -> CodeWrapContents:
    """Exactly the four fields with exactly their types, or MalformedCodeWrap."""
    try:
        data = json.loads(payload.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedCodeWrap("the payload is not UTF-8 JSON") from exc
    obj = _exact(data, {"signing", "epoch", "epoch_keys", "police"}, "payload")
    epoch = _int(obj["epoch"], 1, MAX_EPOCH, "epoch")
    raw_keys = obj["epoch_keys"]
    if not isinstance(raw_keys, dict) or not 1 <= len(raw_keys) <= MAX_EPOCH_KEYS:
        raise MalformedCodeWrap(f"epoch_keys must be an object of 1 to {MAX_EPOCH_KEYS} keys")
    epoch_keys: dict[int, bytes] = {}
    for name, value in raw_keys.items():
        if not _EPOCH_NAME.fullmatch(name) or not 1 <= int(name) <= epoch:
            raise MalformedCodeWrap("an epoch_keys name is not an epoch from 1 to epoch")
        epoch_keys[int(name)] = _key(value, "an epoch key")
    if epoch not in epoch_keys:
        raise MalformedCodeWrap("epoch_keys lacks the current epoch")
    # Any 32 bytes are an Ed25519 seed, so the length check is the whole check.
    signing = SigningKeyPair.from_private_bytes(_key(obj["signing"], "signing"))
    return CodeWrapContents(signing, epoch_keys, epoch, _police(obj["police"]))


def _police(value: object) -> PoliceState | None:
    if value is None:
        return None
    obj = _exact(value, {"fingerprint", "expires_at", "share_history"}, "police")
    fingerprint = obj["fingerprint"]
    if not isinstance(fingerprint, str) or not _FINGERPRINT.fullmatch(fingerprint):
        raise MalformedCodeWrap("police.fingerprint must be 64 lowercase hex digits")
    if not isinstance(obj["share_history"], bool):
        raise MalformedCodeWrap("police.share_history must be true or false")
    return PoliceState(fingerprint, _int(obj["expires_at"], 0, MAX_JSON_INT,
                                         "police.expires_at"), obj["share_history"])


def _exact(value: object, names: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != names:
        raise MalformedCodeWrap(f"{what} must have exactly the fields {sorted(names)}")
    return value


def _int(value: object, low: int, high: int, what: str) -> int:
    # bool is an int in Python but not in JSON: `true` is not an epoch.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MalformedCodeWrap(f"{what} must be a whole number from {low} to {high}")
    return value


def _key(value: object, what: str) -> bytes:
    try:
        raw = b64url_decode(value) if isinstance(value, str) else b""
    except EncodingError:
        raw = b""
    if len(raw) != KEY_BYTES:
        raise MalformedCodeWrap(f"{what} must be 32 bytes of unpadded base64url")
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A duplicate name has no single meaning across JSON parsers: refuse it.
    out = dict(pairs)
    if len(out) != len(pairs):
        raise MalformedCodeWrap("a JSON name appears twice")
    return out


def _seal(key: bytes, conversation_id: str, payload: bytes, nonce: bytes) -> bytes:
    return bytes([PROTOCOL_VERSION]) + nonce + AESGCM(key).encrypt(
        nonce, payload, code_wrap_aad(conversation_id))


def _hkdf(master: bytes, info: bytes) -> bytes:
    # An empty salt is RFC 5869's default (HashLen zero bytes), spelled out so that
    # WebCrypto's HKDF, which wants a salt, gives the same bytes.
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=b"", info=info).derive(master)
