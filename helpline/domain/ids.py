"""Identifier types and how they are made.

Conversation ids carry 128 random bits; resume tokens 256. Both are url-safe base64
so they fit in JSON and in a browser without escaping.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import NewType

ConversationId = NewType("ConversationId", str)
Username = NewType("Username", str)

_CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


def new_conversation_id() -> ConversationId:
    # Never a leading "-": an id is pasted into command lines (`helpline transcript
    # export <id>`), where argparse would read it as an option. Redrawing costs
    # under 0.02 bits of the 128.
    while True:
        value = secrets.token_urlsafe(16)
        if not value.startswith("-"):
            return ConversationId(value)


def is_conversation_id(value: str) -> bool:
    return bool(_CONVERSATION_ID.fullmatch(value))


def is_username(value: str) -> bool:
    return bool(_USERNAME.fullmatch(value))


def new_secret() -> str:
    """A 256-bit random secret (resume tokens, session tokens)."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What is stored instead of a secret: its SHA-256, so a Redis dump cannot replay it."""
    return hashlib.sha256(secret.encode()).hexdigest()
