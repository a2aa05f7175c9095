// The statistics dashboard (supervisors and admins): the anonymous, settled weekly counts
// of GET /api/stats, drawn as charts (charts.js, Chart.js) with a table of the very same
// numbers under each, and the CSV and JSON export a click away. Counts of 1 to 4, and a
// complement where needed, arrive hidden from the server (docs/security.md): they stay
// hidden here, as "hidden" in the table and a gap in the chart. Nothing here can be
// narrowed to one conversation: there are no filters below a week and a dimension.
import { h } from "../../../widgets/src/app/dom.js";
import { state, render, act } from "./state.js";
import { t } from "./i18n.js";

export const DIMENSIONS = ["form", "age_band", "language", "campaign", "referral", "police"];
const PREFIX = { form: "form", age_band: "age", referral: "ref", police: "police" };

let charts = null; // the chunk, once loaded
let pending = null;

function valueLabel(dimension, value) {
  const prefix = PREFIX[dimension];
  if (!prefix) return value === "none" || value === "unknown" ? t(`stats.v.${value}`) : value;
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? value : text;
}

/** The dashboard's model: weeks in order, per dimension the values and their counts. */
export function model(rows) {
  const weeks = [...new Set(rows.map((r) => r.week))].sort();
  const totals = new Map(), dims = new Map();
  for (const r of rows) {
    if (!totals.has(r.week) || totals.get(r.week) === null) totals.set(r.week, r.week_total);
    if (!dims.has(r.dimension)) dims.set(r.dimension, new Map());
    const byValue = dims.get(r.dimension);
    for (const [value, count] of Object.entries(r.counts)) {
      if (!byValue.has(value)) byValue.set(value, new Map());
      byValue.get(value).set(r.week, count);
    }
  }
  return { weeks, totals, dims };
}

function specs(m) {
  const out = new Map();
  out.set("total", { labels: m.weeks, series: [{ label: t("stats.conversations"), values: m.weeks.map((w) => m.totals.get(w) ?? null) }] });
  for (const d of DIMENSIONS) {
    const byValue = m.dims.get(d);
    if (!byValue) continue;
    out.set(d, { labels: m.weeks, series: [...byValue].map(([value, counts]) => ({
      label: valueLabel(d, value), values: m.weeks.map((w) => countIn(counts, w)) })) });
  }
  return out;
}

// A value a week does not list had no conversation that week (0); null is hidden.
const countIn = (counts, week) => (counts.has(week) ? counts.get(week) : 0);
const cell = (n) => (n === null || n === undefined ? h("td", { class: "hidden-count" }, t("stats.hidden")) : h("td", {}, String(n)));

function table(caption, weeks, rows) {
  return h("table", { class: "figures", "data-table": caption.id },
    h("caption", {}, caption.text),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("stats.value")), ...weeks.map((w) => h("th", { scope: "col" }, w)))),
    h("tbody", {}, ...rows.map(([label, values, value]) => h("tr", { "data-value": value },
      h("th", { scope: "row" }, label), ...values.map(cell)))));
}

function chartBlock(id, title, m, rows) {
  return h("section", { class: "stat", "aria-labelledby": `st-${id}` },
    h("h2", { id: `st-${id}` }, title),
    h("div", { class: "chart-box" },
      h("canvas", { "data-chart": id, role: "img", "aria-label": t("stats.chartOf", { title }) })),
    table({ id, text: t("stats.tableOf", { title }) }, m.weeks, rows));
}

export async function loadStats() {
  const data = await state.chat.stats();
  state.stats = { rows: data.rows };
}

async function download(format) {
  const text = await state.chat.statsFile(format);
  const url = URL.createObjectURL(new Blob([text], { type: format === "csv" ? "text/csv" : "application/json" }));
  const a = h("a", { href: url, download: `helpline-statistics.${format}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function statsScreen() {
  const s = state.stats;
  if (!s) {
    if (!state.busy) queueMicrotask(() => act(loadStats));
    return h("section", { "aria-labelledby": "st-title" }, h("h1", { id: "st-title", tabindex: "-1" }, t("stats.title")),
      h("p", {}, t("stats.loading")));
  }
  const m = model(s.rows);
  const blocks = [];
  if (m.weeks.length) {
    blocks.push(chartBlock("total", t("stats.perWeek"), m, [[t("stats.conversations"), m.weeks.map((w) => m.totals.get(w) ?? null), "total"]]));
    for (const d of DIMENSIONS) {
      const byValue = m.dims.get(d);
      if (!byValue) continue;
      blocks.push(chartBlock(d, t(`stats.dim.${d}`), m,
        [...byValue].map(([value, counts]) => [valueLabel(d, value), m.weeks.map((w) => countIn(counts, w)), value])));
    }
  }
  const section = h("section", { "aria-labelledby": "st-title", class: "stats" },
    h("h1", { id: "st-title", tabindex: "-1" }, t("stats.title")),
    h("p", {}, t("stats.intro")),
    h("p", { class: "actions" },
      h("button", { type: "button", class: "ghost", id: "stats-csv", onclick: () => act(() => download("csv")) }, t("stats.csv")),
      h("button", { type: "button", class: "ghost", id: "stats-json", onclick: () => act(() => download("json")) }, t("stats.json")),
      h("button", { type: "button", class: "ghost", onclick: () => { state.stats = null; render(); } }, t("stats.reload"))),
    m.weeks.length ? null : h("p", { class: "empty" }, t("stats.none")),
    ...blocks);
  // Draw after the section is in the page; the chart chunk loads the first time.
  const spec = specs(m);
  queueMicrotask(() => {
    if (!section.isConnected) return;
    if (charts) { charts.drawCharts(section, spec); return; }
    pending ??= import("./charts.js").then((mod) => { charts = mod; });
    pending.then(() => { if (section.isConnected) charts.drawCharts(section, spec); });
  });
  return section;
}

/** Leaving the dashboard: free the charts (render() builds the page anew each time). */
export function leaveStats() { charts?.destroyCharts(); }
