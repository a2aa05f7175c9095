// Staff device backup (docs/crypto.md, "Staff device backup"; helpline/crypto/backup.py):
// the two private keys of a staff device in a passphrase-protected JSON file, offered
// once when the console makes the keys, so the counsellor can move to another device.
// WebCrypto only (PBKDF2-HMAC-SHA256, AES-256-GCM); the vectors in
// tests/vectors/staff-backup.json hold both languages to the same bytes.
//
//   const text = await makeBackup(material, passphrase);   // material: see makeBackup
//   const head = parseBackup(text);                        // fingerprints, before the passphrase
//   const keys = await openBackup(text, passphrase, pinnedFingerprint);
import {
  CryptoError, KEY_BYTES, NONCE_BYTES, PROTOCOL_VERSION, TAG_BYTES, b64urlDecode, b64urlEncode,
  concat, encodeFields, equalBytes, fail, fingerprint, identifierBytes, isInt, parseFingerprint,
  randomBytes, subtle, u32, utf8, x25519PublicOf,
} from "../../../widgets/src/crypto/index.js";
import { strictJsonParse } from "../../../widgets/src/crypto/codewrap.js";

export const BACKUP_LABEL = "helpline/v2/staff-backup";
export const BACKUP_KIND = "staff-device-backup";
export const KDF_NAME = "PBKDF2-HMAC-SHA256";
/** Iterations of a new file (OWASP's 2023 figure; well under a second in a browser). */
export const BACKUP_ITERATIONS = 600_000;
// A file names its own count (bound by the aad), within these bounds: below, a copied
// file is too cheap to guess at; above, opening an untrusted file would hang the console.
export const MIN_ITERATIONS = 100_000;
export const MAX_ITERATIONS = 10_000_000;
export const SALT_BYTES = 16;
export const MIN_PASSPHRASE_CHARS = 12;
const CIPHERTEXT_BYTES = 2 * KEY_BYTES + TAG_BYTES;
const FINGERPRINT = /^[0-9a-f]{64}$/;
const PKCS8_ED25519 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

const bad = (message) => fail("bad_backup", message);

/** Characters as the rule counts them: code points after NFC (as Python's len). */
const chars = (s) => [...s.normalize("NFC")].length;

/** Refuse a passphrase too short for a file that may be copied and guessed offline (weak_passphrase). */
export function checkPassphrase(passphrase) {
  if (typeof passphrase !== "string" || chars(passphrase) < MIN_PASSPHRASE_CHARS) {
    fail("weak_passphrase", `a backup passphrase has at least ${MIN_PASSPHRASE_CHARS} characters`);
  }
}

/** PBKDF2-HMAC-SHA256 over UTF-8(NFC(passphrase)): 32 bytes of AES-256-GCM key (extractable only for the vectors). */
export async function deriveBackupKey(passphrase, salt, iterations, { extractable = false } = {}) {
  if (typeof passphrase !== "string") fail("backup_unlock_failed", "a passphrase is text");
  const base = await subtle.importKey("raw", utf8(passphrase.normalize("NFC")), "PBKDF2", false, ["deriveKey"]);
  return subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base,
    { name: "AES-GCM", length: 256 }, extractable, ["encrypt", "decrypt"]);
}

/** The AES-GCM associated data: every header field of the file. */
export function backupAad({ username, pinnedFingerprint, iterations, salt, encryptionPublic, signingPublic }) {
  return encodeFields(BACKUP_LABEL, identifierBytes(username, "username"), parseFingerprint(pinnedFingerprint),
    utf8(KDF_NAME), u32(iterations), salt, encryptionPublic, signingPublic);
}

function headerText(h) {
  return JSON.stringify({
    v: PROTOCOL_VERSION, kind: BACKUP_KIND, username: h.username, pinned_fingerprint: h.pinnedFingerprint,
    encryption_key: b64urlEncode(h.encryptionPublic), signing_key: b64urlEncode(h.signingPublic),
    kdf: { name: KDF_NAME, iterations: h.iterations, salt: b64urlEncode(h.salt) },
    nonce: b64urlEncode(h.nonce), ciphertext: b64urlEncode(h.ciphertext),
  }, null, 2) + "\n";
}

