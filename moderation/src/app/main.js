// The counsellor console at /console: its first vertical slice. Plain DOM, as the
// widget's app (widgets/src/app/main.js): one `state`, screens that build the page from
// it, and render() after every change.
//
//   login  -> StaffChat.login + connect, then registerDevice (a key pair made here)
//   device -> this device's fingerprints, "Waiting for an admin to approve this device",
//             until loadGrants unlocks a team key ("Check again")
//   queue  -> the live queue (urgent first, then the server's order), Accept per entry
//   chat   -> one accepted conversation: the decrypted messages, a composer, End
//
// Keys live in memory only in this slice: a reload means a new device key pair, which an
// admin has to approve again. Keeping the device keys in IndexedDB (wrapped, so a stolen
// profile does not give them away) is a later step.
import { io } from "socket.io-client";
import { StaffChat } from "../chat/staffchat.js";
import { h, clear } from "../../../widgets/src/app/dom.js";

const page = document.body.dataset;
const state = {
  screen: "login", server: page.server || location.origin, fingerprint: page.fingerprint || "",
  chat: null, username: "", fingerprints: null, entries: [], seen: new Map(),
  current: null, messages: [], ended: false, busy: false, error: "", notice: "",
  canned: [], slash: "", readers: [],
};
// One live region that outlives re-rendering: new messages and queue changes are read out.
const live = h("div", { id: "live", class: "sr-only", "aria-live": "polite", role: "status" });

const ERRORS = {
  invalid_credentials: "Wrong username or password.",
  locked: "Too many failed attempts: this account is locked for a while.",
  already_taken: "Another counsellor accepted this conversation first.",
  capacity_reached: "Finish a conversation before you accept another one.",
  reserved: "This conversation is kept for a colleague who speaks its language.",
  no_keys: "This device holds no key for this conversation: nothing was sent.",
};
const message = (err) => ERRORS[err?.code] || `Something went wrong (${err?.code || "error"}).`;

async function act(fn) {
  if (state.busy) return;
  state.busy = true;
  state.error = "";
  state.notice = "";
  render();
  try {
    await fn();
  } catch (err) {
    state.error = message(err);
  }
  state.busy = false;
  render();
}

// -- signing in and the device -----------------------------------------------------------
function makeChat() {
  const chat = new StaffChat({ url: state.server, pinnedFingerprint: state.fingerprint, io });
  chat.addEventListener("queue", (e) => {
    const now = Date.now();
    for (const entry of e.detail.entries) {
      if (!state.seen.has(entry.conversation_id)) state.seen.set(entry.conversation_id, now);
    }
    const before = state.entries.length;
    state.entries = e.detail.entries;
    if (state.entries.length > before) live.textContent = "A young person is waiting.";
    render();
  });
  chat.addEventListener("message", (e) => {
    if (e.detail.conversationId !== state.current) return;
    if (!e.detail.mine && e.detail.text) live.textContent = `Young person: ${e.detail.text}`;
    refreshMessages();
  });
  chat.addEventListener("state", (e) => {
    if (e.detail?.conversation_id === state.current && e.detail.state === "ended") {
      state.ended = true;
      render();
    }
  });
  chat.addEventListener("disconnect", (e) => {
    if (e.detail.reason === "io server disconnect") {
      state.error = "You were signed out. Sign in again.";
      signOut();
    }
  });
  return chat;
}

async function signIn(username, password) {
  const chat = makeChat();
  try {
    await chat.login(username, password);
    await chat.connect();
    await chat.registerDevice(); // first use: the key pair is made here, in memory
    state.fingerprints = await chat.fingerprints();
  } catch (err) {
    chat.close();
    throw err;
  }
  state.chat = chat;
  state.username = chat.username;
  state.screen = "device";
  await checkGrants();
}

async function checkGrants() {
  const unlocked = await state.chat.loadGrants();
  if (!unlocked.length) return; // not approved and granted yet: stay on the device screen
  await state.chat.queue();
  state.screen = "queue";
}

function signOut() {
  state.chat?.close();
  Object.assign(state, { chat: null, screen: "login", fingerprints: null, entries: [], current: null,
                         messages: [], ended: false });
  state.seen.clear();
  render();
}

// -- the queue and a conversation ----------------------------------------------------------
function sortedEntries() {
  return [...state.entries].sort((a, b) => (b.urgent ? 1 : 0) - (a.urgent ? 1 : 0) || a.order - b.order);
}

function waited(entry) {
  const since = state.seen.get(entry.conversation_id) ?? Date.now();
  const ms = (entry.waiting_ms ?? 0) + (Date.now() - since);
  const minutes = Math.floor(ms / 60000);
  return minutes < 1 ? "less than a minute" : minutes === 1 ? "1 minute" : `${minutes} minutes`;
}

