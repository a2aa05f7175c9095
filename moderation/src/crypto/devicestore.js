// What a staff device keeps across reloads, in IndexedDB (one database per server
// origin, as IndexedDB is): docs/crypto.md, "Staff device backup".
//
// - per username, the device keys as NON-EXTRACTABLE CryptoKeys (X25519 private with
//   ["deriveBits"], Ed25519 private with ["sign"]) and their raw public keys: script on
//   the page (an injected one too) can use them but never read them out. The browser
//   itself keeps the key bytes in the profile's IndexedDB files (Chromium: unencrypted
//   in its leveldb), so this does not protect against whoever reads the disk: that is
//   the managed device's job (disk encryption, its own OS account). A young person's
//   device keeps nothing (the widget stores no keys).
// - per conversation id, the young person's signing key (public) first seen there, so a
//   reload does not reset trust on first use (`key_changed` for another key), with the
//   time it was last used: entries unused for 60 days are deleted on open.
//
//   const store = await DeviceStore.open(indexedDB);
//   const ring = await store.loadKeyring(username, pin);   // a StaffKeyring or null
//   await store.saveKeyring(keyring);        // only non-extractable keys (generateForDevice, fromBackup)
//   await store.forget(username);
//   await store.youthKey(cid);               // Uint8Array or null
//   await store.pinYouthKey(cid, raw);       // key_changed if another key is pinned
//   new StaffChat({ ..., keyring: ring, youthPins: store });   // get/set below
import { CryptoError, equalBytes, fail } from "../../../widgets/src/crypto/index.js";
import { StaffKeyring } from "./staffkeyring.js";

export const DB_NAME = "helpline-console";
const DB_VERSION = 1;
const DEVICES = "devices";
const YOUTH = "youthKeys";
/** A pinned young person's key unused this long is forgotten (the chat is long over). */
export const YOUTH_PIN_MAX_AGE_MS = 60 * 24 * 3600 * 1000;

