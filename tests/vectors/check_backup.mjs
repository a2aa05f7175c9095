// Reference check of tests/vectors/staff-backup.json, written from docs/crypto.md
// ("Staff device backup"): WebCrypto PBKDF2-HMAC-SHA256, AES-256-GCM, X25519 and
// Ed25519 only. check_vectors.mjs imports it (and puts makeBackupForPython's file into
// js-made.json, which Python opens); alone:
//   node check_backup.mjs <path to tests/vectors>
// Returns the number of checks; throws on the first disagreement.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { subtle, hex, toHex, ascii, cat, u32, fields, b64d, eq } from "./encoding.mjs";

class BackupError extends Error { constructor(code, msg) { super(msg ?? code); this.code = code; } }
const bad = (what) => { throw new BackupError("bad_backup", what); };
const b64e = (u) => Buffer.from(u).toString("base64url");
const FIELDS = ["v", "kind", "username", "pinned_fingerprint", "encryption_key", "signing_key", "kdf", "nonce", "ciphertext"];

// JSON.parse keeps the last of two equal names; this scan of valid JSON finds one.
function noDuplicates(text) {
  let depth = 0; const seen = [new Set()]; let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1; while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const s = JSON.parse(text.slice(i, j + 1));
      let k = j + 1; while (/\s/.test(text[k])) k++;
      if (text[k] === ":" && seen[depth]) { if (seen[depth].has(s)) bad("a name twice"); seen[depth].add(s); }
      i = j + 1; continue;
    }
    if (c === "{") { depth++; seen[depth] = new Set(); } else if (c === "[") { depth++; seen[depth] = null; } else if (c === "}" || c === "]") depth--;
    i++;
  }
}
const exact = (v, names, what) => {
  if (v === null || typeof v !== "object" || Array.isArray(v)) bad(what);
  if (Object.keys(v).sort().join() !== [...names].sort().join()) bad(what);
  return v;
};
function b64(v, size, what) {
  if (typeof v !== "string" || !/^[A-Za-z0-9_-]*$/.test(v)) bad(what);
  const raw = b64d(v);
  if (raw.length !== size || b64e(raw) !== v) bad(what);
  return raw;
}

export function parse(text) {
  let data;
  try { data = JSON.parse(text); } catch { bad("not JSON"); }
  noDuplicates(text);
  if (data === null || typeof data !== "object" || Array.isArray(data)) bad("not an object");
  if (Number.isInteger(data.v) && data.v !== 2) throw new BackupError("unsupported_version");
  exact(data, FIELDS, "fields");
  if (data.v !== 2 || data.kind !== "staff-device-backup") bad("kind");
  if (typeof data.username !== "string" || !/^[A-Za-z0-9._:-]{1,128}$/.test(data.username)) bad("username");
  if (typeof data.pinned_fingerprint !== "string" || !/^[0-9a-f]{64}$/.test(data.pinned_fingerprint)) bad("pin");
  const kdf = exact(data.kdf, ["name", "iterations", "salt"], "kdf");
  if (kdf.name !== "PBKDF2-HMAC-SHA256") bad("kdf name");
  if (!Number.isSafeInteger(kdf.iterations) || kdf.iterations < 100000 || kdf.iterations > 10000000) bad("iterations");
  return {
    username: data.username, pin: data.pinned_fingerprint, iterations: kdf.iterations, salt: b64(kdf.salt, 16, "salt"),
    encPub: b64(data.encryption_key, 32, "encryption_key"), sigPub: b64(data.signing_key, 32, "signing_key"),
    nonce: b64(data.nonce, 12, "nonce"), ct: b64(data.ciphertext, 80, "ciphertext"),
  };
}

export const aad = (h) => fields("helpline/v2/staff-backup", ascii(h.username), hex(h.pin), ascii("PBKDF2-HMAC-SHA256"),
  u32(h.iterations), h.salt, h.encPub, h.sigPub);

export async function deriveKey(passphrase, salt, iterations) {
  const base = await subtle.importKey("raw", new TextEncoder().encode(passphrase.normalize("NFC")), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, 256));
}

const X_PKCS8 = hex("302e020100300506032b656e04220420");
const E_PKCS8 = hex("302e020100300506032b657004220420");
async function publicOf(alg, prefix, raw) {
  const k = await subtle.importKey("pkcs8", cat(prefix, raw), { name: alg }, true, alg === "X25519" ? ["deriveBits"] : ["sign"]);
  return b64d((await subtle.exportKey("jwk", k)).x);
}

