"""Keyrings: what one participant's client holds, and how it turns server data into
verified keys. Pure: the inputs are the dicts the server sends (docs/protocol.md,
events `keys` and `conversation_keys`), the outputs are keys and readers.

- `YouthKeyring`: the young person's keys, in memory only. It trusts a team key only
  if a statement signed by the pinned organisation key vouches for it, makes a fresh
  epoch key, wraps it for the verified recipients, and seals messages.
- `StaffKeyring`: a staff device's keys. It unwraps the grants made for the device
  (team or police keys), then the epoch keys of a conversation that were wrapped for
  those keys, and accepts a colleague's signature only with a signed staff statement.

Message plaintexts are in helpline/crypto/plaintext.py; a reader shows an unknown type
as such instead of failing, and refuses a malformed referral card (bad_encoding).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from helpline.crypto.consent import Consent
from helpline.crypto.envelope import EnvelopeSealer, Sender, SenderRole
from helpline.crypto.epochs import (
    EpochReader,
    EpochStatement,
    ReaderKind,
    check_epoch_key,
    epoch_statement_from_wire,
    sign_epoch_statement,
    verify_epoch_statement,
)
from helpline.crypto.errors import (
    CryptoError,
    EpochNotVerified,
    KeyRevoked,
    StatementNotValid,
)
from helpline.crypto.keys import (
    EncryptionKeyPair,
    EncryptionPublicKey,
    SigningKeyPair,
    SigningPublicKey,
    generate_epoch_key,
)
from helpline.crypto.plaintext import read_plaintext, read_referral, text_plaintext
from helpline.crypto.reader import TranscriptReader
from helpline.crypto.revocation import EMPTY as NO_REVOCATIONS
from helpline.crypto.revocation import RevocationList, RevocationTracker
from helpline.crypto.staff_statements import staff_statement_from_dict, verify_staff_statement
from helpline.crypto.statements import (
    StatementKind,
    key_statement_from_dict,
    verify_key_statement,
)
from helpline.crypto.wrap import (
    unwrap_conversation_key,
    unwrap_team_key_grant,
    wrap_conversation_key,
)

STAFF_ROLES = {"counsellor": SenderRole.COUNSELLOR, "supervisor": SenderRole.COUNSELLOR,
               "police": SenderRole.POLICE}


@dataclass(frozen=True)
class Decrypted:
    """One message as a participant sees it: the text, or why it was refused."""

    seq: int
    sender_role: str  # as stamped by the server
    sent_at: int
    sender: str | None  # whom the signature belongs to ("you", a staff name, ...)
    text: str | None
    error: str | None = None  # a crypto error code when the body was refused
    kind: str = "text"  # the plaintext's type: "text", "intake", "signal", ...
    signal: str | None = None  # for kind "signal": which one ("cannot_talk")
    referral: dict[str, Any] | None = None  # for kind "referral": the checked card


def open_record(reader: TranscriptReader, names: Mapping[bytes, str],
                envelope: Mapping[str, Any]) -> Decrypted:
    """Open the next server envelope `{seq, sender_role, sent_at, body}` with `reader`.

    Raises the reader's CryptoError; a role the server stamped differently from the
    role the sender signed in is reported as `role_mismatch`.
    """
    entry = reader.open(bytes(envelope["body"]))
    message = entry.message
    if message.role.value != envelope["sender_role"]:
        return refused_record(envelope, "role_mismatch")
    vouched = reader.sender(bytes.fromhex(message.sender_fingerprint))
    if isinstance(vouched, VouchedSender):
        # The staff statement's window and the revocation are checked at the time the
        # server stamped (docs/crypto.md, "Revocation list": what a lying server can do).
        refusal = vouched.refusal_at(int(envelope["sent_at"]) // 1000)
        if refusal is not None:
            return refused_record(envelope, refusal)
    plaintext = read_plaintext(message.plaintext)
    kind = plaintext["type"]
    text = plaintext.get("text") if kind == "text" else None
    signal = plaintext.get("signal") if kind == "signal" else None
    referral = read_referral(plaintext) if kind == "referral" else None
    return Decrypted(
        seq=int(envelope["seq"]), sender_role=str(envelope["sender_role"]),
        sent_at=int(envelope["sent_at"]),
        sender=names.get(bytes.fromhex(message.sender_fingerprint)),
        text=text if isinstance(text, str) else f"[{kind}]",
        kind=kind, signal=signal if isinstance(signal, str) else None, referral=referral,
    )


def refused_record(envelope: Mapping[str, Any], code: str) -> Decrypted:
    return Decrypted(seq=int(envelope["seq"]), sender_role=str(envelope["sender_role"]),
                     sent_at=int(envelope["sent_at"]), sender=None, text=None, error=code)


@dataclass(frozen=True)
class VouchedSender(Sender):
    """A staff sender with the window its staff statement vouches for, and when (if
    ever) the organisation revoked its key: open_record refuses messages outside."""

    not_before: int = 0
    not_after: int = 0
    revoked_at: int | None = None

    def refusal_at(self, at: int) -> str | None:
        """The error code for a message stamped `at` (Unix seconds), or None if fine."""
        if self.revoked_at is not None and at >= self.revoked_at:
            return KeyRevoked.code
        if not self.not_before <= at <= self.not_after:
            return StatementNotValid.code
        return None


def staff_senders(statements: Sequence[Mapping[str, Any]], pinned_fingerprint: str,
                  revocations: RevocationList = NO_REVOCATIONS,
                  ) -> list[tuple[str, Sender]]:
    """(name, sender) for each staff statement the pinned key signed.

    The statement's window and the key's revocation time travel with the sender (a
    VouchedSender); they are checked per message, at its `sent_at`, so that messages
    signed before a revocation or an expiry stay readable.
    """
    out: list[tuple[str, Sender]] = []
    for data in statements:
        st = verify_staff_statement(staff_statement_from_dict(data),
                                    pinned_fingerprint=pinned_fingerprint, at=None)
        if st.role in STAFF_ROLES:
            out.append((st.subject, VouchedSender(
                st.signing_key, STAFF_ROLES[st.role], st.not_before, st.not_after,
                revocations.revoked_at(st.signing_key.fingerprint))))
    return out


def seen_revocations(holder: YouthKeyring | StaffKeyring, data: object) -> RevocationList:
    """Check a revocation list from the server against the newest this keyring saw."""
    if holder.revocations is None:
        holder.revocations = RevocationTracker(holder.pinned_fingerprint)
    return holder.revocations.accept(data)


@dataclass
class VerifiedEpochs:
    """What a staff device may use of a conversation's epochs, and what it refused."""

    keys: dict[int, bytes] = field(default_factory=dict)
    statements: dict[int, EpochStatement] = field(default_factory=dict)  # signature checked
    refused: dict[int, CryptoError] = field(default_factory=dict)

    def history_shared_with(self, police_fingerprint: str, epoch: int) -> bool:
        """A later epoch's consent shares earlier messages with this police key."""
        return any(
            later > epoch and st.consent is not None and st.consent.share_history
            and st.consent.police_fingerprint == police_fingerprint
            for later, st in self.statements.items())

    def latest(self) -> EpochStatement | None:
        return self.statements[max(self.statements)] if self.statements else None


