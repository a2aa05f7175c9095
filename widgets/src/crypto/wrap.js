// HPKE wraps (docs/crypto.md, "Wraps"; helpline/crypto/wrap.py): base mode,
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, single-shot, empty AAD.
//   wrapped (82 bytes) = 02 || 01 || enc (32) || ciphertext (32 + 16)
// @hpke/core's DhkemX25519HkdfSha256 uses the browser's own WebCrypto X25519.
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256, Aes256Gcm } from "@hpke/core";
import { fail, CryptoError } from "./errors.js";
import {
  LABELS, PROTOCOL_VERSION, SUITE_ID, KEY_BYTES, TAG_BYTES, b64urlDecode, concat, encodeFields,
  equalBytes, fingerprintDigest, hexDecode, identifierBytes, subtle, u32,
} from "./encoding.js";
import { checkSecret } from "./keys.js";

const HEADER = new Uint8Array([PROTOCOL_VERSION, SUITE_ID]);
export const WRAPPED_BYTES = 2 + 32 + KEY_BYTES + TAG_BYTES;
let suite = null;
const hpke = () => (suite ??= new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() }));

/** HPKE info of an epoch key wrap; `recipientDigest` is the 32-byte fingerprint digest. */
export function conversationKeyInfo(recipientDigest, { conversationId, epoch }) {
  return encodeFields(LABELS.wrapConversationKey, HEADER, identifierBytes(conversationId, "conversation id"), u32(epoch), recipientDigest);
}

export function teamKeyGrantInfo(recipientDigest, { period, grantee, teamDigest }) {
  return encodeFields(LABELS.wrapTeamKeyGrant, HEADER, identifierBytes(period, "period"),
    identifierBytes(grantee, "grantee"), teamDigest, recipientDigest);
}

/** Wrap an epoch key for an EncryptionPublicKey (a verified team or police key). */
export async function wrapConversationKey(epochKey, recipient, { conversationId, epoch }) {
  const info = conversationKeyInfo(recipient.digest, { conversationId, epoch });
  const recipientPublicKey = await hpke().kem.importKey("raw", recipient.raw, true);
  const sealed = await hpke().seal({ recipientPublicKey, info }, checkSecret(epochKey, "epoch key"));
  return concat(HEADER, new Uint8Array(sealed.enc), new Uint8Array(sealed.ct));
}

// A recipient is a raw 32-byte X25519 private key, or a WebCrypto CryptoKeyPair
// {privateKey, publicKey} whose private key need not be extractable (a staff device's,
// kept in IndexedDB): @hpke/core's decap takes the pair as it is.
const isPair = (r) => !(r instanceof Uint8Array) && r?.privateKey !== undefined && r?.publicKey !== undefined;
const recipientPublicRaw = async (r) => (isPair(r) ? new Uint8Array(await subtle.exportKey("raw", r.publicKey)) : x25519PublicOf(r));

async function unwrap(wrapped, recipientPrivateRaw, info) {
  if (!(wrapped instanceof Uint8Array) || wrapped.length < 2) fail("unwrap_failed", "a wrapped key is too short");
  if (wrapped[0] !== PROTOCOL_VERSION) fail("unsupported_version", `wrapped key version ${wrapped[0]}`);
  if (wrapped[1] !== SUITE_ID) fail("unsupported_suite", `wrapped key suite ${wrapped[1]}`);
  if (wrapped.length !== WRAPPED_BYTES) fail("unwrap_failed", `a wrapped key is ${WRAPPED_BYTES} bytes`);
  let secret;
  try {
    const recipientKey = isPair(recipientPrivateRaw) ? recipientPrivateRaw : await hpke().kem.importKey("raw", recipientPrivateRaw, false);
    secret = new Uint8Array(await hpke().open({ recipientKey, enc: wrapped.slice(2, 34), info }, wrapped.slice(34)));
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    fail("unwrap_failed");
  }
  if (secret.length !== KEY_BYTES) fail("unwrap_failed", "the wrapped secret is not 32 bytes");
  return secret;
}

/** The X25519 public key of a raw private key (WebCrypto, through PKCS#8 and JWK). */
export async function x25519PublicOf(privateRaw) {
  const pkcs8 = concat(hexDecode("302e020100300506032b656e04220420"), privateRaw);
  const key = await subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, true, ["deriveBits"]);
  return b64urlDecode((await subtle.exportKey("jwk", key)).x);
}

/** Open an epoch key wrap with a raw X25519 private key or a CryptoKeyPair (tests, vectors; staff side). */
export async function unwrapConversationKey(wrapped, recipientPrivateRaw, { conversationId, epoch }) {
  const digest = await fingerprintDigest("x25519", await recipientPublicRaw(recipientPrivateRaw));
  return unwrap(wrapped, recipientPrivateRaw, conversationKeyInfo(digest, { conversationId, epoch }));
}

/** Open a team key grant (recipient: raw key or CryptoKeyPair); the private key must match `teamPublicRaw` (invalid_key). */
export async function unwrapTeamKeyGrant(wrapped, recipientPrivateRaw, { period, grantee, teamPublicRaw }) {
  const digest = await fingerprintDigest("x25519", await recipientPublicRaw(recipientPrivateRaw));
  const teamDigest = await fingerprintDigest("x25519", teamPublicRaw);
  const secret = await unwrap(wrapped, recipientPrivateRaw, teamKeyGrantInfo(digest, { period, grantee, teamDigest }));
  if (!equalBytes(await x25519PublicOf(secret), teamPublicRaw)) fail("invalid_key", "the granted private key does not match the team public key");
  return secret;
}
