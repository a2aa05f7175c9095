"""The young person's keys, wrapped under their return code.

When a young person asks for a return code, their client wraps what it needs to read
and write the conversation again (its signing key and every epoch key) under a key
derived from the whole code with scrypt, and stores only that blob on the server.
The server is shown the first half of the code (to find the conversation), never the
second half, so it cannot derive the key.

    key  = scrypt(code as UTF-8, salt = encode_fields(LABEL, conversation id),
                  N = 2^15, r = 8, p = 1, length 32)
    blob = version (1) || nonce (12) || AES-256-GCM(key, nonce, payload,
                                                    aad = encode_fields(LABEL, conversation id))
    payload = UTF-8 JSON {"signing": b64url private key, "epoch": n,
                          "epoch_keys": {"1": b64url, ...}}
"""

from __future__ import annotations

import json
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from mnemonic import Mnemonic

from helpline.crypto.constants import LABEL_RETURN_CODE, NONCE_BYTES, PROTOCOL_VERSION
from helpline.crypto.encoding import b64url_decode, b64url_encode, encode_fields, identifier_bytes
from helpline.crypto.errors import EncodingError, Tampered
from helpline.crypto.keys import SigningKeyPair

SCRYPT_LOG2_N = 15
CODE_WORDS = 6
LOOKUP_WORDS = 3  # the part the server is shown; the rest never leaves the client


WORDS: tuple[str, ...] = tuple(Mnemonic("english").wordlist)  # BIP-39, 2,048 words


def new_code() -> str:
    """Six random words; made on the young person's device."""
    return "-".join(secrets.choice(WORDS) for _ in range(CODE_WORDS))


def lookup_part(code: str) -> str:
    return "-".join(code.split("-")[:LOOKUP_WORDS])


def _key(code: str, conversation_id: str) -> bytes:
    salt = encode_fields(LABEL_RETURN_CODE, identifier_bytes(conversation_id, "conversation id"))
    return Scrypt(salt=salt, length=32, n=2**SCRYPT_LOG2_N, r=8, p=1).derive(code.encode())


def wrap_for_code(code: str, conversation_id: str, signing: SigningKeyPair,
                  epoch_keys: dict[int, bytes], epoch: int) -> bytes:
    payload = json.dumps({
        "signing": b64url_encode(signing.private_bytes_raw()), "epoch": epoch,
        "epoch_keys": {str(e): b64url_encode(k) for e, k in sorted(epoch_keys.items())},
    }).encode()
    nonce = os.urandom(NONCE_BYTES)
    aad = encode_fields(LABEL_RETURN_CODE, identifier_bytes(conversation_id, "conversation id"))
    return bytes([PROTOCOL_VERSION]) + nonce + AESGCM(_key(code, conversation_id)).encrypt(
        nonce, payload, aad)


def unwrap_with_code(blob: bytes, code: str, conversation_id: str
                     ) -> tuple[SigningKeyPair, dict[int, bytes], int]:
    """(signing key, epoch keys, current epoch); Tampered for a wrong code or blob."""
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[0] != PROTOCOL_VERSION:
        raise EncodingError("not a return-code blob")
    aad = encode_fields(LABEL_RETURN_CODE, identifier_bytes(conversation_id, "conversation id"))
    try:
        payload = AESGCM(_key(code, conversation_id)).decrypt(
            blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise Tampered("wrong code, or the blob was changed") from exc
    data = json.loads(payload)
    keys = {int(e): b64url_decode(k) for e, k in data["epoch_keys"].items()}
    return SigningKeyPair.from_private_bytes(b64url_decode(data["signing"])), keys, \
        int(data["epoch"])