@dataclass
class YouthKeyring:
    pinned_fingerprint: str
    signing: SigningKeyPair = field(default_factory=SigningKeyPair.generate)
    epoch_keys: dict[int, bytes] = field(default_factory=dict)
    epoch: int = 0
    _sealer: EnvelopeSealer | None = None
    revocations: RevocationTracker | None = None  # the newest revocation list seen
    statement: EpochStatement | None = None  # of the current epoch, as this client signed it

    def trusted_team_key(self, directory: Mapping[str, Any], now: int) -> EncryptionPublicKey:
        """The current team key, only if the pinned organisation key signed it."""
        data = directory.get("team")
        if not isinstance(data, Mapping):
            raise StatementNotValid("the helpline published no team key")
        statement = verify_key_statement(key_statement_from_dict(data),
                                         pinned_fingerprint=self.pinned_fingerprint,
                                         kind=StatementKind.TEAM_KEY, at=now)
        # A revoked team key (a leaked folder) is never encrypted to again.
        seen_revocations(self, directory.get("revocations")).check(
            statement.public_key.fingerprint, now)
        return statement.public_key

    def new_epoch(self, conversation_id: str, team: EncryptionPublicKey,
                  police: EncryptionPublicKey | None = None, consent: Consent | None = None,
                  ) -> tuple[list[dict[str, Any]], EpochStatement]:
        """Make the next epoch key, its wraps for verified keys only, and the signed
        statement naming exactly those readers (and the consent a police reader rests on).
        """
        epoch = self.epoch + 1
        key = generate_epoch_key()
        readers = [EpochReader(ReaderKind.TEAM, team.fingerprint)]
        if police is not None:
            readers.append(EpochReader(ReaderKind.POLICE, police.fingerprint))
        statement = sign_epoch_statement(conversation_id=conversation_id, epoch=epoch,
                                         epoch_key=key, readers=readers, consent=consent,
                                         signing_key=self.signing)
        recipients = [team] + ([police] if police is not None else [])
        wraps = [{"recipient": r.fingerprint,
                  "wrap": wrap_conversation_key(key, r, conversation_id=conversation_id,
                                                epoch=epoch)} for r in recipients]
        self.epoch, self.epoch_keys[epoch], self.statement = epoch, key, statement
        self._sealer = EnvelopeSealer(epoch_key=key, conversation_id=conversation_id,
                                      epoch=epoch, role=SenderRole.YOUTH,
                                      signing_key=self.signing)
        return wraps, statement

    def seal_text(self, text: str) -> bytes:
        return self.seal_plaintext(text_plaintext(text))

    def seal_plaintext(self, plaintext: bytes) -> bytes:
        if self._sealer is None:
            raise CryptoError("no epoch key yet")
        return self._sealer.seal(plaintext)

    def restore(self, conversation_id: str, signing: SigningKeyPair,
                epoch_keys: dict[int, bytes], epoch: int, next_counter: int) -> None:
        """Take back keys unwrapped with a return code, and continue the count."""
        self.signing, self.epoch_keys, self.epoch = signing, dict(epoch_keys), epoch
        self._sealer = EnvelopeSealer(epoch_key=epoch_keys[epoch],
                                      conversation_id=conversation_id, epoch=epoch,
                                      role=SenderRole.YOUTH, signing_key=signing,
                                      next_counter=next_counter)

    def reader(self, conversation_id: str, conversation_keys: Mapping[str, Any]
               ) -> tuple[TranscriptReader, dict[bytes, str]]:
        """A reader with this device's epoch keys, itself, and the vouched-for staff."""
        reader = TranscriptReader(conversation_id)
        for epoch, key in self.epoch_keys.items():
            reader.add_epoch_key(epoch, key)
        reader.add_sender(Sender(self.signing.public, SenderRole.YOUTH))
        names = {self.signing.public.fingerprint_digest: "you"}
        for name, sender in staff_senders(
                conversation_keys.get("staff", []), self.pinned_fingerprint,
                seen_revocations(self, conversation_keys.get("revocations"))):
            reader.add_sender(sender)
            names[sender.public_key.fingerprint_digest] = name
        return reader, names


