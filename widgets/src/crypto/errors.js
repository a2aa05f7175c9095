// Stable error codes shared with helpline/crypto/errors.py and the vectors
// (docs/crypto.md, "Error codes"). Every refusal of this library is a CryptoError
// whose `code` is one of these.

export class CryptoError extends Error {
  constructor(code, message) {
    super(message ? `${code}: ${message}` : code);
    this.name = "CryptoError";
    this.code = code;
  }
}

export const fail = (code, message) => { throw new CryptoError(code, message); };
