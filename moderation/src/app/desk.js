// What a staff member works with, kept in `state` from StaffChat's calls and events:
// the session (sign in, device keys, renewing before it ends), the queue or the police
// requests, and the conversations held or joined, several at once, each with its
// decrypted messages, unread count, typing, readers, handover and wrap-up. Nothing
// here draws: the screens (screens.js) read `state` after each render().
import { io } from "socket.io-client";
import { StaffChat } from "../chat/staffchat.js";
import { state, render, errorText } from "./state.js";
import { t } from "./i18n.js";
import { playSound, saveSettings } from "./alerts.js";
import * as keys from "./keys.js";

export const WARN_BEFORE_MS = 5 * 60_000;
const TYPING_MS = 8_000;
// Directory kinds as the wrap-up's closed list of referrals counts them.
export const WRAPUP_REFERRAL = {
  care_coordination: "care", youth_care: "care", victim_support: "care", comensha: "care",
  shelter: "care", sexual_violence: "care", labour_inspectorate: "labour_inspectorate",
  police: "police", other: "other",
};
const CONTENT = new Set(["text", "referral", "signal"]);

const live = { region: null };
export function liveRegion(el) { live.region = el; }
function say(text) { if (live.region) live.region.textContent = text; }

// -- the session ----------------------------------------------------------------------------
function makeChat(pins) {
  const chat = new StaffChat({ url: state.server, pinnedFingerprint: state.fingerprint, io, youthPins: pins });
  chat.addEventListener("queue", (e) => onQueue(e.detail.entries));
  chat.addEventListener("message", (e) => onMessage(e.detail));
  chat.addEventListener("typing", (e) => onTyping(e.detail));
  chat.addEventListener("presence", (e) => onPresence(e.detail));
  chat.addEventListener("state", (e) => onState(e.detail));
  chat.addEventListener("handover", (e) => onHandover(e.detail));
  chat.addEventListener("handover_requests", () => loadRequests(true));
  chat.addEventListener("assignment", (e) => onAssignment(e.detail));
  chat.addEventListener("epoch", (e) => { const c = state.chats.get(e.detail.conversationId); if (c) refresh(c, true); });
  chat.addEventListener("disconnect", (e) => {
    if (e.detail.reason === "io server disconnect" && state.chat === chat) sessionEnded();
  });
  return chat;
}

export async function signIn(username, password) {
  if (state.chat) {
    if (username === state.username) return renew(password);
    signOut(); // someone else at this device: nothing of the last person stays
  }
  const pins = await keys.youthPins();
  const chat = makeChat(pins);
  try {
    const session = await chat.login(username, password);
    await chat.connect();
    const me = await chat.whoami();
    Object.assign(state, { username: chat.username, role: chat.role, expiresAt: session.expires_at,
                           maxConversations: me.max_conversations ?? 0 });
    chat.keyring = await keys.storedKeyring(chat.username, state.fingerprint);
  } catch (err) {
    chat.close();
    throw err;
  }
  state.chat = chat;
  if (chat.role === "admin") { // an admin reads no conversation: no device keys needed
    state.screen = "stats";
    return;
  }
  if (!chat.keyring) {
    state.screen = "setup";
    return;
  }
  await registered();
}

/** New keys made here; the backup screen follows, then the approval screen. */
export async function makeKeys() {
  const { keyring, material } = await keys.newKeys(state.username, state.fingerprint);
  state.chat.keyring = keyring;
  state.backupMaterial = material;
  state.screen = material ? "backup" : "device";
  if (!material) await registered();
}

