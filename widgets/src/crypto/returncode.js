// Return codes, format 2 (docs/crypto.md, "Return codes"; helpline/crypto/returncode.py):
// eight BIP-39 words, scrypt (N = 2^16, r = 8, p = 1) salted with the look-up words,
// then HKDF for the proof and the wrap key; the keys wrapped under AES-256-GCM.
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { fail, CryptoError } from "./errors.js";
import {
  LABELS, PROTOCOL_VERSION, NONCE_BYTES, TAG_BYTES, concat, encodeFields, identifierBytes, randomBytes, sha256,
  subtle, utf8,
} from "./encoding.js";
import { WORDS, WORD_SET } from "./wordlist.js";
import { codeWrapPayload, parseCodeWrapPayload } from "./codewrap.js";

export { codeWrapPayload, parseCodeWrapPayload, strictJsonParse } from "./codewrap.js";

export const LOOKUP_WORDS = 3, SECRET_WORDS = 5, CODE_WORDS = 8;
export const SCRYPT = { N: 2 ** 16, r: 8, p: 1, dkLen: 32 };

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
  return codeKeysFromMaster(lookup, master);
}

/** The same keys from scrypt's output, kept by a reloaded tab (client.js tabState). */
export async function codeKeysFromMaster(lookup, master) {
  const proof = await hkdf(master, encodeFields(LABELS.returnCodeProof));
  return {
    lookup, master, proof, verifier: await verifierForProof(proof),
    wrapKey: (conversationId) => hkdf(master, encodeFields(LABELS.returnCodeWrapKey, identifierBytes(conversationId, "conversation id"))),
    wipe() { master.fill(0); proof.fill(0); },
  };
}

export const codeWrapAad = (conversationId) => encodeFields(LABELS.returnCode, identifierBytes(conversationId, "conversation id"));

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

