// The young person's keyring (helpline/crypto/keyring.py, YouthKeyring): in memory
// only. It trusts a team key only if a statement signed by the pinned organisation key
// names it (valid now, not revoked), makes each epoch key, wraps it for verified keys
// only, signs the epoch statement, seals messages, and builds transcript readers.
import { fail, CryptoError } from "./errors.js";
import { b64urlEncode, hexEncode } from "./encoding.js";
import { SigningKeyPair, generateEpochKey } from "./keys.js";
import { verifyKeyStatement, verifyStaffStatement, RevocationTracker, STAFF_ROLES } from "./statements.js";
import { signEpochStatement, epochStatementToWire, readerKinds } from "./epochs.js";
import { wrapConversationKey } from "./wrap.js";
import { EnvelopeSealer, TranscriptReader } from "./envelope.js";

export class YouthKeyring {
  constructor(pinnedFingerprint) {
    if (!/^[0-9a-f]{64}$/.test(pinnedFingerprint ?? "")) fail("bad_encoding", "the pinned fingerprint is 64 lowercase hex digits");
    this.pinnedFingerprint = pinnedFingerprint;
    this.signing = null; // SigningKeyPair, made by init() or restore()
    this.epochKeys = new Map();
    this.epoch = 0;
    this.sealer = null;
    this.statement = null; // of the current epoch, as this client signed it
    this.revocations = new RevocationTracker(pinnedFingerprint);
  }
  async init() { this.signing ??= await SigningKeyPair.generate(); return this; }

  /** The current team key (EncryptionPublicKey), only if the pinned key signed it. */
  async trustedTeamKey(directory, now) {
    const data = directory?.team;
    if (data === null || typeof data !== "object") fail("statement_not_valid", "the helpline published no team key");
    const st = await verifyKeyStatement(data, { pinnedFingerprint: this.pinnedFingerprint, kind: "team-key", at: now });
    (await this.revocations.accept(directory.revocations ?? null)).check(st.publicKey.fingerprint, now);
    return st.publicKey;
  }

  /** The police key of an offer or the directory, verified and not revoked. */
  async trustedPoliceKey(statement, directory, now) {
    const st = await verifyKeyStatement(statement, { pinnedFingerprint: this.pinnedFingerprint, kind: "police-key", at: now });
    (await this.revocations.accept(directory?.revocations ?? null)).check(st.publicKey.fingerprint, now);
    return st.publicKey;
  }

  /** The next epoch: key, wraps for the verified readers, signed statement -> payload of `epoch`. */
  async newEpoch(conversationId, team, police = null, consent = null) {
    await this.init();
    const epoch = this.epoch + 1;
    const key = generateEpochKey();
    const readers = [{ kind: "team", fingerprint: team.fingerprint }];
    if (police) readers.push({ kind: "police", fingerprint: police.fingerprint });
    const statement = await signEpochStatement({ conversationId, epoch, epochKey: key, readers, consent }, this.signing);
    const recipients = police ? [team, police] : [team];
    const wraps = [];
    for (const r of recipients) {
      wraps.push({ recipient: r.fingerprint, wrap: b64urlEncode(await wrapConversationKey(key, r, { conversationId, epoch })) });
    }
    this.epoch = epoch;
    this.epochKeys.set(epoch, key);
    this.statement = statement;
    this.sealer = new EnvelopeSealer({ epochKey: key, conversationId, epoch, role: "youth", signingKey: this.signing });
    const payload = { epoch, wraps, statement: epochStatementToWire(statement) };
    if (epoch === 1) payload.signing_key = b64urlEncode(this.signing.public.raw);
    return payload;
  }

  get readers() { return this.statement ? readerKinds(this.statement) : []; }

  sealText(text) { return this.sealPlaintext(textPlaintext(text)); }
  sealPlaintext(bytes) {
    if (!this.sealer) fail("crypto_error", "no epoch key yet");
    return this.sealer.seal(bytes);
  }

  /** Take back keys unwrapped with a return code, and continue the count. */
  async restore(conversationId, seed, epochKeys, epoch, nextCounter) {
    this.signing = await SigningKeyPair.fromSeed(seed);
    this.epochKeys = new Map(epochKeys);
    this.epoch = epoch;
    this.sealer = new EnvelopeSealer({ epochKey: this.epochKeys.get(epoch), conversationId, epoch, role: "youth", signingKey: this.signing, nextCounter });
  }

  /** A reader with this device's epoch keys, itself, and the vouched-for staff. */
  async reader(conversationId, conversationKeys) {
    const reader = new TranscriptReader(conversationId);
    for (const [epoch, key] of this.epochKeys) reader.addEpochKey(epoch, key);
    await reader.addSender({ publicKey: this.signing.public, role: "youth" });
    const revocations = await this.revocations.accept(conversationKeys?.revocations ?? null);
    for (const data of conversationKeys?.staff ?? []) {
      let st;
      try {
        st = await verifyStaffStatement(data, { pinnedFingerprint: this.pinnedFingerprint, at: null });
      } catch (e) {
        if (e instanceof CryptoError) continue; // not vouched for: its messages stay unknown_sender
        throw e;
      }
      const role = STAFF_ROLES[st.role];
      if (!role) continue;
      const known = reader.sender(hexEncode(await st.signingKey.digest()));
      if (known && known.role !== role) continue;
      await reader.addSender({ publicKey: st.signingKey, role, name: st.subject, notBefore: st.notBefore,
        notAfter: st.notAfter, revokedAt: revocations.revokedAt(await st.signingKey.fingerprint()) });
    }
    return reader;
  }

  wipe() {
    for (const k of this.epochKeys.values()) k.fill(0);
    this.epochKeys.clear();
    this.signing?.wipe();
    this.signing = null;
    this.sealer = null;
    this.statement = null;
  }
}

/** The refusal code for a staff message stamped `at` (Unix s), or null (keyring.py VouchedSender). */
export function staffRefusalAt(sender, at) {
  if (sender.notBefore === undefined) return null;
  if (sender.revokedAt !== null && sender.revokedAt !== undefined && at >= sender.revokedAt) return "key_revoked";
  if (!(sender.notBefore <= at && at <= sender.notAfter)) return "statement_not_valid";
  return null;
}
