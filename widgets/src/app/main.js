// The young person's chat app: at /chat as a full page, and inside the loader's iframe.
// Plain DOM. Every key and every plaintext lives in memory here (YouthChat, W1's engine);
// nothing goes into cookies, Web Storage, IndexedDB, caches or the URL. On the full page
// (/chat) the tab's own window.name holds what a reload needs to come back (the resume
// token and the keys): memory of this tab only, never written to disk, emptied on end and
// on quick exit (docs/security.md, "A reload mid-chat").
import { io } from "socket.io-client";
import { YouthChat, isTabState } from "../chat/client.js";
import { LANGUAGES, loadStrings, pickLanguage } from "./i18n.js";
import { h, clear } from "./dom.js";
import { telHref } from "../crypto/plaintext.js";

const page = document.body.dataset;
const embedded = window.parent !== window;
const hosts = (page.hosts || "").split(" ").filter(Boolean);
const state = {
  t: null, lang: "nl", look: "default", chat: null, exiting: false, screen: "start",
  // The chat server comes from this page (the helpline's own), never from the host page.
  hostOrigin: null, server: page.server || location.origin, fingerprint: page.fingerprint || "",
  campaign: "", urgent: false, deferredOffer: null, typing: false, blurred: false, notice: "", code: null,
  signalled: false, offerShare: true, error: "", invite: "",
};
// A counsellor's one-time invite link (/chat#invite=CODE, from the console): read once,
// then dropped from the address bar so it is not left in view or bookmarked.
const inviteMatch = !embedded && /^#invite=([A-Za-z0-9_-]{16})$/.exec(location.hash);
if (inviteMatch) {
  state.invite = inviteMatch[1];
  history.replaceState(null, "", location.pathname + location.search);
}
// Read before anything renders: a reload of this tab mid-chat comes back from it.
const savedTab = !embedded && isTabState(window.name) ? window.name : null;
if (savedTab) state.screen = "resuming";
let typingTimer = 0;
// One live region that outlives re-rendering: new messages are read out from here.
const live = h("div", { id: "live", class: "sr-only", "aria-live": "polite", role: "status" });

// -- start-up: options from the host page (exact origins only) or from this page -------
function hostOptions() {
  if (!embedded) return Promise.resolve(null);
  return new Promise((resolve) => {
    const done = setTimeout(() => resolve(null), 3000);
    window.addEventListener("message", function onConfig(e) {
      if (e.source !== window.parent || !hosts.includes(e.origin)) return;
      if (!e.data || e.data.type !== "hl:config") return;
      window.removeEventListener("message", onConfig);
      clearTimeout(done);
      state.hostOrigin = e.origin;
      resolve(e.data);
    });
  });
}

function toHost(message) {
  if (embedded && state.hostOrigin) window.parent.postMessage(message, state.hostOrigin);
}

window.addEventListener("message", (e) => {
  if (!embedded || e.source !== window.parent || e.origin !== state.hostOrigin) return;
  if (e.data && e.data.type === "hl:exit") quickExit(true);
});

async function setLanguage(code) {
  state.t = await loadStrings(code);
  state.lang = code;
  document.documentElement.lang = code;
  document.documentElement.dir = state.t.dir;
  document.title = state.look === "disguise" ? state.t.disguiseTitle : state.t.title;
  render();
}

// -- quick exit: end on the server, close, wipe, then /exit (Clear-Site-Data) ---------
async function quickExit(fromHost = false) {
  if (state.exiting) return;
  state.exiting = true;
  forgetTab();
  const chat = state.chat;
  state.chat = null;
  document.body.replaceChildren();
  if (!fromHost) toHost({ type: "hl:exit" });
  if (chat) {
    try {
      await Promise.race([chat.end(), new Promise((r) => setTimeout(r, 1000))]);
    } catch { /* leaving matters more than a clean end */ }
    try { chat.close(); } catch { /* already closed */ }
  }
  for (const k of Object.keys(state)) state[k] = null;
  location.replace("/exit");
}

let escapes = [];
document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape") return;
  const now = Date.now();
  escapes = escapes.filter((t) => now - t < 2000).concat(now);
  if (escapes.length >= 3) quickExit();
});

