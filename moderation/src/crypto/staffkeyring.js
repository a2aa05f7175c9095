// A staff device's keyring in JavaScript: the port of StaffKeyring in
// helpline/crypto/keyring.py (docs/crypto.md, "Keyrings", "What a staff or police
// client checks"). Browser-safe; every primitive comes from the widget's crypto modules
// (widgets/src/crypto/), nothing is re-implemented here. `generate` keeps raw keys in
// memory (tests, Node); a console device uses `generateForDevice` (raw keys only once,
// for the backup file, then non-extractable CryptoKeys that devicestore.js keeps),
// `fromBackup` on another device, and DeviceStore.loadKeyring after a reload.
//
//   const ring = await StaffKeyring.generate(username, pinnedFingerprint);
//   const { keyring, backupMaterial } = await StaffKeyring.generateForDevice(username, pin);
//   await ring.fingerprints();         // {encryption, signing}: read them to the admin
//   await ring.loadGrants(keysAnswer); // the `keys` answer of /staff -> subjects unlocked
//   const v = await ring.verifiedEpochs(conversationId, conversationKeys);
//   const reader = await ring.reader(conversationId, conversationKeys);
//   const sealer = ring.sealer(conversationId, epoch, v.keys.get(epoch), "counsellor", counter);
import {
  CryptoError, EncryptionPublicKey, EnvelopeSealer, RevocationTracker, STAFF_ROLES, SigningKeyPair,
  SigningPublicKey, TranscriptReader, b64urlDecode, b64urlEncode, checkEpochKey, concat, epochStatementFromWire,
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
 * An X25519 key pair made with WebCrypto. Either the raw private key stays in this
 * object's memory (HPKE opens wraps with it, through @hpke/core; team and police unit
 * keys from grants), or, for a staff device's own key, only a non-extractable
 * CryptoKeyPair {privateKey, publicKey} (kept in IndexedDB, devicestore.js): no raw
 * bytes for script to read. wipe() forgets either.
 */
export class EncryptionKeyPair {
  constructor(privateRaw, publicKey, cryptoKeyPair = null) {
    this.privateRaw = privateRaw;
    this.public = publicKey; // EncryptionPublicKey: raw, fingerprint, digest
    this.cryptoKeyPair = cryptoKeyPair;
  }
  static async generate() {
    const pair = await subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
    const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey));
    const privateRaw = pkcs8.slice(pkcs8.length - 32);
    pkcs8.fill(0);
    const publicRaw = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
    return new EncryptionKeyPair(privateRaw, await EncryptionPublicKey.fromRaw(publicRaw));
  }
  /** From a stored non-extractable X25519 private CryptoKey and the raw public key. */
  static async fromCryptoKey(privateKey, publicRaw) {
    if (privateKey?.type !== "private" || privateKey.algorithm?.name !== "X25519") fail("invalid_key", "an X25519 private CryptoKey");
    const publicKey = await subtle.importKey("raw", publicRaw, { name: "X25519" }, true, []);
    return new EncryptionKeyPair(null, await EncryptionPublicKey.fromRaw(publicRaw), { privateKey, publicKey });
  }
  /** What wrap.js opens with: the raw key, or the CryptoKeyPair. */
  recipient() {
    const r = this.privateRaw ?? this.cryptoKeyPair;
    if (!r) fail("invalid_key", "this key pair was wiped");
    return r;
  }
  wipe() { this.privateRaw?.fill(0); this.privateRaw = null; this.cryptoKeyPair = null; }
}

const PKCS8_X25519 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const PKCS8_ED25519 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/**
 * Import raw device keys as non-extractable CryptoKeys: {encryption, signing}, an
 * EncryptionKeyPair and a SigningKeyPair that hold no raw private bytes. The PKCS#8
 * buffers are wiped; the caller wipes its raw keys.
 */
