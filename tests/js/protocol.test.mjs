// The protocol through the stock npm socket.io-client (the one the widget and the
// console use), written from docs/protocol.md: a young person and a counsellor against
// a real server. Run by tests/test_js_protocol.py, which starts the server and passes:
//   HELPLINE_URL, HELPLINE_ORIGIN, HELPLINE_STAFF_USER, HELPLINE_STAFF_PASSWORD,
//   HELPLINE_RETURN_CODE (eight words made by the Python client's word list)
// Alone: node --test tests/js/protocol.test.mjs (with those variables set).
import { test } from "node:test";
import assert from "node:assert/strict";
import { webcrypto as wc } from "node:crypto";
import { io } from "socket.io-client";
import { deriveCodeKeys } from "../vectors/check_returncode.mjs";
import { ascii, cat, fields, sha256, subtle, toHex, u32 } from "../vectors/encoding.mjs";

const URL = process.env.HELPLINE_URL;
const ORIGIN = process.env.HELPLINE_ORIGIN;

// -- bytes (protocol.md, section 2: every byte string travels as unpadded base64url) --
const b64 = (u) => Buffer.from(u).toString("base64url");
const unb64 = (s) => { assert.equal(typeof s, "string", "bytes arrive as base64url text"); return new Uint8Array(Buffer.from(s, "base64url")); };
const random = (n) => wc.getRandomValues(new Uint8Array(n));

// -- calls: one payload in, one ack out (protocol.md, section 2) ----------------------
class CallError extends Error { constructor(code, message) { super(`${code}: ${message}`); this.code = code; } }
function call(socket, event, payload = {}) {
  return new Promise((resolve, reject) => {
    socket.timeout(20_000).emit(event, payload, (err, ack) => {
      if (err) return reject(err);
      if (ack.error) return reject(new CallError(ack.error.code, ack.error.message));
      resolve(ack.ok);
    });
  });
}
const sockets = [];
function connect(namespace, auth) {
  const socket = io(`${URL}${namespace}`, {
    transports: ["websocket"], extraHeaders: { Origin: ORIGIN }, auth, reconnection: false,
    forceNew: true,
  });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}
// Every page of history after `after`, in order (protocol.md: `more` means ask again).
async function allHistory(socket, payload) {
  const out = [];
  for (let more = true, after = payload.after_seq; more; ) {
    const page = await call(socket, "history", { ...payload, after_seq: after });
    for (const m of page.messages) out.push(m);
    if (page.messages.length) after = page.messages.at(-1).seq;
    more = page.more;
  }
  return out;
}

// -- the young person's epochs, as crypto.md ("Epoch statements") says --------------
async function youthKeys() {
  const pair = await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  return { pair, publicRaw: new Uint8Array(await subtle.exportKey("raw", pair.publicKey)) };
}
async function epochPayload(cid, epoch, youth, teamFingerprintHex) {
  const key = random(32);
  const commitment = await sha256(fields("helpline/v2/epoch-commitment", ascii(cid), u32(epoch), key));
  const readers = cat(new Uint8Array([1]), Buffer.from(teamFingerprintHex, "hex"));
  const signed = fields("helpline/v2/statement/epoch", ascii(cid), u32(epoch), commitment, readers, new Uint8Array());
  const signature = new Uint8Array(await subtle.sign({ name: "Ed25519" }, youth.pair.privateKey, signed));
  const payload = {
    epoch,
    statement: { v: 2, epoch, commitment: b64(commitment), consent: null, signature: b64(signature),
                 readers: [{ kind: "team", fingerprint: teamFingerprintHex }] },
    // The server cannot open a wrap; an opaque 82-byte stand-in keeps this test about the wire.
    wraps: [{ recipient: teamFingerprintHex, wrap: b64(random(82)) }],
  };
  if (epoch === 1) payload.signing_key = b64(youth.publicRaw);
  return payload;
}

