// Padding (padding.py), message envelopes (envelope.py) and the transcript reader
// (reader.py): docs/crypto.md, "Envelopes", "Padding", "The transcript reader".
import { fail, CryptoError } from "./errors.js";
import {
  LABELS, PROTOCOL_VERSION, SUITE_ID, KEY_BYTES, NONCE_BYTES, TAG_BYTES, SIGNATURE_BYTES,
  concat, encodeFields, equalBytes, hexEncode, identifierBytes, randomBytes, readU32, subtle, u32,
} from "./encoding.js";
import { checkSecret, verifySignature } from "./keys.js";

// -- padding --------------------------------------------------------------------------
export const MIN_BUCKET = 256;
export const MAX_BUCKET = 65_536;
export const MAX_PLAINTEXT_BYTES = MAX_BUCKET - 4;

export function bucket(length) {
  let b = MIN_BUCKET;
  while (b < 4 + length) b *= 2;
  return b;
}

export function pad(plaintext) {
  if (plaintext.length > MAX_PLAINTEXT_BYTES) fail("bad_padding", "plaintext too long for the largest bucket");
  const out = new Uint8Array(bucket(plaintext.length));
  out.set(u32(plaintext.length), 0);
  out.set(plaintext, 4);
  return out;
}

export function unpad(padded) {
  const size = padded.length;
  if (size < MIN_BUCKET || size > MAX_BUCKET || (size & (size - 1)) !== 0) fail("bad_padding", "not a bucket size");
  const n = readU32(padded, 0);
  if (n > size - 4 || bucket(n) !== size) fail("bad_padding", "length does not belong to this bucket");
  for (let i = 4 + n; i < size; i++) if (padded[i] !== 0) fail("bad_padding", "non-zero padding");
  return padded.slice(4, 4 + n);
}

// -- envelopes ------------------------------------------------------------------------
export const ROLE_CODES = { youth: 1, counsellor: 2, police: 3, bot: 4, system: 5 };
const ROLES_BY_CODE = Object.fromEntries(Object.entries(ROLE_CODES).map(([r, c]) => [c, r]));
const FIXED_HEADER = 4 + 4 + 4 + KEY_BYTES;
const MIN_ENVELOPE_BYTES = FIXED_HEADER + 1 + NONCE_BYTES + MIN_BUCKET + TAG_BYTES + SIGNATURE_BYTES;

export function headerBytes({ role, conversationId, epoch, counter, senderDigest }) {
  const cid = identifierBytes(conversationId, "conversation id");
  if (senderDigest.length !== KEY_BYTES) fail("invalid_key", "a sender fingerprint digest is 32 bytes");
  return concat(new Uint8Array([PROTOCOL_VERSION, SUITE_ID, ROLE_CODES[role], cid.length]), cid,
    u32(epoch), u32(counter), senderDigest);
}

export const messageAad = (header) => encodeFields(LABELS.msgAad, header);
export const messageSignatureInput = (unsigned) => encodeFields(LABELS.msgSig, unsigned);

const aesKey = (key, usages) => subtle.importKey("raw", checkSecret(key, "epoch key"), "AES-GCM", false, usages);

/**
 * Seal one message: pad, AES-256-GCM under the epoch key with the header as AAD, sign.
 * `signingKey` is a SigningKeyPair. `nonce` is for the vectors only (never reuse one).
 */
export async function sealEnvelope(plaintext, { epochKey, conversationId, epoch, counter, role, signingKey, nonce }) {
  const iv = nonce ?? randomBytes(NONCE_BYTES);
  if (iv.length !== NONCE_BYTES) fail("bad_encoding", "a nonce is 12 bytes");
  const header = headerBytes({ role, conversationId, epoch, counter, senderDigest: await signingKey.public.digest() });
  const key = await aesKey(epochKey, ["encrypt"]);
  const ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv, additionalData: messageAad(header) }, key, pad(plaintext)));
  const unsigned = concat(header, iv, ct);
  return concat(unsigned, await signingKey.sign(messageSignatureInput(unsigned)));
}

/** Split an envelope (unsupported_version, unsupported_suite, malformed_envelope). */
export function parseEnvelope(data) {
  if (!(data instanceof Uint8Array) || data.length < 2) fail("malformed_envelope", "too short");
  if (data[0] !== PROTOCOL_VERSION) fail("unsupported_version", `envelope version ${data[0]}`);
  if (data[1] !== SUITE_ID) fail("unsupported_suite", `envelope suite ${data[1]}`);
  if (data.length < MIN_ENVELOPE_BYTES) fail("malformed_envelope", "too short");
  const role = ROLES_BY_CODE[data[2]];
  if (role === undefined) fail("malformed_envelope", `unknown sender role ${data[2]}`);
  const n = data[3];
  const headerEnd = FIXED_HEADER + n;
  const ctSize = data.length - headerEnd - NONCE_BYTES - SIGNATURE_BYTES;
  if (ctSize < MIN_BUCKET + TAG_BYTES) fail("malformed_envelope", "too short for its conversation id");
  if (ctSize > MAX_BUCKET + TAG_BYTES) fail("malformed_envelope", "message body too long");
  let conversationId;
  try {
    conversationId = String.fromCharCode(...data.slice(4, 4 + n));
    identifierBytes(conversationId, "conversation id");
  } catch {
    fail("malformed_envelope", "bad conversation id");
  }
  const pos = 4 + n;
  const nonceEnd = headerEnd + NONCE_BYTES;
  return {
    header: { role, conversationId, epoch: readU32(data, pos), counter: readU32(data, pos + 4),
              senderDigest: data.slice(pos + 8, headerEnd) },
    headerBytes: data.slice(0, headerEnd),
    nonce: data.slice(headerEnd, nonceEnd),
    ciphertext: data.slice(nonceEnd, data.length - SIGNATURE_BYTES),
    signature: data.slice(data.length - SIGNATURE_BYTES),
    unsigned: data.slice(0, data.length - SIGNATURE_BYTES),
  };
}

