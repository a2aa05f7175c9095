"""The `/youth` namespace: the anonymous young person's widget.

No account and nothing about the device is kept: no IP, no user agent, no cookie.
A connection is bound to at most one conversation, by `open` or `resume`; events
never name a conversation, so a young person cannot reach anyone else's.
"""

from __future__ import annotations

from typing import Any

from helpline.domain.access import YouthActor
from helpline.domain.conversation import State
from helpline.domain.ids import ConversationId
from helpline.errors import AlreadyOpen, NoConversation
from helpline.protocol import (
    CAMPAIGN,
    CLIENT_MSG_ID,
    CODE_PROOF,
    CODE_VERIFIER,
    CONSENT,
    EPOCH_STATEMENT,
    HISTORY_WRAPS,
    INVITE,
    LANGUAGE,
    LOOKUP_CODE,
    NO_FIELDS,
    OFFER_ID,
    STEP,
    TOKEN,
    WRAPS,
    Bool,
    Bytes,
    Int,
    Spec,
    Str,
    parse,
)
from helpline.services.conversations import ConversationService
from helpline.services.handover import HandoverService
from helpline.services.intake import IntakeService
from helpline.services.keys import KeyService
from helpline.services.returncodes import ReturnCodes
from helpline.transport.base import HelplineNamespace
from helpline.transport.notifier import youth_room