async function login() {
  const res = await fetch(`${URL}/api/login`, {
    method: "POST", headers: { "Content-Type": "application/json", Origin: ORIGIN },
    body: JSON.stringify({ username: process.env.HELPLINE_STAFF_USER,
                           password: process.env.HELPLINE_STAFF_PASSWORD }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.token;
}

test("a whole conversation through the stock socket.io-client", { timeout: 120_000 }, async (t) => {
  t.after(() => sockets.forEach((s) => s.close()));
  const token = await login();
  const staff = await connect("/staff", { token });
  const youth = await connect("/youth");
  const keys = await youthKeys();

  // Open, with the team key from the directory (its fingerprint as crypto.md says).
  const directory = await call(youth, "keys");
  const teamRaw = unb64(directory.team.public_key);
  const teamFp = toHex(await sha256(fields("helpline/v2/fingerprint/x25519", teamRaw)));
  const opened = await call(youth, "open", {});
  const cid = opened.conversation_id;
  await call(youth, "epoch", await epochPayload(cid, 1, keys, teamFp));
  await call(staff, "accept", { conversation_id: cid });

  // 1. A 300-message conversation: every body arrives once, in order, byte for byte.
  const received = [];
  staff.on("message", (env) => { if (env.conversation_id === cid) received.push(env); });
  const sent = [];
  for (let i = 0; i < 300; i++) {
    const body = random(300);
    const ack = await call(youth, "send", { body: b64(body) });
    sent.push({ seq: ack.seq, body: b64(body) });
  }
  await waitFor(() => received.length === 300);
  assert.deepEqual(received.map((e) => [e.seq, e.body]), sent.map((s) => [s.seq, s.body]));
  const history = await allHistory(staff, { conversation_id: cid, after_seq: 0 });
  assert.deepEqual(history.map((e) => e.seq), sent.map((s) => s.seq));
  assert.deepEqual(history.map((e) => e.body), sent.map((s) => s.body));

  // 2. The young person drops; the counsellor writes 250 messages; a resume gets them all.
  const lastSeen = sent.at(-1).seq;
  youth.close();
  const written = [];
  for (let i = 0; i < 250; i++) {
    const body = random(200 + (i % 7) * 100);
    const ack = await call(staff, "send", { conversation_id: cid, body: b64(body) });
    written.push({ seq: ack.seq, body: b64(body) });
  }
  const back = await connect("/youth");
  const resumed = await call(back, "resume", { resume_token: opened.resume_token, last_seq: lastSeen });
  const missed = [...resumed.messages];
  if (resumed.more) missed.push(...await allHistory(back, { after_seq: missed.at(-1).seq }));
  assert.deepEqual(missed.map((e) => [e.seq, e.body]), written.map((w) => [w.seq, w.body]));
  assert.ok(resumed.messages.every((e) => e.seq <= resumed.last_seq), "a resume page ends at its last_seq");

  // 3. Fifty epochs: conversation_keys holds 50 wraps and 50 signed statements.
  for (let epoch = 2; epoch <= 50; epoch++) await call(back, "epoch", await epochPayload(cid, epoch, keys, teamFp));
  for (const [socket, payload] of [[back, {}], [staff, { conversation_id: cid }]]) {
    const ck = await call(socket, "conversation_keys", payload);
    assert.equal(ck.wraps.length, 50);
    assert.equal(ck.statements.length, 50);
    assert.equal(ck.epoch, 50);
    assert.deepEqual(unb64(ck.youth_signing_key), keys.publicRaw);
    assert.ok(ck.wraps.every((w) => unb64(w.wrap).length === 82));
  }

  // 4. A return code: register the look-up words and the verifier, store a code wrap,
  //    and come back on a fresh connection with the proof.
  const code = await deriveCodeKeys(process.env.HELPLINE_RETURN_CODE);
  await call(back, "return_code", { lookup: code.lookup, verifier: b64(code.verifier) });
  const blob = random(600);
  await call(back, "code_wrap", { blob: b64(blob) });
  const elsewhere = await connect("/youth");
  const told = new Promise((resolve) => back.once("code_used", resolve));
  const returned = await call(elsewhere, "resume_code", { lookup: code.lookup, proof: b64(code.proof) });
  assert.equal(returned.conversation_id, cid);
  assert.deepEqual(unb64(returned.code_wrap), blob);
  const everything = [...returned.messages];
  if (returned.more) everything.push(...await allHistory(elsewhere, { after_seq: everything.at(-1).seq }));
  assert.equal(everything.length, 550);
  assert.deepEqual((await told).conversation_id, cid);
  // The connection that came back can act: the counsellor sees its message.
  const last = received.length;
  await call(elsewhere, "send", { body: b64(random(300)) });
  await waitFor(() => received.length === last + 1);
  // And nobody was dropped along the way (a parser error closes the socket).
  for (const s of [staff, back, elsewhere]) assert.ok(s.connected);
});

async function waitFor(condition, ms = 20_000) {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > ms) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
