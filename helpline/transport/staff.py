"""The `/staff` namespace: counsellors, supervisors, police and admins.

A connection authenticates once, with `auth: {"token": ...}` from `POST /api/login`
(never in the URL). Every later event re-checks that the session is still live, so
a revoked or expired session stops working at once even before its socket drops.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import socketio

from helpline.domain.access import StaffActor
from helpline.domain.ids import ConversationId, Username
from helpline.domain.roles import OVERVIEW_ROLES, QUEUE_ROLES, Role
from helpline.domain.staff import Session
from helpline.domain.wrapup import AgeBand, ExploitationForm, Referral, WrapUp
from helpline.errors import HelplineError, Unauthorized
from helpline.protocol import (
    CLIENT_MSG_ID,
    CONVERSATION_ID,
    KEY,
    NO_FIELDS,
    USERNAME,
    Bool,
    Bytes,
    Int,
    Spec,
    Str,
    Texts,
    parse,
)
from helpline.services.accounts import AccountService
from helpline.services.conversations import ConversationService
from helpline.services.handover import HandoverService
from helpline.services.invites import InviteService
from helpline.services.keys import KeyService
from helpline.services.team import TeamService
from helpline.transport.base import HelplineNamespace
from helpline.transport.notifier import (
    OVERVIEW_ROOM,
    POLICE_ROOM,
    QUEUE_ROOM,
    session_room,
    staff_room,
)

CID = Str(CONVERSATION_ID, 22)
# The ids of one `overview` event are at most the changes of one push interval; a
# console that fell further behind asks for the whole overview instead.
OVERVIEW_IDS = Texts(CID, max_items=500, required=False)


class StaffNamespace(HelplineNamespace):
    def __init__(
        self, namespace: str, accounts: AccountService, service: ConversationService,
        keys: KeyService, handover: HandoverService, invites: InviteService, max_body: int,
        max_conversations: int, *, team: TeamService,
    ) -> None:
        super().__init__(namespace)
        self.team = team
        self.accounts = accounts
        self.service = service
        self.keys = keys
        self.handover = handover
        self.invites = invites
        self.max_conversations = max_conversations
        self.device_spec: Spec = {"encryption_key": KEY, "signing_key": KEY}
        self._expiry: dict[str, asyncio.Task[None]] = {}
        self.conv_spec: Spec = {"conversation_id": CID}
        self.send_spec: Spec = {"conversation_id": CID, "body": Bytes(max_body),
                          "client_msg_id": Str(CLIENT_MSG_ID, 64, required=False)}
        self.typing_spec: Spec = {"conversation_id": CID, "typing": Bool()}
        self.history_spec: Spec = {"conversation_id": CID, "after_seq": Int(),
                             "limit": Int(1, 1000, required=False)}
        self.wrapup_spec: Spec = {"conversation_id": CID, "form": Str(choices=ExploitationForm),
                            "age_band": Str(choices=AgeBand), "referral": Str(choices=Referral)}
        self.reassign_spec: Spec = {"conversation_id": CID, "to": Str(USERNAME, 32)}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            session = await self.accounts.authenticate(token)
        except HelplineError as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                exc.message, {"code": exc.code}) from None
        async with self.session(sid) as stored:
            stored["session"] = session
        # A socket outlives no session: it is dropped when the session expires (and
        # at once on logout or disable, through the control channel).
        self._expiry[sid] = self.server.start_background_task(self._expire, sid,
                                                              session.expires_at)
        await self.enter_room(sid, session_room(session.token_hash))
        await self.enter_room(sid, staff_room(session.username))
        if session.role in QUEUE_ROLES:
            await self.enter_room(sid, QUEUE_ROOM)
        if session.role in OVERVIEW_ROLES:
            await self.enter_room(sid, OVERVIEW_ROOM)
        if session.role is Role.POLICE:
            await self.enter_room(sid, POLICE_ROOM)
        await self.team.connected(sid, session.username, session.role)

    async def on_whoami(self, sid: str, payload: object) -> dict[str, Any]:
        parse(payload, NO_FIELDS)
        actor = await self._actor(sid)
        return {"username": actor.username, "role": actor.role.value,
                "languages": await self.accounts.languages(actor.username),
                "max_conversations": self.max_conversations}

    async def on_queue(self, sid: str, payload: object) -> dict[str, Any]:
        parse(payload, NO_FIELDS)
        return {"entries": await self.service.queue(await self._actor(sid))}

    async def on_held(self, sid: str, payload: object) -> dict[str, Any]:
        parse(payload, NO_FIELDS)
        return {"conversations": await self.service.held(await self._actor(sid))}

    async def on_overview(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, {"conversation_ids": OVERVIEW_IDS})
        conversations, gone = await self.service.overview(
            await self._actor(sid), args.get("conversation_ids"))
        return {"conversations": conversations, "gone": gone}

    async def on_accept(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.conv_spec)
        conv = await self.service.accept(await self._actor(sid), args["conversation_id"])
        return {"conversation": conv.summary(self.service.clock.now_ms())}

    async def on_send(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.send_spec)
        env = await self.service.send(await self._actor_on(sid, args["conversation_id"]),
                                      args["conversation_id"], args["body"],
                                      args.get("client_msg_id"), sid)
        return {"seq": env.seq, "sent_at": env.sent_at}

    async def on_typing(self, sid: str, payload: object) -> None:
        args = parse(payload, self.typing_spec)
        await self.service.typing(await self._actor_on(sid, args["conversation_id"]),
                                  args["conversation_id"], args["typing"], sid)

    async def on_history(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.history_spec)
        history = await self.service.history(await self._actor_on(sid, args["conversation_id"]),
                                             args["conversation_id"], args["after_seq"],
                                             args.get("limit"))
        return {"messages": [m.to_wire() for m in history.messages],
                "last_seq": history.last_seq, "more": history.more,
                "first_seq": history.first_seq}

    async def on_end(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.conv_spec)
        state = await self.service.end(await self._actor(sid), args["conversation_id"])
        return {"state": state.value}

    async def on_wrapup(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.wrapup_spec)
        wrapup = WrapUp(args["form"], args["age_band"], args["referral"])
        await self.service.wrapup(await self._actor(sid), args["conversation_id"], wrapup)
        return {"state": "closed"}

    async def on_reassign(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.reassign_spec)
        conv = await self.service.reassign(await self._actor(sid), args["conversation_id"],
                                           args["to"])
        return {"conversation": conv.summary(self.service.clock.now_ms())}

    async def on_team(self, sid: str, payload: object) -> dict[str, Any]:
        parse(payload, NO_FIELDS)
        return {"team": await self.team.team(await self._actor(sid))}

    async def on_delete_now(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.conv_spec)
        state, due = await self.service.delete_now(await self._actor(sid),
                                                   args["conversation_id"])
        return {"state": state.value, "due": due}

    async def on_keys(self, sid: str, payload: object) -> dict[str, Any]:
        parse(payload, NO_FIELDS)
        return await self.keys.my_keys(await self._actor(sid))

    async def on_register_device(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.device_spec)
        return await self.keys.register_device(await self._actor(sid), args["encryption_key"],
                                               args["signing_key"])

    async def on_conversation_keys(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.conv_spec)
        return await self.keys.conversation_keys(
            await self._actor_on(sid, args["conversation_id"]), args["conversation_id"])

    async def on_invite_create(self, sid: str, payload: object) -> dict[str, Any]:
        parse(payload, NO_FIELDS)
        return await self.invites.create(await self._actor(sid))

    async def on_handover_offer(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.conv_spec)
        return await self.handover.offer(await self._actor(sid), args["conversation_id"])

    async def on_handover_end(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.conv_spec)
        return await self.handover.end(await self._actor(sid), args["conversation_id"])

    async def on_handover_requests(self, sid: str, payload: object) -> dict[str, Any]:
        parse(payload, NO_FIELDS)
        return {"requests": await self.handover.requests(await self._actor(sid))}

    async def on_police_join(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.conv_spec)
        return await self.handover.join(await self._actor(sid), args["conversation_id"])

    async def on_police_leave(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.conv_spec)
        return await self.handover.leave(await self._actor_on(sid, args["conversation_id"]),
                                         args["conversation_id"])

    async def _actor(self, sid: str) -> StaffActor:
        session: Session | None = (await self.get_session(sid)).get("session")
        if session is None or not await self.accounts.is_session_live(session):
            # Answer first, then drop the connection, so the client learns why.
            self.server.start_background_task(self._drop_later, sid)
            raise Unauthorized("Your session has ended. Please sign in again.")
        return StaffActor(Username(session.username), Role(session.role))

    async def _actor_on(self, sid: str, conversation_id: str) -> StaffActor:
        """The actor, for an event on one conversation: an officer's consent is checked
        first, and a lapsed one ends the police part for everyone before the event is
        refused (the job would do it too, but only at its next run)."""
        actor = await self._actor(sid)
        if actor.role is Role.POLICE:
            await self.handover.lapse_if_expired(ConversationId(conversation_id))
        return actor

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        task = self._expiry.pop(sid, None)
        if task is not None:
            task.cancel()
        await self.team.disconnected(sid)

    async def _expire(self, sid: str, expires_at_ms: int) -> None:
        await self.server.sleep(max(0.0, expires_at_ms / 1000 - time.time()))
        await self.disconnect(sid)

    async def _drop_later(self, sid: str) -> None:
        await self.server.sleep(0.2)
        await self.disconnect(sid)

