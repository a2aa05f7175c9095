// The console's one state object, and the small helpers every part shares: render()
// after a change (main.js installs the renderer), act() for a user's action (one at a
// time, its refusal shown in words), the text of a refusal.
import { t } from "./i18n.js";
import { loadSettings } from "./alerts.js";

const page = document.body.dataset;

export const state = {
  screen: "login", // login, setup, backup, restore, device, queue, chat, requests, relogin, stats, audit
  server: page.server || location.origin,
  fingerprint: page.fingerprint || "",
  settings: loadSettings(),
  chat: null, // the StaffChat
  username: "", role: "", maxConversations: 0, expiresAt: 0, expiring: 0,
  fingerprints: null,
  backupMaterial: null, // the new keys' private bytes, only until the backup is saved or skipped
  entries: [], seen: new Map(), // the queue, and when each entry was first seen here
  requests: [], // police: joinable handovers
  chats: new Map(), // conversation id -> chat (desk.js)
  current: null, // the conversation shown
  numbered: 0,
  panel: null, // help, settings, invite, referral, wrapup
  invite: null, referral: { q: "", region: "", kind: "", results: null, regions: [], kinds: [] },
  canned: new Map(), slash: "",
  stats: null, audit: null, // the dashboard's rows and the audit log's page (supervisor, admin)
  busy: false, error: "", notice: "",
};

let renderer = () => {};
export function onRender(fn) { renderer = fn; }
export function render() { renderer(); }

export function errorText(err) {
  const code = err?.code || "error";
  const text = t(code);
  return text === code ? t("somethingWrong", { code }) : text;
}

/** Run a user's action: one at a time, its refusal in words, the page drawn after. */
export async function act(fn) {
  if (state.busy) return;
  state.busy = true;
  state.error = "";
  state.notice = "";
  render();
  try {
    await fn();
  } catch (err) {
    state.error = errorText(err);
  }
  state.busy = false;
  render();
}
