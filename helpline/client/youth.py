"""The young person's side of the protocol, as a Python client (tests, tools, bench)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from helpline.client.connection import BaseClient, ClientError
from helpline.client.e2e import ConversationCrypto
from helpline.crypto.consent import Consent, sign_consent
from helpline.crypto.epochs import epoch_statement_from_wire, verify_epoch_statement
from helpline.crypto.errors import CryptoError
from helpline.crypto.keyring import Decrypted, YouthKeyring, seen_revocations
from helpline.crypto.keys import EncryptionPublicKey
from helpline.crypto.returncode import (
    CodeKeys,
    CodeWrapContents,
    PoliceState,
    derive_code_keys,
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

# Handover states in which the police no longer take part: re-key without them.
POLICE_GONE = frozenset({"left", "ended", "expired", "withdrawn"})


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
        self._consent: Consent | None = None  # the live consent a police epoch rests on
        self._lapse: asyncio.Task[None] | None = None  # re-keys at the consent's expiry
        self._epoch_lock = asyncio.Lock()  # one new epoch at a time
        self.offer: dict[str, Any] | None = None
        self.prompt: dict[str, Any] | None = None  # the intake assistant's question
        self.intake_log: list[dict[str, Any]] = []  # what was asked and answered
        self.return_code: str | None = None
        self._code_keys: CodeKeys | None = None  # from one scrypt run over return_code
        # The police state the lead's consent code keeps (None: the team alone reads);
        # it goes into every code wrap. restored_police: what a code wrap said.
        self.police_state: PoliceState | None = None
        self.restored_police: PoliceState | None = None
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
            wraps, statement = self.keyring.new_epoch(cid, team)
            await self.call("epoch", {"epoch": statement.epoch, "wraps": wraps,
                                      "statement": statement.to_wire(),
                                      "signing_key": self.keyring.signing.public.raw})
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
        code = new_code()  # made here: the server is told the look-up words only
        keys = await asyncio.to_thread(derive_code_keys, code)  # scrypt: off the loop
        await self.call("return_code", {"lookup": keys.lookup, "verifier": keys.verifier})
        self.return_code, self._code_keys = code, keys
        await self._upload_code_wrap()
        return code

    async def resume_with_code(self, code: str) -> dict[str, Any]:
        """Come back (on a new client) with a return code: prove, unwrap, read on."""
        keys = await asyncio.to_thread(derive_code_keys, code)  # a mistyped code stops here
        result = await self.call("resume_code", {"lookup": keys.lookup, "proof": keys.proof})
        cid = result["conversation_id"]
        self.conversation_id, self.resume_token = cid, result["resume_token"]
        self.state, self.return_code, self._code_keys = result["state"], code, keys
        for envelope in result["messages"]:
            self._take_envelope(envelope)
        await self._fill_gap(cid)
        ring = self.keyring
        if ring is not None and result.get("code_wrap"):
            contents = unwrap_with_code(bytes(result["code_wrap"]), keys, cid)
            signing, epoch, epoch_keys = contents.signing, contents.epoch, dict(contents.epoch_keys)
            # Who else may read, as the client that wrapped this knew it (lead: re-keying).
            self.restored_police = contents.police
            ring.restore(cid, signing, epoch_keys, epoch, 0)
            self._team = ring.trusted_team_key(await self.call("keys"), int(time.time()))
            self._crypto = ConversationCrypto(
                cid, lambda: self.call("conversation_keys"),
                lambda keys: self._keyring().reader(cid, keys))
            await self._crypto.read(self.messages)
            assert self._crypto.reader is not None
            counter = self._crypto.reader.next_counter(signing.public.fingerprint_digest, epoch)
            ring.restore(cid, signing, epoch_keys, epoch, counter)
            await self._after_restore(contents.police)
        await self._notify()
        return result

    async def _upload_code_wrap(self) -> None:
        ring, cid, keys = self.keyring, self.conversation_id, self._code_keys
        if ring is None or cid is None or keys is None or not ring.epoch_keys:
            return
        # The police state travels with the keys, so a client that comes back knows
        # whether the police may still read the restored epoch.
        contents = CodeWrapContents(ring.signing, dict(ring.epoch_keys), ring.epoch,
                                    self.police_state)
        await self.call("code_wrap", {"blob": wrap_for_code(keys, cid, contents)})

    async def send_text(self, text: str, client_msg_id: str | None = None) -> dict[str, Any]:
        """Encrypt, sign and send a text message (never in an epoch whose consent lapsed)."""
        await self._ensure_current_epoch()
        return await self.send(self._keyring().seal_text(text), client_msg_id)

    async def send_signal(self, signal: str) -> dict[str, Any]:
        """A discreet signal inside the encrypted channel ("cannot_talk"), as the widget's
        sendSignal: plaintext {"type": "signal", "signal": name}; the server sees only an
        envelope like any other."""
        await self._ensure_current_epoch()
        plaintext = json.dumps({"type": "signal", "signal": signal}).encode()
        return await self.send(self._keyring().seal_plaintext(plaintext))

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
        the new epoch's statement names the police as a reader and carries the consent;
        with `share_history` the earlier epoch keys are wrapped for the police too.
        When the consent expires this client starts a team-only epoch by itself.
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
        # A revoked police key (a lost police key file) is never given consent or keys.
        seen_revocations(ring, (await self.call("keys")).get("revocations")).check(
            police.fingerprint, int(time.time()))
        consent = sign_consent(cid, police.fingerprint, share_history,
                               int(time.time()) + valid_seconds, ring.signing)
        result = await self.call("handover_answer", {
            "offer_id": offer_id, "accept": True, "consent": consent.to_wire()})
        self._police, self._consent = police, consent
        self.police_state = PoliceState(police.fingerprint, consent.expires_at, share_history)
        earlier = dict(ring.epoch_keys)
        async with self._epoch_lock:
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
        await self._rekey_team_only()  # unless the "withdrawn" event did it already
        return result

    @property
    def readers(self) -> list[str]:
        """Who can read the current epoch, from the statement this client signed:
        ["team"] or ["team", "police"] (empty before the first epoch)."""
        statement = self.keyring.statement if self.keyring is not None else None
        return statement.reader_kinds() if statement is not None else []

    async def _new_epoch(self, with_police: bool) -> None:
        ring, cid = self._keyring(), self.conversation_id
        if self._team is None or cid is None:
            raise ClientError("no_keys", "no verified team key")
        consent = self._consent if with_police else None
        if consent is None or consent.expires_at <= int(time.time()):
            # Team only from here: the police key gets nothing of this epoch.
            consent, self._consent, self.police_state = None, None, None
        police = self._police if consent is not None else None
        wraps, statement = ring.new_epoch(cid, self._team, police, consent)
        await self.call("epoch", {"epoch": statement.epoch, "wraps": wraps,
                                  "statement": statement.to_wire()})
        if self._crypto is not None:
            self._crypto.reader = None  # read on with the new epoch's key
        if self._lapse is not None:
            self._lapse.cancel()
            self._lapse = None
        if consent is not None:
            self._lapse = self._spawn(self._rekey_at(consent.expires_at))
        await self._upload_code_wrap()  # the code must open the new epoch too

    async def _rekey_at(self, expires_at: int) -> None:
        """At the consent's expiry, start a team-only epoch (no one else will)."""
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        self._lapse = None
        await self._rekey_team_only()

    async def _rekey_team_only(self) -> None:
        """Start a team-only epoch if the current one is still readable by the police.

        Several things may ask at once (the withdrawal, its event, the expiry timer):
        under the lock only the first re-keys, the others find "team" already.
        """
        async with self._epoch_lock:
            if "police" not in self.readers:
                return
            try:
                await self._new_epoch(with_police=False)
            except ClientError as exc:
                # The conversation may have ended meanwhile; tell the app, never crash.
                await self._record("rekey_failed", {"code": exc.code})

    async def _ensure_current_epoch(self) -> None:
        """Before sending: never in an epoch whose consent has expired."""
        statement = self.keyring.statement if self.keyring is not None else None
        if statement is not None and statement.consent is not None \
                and statement.consent.expires_at <= int(time.time()):
            await self._rekey_team_only()

    async def _after_restore(self, police: PoliceState | None) -> None:
        """After coming back with a return code: keep the restored epoch only if it is
        the latest one the young person's key signed and it is team-only, or rests on
        a live consent that the code wrap itself names; else start a team-only epoch.
        A server that hands back an older blob (a police epoch since withdrawn) or
        hides the withdrawal's epoch gets the police nothing from here on.
        """
        ring, cid = self._keyring(), self.conversation_id
        assert cid is not None
        keys = await self.call("conversation_keys")
        statements = {}
        for data in keys.get("statements", []):
            try:
                st = verify_epoch_statement(
                    epoch_statement_from_wire(cid, data), ring.signing.public,
                    conversation_id=cid, epoch=int(data["epoch"]))
            except (CryptoError, KeyError, TypeError, ValueError):
                continue  # not signed by this conversation's key: not ours
            statements[st.epoch] = st
        latest = max(statements, default=0)
        seen = self._crypto.reader.highest_epoch_seen \
            if self._crypto is not None and self._crypto.reader is not None else 0
        current = statements.get(ring.epoch)
        now = int(time.time())
        keep = (current is not None and ring.epoch == latest and seen <= ring.epoch
                and (current.consent is None
                     or (police is not None and current.consent.expires_at > now
                         and current.consent.police_fingerprint == police.fingerprint
                         and current.consent.expires_at == police.expires_at)))
        if keep and current is not None and current.consent is not None:
            # Encrypt to the police only if the pinned key vouches for that police key.
            self._police = self._verified_police(await self.call("keys"),
                                                 current.consent.police_fingerprint)
            keep = self._police is not None
        ring.statement = current
        if keep and current is not None and current.consent is not None:
            self._consent, self.police_state = current.consent, police
            self._lapse = self._spawn(self._rekey_at(current.consent.expires_at))
        if not keep:
            # The next epoch comes after every one the server or the transcript knows.
            ring.epoch = max(ring.epoch, latest, seen, int(keys.get("epoch", 0)))
            async with self._epoch_lock:
                await self._new_epoch(with_police=False)

    def _verified_police(self, directory: dict[str, Any], fingerprint: str
                         ) -> EncryptionPublicKey | None:
        data = directory.get("police")
        if not isinstance(data, dict):
            return None
        try:
            key = verify_key_statement(
                key_statement_from_dict(data),
                pinned_fingerprint=self._keyring().pinned_fingerprint,
                kind=StatementKind.POLICE_KEY, at=int(time.time())).public_key
        except CryptoError:
            return None
        return key if key.fingerprint == fingerprint else None

    async def _on_offer(self, data: dict[str, Any]) -> None:
        self.offer = data
        await self._record("handover_offer", data)

    async def _on_handover(self, data: dict[str, Any]) -> None:
        # The police part ended elsewhere (officer left, counsellor ended it, the
        # consent expired): stop wrapping for them from the next message on.
        if data.get("handover") in POLICE_GONE and "police" in self.readers:
            self._spawn(self._rekey_team_only())
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

    async def _catch_up(self) -> None:
        # The connection is still bound: only the messages may be missing.
        if self.conversation_id is not None:
            try:
                await self._fill_gap(self.conversation_id)
            except ClientError as exc:
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