@dataclass
class StaffKeyring:
    username: str
    pinned_fingerprint: str
    encryption: EncryptionKeyPair
    signing: SigningKeyPair
    # fingerprint of a team or police public key -> its key pair, from grants
    unit_keys: dict[str, EncryptionKeyPair] = field(default_factory=dict)
    revocations: RevocationTracker | None = None  # the newest revocation list seen

    @classmethod
    def generate(cls, username: str, pinned_fingerprint: str) -> StaffKeyring:
        return cls(username, pinned_fingerprint, EncryptionKeyPair.generate(),
                   SigningKeyPair.generate())

    def load_grants(self, my_keys: Mapping[str, Any]) -> list[str]:
        """Unwrap every grant whose statement the pinned key signed; returns subjects."""
        statements: dict[str, tuple[Mapping[str, Any], StatementKind]] = {
            period: (data, StatementKind.TEAM_KEY)
            for period, data in (my_keys.get("team") or {}).items()}
        police = my_keys.get("police")
        if isinstance(police, Mapping):
            statements[str(police["subject"])] = (police, StatementKind.POLICE_KEY)
        loaded = []
        for subject, wrap in (my_keys.get("grants") or {}).items():
            if subject not in statements:
                continue
            data, kind = statements[subject]
            statement = verify_key_statement(key_statement_from_dict(data),
                                             pinned_fingerprint=self.pinned_fingerprint,
                                             kind=kind, at=None)
            pair = unwrap_team_key_grant(bytes(wrap), self.encryption, period=subject,
                                         grantee=self.username,
                                         team_public_key=statement.public_key)
            self.unit_keys[pair.public.fingerprint] = pair
            loaded.append(subject)
        return loaded

    def epoch_keys(self, conversation_id: str, conversation_keys: Mapping[str, Any]
                   ) -> dict[int, bytes]:
        """Every verified epoch key of the conversation wrapped for a key this device holds."""
        return self.verified_epochs(conversation_id, conversation_keys).keys

    def verified_epochs(self, conversation_id: str, conversation_keys: Mapping[str, Any]
                        ) -> VerifiedEpochs:
        """The epoch keys this device may use, each checked against the young person's
        signed epoch statement: the statement verifies with the conversation's signing
        key, names this device's unit key as a reader (or, for the police, a later
        consent shares history), and commits to exactly the unwrapped key.
        Epochs that fail are listed with the reason; their keys are never used.
        """
        out = VerifiedEpochs()
        youth = conversation_keys.get("youth_signing_key")
        youth_key = SigningPublicKey(bytes(youth)) if youth else None
        for data in conversation_keys.get("statements", []):
            epoch = data.get("epoch") if isinstance(data, Mapping) else None
            if not isinstance(epoch, int) or isinstance(epoch, bool) or youth_key is None:
                continue
            try:
                out.statements[epoch] = verify_epoch_statement(
                    epoch_statement_from_wire(conversation_id, data), youth_key,
                    conversation_id=conversation_id, epoch=epoch)
            except CryptoError as exc:
                out.refused[epoch] = exc
        for item in conversation_keys.get("wraps", []):
            fingerprint, epoch = str(item["recipient"]), int(item["epoch"])
            pair = self.unit_keys.get(fingerprint)
            if pair is None or epoch in out.keys:
                continue
            statement = out.statements.get(epoch)
            try:
                if statement is None:
                    raise out.refused.get(epoch) or EpochNotVerified()
                key = unwrap_conversation_key(bytes(item["wrap"]), pair,
                                              conversation_id=conversation_id, epoch=epoch)
                # An earlier epoch's key reaches the police only as shared history:
                # then the later, signed consent vouches for it, the commitment for the key.
                shared = out.history_shared_with(fingerprint, epoch)
                check_epoch_key(statement, key, None if shared else fingerprint)
            except CryptoError as exc:
                out.refused[epoch] = exc
                continue
            out.refused.pop(epoch, None)
            out.keys[epoch] = key
        return out

    def reader(self, conversation_id: str, conversation_keys: Mapping[str, Any]
               ) -> tuple[TranscriptReader, dict[bytes, str]]:
        reader = TranscriptReader(conversation_id)
        verified = self.verified_epochs(conversation_id, conversation_keys)
        for epoch, key in verified.keys.items():
            reader.add_epoch_key(epoch, key)
        for epoch, error in verified.refused.items():
            reader.refuse_epoch(epoch, error)
        names: dict[bytes, str] = {}
        youth = conversation_keys.get("youth_signing_key")
        if youth:
            public = SigningPublicKey(bytes(youth))
            reader.add_sender(Sender(public, SenderRole.YOUTH))
            names[public.fingerprint_digest] = "young person"
        for name, sender in staff_senders(
                conversation_keys.get("staff", []), self.pinned_fingerprint,
                seen_revocations(self, conversation_keys.get("revocations"))):
            reader.add_sender(sender)
            names[sender.public_key.fingerprint_digest] = name
        return reader, names

    def sealer(self, conversation_id: str, epoch: int, epoch_key: bytes, role: SenderRole,
               next_counter: int) -> EnvelopeSealer:
        return EnvelopeSealer(epoch_key=epoch_key, conversation_id=conversation_id,
                              epoch=epoch, role=role, signing_key=self.signing,
                              next_counter=next_counter)
