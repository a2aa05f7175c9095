"""The intake assistant: greets, asks a few questions, and hands over to the queue.

It says plainly that it is automatic. Its questions and texts come from the scripts
(helpline/intake/scripts), its progress lives in the conversation's metadata (so it
survives a reconnect or a restart), and free text is looked at in memory only:
for its language and for urgent words. Nothing the young person types is stored by
the server; their own client puts the intake into the encrypted transcript.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from helpline.domain.access import Action, YouthActor, check_access
from helpline.domain.conversation import State
from helpline.domain.hours import AMSTERDAM, OpeningHours
from helpline.domain.ids import ConversationId
from helpline.domain.intake import LANGUAGE_STEP, TOPIC_TO_FORM, Script, language_step
from helpline.errors import InvalidPayload, InvalidState, NotFound
from helpline.services.conversations import ConversationService, Opened
from helpline.services.invites import InviteService
from helpline.services.language import browser_language as browser_language_of
from helpline.services.language import choose_language, detect
from helpline.storage.redis_store import RedisStore

EMERGENCY_NUMBER = "112"
# Urgent conversations sort before every other: their score is this much earlier.
URGENT_HEAD_START_MS = 10**12


def _opened(opened: Opened) -> dict[str, Any]:
    return {"conversation_id": opened.conversation.id, "resume_token": opened.resume_token,
            "state": opened.conversation.state.value, "position": opened.position,
            "queue_length": opened.queue_length}


def queue_score(queued_at: int, urgent: bool) -> int:
    return queued_at - URGENT_HEAD_START_MS if urgent else queued_at


class HoursSource(Protocol):
    """The opening hours in force, read on every use (services/hours.py: the console's
    edit, else the environment's), so a change applies to the very next `open`."""

    async def current(self) -> OpeningHours: ...


@dataclass(frozen=True)
class Intake:
    scripts: dict[str, Script]
    hours: HoursSource
    default_language: str


class IntakeService:
    def __init__(self, store: RedisStore, conversations: ConversationService,
                 invites: InviteService, intake: Intake) -> None:
        self.store = store
        self.conversations = conversations
        self.invites = invites
        self.intake = intake
        self.clock = conversations.clock

    async def start(self, *, language: str | None, browser_language: str | None,
                    intake: bool, invite: str | None, campaign: str | None,
                    bind: Callable[[ConversationId], Awaitable[None]]) -> dict[str, Any]:
        """Open a conversation the way the young person came in.

        With an invite: straight to the inviting counsellor. With `intake`: the
        assistant first. Otherwise into the queue, or, outside opening hours, into
        the offline set with a message about when the helpline opens. `bind` ties the
        caller's connection to the conversation before anyone is told of it.
        """
        supported = self.intake.scripts.keys()
        chosen = language if language in supported else None
        lang = choose_language(chosen, None, browser_language_of(browser_language, supported),
                               self.intake.default_language)
        script = self.script(lang)
        if invite is not None:
            opened = await self.invites.open(invite, lang, campaign)
            await bind(opened.conversation.id)
            return {**_opened(opened), "language": lang, "text": script.texts["invited"]}
        hours = await self.intake.hours.current()
        if intake:
            state = State.INTAKE
        else:
            state = State.QUEUED if self.is_open(hours) else State.OFFLINE
        opened = await self.conversations.open(lang, state, campaign)
        await bind(opened.conversation.id)
        if state is not State.INTAKE:
            await self.conversations.announce_joined(opened.conversation.id)
        out = {**_opened(opened), "language": lang}
        position, length = await self.conversations.queue_position(opened.conversation.id)
        out.update(position=position, queue_length=length)
        if state is State.INTAKE:
            out["prompt"] = self.first_prompt(lang)
            out["skip_label"] = script.texts["skip"]
        if state is State.OFFLINE:
            out["offline"] = self.offline_info(lang, hours)
        return out

    def script(self, language: str | None) -> Script:
        scripts = self.intake.scripts
        return scripts.get(language or "", scripts.get(self.intake.default_language)
                           or next(iter(scripts.values())))

    def current_prompt(self, language: str | None, step: str | None) -> dict[str, Any] | None:
        """The question a conversation in intake is at (after a reconnect)."""
        if step is None:
            return None
        if step == LANGUAGE_STEP:
            return self.first_prompt(language or self.intake.default_language)
        current = self.script(language).step(step)
        return current.to_wire() if current else None

    def first_prompt(self, language: str) -> dict[str, Any]:
        return language_step(self.intake.scripts, self.script(language).language)

    def is_open(self, hours: OpeningHours) -> bool:
        return hours.is_open(self._now())

    def offline_info(self, language: str | None, hours: OpeningHours) -> dict[str, Any]:
        """When the helpline opens next, and the words to say so."""
        opens = hours.next_opening(self._now())
        # Numbers only: the same in every language's text.
        when = opens.astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M") if opens else "?"
        return {"opens_at": opens.isoformat() if opens else None,
                "text": self.script(language).texts["offline"].format(opens_at=when)}

    async def answer(self, actor: YouthActor, conversation_id: ConversationId, step: str,
                     choice: str | None, text: str | None) -> dict[str, Any]:
        """Take one answer; return the next question, or where the conversation went."""
        conv = await self.store.get_conversation(conversation_id)
        check_access(actor, conv, Action.SEND)
        assert conv is not None
        if conv.state is not State.INTAKE:
            raise InvalidState("The intake is over.")
        if step != conv.intake_step:
            raise InvalidState(f"The current question is {conv.intake_step!r}.")
        if choice is None and not text:
            raise InvalidPayload("Give a choice or some text.")
        language = conv.language
        fields: dict[str, str | int] = {}
        urgent = False
        supported = self.intake.scripts.keys()
        if step == LANGUAGE_STEP:
            if choice is not None and choice not in supported:
                raise InvalidPayload("Pick one of the languages.")
            language = choose_language(choice, detect(text or "", supported), None,
                                       language or self.intake.default_language)
            fields["language"] = language
        else:
            current = self.script(language).step(step)
            if current is None:
                raise NotFound()
            if choice is not None and choice not in [c.value for c in current.choices]:
                raise InvalidPayload(self.script(language).texts["invalid_choice"])
            if text and not current.free_text:
                raise InvalidPayload(self.script(language).texts["invalid_choice"])
            if step == "age" and choice:
                fields["intake_age"] = choice
            if step == "topic" and choice:
                fields["intake_form"] = TOPIC_TO_FORM[choice]
            if step == "danger" and choice == "yes":
                urgent = True
        # Free text is read here, in memory, and dropped: only "urgent" may remain.
        if text and self.script(language).is_urgent(text):
            urgent = True
        script = self.script(language)
        following = script.next_step(step)
        if urgent or following is None:
            return await self._finish(conversation_id, language, urgent, fields)
        fields["intake_step"] = following.id
        await self.store.update_if_state(conversation_id, State.INTAKE, fields)
        return {"state": State.INTAKE.value, "language": language,
                "prompt": following.to_wire(), "urgent": False}

    async def release_offline(self) -> int:
        """When the helpline is open: move messages left while closed into the queue."""
        if not self.is_open(await self.intake.hours.current()):
            return 0
        moved: list[ConversationId] = []
        for cid in await self.store.list_offline():
            conv = await self.store.get_conversation(cid)
            if conv is None:
                continue
            # They keep their place from when they were left, before newcomers.
            if await self.store.offline_to_queue(
                    cid, self.clock.now_ms(), queue_score(conv.created_at, conv.urgent)):
                moved.append(cid)
        if moved:
            await self.conversations.announce_released(moved)
        return len(moved)

    async def skip(self, actor: YouthActor, conversation_id: ConversationId
                   ) -> dict[str, Any]:
        conv = await self.store.get_conversation(conversation_id)
        check_access(actor, conv, Action.SEND)
        assert conv is not None
        if conv.state is not State.INTAKE:
            raise InvalidState("The intake is over.")
        return await self._finish(conversation_id, conv.language, False, {})

    async def _finish(self, conversation_id: ConversationId, language: str | None,
                      urgent: bool, fields: dict[str, str | int]) -> dict[str, Any]:
        now = self.clock.now_ms()
        script = self.script(language)
        hours = await self.intake.hours.current()
        target = State.QUEUED if self.is_open(hours) else State.OFFLINE
        if urgent:
            fields["urgent"] = "1"
        if language:
            fields["language"] = language
        await self.store.finish_intake(conversation_id, now, target,
                                       queue_score(now, urgent), fields)
        # Urgent: placed first, so everyone behind it is told their new place.
        await self.conversations.announce_joined(conversation_id)
        out: dict[str, Any] = {"state": target.value, "language": script.language,
                               "prompt": None, "urgent": urgent,
                               "text": script.texts["done"]}
        if urgent:
            # At once, before anything else: the emergency number.
            out.update(emergency=EMERGENCY_NUMBER, text=script.texts["urgent"])
        if target is State.OFFLINE:
            out["offline"] = self.offline_info(language, hours)
        position, length = await self.conversations.queue_position(conversation_id)
        out.update(position=position, queue_length=length)
        return out

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.now_ms() / 1000, dt.UTC)