// Someone may walk in: hide the conversation when the window loses focus.
function blur() {
  if (state.chat && !state.blurred && !state.exiting) { state.blurred = true; render(); }
}
window.addEventListener("blur", blur);
document.addEventListener("visibilitychange", () => document.hidden && blur());

// -- the chat ----------------------------------------------------------------------------
function makeChat() {
  const chat = new YouthChat({ url: state.server, pinnedFingerprint: state.fingerprint, io,
                               language: state.lang });
  chat.addEventListener("change", () => render());
  chat.addEventListener("message", (e) => {
    const m = e.detail || {};
    if (!m.mine) {
      state.typing = false;
      if (m.text) live.textContent = `${state.t[m.role] || state.t.counsellor}: ${m.text}`;
    }
    render();
  });
  chat.addEventListener("typing", (e) => {
    state.typing = !!(e.detail && e.detail.typing);
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => { state.typing = false; render(); }, 6000);
    render();
  });
  chat.addEventListener("urgent", () => { state.urgent = true; render(); });
  chat.addEventListener("error", (e) => {
    const code = e.detail && (e.detail.code || e.detail.name);
    state.error = isKeyError(e.detail) ? state.t.keyError : state.t.error;
    void code;
    render();
  });
  return chat;
}

async function act(fn) {
  try {
    state.error = "";
    await fn();
  } catch (err) {
    state.error = isKeyError(err) ? state.t.keyError : state.t.error;
  }
  render();
}

// A team key the pinned organisation key did not sign (or a revoked one): nothing is sent.
function isKeyError(err) {
  const text = String((err && (err.name + " " + err.code + " " + err.message)) || err);
  return /CryptoError|key|fingerprint|statement|revok|verif|signature/i.test(text);
}

const INVITE_GONE = new Set(["invite_used", "invite_expired", "invite_invalid"]);

async function start() {
  const invite = state.invite || undefined;
  state.notice = "";
  await act(async () => {
    state.chat = makeChat();
    await state.chat.connect();
    try {
      await state.chat.open({ intake: true, language: state.lang, invite,
                              browserLanguage: navigator.language, campaign: state.campaign || undefined });
    } catch (err) {
      if (!invite || !INVITE_GONE.has(err && err.code)) throw err;
      // Used, expired or unknown: say so, and offer the normal start (the same button).
      state.chat.close();
      state.chat = null;
      state.invite = "";
      state.notice = state.t.inviteGone;
    }
  });
}

let codeModule = null;
async function returnCodes() {
  codeModule = codeModule || await import("./returncode.js");
  return codeModule;
}

// -- a reload mid-chat ------------------------------------------------------------------------
// Only the top-level chat page: an iframe's name is its host page's to see and set, and a
// reloaded host page makes a new iframe anyway (the return code is the way back there).
function rememberTab() {
  if (embedded || state.exiting || state.screen === "resuming") return; // keep it until it is read
  const chat = state.chat;
  const going = chat && chat.state !== "ended" && chat.state !== "closed";
  const saved = (going && chat.tabState()) || "";
  if (window.name !== saved) window.name = saved;
}
function forgetTab() {
  if (!embedded) window.name = "";
}

async function resumeTab(saved) {
  const chat = makeChat();
  state.chat = chat;
  try {
    await chat.resumeFromTab(saved);
  } catch {
    chat.close();
    state.chat = null;
    state.error = state.t.resumeFailed;
  }
  state.screen = "start";
  render(); // writes the tab's state again (or empties it)
}

// -- rendering -----------------------------------------------------------------------------
function readersText() {
  const police = hasPolice();
  return police ? state.t.readersPolice : state.t.readersTeam;
}
function hasPolice() {
  const r = state.chat && state.chat.readers;
  return !!r && JSON.stringify(r).includes("police");
}

function header() {
  const t = state.t;
  const select = h("select", { id: "lang", onchange: (e) => setLanguage(e.target.value) },
    ...LANGUAGES.map(([code, name]) => h("option", { value: code, selected: code === state.lang,
                                                     lang: code }, name)));
  return h("header", { class: "top" },
    h("span", { class: "brand" }, state.look === "disguise" ? t.disguiseTitle : t.title),
    h("span", { class: "lang" }, h("label", { for: "lang" }, t.language), select),
    embedded ? h("button", { type: "button", class: "ghost", onclick: () => toHost({ type: "hl:close" }) },
                 t.close) : null,
    h("button", { type: "button", class: "exit", id: "quick-exit", "aria-describedby": "exit-hint",
                  onclick: () => quickExit() }, t.quickExit),
    h("span", { id: "exit-hint", class: "sr-only" }, t.quickExitHint));
}

