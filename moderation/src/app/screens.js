// The console's screens outside a conversation: signing in, this device's keys (new,
// backup, restore, waiting for approval), signing in again when the session ends, the
// queue and the police requests; and the panels (help sheet, alerts, invite). Each is a
// function of `state` returning DOM; main.js draws the one of state.screen.
import { h } from "../../../widgets/src/app/dom.js";
import { state, act, render } from "./state.js";
import { t } from "./i18n.js";
import * as desk from "./desk.js";
import { TONES, playSound, saveSettings } from "./alerts.js";
import { SHORTCUTS } from "./shortcuts.js";
import { qrSvg } from "./qr.js";

export function field(id, label, attrs = {}) {
  return h("p", { class: "field" }, h("label", { for: id }, label), h("input", { id, name: id, ...attrs }));
}

const section = (id, title, ...children) => h("section", { "aria-labelledby": id },
  h("h1", { id, tabindex: "-1" }, title), ...children);

const clock = (ms) => new Date(ms).toLocaleString(document.documentElement.lang || "en",
  { hour: "2-digit", minute: "2-digit", day: "numeric", month: "short" });

function passwordForm(id, onPassword, label, withUsername) {
  const form = h("form", { class: "login", onsubmit: (e) => {
    e.preventDefault();
    const username = withUsername ? form.querySelector("#username").value.trim() : state.username;
    const pw = form.querySelector(`#${id}`);
    const password = pw.value;
    pw.value = "";
    act(() => onPassword(username, password));
  } },
    withUsername ? field("username", t("username"), { type: "text", autocomplete: "username", required: true, autocapitalize: "none" }) : null,
    field(id, t("password"), { type: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit", class: "primary", disabled: state.busy }, label));
  return form;
}

function waited(entry) {
  const since = state.seen.get(entry.conversation_id) ?? Date.now();
  const ms = (entry.waiting_ms ?? 0) + (Date.now() - since);
  const minutes = Math.floor(ms / 60000);
  return minutes < 1 ? t("lessThanMinute") : minutes === 1 ? t("oneMinute") : t("minutes", { n: minutes });
}

export const SCREENS = {
  login: () => section("l-title", t("signIn"), passwordForm("password", desk.signIn, t("signIn"), true)),

  relogin: () => section("r-title", t("sessionEnded"),
    h("p", {}, t("sessionEndedIntro")),
    h("p", {}, `${t("username")}: `, h("strong", {}, state.username)),
    passwordForm("password", desk.signIn, t("goOn"), false),
    h("button", { type: "button", class: "ghost", onclick: desk.signOut }, t("signOut"))),

  setup: () => section("s-title", t("setupTitle"),
    h("p", {}, t("setupIntro")),
    h("div", { class: "row" },
      h("button", { type: "button", class: "primary", disabled: state.busy, onclick: () => act(desk.makeKeys) }, t("makeKeys")),
      h("button", { type: "button", class: "ghost", disabled: state.busy,
                    onclick: () => { state.screen = "restore"; render(); } }, t("restoreKeys")))),

  backup() {
    const form = h("form", { class: "login", onsubmit: (e) => {
      e.preventDefault();
      const a = form.querySelector("#passphrase").value, b = form.querySelector("#passphrase2").value;
      if (a.length < 12) { state.error = t("passphraseShort"); render(); return; }
      if (a !== b) { state.error = t("passphraseDiffers"); render(); return; }
      act(() => desk.saveBackup(a));
    } },
      field("passphrase", t("passphrase"), { type: "password", autocomplete: "new-password", required: true }),
      field("passphrase2", t("passphraseAgain"), { type: "password", autocomplete: "new-password", required: true }),
      h("div", { class: "row" },
        h("button", { type: "submit", class: "primary", disabled: state.busy }, t("saveBackup")),
        h("button", { type: "button", class: "ghost", disabled: state.busy, onclick: () => act(desk.finishNewKeys) }, t("skipBackup"))));
    return section("b-title", t("backupTitle"), h("p", {}, t("backupIntro")), form);
  },

  restore() {
    const form = h("form", { class: "login", onsubmit: (e) => {
      e.preventDefault();
      const file = form.querySelector("#backup-file").files[0];
      const passphrase = form.querySelector("#passphrase").value;
      if (!file) { state.error = t("chooseFile"); render(); return; }
      act(async () => desk.restore(await file.text(), passphrase));
    } },
      h("p", { class: "field" }, h("label", { for: "backup-file" }, t("backupFile")),
        h("input", { id: "backup-file", type: "file", accept: "application/json,.json" })),
      field("passphrase", t("passphrase"), { type: "password", autocomplete: "off", required: true }),
      h("div", { class: "row" },
        h("button", { type: "submit", class: "primary", disabled: state.busy }, t("restore")),
        h("button", { type: "button", class: "ghost", onclick: () => { state.screen = "setup"; render(); } }, t("cancel"))));
    return section("rs-title", t("restoreTitle"), form);
  },

  device() {
    const fp = state.fingerprints || {};
    return section("d-title", t("deviceTitle"),
      h("p", { class: "waiting" }, t("waitingApproval")),
      h("p", {}, t("readFingerprints")),
      h("dl", { class: "fingerprints" },
        h("dt", {}, t("encryptionKey")), h("dd", { id: "fp-encryption" }, fp.encryption || ""),
        h("dt", {}, t("signingKey")), h("dd", { id: "fp-signing" }, fp.signing || "")),
      h("button", { type: "button", class: "primary", disabled: state.busy,
                    onclick: () => act(async () => { if (!(await desk.checkGrants())) state.notice = t("notApproved"); }) },
        t("checkAgain")));
  },

  queue() {
    const entries = desk.sortedEntries();
    const held = [...state.chats.values()].length;
    const full = state.maxConversations && held >= state.maxConversations;
    return section("q-title", t("queueTitle"),
      state.maxConversations ? h("p", { id: "capacity", class: full ? "capacity full" : "capacity" },
        t("capacity", { held, max: state.maxConversations }), full ? ` ${t("atCapacity")}` : "") : null,
      entries.length
        ? h("ul", { class: "queue", "aria-label": t("waitingList") },
          ...entries.map((e, i) => {
            const hold = e.language_hold_until && e.language_hold_until > Date.now();
            return h("li", { class: e.urgent ? "urgent" : "" },
              h("p", { class: "entry" },
                e.urgent ? h("strong", { class: "flag" }, t("urgent")) : null,
                h("span", {}, t("langLabel", { language: e.language || t("unknown") })),
                h("span", {}, t("waitingFor", { time: waited(e) })),
                e.campaign ? h("span", {}, t("campaign", { campaign: e.campaign })) : null,
                hold ? h("span", {}, t("langHold", { language: e.language, time: clock(e.language_hold_until) })) : null,
                e.urgent ? h("span", { class: "flag-note" }, t("urgentNote")) : null),
              h("button", { type: "button", class: "primary", id: `accept-${i}`, disabled: state.busy,
                            "aria-label": t("acceptLabel", { n: i + 1 }) + (e.urgent ? t("urgentLabel") : ""),
                            onclick: () => act(() => desk.accept(e.conversation_id)) }, t("accept")));
          }))
        : h("p", { class: "empty" }, t("noOneWaiting")));
  },

  requests() {
    return section("p-title", t("requestsTitle"),
      state.requests.length
        ? h("ul", { class: "queue", "aria-label": t("requestList") },
          ...state.requests.map((r, i) => h("li", {},
            h("p", { class: "entry" },
              h("span", {}, t("langLabel", { language: r.language || t("unknown") })),
              h("span", {}, r.share_history ? t("sharesHistory") : t("fromHandover"))),
            h("button", { type: "button", class: "primary", disabled: state.busy,
                          "aria-label": t("joinLabel", { n: i + 1 }),
                          onclick: () => act(() => desk.join(r.conversation_id)) }, t("join")))))
        : h("p", { class: "empty" }, t("noRequests")));
  },
};

// -- panels: over the screen, closed with Escape or their Close button --------------------------
function panel(id, title, ...children) {
  return h("section", { class: "panel", id: `panel-${id}`, role: "dialog", "aria-modal": "false", "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title`, tabindex: "-1" }, title), ...children,
    h("button", { type: "button", class: "ghost", onclick: () => { state.panel = null; render(); } }, t("close")));
}

export const PANELS = {
  help: () => panel("help", t("help"), h("p", {}, t("helpIntro")),
    h("table", { class: "keys" }, h("tbody", {},
      ...SHORTCUTS.map((s) => h("tr", {}, h("th", { scope: "row" }, h("kbd", {}, s.keys)), h("td", {}, t(s.help))))))),

  settings() {
    const s = state.settings;
    const change = (fn) => (e) => { fn(e.target); saveSettings(s); render(); };
    return panel("settings", t("alertsTitle"), h("p", {}, t("alertsIntro")),
      h("p", { class: "check" }, h("input", { type: "checkbox", id: "sound", checked: s.sound, onchange: change((el) => { s.sound = el.checked; }) }),
        h("label", { for: "sound" }, t("soundOn"))),
      h("p", { class: "field" }, h("label", { for: "tone" }, t("tone")),
        h("select", { id: "tone", onchange: change((el) => { s.tone = el.value; }) },
          ...Object.keys(TONES).map((k) => h("option", { value: k, selected: s.tone === k }, t(`tone.${k}`))))),
      h("p", { class: "field" }, h("label", { for: "volume" }, t("volume")),
        h("input", { type: "range", id: "volume", min: 0, max: 100, step: 10, value: s.volume,
                     onchange: change((el) => { s.volume = Number(el.value); }) })),
      h("button", { type: "button", onclick: () => playSound(s, true) }, t("testSound")));
  },

  invite() {
    const inv = state.invite;
    if (!inv) return null;
    return panel("invite", t("inviteTitle"),
      h("p", {}, t("inviteIntro", { time: clock(inv.expiresAt) })),
      h("p", { class: "field" }, h("label", { for: "invite-link" }, t("inviteLink")),
        h("input", { id: "invite-link", type: "text", readonly: true, value: inv.link })),
      qrSvg(inv.link, t("inviteQr")),
      h("div", { class: "row" },
        h("button", { type: "button", onclick: () => {
          navigator.clipboard?.writeText(inv.link).then(() => { state.notice = t("copied"); render(); }, () => {});
        } }, t("copyLink")),
        h("button", { type: "button", class: "ghost", disabled: state.busy, onclick: () => act(desk.makeInvite) }, t("newInvite"))));
  },
};
