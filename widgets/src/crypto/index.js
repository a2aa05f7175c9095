// The young person's side of helpline/crypto/ in JavaScript (docs/crypto.md, v2).
// ES modules, browser-safe: WebCrypto, @hpke/core, @noble/hashes (scrypt).
export * from "./errors.js";
export * from "./encoding.js";
export * from "./keys.js";
export * from "./statements.js";
export * from "./wrap.js";
export * from "./envelope.js";
export * from "./epochs.js";
export * from "./returncode.js";
export * from "./keyring.js";
export * from "./plaintext.js";
export { WORDS, WORDS_SHA256 } from "./wordlist.js";
