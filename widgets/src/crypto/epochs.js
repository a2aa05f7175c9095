// Epoch statements (docs/crypto.md, "Epoch statements"; helpline/crypto/epochs.py) and
// the police consent (consent.py): the young person's client signs both with the
// conversation's Ed25519 key.
import { fail, CryptoError } from "./errors.js";
import {
  LABELS, PROTOCOL_VERSION, SIGNATURE_BYTES, KEY_BYTES, b64urlDecode, b64urlEncode, compareBytes, concat,
  encodeFields, equalBytes, exactFields, identifierBytes, isInt, parseFingerprint, randomBytes, sha256, u32, u64,
} from "./encoding.js";
import { checkSecret, verifySignature } from "./keys.js";

export const MAX_READERS = 8;
const READER_CODES = { team: 1, police: 2 };
const NONCE_MIN = 16, NONCE_MAX = 64;

// -- police consent ---------------------------------------------------------------------
export function consentSignedBytes(c) {
  if (!(c.nonce instanceof Uint8Array) || c.nonce.length < NONCE_MIN || c.nonce.length > NONCE_MAX) {
    fail("bad_encoding", `a consent nonce is ${NONCE_MIN} to ${NONCE_MAX} bytes`);
  }
  return encodeFields(LABELS.policeConsent, identifierBytes(c.conversationId, "conversation id"),
    parseFingerprint(c.policeFingerprint), new Uint8Array([c.shareHistory ? 1 : 0]), u64(c.expiresAt), c.nonce);
}

export async function signConsent({ conversationId, policeFingerprint, shareHistory, expiresAt }, signingKey) {
  const consent = { conversationId, policeFingerprint, shareHistory: !!shareHistory, expiresAt, nonce: randomBytes(32) };
  consent.signature = await signingKey.sign(consentSignedBytes(consent));
  return consent;
}

export function consentToWire(c) {
  return { police_fingerprint: c.policeFingerprint, share_history: c.shareHistory, expires_at: c.expiresAt,
           nonce: b64urlEncode(c.nonce), signature: b64urlEncode(c.signature) };
}

export function consentFromWire(conversationId, data) {
  if (data === null || typeof data !== "object" || Array.isArray(data)) fail("bad_encoding", "consent is an object");
  const { police_fingerprint: fp, share_history: share, expires_at: exp, nonce, signature } = data;
  if (typeof fp !== "string" || typeof share !== "boolean") fail("bad_encoding", "police_fingerprint is text, share_history a boolean");
  if (!isInt(exp)) fail("bad_encoding", "expires_at is a whole number of seconds");
  if (typeof nonce !== "string" || typeof signature !== "string") fail("bad_encoding", "nonce and signature are base64url text");
  const sig = b64urlDecode(signature);
  if (sig.length !== SIGNATURE_BYTES) fail("bad_encoding", "a signature is 64 bytes");
  return { conversationId, policeFingerprint: fp, shareHistory: share, expiresAt: exp, nonce: b64urlDecode(nonce), signature: sig };
}

export async function verifyConsent(consent, youthPublicKey) {
  await verifySignature(youthPublicKey, consent.signature, consentSignedBytes(consent));
}

// -- epoch statements -------------------------------------------------------------------
export async function epochCommitment(epochKey, { conversationId, epoch }) {
  return sha256(encodeFields(LABELS.epochCommitment, identifierBytes(conversationId, "conversation id"),
    u32(epoch), checkSecret(epochKey, "epoch key")));
}

const readerBytes = (r) => concat(new Uint8Array([READER_CODES[r.kind]]), parseFingerprint(r.fingerprint));

/** Check the rules of a statement (bad_encoding) and return it with sorted readers. */
function checkStatement(st) {
  identifierBytes(st.conversationId, "conversation id");
  if (!isInt(st.epoch, 1, 2 ** 32 - 1)) fail("bad_encoding", "epoch is a whole number from 1 to 2^32 - 1");
  if (!(st.commitment instanceof Uint8Array) || st.commitment.length !== KEY_BYTES) fail("bad_encoding", "a commitment is 32 bytes");
  if (st.readers.length < 1 || st.readers.length > MAX_READERS) fail("bad_encoding", `an epoch has 1 to ${MAX_READERS} readers`);
  const encoded = st.readers.map(readerBytes);
  for (let i = 1; i < encoded.length; i++) {
    if (compareBytes(encoded[i - 1], encoded[i]) >= 0) fail("bad_encoding", "readers must be sorted and distinct");
  }
  const police = st.readers.filter((r) => r.kind === "police");
  if (!st.readers.some((r) => r.kind === "team")) fail("bad_encoding", "an epoch is always readable by the team");
  if (police.length > 1) fail("bad_encoding", "an epoch has at most one police reader");
  if ((st.consent === null) !== (police.length === 0)) fail("bad_encoding", "a police reader needs a consent, and a consent a police reader");
  if (st.consent !== null) {
    if (st.consent.conversationId !== st.conversationId) fail("bad_encoding", "the consent is for another conversation");
    if (st.consent.policeFingerprint !== police[0].fingerprint) fail("bad_encoding", "the consent is for another police key");
  }
  if (st.signature && st.signature.length !== SIGNATURE_BYTES) fail("bad_encoding", "a signature is 64 bytes");
  return st;
}

