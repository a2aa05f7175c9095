// A staff device's keyring in JavaScript: the port of StaffKeyring in
// helpline/crypto/keyring.py (docs/crypto.md, "Keyrings", "What a staff or police
// client checks"). Browser-safe, in memory only; every primitive comes from the
// widget's crypto modules (widgets/src/crypto/), nothing is re-implemented here.
//
//   const ring = await StaffKeyring.generate(username, pinnedFingerprint);
//   await ring.fingerprints();         // {encryption, signing}: read them to the admin
//   await ring.loadGrants(keysAnswer); // the `keys` answer of /staff -> subjects unlocked
//   const v = await ring.verifiedEpochs(conversationId, conversationKeys);
//   const reader = await ring.reader(conversationId, conversationKeys);
//   const sealer = ring.sealer(conversationId, epoch, v.keys.get(epoch), "counsellor", counter);
import {
  CryptoError, EncryptionPublicKey, EnvelopeSealer, RevocationTracker, STAFF_ROLES, SigningKeyPair,
  SigningPublicKey, TranscriptReader, b64urlDecode, b64urlEncode, checkEpochKey, epochStatementFromWire,
  fail, hexEncode, isInt, subtle, unwrapConversationKey, unwrapTeamKeyGrant,
  verifyEpochStatement, verifyKeyStatement, verifyStaffStatement,
} from "../../../widgets/src/crypto/index.js";

/** The name a staff reader gives the young person's signature (keyring.py). */
export const YOUTH_NAME = "young person";

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/** Base64url text of the wire as bytes (bad_encoding for anything else). */
function bytesOf(value, what) {
  if (typeof value !== "string") fail("bad_encoding", `${what} must be base64url text`);
  return b64urlDecode(value);
}

/**
 * An X25519 key pair made with WebCrypto. The raw private key stays in this object's
 * memory (HPKE opens wraps with it, through @hpke/core); wipe() clears it.
 */
export class EncryptionKeyPair {
  constructor(privateRaw, publicKey) {
    this.privateRaw = privateRaw;
    this.public = publicKey; // EncryptionPublicKey: raw, fingerprint, digest
  }
  static async generate() {
    const pair = await subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
    const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey));
    const privateRaw = pkcs8.slice(pkcs8.length - 32);
    pkcs8.fill(0);
    const publicRaw = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
    return new EncryptionKeyPair(privateRaw, await EncryptionPublicKey.fromRaw(publicRaw));
  }
  wipe() { this.privateRaw?.fill(0); this.privateRaw = null; }
}

/** What a staff device may use of a conversation's epochs, and what it refused. */
export class VerifiedEpochs {
  constructor() {
    this.keys = new Map(); // epoch -> 32-byte epoch key
    this.statements = new Map(); // epoch -> epoch statement whose signature verified
    this.refused = new Map(); // epoch -> CryptoError
  }
  /** A later epoch's consent shares earlier messages with this police key. */
  historySharedWith(policeFingerprint, epoch) {
    for (const [later, st] of this.statements) {
      if (later > epoch && st.consent && st.consent.shareHistory && st.consent.policeFingerprint === policeFingerprint) return true;
    }
    return false;
  }
  /** The newest verified statement, or null. */
  latest() {
    if (!this.statements.size) return null;
    return this.statements.get(Math.max(...this.statements.keys()));
  }
}

export class StaffKeyring {
  /** `encryption`: an EncryptionKeyPair; `signing`: a SigningKeyPair (widgets keys.js). */
  constructor({ username, pinnedFingerprint, encryption, signing }) {
    if (!/^[0-9a-f]{64}$/.test(pinnedFingerprint ?? "")) fail("bad_encoding", "the pinned fingerprint is 64 lowercase hex digits");
    this.username = username;
    this.pinnedFingerprint = pinnedFingerprint;
    this.encryption = encryption;
    this.signing = signing;
    this.unitKeys = new Map(); // fingerprint of a team or police public key -> EncryptionKeyPair
    this.revocations = new RevocationTracker(pinnedFingerprint); // the newest list seen
  }

  static async generate(username, pinnedFingerprint) {
    return new StaffKeyring({ username, pinnedFingerprint, encryption: await EncryptionKeyPair.generate(),
                              signing: await SigningKeyPair.generate() });
  }

  /** Both fingerprints, as the device shows them for `helpline keys approve`. */
  async fingerprints() {
    return { encryption: this.encryption.public.fingerprint, signing: await this.signing.public.fingerprint() };
  }

  /** The payload of `register_device`. */
  registration() {
    return { encryption_key: b64urlEncode(this.encryption.public.raw), signing_key: b64urlEncode(this.signing.public.raw) };
  }