export async function open(text, passphrase, pin) {
  const h = parse(text);
  if (h.pin !== pin) throw new BackupError("wrong_organisation");
  const key = await subtle.importKey("raw", await deriveKey(passphrase, h.salt, h.iterations), "AES-GCM", false, ["decrypt"]);
  let pt;
  try { pt = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: h.nonce, additionalData: aad(h) }, key, h.ct)); } catch { throw new BackupError("backup_unlock_failed"); }
  const x = pt.slice(0, 32), s = pt.slice(32);
  if (toHex(await publicOf("X25519", X_PKCS8, x)) !== toHex(h.encPub) || toHex(await publicOf("Ed25519", E_PKCS8, s)) !== toHex(h.sigPub)) bad("keys");
  return { ...h, x, s };
}

export async function make({ username, pin, x, s, passphrase, iterations, salt, nonce }) {
  const h = { username, pin, iterations, salt, nonce, encPub: await publicOf("X25519", X_PKCS8, x), sigPub: await publicOf("Ed25519", E_PKCS8, s) };
  const key = await subtle.importKey("raw", await deriveKey(passphrase, salt, iterations), "AES-GCM", false, ["encrypt"]);
  const ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad(h) }, key, cat(x, s)));
  return JSON.stringify({ v: 2, kind: "staff-device-backup", username, pinned_fingerprint: pin, encryption_key: b64e(h.encPub),
    signing_key: b64e(h.sigPub), kdf: { name: "PBKDF2-HMAC-SHA256", iterations, salt: b64e(salt) }, nonce: b64e(nonce), ciphertext: b64e(ct) }, null, 2) + "\n";
}

export async function checkBackup(dir) {
  const v = JSON.parse(readFileSync(`${dir}/staff-backup.json`, "utf8"));
  let checks = 0;
  for (const e of v.valid) {
    const h = parse(e.text);
    eq(toHex(aad(h)), e.aad, `${e.name} aad`);
    eq(toHex(new TextEncoder().encode(e.passphrase.normalize("NFC"))), e.kdf_password, `${e.name} kdf password`);
    eq(toHex(await deriveKey(e.passphrase, hex(e.salt), e.iterations)), e.derived_key, `${e.name} derived key`);
    const o = await open(e.text, e.passphrase, e.pinned_fingerprint);
    eq(toHex(o.x), e.encryption_private_key, e.name);
    eq(toHex(o.s), e.signing_private_key, e.name);
    eq(toHex(o.encPub), e.encryption_public_key, e.name);
    eq(o.username, e.username, e.name);
    const again = await make({ username: e.username, pin: e.pinned_fingerprint, x: hex(e.encryption_private_key), s: hex(e.signing_private_key),
      passphrase: e.passphrase, iterations: e.iterations, salt: hex(e.salt), nonce: hex(e.nonce) });
    eq(again, e.text, `${e.name} made again`);
    checks += 8;
  }
  for (const e of v.invalid) {
    let code = "accepted";
    try { await open(e.text, e.passphrase, e.pinned_fingerprint); } catch (err) { code = err.code ?? String(err); }
    eq(code, e.error, e.name);
    checks++;
  }
  for (const p of v.weak_passphrases) { eq([...p.passphrase.normalize("NFC")].length < v.min_passphrase_chars, true, p.name); checks++; }
  for (const p of v.strong_passphrases) { eq([...p.normalize("NFC")].length >= v.min_passphrase_chars, true, p); checks++; }
  return checks;
}

/** A backup made here (fresh keys, salt and nonce, the vector's low count) for Python to open. */
export async function makeBackupForPython() {
  const r = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n));
  const pair = (alg, use) => subtle.generateKey({ name: alg }, true, use);
  const seedOf = async (k) => { const p = new Uint8Array(await subtle.exportKey("pkcs8", k.privateKey)); return p.slice(p.length - 32); };
  const x = await seedOf(await pair("X25519", ["deriveBits"]));
  const s = await seedOf(await pair("Ed25519", ["sign", "verify"]));
  const passphrase = "made in JavaScript, 12+ chars";
  const pin = toHex(r(32));
  const text = await make({ username: "js.made", pin, x, s, passphrase, iterations: 100000, salt: r(16), nonce: r(12) });
  return { text, passphrase, pinned_fingerprint: pin, encryption_private_key: toHex(x), signing_private_key: toHex(s) };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`staff-backup checks passed: ${await checkBackup(process.argv[2])}`);
}
