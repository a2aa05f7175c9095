// The console's staff device backup (moderation/src/crypto/backup.js) against
// tests/vectors/staff-backup.json, and StaffKeyring with non-extractable device keys
// (generateForDevice, fromBackup, fromCryptoKeys) opening the shared wrap vectors.
// Node's test runner; tests/test_js_backup.py runs it and, with HELPLINE_BACKUP_OUT
// set, opens in Python the backup this file writes there. (IndexedDB, devicestore.js,
// is Chromium's: tests/browser/test_console_devicestore.py.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import {
  CryptoError, b64urlDecode, b64urlEncode, concat, hexDecode as hex, hexEncode as toHex, unwrapConversationKey, unwrapTeamKeyGrant,
  verifySignature, randomBytes,
} from "../../widgets/src/crypto/index.js";
import {
  BACKUP_ITERATIONS, backupAad, backupFingerprints, checkPassphrase, deriveBackupKey, makeBackup, openBackup, parseBackup,
} from "../../moderation/src/crypto/backup.js";
import { StaffKeyring } from "../../moderation/src/crypto/staffkeyring.js";

const VECTORS = new URL("../vectors/", import.meta.url);
const load = (name) => JSON.parse(readFileSync(new URL(name, VECTORS), "utf8"));
const V = load("staff-backup.json");
const subtle = globalThis.crypto.subtle;

async function refusesWith(code, fn) {
  await assert.rejects(fn, (e) => {
    assert.ok(e instanceof CryptoError, `not a CryptoError: ${e}`);
    assert.equal(e.code, code);
    return true;
  });
}

test("valid vectors: header, aad, key, keys, and the same text made again", async () => {
  for (const e of V.valid) {
    const h = parseBackup(e.text);
    assert.equal(toHex(backupAad(h)), e.aad, e.name);
    const key = await deriveBackupKey(e.passphrase, hex(e.salt), e.iterations, { extractable: true });
    assert.equal(toHex(new Uint8Array(await subtle.exportKey("raw", key))), e.derived_key, e.name);
    assert.deepEqual(await backupFingerprints(h), { encryption: e.encryption_fingerprint, signing: e.signing_fingerprint });
    const o = await openBackup(e.text, e.passphrase, e.pinned_fingerprint);
    assert.equal(o.username, e.username);
    assert.equal(toHex(o.encryptionPrivate), e.encryption_private_key);
    assert.equal(toHex(o.signingSeed), e.signing_private_key);
    const material = { username: e.username, pinnedFingerprint: e.pinned_fingerprint,
                       encryptionPrivate: hex(e.encryption_private_key), signingSeed: hex(e.signing_private_key) };
    const text = await makeBackup(material, e.passphrase,
      { iterations: e.iterations, fixedForVectorsOnly: { salt: hex(e.salt), nonce: hex(e.nonce) } });
    assert.equal(text, e.text, e.name);
    o.wipe();
    assert.equal(o.encryptionPrivate, null);
  }
});

test("invalid vectors are refused with their code", async () => {
  for (const e of V.invalid) {
    await refusesWith(e.error, () => openBackup(e.text, e.passphrase, e.pinned_fingerprint));
  }
  assert.ok(V.invalid.length >= 30);
});

test("passphrases under 12 characters (after NFC) are refused, and the material is kept for another try", async () => {
  for (const w of V.weak_passphrases) assert.throws(() => checkPassphrase(w.passphrase), (e) => e.code === w.error);
  for (const s of V.strong_passphrases) checkPassphrase(s);
  const { keyring, backupMaterial } = await StaffKeyring.generateForDevice("anna", V.valid[0].pinned_fingerprint);
  await refusesWith("weak_passphrase", () => makeBackup(backupMaterial, "elevenchars"));
  assert.equal(backupMaterial.signingSeed.length, 32);
  backupMaterial.wipe();
  assert.equal(backupMaterial.signingSeed, null);
  keyring.wipe();
});