/**
 * Open a parsed envelope expected in conversationId/epoch from `sender`
 * ({ publicKey: SigningPublicKey, role }); checks in the order of docs/crypto.md.
 */
export async function openParsedEnvelope(parsed, { epochKey, conversationId, epoch, sender }) {
  checkSecret(epochKey, "epoch key");
  const h = parsed.header;
  if (h.conversationId !== conversationId) fail("wrong_conversation");
  if (h.epoch !== epoch) fail("wrong_epoch", `expected epoch ${epoch}, got ${h.epoch}`);
  if (!equalBytes(h.senderDigest, await sender.publicKey.digest())) fail("unknown_sender");
  if (h.role !== sender.role) fail("wrong_role", `sender is ${sender.role}, envelope claims ${h.role}`);
  await verifySignature(sender.publicKey, parsed.signature, messageSignatureInput(parsed.unsigned));
  let padded;
  try {
    const key = await aesKey(epochKey, ["decrypt"]);
    padded = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: parsed.nonce, additionalData: messageAad(parsed.headerBytes) }, key, parsed.ciphertext));
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    fail("tampered");
  }
  return { conversationId: h.conversationId, epoch: h.epoch, counter: h.counter, role: h.role,
           senderFingerprint: hexEncode(h.senderDigest), plaintext: unpad(padded) };
}

export async function openEnvelope(data, expect) {
  return openParsedEnvelope(parseEnvelope(data), expect);
}

/** One sender's messages in one epoch; the counter is never reused. */
export class EnvelopeSealer {
  constructor({ epochKey, conversationId, epoch, role, signingKey, nextCounter = 0 }) {
    this.epochKey = checkSecret(epochKey, "epoch key");
    Object.assign(this, { conversationId, epoch, role, signingKey, nextCounter });
  }
  async seal(plaintext) {
    const counter = this.nextCounter++; // taken before the await: concurrent seals never share one
    return sealEnvelope(plaintext, { epochKey: this.epochKey, conversationId: this.conversationId,
      epoch: this.epoch, counter, role: this.role, signingKey: this.signingKey });
  }
}

// -- the transcript reader --------------------------------------------------------------
export class TranscriptReader {
  constructor(conversationId) {
    identifierBytes(conversationId, "conversation id");
    this.conversationId = conversationId;
    this.epochKeys = new Map();
    this.senders = new Map(); // fingerprint hex -> { publicKey, role, ...extra }
    this.last = new Map(); // `${fp}:${epoch}` -> last accepted counter
    this.seen = new Map(); // same key -> Set of counters
    this.refused = new Map(); // epoch -> CryptoError
    this.highestEpochSeen = 0;
  }
  addEpochKey(epoch, key) {
    checkSecret(key, "epoch key");
    const known = this.epochKeys.get(epoch);
    if (known && !equalBytes(known, key)) fail("invalid_key", `epoch ${epoch} already has another key`);
    this.epochKeys.set(epoch, key);
  }
  refuseEpoch(epoch, error) { this.refused.set(epoch, error); }
  async addSender(sender) {
    const fp = hexEncode(await sender.publicKey.digest());
    const known = this.senders.get(fp);
    if (known && known.role !== sender.role) fail("invalid_key", "this signing key is already on the roster with another role");
    this.senders.set(fp, sender);
  }
  sender(fingerprintHex) { return this.senders.get(fingerprintHex) ?? null; }
  nextCounter(fingerprintHex, epoch) { return (this.last.get(`${fingerprintHex}:${epoch}`) ?? -1) + 1; }

  /** Verify and decrypt the next envelope in delivery order -> { message, missing }. */
  async open(data) {
    const parsed = parseEnvelope(data);
    const h = parsed.header;
    if (h.conversationId !== this.conversationId) fail("wrong_conversation");
    this.highestEpochSeen = Math.max(this.highestEpochSeen, h.epoch);
    const epochKey = this.epochKeys.get(h.epoch);
    if (!epochKey) {
      const refused = this.refused.get(h.epoch);
      if (refused) throw new CryptoError(refused.code, refused.message);
      fail("wrong_epoch", `no key for epoch ${h.epoch}`);
    }
    const fp = hexEncode(h.senderDigest);
    const sender = this.senders.get(fp);
    if (!sender) fail("unknown_sender");
    const message = await openParsedEnvelope(parsed, { epochKey, conversationId: this.conversationId, epoch: h.epoch, sender });
    const slot = `${fp}:${h.epoch}`;
    const seen = this.seen.get(slot) ?? new Set();
    if (seen.has(message.counter)) fail("replay", `counter ${message.counter} already delivered`);
    const last = this.last.get(slot) ?? -1;
    if (message.counter < last) fail("reordered", `counter ${message.counter} after ${last}`);
    seen.add(message.counter);
    this.seen.set(slot, seen);
    this.last.set(slot, message.counter);
    return { message, missing: message.counter - last - 1 };
  }
}
