// The statistics dashboard's charts, drawn by Chart.js (only the parts used: bars), in a
// chunk of their own that loads when the dashboard opens. What a chart draws is exactly
// the table beside it (stats.js builds both from the same rows): a hidden count is a gap
// in the chart and "hidden" in the table, never a number.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

// Colour-blind-safe (Okabe-Ito), dark enough on white.
const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#999999", "#000000"];
const live = new Set();

/** Draw every `canvas[data-chart]` under `root` from its spec; old charts are destroyed. */
export function drawCharts(root, specs) {
  for (const chart of live) chart.destroy();
  live.clear();
  for (const canvas of root.querySelectorAll("canvas[data-chart]")) {
    const spec = specs.get(canvas.dataset.chart);
    if (!spec) continue;
    live.add(new Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map((s, i) => ({
          label: s.label, data: s.values, backgroundColor: COLOURS[i % COLOURS.length], stack: "all",
        })),
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: spec.series.length > 1, position: "bottom" } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      },
    }));
  }
}

export function destroyCharts() {
  for (const chart of live) chart.destroy();
  live.clear();
}
