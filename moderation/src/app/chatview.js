// One conversation on the screen: who can read it, the police handover, the "can't talk
// freely" banner, the decrypted messages (texts, referral cards, the intake's answers)
// with the line from where the police can read, typing, the composer with canned
// answers; and its panels: the referral directory and the wrap-up form.
import { h } from "../../../widgets/src/app/dom.js";
import { state, act, render } from "./state.js";
import { t } from "./i18n.js";
import * as desk from "./desk.js";

const FORMS = ["criminal", "sexual", "labour", "other", "unknown"];
const AGES = ["under_12", "12_15", "16_17", "18_23", "over_23", "unknown"];
const REFERRALS = ["none", "care", "police", "labour_inspectorate", "other"];
const CAN_OFFER = new Set(["none", "declined", "withdrawn", "left", "ended", "expired"]);
const POLICE_LIVE = new Set(["offered", "consented", "joined"]);

function who(m) {
  if (m.mine) return t("you");
  if (m.role === "youth") return t("youngPerson");
  if (m.role === "police") return `${t("police")} (${m.sender || ""})`;
  return m.sender || t("counsellor");
}

function referralBody(r) {
  if (!r || typeof r !== "object") return h("p", { class: "text" }, "[referral]");
  return h("div", { class: "card" },
    h("p", { class: "card-name" }, t("referralCard", { name: r.name })),
    r.what ? h("p", {}, r.what) : null,
    ...(r.phones || []).map((p) => h("p", {}, `${p.label}: ${p.number}`)),
    r.url ? h("p", {}, r.url) : null);
}

function intakeBody(answers) {
  return h("div", { class: "intake" }, h("p", { class: "card-name" }, t("intakeTitle")),
    h("dl", {}, ...answers.flatMap((a) => [h("dt", {}, String(a.question ?? "")),
      h("dd", {}, String(a.text || a.choice || "—"))])));
}

function messageList(c) {
  const shown = c.messages.filter((m) => m.error || ["text", "referral"].includes(m.kind)
    || (m.kind === "intake" && Array.isArray(m.answers)));
  const from = c.summary.police_from_seq;
  const items = [];
  if (state.role === "police") {
    const shared = c.shareHistory || (shown[0] && from && shown[0].seq < from);
    items.push(h("li", { class: "from-line", id: "police-from" }, shared ? t("policeFromStart") : t("policeFromHandover")));
  }
  let lined = false;
  for (const m of shown) {
    if (from && m.seq >= from && !lined && m.seq !== shown[0].seq) {
      items.push(h("li", { class: "from-line" }, t("policeLine")));
      lined = true;
    }
    items.push(h("li", { class: m.mine ? "mine" : "theirs", "data-seq": m.seq },
      h("span", { class: "who" }, who(m)),
      m.error ? h("p", { class: "text" }, t("unreadable", { error: m.error }))
        : m.kind === "referral" ? referralBody(m.referral)
          : m.kind === "intake" ? intakeBody(m.answers)
            : h("p", { class: "text" }, m.text)));
  }
  return h("ol", { class: "messages", "aria-label": t("messages") }, ...items);
}

function composer(c) {
  const matches = state.slash ? desk.cannedMatches(c, state.slash) : [];
  const insert = (answer) => {
    state.slash = "";
    c.draft = answer.text;
    render();
    document.getElementById("compose")?.focus();
  };
  const submit = () => {
    const input = document.getElementById("compose");
    const text = input.value.trim();
    if (!text) return;
    if (text.startsWith("/")) { // a search for a canned answer, not a message
      const first = desk.cannedMatches(c, text)[0];
      if (first) insert(first);
      return;
    }
    act(async () => {
      await desk.send(c, text);
      document.getElementById("compose")?.focus();
    });
  };
  const area = h("textarea", { id: "compose", rows: 3, maxlength: 4000, "aria-describedby": "compose-help",
    onkeydown: (e) => {
      if (e.key !== "Enter" || e.shiftKey || e.isComposing) return;
      e.preventDefault();
      submit();
    },
    oninput: (e) => {
      c.draft = e.target.value;
      desk.typed(c);
      const slash = c.draft.startsWith("/") ? c.draft : "";
      if (slash !== state.slash) { state.slash = slash; render(); }
    } });
  area.value = c.draft;
  return h("form", { class: "compose", onsubmit: (e) => { e.preventDefault(); submit(); } },
    h("label", { for: "compose" }, t("yourMessage")), area,
    h("p", { id: "compose-help", class: "help" }, t(state.role === "police" ? "composeHelpPolice" : "composeHelp")),
    matches.length ? h("ul", { class: "canned", "aria-label": t("cannedAnswers") },
      ...matches.map((a) => h("li", {}, h("button", { type: "button", class: "ghost", onclick: () => insert(a) }, a.title)))) : null,
    h("button", { type: "submit", class: "primary", disabled: state.busy }, t("send")));
}

