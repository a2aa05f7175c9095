"""TranscriptReader: delivery-order checks on top of single-envelope checks."""

from __future__ import annotations

import pytest

from helpline.crypto.envelope import (
    EnvelopeSealer,
    Sender,
    SenderRole,
    message_signature_input,
    seal_envelope,
)
from helpline.crypto.errors import (
    BadSignature,
    InvalidKey,
    Reordered,
    Replay,
    Tampered,
    UnknownSender,
    WrongConversation,
    WrongEpoch,
    WrongRole,
)
from helpline.crypto.keys import SigningKeyPair, generate_epoch_key
from helpline.crypto.reader import TranscriptReader

CONV = "Xq3m9Zt0Q1uVb8kLr2s7Yw"
N = len(CONV)
E1 = generate_epoch_key()
E2 = generate_epoch_key()
YOUTH = SigningKeyPair.generate()
COUNSELLOR = SigningKeyPair.generate()
POLICE = SigningKeyPair.generate()


def sealer(
    key: SigningKeyPair, role: SenderRole, epoch: int = 1, epoch_key: bytes = E1
) -> EnvelopeSealer:
    return EnvelopeSealer(
        epoch_key=epoch_key, conversation_id=CONV, epoch=epoch, role=role, signing_key=key
    )


def reader() -> TranscriptReader:
    r = TranscriptReader(CONV)
    r.add_epoch_key(1, E1)
    r.add_sender(Sender(YOUTH.public, SenderRole.YOUTH))
    r.add_sender(Sender(COUNSELLOR.public, SenderRole.COUNSELLOR))
    return r


def test_a_conversation_in_order() -> None:
    r = reader()
    youth, counsellor = sealer(YOUTH, SenderRole.YOUTH), sealer(COUNSELLOR, SenderRole.COUNSELLOR)
    texts = [b"hoi", b"hallo", b"ik wil iets vragen", b"vertel"]
    envelopes = [youth.seal(texts[0]), counsellor.seal(texts[1])]
    envelopes += [youth.seal(texts[2]), counsellor.seal(texts[3])]
    entries = [r.open(e) for e in envelopes]
    assert [e.message.plaintext for e in entries] == texts
    assert [e.missing for e in entries] == [0, 0, 0, 0]
    assert [e.message.role for e in entries] == [
        SenderRole.YOUTH,
        SenderRole.COUNSELLOR,
        SenderRole.YOUTH,
        SenderRole.COUNSELLOR,
    ]


def test_replay_is_refused() -> None:
    r = reader()
    youth = sealer(YOUTH, SenderRole.YOUTH)
    first, second = youth.seal(b"1"), youth.seal(b"2")
    r.open(first)
    r.open(second)
    with pytest.raises(Replay):
        r.open(second)
    with pytest.raises(Replay):
        r.open(first)


def test_swapped_order_is_refused() -> None:
    r = reader()
    youth = sealer(YOUTH, SenderRole.YOUTH)
    first, second = youth.seal(b"1"), youth.seal(b"2")
    assert r.open(second).missing == 1
    with pytest.raises(Reordered):
        r.open(first)


def test_gap_is_reported() -> None:
    r = reader()
    youth = sealer(YOUTH, SenderRole.YOUTH)
    r.open(youth.seal(b"0"))
    youth.seal(b"dropped by the server")
    youth.seal(b"dropped too")
    assert r.open(youth.seal(b"3")).missing == 2


def test_counters_are_per_sender_and_epoch() -> None:
    r = reader()
    r.add_epoch_key(2, E2)
    r.open(sealer(YOUTH, SenderRole.YOUTH).seal(b"epoch 1, counter 0"))
    r.open(sealer(COUNSELLOR, SenderRole.COUNSELLOR).seal(b"epoch 1, counter 0"))
    r.open(sealer(YOUTH, SenderRole.YOUTH, epoch=2, epoch_key=E2).seal(b"epoch 2, counter 0"))


def test_moved_from_another_conversation() -> None:
    r = reader()
    other = EnvelopeSealer(
        epoch_key=E1,
        conversation_id="Pd7Rk2Nw8Hc5Tj1Lm4Vx9A",
        epoch=1,
        role=SenderRole.YOUTH,
        signing_key=YOUTH,
    )
    with pytest.raises(WrongConversation):
        r.open(other.seal(b"elsewhere"))


def test_epoch_without_key() -> None:
    r = reader()
    with pytest.raises(WrongEpoch):
        r.open(sealer(YOUTH, SenderRole.YOUTH, epoch=2, epoch_key=E2).seal(b"x"))


def test_unknown_sender_and_wrong_role() -> None:
    r = reader()
    with pytest.raises(UnknownSender):
        r.open(sealer(POLICE, SenderRole.POLICE).seal(b"not on the roster"))
    with pytest.raises(WrongRole):
        r.open(sealer(YOUTH, SenderRole.COUNSELLOR).seal(b"I am the counsellor"))


def test_altered_body() -> None:
    r = reader()
    envelope = bytearray(sealer(YOUTH, SenderRole.YOUTH).seal(b"x"))
    envelope[-70] ^= 1
    with pytest.raises(BadSignature):
        r.open(bytes(envelope))


def test_forgeries_do_not_advance_counters() -> None:
    r = reader()
    youth = sealer(YOUTH, SenderRole.YOUTH)
    genuine = youth.seal(b"0")
    # The youth's own key re-signs a header with counter 9: AES-GCM refuses it, and the
    # genuine counter-0 message is still accepted afterwards.
    body = bytearray(genuine[:-64])
    body[8 + N : 12 + N] = (9).to_bytes(4, "big")
    forged = bytes(body) + YOUTH.sign(message_signature_input(bytes(body)))
    with pytest.raises(Tampered):
        r.open(forged)
    assert r.open(genuine).message.counter == 0


def test_roster_and_keys_cannot_be_replaced() -> None:
    r = reader()
    with pytest.raises(InvalidKey):
        r.add_epoch_key(1, E2)
    with pytest.raises(InvalidKey):
        r.add_sender(Sender(YOUTH.public, SenderRole.COUNSELLOR))
    r.add_epoch_key(1, E1)  # the same again is fine
    r.add_sender(Sender(YOUTH.public, SenderRole.YOUTH))


def test_police_joins_in_a_new_epoch() -> None:
    r = reader()
    r.add_epoch_key(2, E2)
    r.add_sender(Sender(POLICE.public, SenderRole.POLICE))
    police = sealer(POLICE, SenderRole.POLICE, epoch=2, epoch_key=E2)
    assert r.open(police.seal(b"hallo")).message.epoch == 2
    # Police signing in epoch 1 with a key they never had cannot decrypt-verify.
    forged = seal_envelope(
        b"x",
        epoch_key=E2,
        conversation_id=CONV,
        epoch=1,
        counter=0,
        role=SenderRole.POLICE,
        signing_key=POLICE,
    )
    with pytest.raises(Tampered):
        r.open(forged)
