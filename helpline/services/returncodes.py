"""Return codes: come back later, on any device, with a few words.

A code is six words from the BIP-39 English list (2,048 plain words, 11 bits each),
made by the young person's own client. The first three are the look-up: the client
registers them, and the server finds the conversation under an HMAC of them, keyed
with a secret that lives outside Redis, so a Redis dump alone maps no code to a
conversation. The client derives, from all six, the key that wraps its conversation
keys (docs/crypto.md, "Return codes"); the last three words never reach the server,
so the server cannot unwrap them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from helpline.crypto.returncode import LOOKUP_WORDS, WORDS
from helpline.domain.access import Action, YouthActor, check_access
from helpline.domain.ids import ConversationId
from helpline.errors import Conflict, InvalidPayload, NotFound, RateLimited
from helpline.storage.redis_store import RedisStore

WORD_SET = frozenset(WORDS)
# Failed look-ups, all connections together, per minute: guessing 33 bits is hopeless.
MAX_FAILURES_PER_MINUTE = 30


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
    def __init__(self, store: RedisStore, secret: bytes) -> None:
        self.store = store
        self.secret = secret

    def _lookup(self, lookup_words: str) -> str:
        return hmac.new(self.secret, lookup_words.encode(), hashlib.sha256).hexdigest()

    async def register(self, actor: YouthActor, conversation_id: ConversationId,
                       lookup_words: str) -> None:
        """Register the look-up half of a code the young person's client made (any
        earlier code of the conversation stops working). The other half never comes
        here: it is the client's alone, for the key wrap."""
        check_access(actor, await self.store.get_conversation(conversation_id), Action.SEND)
        if not is_lookup(lookup_words):
            raise InvalidPayload("A code is made of words from the word list.")
        lookup = self._lookup(lookup_words)
        owner = await self.store.find_return_code(lookup)
        if owner is not None and owner != conversation_id:
            raise Conflict("That code is taken; make another.")
        await self.store.set_return_code(conversation_id, lookup)

    async def find(self, lookup_words: str) -> ConversationId:
        # While failures flood in, every look-up waits out the minute, right codes too:
        # otherwise a guesser would still learn when a guess is right.
        if await self.store.get_code_failures() >= MAX_FAILURES_PER_MINUTE:
            raise RateLimited()
        cid = (await self.store.find_return_code(self._lookup(lookup_words))
               if is_lookup(lookup_words) else None)
        if cid is None:
            await self.store.count_code_failure(60)
            raise NotFound("No conversation has this code.")
        return cid