async function accept(cid) {
  try {
    await state.chat.accept(cid);
  } catch (err) {
    state.error = "";
    state.notice = message(err);
    if (err?.code === "already_taken") await state.chat.queue().catch(() => {});
    return;
  }
  state.current = cid;
  state.ended = false;
  state.messages = [];
  const entry = state.entries.find((e) => e.conversation_id === cid);
  loadCanned(entry?.language).catch(() => {}); // no canned answers is no reason to stop
  state.screen = "chat";
  await refreshMessages();
}

let reading = Promise.resolve();
function refreshMessages() {
  const cid = state.current;
  reading = reading.then(async () => {
    if (!state.chat || cid !== state.current) return;
    try {
      state.messages = await state.chat.read(cid);
      state.readers = await state.chat.readers(cid);
    } catch (err) {
      state.error = message(err);
    }
    render();
  });
  return reading;
}

// -- canned answers: "/" and a few letters in the composer, Enter inserts the first ----------
async function loadCanned(language) {
  let data = await state.chat.canned();
  if (language && language !== data.language && data.languages.includes(language)) {
    data = await state.chat.canned(language);
  }
  state.canned = data.answers;
}

function cannedMatches(typed) {
  const q = typed.slice(1).trim().toLowerCase();
  return state.canned.filter((a) => !q || a.title.toLowerCase().includes(q) || a.text.toLowerCase().includes(q)
    || a.tags.some((t) => t.includes(q))).slice(0, 6);
}

function insertCanned(answer) {
  state.slash = "";
  render();
  const input = document.getElementById("compose");
  input.value = answer.text;
  input.focus();
}

async function send(text) {
  await state.chat.sendText(state.current, text);
  await refreshMessages();
}

async function endConversation() {
  await state.chat.end(state.current);
  state.ended = true;
}

function backToQueue() {
  state.current = null;
  state.messages = [];
  state.ended = false;
  state.screen = "queue";
  state.chat.queue().catch((err) => { state.error = message(err); render(); });
}

// -- screens -------------------------------------------------------------------------------
function field(id, label, attrs = {}) {
  return h("p", { class: "field" }, h("label", { for: id }, label), h("input", { id, name: id, ...attrs }));
}

