// Message plaintexts (docs/crypto.md, "Message plaintext"): a UTF-8 JSON object with a
// string `type`. The referral card a counsellor sends is checked field by field here,
// the same rules as helpline/crypto/plaintext.py (shared cases: tests/vectors/referral.json),
// so a card the widget shows can only hold a name, short texts, phone numbers and an
// https address: nothing a sender could turn into a script or a tracking link.
import { fail } from "./errors.js";
import { fromUtf8, utf8 } from "./encoding.js";

export const textPlaintext = (text) => utf8(JSON.stringify({ type: "text", text }));

/** A message plaintext: a UTF-8 JSON object with a string `type` (bad_encoding otherwise). */
export function readPlaintext(bytes) {
  let data;
  try { data = JSON.parse(fromUtf8(bytes)); } catch { fail("bad_encoding", "a message plaintext is a UTF-8 JSON object"); }
  if (data === null || typeof data !== "object" || Array.isArray(data) || typeof data.type !== "string") {
    fail("bad_encoding", "a message plaintext is a JSON object with a type");
  }
  return data;
}

export const REFERRAL_LIMITS = Object.freeze({ name: 120, what: 1000, label: 120, hours: 200, url: 300, phones: 5 });
const CARD_FIELDS = ["hours", "id", "kind", "name", "phones", "url", "what"];
const bad = (what) => fail("bad_encoding", `a referral card ${what}`);
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const sameKeys = (v, names) => Object.keys(v).sort().join() === names.join();
// Control characters (C0, DEL, C1) and the bidi overrides that could reorder a number.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function shortText(v, max, what, nullable = false) {
  if (v === null && nullable) return null;
  if (typeof v !== "string" || v.trim() === "" || [...v].length > max || UNSAFE.test(v)) bad(`${what} is a text of 1 to ${max} characters`);
  return v;
}

function httpsUrl(v) {
  if (v === null) return null;
  if (typeof v !== "string" || v.length > REFERRAL_LIMITS.url || !/^https:\/\/[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][\x21-\x7e]*)?$/.test(v)) {
    bad("url is null or an https address");
  }
  return v;
}

/** Check a card's fields; returns a plain copy (throws bad_encoding). */
export function checkReferral(card) {
  if (!isObject(card) || !sameKeys(card, CARD_FIELDS)) bad(`has exactly the fields ${CARD_FIELDS.join(", ")}`);
  if (typeof card.id !== "string" || !/^[a-z0-9_]{1,64}$/.test(card.id)) bad("id is 1 to 64 of a-z, 0-9, _");
  if (typeof card.kind !== "string" || !/^[a-z_]{1,32}$/.test(card.kind)) bad("kind is 1 to 32 of a-z, _");
  if (!Array.isArray(card.phones) || card.phones.length > REFERRAL_LIMITS.phones) bad(`phones is a list of at most ${REFERRAL_LIMITS.phones}`);
  const phones = card.phones.map((p) => {
    if (!isObject(p) || !sameKeys(p, ["label", "number"])) bad("phone has exactly number and label");
    if (typeof p.number !== "string" || !/^\+?[0-9][0-9 -]{1,18}[0-9]$/.test(p.number)) bad("phone number is digits, spaces and dashes");
    return { number: p.number, label: shortText(p.label, REFERRAL_LIMITS.label, "phone label", true) };
  });
  return {
    id: card.id, name: shortText(card.name, REFERRAL_LIMITS.name, "name"), kind: card.kind,
    what: shortText(card.what, REFERRAL_LIMITS.what, "what", true), phones, url: httpsUrl(card.url),
    hours: shortText(card.hours, REFERRAL_LIMITS.hours, "hours", true),
  };
}

/** The plaintext of a referral card (checked first: nothing malformed is sent). */
export const referralPlaintext = (card) => utf8(JSON.stringify({ type: "referral", referral: checkReferral(card) }));

/** The card of a `referral` plaintext (as readPlaintext returned it); bad_encoding if malformed. */
export function readReferral(data) {
  if (!sameKeys(data, ["referral", "type"])) bad("plaintext has exactly type and referral");
  return checkReferral(data.referral);
}

/** What tel: link a phone number dials (spaces and dashes dropped). */
export const telHref = (number) => `tel:${number.replace(/[ -]/g, "")}`;
