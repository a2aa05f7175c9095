"""End-to-end encryption for helpline: pure functions, no network, no storage.

Modules (see docs/crypto.md for the byte layouts and the reasons):

- constants:  version, suite id, domain-separation labels, sizes
- encoding:   strict base64url, length-prefixed fields, integers, identifiers
- errors:     the error tree with stable codes
- keys:       X25519/Ed25519 key values, generation, fingerprints
- statements: organisation-signed "this is the team/police key" statements
- wrap:       HPKE wrap/unwrap of epoch keys and team key grants
- envelope:   sealing and opening signed, encrypted message bodies
- reader:     TranscriptReader, which adds replay and order checks
- keyfile:    passphrase-protected private key files

Everything here can be done byte for byte in a browser with WebCrypto and
@hpke/core + @hpke/dhkem-x25519; tests/vectors/ holds the shared vectors.
"""
