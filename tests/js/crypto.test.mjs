// Every shared vector file in tests/vectors/ through the widget's own crypto library
// (widgets/src/crypto/), not the reference checks in tests/vectors/check_*.mjs: valid
// cases must give the listed bytes and values, invalid ones the listed error code.
// Prints a count; exits non-zero on any mismatch. Run by tests/test_js_crypto.py.
// The checks themselves are in vector_checks.mjs, shared with the browser run
// (tests/browser/test_widget_vectors.py); this is the Node entry point.
//   node tests/js/crypto.test.mjs [tests/vectors] [made-by-js.json]
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as C from "../../widgets/src/crypto/index.js";
import { checkVectors } from "./vector_checks.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dir = process.argv[2] ?? join(here, "..", "vectors");
const load = (name) => JSON.parse(readFileSync(join(dir, name), "utf8"));
const { hexDecode: hex, hexEncode: toHex } = C;

const { checks: passed, failures, counts } = await checkVectors(load);

// -- made here, for Python to open (tests/test_js_crypto.py): with an output path --------
if (process.argv[3]) {
  const { writeFileSync } = await import("node:fs");
  const en = load("envelope.json"), wr = load("wrap.json"), ep = load("epoch.json");
  const team = wr.valid[0];
  const cid = team.conversation_id;
  const epochKey = C.generateEpochKey();
  const recipient = await C.EncryptionPublicKey.fromRaw(hex(team.recipient_public_key));
  const youth = await C.SigningKeyPair.generate();
  const envelope = await C.sealEnvelope(C.textPlaintext("made by the widget's library"), { epochKey, conversationId: cid, epoch: 3, counter: 7, role: "youth", signingKey: youth });
  const statement = await C.signEpochStatement({ conversationId: cid, epoch: 3, epochKey, readers: [{ kind: "team", fingerprint: team.recipient_fingerprint }] }, youth);
  writeFileSync(process.argv[3], JSON.stringify({
    conversation_id: cid, epoch: 3, recipient_private_key: team.recipient_private_key,
    wrapped: toHex(await C.wrapConversationKey(epochKey, recipient, { conversationId: cid, epoch: 3 })),
    epoch_key: toHex(epochKey), youth_public_key: toHex(youth.public.raw), envelope: toHex(envelope),
    statement: C.epochStatementToWire(statement), police_fingerprint: ep.police_fingerprint,
  }));
}

console.log("vectors passed per file:", JSON.stringify(counts));
console.log(`JS library vector checks passed: ${passed}, failed: ${failures.length}`);
if (failures.length) {
  for (const f of failures) console.error("FAIL", f);
  process.exit(1);
}