async function importDeviceKeys(encryptionPrivate, signingSeed, encryptionPublic, signingPublic) {
  const x = concat(PKCS8_X25519, encryptionPrivate);
  const e = concat(PKCS8_ED25519, signingSeed);
  try {
    const xKey = await subtle.importKey("pkcs8", x, { name: "X25519" }, false, ["deriveBits"]);
    const eKey = await subtle.importKey("pkcs8", e, { name: "Ed25519" }, false, ["sign"]);
    return { encryption: await EncryptionKeyPair.fromCryptoKey(xKey, encryptionPublic), signing: new SigningKeyPair(null, eKey, signingPublic) };
  } finally {
    x.fill(0);
    e.fill(0);
  }
}

/**
 * What a new device's backup file is made of, handed out once by
 * StaffKeyring.generateForDevice: {username, pinnedFingerprint, encryptionPrivate,
 * signingSeed} (raw 32 bytes each). wipe() zeroes the raw keys: call it as soon as the
 * backup file is made (makeBackup in backup.js), or refused.
 */
class BackupMaterial {
  constructor(username, pinnedFingerprint, encryptionPrivate, signingSeed) {
    Object.assign(this, { username, pinnedFingerprint, encryptionPrivate, signingSeed });
  }
  wipe() {
    this.encryptionPrivate?.fill(0);
    this.signingSeed?.fill(0);
    this.encryptionPrivate = null;
    this.signingSeed = null;
  }
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

  /**
   * A new device: {keyring, backupMaterial}. The keyring holds only non-extractable
   * CryptoKeys (save it with DeviceStore.saveKeyring); backupMaterial holds the raw
   * private keys this once, for makeBackup (backup.js), and must be wiped after it.
   */
  static async generateForDevice(username, pinnedFingerprint) {
    const x = await EncryptionKeyPair.generate();
    const s = await SigningKeyPair.generate();
    const material = new BackupMaterial(username, pinnedFingerprint, x.privateRaw.slice(), s.seed.slice());
    try {
      const keys = await importDeviceKeys(x.privateRaw, s.seed, x.public.raw, s.public.raw);
      return { keyring: new StaffKeyring({ username, pinnedFingerprint, ...keys }), backupMaterial: material };
    } catch (e) {
      material.wipe();
      throw e;
    } finally {
      x.wipe();
      s.wipe();
    }
  }

  /**
   * A keyring from an opened backup (openBackup in backup.js), imported as
   * non-extractable keys; the opened backup is wiped. Its username and pin are the
   * backup's (openBackup already checked the pin).
   */
  static async fromBackup(opened) {
    try {
      const keys = await importDeviceKeys(opened.encryptionPrivate, opened.signingSeed, opened.encryptionPublic, opened.signingPublic);
      return new StaffKeyring({ username: opened.username, pinnedFingerprint: opened.pinnedFingerprint, ...keys });
    } finally {
      opened.wipe?.();
    }
  }

  /**
   * A keyring from stored CryptoKeys (DeviceStore.loadKeyring): the X25519 private key
   * (["deriveBits"]) and Ed25519 private key (["sign"]), with their raw public keys.
   */
  static async fromCryptoKeys({ username, pinnedFingerprint, encryptionPrivateKey, encryptionPublic, signingPrivateKey, signingPublic }) {
    if (signingPrivateKey?.type !== "private" || signingPrivateKey.algorithm?.name !== "Ed25519") fail("invalid_key", "an Ed25519 private CryptoKey");
    return new StaffKeyring({ username, pinnedFingerprint, encryption: await EncryptionKeyPair.fromCryptoKey(encryptionPrivateKey, encryptionPublic),
                              signing: new SigningKeyPair(null, signingPrivateKey, signingPublic) });
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
      const privateRaw = await unwrapTeamKeyGrant(bytesOf(wrap, "a grant"), this.encryption.recipient(),
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
        key = await unwrapConversationKey(bytesOf(item.wrap, "a wrap"), pair.recipient(), { conversationId, epoch });
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
