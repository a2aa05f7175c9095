// Return codes, format 2 (docs/crypto.md, "Return codes"; helpline/crypto/returncode.py):
// eight BIP-39 words, scrypt (N = 2^16, r = 8, p = 1) salted with the look-up words,
// then HKDF for the proof and the wrap key; the keys wrapped under AES-256-GCM.
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { fail, CryptoError } from "./errors.js";
import {
  LABELS, PROTOCOL_VERSION, KEY_BYTES, NONCE_BYTES, TAG_BYTES, MAX_JSON_INT, b64urlDecode, b64urlEncode, concat,
  encodeFields, fromUtf8, identifierBytes, isInt, randomBytes, sha256, subtle, utf8,
} from "./encoding.js";
import { WORDS, WORD_SET } from "./wordlist.js";

export const LOOKUP_WORDS = 3, SECRET_WORDS = 5, CODE_WORDS = 8;
export const SCRYPT = { N: 2 ** 16, r: 8, p: 1, dkLen: 32 };
const MAX_EPOCH = 2 ** 32 - 1, MAX_EPOCH_KEYS = 64;

/** Eight random words (2,048 is a power of two: 11 bits per word, no bias). */
export function newCode() {
  const r = new Uint16Array(CODE_WORDS);
  globalThis.crypto.getRandomValues(r);
  return Array.from(r, (n) => WORDS[n & 2047]).join("-");
}

/** [look-up words, secret words], or invalid_return_code (before any I/O). */
export function splitCode(code) {
  const words = typeof code === "string" ? code.split("-") : [];
  if (words.length !== CODE_WORDS || !words.every((w) => WORD_SET.has(w))) {
    fail("invalid_return_code", "A return code is eight words from the word list, joined by '-'.");
  }
  return [words.slice(0, LOOKUP_WORDS).join("-"), words.slice(LOOKUP_WORDS).join("-")];
}

export const kdfSalt = (lookup) => encodeFields(LABELS.returnCodeKdf, utf8(lookup));
export const verifierForProof = (proof) => sha256(encodeFields(LABELS.returnCodeVerifier, proof));

async function hkdf(master, info) {
  const key = await subtle.importKey("raw", master, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info }, key, 256));
}

/** One scrypt run (64 MiB); -> { lookup, master, proof, verifier, wrapKey(cid) }. */
export async function deriveCodeKeys(code, { onProgress } = {}) {
  const [lookup, secret] = splitCode(code);
  const master = await scryptAsync(utf8(secret), kdfSalt(lookup), { ...SCRYPT, onProgress });
  const proof = await hkdf(master, encodeFields(LABELS.returnCodeProof));
  return {
    lookup, master, proof, verifier: await verifierForProof(proof),
    wrapKey: (conversationId) => hkdf(master, encodeFields(LABELS.returnCodeWrapKey, identifierBytes(conversationId, "conversation id"))),
    wipe() { master.fill(0); proof.fill(0); },
  };
}

export const codeWrapAad = (conversationId) => encodeFields(LABELS.returnCode, identifierBytes(conversationId, "conversation id"));

/** The payload JSON (field order as Python writes it; readers do not rely on it). */
export function codeWrapPayload({ signingSeed, epoch, epochKeys, police }) {
  const keys = {};
  for (const e of [...epochKeys.keys()].sort((a, b) => a - b)) keys[String(e)] = b64urlEncode(epochKeys.get(e));
  return utf8(JSON.stringify({
    signing: b64urlEncode(signingSeed), epoch, epoch_keys: keys,
    police: police ? { fingerprint: police.fingerprint, expires_at: police.expiresAt, share_history: police.shareHistory } : null,
  }));
}

async function seal(key, conversationId, payload, nonce) {
  const k = await subtle.importKey("raw", key, "AES-GCM", false, ["encrypt"]);
  const ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: codeWrapAad(conversationId) }, k, payload));
  return concat(new Uint8Array([PROTOCOL_VERSION]), nonce, ct);
}

/** Wrap { signingSeed, epoch, epochKeys: Map, police } under the code; parsed before it is returned. */
export async function wrapForCode(codeKeys, conversationId, contents, { nonce } = {}) {
  const payload = codeWrapPayload(contents);
  parseCodeWrapPayload(payload); // never upload what could not be opened again
  return seal(await codeKeys.wrapKey(conversationId), conversationId, payload, nonce ?? randomBytes(NONCE_BYTES));
}

/** Seal given payload bytes with a fixed nonce: the vectors only. */
export async function sealPayloadForVectors(codeKeys, conversationId, payload, nonce) {
  return seal(await codeKeys.wrapKey(conversationId), conversationId, payload, nonce);
}

