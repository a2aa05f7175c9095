// The console's device keys, as the screens need them: the keyring kept on this device
// for a username (or none yet), new keys with their backup material, a backup file, a
// restore from one. Storage and backup format: moderation/src/crypto (devicestore.js,
// backup.js; docs/crypto.md "Staff device backup"). Only non-extractable keys are kept.
import { StaffKeyring } from "../crypto/staffkeyring.js";
import { DeviceStore } from "../crypto/devicestore.js";
import { makeBackup, openBackup } from "../crypto/backup.js";

let opening = null;
/** This device's store (IndexedDB), opened once; null where IndexedDB is missing. */
export function deviceStore() {
  opening ??= globalThis.indexedDB ? DeviceStore.open(globalThis.indexedDB).catch(() => null) : Promise.resolve(null);
  return opening;
}

/** The keyring stored on this device for `username`, or null. */
export async function storedKeyring(username, pin) {
  const store = await deviceStore();
  return store ? store.loadKeyring(username, pin) : null;
}

/** New keys for this device: {keyring, material} (material: for the backup file only). */
export async function newKeys(username, pin) {
  const { keyring, backupMaterial } = await StaffKeyring.generateForDevice(username, pin);
  return { keyring, material: backupMaterial };
}

/** Keep the keyring on this device (its keys cannot be exported from there). */
export async function keep(keyring) {
  const store = await deviceStore();
  if (store) await store.saveKeyring(keyring);
}

/** The backup file's text for the material, locked with `passphrase`. */
export function backupText(material, passphrase) {
  return makeBackup(material, passphrase);
}

/** A keyring from a backup file's text, for this account and organisation only. */
export async function restoreKeys(text, passphrase, username, pin) {
  const opened = await openBackup(text, passphrase, pin);
  if (opened.username !== username) {
    opened.wipe();
    throw Object.assign(new Error("another account's backup"), { code: "backup_other_account" });
  }
  return StaffKeyring.fromBackup(opened);
}

export function wipeMaterial(material) { material?.wipe?.(); }

/** Pins of the young people's signing keys that outlive a reload (or null). */
export async function youthPins() { return deviceStore(); }
