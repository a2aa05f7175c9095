// The console's device keys, as the screens need them: the keyring kept on this device
// for a username (or none yet), new keys with their backup material, a backup file, a
// restore from one. The storage and the backup format live in moderation/src/crypto.
import { StaffKeyring } from "../crypto/staffkeyring.js";

/** The keyring stored on this device for `username`, or null. */
export async function storedKeyring(username, pin) { // eslint-disable-line no-unused-vars
  return null;
}

/** New keys for this device: {keyring, material} (material: for the backup file only). */
export async function newKeys(username, pin) {
  return { keyring: await StaffKeyring.generate(username, pin), material: {} };
}

/** Keep the keyring on this device (without anything that could be exported). */
export async function keep(keyring) { // eslint-disable-line no-unused-vars
}

/** The backup file's text for the material, locked with `passphrase`. */
export async function backupText(material, passphrase) { // eslint-disable-line no-unused-vars
  throw Object.assign(new Error("backup not built yet"), { code: "bad_backup" });
}

/** A keyring from a backup file's text. */
export async function restoreKeys(text, passphrase, username, pin) { // eslint-disable-line no-unused-vars
  throw Object.assign(new Error("backup not built yet"), { code: "bad_backup" });
}

export function wipeMaterial(material) { // eslint-disable-line no-unused-vars
}

/** Pins of the young people's signing keys that outlive a reload (or null). */
export async function youthPins() { return null; }
