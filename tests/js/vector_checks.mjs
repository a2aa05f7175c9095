// The checks of every shared vector file in tests/vectors/ through the widget's own crypto
// library (widgets/src/crypto/), not the reference checks in tests/vectors/check_*.mjs:
// valid cases must give the listed bytes and values, invalid ones the listed error code.
// Shared by the Node run (tests/js/crypto.test.mjs) and the browser run
// (tests/js/vectors_browser.mjs, tests/browser/test_widget_vectors.py), so it uses only
// what both have: WebCrypto (globalThis.crypto.subtle), Uint8Array, TextEncoder/Decoder.
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256, Aes256Gcm } from "@hpke/core";
import * as C from "../../widgets/src/crypto/index.js";

/** The vector files checkVectors reads, in the order it reads them. */
export const VECTOR_FILES = Object.freeze([
  "statement.json", "staff-statement.json", "revocation.json", "wrap.json",
  "rfc9180-base-x25519-sha256-aes256gcm.json", "envelope.json", "epoch.json", "return-code.json",
  "referral.json",
]);

/**
 * Run every check. `vectors` is either an object of parsed JSON by file name
 * ({"statement.json": {...}, ...}) or a function (name) => parsed JSON (or a promise of it).
 * Returns {checks, failures, counts}: the number of checks passed, one line per failed
 * check ("file: what"), and the checks passed per file (in the order they ran).
 */