const isNonExtractable = (key, algorithm) => key instanceof CryptoKey && key.type === "private"
  && key.algorithm?.name === algorithm && key.extractable === false;

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export class DeviceStore {
  constructor(db, { now }) {
    this._db = db;
    this._now = now;
  }

  /**
   * Open (and on first use create) the database; prunes young people's keys unused for
   * `maxAgeMs`. `factory` is the page's `indexedDB`; `now` (ms) is for tests.
   */
  static async open(factory = globalThis.indexedDB, { name = DB_NAME, maxAgeMs = YOUTH_PIN_MAX_AGE_MS, now = () => Date.now() } = {}) {
    if (!factory?.open) throw new TypeError("DeviceStore needs IndexedDB");
    const opening = factory.open(name, DB_VERSION);
    opening.onupgradeneeded = () => {
      const db = opening.result;
      if (!db.objectStoreNames.contains(DEVICES)) db.createObjectStore(DEVICES, { keyPath: "username" });
      if (!db.objectStoreNames.contains(YOUTH)) {
        db.createObjectStore(YOUTH, { keyPath: "conversationId" }).createIndex("lastUsed", "lastUsed");
      }
    };
    const db = await request(opening);
    // Another tab upgrading the schema later must not be blocked by this one.
    db.onversionchange = () => db.close();
    const store = new DeviceStore(db, { now });
    await store.prune(now() - maxAgeMs);
    return store;
  }

  /** Run `body(transaction, done)` and settle when the transaction completes. */
  _run(stores, mode, body) {
    return new Promise((resolve, reject) => {
      const t = this._db.transaction(stores, mode);
      let result, refusal = null;
      t.oncomplete = () => resolve(result);
      t.onabort = () => reject(refusal ?? t.error ?? new Error("the IndexedDB transaction was aborted"));
      t.onerror = () => {}; // onabort follows and rejects
      body(t, (value) => { result = value; }, (error) => { refusal = error; t.abort(); });
    });
  }

  // -- device keys -----------------------------------------------------------------------
  /**
   * The stored keyring of `username`, or null if this device has none. Keys stored for
   * a console pinned to another organisation key are refused (wrong_organisation).
   */
  async loadKeyring(username, pinnedFingerprint) {
    const record = await this._run([DEVICES], "readonly", (t, done) => {
      t.objectStore(DEVICES).get(username).onsuccess = (e) => done(e.target.result ?? null);
    });
    if (!record) return null;
    if (record.pinnedFingerprint !== pinnedFingerprint) fail("wrong_organisation", "these keys were made for another organisation's console");
    return StaffKeyring.fromCryptoKeys({
      username: record.username, pinnedFingerprint: record.pinnedFingerprint,
      encryptionPrivateKey: record.encryptionPrivateKey, encryptionPublic: new Uint8Array(record.encryptionPublic),
      signingPrivateKey: record.signingPrivateKey, signingPublic: new Uint8Array(record.signingPublic),
    });
  }

  /**
   * Keep a keyring's device keys (replacing what `username` had). Only a keyring of
   * non-extractable keys is taken (StaffKeyring.generateForDevice / fromBackup), never
   * raw private bytes: invalid_key otherwise.
   */
  async saveKeyring(keyring) {
    const pair = keyring?.encryption?.cryptoKeyPair;
    const signing = keyring?.signing;
    if (keyring?.encryption?.privateRaw || !isNonExtractable(pair?.privateKey, "X25519")
        || signing?.seed || !isNonExtractable(signing?.privateKey, "Ed25519")) {
      fail("invalid_key", "only non-extractable device keys are stored");
    }
    const record = {
      username: keyring.username, pinnedFingerprint: keyring.pinnedFingerprint,
      encryptionPrivateKey: pair.privateKey, encryptionPublic: keyring.encryption.public.raw.slice(),
      signingPrivateKey: signing.privateKey, signingPublic: signing.public.raw.slice(), savedAt: this._now(),
    };
    await this._run([DEVICES], "readwrite", (t) => { t.objectStore(DEVICES).put(record); });
  }

  /** Delete `username`'s device keys from this device (sign-out for good, a lost backup). */
  async forget(username) {
    await this._run([DEVICES], "readwrite", (t) => { t.objectStore(DEVICES).delete(username); });
  }

  // -- young people's signing keys, pinned per conversation -------------------------------
  /** The key pinned for `conversationId` (a Uint8Array), or null; marks it used now. */
  youthKey(conversationId) {
    return this._run([YOUTH], "readwrite", (t, done) => {
      const os = t.objectStore(YOUTH);
      os.get(String(conversationId)).onsuccess = (e) => {
        const entry = e.target.result;
        if (!entry) return done(null);
        os.put({ ...entry, lastUsed: this._now() });
        done(new Uint8Array(entry.raw));
      };
    });
  }

  /**
   * Pin `raw` (the 32-byte public key) for `conversationId` if none is pinned; the same
   * key again only marks it used; another key is refused with key_changed.
   */
  pinYouthKey(conversationId, raw) {
    if (!(raw instanceof Uint8Array) || raw.length !== 32) fail("invalid_key", "an Ed25519 public key is 32 bytes");
    return this._run([YOUTH], "readwrite", (t, done, refuse) => {
      const os = t.objectStore(YOUTH);
      const id = String(conversationId);
      os.get(id).onsuccess = (e) => {
        const entry = e.target.result;
        if (entry && !equalBytes(new Uint8Array(entry.raw), raw)) {
          refuse(new CryptoError("key_changed", "the young person's signing key changed: not trusted"));
          return;
        }
        os.put({ conversationId: id, raw: entry ? entry.raw : raw.slice(), lastUsed: this._now() });
        done(true);
      };
    });
  }

  /** StaffChat's `youthPins` interface: get(cid) -> raw or null, set(cid, raw). */
  get(conversationId) { return this.youthKey(conversationId); }
  set(conversationId, raw) { return this.pinYouthKey(conversationId, raw); }

  /** Delete pins last used before `beforeMs`; returns how many. */
  prune(beforeMs) {
    return this._run([YOUTH], "readwrite", (t, done) => {
      let n = 0;
      const cursor = t.objectStore(YOUTH).index("lastUsed").openCursor(IDBKeyRange.upperBound(beforeMs, true));
      cursor.onsuccess = (e) => {
        const c = e.target.result;
        if (!c) return done(n);
        c.delete();
        n++;
        c.continue();
      };
    });
  }

  close() { this._db.close(); }
}