  /**
   * Unwrap every grant whose statement the pinned key signed; returns the subjects.
   * `myKeys` is the staff `keys` answer. As in Python, statements are checked without
   * a time (a retired period still opens its old conversations) and a grant without a
   * statement is skipped. The revocation list that comes with the answer is checked
   * (pin, signature, no rollback: a bad one raises) and kept for the readers; a listed
   * team key is still loaded, since old conversations were wrapped for it, and the
   * widget never encrypts to it again (docs/crypto.md, "Revocation list").
   */
  async loadGrants(myKeys) {
    await this.revocations.accept(myKeys?.revocations ?? null);
    const statements = new Map();
    for (const [period, data] of Object.entries(isObject(myKeys?.team) ? myKeys.team : {})) {
      statements.set(period, { data, kind: "team-key" });
    }
    const police = myKeys?.police;
    if (isObject(police)) statements.set(String(police.subject), { data: police, kind: "police-key" });
    const loaded = [];
    for (const [subject, wrap] of Object.entries(isObject(myKeys?.grants) ? myKeys.grants : {})) {
      const entry = statements.get(subject);
      if (!entry) continue;
      const st = await verifyKeyStatement(entry.data, { pinnedFingerprint: this.pinnedFingerprint, kind: entry.kind, at: null });
      const privateRaw = await unwrapTeamKeyGrant(bytesOf(wrap, "a grant"), this.encryption.privateRaw,
        { period: subject, grantee: this.username, teamPublicRaw: st.publicKey.raw });
      this.unitKeys.set(st.publicKey.fingerprint, new EncryptionKeyPair(privateRaw, st.publicKey));
      loaded.push(subject);
    }
    return loaded;
  }

  /** Every verified epoch key of the conversation wrapped for a key this device holds. */
  async epochKeys(conversationId, conversationKeys) {
    return (await this.verifiedEpochs(conversationId, conversationKeys)).keys;
  }

  /**
   * The epoch keys this device may use, each checked against the young person's signed
   * epoch statement: it verifies with the conversation's signing key, names this
   * device's unit key as a reader (or, for the police, a later consent shares history),
   * and commits to exactly the unwrapped key. Failed epochs are in `refused`.
   */
  async verifiedEpochs(conversationId, conversationKeys) {
    const out = new VerifiedEpochs();
    const youth = conversationKeys?.youth_signing_key;
    const youthKey = youth ? new SigningPublicKey(bytesOf(youth, "youth_signing_key")) : null;
    for (const data of conversationKeys?.statements ?? []) {
      const epoch = isObject(data) ? data.epoch : undefined;
      if (!isInt(epoch, -(2 ** 53), 2 ** 53) || youthKey === null) continue;
      try {
        out.statements.set(epoch, await verifyEpochStatement(epochStatementFromWire(conversationId, data), youthKey,
          { conversationId, epoch }));
      } catch (e) {
        if (!(e instanceof CryptoError)) throw e;
        out.refused.set(epoch, e);
      }
    }
    for (const item of conversationKeys?.wraps ?? []) {
      const fp = String(item?.recipient), epoch = Number(item?.epoch);
      const pair = this.unitKeys.get(fp);
      if (!pair || out.keys.has(epoch)) continue;
      const st = out.statements.get(epoch);
      let key;
      try {
        if (!st) throw out.refused.get(epoch) ?? new CryptoError("epoch_unverified");
        key = await unwrapConversationKey(bytesOf(item.wrap, "a wrap"), pair.privateRaw, { conversationId, epoch });
        // An earlier epoch's key reaches the police only as shared history: then the
        // later, signed consent vouches for it, the commitment for the key.
        const shared = out.historySharedWith(fp, epoch);
        await checkEpochKey(st, key, shared ? null : fp);
      } catch (e) {
        if (!(e instanceof CryptoError)) throw e;
        out.refused.set(epoch, e);
        continue;
      }
      out.refused.delete(epoch);
      out.keys.set(epoch, key);
    }
    return out;
  }

  /**
   * A transcript reader with the verified epoch keys (refused epochs report their
   * reason), the young person's key and the staff the pinned key vouched for. Each
   * sender carries its `name`; staff senders their window and revocation time, which
   * the caller checks per message at its sent_at (staffRefusalAt).
   */
  async reader(conversationId, conversationKeys) {
    const reader = new TranscriptReader(conversationId);
    const verified = await this.verifiedEpochs(conversationId, conversationKeys);
    for (const [epoch, key] of verified.keys) reader.addEpochKey(epoch, key);
    for (const [epoch, error] of verified.refused) reader.refuseEpoch(epoch, error);
    const youth = conversationKeys?.youth_signing_key;
    if (youth) await reader.addSender({ publicKey: new SigningPublicKey(bytesOf(youth, "youth_signing_key")), role: "youth", name: YOUTH_NAME });
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

  /** Seal this device's messages in one epoch, continuing its counter there. */
  sealer(conversationId, epoch, epochKey, role, nextCounter) {
    if (role !== "counsellor" && role !== "police") fail("wrong_role", "a staff device speaks as counsellor or police");
    return new EnvelopeSealer({ epochKey, conversationId, epoch, role, signingKey: this.signing, nextCounter });
  }

  wipe() {
    for (const pair of this.unitKeys.values()) pair.wipe();
    this.unitKeys.clear();
    this.encryption?.wipe();
    this.signing?.wipe();
  }
}