export function epochSignedBytes(st) {
  return encodeFields(LABELS.epochStatement, identifierBytes(st.conversationId, "conversation id"), u32(st.epoch),
    st.commitment, concat(...st.readers.map(readerBytes)), st.consent ? consentSignedBytes(st.consent) : new Uint8Array(0));
}

export const readerKinds = (st) => ["team", "police"].filter((k) => st.readers.some((r) => r.kind === k));

/** The young person's client: commit to `epochKey` and name its readers ([{kind, fingerprint}]). */
export async function signEpochStatement({ conversationId, epoch, epochKey, readers, consent = null }, signingKey) {
  const sorted = [...readers].sort((a, b) => compareBytes(readerBytes(a), readerBytes(b)))
    .filter((r, i, all) => i === 0 || compareBytes(readerBytes(all[i - 1]), readerBytes(r)) !== 0);
  const st = checkStatement({ conversationId, epoch, commitment: await epochCommitment(epochKey, { conversationId, epoch }),
                              readers: sorted, consent, signature: null });
  st.signature = await signingKey.sign(epochSignedBytes(st));
  return st;
}

export function epochStatementToWire(st) {
  return { v: PROTOCOL_VERSION, epoch: st.epoch, commitment: b64urlEncode(st.commitment),
           readers: st.readers.map((r) => ({ kind: r.kind, fingerprint: r.fingerprint })),
           consent: st.consent ? consentToWire(st.consent) : null, signature: b64urlEncode(st.signature) };
}

const WIRE_FIELDS = ["v", "epoch", "commitment", "readers", "consent", "signature"];

/** Parse the transport form strictly for `conversationId`. */
export function epochStatementFromWire(conversationId, data) {
  if (!exactFields(data, WIRE_FIELDS)) fail("bad_encoding", "an epoch statement has exactly its six fields");
  if (!isInt(data.v, -(2 ** 53), 2 ** 53)) fail("bad_encoding", "v must be an integer");
  if (data.v !== PROTOCOL_VERSION) fail("unsupported_version", `epoch statement version ${data.v}`);
  if (!isInt(data.epoch, -(2 ** 53), 2 ** 53)) fail("bad_encoding", "epoch must be an integer");
  if (!Array.isArray(data.readers) || !data.readers.every((r) => exactFields(r, ["kind", "fingerprint"]))) {
    fail("bad_encoding", "readers is a list of {kind, fingerprint}");
  }
  const readers = data.readers.map((r) => {
    if (!(r.kind in READER_CODES) || typeof r.fingerprint !== "string") fail("bad_encoding", "a reader is team or police, with a hex fingerprint");
    parseFingerprint(r.fingerprint);
    return { kind: r.kind, fingerprint: r.fingerprint };
  });
  if (data.consent !== null && (typeof data.consent !== "object" || Array.isArray(data.consent))) fail("bad_encoding", "consent is null or an object");
  if (typeof data.commitment !== "string" || typeof data.signature !== "string") fail("bad_encoding", "commitment and signature are base64url text");
  const signature = b64urlDecode(data.signature);
  if (signature.length !== SIGNATURE_BYTES) fail("bad_encoding", "a signature is 64 bytes");
  return checkStatement({ conversationId, epoch: data.epoch, commitment: b64urlDecode(data.commitment), readers,
    consent: data.consent !== null ? consentFromWire(conversationId, data.consent) : null, signature });
}

/** The statement, if the young person's key signed it for this conversation and epoch. */
export async function verifyEpochStatement(st, youthPublicKey, { conversationId, epoch }) {
  if (st.conversationId !== conversationId || st.epoch !== epoch) fail("epoch_unverified", `not for epoch ${epoch} of this conversation`);
  try {
    await verifySignature(youthPublicKey, st.signature, epochSignedBytes(st));
  } catch (e) {
    if (!(e instanceof CryptoError)) throw e;
    fail("epoch_unverified", "the epoch statement is not signed by the young person");
  }
  return st;
}

/** Raise unless `epochKey` is the committed key and `readerFingerprint` (or null) a reader. */
export async function checkEpochKey(st, epochKey, readerFingerprint) {
  if (readerFingerprint !== null && !st.readers.some((r) => r.fingerprint === readerFingerprint)) fail("not_a_reader");
  const actual = await epochCommitment(epochKey, { conversationId: st.conversationId, epoch: st.epoch });
  if (!equalBytes(actual, st.commitment)) fail("key_mismatch");
}

/** consent_lapsed if the epoch rests on a police consent that has expired by `now`. */
export function checkSendable(st, now) {
  if (st.consent && st.consent.expiresAt <= now) fail("consent_lapsed");
}
