// Reference check of tests/vectors/epoch.json, written from docs/crypto.md ("Epoch
// statements") with WebCrypto Ed25519 and SHA-256 only: what the console must check
// before it reads or sends in an epoch. check_vectors.mjs imports it; alone:
//   node check_epoch.mjs <path to tests/vectors>
// Returns the number of checks; throws on the first disagreement.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { subtle, hex, toHex, ascii, cat, u32, u64, fields, eq, b64d, sha256 } from "./encoding.mjs";


class EpochError extends Error { constructor(code) { super(code); this.code = code; } }
const fail = (code) => { throw new EpochError(code); };
const KINDS = { team: 1, police: 2 };
const FIELDS = "commitment,consent,epoch,readers,signature,v";
const CONSENT_FIELDS = "expires_at,nonce,police_fingerprint,share_history,signature";

export const commitment = (cid, epoch, key) => sha256(fields("helpline/v2/epoch-commitment", ascii(cid), u32(epoch), key));

const consentBytes = (cid, c) => fields("helpline/v2/police-consent", ascii(cid), hex(c.police_fingerprint),
  new Uint8Array([c.share_history ? 1 : 0]), u64(c.expires_at), b64d(c.nonce));

// Parse strictly and verify with the conversation's signing key; returns the statement
// with its readers, or throws with the stable error code.
export async function verifyEpoch(t, cid, epoch, youthPublicKey) {
  if (typeof t !== "object" || t === null || Object.keys(t).sort().join() !== FIELDS) fail("bad_encoding");
  if (!Number.isInteger(t.v)) fail("bad_encoding");
  if (t.v !== 2) fail("unsupported_version");
  if (!Number.isInteger(t.epoch) || t.epoch < 1 || t.epoch > 0xffffffff || !Array.isArray(t.readers)) fail("bad_encoding");
  if (t.readers.length < 1 || t.readers.length > 8) fail("bad_encoding");
  const encoded = [];
  for (const r of t.readers) {
    if (typeof r !== "object" || r === null || Object.keys(r).sort().join() !== "fingerprint,kind") fail("bad_encoding");
    if (!(r.kind in KINDS) || typeof r.fingerprint !== "string" || !/^[0-9a-f]{64}$/.test(r.fingerprint)) fail("bad_encoding");
    encoded.push(toHex(new Uint8Array([KINDS[r.kind]])) + r.fingerprint);
  }
  // Sorted by bytes (kind, then fingerprint) and distinct; hex order is byte order.
  for (let i = 1; i < encoded.length; i++) if (encoded[i - 1] >= encoded[i]) fail("bad_encoding");
  const police = t.readers.filter((r) => r.kind === "police");
  if (!t.readers.some((r) => r.kind === "team") || police.length > 1) fail("bad_encoding");
  if ((t.consent === null) !== (police.length === 0)) fail("bad_encoding");
  if (t.consent !== null) {
    const c = t.consent;
    if (typeof c !== "object" || Object.keys(c).sort().join() !== CONSENT_FIELDS) fail("bad_encoding");
    if (c.police_fingerprint !== police[0].fingerprint) fail("bad_encoding");
  }
  const commit = b64d(t.commitment), signature = b64d(t.signature);
  if (commit.length !== 32 || signature.length !== 64) fail("bad_encoding");
  const signed = fields("helpline/v2/statement/epoch", ascii(cid), u32(t.epoch), commit,
    hex(encoded.join("")), t.consent === null ? new Uint8Array() : consentBytes(cid, t.consent));
  if (t.epoch !== epoch) fail("epoch_unverified");
  const key = await subtle.importKey("raw", youthPublicKey, { name: "Ed25519" }, false, ["verify"]);
  if (!await subtle.verify({ name: "Ed25519" }, key, signature, signed)) fail("epoch_unverified");
  return { ...t, signed, commit };
}

// Before using an unwrapped epoch key: it is the committed one, and ours to hold.
export async function checkEpochKey(st, cid, epochKey, readerFingerprint) {
  if (readerFingerprint !== null && !st.readers.some((r) => r.fingerprint === readerFingerprint)) fail("not_a_reader");
  if (toHex(await commitment(cid, st.epoch, epochKey)) !== toHex(st.commit)) fail("key_mismatch");
}

const code = async (f) => { try { await f(); return null; } catch (e) { if (e instanceof EpochError) return e.code; throw e; } };

export async function checkEpochs(dir) {
  const v = JSON.parse(readFileSync(`${dir}/epoch.json`, "utf8"));
  const youth = hex(v.youth.public_key);
  let checks = 0;
  for (const e of v.valid) {
    const st = await verifyEpoch(e.transport, e.conversation_id, e.epoch, youth);
    eq(toHex(st.signed), e.signed_bytes, e.name);
    eq(toHex(await commitment(e.conversation_id, e.epoch, hex(e.epoch_key))), e.commitment, e.name);
    if (e.transport.consent) eq(toHex(consentBytes(e.conversation_id, e.transport.consent)), e.consent_signed_bytes, e.name);
    for (const r of e.transport.readers) await checkEpochKey(st, e.conversation_id, hex(e.epoch_key), r.fingerprint);
    checks++;
  }
  for (const e of v.invalid) {
    eq(await code(() => verifyEpoch(e.transport, e.conversation_id, e.epoch, hex(e.youth_public_key))), e.error, e.name);
    checks++;
  }
  for (const e of v.key_checks) {
    const cid = v.valid[0].conversation_id;
    const st = await verifyEpoch(e.statement, cid, e.epoch, youth);
    eq(await code(() => checkEpochKey(st, cid, hex(e.epoch_key), e.reader)), e.error, e.name);
    checks++;
  }
  for (const e of v.commitments) {
    eq(toHex(await commitment(e.conversation_id, e.epoch, hex(e.epoch_key))), e.commitment, `commitment ${e.epoch}`);
    checks++;
  }
  return checks;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`epoch checks passed: ${await checkEpochs(process.argv[2])}`);
}
