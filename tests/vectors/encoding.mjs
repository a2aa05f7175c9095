// The byte helpers every JavaScript check shares, as docs/crypto.md ("Encodings")
// defines them: hex, base64url, ASCII, big-endian integers and encode_fields.
import { webcrypto as wc } from "node:crypto";

export const subtle = wc.subtle;
export const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
export const toHex = (u) => Buffer.from(u).toString("hex");
export const ascii = (s) => new TextEncoder().encode(s);
export const cat = (...parts) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };
export const u32 = (n) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b; };
export const u64 = (n) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); return b; };
export const fields = (label, ...fs) => cat(...[ascii(label), ...fs].flatMap((f) => [u32(f.length), f]));
export const b64d = (s) => new Uint8Array(Buffer.from(s, "base64url"));
export const sha256 = async (b) => new Uint8Array(await subtle.digest("SHA-256", b));
export const eq = (a, b, what) => { if (a !== b) throw new Error(`${what}: ${a} != ${b}`); };
