// Byte encodings both languages must produce identically (docs/crypto.md, "Encodings";
// helpline/crypto/encoding.py): strict unpadded base64url, lowercase hex,
// length-prefixed fields, big-endian integers, ASCII identifiers, fingerprints.
// Browser-safe: only globalThis.crypto, TextEncoder/TextDecoder.
import { fail } from "./errors.js";

export const subtle = globalThis.crypto.subtle;
export const MAX_JSON_INT = Number.MAX_SAFE_INTEGER; // 2^53 - 1
export const MAX_IDENTIFIER_BYTES = 128;

export const LABELS = Object.freeze({
  fingerprintX25519: "helpline/v2/fingerprint/x25519",
  fingerprintEd25519: "helpline/v2/fingerprint/ed25519",
  teamKey: "helpline/v2/statement/team-key",
  policeKey: "helpline/v2/statement/police-key",
  staffKey: "helpline/v2/statement/staff-key",
  revocations: "helpline/v2/statement/revocations",
  policeConsent: "helpline/v2/police-consent",
  returnCode: "helpline/v2/return-code",
  returnCodeKdf: "helpline/v2/return-code/kdf",
  returnCodeProof: "helpline/v2/return-code/proof",
  returnCodeVerifier: "helpline/v2/return-code/verifier",
  returnCodeWrapKey: "helpline/v2/return-code/wrap-key",
  wrapConversationKey: "helpline/v2/wrap/conversation-key",
  wrapTeamKeyGrant: "helpline/v2/wrap/team-key-grant",
  msgAad: "helpline/v2/msg-aad",
  msgSig: "helpline/v2/msg-sig",
  epochStatement: "helpline/v2/statement/epoch",
  epochCommitment: "helpline/v2/epoch-commitment",
});

export const PROTOCOL_VERSION = 2;
export const SUITE_ID = 1;
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const SIGNATURE_BYTES = 64;

const encoder = new TextEncoder();
export const utf8 = (s) => encoder.encode(s);
export const fromUtf8 = (b) => new TextDecoder("utf-8", { fatal: true }).decode(b);

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

export function isInt(v, low = 0, high = MAX_JSON_INT) {
  return typeof v === "number" && Number.isInteger(v) && v >= low && v <= high;
}

export function u32(n) {
  if (!isInt(n, 0, 2 ** 32 - 1)) fail("bad_encoding", `${n} does not fit in 4 unsigned bytes`);
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

export function u64(n) {
  if (!isInt(n)) fail("bad_encoding", `${n} is not an integer from 0 to 2^53 - 1`);
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

export function readU32(b, offset) {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(offset);
}

const IDENTIFIER = /^[A-Za-z0-9._:-]+$/;
export function identifierBytes(value, what = "identifier") {
  if (typeof value !== "string" || !IDENTIFIER.test(value)) {
    fail("bad_encoding", `${what} must be ASCII letters, digits or . _ : -`);
  }
  if (value.length > MAX_IDENTIFIER_BYTES) fail("bad_encoding", `${what} is too long`);
  return utf8(value);
}

export function encodeFields(label, ...fields) {
  const parts = [];
  for (const f of [utf8(label), ...fields]) {
    if (!(f instanceof Uint8Array)) fail("bad_encoding", "a field is bytes");
    parts.push(u32(f.length), f);
  }
  return concat(...parts);
}

// -- hex ---------------------------------------------------------------------------
const HEX = /^(?:[0-9a-f]{2})*$/;
export function hexDecode(text, length) {
  if (typeof text !== "string" || !HEX.test(text)) fail("bad_encoding", "not lowercase hex");
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  if (length !== undefined && out.length !== length) fail("bad_encoding", `expected ${length} bytes`);
  return out;
}
export function hexEncode(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

// -- base64url, unpadded, strict ----------------------------------------------------
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

export function b64urlEncode(bytes) {
  let out = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += B64[n >> 18] + B64[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63];
  }
  return out;
}

/** Decode unpadded base64url, refusing every non-canonical spelling (bad_encoding). */
export function b64urlDecode(text) {
  if (typeof text !== "string") fail("bad_encoding", "not base64url text");
  if (text.length % 4 === 1) fail("bad_encoding", "base64url text has an impossible length");
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0, acc = 0, o = 0;
  for (const c of text) {
    const v = B64_INDEX.get(c);
    if (v === undefined) fail("bad_encoding", "not unpadded base64url text");
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  if (acc !== 0) fail("bad_encoding", "base64url text is not canonical");
  return out;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest("SHA-256", bytes));
}

// -- fingerprints (docs/crypto.md, "Fingerprints") -----------------------------------
/** The 32-byte digest of a raw public key; kind is "x25519" or "ed25519". */
export async function fingerprintDigest(kind, raw) {
  if (!(raw instanceof Uint8Array) || raw.length !== KEY_BYTES) fail("invalid_key", "a public key is 32 bytes");
  const label = kind === "x25519" ? LABELS.fingerprintX25519 : LABELS.fingerprintEd25519;
  return sha256(encodeFields(label, raw));
}
export async function fingerprint(kind, raw) {
  return hexEncode(await fingerprintDigest(kind, raw));
}
export function parseFingerprint(text) {
  if (typeof text !== "string") fail("bad_encoding", "a fingerprint is 64 lowercase hex digits");
  return hexDecode(text, 32);
}

export function exactFields(obj, names) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return false;
  const keys = Object.keys(obj);
  return keys.length === names.length && names.every((n) => Object.prototype.hasOwnProperty.call(obj, n));
}
