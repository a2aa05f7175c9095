// Organisation-signed key statements (docs/crypto.md, "Key statements";
// helpline/crypto/statements.py) and staff key statements (staff_statements.py):
// strict parsing of the transport form, then verification against the pinned
// organisation fingerprint, in the documented order.
import { fail } from "./errors.js";
import {
  LABELS, PROTOCOL_VERSION, KEY_BYTES, SIGNATURE_BYTES, b64urlDecode, encodeFields, equalBytes,
  exactFields, fingerprintDigest, identifierBytes, isInt, parseFingerprint, u64,
} from "./encoding.js";
import { EncryptionPublicKey, SigningPublicKey, verifySignature } from "./keys.js";

const KEY_FIELDS = ["v", "kind", "subject", "public_key", "not_before", "not_after", "signer", "signature"];
const KINDS = { "team-key": LABELS.teamKey, "police-key": LABELS.policeKey };

export function b64Field(data, name, length) {
  const value = data[name];
  if (typeof value !== "string") fail("bad_encoding", `${name} must be base64url text`);
  const raw = b64urlDecode(value);
  if (length !== undefined && raw.length !== length) fail(length === KEY_BYTES ? "invalid_key" : "bad_encoding", `${name} is ${length} bytes`);
  return raw;
}

function checkVersion(data) {
  if (!isInt(data.v, -(2 ** 53), 2 ** 53)) fail("bad_encoding", "v must be an integer");
  if (data.v !== PROTOCOL_VERSION) fail("unsupported_version", `statement version ${data.v}`);
}

/** Parse a team-key or police-key statement strictly (bad_encoding, unsupported_version). */
export function keyStatementFromDict(data) {
  if (!exactFields(data, KEY_FIELDS)) fail("bad_encoding", "a key statement has exactly its eight fields");
  checkVersion(data);
  if (typeof data.kind !== "string" || !(data.kind in KINDS)) fail("bad_encoding", "unknown statement kind");
  if (typeof data.subject !== "string") fail("bad_encoding", "subject must be a string");
  if (!isInt(data.not_before) || !isInt(data.not_after)) fail("bad_encoding", "not_before and not_after must be integers");
  return {
    kind: data.kind, subject: data.subject,
    publicKey: b64Field(data, "public_key", KEY_BYTES),
    notBefore: data.not_before, notAfter: data.not_after,
    signer: b64Field(data, "signer", KEY_BYTES),
    signature: b64Field(data, "signature", SIGNATURE_BYTES),
  };
}

export function keyStatementSignedBytes(st) {
  return encodeFields(KINDS[st.kind], identifierBytes(st.subject, "statement subject"), st.publicKey,
    u64(st.notBefore), u64(st.notAfter));
}

async function checkSigner(signer, pinnedFingerprint) {
  const pinned = parseFingerprint(pinnedFingerprint);
  if (!equalBytes(await fingerprintDigest("ed25519", signer), pinned)) fail("untrusted_signer", "not signed by the pinned organisation key");
}

/**
 * Verify a key statement's transport form as `kind` ("team-key" | "police-key"),
 * against the pinned fingerprint, at `at` (Unix seconds; null: no time check).
 * Returns { kind, subject, publicKey: EncryptionPublicKey, notBefore, notAfter }.
 */
export async function verifyKeyStatement(data, { pinnedFingerprint, kind, at }) {
  const st = keyStatementFromDict(data);
  if (st.kind !== kind) fail("wrong_statement_kind", `expected a ${kind} statement, got ${st.kind}`);
  await checkSigner(st.signer, pinnedFingerprint);
  await verifySignature(st.signer, st.signature, keyStatementSignedBytes(st));
  if (at !== null && at !== undefined && !(st.notBefore <= at && at <= st.notAfter)) {
    fail("statement_not_valid", `valid from ${st.notBefore} to ${st.notAfter}, not at ${at}`);
  }
  return { kind: st.kind, subject: st.subject, publicKey: await EncryptionPublicKey.fromRaw(st.publicKey),
           notBefore: st.notBefore, notAfter: st.notAfter };
}

// -- staff key statements -------------------------------------------------------------
const STAFF_FIELDS = ["v", "kind", "subject", "role", "signing_key", "encryption_key", "not_before", "not_after", "signer", "signature"];
export const STAFF_ROLES = { counsellor: "counsellor", supervisor: "counsellor", police: "police" };

export function staffStatementFromDict(data) {
  if (!exactFields(data, STAFF_FIELDS)) fail("bad_encoding", "a staff key statement has exactly its ten fields");
  if (data.v !== PROTOCOL_VERSION) fail("unsupported_version", `staff key statement version ${data.v}`);
  if (data.kind !== "staff-key") fail("bad_encoding", "not a staff key statement");
  if (typeof data.subject !== "string" || typeof data.role !== "string") fail("bad_encoding", "subject and role must be strings");
  if (!isInt(data.not_before) || !isInt(data.not_after)) fail("bad_encoding", "not_before and not_after must be integers");
  return {
    subject: data.subject, role: data.role,
    signingKey: b64Field(data, "signing_key", KEY_BYTES),
    encryptionKey: b64Field(data, "encryption_key", KEY_BYTES),
    notBefore: data.not_before, notAfter: data.not_after,
    signer: b64Field(data, "signer", KEY_BYTES),
    signature: b64Field(data, "signature", SIGNATURE_BYTES),
  };
}

