"""Return codes: come back later, on any device, with a few words.

A code is six words from the BIP-39 English list (2,048 plain words, 11 bits each).
The first three are the look-up: the server finds the conversation under an HMAC of
them, keyed with a secret that lives outside Redis, so a Redis dump alone maps no
code to a conversation. The young person's client derives, from all six, the key
that wraps its own conversation keys (docs/crypto.md, "Return codes"); the last
three words never reach the server, so the server cannot unwrap them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from mnemonic import Mnemonic

from helpline.crypto.returncode import CODE_WORDS, LOOKUP_WORDS, lookup_part
from helpline.domain.ids import ConversationId
from helpline.errors import NotFound, RateLimited
from helpline.storage.redis_store import RedisStore

WORDS = tuple(Mnemonic("english").wordlist)
WORD_SET = frozenset(WORDS)
# Failed look-ups, all connections together, per minute: guessing 33 bits is hopeless.
MAX_FAILURES_PER_MINUTE = 30


def new_code() -> str:
    return "-".join(secrets.choice(WORDS) for _ in range(CODE_WORDS))


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

    async def issue(self, conversation_id: ConversationId) -> str:
        """A new code for the conversation (any earlier code stops working)."""
        code = new_code()
        await self.store.set_return_code(conversation_id, self._lookup(lookup_part(code)))
        return code

    async def find(self, lookup_words: str) -> ConversationId:
        # While failures flood in, every look-up waits out the minute, right codes too:
        # otherwise a guesser would still learn when a guess is right.
        if await self.store.get_code_failures() >= MAX_FAILURES_PER_MINUTE:
            raise RateLimited()
        cid = await self.store.find_return_code(self._lookup(lookup_words))
        if cid is None:
            await self.store.count_code_failure(60)
            raise NotFound("No conversation has this code.")
        return cid
