// Reference check of tests/vectors/return-code.json, written from docs/crypto.md
// ("Return codes"): @noble/hashes scrypt (the package the widget uses), WebCrypto
// HKDF-SHA256 and AES-256-GCM. check_vectors.mjs imports it; alone:
//   node check_returncode.mjs <path to tests/vectors>
// Returns the number of checks; throws on the first disagreement.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { scrypt } from "@noble/hashes/scrypt.js";
import { subtle, hex, toHex, ascii, cat, u32, fields, eq } from "./encoding.mjs";


class CodeError extends Error { constructor(code, msg) { super(msg ?? code); this.code = code; } }

// BIP-39 list check is the widget's (@scure/bip39); here: eight lowercase words.
export function splitCode(code) {
  const words = code.split("-");
  if (words.length !== 8 || !words.every((w) => /^[a-z]{3,8}$/.test(w))) throw new CodeError("invalid_return_code");
  return { lookup: words.slice(0, 3).join("-"), secret: words.slice(3).join("-") };
}

const hkdf = async (master, info) => {
  const k = await subtle.importKey("raw", master, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info }, k, 256));
};

export async function deriveCodeKeys(code) {
  const { lookup, secret } = splitCode(code);
  const salt = fields("helpline/v2/return-code/kdf", ascii(lookup));
  const master = scrypt(ascii(secret), salt, { N: 2 ** 16, r: 8, p: 1, dkLen: 32, maxmem: 2 ** 27 });
  const proof = await hkdf(master, fields("helpline/v2/return-code/proof"));
  const verifier = new Uint8Array(await subtle.digest("SHA-256", fields("helpline/v2/return-code/verifier", proof)));
  const wrapKey = (cid) => hkdf(master, fields("helpline/v2/return-code/wrap-key", ascii(cid)));
  return { lookup, salt, master, proof, verifier, wrapKey };
}

const B64 = /^[A-Za-z0-9_-]*$/;
function key32(v, what) {
  if (typeof v !== "string" || !B64.test(v) || v.length !== 43) throw new CodeError("malformed_code_wrap", what);
  const raw = new Uint8Array(Buffer.from(v, "base64url"));
  if (raw.length !== 32 || Buffer.from(raw).toString("base64url") !== v) throw new CodeError("malformed_code_wrap", what);
  return raw;
}
const exact = (v, names, what) => {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new CodeError("malformed_code_wrap", what);
  const got = Object.keys(v).sort();
  if (got.join() !== [...names].sort().join()) throw new CodeError("malformed_code_wrap", what);
  return v;
};
const int = (v, lo, hi, what) => { if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new CodeError("malformed_code_wrap", what); return v; };

// JSON.parse silently keeps the last of two equal names; this scan of the (already
// valid) JSON text finds a name repeated within one object.
function noDuplicates(text) {
  let depth = 0; const seen = [new Set()]; let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1; while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const s = JSON.parse(text.slice(i, j + 1));
      let k = j + 1; while (/\s/.test(text[k])) k++;
      if (text[k] === ":" && seen[depth]) { if (seen[depth].has(s)) throw new CodeError("malformed_code_wrap", "a name twice"); seen[depth].add(s); }
      i = j + 1; continue;
    }
    if (c === "{") { depth++; seen[depth] = new Set(); } else if (c === "[") { depth++; seen[depth] = null; } else if (c === "}" || c === "]") depth--;
    i++;
  }
}

export function parsePayload(bytes) {
  let text, data;
  try { text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); data = JSON.parse(text); } catch { throw new CodeError("malformed_code_wrap", "not UTF-8 JSON"); }
  noDuplicates(text);
  const o = exact(data, ["signing", "epoch", "epoch_keys", "police"], "payload");
  const epoch = int(o.epoch, 1, 2 ** 32 - 1, "epoch");
  const ek = o.epoch_keys;
  if (ek === null || typeof ek !== "object" || Array.isArray(ek)) throw new CodeError("malformed_code_wrap", "epoch_keys");
  const names = Object.keys(ek);
  if (names.length < 1 || names.length > 64) throw new CodeError("malformed_code_wrap", "epoch_keys size");
  const epochKeys = {};
  for (const n of names) {
    if (!/^[1-9][0-9]{0,9}$/.test(n) || Number(n) > epoch) throw new CodeError("malformed_code_wrap", "epoch name");
    epochKeys[n] = key32(o.epoch_keys[n], "epoch key");
  }
  if (!(String(epoch) in epochKeys)) throw new CodeError("malformed_code_wrap", "no current epoch key");
  const signing = key32(o.signing, "signing");
  let police = null;
  if (o.police !== null) {
    const p = exact(o.police, ["fingerprint", "expires_at", "share_history"], "police");
    if (typeof p.fingerprint !== "string" || !/^[0-9a-f]{64}$/.test(p.fingerprint)) throw new CodeError("malformed_code_wrap", "fingerprint");
    if (typeof p.share_history !== "boolean") throw new CodeError("malformed_code_wrap", "share_history");
    police = { fingerprint: p.fingerprint, expires_at: int(p.expires_at, 0, 2 ** 53 - 1, "expires_at"), share_history: p.share_history };
  }
  return { signing, epoch, epochKeys, police };
}