function screenName() {
  const chat = state.chat;
  if (state.code) return "code";
  if (state.screen === "enter-code") return "enter-code";
  if (state.screen === "resuming") return "resuming";
  if (!chat) return "start";
  if (chat.offer && chat.offer !== state.deferredOffer) return "offer";
  const s = chat.state;
  if (s === "intake") return "intake";
  if (s === "queued") return "queue";
  if (s === "active") return "chat";
  if (s === "offline") return "offline";
  if (s === "ended" || s === "closed") return "ended";
  return "start";
}

function render() {
  const t = state.t;
  if (!t || state.exiting) return;
  rememberTab();
  const root = document.getElementById("app");
  const name = screenName();
  root.dataset.screen = name;
  const focused = document.activeElement && document.activeElement.id;
  const values = {};
  for (const el of root.querySelectorAll("input[id], textarea[id]")) values[el.id] = el.value;
  const main = h("main", { id: "main", class: state.blurred ? "blurred" : "" });
  if (state.urgent) main.append(urgentBanner());
  if (state.chat && name !== "start" && name !== "resuming") {
    main.append(h("p", { class: "readers" + (hasPolice() ? " police" : ""), id: "readers" },
                  readersText()));
  }
  if (state.error) main.append(h("p", { role: "alert", class: "error" }, state.error));
  if (state.notice) main.append(h("p", { role: "status", class: "notice" }, state.notice));
  main.append(SCREENS[name]());
  clear(root);
  root.append(header(), main, live);
  for (const [id, value] of Object.entries(values)) {
    const el = document.getElementById(id);
    if (el && el.type !== "checkbox") el.value = value;
  }
  if (state.blurred) {
    root.append(h("div", { class: "veil" },
      h("button", { type: "button", id: "unveil", onclick: () => { state.blurred = false; render(); } },
        t.show)));
  }
  const again = focused && document.getElementById(focused);
  if (again) again.focus();
}

function urgentBanner() {
  const t = state.t;
  return h("section", { class: "urgent", role: "alert", "aria-labelledby": "urgent-title" },
    h("h2", { id: "urgent-title" }, t.urgentTitle), h("p", {}, t.urgentText),
    h("a", { class: "call", href: "tel:112" }, t.call112));
}

function notice() {
  const text = state.chat && state.chat.notice;
  return text ? h("p", { class: "notice", role: "status" }, text) : null;
}

// While the network is gone: say so, and that what is typed waits and goes out by itself.
function connection() {
  const chat = state.chat;
  return chat && chat.conversationId && !chat.online
    ? h("p", { class: "notice connection", role: "status" }, state.t.offline) : null;
}

function cover() {
  const t = state.t;
  return h("details", { class: "cover" }, h("summary", {}, t.coverTitle), h("p", {}, t.coverText));
}

// A referral card as the counsellor sent it; its fields were checked when it was
// decrypted (crypto/plaintext.js): phone numbers and an https address only.
function referralCard(r) {
  const t = state.t;
  const host = r.url ? new URL(r.url).hostname : null;
  return h("section", { class: "referral", "aria-label": `${t.referralTitle}: ${r.name}` },
    h("p", { class: "referral-title" }, t.referralTitle),
    h("h2", { class: "referral-name" }, r.name),
    r.what ? h("p", {}, r.what) : null,
    r.phones.length ? h("ul", { class: "referral-phones" }, ...r.phones.map((p) => h("li", {},
      h("a", { href: telHref(p.number) }, t.referralCall.replace("{number}", p.number)),
      p.label ? h("span", {}, ` (${p.label})`) : null))) : null,
    host ? h("p", {}, h("a", { href: r.url, target: "_blank", rel: "noopener noreferrer" },
      t.referralWebsite.replace("{host}", host))) : null,
    r.hours ? h("p", {}, t.referralHours.replace("{hours}", r.hours)) : null,
    r.phones.length || host ? h("p", { class: "referral-trace" }, t.referralTrace) : null);
}