export async function saveBackup(passphrase) {
  const text = await keys.backupText(state.backupMaterial, passphrase);
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = `helpline-keys-${state.username}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  await finishNewKeys();
  state.notice = t("backupSaved");
}

export async function finishNewKeys() {
  keys.wipeMaterial(state.backupMaterial);
  state.backupMaterial = null;
  await keys.keep(state.chat.keyring);
  await registered();
}

export async function restore(text, passphrase) {
  state.chat.keyring = await keys.restoreKeys(text, passphrase, state.username, state.fingerprint);
  await keys.keep(state.chat.keyring);
  await registered();
}

async function registered() {
  await state.chat.registerDevice();
  state.fingerprints = await state.chat.fingerprints();
  state.screen = "device";
  await checkGrants();
}

export async function checkGrants() {
  const unlocked = await state.chat.loadGrants();
  if (!unlocked.length) return false; // not approved and granted yet: stay on the device screen
  await startWork();
  return true;
}

async function startWork() {
  const chat = state.chat;
  if (chat.role === "police") {
    await loadRequests(false);
    state.screen = "requests";
  } else {
    await chat.queue();
    state.screen = "queue";
  }
  for (const summary of await chat.held()) addChat(summary, summary.last_seq);
  for (const c of state.chats.values()) refresh(c, true, true); // after a reload: the history
}

async function renew(password) {
  const session = await state.chat.renew(password);
  state.expiresAt = session.expires_at;
  state.expiring = 0;
  if (state.screen === "relogin") state.screen = state.resumeScreen || "queue";
  if (state.role === "admin") return; // no conversations to catch up with
  // What changed while signed out: held conversations, then each one's messages.
  const held = new Set();
  for (const summary of await state.chat.held()) {
    held.add(summary.conversation_id);
    if (!state.chats.has(summary.conversation_id)) addChat(summary, 0);
  }
  for (const c of [...state.chats.values()]) {
    if (!held.has(c.id)) dropChat(c.id);
    else refresh(c, true);
  }
  if (state.role === "police") await loadRequests(false);
}

function sessionEnded() {
  if (state.screen === "relogin" || state.screen === "login") return;
  state.resumeScreen = ["chat", "queue", "requests", "stats", "audit"].includes(state.screen) ? state.screen : "queue";
  state.screen = "relogin";
  state.panel = null;
  say(""); // it may read out a message
  render();
}

/** Every ten seconds: warn before the session ends; after it, ask for the password. */
export function watchSession() {
  if (!state.chat || !state.expiresAt || ["login", "relogin"].includes(state.screen)) return;
  const left = state.expiresAt - Date.now();
  const minutes = left > 0 && left <= WARN_BEFORE_MS ? Math.max(1, Math.ceil(left / 60_000)) : 0;
  if (left <= 0) return sessionEnded();
  if (minutes !== state.expiring) {
    state.expiring = minutes;
    render();
  }
}

export function signOut() {
  const chat = state.chat;
  chat?.logout().finally(() => chat.close());
  Object.assign(state, { chat: null, screen: "login", fingerprints: null, entries: [], requests: [],
                         current: null, panel: null, username: "", role: "", expiresAt: 0, expiring: 0,
                         invite: null, numbered: 0, stats: null, audit: null });
  keys.wipeMaterial(state.backupMaterial);
  state.backupMaterial = null;
  state.chats.clear();
  state.seen.clear();
  state.canned.clear();
  say("");
  render();
}

// -- the queue ----------------------------------------------------------------------------
function onQueue(entries) {
  const now = Date.now();
  let fresh = false;
  for (const entry of entries) {
    if (!state.seen.has(entry.conversation_id)) {
      state.seen.set(entry.conversation_id, now);
      fresh = true;
    }
  }
  state.entries = entries;
  if (fresh && entries.length) {
    say(t("someoneWaiting"));
    playSound(state.settings);
  }
  render();
}

export function sortedEntries() {
  return [...state.entries].sort((a, b) => (b.urgent ? 1 : 0) - (a.urgent ? 1 : 0) || a.order - b.order);
}

export async function accept(cid) {
  let summary;
  try {
    summary = await state.chat.accept(cid);
  } catch (err) {
    state.notice = errorText(err);
    if (err?.code === "already_taken") await state.chat.queue().catch(() => {});
    return;
  }
  const entry = state.entries.find((e) => e.conversation_id === cid);
  const c = addChat({ ...entry, ...summary }, 0);
  open(c.id);
  await refresh(c, true);
}

export async function acceptFirst() {
  const first = sortedEntries()[0];
  if (first) await accept(first.conversation_id);
}

// -- police: the handovers young people agreed to -----------------------------------------
async function loadRequests(alert) {
  if (!state.chat || state.role !== "police") return;
  const before = new Set(state.requests.map((r) => r.conversation_id));
  try {
    state.requests = await state.chat.handoverRequests();
  } catch (err) {
    state.error = errorText(err);
  }
  if (alert && state.requests.some((r) => !before.has(r.conversation_id))) playSound(state.settings);
  render();
}

export async function join(cid) {
  const request = state.requests.find((r) => r.conversation_id === cid);
  const { conversation } = await state.chat.policeJoin(cid);
  const c = addChat(conversation, 0);
  c.shareHistory = !!request?.share_history;
  open(c.id);
  await loadRequests(false);
  await refresh(c, true);
}

export async function joinFirst() {
  if (state.requests[0]) await join(state.requests[0].conversation_id);
}

export async function leave(cid) {
  await state.chat.policeLeave(cid);
  dropChat(cid);
  await loadRequests(false);
}

// -- conversations ------------------------------------------------------------------------
function addChat(summary, seenSeq) {
  const cid = summary.conversation_id;
  let c = state.chats.get(cid);
  if (!c) {
    c = { id: cid, n: ++state.numbered, messages: [], seenSeq, typing: false, typingTimer: null,
          readers: [], online: true, draft: "", referralKinds: new Set(), shareHistory: false,
          error: "", reading: Promise.resolve() };
    state.chats.set(cid, c);
  }
  Object.assign(c, { summary: { ...c.summary, ...summary }, language: summary.language ?? c.language,
                     ended: summary.state === "ended", handover: summary.handover ?? c.handover ?? "none",
                     officer: summary.police_officer ?? null });
  return c;
}

function dropChat(cid) {
  const c = state.chats.get(cid);
  if (!c) return;
  clearTimeout(c.typingTimer);
  c.messages = [];
  state.chats.delete(cid);
  say(""); // it may read out a message of this chat
  if (state.current === cid) {
    state.current = null;
    state.panel = null;
    state.screen = state.role === "police" ? "requests" : "queue";
  }
}

export function open(cid) {
  const c = state.chats.get(cid);
  if (!c) return;
  state.current = cid;
  state.screen = "chat";
  state.slash = "";
  if (["referral", "wrapup"].includes(state.panel)) state.panel = null;
  markRead(c);
  if (state.role !== "police") loadCanned(c.language).catch(() => {}); // police have none
}

export function markRead(c) {
  if (c && state.current === c.id && state.screen === "chat" && !document.hidden) {
    c.seenSeq = Math.max(c.seenSeq, ...c.messages.map((m) => m.seq));
  }
}

export function unread(c) {
  return c.messages.filter((m) => !m.mine && m.seq > c.seenSeq && CONTENT.has(m.kind)).length;
}

export function alertCount() {
  let n = 0;
  for (const c of state.chats.values()) n += unread(c);
  return n + (state.role === "police" ? state.requests.length : state.entries.length);
}

export function nextChat() {
  const ids = [...state.chats.keys()];
  if (!ids.length) return;
  const i = ids.indexOf(state.current);
  open(ids[(i + 1) % ids.length]);
}

/** Read what is new (and the readers after an epoch or a handover step). */
export function refresh(c, withReaders = false, fetch = false) {
  c.reading = c.reading.then(async () => {
    if (!state.chat || !state.chats.has(c.id)) return;
    try {
      c.messages = await (fetch ? state.chat.load(c.id) : state.chat.read(c.id));
      if (withReaders) c.readers = await state.chat.readers(c.id);
      c.error = "";
    } catch (err) {
      c.error = errorText(err);
    }
    markRead(c);
    render();
  });
  return c.reading;
}

function onMessage(detail) {
  const c = state.chats.get(detail.conversationId);
  if (!c) return;
  const viewing = state.current === c.id && state.screen === "chat" && !document.hidden;
  if (!detail.mine && detail.seq > c.seenSeq && CONTENT.has(detail.kind)) {
    if (viewing && detail.kind === "text" && detail.text) say(`${t("youngPerson")}: ${detail.text}`);
    if (!viewing) playSound(state.settings);
    if (detail.role === "youth") setTyping(c, false);
  }
  refresh(c);
}

function setTyping(c, on) {
  clearTimeout(c.typingTimer);
  c.typing = on;
  if (on) c.typingTimer = setTimeout(() => { c.typing = false; render(); }, TYPING_MS);
}

function onTyping({ conversationId, role, typing }) {
  const c = state.chats.get(conversationId);
  if (!c || role !== "youth") return;
  setTyping(c, typing);
  render();
}

function onPresence({ conversationId, role, online }) {
  const c = state.chats.get(conversationId);
  if (!c || role !== "youth") return;
  c.online = online;
  render();
}

function onState(detail) {
  const c = state.chats.get(detail?.conversation_id);
  if (!c) return;
  if (detail.state === "ended") {
    c.ended = true;
    c.summary.state = "ended";
    setTyping(c, false);
  } else if (detail.state === "closed" || detail.state === "purged") {
    const wasCurrent = state.current === c.id;
    dropChat(c.id);
    if (wasCurrent) state.notice = state.role === "police" ? t("policeGone") : t("closed");
  }
  render();
}

const POLICE_OUT = new Set(["withdrawn", "ended", "left", "expired"]);
function onHandover(detail) {
  const c = state.chats.get(detail?.conversation_id);
  if (!c) return;
  if (state.role === "police" && POLICE_OUT.has(detail.handover)) {
    // The officer is out at once: drop the chat and its plaintext from the screen.
    const wasCurrent = state.current === c.id;
    dropChat(c.id);
    if (wasCurrent) state.notice = t("policeGone");
    loadRequests(false);
    render();
    return;
  }
  c.handover = detail.handover;
  if (detail.handover === "joined") {
    state.chat.held().then((all) => {
      const s = all.find((x) => x.conversation_id === c.id);
      if (s) addChat(s, c.seenSeq);
      render();
    }).catch(() => {});
  }
  refresh(c, true);
  render();
}

function onAssignment(detail) {
  const summary = detail?.conversation;
  if (!summary?.conversation_id) return;
  if (detail.held) {
    const c = addChat(summary, 0);
    state.notice = t("newChat");
    playSound(state.settings);
    refresh(c, true);
  } else {
    dropChat(summary.conversation_id);
    state.notice = t("reassignedAway");
  }
  render();
}

// -- in a conversation --------------------------------------------------------------------
export async function send(c, text) {
  await state.chat.sendText(c.id, text);
  state.chat.typing(c.id, false).catch(() => {});
  c.draft = "";
  await refresh(c);
}

let typingSent = 0;
export function typed(c) {
  if (Date.now() - typingSent < 3_000) return;
  typingSent = Date.now();
  state.chat.typing(c.id, true).catch(() => {});
}

export async function end(c) {
  await state.chat.end(c.id);
  c.ended = true;
  state.panel = "wrapup";
}

export async function fileWrapup(c, choice) {
  await state.chat.wrapup(c.id, choice);
  dropChat(c.id);
  state.notice = t("closed");
}

export async function offerPolice(c) {
  const r = await state.chat.offerHandover(c.id);
  c.handover = r.handover;
}

export async function endPolice(c) {
  const r = await state.chat.endHandover(c.id);
  c.handover = r.handover;
  await refresh(c, true);
}

// -- canned answers and referrals ---------------------------------------------------------
async function loadCanned(language) {
  const key = language || "";
  if (state.canned.has(key)) return;
  let data = await state.chat.canned();
  if (language && language !== data.language && data.languages.includes(language)) {
    data = await state.chat.canned(language);
  }
  state.canned.set(key, data.answers);
  render();
}

export function cannedMatches(c, typed) {
  const q = typed.slice(1).trim().toLowerCase();
  const answers = state.canned.get(c.language || "") || [];
  return answers.filter((a) => !q || a.title.toLowerCase().includes(q) || a.text.toLowerCase().includes(q)
    || a.tags.some((x) => x.includes(q))).slice(0, 6);
}

export async function searchReferrals() {
  const r = state.referral;
  const data = await state.chat.referrals({ q: r.q, region: r.region, kind: r.kind });
  Object.assign(r, { results: data.referrals, regions: data.regions, kinds: data.kinds });
}

/** The card the young person's widget shows, in the conversation's language (en otherwise). */
export function referralCard(entry, language) {
  const lang = language === "nl" ? "nl" : "en";
  return {
    id: entry.id, name: entry.name, kind: entry.kind, what: entry.what[lang],
    phones: entry.contact.phones.map((p) => ({ number: p.number, label: p.label[lang] })),
    url: entry.contact.url ?? null, hours: entry.contact.hours ? entry.contact.hours[lang] : null,
  };
}

export async function sendReferral(c, entry) {
  await state.chat.sendReferral(c.id, referralCard(entry, c.language));
  c.referralKinds.add(WRAPUP_REFERRAL[entry.kind] || "other");
  state.notice = t("referralSent", { name: entry.name });
  await refresh(c);
}

export async function makeInvite() {
  const r = await state.chat.createInvite();
  const base = state.server.replace(/\/+$/, "");
  state.invite = { code: r.code, expiresAt: r.expires_at, link: `${base}/chat#invite=${r.code}` };
  state.panel = "invite";
}

export function setLanguagePreference(code) {
  state.settings.language = code;
  saveSettings(state.settings);
}
