// Reference check of tests/vectors/revocation.json, written from docs/crypto.md
// ("Revocation list") with WebCrypto Ed25519 and SHA-256 only. check_vectors.mjs
// imports it; alone:  node check_revocation.mjs <path to tests/vectors>
// Returns the number of checks; throws on the first disagreement.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { subtle, hex, toHex, ascii, cat, u32, u64, fields, eq, b64d } from "./encoding.mjs";


class RevocationError extends Error { constructor(code) { super(code); this.code = code; } }
const fail = (code) => { throw new RevocationError(code); };
const isInt = (n) => Number.isSafeInteger(n) && n >= 0;
const FIELDS = ["issued_at", "kind", "revoked", "serial", "signature", "signer", "v"];

// Parse strictly, check the signer against the pin, verify; return the list.
export async function verifyRevocations(t, pinnedFingerprint) {
  if (typeof t !== "object" || t === null || Object.keys(t).sort().join() !== FIELDS.join()) fail("bad_encoding");
  if (!Number.isInteger(t.v)) fail("bad_encoding");
  if (t.v !== 2) fail("unsupported_version");
  if (t.kind !== "revocations" || !isInt(t.serial) || !isInt(t.issued_at) || !Array.isArray(t.revoked)) fail("bad_encoding");
  let last = "";
  const entries = [];
  for (const e of t.revoked) {
    if (typeof e !== "object" || e === null || Object.keys(e).sort().join() !== "fingerprint,revoked_at") fail("bad_encoding");
    if (typeof e.fingerprint !== "string" || !/^[0-9a-f]{64}$/.test(e.fingerprint) || !isInt(e.revoked_at)) fail("bad_encoding");
    if (e.fingerprint <= last) fail("bad_encoding");  // sorted, distinct (hex order = byte order)
    last = e.fingerprint;
    entries.push(cat(hex(e.fingerprint), u64(e.revoked_at)));
  }
  const signer = b64d(t.signer), signature = b64d(t.signature);
  if (signer.length !== 32 || signature.length !== 64) fail("bad_encoding");
  const fp = new Uint8Array(await subtle.digest("SHA-256", fields("helpline/v2/fingerprint/ed25519", signer)));
  if (toHex(fp) !== pinnedFingerprint) fail("untrusted_signer");
  const signed = fields("helpline/v2/statement/revocations", u64(t.serial), u64(t.issued_at), cat(...entries));
  const key = await subtle.importKey("raw", signer, { name: "Ed25519" }, false, ["verify"]);
  if (!await subtle.verify({ name: "Ed25519" }, key, signature, signed)) fail("bad_signature");
  return { serial: t.serial, signed, revoked: new Map(t.revoked.map((e) => [e.fingerprint, e.revoked_at])) };
}

export function checkKey(list, fingerprint, at) {
  const when = list.revoked.get(fingerprint);
  if (when !== undefined && at >= when) fail("key_revoked");
}

const code = async (f) => { try { await f(); return null; } catch (e) { if (e instanceof RevocationError) return e.code; throw e; } };

export async function checkRevocation(dir) {
  const data = JSON.parse(readFileSync(`${dir}/revocation.json`, "utf8"));
  let checks = 0;
  let current;
  for (const e of data.valid) {
    current = await verifyRevocations(e.transport, e.pinned_fingerprint);
    eq(toHex(current.signed), e.signed_bytes, e.name);
    checks++;
  }
  for (const c of data.checks) {
    eq(await code(() => checkKey(current, c.fingerprint, c.at)), c.error, `check at ${c.at}`);
    checks++;
  }
  for (const e of data.invalid) {
    eq(await code(() => verifyRevocations(e.transport, e.pinned_fingerprint)), e.error, e.name);
    checks++;
  }
  let seen = null;
  for (const step of data.sequence) {
    const got = await code(async () => {
      const list = await verifyRevocations(step.transport, data.signer.fingerprint);
      if (seen && (list.serial < seen.serial || (list.serial === seen.serial && toHex(list.signed) !== toHex(seen.signed)))) fail("revocation_rollback");
      seen = list;
    });
    eq(got, step.error, "sequence");
    checks++;
  }
  return checks;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`revocation checks passed: ${await checkRevocation(process.argv[2])}`);
}