export async function unwrap(blob, keys, cid) {
  if (blob.length < 1) throw new CodeError("bad_encoding");
  if (blob[0] !== 2) throw new CodeError("unsupported_version");
  if (blob.length < 29) throw new CodeError("bad_encoding");
  const k = await subtle.importKey("raw", await keys.wrapKey(cid), "AES-GCM", false, ["decrypt"]);
  let pt;
  try {
    pt = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: blob.slice(1, 13), additionalData: fields("helpline/v2/return-code", ascii(cid)) }, k, blob.slice(13)));
  } catch { throw new CodeError("tampered"); }
  return parsePayload(pt);
}

export async function checkReturnCode(dir) {
  const v = JSON.parse(readFileSync(`${dir}/return-code.json`, "utf8"));
  eq(v.kdf.memory_bytes, 128 * v.kdf.r * v.kdf.n, "scrypt memory");
  eq(v.kdf.memory_bytes >= 64 * 2 ** 20, true, "at least 64 MiB");
  const cache = new Map();
  const keysFor = async (code) => { if (!cache.has(code)) cache.set(code, await deriveCodeKeys(code)); return cache.get(code); };
  let checks = 0;
  for (const e of v.valid) {
    const keys = await keysFor(e.code);
    eq(keys.lookup, e.lookup, e.name);
    eq(toHex(ascii(splitCode(e.code).secret)), e.kdf_password, e.name);
    eq(toHex(keys.salt), e.kdf_salt, e.name);
    eq(toHex(keys.master), e.master, e.name + " (scrypt)");
    eq(toHex(fields("helpline/v2/return-code/proof")), e.proof_info, e.name);
    eq(toHex(keys.proof), e.proof, e.name + " (proof)");
    eq(toHex(fields("helpline/v2/return-code/verifier", keys.proof)), e.verifier_input, e.name);
    eq(toHex(keys.verifier), e.verifier, e.name + " (verifier)");
    eq(toHex(fields("helpline/v2/return-code/wrap-key", ascii(e.conversation_id))), e.wrap_key_info, e.name);
    eq(toHex(await keys.wrapKey(e.conversation_id)), e.wrap_key, e.name + " (wrap key)");
    const aad = fields("helpline/v2/return-code", ascii(e.conversation_id));
    eq(toHex(aad), e.aad, e.name);
    const got = await unwrap(hex(e.blob), keys, e.conversation_id);
    eq(toHex(got.signing), e.contents.signing_private_key, e.name);
    eq(got.epoch, e.contents.epoch, e.name);
    eq(JSON.stringify(Object.fromEntries(Object.entries(got.epochKeys).map(([n, k]) => [n, toHex(k)]))), JSON.stringify(e.contents.epoch_keys), e.name);
    eq(JSON.stringify(got.police), JSON.stringify(e.contents.police), e.name);
    // Seal the same payload with the same nonce: byte-identical blob.
    const k = await subtle.importKey("raw", await keys.wrapKey(e.conversation_id), "AES-GCM", false, ["encrypt"]);
    const ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: hex(e.nonce), additionalData: aad }, k, ascii(e.payload_text)));
    eq(toHex(cat(new Uint8Array([2]), hex(e.nonce), ct)), e.blob, e.name + " (sealed in JS)");
    checks++;
  }
  for (const e of v.invalid) {
    let code = "none";
    try { await unwrap(hex(e.blob), await keysFor(e.code), e.conversation_id); } catch (err) { code = err.code ?? String(err); }
    eq(code, e.error, e.name);
    checks++;
  }
  for (const e of v.invalid_codes) {
    let code = "none";
    try { splitCode(e.code); } catch (err) { code = err.code; }
    // The JS check has no word list: a misspelt word passes the shape and is the widget's to refuse.
    if (code === "none" && /^[a-z-]+$/.test(e.code) && e.code.split("-").length === 8) continue;
    eq(code, e.error, e.name);
    checks++;
  }
  return checks;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`JS return-code checks passed: ${await checkReturnCode(process.argv[2])}`);
}