/** The Ed25519 public key of a seed (import extractable once, read the JWK's x). */
async function ed25519PublicOf(seed) {
  const key = await subtle.importKey("pkcs8", concat(PKCS8_ED25519, seed), { name: "Ed25519" }, true, ["sign"]);
  return b64urlDecode((await subtle.exportKey("jwk", key)).x);
}

function checkKey(raw, what) {
  if (!(raw instanceof Uint8Array) || raw.length !== KEY_BYTES) fail("invalid_key", `${what} is 32 bytes`);
}

/**
 * The backup file's text (JSON). `material` is what StaffKeyring.generateForDevice
 * hands out once: {username, pinnedFingerprint, encryptionPrivate (32 bytes, X25519),
 * signingSeed (32 bytes, Ed25519)}. A weak passphrase is refused (weak_passphrase) and
 * the material left as it was, so the console can ask again; the caller wipes the
 * material (material.wipe()) once the file is saved. `options.iterations` defaults to
 * BACKUP_ITERATIONS; `options.fixedForVectorsOnly` ({salt, nonce}) is for the vector
 * checks alone (a nonce reused under one key breaks AES-GCM).
 */
export async function makeBackup(material, passphrase, { iterations = BACKUP_ITERATIONS, fixedForVectorsOnly = null } = {}) {
  checkPassphrase(passphrase);
  const { username, pinnedFingerprint, encryptionPrivate, signingSeed } = material ?? {};
  checkKey(encryptionPrivate, "an X25519 private key");
  checkKey(signingSeed, "an Ed25519 seed");
  if (!isInt(iterations, MIN_ITERATIONS, MAX_ITERATIONS)) bad(`the iteration count is from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
  if (typeof pinnedFingerprint !== "string" || !FINGERPRINT.test(pinnedFingerprint)) bad("the pinned fingerprint is 64 lowercase hex digits");
  const header = {
    username, pinnedFingerprint, iterations,
    salt: fixedForVectorsOnly?.salt ?? randomBytes(SALT_BYTES),
    nonce: fixedForVectorsOnly?.nonce ?? randomBytes(NONCE_BYTES),
    encryptionPublic: await x25519PublicOf(encryptionPrivate),
    signingPublic: await ed25519PublicOf(signingSeed),
  };
  const key = await deriveBackupKey(passphrase, header.salt, iterations);
  const plaintext = concat(encryptionPrivate, signingSeed);
  try {
    header.ciphertext = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: header.nonce, additionalData: backupAad(header) }, key, plaintext));
  } finally {
    plaintext.fill(0);
  }
  const text = headerText(header);
  // Never hand out a file that cannot be opened again: parse it and open it with the
  // key already derived (a second PBKDF2 run would double the wait).
  const again = parseBackup(text);
  const opened = await decrypt(again, key);
  const same = equalBytes(opened.encryptionPrivate, encryptionPrivate) && equalBytes(opened.signingSeed, signingSeed);
  opened.wipe();
  if (!same) bad("the backup does not open to the keys it was made of");
  return text;
}

/**
 * A backup's header, checked strictly, nothing decrypted: {username, pinnedFingerprint,
 * encryptionPublic, signingPublic (raw 32 bytes each), iterations, salt, nonce,
 * ciphertext}. Refuses with bad_backup, or unsupported_version for another `v`.
 */
export function parseBackup(text) {
  let data;
  try {
    data = strictJsonParse(typeof text === "string" ? text : String(text));
  } catch {
    bad("not JSON text, or a name twice");
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) bad("a backup is a JSON object");
  if (Number.isInteger(data.v) && data.v !== PROTOCOL_VERSION) fail("unsupported_version", `backup version ${data.v}`);
  exact(data, ["v", "kind", "username", "pinned_fingerprint", "encryption_key", "signing_key", "kdf", "nonce", "ciphertext"], "a backup");
  if (data.v !== PROTOCOL_VERSION || data.kind !== BACKUP_KIND) bad("not a staff device backup");
  try {
    identifierBytes(data.username, "username");
  } catch {
    bad("the username is not an identifier");
  }
  if (typeof data.pinned_fingerprint !== "string" || !FINGERPRINT.test(data.pinned_fingerprint)) bad("the pinned fingerprint is 64 lowercase hex digits");
  const kdf = exact(data.kdf, ["name", "iterations", "salt"], "kdf");
  if (kdf.name !== KDF_NAME) bad(`the KDF is ${KDF_NAME}`);
  if (!isInt(kdf.iterations, MIN_ITERATIONS, MAX_ITERATIONS)) bad(`the iteration count is from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
  return {
    username: data.username, pinnedFingerprint: data.pinned_fingerprint, iterations: kdf.iterations,
    encryptionPublic: bytes(data.encryption_key, KEY_BYTES, "encryption_key"),
    signingPublic: bytes(data.signing_key, KEY_BYTES, "signing_key"),
    salt: bytes(kdf.salt, SALT_BYTES, "salt"), nonce: bytes(data.nonce, NONCE_BYTES, "nonce"),
    ciphertext: bytes(data.ciphertext, CIPHERTEXT_BYTES, "ciphertext"),
  };
}

/** Both fingerprints of a parsed header, to compare with what the admin approved. */
export async function backupFingerprints(header) {
  return { encryption: await fingerprint("x25519", header.encryptionPublic), signing: await fingerprint("ed25519", header.signingPublic) };
}

/**
 * Open a backup made for the console pinned to `pinnedFingerprint`. Checks, in this
 * order: shape (bad_backup, unsupported_version), organisation (wrong_organisation,
 * before the slow KDF), passphrase and integrity (backup_unlock_failed), that the keys
 * belong to the header's public keys (bad_backup). Returns {username,
 * pinnedFingerprint, encryptionPrivate, signingSeed, encryptionPublic, signingPublic}
 * (raw bytes) and wipe(), which the caller runs once the keys are imported.
 */
export async function openBackup(text, passphrase, pinnedFingerprint) {
  const header = parseBackup(text);
  if (header.pinnedFingerprint !== pinnedFingerprint) fail("wrong_organisation", "these keys were made for another organisation's console");
  return decrypt(header, await deriveBackupKey(passphrase, header.salt, header.iterations));
}

async function decrypt(header, key) {
  let plain;
  try {
    plain = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: header.nonce, additionalData: backupAad(header) }, key, header.ciphertext));
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    fail("backup_unlock_failed", "the passphrase is wrong, or the backup file was changed");
  }
  const out = {
    username: header.username, pinnedFingerprint: header.pinnedFingerprint,
    encryptionPrivate: plain.slice(0, KEY_BYTES), signingSeed: plain.slice(KEY_BYTES),
    encryptionPublic: header.encryptionPublic, signingPublic: header.signingPublic,
    wipe() { this.encryptionPrivate?.fill(0); this.signingSeed?.fill(0); this.encryptionPrivate = this.signingSeed = null; },
  };
  plain.fill(0);
  // Only a faulty maker gets here (the tag covers the public keys); the admin approved
  // the header's fingerprints, so keys that are not theirs are refused.
  if (!equalBytes(await x25519PublicOf(out.encryptionPrivate), header.encryptionPublic)
      || !equalBytes(await ed25519PublicOf(out.signingSeed), header.signingPublic)) {
    out.wipe();
    bad("the private keys do not belong to the file's public keys");
  }
  return out;
}

function exact(v, names, what) {
  if (v === null || typeof v !== "object" || Array.isArray(v)) bad(`${what} is a JSON object`);
  const got = Object.keys(v);
  if (got.length !== names.length || !names.every((n) => Object.prototype.hasOwnProperty.call(v, n))) bad(`${what} must have exactly the fields ${names.join(", ")}`);
  return v;
}

function bytes(v, size, what) {
  let raw = null;
  try { raw = typeof v === "string" ? b64urlDecode(v) : null; } catch { raw = null; }
  if (!raw || raw.length !== size) bad(`${what} must be ${size} bytes of unpadded base64url`);
  return raw;
}
