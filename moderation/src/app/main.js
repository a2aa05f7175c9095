// The counsellor console at /console, in plain DOM as the widget's app: one `state`
// (state.js), kept by desk.js from the server's answers and events; screens
// (screens.js, chatview.js) build the page from it, and render() draws it after every
// change. Around the screen: the header (language, alerts, shortcuts, sign out), the
// session warning, the list of the staff member's conversations with unread counts,
// the open panel, and one live region for screen readers.
import { h, clear } from "../../../widgets/src/app/dom.js";
import { state, onRender, render, act } from "./state.js";
import { LANGUAGES, preferredLanguage, setLanguage, t, language } from "./i18n.js";
import * as desk from "./desk.js";
import { showCount } from "./alerts.js";
import { SCREENS, PANELS, field } from "./screens.js";
import { chatScreen, referralPanel, wrapupPanel } from "./chatview.js";
import { onKey } from "./shortcuts.js";
import { statsScreen, leaveStats } from "./stats.js";
import { auditScreen } from "./audit.js";

const live = h("div", { id: "live", class: "sr-only", "aria-live": "polite", role: "status" });
desk.liveRegion(live);
const WORKING = new Set(["queue", "chat", "requests", "stats", "audit"]);
// The supervisor's and admin's screens, beside the desk (supervisors chat too; admins do not).
const EXTRA = { supervisor: ["stats"], admin: ["stats", "audit"] };
const DRAW = { chat: chatScreen, stats: statsScreen, audit: auditScreen };

function goTo(screen) {
  state.screen = screen;
  state.current = null;
  state.panel = null;
  render();
}

function header() {
  return h("header", { class: "top" },
    h("span", { class: "brand" }, t("brand")),
    h("label", { class: "inline", for: "ui-language" }, t("language")),
    h("select", { id: "ui-language", onchange: (e) => {
      setLanguage(e.target.value);
      desk.setLanguagePreference(e.target.value);
      render();
    } }, ...LANGUAGES.map(([code, name]) => h("option", { value: code, selected: code === language(), lang: code }, name))),
    state.chat ? h("button", { type: "button", class: "ghost", "aria-expanded": String(state.panel === "settings"),
                               onclick: () => { state.panel = state.panel === "settings" ? null : "settings"; render(); } }, t("settings")) : null,
    state.chat ? h("button", { type: "button", class: "ghost", "aria-keyshortcuts": "?",
                               onclick: () => { state.panel = state.panel === "help" ? null : "help"; render(); } }, t("help")) : null,
    state.chat ? h("span", { class: "who-am-i" }, state.username) : null,
    state.chat ? h("button", { type: "button", class: "ghost", onclick: desk.signOut }, t("signOut")) : null);
}