test("generateForDevice: only non-extractable keys in the keyring; the backup opens to the same device", async () => {
  const pin = V.valid[0].pinned_fingerprint;
  const { keyring, backupMaterial } = await StaffKeyring.generateForDevice("anna", pin);
  const x = keyring.encryption.cryptoKeyPair.privateKey, s = keyring.signing.privateKey;
  assert.equal(keyring.encryption.privateRaw, null);
  assert.equal(keyring.signing.seed, null);
  assert.deepEqual([x.extractable, x.algorithm.name, x.usages], [false, "X25519", ["deriveBits"]]);
  assert.deepEqual([s.extractable, s.algorithm.name, s.usages], [false, "Ed25519", ["sign"]]);
  for (const format of ["pkcs8", "jwk", "raw"]) {
    await assert.rejects(subtle.exportKey(format, x));
    await assert.rejects(subtle.exportKey(format, s));
  }
  const started = Date.now();
  const text = await makeBackup(backupMaterial, "correct horse battery staple");
  const tookMs = Date.now() - started;
  backupMaterial.wipe();
  assert.equal(parseBackup(text).iterations, BACKUP_ITERATIONS);
  assert.ok(tookMs < 10_000, `${tookMs} ms`);
  const mine = await keyring.fingerprints();
  assert.deepEqual(await backupFingerprints(parseBackup(text)), mine);

  await refusesWith("backup_unlock_failed", () => openBackup(text, "correct horse battery stapler", pin));
  await refusesWith("wrong_organisation", () => openBackup(text, "correct horse battery staple", "cd".repeat(32)));
  const opened = await openBackup(text, "correct horse battery staple", pin);
  const moved = await StaffKeyring.fromBackup(opened);
  assert.equal(opened.encryptionPrivate, null, "fromBackup wipes the opened backup");
  assert.deepEqual(await moved.fingerprints(), mine);
  assert.equal(moved.encryption.cryptoKeyPair.privateKey.extractable, false);
  assert.equal(moved.signing.privateKey.extractable, false);
  // Both devices sign for the same public key.
  const message = new TextEncoder().encode("same device, moved");
  await verifySignature(keyring.signing.public, await moved.signing.sign(message), message);
  assert.deepEqual(moved.registration(), keyring.registration());
  if (process.env.HELPLINE_BACKUP_OUT) {
    writeFileSync(process.env.HELPLINE_BACKUP_OUT, JSON.stringify({ text, passphrase: "correct horse battery staple", pin, fingerprints: mine }));
  }
});

test("non-extractable device keys open the shared wrap vectors and load a grant", async () => {
  const wraps = load("wrap.json");
  const statements = load("statement.json");
  const grant = wraps.valid.find((e) => e.purpose === "team-key-grant");
  const conv = wraps.valid.find((e) => e.purpose === "conversation-key");
  const seed = randomBytes(32);
  const jwk = await subtle.exportKey("jwk", await subtle.importKey("pkcs8", concat(hex("302e020100300506032b657004220420"), seed),
    { name: "Ed25519" }, true, ["sign"]));
  const opened = (priv, pub) => ({ username: grant.grantee, pinnedFingerprint: statements.signer.fingerprint,
    encryptionPrivate: hex(priv), encryptionPublic: hex(pub), signingSeed: seed.slice(),
    signingPublic: b64urlDecode(jwk.x), wipe() {} });
  const ring = await StaffKeyring.fromBackup(opened(grant.recipient_private_key, grant.recipient_public_key));
  assert.equal(ring.encryption.privateRaw, null);
  const secret = await unwrapTeamKeyGrant(hex(grant.wrapped), ring.encryption.recipient(),
    { period: grant.period, grantee: grant.grantee, teamPublicRaw: hex(grant.team_public_key) });
  assert.equal(toHex(secret), grant.secret);
  // The same through the keyring, as the console loads its grants.
  const team = statements.valid.find((e) => e.kind === "team-key" && e.subject === grant.period);
  const loaded = await ring.loadGrants({ team: { [grant.period]: team.transport },
                                         grants: { [grant.period]: b64urlEncode(hex(grant.wrapped)) }, revocations: null });
  assert.deepEqual(loaded, [grant.period]);
  // A conversation-key wrap for a key held as a CryptoKeyPair.
  const cRing = await StaffKeyring.fromBackup(opened(conv.recipient_private_key, conv.recipient_public_key));
  const epochKey = await unwrapConversationKey(hex(conv.wrapped), cRing.encryption.recipient(),
    { conversationId: conv.conversation_id, epoch: conv.epoch });
  assert.equal(toHex(epochKey), conv.secret);
  // Another device's pair cannot open it.
  await assert.rejects(unwrapConversationKey(hex(conv.wrapped), ring.encryption.recipient(),
    { conversationId: conv.conversation_id, epoch: conv.epoch }), (e) => e.code === "unwrap_failed");
  ring.wipe();
  assert.throws(() => ring.encryption.recipient(), (e) => e.code === "invalid_key");
});

test("StaffKeyring.generate keeps its raw, in-memory keys (Node tools and tests)", async () => {
  const ring = await StaffKeyring.generate("anna", V.valid[0].pinned_fingerprint);
  assert.equal(ring.encryption.privateRaw.length, 32);
  assert.equal(ring.signing.seed.length, 32);
  assert.equal(ring.encryption.recipient(), ring.encryption.privateRaw);
});