function handoverBar(c) {
  if (state.role === "police") {
    return h("div", { class: "row" }, h("button", { type: "button", class: "ghost", disabled: state.busy,
      onclick: () => act(() => desk.leave(c.id)) }, t("leave")));
  }
  const label = t(`handover.${c.handover}`, { officer: c.officer || "" });
  return h("div", { class: "row handover" },
    h("p", { id: "handover-state", class: "readers" }, t("handoverState", { state: label })),
    !c.ended && CAN_OFFER.has(c.handover) ? h("button", { type: "button", disabled: state.busy,
      onclick: () => act(() => desk.offerPolice(c)) }, t("offerPolice")) : null,
    POLICE_LIVE.has(c.handover) ? h("button", { type: "button", class: "ghost", disabled: state.busy,
      onclick: () => act(() => desk.endPolice(c)) }, t("endPolice")) : null);
}

export function chatScreen() {
  const c = state.chats.get(state.current);
  if (!c) return h("p", {}, t("not_found"));
  const cannotTalk = c.messages.some((m) => m.kind === "signal" && m.signal === "cannot_talk");
  const readers = c.readers.includes("police") ? t("readersPolice") : c.readers.length ? t("readersTeam") : "";
  const police = state.role === "police";
  return h("section", { "aria-labelledby": "c-title" },
    h("h1", { id: "c-title", tabindex: "-1" }, t("chatN", { n: c.n }),
      c.language ? h("span", { class: "meta" }, ` · ${t("langLabel", { language: c.language })}`) : null),
    c.summary?.urgent && !c.ended ? h("p", { class: "urgent-chat" }, h("strong", {}, t("urgent")), ` ${t("urgentNote")}`) : null,
    cannotTalk ? h("p", { role: "alert", class: "cannot-talk" }, t("cannotTalk")) : null,
    readers ? h("p", { id: "readers", class: "readers" }, readers) : null,
    c.error ? h("p", { role: "alert", class: "error" }, c.error) : null,
    handoverBar(c),
    c.online ? null : h("p", { class: "notice" }, t("youthOffline")),
    messageList(c),
    h("p", { class: "typing", "aria-live": "off" }, c.typing ? t("typing") : ""),
    c.ended ? h("p", { class: "notice", role: "status" }, police ? t("ended") : `${t("ended")} ${t("wrapupNeeded")}`) : composer(c),
    police ? null : h("div", { class: "row" },
      c.ended ? null : h("button", { type: "button", class: "ghost", disabled: state.busy,
        onclick: () => act(() => desk.end(c)) }, t("endConversation")),
      h("button", { type: "button", class: c.ended ? "primary" : "ghost",
        onclick: () => { state.panel = "wrapup"; render(); } }, t("wrapup")),
      h("button", { type: "button", class: "ghost", onclick: () => { state.panel = "referral"; render(); } }, t("referral"))));
}

// -- panels of a conversation ---------------------------------------------------------------
function options(list, prefix, selected) {
  return [h("option", { value: "" }, t("all")),
    ...list.map((v) => h("option", { value: v, selected: selected === v }, t(`${prefix}.${v}`) === `${prefix}.${v}` ? v : t(`${prefix}.${v}`)))];
}

