"""Return codes: come back later, on any device, with eight words.

A code is eight words from the BIP-39 English list, made by the young person's own
client (helpline/crypto/returncode.py). The first three are the look-up: the server
files the conversation under an HMAC of them, keyed with a secret that lives outside
Redis, so a Redis dump alone maps no code to a conversation. The last five never
reach the server: the client derives from them, through scrypt, a proof and the key
that wraps its conversation keys. At registration the server keeps only the
proof's verifier (a hash), and on a return it releases nothing and binds nothing
until it is shown a proof that matches. So the look-up words alone open nothing and
change nothing.

Guessing is limited per code and per connection, counted before the look-up; there
is no global limit, so nobody can lock every honest young person out at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from helpline.crypto.returncode import LOOKUP_WORDS, WORDS, proof_matches
from helpline.domain.access import Action, YouthActor, check_access
from helpline.domain.ids import ConversationId
from helpline.errors import InvalidPayload, NotFound, RateLimited
from helpline.services.ports import Notifier
from helpline.storage.redis_store import RedisStore

WORD_SET = frozenset(WORDS)
# Wrong proofs (or unknown look-ups) per code in a window that starts at the first
# attempt: 5 per 15 minutes is 480 a day per code, against 2^55 secret values.
MAX_ATTEMPTS_PER_CODE = 5
# One connection trying many look-ups: a cheap brake only (a new connection costs
# nothing), the per-code limit and the 55 secret bits are the real defence.
MAX_ATTEMPTS_PER_CONNECTION = 10
ATTEMPT_WINDOW_SECONDS = 900


def is_lookup(text: str) -> bool:
    words = text.split("-")
    return len(words) == LOOKUP_WORDS and all(w in WORD_SET for w in words)


def load_secret(path: Path) -> bytes:
    """The look-up key: made on first start (mode 0600) and kept outside Redis."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


class ReturnCodes:
    def __init__(self, store: RedisStore, notifier: Notifier, secret: bytes, *,
                 max_per_code: int = MAX_ATTEMPTS_PER_CODE,
                 max_per_connection: int = MAX_ATTEMPTS_PER_CONNECTION,
                 window_seconds: int = ATTEMPT_WINDOW_SECONDS) -> None:
        self.store = store
        self.notifier = notifier
        self.secret = secret
        self.max_per_code = max_per_code
        self.max_per_connection = max_per_connection
        self.window_seconds = window_seconds

    def _lookup(self, lookup_words: str) -> str:
        return hmac.new(self.secret, lookup_words.encode(), hashlib.sha256).hexdigest()

    async def register(self, actor: YouthActor, conversation_id: ConversationId,
                       lookup_words: str, verifier: bytes) -> None:
        """Register a code the young person's client made: its look-up words and the
        verifier of its proof (any earlier code of the conversation stops working).
        The secret words and the proof never come here."""
        check_access(actor, await self.store.get_conversation(conversation_id), Action.SEND)
        if not is_lookup(lookup_words):
            raise InvalidPayload("A code is made of words from the word list.")
        await self.store.set_return_code(conversation_id, self._lookup(lookup_words), verifier)

    async def prove(self, lookup_words: str, proof: bytes, connection: str
                    ) -> ConversationId:
        """The conversation whose code has these look-up words and this proof.

        Counted first (per code, per connection), then looked up, then the proof
        compared in constant time. An unknown look-up and a wrong proof give the same
        `not_found`, so a guesser cannot even learn which look-ups exist. The young
        person's connections still bound to the conversation are told (`code_used`)
        before the caller binds the new one, so only the others hear of it.
        """
        lookup = self._lookup(lookup_words)
        connection_hash = hashlib.sha256(connection.encode()).hexdigest()
        at_code, at_connection = await self.store.count_code_attempt(
            lookup, connection_hash, self.window_seconds)
        if at_code > self.max_per_code or at_connection > self.max_per_connection:
            raise RateLimited()
        record = await self.store.find_return_code(lookup) if is_lookup(lookup_words) else None
        if record is None or not proof_matches(proof, record.verifier):
            raise NotFound("No conversation has this code.")
        await self.store.refund_code_attempt(lookup, connection_hash)
        await self.notifier.to_youth(record.conversation_id, "code_used",
                                     {"conversation_id": record.conversation_id})
        return record.conversation_id
