// Keys (helpline/crypto/keys.py): Ed25519 signing keys (WebCrypto), X25519 public
// keys (raw bytes, used through HPKE), epoch keys. Private keys live in memory only.
import { fail, CryptoError } from "./errors.js";
import { subtle, b64urlDecode, concat, hexDecode, fingerprint, fingerprintDigest, randomBytes, KEY_BYTES, SIGNATURE_BYTES } from "./encoding.js";

const PKCS8_ED25519 = hexDecode("302e020100300506032b657004220420");

export class SigningPublicKey {
  constructor(raw) {
    if (!(raw instanceof Uint8Array) || raw.length !== KEY_BYTES) fail("invalid_key", "an Ed25519 public key is 32 bytes");
    this.raw = raw;
  }
  async digest() { return this._d ??= await fingerprintDigest("ed25519", this.raw); }
  async fingerprint() { return fingerprint("ed25519", this.raw); }
}

export class SigningKeyPair {
  // A staff device's stored key: new SigningKeyPair(null, nonExtractableCryptoKey, publicRaw)
  // (seed null: nothing raw in memory; it signs all the same).
  constructor(seed, privateKey, publicRaw) {
    this.seed = seed; // the raw 32-byte private key (wrapped under a return code)
    this.privateKey = privateKey;
    this.public = new SigningPublicKey(publicRaw);
  }
  static async generate() {
    const pair = await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
    const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey));
    const seed = pkcs8.slice(pkcs8.length - 32);
    const publicRaw = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
    return new SigningKeyPair(seed, pair.privateKey, publicRaw);
  }
  static async fromSeed(seed) {
    if (!(seed instanceof Uint8Array) || seed.length !== KEY_BYTES) fail("invalid_key", "an Ed25519 private key is 32 bytes");
    // Import extractable once to learn the public key (JWK x), then keep the key.
    const privateKey = await subtle.importKey("pkcs8", concat(PKCS8_ED25519, seed), { name: "Ed25519" }, true, ["sign"]);
    const jwk = await subtle.exportKey("jwk", privateKey);
    return new SigningKeyPair(seed.slice(), privateKey, b64urlDecode(jwk.x));
  }
  async sign(message) {
    return new Uint8Array(await subtle.sign({ name: "Ed25519" }, this.privateKey, message));
  }
  wipe() { this.seed?.fill(0); this.seed = null; this.privateKey = null; }
}

/** Raise bad_signature unless `signature` is `publicKey`'s over `message`. */
export async function verifySignature(publicKey, signature, message) {
  const raw = publicKey instanceof SigningPublicKey ? publicKey.raw : publicKey;
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) fail("bad_signature", "a signature is 64 bytes");
  let ok = false;
  try {
    const key = await subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    ok = await subtle.verify({ name: "Ed25519" }, key, signature, message);
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    ok = false; // not a curve point
  }
  if (!ok) fail("bad_signature", "the signature does not verify");
}

/** An X25519 public key as the statements name it (raw bytes and fingerprint). */
export class EncryptionPublicKey {
  constructor(raw, fingerprintHex, digest) {
    this.raw = raw;
    this.fingerprint = fingerprintHex;
    this.digest = digest;
  }
  static async fromRaw(raw) {
    if (!(raw instanceof Uint8Array) || raw.length !== KEY_BYTES) fail("invalid_key", "an X25519 public key is 32 bytes");
    const digest = await fingerprintDigest("x25519", raw);
    return new EncryptionPublicKey(raw, await fingerprint("x25519", raw), digest);
  }
}

export const generateEpochKey = () => randomBytes(KEY_BYTES);

export function checkSecret(key, what = "key") {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) fail("invalid_key", `${what} is 32 bytes`);
  return key;
}
