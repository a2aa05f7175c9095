// Reference check of the helpline vectors with WebCrypto and @hpke/core, written from
// docs/crypto.md without the Python code. Usage (Node 20+, from a folder whose
// node_modules has @hpke/core and @hpke/dhkem-x25519):
//   node check_vectors.mjs <path to tests/vectors> [out.json]
// With out.json it also writes a JS-made wrap and envelope that Python can open
// (see README.md, "Checking from JavaScript").
import { readFileSync, writeFileSync } from "node:fs";
import { webcrypto as wc } from "node:crypto";
import { CipherSuite, HkdfSha256, Aes256Gcm } from "@hpke/core";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { checkReturnCode } from "./check_returncode.mjs";
import { checkRevocation } from "./check_revocation.mjs";
import { checkEpochs } from "./check_epoch.mjs";
import { checkBackup, makeBackupForPython } from "./check_backup.mjs";
import { subtle, hex, toHex, ascii, cat, u32, u64, fields, sha256, b64d, eq } from "./encoding.mjs";
const dir = process.argv[2];
const load = (n) => JSON.parse(readFileSync(`${dir}/${n}`, "utf8"));
const fp = async (kind, raw) => sha256(fields(`helpline/v2/fingerprint/${kind}`, raw));
const edPub = (raw) => subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
const verify = async (raw, sig, msg) => subtle.verify({ name: "Ed25519" }, await edPub(raw), sig, msg);
const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
let checks = 0;
// Padding (docs/crypto.md, "Padding"): u32be(length) || plaintext || zeros, to the
// smallest power of two >= 4 + length, at least 256 bytes.
const bucket = (n) => { let b = 256; while (b < 4 + n) b *= 2; return b; };
const pad = (pt) => { const out = new Uint8Array(bucket(pt.length)); out.set(u32(pt.length), 0); out.set(pt, 4); return out; };
const unpad = (p) => {
  const n = new DataView(p.buffer, p.byteOffset).getUint32(0);
  if (p.length < 256 || (p.length & (p.length - 1)) !== 0 || n > p.length - 4 || bucket(n) !== p.length || p.slice(4 + n).some((b) => b !== 0)) throw new Error("bad_padding");
  return p.slice(4, 4 + n);
};

// statements
const st = load("statement.json");
for (const e of st.valid) {
  const label = `helpline/v2/statement/${e.kind}`;
  const signed = fields(label, ascii(e.subject), hex(e.public_key), u64(e.not_before), u64(e.not_after));
  eq(toHex(signed), e.signed_bytes, e.name);
  eq(toHex(await fp("ed25519", b64d(e.transport.signer))), e.pinned_fingerprint, e.name);
  eq(await verify(b64d(e.transport.signer), b64d(e.transport.signature), signed), true, e.name);
  eq(toHex(await fp("x25519", hex(e.public_key))), e.public_key_fingerprint, e.name);
  checks++;
}

// wraps
const wr = load("wrap.json");
for (const e of wr.valid) {
  const rfp = await fp("x25519", hex(e.recipient_public_key));
  let info;
  if (e.purpose === "conversation-key") {
    info = fields("helpline/v2/wrap/conversation-key", new Uint8Array([2, 1]), ascii(e.conversation_id), u32(e.epoch), rfp);
  } else {
    info = fields("helpline/v2/wrap/team-key-grant", new Uint8Array([2, 1]), ascii(e.period), ascii(e.grantee), await fp("x25519", hex(e.team_public_key)), rfp);
  }
  eq(toHex(info), e.info, e.name);
  const recipientKey = await suite.kem.importKey("raw", hex(e.recipient_private_key), false);
  const w = hex(e.wrapped);
  const pt = await suite.open({ recipientKey, enc: w.slice(2, 34), info }, w.slice(34));
  eq(toHex(new Uint8Array(pt)), e.secret, e.name);
  checks++;
}
for (const e of wr.invalid.filter((e) => e.error === "unwrap_failed" && hex(e.wrapped).length === 82)) {
  const recipientKey = await suite.kem.importKey("raw", hex(e.recipient_private_key), false);
  const w = hex(e.wrapped);
  let ok = false;
  try { await suite.open({ recipientKey, enc: w.slice(2, 34), info: hex(e.info) }, w.slice(34)); ok = true; } catch { }
  eq(ok, false, e.name);
  checks++;
}

