"""Staff members and their sessions, as values."""

from __future__ import annotations

from dataclasses import dataclass

from helpline.domain.ids import Username
from helpline.domain.roles import Role


@dataclass(frozen=True)
class StaffMember:
    username: Username
    role: Role
    password_hash: str
    disabled: bool
    created_at: int
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Session:
    username: Username
    role: Role
    expires_at: int
    token_hash: str