export function referralPanel() {
  const c = state.chats.get(state.current);
  const r = state.referral;
  if (!c) return null;
  if (r.results === null && !state.busy) queueMicrotask(() => act(desk.searchReferrals));
  const form = h("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    r.q = form.querySelector("#ref-q").value;
    r.region = form.querySelector("#ref-region").value;
    r.kind = form.querySelector("#ref-kind").value;
    act(desk.searchReferrals);
  } },
    h("p", { class: "field" }, h("label", { for: "ref-q" }, t("search")), h("input", { id: "ref-q", type: "search", value: r.q })),
    h("p", { class: "field" }, h("label", { for: "ref-region" }, t("region")),
      h("select", { id: "ref-region" }, ...options(r.regions, "region", r.region))),
    h("p", { class: "field" }, h("label", { for: "ref-kind" }, t("kind")),
      h("select", { id: "ref-kind" }, ...options(r.kinds, "kind", r.kind))),
    h("button", { type: "submit", class: "primary", disabled: state.busy }, t("search")));
  const lang = c.language === "nl" ? "nl" : "en";
  const results = r.results || [];
  return h("section", { class: "panel", id: "panel-referral", role: "dialog", "aria-modal": "false", "aria-labelledby": "referral-title" },
    h("h2", { id: "referral-title", tabindex: "-1" }, t("referralTitle")), form,
    r.results && !results.length ? h("p", {}, t("noReferrals")) : null,
    h("ul", { class: "directory", "aria-label": t("referralTitle") }, ...results.map((entry) => h("li", {},
      h("h3", {}, entry.name), h("p", { class: "meta" }, t(`kind.${entry.kind}`)),
      h("p", {}, entry.what[lang]),
      entry.note ? h("p", { class: "help" }, entry.note[lang]) : null,
      h("button", { type: "button", disabled: state.busy || c.ended, "aria-label": `${t("sendCard")}: ${entry.name}`,
                    onclick: () => act(() => desk.sendReferral(c, entry)) }, t("sendCard"))))),
    h("button", { type: "button", class: "ghost", onclick: () => { state.panel = null; render(); } }, t("close")));
}

function radios(name, legend, values, prefix, chosen, hint) {
  return h("fieldset", { class: "choices" }, h("legend", {}, legend),
    ...values.map((v) => h("p", { class: "check" },
      h("input", { type: "radio", name, id: `${name}-${v}`, value: v, checked: chosen === v }),
      h("label", { for: `${name}-${v}` }, t(`${prefix}.${v}`), hint === v ? ` ${t("fromIntake")}` : ""))));
}

export function wrapupPanel() {
  const c = state.chats.get(state.current);
  if (!c || state.role === "police") return null;
  const kinds = [...c.referralKinds];
  const referral = kinds.length === 1 ? kinds[0] : kinds.length > 1 ? null : null;
  const form = h("form", { class: "wrapup", onsubmit: (e) => {
    e.preventDefault();
    const pick = (n) => form.querySelector(`input[name="${n}"]:checked`)?.value;
    const choice = { form: pick("form"), ageBand: pick("age"), referral: pick("referral") };
    if (!choice.form || !choice.ageBand || !choice.referral) {
      state.error = t("wrapupMissing");
      render();
      return;
    }
    act(() => desk.fileWrapup(c, choice));
  } },
    radios("form", t("formLegend"), FORMS, "form", c.summary.form_hint, c.summary.form_hint),
    radios("age", t("ageLegend"), AGES, "age", c.summary.age_band, c.summary.age_band),
    radios("referral", t("referralLegend"), REFERRALS, "ref", referral, null),
    h("button", { type: "submit", class: "primary", disabled: state.busy }, t("fileWrapup")));
  return h("section", { class: "panel", id: "panel-wrapup", role: "dialog", "aria-modal": "false", "aria-labelledby": "wrapup-title" },
    h("h2", { id: "wrapup-title", tabindex: "-1" }, t("wrapupTitle")), h("p", {}, t("wrapupIntro")), form,
    h("button", { type: "button", class: "ghost", onclick: () => { state.panel = null; render(); } }, t("close")));
}