// envelopes
const en = load("envelope.json");
const roles = { youth: 1, counsellor: 2, police: 3, bot: 4, system: 5 };
for (const e of en.valid) {
  const cid = ascii(e.conversation_id);
  const header = cat(new Uint8Array([2, 1, roles[e.role], cid.length]), cid, u32(e.epoch), u32(e.counter), await fp("ed25519", hex(e.sender_public_key)));
  eq(toHex(header), e.header, e.name);
  const aad = fields("helpline/v2/msg-aad", header);
  eq(toHex(aad), e.aad, e.name);
  const env = hex(e.envelope);
  const unsigned = env.slice(0, env.length - 64);
  eq(await verify(hex(e.sender_public_key), env.slice(env.length - 64), fields("helpline/v2/msg-sig", unsigned)), true, e.name);
  const key = await subtle.importKey("raw", hex(e.epoch_key), "AES-GCM", false, ["encrypt", "decrypt"]);
  const nonce = env.slice(header.length, header.length + 12);
  const pt = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: aad }, key, env.slice(header.length + 12, env.length - 64)));
  eq(toHex(pt), e.padded, e.name + " (padded)");
  eq(toHex(pad(unpad(pt))), e.padded, e.name + " (pad in JS)");
  eq(new TextDecoder().decode(unpad(pt)), e.plaintext_text, e.name);
  // Re-seal with the same nonce: must be byte-identical (Ed25519 is deterministic).
  const ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad }, key, pt));
  const sender = en.senders.find((s) => s.name === e.sender);
  const pkcs8 = cat(hex("302e020100300506032b657004220420"), hex(sender.private_key));
  const sk = await subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  const body = cat(header, nonce, ct);
  const sig = new Uint8Array(await subtle.sign({ name: "Ed25519" }, sk, fields("helpline/v2/msg-sig", body)));
  eq(toHex(cat(body, sig)), e.envelope, e.name + " (re-sealed in JS)");
  checks++;
}

for (const e of en.invalid.filter((e) => e.error === "bad_padding")) {
  const env = hex(e.envelope);
  const n = env[3];
  const header = env.slice(0, 44 + n);
  const key = await subtle.importKey("raw", hex(e.expect.epoch_key), "AES-GCM", false, ["decrypt"]);
  const pt = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: env.slice(44 + n, 56 + n), additionalData: fields("helpline/v2/msg-aad", header) }, key, env.slice(56 + n, env.length - 64)));
  let refused = false;
  try { unpad(pt); } catch { refused = true; }
  eq(refused, true, e.name);
  checks++;
}

// JS-made artefacts for Python to open.
const out = {};
const team = wr.valid[0];
const epochKey = wc.getRandomValues(new Uint8Array(32));
const rfp = await fp("x25519", hex(team.recipient_public_key));
const info = fields("helpline/v2/wrap/conversation-key", new Uint8Array([2, 1]), ascii(team.conversation_id), u32(9), rfp);
const recipientPublicKey = await suite.kem.importKey("raw", hex(team.recipient_public_key), true);
const sealed = await suite.seal({ recipientPublicKey, info }, epochKey);
out.wrap = { recipient_private_key: team.recipient_private_key, conversation_id: team.conversation_id, epoch: 9, wrapped: toHex(cat(new Uint8Array([2, 1]), new Uint8Array(sealed.enc), new Uint8Array(sealed.ct))), secret: toHex(epochKey) };
{
  const sender = en.senders[0];
  const cid = ascii(team.conversation_id);
  const header = cat(new Uint8Array([2, 1, 1, cid.length]), cid, u32(9), u32(0), await fp("ed25519", hex(sender.public_key)));
  const key = await subtle.importKey("raw", epochKey, "AES-GCM", false, ["encrypt"]);
  const nonce = wc.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: fields("helpline/v2/msg-aad", header) }, key, pad(ascii("made in JavaScript"))));
  const pkcs8 = cat(hex("302e020100300506032b657004220420"), hex(sender.private_key));
  const sk = await subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  const body = cat(header, nonce, ct);
  const sig = new Uint8Array(await subtle.sign({ name: "Ed25519" }, sk, fields("helpline/v2/msg-sig", body)));
  out.envelope = { envelope: toHex(cat(body, sig)), sender_public_key: sender.public_key, epoch_key: toHex(epochKey), conversation_id: team.conversation_id, epoch: 9, plaintext: "made in JavaScript" };
}
out.staff_backup = await makeBackupForPython();  // staff-backup format (check_backup.mjs)
if (process.argv[3]) writeFileSync(process.argv[3], JSON.stringify(out, null, 2));
checks += await checkReturnCode(dir);  // return-code.json (check_returncode.mjs)
checks += await checkRevocation(dir);  // revocation.json (check_revocation.mjs)
checks += await checkEpochs(dir);  // epoch.json (check_epoch.mjs)
checks += await checkBackup(dir);  // staff-backup.json (check_backup.mjs)
console.log(`JS checks passed: ${checks}`);