function sessionWarning() {
  if (!state.expiring || !WORKING.has(state.screen)) return null;
  const form = h("form", { class: "renew", onsubmit: (e) => {
    e.preventDefault();
    const pw = form.querySelector("#renew-password");
    const password = pw.value;
    pw.value = "";
    act(() => desk.signIn(state.username, password).then(() => { state.expiring = 0; }));
  } },
    h("p", { role: "alert", class: "expiring" }, t("sessionEnds", { minutes: state.expiring })),
    field("renew-password", t("password"), { type: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit", class: "primary", disabled: state.busy }, t("staySignedIn")));
  return h("aside", { "aria-label": t("session") }, form);
}

function nav() {
  if (!WORKING.has(state.screen)) return null;
  const police = state.role === "police";
  const home = police ? "requests" : "queue";
  const waiting = police ? state.requests.length : state.entries.length;
  const chats = [...state.chats.values()];
  const admin = state.role === "admin";
  const extra = (EXTRA[state.role] || []).map((screen) => h("button", {
    type: "button", class: state.screen === screen ? "primary" : "ghost", id: `nav-${screen}`,
    "aria-current": state.screen === screen ? "page" : null, onclick: () => goTo(screen) }, t(`nav.${screen}`)));
  return h("nav", { class: "desk", "aria-label": t("nav") },
    admin ? null : h("button", { type: "button", class: state.screen === home ? "primary" : "ghost", id: "nav-home",
                  "aria-current": state.screen === home ? "page" : null, onclick: () => goTo(home) },
      `${police ? t("requests") : t("queue")} (${waiting})`),
    police || admin ? null : h("button", { type: "button", class: "ghost", onclick: () => act(desk.makeInvite) }, t("invite")),
    ...extra,
    chats.length ? h("h2", { class: "nav-title" }, t("yourChats")) : null,
    chats.length ? h("ul", { class: "chats" }, ...chats.map((c) => {
      const n = desk.unread(c);
      const here = state.current === c.id && state.screen === "chat";
      return h("li", {}, h("button", { type: "button", class: here ? "primary" : "ghost", "data-chat": c.n,
                                       "aria-current": here ? "page" : null, onclick: () => { desk.open(c.id); render(); } },
        t("chatN", { n: c.n }),
        n ? h("span", { class: "badge" }, ` ${t("unreadN", { n })}`) : null,
        c.ended && !police ? h("span", { class: "badge" }, ` (${t("needsWrapup")})`) : null));
    })) : null);
}

function currentPanel() {
  if (!state.panel || !state.chat) return null;
  if (state.panel === "referral") return referralPanel();
  if (state.panel === "wrapup") return wrapupPanel();
  return PANELS[state.panel]?.() ?? null;
}

let lastScreen = "", lastPanel = null, lastChat = null;
function draw() {
  const root = document.getElementById("app");
  desk.markRead(state.chats.get(state.current));
  root.dataset.screen = state.screen;
  root.dataset.panel = state.panel || "";
  const focused = document.activeElement && document.activeElement.id;
  const values = {};
  for (const el of root.querySelectorAll("input[id], textarea[id]")) {
    if (!["password", "file", "checkbox", "radio"].includes(el.type) && !el.readOnly && el.id !== "compose") values[el.id] = el.value;
  }
  const checked = {};
  for (const el of root.querySelectorAll("input[type=radio]:checked")) checked[el.name] = el.value;
  const files = root.querySelector("#backup-file")?.files;
  const main = h("main", { id: "main" });
  if (state.error) main.append(h("p", { role: "alert", class: "error" }, state.error));
  if (state.notice) main.append(h("p", { role: "status", class: "notice" }, state.notice));
  if (state.screen !== "stats") leaveStats();
  main.append((DRAW[state.screen] || SCREENS[state.screen])());
  const panel = currentPanel();
  clear(root);
  root.append(header(), sessionWarning() || "", h("div", { class: "layout" }, nav() || "", main, panel || ""), live);
  for (const [id, value] of Object.entries(values)) {
    const el = document.getElementById(id);
    if (el) el.value = value;
  }
  for (const [name, value] of Object.entries(checked)) {
    const el = root.querySelector(`input[name="${name}"][value="${value}"]`);
    if (el) el.checked = true;
  }
  if (files?.length) { const el = root.querySelector("#backup-file"); if (el) el.files = files; }
  // Focus: where it was; else, on a new screen or panel, its heading (for screen readers).
  const moved = state.screen !== lastScreen || state.panel !== lastPanel || state.current !== lastChat;
  [lastScreen, lastPanel, lastChat] = [state.screen, state.panel, state.current];
  const again = focused && document.getElementById(focused);
  if (moved) {
    const target = panel ? panel.querySelector("h2") : state.screen === "chat" ? document.getElementById("compose") : main.querySelector("h1");
    (target || again)?.focus();
  } else if (again) {
    again.focus();
  }
  showCount(desk.alertCount(), t("brand"));
}

onRender(draw);
setLanguage(preferredLanguage(state.settings.language));
document.addEventListener("keydown", onKey);
document.addEventListener("visibilitychange", () => { if (!document.hidden) render(); });
// Waiting times move on and the session runs out: look now and then.
setInterval(() => { if (state.screen === "queue" && !state.busy) render(); }, 30_000);
setInterval(desk.watchSession, 5_000);
window.addEventListener("pagehide", () => state.chat?.close()); // wipe the keys in memory
render();