export async function checkVectors(vectors) {
  const load = typeof vectors === "function"
    ? async (name) => vectors(name)
    : async (name) => {
      if (!Object.prototype.hasOwnProperty.call(vectors, name)) throw new Error(`vector file ${name} was not given`);
      return vectors[name];
    };
  const { hexDecode: hex, hexEncode: toHex } = C;

  let passed = 0;
  const failures = [];
  const counts = {};
  function ok(cond, what, file) {
    if (cond) { passed++; counts[file] = (counts[file] ?? 0) + 1; } else failures.push(`${file}: ${what}`);
  }
  const same = (a, b, what, file) => ok(a === b, `${what}: ${a} != ${b}`, file);
  async function refuses(fn, code, what, file) {
    try {
      await fn();
      failures.push(`${file}: ${what}: accepted, expected ${code}`);
    } catch (e) {
      if (!(e instanceof C.CryptoError)) failures.push(`${file}: ${what}: ${e} (not a CryptoError), expected ${code}`);
      else same(e.code, code, what, file);
    }
  }
  async function step(what, file, fn) {
    try { await fn(); } catch (e) { failures.push(`${file}: ${what}: threw ${e?.stack ?? e}`); }
  }
  const edSeedKey = (seed) => C.SigningKeyPair.fromSeed(hex(seed));

  // -- the word list, encodings -------------------------------------------------------------
  {
    const F = "wordlist";
    same(toHex(await C.sha256(C.utf8(C.WORDS.join("\n")))), C.WORDS_SHA256, "word list digest", F);
    same(C.WORDS.length, 2048, "word count", F);
    for (const bad of ["QQ=", "QQ==", "QR", "Q", "a+b", "a/b", "A B"]) {
      await refuses(() => C.b64urlDecode(bad), "bad_encoding", `base64url ${JSON.stringify(bad)} refused`, F);
    }
    same(toHex(C.b64urlDecode("QQ")), "41", "base64url QQ", F);
    const r = C.randomBytes(100);
    for (let n = 0; n < 100; n++) same(toHex(C.b64urlDecode(C.b64urlEncode(r.slice(0, n)))), toHex(r.slice(0, n)), `base64url round trip ${n}`, F);
  }

  // -- statement.json ----------------------------------------------------------------------
  {
    const F = "statement.json";
    const v = await load(F);
    for (const e of v.valid) {
      await step(e.name, F, async () => {
        const parsed = C.keyStatementFromDict(e.transport);
        same(toHex(C.keyStatementSignedBytes(parsed)), e.signed_bytes, `${e.name} signed bytes`, F);
        same(toHex(parsed.signature), e.signature, `${e.name} signature`, F);
        const st = await C.verifyKeyStatement(e.transport, { pinnedFingerprint: e.pinned_fingerprint, kind: e.kind, at: e.at });
        same(st.subject, e.subject, e.name, F);
        same(toHex(st.publicKey.raw), e.public_key, e.name, F);
        same(st.publicKey.fingerprint, e.public_key_fingerprint, e.name, F);
        same(st.notBefore, e.not_before, e.name, F);
        same(st.notAfter, e.not_after, e.name, F);
        // Ed25519 is deterministic: the organisation key signs the same bytes again.
        const org = await edSeedKey(v.signer.private_key);
        same(toHex(await org.sign(hex(e.signed_bytes))), e.signature, `${e.name} re-signed`, F);
        same(await org.public.fingerprint(), v.signer.fingerprint, "signer fingerprint", F);
      });
    }
    for (const e of v.invalid) {
      await refuses(() => C.verifyKeyStatement(e.transport, { pinnedFingerprint: e.pinned_fingerprint, kind: e.kind, at: e.at }), e.error, e.name, F);
    }
  }

  // -- staff-statement.json -------------------------------------------------------------------
  {
    const F = "staff-statement.json";
    const v = await load(F);
    for (const e of v.valid) {
      await step(e.name, F, async () => {
        same(toHex(C.staffStatementSignedBytes(C.staffStatementFromDict(e.transport))), e.signed_bytes, e.name, F);
        const st = await C.verifyStaffStatement(e.transport, { pinnedFingerprint: e.pinned_fingerprint, at: e.at });
        same(st.subject, e.transport.subject, e.name, F);
      });
    }
    for (const e of v.invalid) {
      await refuses(() => C.verifyStaffStatement(e.transport, { pinnedFingerprint: e.pinned_fingerprint, at: e.at }), e.error, e.name, F);
    }
  }

  // -- revocation.json -------------------------------------------------------------------------
  {
    const F = "revocation.json";
    const v = await load(F);
    let current = null;
    for (const e of v.valid) {
      await step(e.name, F, async () => {
        same(toHex(C.revocationsSignedBytes(C.revocationsFromDict(e.transport))), e.signed_bytes, e.name, F);
        current = (await C.verifyRevocations(e.transport, e.pinned_fingerprint)).list;
        ok(true, e.name, F);
      });
    }
    for (const e of v.checks) {
      if (e.error === null) await step(`check ${e.fingerprint.slice(0, 8)} at ${e.at}`, F, async () => { current.check(e.fingerprint, e.at); ok(true, "usable", F); });
      else await refuses(() => current.check(e.fingerprint, e.at), e.error, `check ${e.fingerprint.slice(0, 8)} at ${e.at}`, F);
    }
    for (const e of v.invalid) await refuses(() => C.verifyRevocations(e.transport, e.pinned_fingerprint), e.error, e.name, F);
    const tracker = new C.RevocationTracker(v.signer.fingerprint);
    for (const [i, e] of v.sequence.entries()) {
      if (e.error === null) await step(`sequence ${i}`, F, async () => { await tracker.accept(e.transport); ok(true, `sequence ${i}`, F); });
      else await refuses(() => tracker.accept(e.transport), e.error, `sequence ${i}`, F);
    }
    await step("a missing list keeps the last", F, async () => same((await tracker.accept(null)).serial, v.sequence.at(-2).transport.serial, "null keeps the last", F));
  }

  // -- wrap.json + the RFC 9180 extract ---------------------------------------------------------
  {
    const F = "wrap.json";
    const v = await load(F);
    const infoOf = async (e) => {
      const rd = await C.fingerprintDigest("x25519", hex(e.recipient_public_key));
      return e.purpose === "conversation-key"
        ? C.conversationKeyInfo(rd, { conversationId: e.conversation_id, epoch: e.epoch })
        : C.teamKeyGrantInfo(rd, { period: e.period, grantee: e.grantee, teamDigest: await C.fingerprintDigest("x25519", hex(e.team_public_key)) });
    };
    const open = (e) => e.purpose === "conversation-key"
      ? C.unwrapConversationKey(hex(e.wrapped), hex(e.recipient_private_key), { conversationId: e.conversation_id, epoch: e.epoch })
      : C.unwrapTeamKeyGrant(hex(e.wrapped), hex(e.recipient_private_key), { period: e.period, grantee: e.grantee, teamPublicRaw: hex(e.team_public_key) });
    for (const e of v.valid) {
      await step(e.name, F, async () => {
        same(toHex(await infoOf(e)), e.info, `${e.name} info`, F);
        same(await C.fingerprint("x25519", hex(e.recipient_public_key)), e.recipient_fingerprint, `${e.name} fingerprint`, F);
        same(toHex(await open(e)), e.secret, e.name, F);
        if (e.purpose === "conversation-key") {
          // Our own wrap of the same secret opens again (the ephemeral key differs).
          const recipient = await C.EncryptionPublicKey.fromRaw(hex(e.recipient_public_key));
          const mine = await C.wrapConversationKey(hex(e.secret), recipient, { conversationId: e.conversation_id, epoch: e.epoch });
          same(mine.length, 82, `${e.name} JS wrap length`, F);
          same(toHex(await open({ ...e, wrapped: toHex(mine) })), e.secret, `${e.name} JS wrap opens`, F);
        }
      });
    }
    for (const e of v.invalid) {
      await step(`${e.name} info`, F, async () => same(toHex(await infoOf(e)), e.info, `${e.name} info`, F));
      await refuses(() => open(e), e.error, e.name, F);
    }
    const G = "rfc9180-base-x25519-sha256-aes256gcm.json";
    const rfc = await load(G);
    const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
    for (const [i, e] of (Array.isArray(rfc) ? rfc : rfc.vectors ?? [rfc]).entries()) {
      await step(`rfc vector ${i}`, G, async () => {
        const recipientKey = await suite.kem.importKey("raw", hex(e.skRm), false);
        const first = e.encryptions[0];
        const pt = await suite.open({ recipientKey, enc: hex(e.enc), info: hex(e.info) }, hex(first.ct), hex(first.aad));
        same(toHex(new Uint8Array(pt)), first.pt, `rfc vector ${i}`, G);
      });
    }
  }

  // -- envelope.json -----------------------------------------------------------------------------
  {
    const F = "envelope.json";
    const v = await load(F);
    const senders = new Map();
    for (const s of v.senders) senders.set(s.name, { ...s, pair: await edSeedKey(s.private_key) });
    const sender = (publicHex, role) => ({ publicKey: new C.SigningPublicKey(hex(publicHex)), role });
    for (const e of v.valid) {
      await step(e.name, F, async () => {
        const s = senders.get(e.sender);
        same(await s.pair.public.fingerprint(), e.sender_fingerprint, `${e.name} fingerprint`, F);
        same(toHex(C.pad(hex(e.plaintext))), e.padded, `${e.name} padded`, F);
        const header = C.headerBytes({ role: e.role, conversationId: e.conversation_id, epoch: e.epoch, counter: e.counter, senderDigest: hex(e.sender_fingerprint) });
        same(toHex(header), e.header, `${e.name} header`, F);
        same(toHex(C.messageAad(header)), e.aad, `${e.name} aad`, F);
        const sealed = await C.sealEnvelope(hex(e.plaintext), { epochKey: hex(e.epoch_key), conversationId: e.conversation_id,
          epoch: e.epoch, counter: e.counter, role: e.role, signingKey: s.pair, nonce: hex(e.nonce) });
        same(toHex(sealed), e.envelope, `${e.name} sealed in JS`, F);
        const parsed = C.parseEnvelope(hex(e.envelope));
        same(toHex(parsed.ciphertext), e.ciphertext, `${e.name} ciphertext`, F);
        same(toHex(C.messageSignatureInput(parsed.unsigned)), e.signature_input, `${e.name} signature input`, F);
        same(toHex(parsed.signature), e.signature, `${e.name} signature`, F);
        const opened = await C.openEnvelope(hex(e.envelope), { epochKey: hex(e.epoch_key), conversationId: e.conversation_id, epoch: e.epoch, sender: sender(e.sender_public_key, e.role) });
        same(toHex(opened.plaintext), e.plaintext, `${e.name} opened`, F);
        same(opened.counter, e.counter, `${e.name} counter`, F);
      });
    }
    for (const e of v.invalid) {
      const x = e.expect;
      await refuses(() => C.openEnvelope(hex(e.envelope), { epochKey: hex(x.epoch_key), conversationId: x.conversation_id, epoch: x.epoch, sender: sender(x.sender_public_key, x.role) }), e.error, e.name, F);
    }
    for (const r of v.reader) {
      await step(r.name, F, async () => {
        const reader = new C.TranscriptReader(r.conversation_id);
        for (const [ep, k] of Object.entries(r.epoch_keys)) reader.addEpochKey(Number(ep), hex(k));
        for (const s of r.senders) await reader.addSender(sender(s.public_key, s.role));
        for (const [i, st] of r.steps.entries()) {
          if (st.result === "ok") {
            const got = await reader.open(hex(st.envelope));
            same(toHex(got.message.plaintext), st.plaintext, `${r.name} step ${i}`, F);
            same(got.missing, st.missing, `${r.name} step ${i} missing`, F);
          } else {
            await refuses(() => reader.open(hex(st.envelope)), st.result, `${r.name} step ${i}`, F);
          }
        }
      });
    }
    // Padding edge cases beyond the vectors.
    for (const n of [0, 1, 252, 253, 508, 509, 16380]) same(C.pad(new Uint8Array(n)).length, C.bucket(n), `pad ${n}`, F);
    await refuses(() => C.unpad(new Uint8Array(300)), "bad_padding", "unpad a non-bucket size", F);
  }

  // -- epoch.json --------------------------------------------------------------------------------
  {
    const F = "epoch.json";
    const v = await load(F);
    const youth = await edSeedKey(v.youth.private_key);
    same(toHex(youth.public.raw), v.youth.public_key, "youth public key from its seed", F);
    for (const c of v.commitments) {
      same(toHex(await C.epochCommitment(hex(c.epoch_key), { conversationId: c.conversation_id, epoch: c.epoch })), c.commitment, `commitment ${c.epoch}`, F);
    }
    const cid = v.valid[0].conversation_id;
    for (const e of v.valid) {
      await step(e.name, F, async () => {
        const st = C.epochStatementFromWire(e.conversation_id, e.transport);
        same(toHex(C.epochSignedBytes(st)), e.signed_bytes, `${e.name} signed bytes`, F);
        same(st.consent ? toHex(C.consentSignedBytes(st.consent)) : "", e.consent_signed_bytes, `${e.name} consent bytes`, F);
        await C.verifyEpochStatement(st, youth.public, { conversationId: e.conversation_id, epoch: e.epoch });
        same(JSON.stringify(C.readerKinds(st)), JSON.stringify(e.reader_kinds), `${e.name} reader kinds`, F);
        await C.checkEpochKey(st, hex(e.epoch_key), e.transport.readers[0].fingerprint);
        if (st.consent) await C.verifyConsent(st.consent, youth.public);
        // Signing the same statement in JS gives the same bytes and signature.
        const again = C.epochStatementToWire(st);
        same(JSON.stringify(again), JSON.stringify(e.transport), `${e.name} to wire`, F);
        same(toHex(await youth.sign(C.epochSignedBytes(st))), e.signature, `${e.name} re-signed`, F);
        const mine = await C.signEpochStatement({ conversationId: e.conversation_id, epoch: e.epoch, epochKey: hex(e.epoch_key),
          readers: [...e.transport.readers].reverse(), consent: st.consent }, youth);
        same(toHex(mine.signature), e.signature, `${e.name} signed in JS`, F);
      });
    }
    for (const e of v.invalid) {
      await refuses(async () => {
        const st = C.epochStatementFromWire(e.conversation_id, e.transport);
        await C.verifyEpochStatement(st, new C.SigningPublicKey(hex(e.youth_public_key)), { conversationId: cid, epoch: e.epoch });
      }, e.error, e.name, F);
    }
    for (const e of v.key_checks) {
      const run = async () => C.checkEpochKey(C.epochStatementFromWire(cid, e.statement), hex(e.epoch_key), e.reader);
      if (e.error === null) await step(e.name, F, async () => { await run(); ok(true, e.name, F); });
      else await refuses(run, e.error, e.name, F);
    }
    // A consent signed in JS verifies, and is refused once a byte changes.
    await step("consent round trip", F, async () => {
      const c = await C.signConsent({ conversationId: cid, policeFingerprint: v.police_fingerprint, shareHistory: true, expiresAt: 1764550800 }, youth);
      const back = C.consentFromWire(cid, C.consentToWire(c));
      await C.verifyConsent(back, youth.public);
      ok(true, "consent verifies", F);
      await refuses(() => C.verifyConsent({ ...back, shareHistory: false }, youth.public), "bad_signature", "consent changed", F);
    });
  }

  // -- return-code.json (each distinct code costs one scrypt of 64 MiB: cached) -----------------
  {
    const F = "return-code.json";
    const v = await load(F);
    const cache = new Map();
    const keysFor = async (code) => { if (!cache.has(code)) cache.set(code, await C.deriveCodeKeys(code)); return cache.get(code); };
    same(C.SCRYPT.N, v.kdf.n, "scrypt N", F);
    same(C.SCRYPT.r, v.kdf.r, "scrypt r", F);
    for (const e of v.valid) {
      await step(e.name, F, async () => {
        const [lookup, secret] = C.splitCode(e.code);
        same(lookup, e.lookup, `${e.name} lookup`, F);
        same(secret, e.secret, `${e.name} secret`, F);
        same(toHex(C.kdfSalt(lookup)), e.kdf_salt, `${e.name} salt`, F);
        const k = await keysFor(e.code);
        same(toHex(k.master), e.master, `${e.name} master`, F);
        same(toHex(k.proof), e.proof, `${e.name} proof`, F);
        same(toHex(k.verifier), e.verifier, `${e.name} verifier`, F);
        same(toHex(await k.wrapKey(e.conversation_id)), e.wrap_key, `${e.name} wrap key`, F);
        same(toHex(C.codeWrapAad(e.conversation_id)), e.aad, `${e.name} aad`, F);
        same(toHex(await C.sealPayloadForVectors(k, e.conversation_id, C.utf8(e.payload_text), hex(e.nonce))), e.blob, `${e.name} blob sealed in JS`, F);
        const got = await C.unwrapWithCode(hex(e.blob), k, e.conversation_id);
        same(toHex(got.signingSeed), e.contents.signing_private_key, `${e.name} signing`, F);
        same((await C.SigningKeyPair.fromSeed(got.signingSeed)).public.raw.length, 32, `${e.name} signing key`, F);
        same(toHex((await C.SigningKeyPair.fromSeed(got.signingSeed)).public.raw), e.contents.signing_public_key, `${e.name} signing public`, F);
        same(got.epoch, e.contents.epoch, `${e.name} epoch`, F);
        same(JSON.stringify(Object.fromEntries([...got.epochKeys].map(([ep, key]) => [String(ep), toHex(key)]))), JSON.stringify(e.contents.epoch_keys), `${e.name} epoch keys`, F);
        const police = got.police ? { fingerprint: got.police.fingerprint, expires_at: got.police.expiresAt, share_history: got.police.shareHistory } : null;
        same(JSON.stringify(police), JSON.stringify(e.contents.police), `${e.name} police`, F);
        // What JS wraps opens again, and says what Python's payload says (the spelling
        // may differ: Python's json.dumps puts spaces after ':' and ',').
        same(new TextDecoder().decode(C.codeWrapPayload(got)), JSON.stringify(JSON.parse(e.payload_text)), `${e.name} payload`, F);
        const mine = await C.wrapForCode(k, e.conversation_id, got);
        same((await C.unwrapWithCode(mine, k, e.conversation_id)).epoch, e.contents.epoch, `${e.name} JS wrap opens`, F);
      });
    }
    for (const e of v.invalid) await refuses(async () => C.unwrapWithCode(hex(e.blob), await keysFor(e.code), e.conversation_id), e.error, e.name, F);
    for (const e of v.invalid_codes) await refuses(() => C.deriveCodeKeys(e.code), e.error, e.name, F);
    await step("new codes", F, async () => { for (let i = 0; i < 20; i++) same(C.splitCode(C.newCode()).length, 2, "a new code splits", F); });
  }

  // -- referral cards (plaintext.js) ---------------------------------------------------------
  {
    const F = "referral.json";
    const v = await load(F);
    const read = (text) => C.readReferral(C.readPlaintext(C.utf8(text)));
    for (const e of v.valid) {
      await step(e.name, F, async () => {
        same(JSON.stringify(read(e.plaintext)), JSON.stringify(e.card), `${e.name} card`, F);
        same(JSON.stringify(read(C.fromUtf8(C.referralPlaintext(e.card)))), JSON.stringify(e.card), `${e.name} sent as is`, F);
      });
    }
    for (const e of v.invalid) {
      await refuses(() => read(e.plaintext), e.error, e.name, F);
      const data = JSON.parse(e.plaintext);
      if (data.referral && typeof data.referral === "object" && !Array.isArray(data.referral) && Object.keys(data).length === 2) {
        await refuses(() => C.referralPlaintext(data.referral), e.error, `${e.name} (not sent)`, F);
      }
    }
  }

  return { checks: passed, failures, counts };
}