export function staffStatementSignedBytes(st) {
  return encodeFields(LABELS.staffKey, identifierBytes(st.subject, "username"), identifierBytes(st.role, "role"),
    st.signingKey, st.encryptionKey, u64(st.notBefore), u64(st.notAfter));
}

/** Verify a staff key statement (at null: no window check, as readers build a roster). */
export async function verifyStaffStatement(data, { pinnedFingerprint, at = null }) {
  const st = staffStatementFromDict(data);
  await checkSigner(st.signer, pinnedFingerprint);
  await verifySignature(st.signer, st.signature, staffStatementSignedBytes(st));
  if (at !== null && !(st.notBefore <= at && at <= st.notAfter)) fail("statement_not_valid", "outside the staff statement's window");
  return { ...st, signingKey: new SigningPublicKey(st.signingKey) };
}

// -- the revocation list --------------------------------------------------------------
const REV_FIELDS = ["v", "kind", "serial", "issued_at", "revoked", "signer", "signature"];
const MAX_REVOKED = 10_000;

export function revocationsFromDict(data) {
  if (!exactFields(data, REV_FIELDS)) fail("bad_encoding", "a revocation list has exactly its seven fields");
  checkVersion(data);
  if (data.kind !== "revocations") fail("bad_encoding", "not a revocation list");
  if (!Array.isArray(data.revoked) || data.revoked.length > MAX_REVOKED) fail("bad_encoding", "revoked is a list");
  if (!isInt(data.serial) || !isInt(data.issued_at)) fail("bad_encoding", "serial and issued_at are integers");
  const revoked = [];
  let previous = null;
  for (const item of data.revoked) {
    if (!exactFields(item, ["fingerprint", "revoked_at"])) fail("bad_encoding", "a revoked entry is {fingerprint, revoked_at}");
    const digest = parseFingerprint(item.fingerprint);
    if (!isInt(item.revoked_at)) fail("bad_encoding", "revoked_at is an integer");
    if (previous !== null) {
      let cmp = 0;
      for (let i = 0; i < 32 && cmp === 0; i++) cmp = previous[i] - digest[i];
      if (cmp >= 0) fail("bad_encoding", "revoked fingerprints must be sorted and distinct");
    }
    previous = digest;
    revoked.push({ fingerprint: item.fingerprint, digest, revokedAt: item.revoked_at });
  }
  return { serial: data.serial, issuedAt: data.issued_at, revoked,
           signer: b64Field(data, "signer", KEY_BYTES), signature: b64Field(data, "signature", SIGNATURE_BYTES) };
}

export function revocationsSignedBytes(list) {
  const entries = [];
  for (const r of list.revoked) entries.push(r.digest, u64(r.revokedAt));
  const flat = new Uint8Array(entries.reduce((n, e) => n + e.length, 0));
  let o = 0;
  for (const e of entries) { flat.set(e, o); o += e.length; }
  return encodeFields(LABELS.revocations, u64(list.serial), u64(list.issuedAt), flat);
}

export class RevocationList {
  constructor(serial = 0, issuedAt = 0, revoked = []) {
    this.serial = serial;
    this.issuedAt = issuedAt;
    this.index = new Map(revoked.map((r) => [r.fingerprint, r.revokedAt]));
  }
  revokedAt(fingerprintHex) { return this.index.get(fingerprintHex) ?? null; }
  /** Raise key_revoked if the key was revoked at or before `at` (Unix seconds). */
  check(fingerprintHex, at) {
    const when = this.revokedAt(fingerprintHex);
    if (when !== null && at >= when) fail("key_revoked", `key ${fingerprintHex.slice(0, 16)}… was revoked at ${when}`);
  }
}

/** Verify a list against the pinned key (untrusted_signer, bad_signature). */
export async function verifyRevocations(data, pinnedFingerprint) {
  const parsed = revocationsFromDict(data);
  await checkSigner(parsed.signer, pinnedFingerprint);
  const signed = revocationsSignedBytes(parsed);
  await verifySignature(parsed.signer, parsed.signature, signed);
  return { list: new RevocationList(parsed.serial, parsed.issuedAt, parsed.revoked), signed };
}

/** The newest list one client has seen; never goes back (revocation_rollback). */
export class RevocationTracker {
  constructor(pinnedFingerprint) {
    this.pinnedFingerprint = pinnedFingerprint;
    this.current = new RevocationList();
    this.signedBytes = null;
  }
  async accept(data) {
    if (data === null || data === undefined) return this.current;
    if (typeof data !== "object" || Array.isArray(data)) fail("bad_encoding", "a revocation list is a JSON object");
    const { list, signed } = await verifyRevocations(data, this.pinnedFingerprint);
    if (list.serial < this.current.serial
        || (list.serial === this.current.serial && this.signedBytes !== null && !equalBytes(signed, this.signedBytes))) {
      fail("revocation_rollback", `serial ${list.serial}, but serial ${this.current.serial} was seen`);
    }
    this.current = list;
    this.signedBytes = signed;
    return list;
  }
}
