"""The young person's side of the protocol, as a Python client (tests, tools, bench)."""

from __future__ import annotations

import json
import time
from typing import Any

from helpline.client.connection import BaseClient, ClientError
from helpline.client.e2e import ConversationCrypto
from helpline.crypto.consent import sign_consent
from helpline.crypto.keyring import Decrypted, YouthKeyring
from helpline.crypto.keys import EncryptionPublicKey
from helpline.crypto.returncode import (
    lookup_part,
    new_code,
    unwrap_with_code,
    wrap_for_code,
)
from helpline.crypto.statements import (
    StatementKind,
    key_statement_from_dict,
    verify_key_statement,
)
from helpline.crypto.wrap import wrap_conversation_key
from helpline.protocol import YOUTH_NAMESPACE


class YouthClient(BaseClient):
    namespace = YOUTH_NAMESPACE

    def __init__(self, url: str, *, pinned_fingerprint: str | None = None,
                 **kwargs: Any) -> None:
        """`pinned_fingerprint`: the organisation signing key's fingerprint (from the
        embed snippet). With it, `open` encrypts end to end and refuses a team key
        the pinned key did not sign; without it, bodies are whatever `send` is given.
        """
        super().__init__(url, **kwargs)
        self.keyring = YouthKeyring(pinned_fingerprint) if pinned_fingerprint else None
        self._crypto: ConversationCrypto | None = None
        self._team: EncryptionPublicKey | None = None
        self._police: EncryptionPublicKey | None = None
        # Who can read the current epoch: what this client itself wrapped the key for.
        self.readers: list[str] = []
        self.offer: dict[str, Any] | None = None
        self.prompt: dict[str, Any] | None = None  # the intake assistant's question
        self.intake_log: list[dict[str, Any]] = []  # what was asked and answered
        self.return_code: str | None = None
        self.sio.on("handover_offer", self._on_offer, namespace=self.namespace)
        self.sio.on("handover", self._on_handover, namespace=self.namespace)
        self.conversation_id: str | None = None
        self.resume_token: str | None = None
        self.state: str | None = None
        self.sio.on("state", self._on_state, namespace=self.namespace)

    async def connect(self) -> None:
        await self._connect()

    async def open(self, language: str | None = None, *, intake: bool = False,
                   browser_language: str | None = None, invite: str | None = None,
                   campaign: str | None = None) -> dict[str, Any]:
        """Open a conversation; with a keyring, only after the team key verified."""
        team = None
        if self.keyring is not None:
            # Verify before anything exists on the server: a swapped key opens nothing.
            team = self.keyring.trusted_team_key(await self.call("keys"), int(time.time()))
        payload: dict[str, Any] = {"language": language, "browser_language": browser_language,
                                   "invite": invite, "campaign": campaign}
        payload = {k: v for k, v in payload.items() if v is not None}
        if intake:
            payload["intake"] = True
        result = await self.call("open", payload)
        self.prompt = result.get("prompt")
        cid = result["conversation_id"]
        self.conversation_id = cid
        self.resume_token = result["resume_token"]
        self.state = result["state"]
        self.transcript(cid)
        if self.keyring is not None and team is not None:
            self._team = team
            wraps = self.keyring.new_epoch(cid, [team])
            await self.call("epoch", {"epoch": self.keyring.epoch, "wraps": wraps,
                                      "signing_key": self.keyring.signing.public.raw})
            self.readers = ["helpline team"]
            self._crypto = ConversationCrypto(
                cid, lambda: self.call("conversation_keys"),
                lambda keys: self._keyring().reader(cid, keys))
        return result

    # -- intake assistant -------------------------------------------------------------

    async def answer_intake(self, choice: str | None = None, text: str | None = None
                            ) -> dict[str, Any]:
        """Answer the assistant's current question (a button, free text, or both)."""
        if self.prompt is None:
            raise ClientError("no_prompt", "the intake assistant asked nothing")
        payload: dict[str, Any] = {"step": self.prompt["step"]}
        if choice is not None:
            payload["choice"] = choice
        if text:
            payload["text"] = text
        result = await self.call("intake_answer", payload)
        self.intake_log.append({"question": self.prompt["text"], "choice": choice,
                                "text": text})
        return await self._after_intake(result)

    async def skip_intake(self) -> dict[str, Any]:
        return await self._after_intake(await self.call("intake_skip"))

    async def _after_intake(self, result: dict[str, Any]) -> dict[str, Any]:
        self.prompt = result.get("prompt")
        self.state = result.get("state", self.state)
        if self.prompt is None and self.keyring is not None and self.intake_log:
            # The server kept nothing of the free text: this client writes the intake
            # into the encrypted transcript, for the counsellor to read.
            record = {"type": "intake", "answers": self.intake_log}
            await self.send(self.keyring.seal_plaintext(json.dumps(record).encode()))
        return result

    # -- return codes -------------------------------------------------------------------

    async def request_return_code(self) -> str:
        """Get a code to come back later; this client wraps its keys under it."""
        code = new_code()  # made here: the server is told only the look-up half
        await self.call("return_code", {"code": lookup_part(code)})
        self.return_code = code
        await self._upload_code_wrap()
        return code

    async def resume_with_code(self, code: str) -> dict[str, Any]:
        """Come back (on a new client) with a return code: find, unwrap, read on."""
        result = await self.call("resume_code", {"code": lookup_part(code)})
        cid = result["conversation_id"]
        self.conversation_id, self.resume_token = cid, result["resume_token"]
        self.state, self.return_code = result["state"], code
        for envelope in result["messages"]:
            self._take_envelope(envelope)
        await self._fill_gap(cid)
        ring = self.keyring
        if ring is not None and result.get("code_wrap"):
            signing, epoch_keys, epoch = unwrap_with_code(bytes(result["code_wrap"]), code, cid)
            ring.restore(cid, signing, epoch_keys, epoch, 0)
            self._team = ring.trusted_team_key(await self.call("keys"), int(time.time()))
            self._crypto = ConversationCrypto(
                cid, lambda: self.call("conversation_keys"),
                lambda keys: self._keyring().reader(cid, keys))
            await self._crypto.read(self.messages)
            assert self._crypto.reader is not None
            counter = self._crypto.reader.next_counter(signing.public.fingerprint_digest, epoch)
            ring.restore(cid, signing, epoch_keys, epoch, counter)
            self.readers = ["helpline team"]
        await self._notify()
        return result

    async def _upload_code_wrap(self) -> None:
        ring, cid, code = self.keyring, self.conversation_id, self.return_code
        if ring is None or cid is None or code is None or not ring.epoch_keys:
            return
        await self.call("code_wrap", {"blob": wrap_for_code(code, cid, ring.signing,
                                                             ring.epoch_keys, ring.epoch)})

    async def send_text(self, text: str, client_msg_id: str | None = None) -> dict[str, Any]:
        """Encrypt, sign and send a text message."""
        return await self.send(self._keyring().seal_text(text), client_msg_id)

    async def read(self) -> list[Decrypted]:
        """Every message so far, decrypted and verified, in order."""
        if self._crypto is None:
            raise ClientError("no_keys", "this client has no conversation keys")
        return await self._crypto.read(self.messages)

    # -- police handover ----------------------------------------------------------------

    async def answer_handover(self, accept: bool, share_history: bool = False,
                              valid_seconds: int = 3600) -> dict[str, Any]:
        """Say no, or yes with a signed consent and a new epoch the police can read.

        The police key must carry a statement signed by the pinned organisation key;
        with `share_history` the earlier epoch keys are wrapped for the police too.
        """
        if self.offer is None or self.conversation_id is None:
            raise ClientError("no_offer", "there is no handover offer to answer")
        offer_id = self.offer["offer_id"]
        if not accept:
            return await self.call("handover_answer", {"offer_id": offer_id, "accept": False})
        ring, cid = self._keyring(), self.conversation_id
        police = verify_key_statement(
            key_statement_from_dict(self.offer["police"]),
            pinned_fingerprint=ring.pinned_fingerprint, kind=StatementKind.POLICE_KEY,
            at=int(time.time())).public_key
        consent = sign_consent(cid, police.fingerprint, share_history,
                               int(time.time()) + valid_seconds, ring.signing)
        result = await self.call("handover_answer", {
            "offer_id": offer_id, "accept": True, "consent": consent.to_wire()})
        self._police = police
        earlier = dict(ring.epoch_keys)
        await self._new_epoch(with_police=True)
        if share_history:
            await self.call("share_history", {"wraps": [
                {"epoch": epoch, "recipient": police.fingerprint,
                 "wrap": wrap_conversation_key(key, police, conversation_id=cid, epoch=epoch)}
                for epoch, key in sorted(earlier.items())]})
        return result

    async def withdraw_handover(self) -> dict[str, Any]:
        """Take the yes back: the officer leaves at once; a new epoch shuts them out."""
        result = await self.call("handover_withdraw")
        await self._new_epoch(with_police=False)
        return result

    async def _new_epoch(self, with_police: bool) -> None:
        ring, cid = self._keyring(), self.conversation_id
        if self._team is None or cid is None:
            raise ClientError("no_keys", "no verified team key")
        recipients = [self._team] + ([self._police] if with_police and self._police else [])
        wraps = ring.new_epoch(cid, recipients)
        await self.call("epoch", {"epoch": ring.epoch, "wraps": wraps})
        self.readers = ["helpline team"] + (["police unit"] if len(recipients) > 1 else [])
        if self._crypto is not None:
            self._crypto.reader = None  # read on with the new epoch's key
        await self._upload_code_wrap()  # the code must open the new epoch too

    async def _on_offer(self, data: dict[str, Any]) -> None:
        self.offer = data
        await self._record("handover_offer", data)

    async def _on_handover(self, data: dict[str, Any]) -> None:
        # The police part ended elsewhere (officer left, counsellor ended it): stop
        # wrapping for them from the next message on.
        if data.get("handover") in ("left", "ended") and "police unit" in self.readers:
            self._spawn(self._new_epoch(with_police=False))
        await self._record("handover", data)

    def _keyring(self) -> YouthKeyring:
        if self.keyring is None:
            raise ClientError("no_keys", "this client was made without a pinned fingerprint")
        return self.keyring

    async def resume(self, resume_token: str | None = None,
                     last_seq: int | None = None) -> dict[str, Any]:
        """Bind this connection to a conversation again and take what was missed."""
        token = resume_token or self.resume_token
        if token is None:
            raise ClientError("no_conversation", "nothing to resume")
        cid = token.partition(".")[0]
        transcript = self.transcript(cid)
        if last_seq is not None and not transcript.messages:
            transcript.start_after = last_seq
        after = transcript.last_seq
        result = await self.call("resume", {"resume_token": token, "last_seq": after})
        self.conversation_id, self.resume_token = result["conversation_id"], token
        self.state = result["state"]
        for envelope in result["messages"]:
            self._take_envelope(envelope)
        await self._fill_gap(result["conversation_id"])
        await self._notify()
        return result

    async def send(self, body: bytes, client_msg_id: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"body": body}
        if client_msg_id:
            payload["client_msg_id"] = client_msg_id
        result = await self.call("send", payload)
        # The server does not echo to the sender's own connection: record it here.
        assert self.conversation_id is not None
        self._take_envelope({"conversation_id": self.conversation_id, "seq": result["seq"],
                             "sender_role": "youth", "sent_at": result["sent_at"],
                             "body": body})
        return result

    async def typing(self, typing: bool) -> None:
        await self.call("typing", {"typing": typing})

    async def history(self, after_seq: int = 0, limit: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"after_seq": after_seq}
        if limit:
            payload["limit"] = limit
        return await self.call("history", payload)

    async def end(self) -> str:
        result = await self.call("end")
        self.state = result["state"]
        return str(result["state"])

    @property
    def messages(self) -> list[dict[str, Any]]:
        if self.conversation_id is None:
            return []
        return self.transcript(self.conversation_id).messages

    async def _on_state(self, data: dict[str, Any]) -> None:
        self.state = data.get("state", self.state)
        await self._record("state", data)

    async def _resync(self) -> None:
        if self.resume_token:
            try:
                await self.resume()
            except ClientError as exc:
                # Tell the app (e.g. the conversation was purged meanwhile).
                await self._record("resync_failed", {"code": exc.code})

    async def _fill_gap(self, conversation_id: str) -> None:
        transcript = self.transcript(conversation_id)
        while True:
            page = await self.history(transcript.last_seq)
            for envelope in page["messages"]:
                transcript.add(envelope)
            if not page["more"]:
                break
        await self._notify()
