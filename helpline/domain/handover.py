"""Police handover: its states, and when a consent counts.

    none ──offer──> offered ──yes (signed consent)──> consented ──officer joins──> joined
                       └──no──> declined          │                                │
    consented / joined ──young person withdraws──> withdrawn                       │
    consented / joined ──the consent's expires_at passes──> expired                │
    offered / consented / joined ──counsellor ends the police part──> ended        │
    joined ──officer leaves──> left <──────────────────────────────────────────────┘

Closing the conversation (wrap-up, idle timeout) ends any police part too.
From declined, withdrawn, expired, left or ended a counsellor may offer again (a new offer,
a new consent). Only `joined` lets an officer read or write, and only the officer
who joined.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from helpline.errors import ConsentExpired, ConsentInvalid


class Handover(StrEnum):
    NONE = "none"
    OFFERED = "offered"
    DECLINED = "declined"
    CONSENTED = "consented"
    JOINED = "joined"
    WITHDRAWN = "withdrawn"
    LEFT = "left"
    ENDED = "ended"
    EXPIRED = "expired"


CAN_OFFER = frozenset({Handover.NONE, Handover.DECLINED, Handover.WITHDRAWN, Handover.LEFT,
                       Handover.ENDED, Handover.EXPIRED})
CAN_WITHDRAW = frozenset({Handover.CONSENTED, Handover.JOINED})
CAN_END = frozenset({Handover.OFFERED, Handover.CONSENTED, Handover.JOINED})
# States that rest on a consent, and so end when it expires.
CAN_EXPIRE = frozenset({Handover.CONSENTED, Handover.JOINED})
# States in which the young person's client may wrap a key for the police unit.
POLICE_MAY_BE_WRAPPED = frozenset({Handover.CONSENTED, Handover.JOINED})

# A consent that says it lasts longer than this is refused: a yes is for now.
MAX_CONSENT_SECONDS = 24 * 3600

OFFER_TEXT = {
    "en": ("The counsellor asks if a police officer may join this chat. The officer would "
           "read and write here with you and the counsellor, from now on{history}. You can "
           "say no, and you can stop it at any moment: the officer then leaves at once."),
    "nl": ("De hulpverlener vraagt of een politieagent mag meedoen aan dit gesprek. De agent "
           "leest en schrijft dan hier mee, vanaf nu{history}. Je mag nee zeggen, en je kunt "
           "het op elk moment stoppen: de agent gaat dan meteen weg."),
}
HISTORY_NOTE = {"en": " (and, only if you choose so, what was said before)",
                "nl": " (en alleen als jij dat kiest: wat eerder gezegd is)"}


def offer_text(language: str | None) -> str:
    lang = language if language in OFFER_TEXT else "en"
    return OFFER_TEXT[lang].format(history=HISTORY_NOTE[lang])


def consent_lapsed(handover: Handover, expires_at: int | None, now: int) -> bool:
    """A handover resting on a consent whose time is over (or that has none)."""
    return handover in CAN_EXPIRE and (expires_at is None or expires_at <= now)


@dataclass(frozen=True)
class ConsentTerms:
    """What the server checks on top of the signature."""

    conversation_id: str
    police_fingerprint: str
    expires_at: int


def check_consent_terms(terms: ConsentTerms, conversation_id: str, police_fingerprint: str,
                        now: int) -> None:
    """Raise unless the consent is for this conversation and police key, and current."""
    if terms.conversation_id != conversation_id:
        raise ConsentInvalid("This consent is for another conversation.")
    if terms.police_fingerprint != police_fingerprint:
        raise ConsentInvalid("This consent is for another police key.")
    if terms.expires_at <= now:
        raise ConsentExpired()
    if terms.expires_at > now + MAX_CONSENT_SECONDS:
        raise ConsentExpired("A consent may last at most a day.")