function messageList() {
  const t = state.t;
  const messages = (state.chat ? state.chat.messages : [])
    .filter((m) => ((!m.kind || m.kind === "text") && (m.text || m.error))
      || (m.kind === "referral" && m.referral));
  const who = (m) => (m.mine ? t.you : t[m.role] || t.counsellor);
  return h("ol", { class: "messages", "aria-label": t.title },
    ...messages.map((m) => h("li", { class: m.mine ? "mine" : "theirs" },
      h("span", { class: "who" }, who(m)),
      m.referral ? referralCard(m.referral) : h("p", { class: "text" }, m.text || t.unreadable),
      m.mine && m.status ? h("span", { class: "status" }, t[m.status] || m.status) : null)));
}

function composer(label = state.t.message) {
  const t = state.t;
  const input = h("textarea", { id: "compose", rows: 2, maxlength: 4000,
    oninput: () => state.chat && state.chat.typing(true).catch(() => {}) });
  const form = h("form", { class: "compose", onsubmit: (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    act(() => state.chat.sendText(text));
  } }, h("label", { for: "compose" }, label), input, h("button", { type: "submit" }, t.send));
  return form;
}

const SCREENS = {
  start() {
    const t = state.t;
    const invited = !!state.invite;
    return h("section", { "aria-labelledby": "s-title" },
      h("h1", { id: "s-title" }, invited ? t.inviteTitle : t.startTitle),
      h("p", {}, invited ? t.inviteText : t.startText),
      h("button", { type: "button", class: "primary", id: "start", onclick: start }, t.start),
      h("button", { type: "button", class: "link", id: "have-code",
                    onclick: () => { state.screen = "enter-code"; render(); } }, t.haveCode),
      cover());
  },
  resuming() {
    return h("section", { "aria-labelledby": "r-title" },
      h("h1", { id: "r-title" }, state.t.resuming), h("p", { role: "status" }, state.t.resumingText));
  },
  intake() {
    const t = state.t;
    const p = state.chat.prompt || { text: "", choices: [] };
    const input = h("input", { id: "intake-text", type: "text", autocomplete: "off" });
    return h("section", { "aria-labelledby": "i-title" },
      h("h1", { id: "i-title", class: "sr-only" }, t.assistant),
      h("p", { class: "assistant" }, h("span", { class: "who" }, t.assistant), p.text),
      h("div", { class: "choices" }, ...(p.choices || []).map((c) =>
        h("button", { type: "button", onclick: () => act(() => state.chat.answerIntake({ choice: c.value })) },
          c.label))),
      p.free_text ? h("form", { class: "compose", onsubmit: (e) => {
        e.preventDefault();
        const text = input.value.trim();
        if (text) act(() => state.chat.answerIntake({ text }));
      } }, h("label", { for: "intake-text" }, t.yourAnswer), input, h("button", { type: "submit" }, t.send))
        : null,
      h("button", { type: "button", class: "link", onclick: () => act(() => state.chat.skipIntake()) },
        state.chat.skipLabel || t.skip));
  },
  queue() {
    const t = state.t;
    const n = state.chat.position;
    return h("section", { "aria-labelledby": "q-title" },
      h("h1", { id: "q-title" }, t.queueTitle),
      n ? h("p", { class: "position", role: "status" }, t.queuePosition.replace("{n}", n)) : null,
      h("p", {}, t.queueHonest), connection(), notice(), messageList(), composer(), endButton(), cover());
  },
  chat() {
    const t = state.t;
    return h("section", { "aria-labelledby": "c-title" },
      h("h1", { id: "c-title", class: "sr-only" }, t.title),
      state.chat.offer ? h("button", { type: "button", class: "primary", onclick: () => {
        state.deferredOffer = null; render(); } }, t.offerTitle) : null,
      // The readers line above already says "team and police"; here: whether an officer
      // is in the chat now, and the one-tap way out.
      hasPolice() ? h("p", { class: "officer" },
        state.chat.handover === "joined" ? h("span", { id: "officer-in" }, t.officerIn) : null,
        h("button", { type: "button", onclick: () => act(() => state.chat.withdrawHandover()) }, t.withdraw))
        : null,
      connection(), messageList(),
      state.typing ? h("p", { class: "typing", "aria-live": "polite" }, t.typing) : null,
      composer(),
      h("div", { class: "row" },
        h("button", { type: "button", class: "ghost", id: "cannot-talk", disabled: state.signalled,
          onclick: () => act(async () => { await state.chat.sendSignal("cannot_talk"); state.signalled = true; }) },
          state.signalled ? t.cannotTalkSent : t.cannotTalk),
        h("button", { type: "button", class: "ghost", onclick: getCode }, t.getCode),
        endButton()));
  },
  offer() {
    const t = state.t;
    const o = state.chat.offer || {};
    const until = o.expiresAt ? o.expiresAt * 1000 : null;
    const share = h("input", { type: "checkbox", id: "share", checked: state.offerShare,
                               onchange: (e) => { state.offerShare = e.target.checked; render(); } });
    const answer = (accept) => act(() => state.chat.answerHandover({ accept, shareHistory: accept && state.offerShare }));
    return h("section", { "aria-labelledby": "o-title", class: "offer" },
      h("h1", { id: "o-title" }, t.offerTitle),
      o.text ? h("p", { class: "assistant" }, o.text) : null, h("p", {}, t.offerSees),
      h("p", {}, state.offerShare ? t.offerHistoryYes : t.offerHistoryNo),
      until ? h("p", {}, t.offerUntil.replace("{t}", new Date(until).toLocaleString(state.lang))) : null,
      h("p", { class: "check" }, share, h("label", { for: "share" }, t.shareHistory)),
      h("div", { class: "row" },
        h("button", { type: "button", class: "primary", onclick: () => answer(true) }, t.yes),
        h("button", { type: "button", onclick: () => answer(false) }, t.no),
        h("button", { type: "button", class: "ghost", onclick: () => { state.deferredOffer = state.chat.offer; render(); } }, t.notNow)));
  },
  offline() {
    const t = state.t;
    return h("section", { "aria-labelledby": "off-title" },
      h("h1", { id: "off-title" }, t.offlineTitle), connection(), notice(), h("p", {}, t.offlineText),
      messageList(), composer(),
      h("button", { type: "button", class: "primary", onclick: getCode }, t.getCode), cover());
  },
  ended() {
    const t = state.t;
    return h("section", { "aria-labelledby": "e-title" },
      h("h1", { id: "e-title" }, t.ended), messageList(),
      h("button", { type: "button", class: "primary", onclick: () => {
        const old = state.chat; state.chat = null; state.urgent = false; old.close(); render();
      } }, t.newChat), cover());
  },
  code() {
    return state.code.screen(state);
  },
  "enter-code"() {
    if (codeModule) return codeModule.enterCodeScreen(state, { makeChat, render });
    const node = h("section", { id: "enter-code-slot" });
    returnCodes().then((m) => { node.replaceWith(m.enterCodeScreen(state, { makeChat, render })); });
    return node;
  },
};

function endButton() {
  return h("button", { type: "button", class: "ghost end", onclick: () => {
    if (window.confirm(state.t.endConfirm)) act(() => state.chat.end());
  } }, state.t.end);
}

async function getCode() {
  const m = await returnCodes();
  state.renderAgain = render;
  await act(() => m.showCode(state, { render }));
}

// -- go ------------------------------------------------------------------------------------
const options = await hostOptions();
if (options) {
  if (typeof options.fingerprint === "string" && options.fingerprint) state.fingerprint = options.fingerprint;
  // The server refuses `open` with a campaign code outside its pattern: a partner's typo
  // must not cost the young person the chat, so such a code is dropped.
  if (typeof options.campaign === "string" && /^[a-z0-9][a-z0-9-]{0,31}$/.test(options.campaign)) {
    state.campaign = options.campaign;
  }
  if (options.look === "disguise") state.look = "disguise";
}
document.body.classList.toggle("disguise", state.look === "disguise");
await setLanguage(pickLanguage((options && options.language) || "", page.language || "nl"));
toHost({ type: "hl:ready", exitUrl: page.exitUrl });
if (savedTab) resumeTab(savedTab);