/** Open and strictly parse a blob -> { signingSeed, epoch, epochKeys: Map, police }. */
export async function unwrapWithCode(blob, codeKeys, conversationId) {
  if (!(blob instanceof Uint8Array) || blob.length < 1) fail("bad_encoding", "not a return-code blob");
  if (blob[0] !== PROTOCOL_VERSION) fail("unsupported_version", `return-code wrap version ${blob[0]}`);
  if (blob.length < 1 + NONCE_BYTES + TAG_BYTES) fail("bad_encoding", "return-code blob too short");
  let payload;
  try {
    const k = await subtle.importKey("raw", await codeKeys.wrapKey(conversationId), "AES-GCM", false, ["decrypt"]);
    payload = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: blob.slice(1, 1 + NONCE_BYTES), additionalData: codeWrapAad(conversationId) }, k, blob.slice(1 + NONCE_BYTES)));
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    fail("tampered", "wrong code, another conversation, or the blob was changed");
  }
  return parseCodeWrapPayload(payload);
}

const bad = (message) => fail("malformed_code_wrap", message);
const EPOCH_NAME = /^[1-9][0-9]{0,9}$/;
const FINGERPRINT = /^[0-9a-f]{64}$/;
const own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

function exact(value, names, what) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) bad(`${what} is an object`);
  const keys = Object.keys(value);
  if (keys.length !== names.length || !names.every((n) => own(value, n))) bad(`${what} must have exactly the fields ${names}`);
  return value;
}
function key32(value, what) {
  let raw = new Uint8Array(0);
  try { if (typeof value === "string") raw = b64urlDecode(value); } catch { raw = new Uint8Array(0); }
  if (raw.length !== KEY_BYTES) bad(`${what} must be 32 bytes of unpadded base64url`);
  return raw;
}

export function parseCodeWrapPayload(payload) {
  let data;
  try {
    data = strictJsonParse(fromUtf8(payload));
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    bad("the payload is not UTF-8 JSON");
  }
  const obj = exact(data, ["signing", "epoch", "epoch_keys", "police"], "payload");
  if (!isInt(obj.epoch, 1, MAX_EPOCH)) bad("epoch must be a whole number from 1 to 2^32 - 1");
  const raw = obj.epoch_keys;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) bad("epoch_keys must be an object");
  const names = Object.keys(raw);
  if (names.length < 1 || names.length > MAX_EPOCH_KEYS) bad(`epoch_keys must hold 1 to ${MAX_EPOCH_KEYS} keys`);
  const epochKeys = new Map();
  for (const name of names) {
    if (!EPOCH_NAME.test(name) || Number(name) < 1 || Number(name) > obj.epoch) bad("an epoch_keys name is not an epoch from 1 to epoch");
    epochKeys.set(Number(name), key32(raw[name], "an epoch key"));
  }
  if (!epochKeys.has(obj.epoch)) bad("epoch_keys lacks the current epoch");
  const signingSeed = key32(obj.signing, "signing");
  let police = null;
  if (obj.police !== null) {
    const p = exact(obj.police, ["fingerprint", "expires_at", "share_history"], "police");
    if (typeof p.fingerprint !== "string" || !FINGERPRINT.test(p.fingerprint)) bad("police.fingerprint must be 64 lowercase hex digits");
    if (typeof p.share_history !== "boolean") bad("police.share_history must be true or false");
    if (!isInt(p.expires_at, 0, MAX_JSON_INT)) bad("police.expires_at must be a whole number");
    police = { fingerprint: p.fingerprint, expiresAt: p.expires_at, shareHistory: p.share_history };
  }
  return { signingSeed, epoch: obj.epoch, epochKeys, police };
}

/**
 * JSON.parse, but a name twice in one object is refused (it has no single meaning
 * across parsers; Python's reader refuses it too). Throws SyntaxError otherwise.
 */
export function strictJsonParse(text) {
  let i = 0;
  const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const err = () => { throw new SyntaxError(`bad JSON at ${i}`); };
  const str = () => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') { if (text[i] === "\\") i++; i++; }
    if (i >= text.length) err();
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out = {};
      const seen = new Set();
      ws();
      if (text[i] === "}") { i++; return out; }
      for (;;) {
        ws();
        if (text[i] !== '"') err();
        const k = str();
        if (seen.has(k)) bad("a JSON name appears twice");
        seen.add(k);
        ws();
        if (text[i++] !== ":") err();
        Object.defineProperty(out, k, { value: value(), enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "}") { i++; return out; }
        err();
      }
    }
    if (c === "[") {
      i++;
      const out = [];
      ws();
      if (text[i] === "]") { i++; return out; }
      for (;;) {
        out.push(value());
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "]") { i++; return out; }
        err();
      }
    }
    if (c === '"') return str();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) err();
    i += m[0].length;
    return JSON.parse(m[0]);
  };
  const out = value();
  ws();
  if (i !== text.length) err();
  return out;
}