const SCREENS = {
  login() {
    const form = h("form", { class: "login", onsubmit: (e) => {
      e.preventDefault();
      const username = form.querySelector("#username").value.trim();
      const password = form.querySelector("#password").value;
      form.querySelector("#password").value = "";
      act(() => signIn(username, password));
    } },
      field("username", "Username", { type: "text", autocomplete: "username", required: true, autocapitalize: "none" }),
      field("password", "Password", { type: "password", autocomplete: "current-password", required: true }),
      h("button", { type: "submit", class: "primary", disabled: state.busy }, "Sign in"));
    return h("section", { "aria-labelledby": "l-title" }, h("h1", { id: "l-title" }, "Sign in"), form);
  },
  device() {
    const fp = state.fingerprints || {};
    return h("section", { "aria-labelledby": "d-title" },
      h("h1", { id: "d-title" }, "This device"),
      h("p", { class: "waiting" }, "Waiting for an admin to approve this device."),
      h("p", {}, "Read these fingerprints to your admin. They approve them and give this device the team's key."),
      h("dl", { class: "fingerprints" },
        h("dt", {}, "Encryption key"), h("dd", { id: "fp-encryption" }, fp.encryption || ""),
        h("dt", {}, "Signing key"), h("dd", { id: "fp-signing" }, fp.signing || "")),
      h("button", { type: "button", class: "primary", disabled: state.busy,
                    onclick: () => act(async () => {
                      await checkGrants();
                      if (state.screen === "device") state.notice = "Not approved yet.";
                    }) }, "Check again"));
  },
  queue() {
    const entries = sortedEntries();
    return h("section", { "aria-labelledby": "q-title" },
      h("h1", { id: "q-title" }, "Queue"),
      entries.length
        ? h("ul", { class: "queue", "aria-label": "Waiting conversations" },
          ...entries.map((e, i) => h("li", { class: e.urgent ? "urgent" : "" },
            h("p", { class: "entry" },
              e.urgent ? h("strong", { class: "flag" }, "Urgent") : null,
              h("span", {}, `Language: ${e.language || "unknown"}`),
              h("span", {}, `Waiting ${waited(e)}`)),
            h("button", { type: "button", class: "primary", id: `accept-${i}`, disabled: state.busy,
                          "aria-label": `Accept conversation ${i + 1}${e.urgent ? ", urgent" : ""}`,
                          onclick: () => act(() => accept(e.conversation_id)) }, "Accept"))))
        : h("p", { class: "empty" }, "No one is waiting."));
  },
  chat() {
    const list = h("ol", { class: "messages", "aria-label": "Messages" },
      ...state.messages.filter((m) => m.kind === "text" || m.error).map((m) => h("li", { class: m.mine ? "mine" : "theirs" },
        h("span", { class: "who" }, m.mine ? "You" : m.role === "youth" ? "Young person" : (m.sender || m.role)),
        h("p", { class: "text" }, m.error ? `This message could not be read (${m.error}).` : m.text))));
    const form = h("form", { class: "compose", onsubmit: (e) => {
      e.preventDefault();
      const text = form.querySelector("#compose").value.trim();
      if (!text) return;
      if (text.startsWith("/")) { // a search for a canned answer, not a message
        const first = cannedMatches(text)[0];
        if (first) insertCanned(first);
        return;
      }
      act(async () => {
        await send(text);
        // The page was drawn again meanwhile: clear the composer that is there now.
        const input = document.getElementById("compose");
        if (input) { input.value = ""; input.focus(); }
      });
    } },
      h("label", { for: "compose" }, "Your message"),
      h("textarea", { id: "compose", rows: 3, maxlength: 4000, disabled: state.ended,
                      "aria-describedby": "compose-help",
                      onkeydown: (e) => {
                        if (e.key !== "Enter" || e.shiftKey || !e.target.value.startsWith("/")) return;
                        e.preventDefault();
                        const first = cannedMatches(e.target.value)[0];
                        if (first) insertCanned(first);
                      },
                      oninput: (e) => {
                        state.chat.typing(state.current, true).catch(() => {});
                        const slash = e.target.value.startsWith("/") ? e.target.value : "";
                        if (slash !== state.slash) { state.slash = slash; render(); }
                      } }),
      h("p", { id: "compose-help", class: "help" }, "Type / and a few letters for a canned answer; Enter inserts the first."),
      state.slash ? h("ul", { class: "canned", "aria-label": "Canned answers" },
        ...cannedMatches(state.slash).map((a) => h("li", {},
          h("button", { type: "button", class: "ghost", onclick: () => insertCanned(a) }, a.title)))) : null,
      h("button", { type: "submit", class: "primary", disabled: state.ended || state.busy }, "Send"));
    // The young person's signal, sent inside the encrypted channel: the server never knew.
    const cannotTalk = state.messages.some((m) => m.kind === "signal" && m.signal === "cannot_talk");
    const readers = state.readers.includes("police") ? "the helpline team and the police"
      : state.readers.length ? "the helpline team" : "";
    return h("section", { "aria-labelledby": "c-title" },
      h("h1", { id: "c-title" }, "Conversation"),
      cannotTalk ? h("p", { role: "alert", class: "cannot-talk" },
        "The young person cannot talk freely right now: someone may be watching. Keep it short and neutral.") : null,
      readers ? h("p", { id: "readers", class: "readers" }, `Who can read this chat: ${readers}`) : null,
      state.ended ? h("p", { class: "notice", role: "status" }, "This conversation has ended.") : null,
      list, state.ended ? null : form,
      h("div", { class: "row" }, state.ended
        ? h("button", { type: "button", class: "primary", onclick: () => { backToQueue(); render(); } }, "Back to the queue")
        : h("button", { type: "button", class: "ghost", disabled: state.busy,
                        onclick: () => act(endConversation) }, "End conversation")));
  },
};

function header() {
  return h("header", { class: "top" },
    h("span", { class: "brand" }, "Helpline console"),
    state.chat ? h("span", { class: "who-am-i" }, state.username) : null,
    state.chat ? h("button", { type: "button", class: "ghost", onclick: signOut }, "Sign out") : null);
}

function render() {
  const root = document.getElementById("app");
  root.dataset.screen = state.screen;
  const focused = document.activeElement && document.activeElement.id;
  const values = {};
  for (const el of root.querySelectorAll("input[id], textarea[id]")) {
    if (el.type !== "password") values[el.id] = el.value;
  }
  const main = h("main", { id: "main" });
  if (state.error) main.append(h("p", { role: "alert", class: "error" }, state.error));
  if (state.notice) main.append(h("p", { role: "status", class: "notice" }, state.notice));
  main.append(SCREENS[state.screen]());
  clear(root);
  root.append(header(), main, live);
  for (const [id, value] of Object.entries(values)) {
    const el = document.getElementById(id);
    if (el) el.value = value;
  }
  const again = focused && document.getElementById(focused);
  if (again) again.focus();
}

// Waiting times move on: redraw the queue now and then.
setInterval(() => { if (state.screen === "queue" && !state.busy) render(); }, 30_000);
window.addEventListener("pagehide", () => state.chat?.close()); // wipe the keys
render();
