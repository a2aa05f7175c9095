// The audit log for the admin: the newest entries first, filtered by action and by staff
// member, with the server's check of the whole hash chain and of its signed checkpoints
// (GET /api/audit/verify). A broken chain names its first changed entry, and that row is
// flagged. Entries hold conversation ids and staff names, never content.
import { h } from "../../../widgets/src/app/dom.js";
import { state, render, act } from "./state.js";
import { t } from "./i18n.js";

const PAGE = 500;

export async function loadAudit(older = false) {
  const a = state.audit;
  let start;
  if (older && a) start = Math.max(0, a.first - PAGE);
  else {
    const head = await state.chat.audit({ start: 0, limit: 1 });
    start = Math.max(0, head.total - PAGE);
  }
  const page = await state.chat.audit({ start, limit: PAGE });
  const entries = older && a ? [...page.entries, ...a.entries] : page.entries;
  const checkpoints = older && a ? [...page.checkpoints, ...a.checkpoints] : page.checkpoints;
  state.audit = { entries, checkpoints, first: start, total: page.total, key: page.audit_key,
                  action: a?.action ?? "", actor: a?.actor ?? "", verify: a?.verify ?? null };
}

export async function verifyAudit() {
  state.audit.verify = await state.chat.auditVerify();
}

const time = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
const options = (values, chosen) => [h("option", { value: "" }, t("all")),
  ...values.map((v) => h("option", { value: v, selected: v === chosen }, v))];

function verifyResult(v) {
  if (!v) return null;
  if (v.ok) return h("p", { role: "status", class: "verify ok" }, t("audit.ok", { n: v.entries, k: v.checkpoints }));
  return h("p", { role: "alert", class: "verify broken" },
    t("audit.broken", { i: v.first_broken ?? "?", code: v.code ?? "", reason: v.reason ?? "" }));
}

export function auditScreen() {
  const a = state.audit;
  if (!a) {
    if (!state.busy) queueMicrotask(() => act(loadAudit));
    return h("section", { "aria-labelledby": "au-title" }, h("h1", { id: "au-title", tabindex: "-1" }, t("audit.title")),
      h("p", {}, t("stats.loading")));
  }
  const actions = [...new Set(a.entries.map((e) => e.action))].sort();
  const actors = [...new Set(a.entries.map((e) => e.actor))].sort();
  const shown = a.entries.filter((e) => (!a.action || e.action === a.action) && (!a.actor || e.actor === a.actor)).reverse();
  const broken = a.verify && !a.verify.ok ? a.verify.first_broken : null;
  const pick = (name) => (e) => { a[name] = e.target.value; render(); };
  return h("section", { "aria-labelledby": "au-title", class: "audit" },
    h("h1", { id: "au-title", tabindex: "-1" }, t("audit.title")),
    h("p", {}, t("audit.intro", { total: a.total, key: a.key ? a.key.slice(0, 16) : "—" })),
    h("div", { class: "filters" },
      h("p", { class: "field" }, h("label", { for: "audit-action" }, t("audit.action")),
        h("select", { id: "audit-action", onchange: pick("action") }, ...options(actions, a.action))),
      h("p", { class: "field" }, h("label", { for: "audit-actor" }, t("audit.actor")),
        h("select", { id: "audit-actor", onchange: pick("actor") }, ...options(actors, a.actor))),
      h("button", { type: "button", class: "primary", id: "audit-verify", disabled: state.busy, onclick: () => act(verifyAudit) }, t("audit.verify")),
      h("button", { type: "button", class: "ghost", disabled: state.busy, onclick: () => { state.audit = null; render(); } }, t("stats.reload")),
      a.first > 0 ? h("button", { type: "button", class: "ghost", disabled: state.busy, onclick: () => act(() => loadAudit(true)) }, t("audit.older")) : null),
    verifyResult(a.verify),
    h("table", { class: "figures audit-log" },
      h("caption", {}, t("audit.shown", { n: shown.length, of: a.entries.length })),
      h("thead", {}, h("tr", {}, ...["#", t("audit.when"), t("audit.actor"), t("audit.role"), t("audit.action"), t("audit.conversation"), t("audit.details")]
        .map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, ...shown.map((e) => h("tr", { "data-i": e.i, class: e.i === broken ? "flagged" : "" },
        h("td", {}, e.i === broken ? `${e.i} ${t("audit.changed")}` : String(e.i)), h("td", {}, time(e.at)), h("td", {}, e.actor),
        h("td", {}, e.role), h("td", {}, e.action), h("td", { class: "mono" }, e.conversation_id ?? ""),
        h("td", { class: "mono" }, Object.keys(e.details || {}).length ? JSON.stringify(e.details) : ""))))),
    a.checkpoints.length ? h("section", { "aria-labelledby": "au-cp" },
      h("h2", { id: "au-cp" }, t("audit.checkpoints")),
      h("ul", {}, ...a.checkpoints.map((c) => h("li", {}, t("audit.checkpoint", { count: c.count, at: time(c.at * 1000), head: String(c.head).slice(0, 16) }))))) : null);
}