class YouthNamespace(HelplineNamespace):
    def __init__(self, namespace: str, service: ConversationService, keys: KeyService,
                 handover: HandoverService, intake: IntakeService, codes: ReturnCodes,
                 max_body: int) -> None:
        super().__init__(namespace)
        self.service = service
        self.keys = keys
        self.handover = handover
        self.intake = intake
        self.codes = codes
        self.answer_intake_spec: Spec = {"step": Str(STEP, 20),
                                         "choice": Str(STEP, 40, required=False),
                                         "text": Str(max_len=2000, required=False)}
        self.code_wrap_spec: Spec = {"blob": Bytes(8192)}
        self.return_code_spec: Spec = {"lookup": Str(LOOKUP_CODE, 40),
                                       "verifier": CODE_VERIFIER}
        self.resume_code_spec: Spec = {"lookup": Str(LOOKUP_CODE, 40), "proof": CODE_PROOF}
        self.answer_spec: Spec = {"offer_id": Str(OFFER_ID, 40), "accept": Bool(),
                                  "consent": CONSENT}
        self.history_wraps_spec: Spec = {"wraps": HISTORY_WRAPS}
        self.end_spec: Spec = {"delete": Bool(required=False)}
        self.epoch_spec: Spec = {"epoch": Int(1, 2**32 - 1), "signing_key": Bytes(
            32, required=False, min_len=32), "wraps": WRAPS, "statement": EPOCH_STATEMENT}
        self.open_spec: Spec = {
            "language": Str(LANGUAGE, 16, required=False),
            "browser_language": Str(LANGUAGE, 16, required=False),
            "intake": Bool(required=False),
            "invite": Str(INVITE, 32, required=False),
            "campaign": Str(CAMPAIGN, 32, required=False),
        }
        self.resume_spec: Spec = {"resume_token": Str(TOKEN), "last_seq": Int(required=False)}
        self.send_spec: Spec = {"body": Bytes(max_body), "client_msg_id": Str(CLIENT_MSG_ID, 64,
                                                                           required=False)}
        self.typing_spec: Spec = {"typing": Bool()}
        self.history_spec: Spec = {"after_seq": Int(), "limit": Int(1, 1000, required=False)}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Deliberately nothing from `environ` is read or kept."""

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        cid = (await self.get_session(sid)).get("conversation_id")
        if cid:
            await self.service.youth_online(cid, online=False)

    async def on_open(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.open_spec)
        await self._require_none(sid)

        async def bind(cid: ConversationId) -> None:
            await self._bind(sid, cid)

        return await self.intake.start(
            language=args.get("language"), browser_language=args.get("browser_language"),
            intake=args.get("intake", False), invite=args.get("invite"),
            campaign=args.get("campaign"), bind=bind)

    async def on_intake_answer(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.answer_intake_spec)
        cid = await self._conversation(sid)
        return await self.intake.answer(YouthActor(cid), cid, args["step"],
                                        args.get("choice"), args.get("text"))

    async def on_intake_skip(self, sid: str, payload: object) -> dict[str, Any]:
        parse(payload, NO_FIELDS)
        cid = await self._conversation(sid)
        return await self.intake.skip(YouthActor(cid), cid)

    async def on_return_code(self, sid: str, payload: object) -> dict[str, Any]:
        """Register a code the client made: look-up words and verifier, never the secret."""
        args = parse(payload, self.return_code_spec)
        cid = await self._conversation(sid)
        await self.codes.register(YouthActor(cid), cid, args["lookup"], args["verifier"])
        return {}

    async def on_code_wrap(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.code_wrap_spec)
        cid = await self._conversation(sid)
        await self.keys.store_code_wrap(YouthActor(cid), cid, args["blob"])
        return {}

    async def on_resume_code(self, sid: str, payload: object) -> dict[str, Any]:
        """Come back with a return code: nothing is released or bound before the proof."""
        args = parse(payload, self.resume_code_spec)
        await self._require_none(sid)
        cid = await self.codes.prove(args["lookup"], args["proof"], sid)
        token = await self.service.new_resume_token(cid)
        result = await self.on_resume(sid, {"resume_token": token})
        result["resume_token"] = token
        result["code_wrap"] = await self.keys.code_wrap(YouthActor(cid), cid)
        return result

    async def on_resume(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.resume_spec)
        await self._require_none(sid)
        conv = await self.service.resume(args["resume_token"])
        await self._bind(sid, conv.id)
        history = await self.service.history(
            YouthActor(conv.id), conv.id, args.get("last_seq", 0), None
        )
        position, length = await self.service.queue_position(conv.id)
        await self.service.youth_online(conv.id, online=True)
        return {
            "conversation_id": conv.id,
            "state": conv.state.value,
            "position": position,
            "queue_length": length,
            "messages": [m.to_wire() for m in history.messages],
            "last_seq": history.last_seq,
            "more": history.more,
            "prompt": (self.intake.current_prompt(conv.language, conv.intake_step)
                       if conv.state is State.INTAKE else None),
        }

    async def on_send(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.send_spec)
        cid = await self._conversation(sid)
        env = await self.service.send(YouthActor(cid), cid, args["body"],
                                      args.get("client_msg_id"), sid)
        return {"seq": env.seq, "sent_at": env.sent_at}

    async def on_typing(self, sid: str, payload: object) -> None:
        args = parse(payload, self.typing_spec)
        cid = await self._conversation(sid)
        await self.service.typing(YouthActor(cid), cid, args["typing"], sid)

    async def on_history(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.history_spec)
        cid = await self._conversation(sid)
        history = await self.service.history(YouthActor(cid), cid, args["after_seq"],
                                             args.get("limit"))
        return {"messages": [m.to_wire() for m in history.messages],
                "last_seq": history.last_seq, "more": history.more,
                "first_seq": history.first_seq}

    async def on_end(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.end_spec)
        cid = await self._conversation(sid)
        state = await self.service.end(YouthActor(cid), cid, delete=args.get("delete", False))
        return {"state": state.value}

    async def on_keys(self, sid: str, payload: object) -> dict[str, Any]:
        parse(payload, NO_FIELDS)
        return await self.keys.directory()

    async def on_epoch(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.epoch_spec)
        cid = await self._conversation(sid)
        wraps = [(w["recipient"], w["wrap"]) for w in args["wraps"]]
        await self.keys.start_epoch(YouthActor(cid), cid, args["epoch"],
                                    args.get("signing_key"), wraps, args["statement"])
        return {"epoch": args["epoch"]}

    async def on_conversation_keys(self, sid: str, payload: object) -> dict[str, Any]:
        parse(payload, NO_FIELDS)
        cid = await self._conversation(sid)
        return await self.keys.conversation_keys(YouthActor(cid), cid)

    async def on_handover_answer(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.answer_spec)
        cid = await self._conversation(sid)
        return await self.handover.answer(YouthActor(cid), cid, args["offer_id"],
                                          args["accept"], args.get("consent"))

    async def on_handover_withdraw(self, sid: str, payload: object) -> dict[str, Any]:
        parse(payload, NO_FIELDS)
        cid = await self._conversation(sid)
        return await self.handover.withdraw(YouthActor(cid), cid)

    async def on_share_history(self, sid: str, payload: object) -> dict[str, Any]:
        args = parse(payload, self.history_wraps_spec)
        cid = await self._conversation(sid)
        wraps = [(w["epoch"], w["recipient"], w["wrap"]) for w in args["wraps"]]
        await self.keys.share_history(YouthActor(cid), cid, wraps)
        return {"shared": len(wraps)}

    async def _conversation(self, sid: str) -> ConversationId:
        cid = (await self.get_session(sid)).get("conversation_id")
        if not cid:
            raise NoConversation()
        return ConversationId(cid)

    async def _require_none(self, sid: str) -> None:
        if (await self.get_session(sid)).get("conversation_id"):
            raise AlreadyOpen()

    async def _bind(self, sid: str, cid: ConversationId) -> None:
        async with self.session(sid) as session:
            session["conversation_id"] = cid
        await self.enter_room(sid, youth_room(cid))
        await self.service.youth_bound(cid)
