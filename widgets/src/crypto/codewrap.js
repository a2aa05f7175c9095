// The return-code wrap's payload (docs/crypto.md, "Return codes"): the keys a device needs
// to read a conversation again, as strict JSON. Its own module, without scrypt, so the
// chat engine can also hand the same contents to a reloaded tab (client.js tabState)
// without loading the return-code chunk.
import { KEY_BYTES, MAX_JSON_INT, b64urlDecode, b64urlEncode, fromUtf8, isInt, utf8 } from "./encoding.js";
import { CryptoError, fail } from "./errors.js";

const MAX_EPOCH = 2 ** 32 - 1, MAX_EPOCH_KEYS = 64;

/** The payload JSON (field order as Python writes it; readers do not rely on it). */
export function codeWrapPayload({ signingSeed, epoch, epochKeys, police }) {
  const keys = {};
  for (const e of [...epochKeys.keys()].sort((a, b) => a - b)) keys[String(e)] = b64urlEncode(epochKeys.get(e));
  return utf8(JSON.stringify({
    signing: b64urlEncode(signingSeed), epoch, epoch_keys: keys,
    police: police ? { fingerprint: police.fingerprint, expires_at: police.expiresAt, share_history: police.shareHistory } : null,
  }));
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
