"""Staff roles and what each may do in general (per conversation: see access.py)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    COUNSELLOR = "counsellor"
    SUPERVISOR = "supervisor"
    POLICE = "police"
    ADMIN = "admin"


# Who may take conversations from the queue and chat in them.
CHAT_ROLES = frozenset({Role.COUNSELLOR, Role.SUPERVISOR})
# Who sees the queue live.
QUEUE_ROLES = frozenset({Role.COUNSELLOR, Role.SUPERVISOR})
# Who sees the overview of every live conversation (state, wait, counsellor; no content).
OVERVIEW_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


class SenderRole(StrEnum):
    """The role stamped on a message envelope by the server, never by the client."""

    YOUTH = "youth"
    COUNSELLOR = "counsellor"
    POLICE = "police"
    SYSTEM = "system"

