// The console's Report page (docs/CONSOLE.md, "The Report page"): the
// office's anonymised figures, one bar chart a breakdown. The counts come
// suppressed from the server (report::BuildReport: "<5" with no number);
// a suppressed cell is drawn as a hatched stub with its "<5", never as a
// bar of a guessed length. Loaded before app.js, whose helpers (el, t, api,
// value, fmtDate, render) it calls.
"use strict";

function reportValue(breakdown, v) {
  if (breakdown === "month") return fmtDate(v);
  return value(v);
}
function reportChart(b, threshold) {
  const max = Math.max(threshold, ...b.cells.map(c => c.count || 0));
  return el("section", { class: "card report", "data-breakdown": b.name },
    el("h2", {}, t("report.breakdown." + b.name)),
    b.cells.length === 0 ? el("p", {}, t("today.none")) :
    el("table", { class: "bars" },
       b.cells.map(c => el("tr", {},
         el("th", { scope: "row" }, reportValue(b.name, c.value)),
         el("td", { class: "bar-cell" },
            el("span", { class: c.suppressed ? "bar suppressed" : "bar",
                         "data-width": c.suppressed ? 0 : c.count / max })),
         el("td", { class: "count-cell" }, c.shown)))));
}
async function pageReport(query) {
  const params = new URLSearchParams(query);
  const threshold = params.get("threshold") || "";
  const d = await api("GET", "report?" + new URLSearchParams(threshold ? { threshold } : {}));
  const box = el("input", { id: "report-threshold", type: "number", min: 1, max: 1000,
                            value: d.threshold, size: 4 });
  render(el("h1", {}, t("report.title")),
         el("p", { class: "hint" }, t("report.how", { max: d.threshold - 1, shown: "<" + d.threshold })),
         el("form", { class: "filters", id: "report-form", onsubmit: ev => {
           ev.preventDefault();
           location.hash = "#/report?" + new URLSearchParams({ threshold: box.value.trim() });
         } }, el("label", { for: "report-threshold" }, t("report.threshold"), box),
            el("button", { type: "submit" }, t("report.apply"))),
         el("p", { class: "count", id: "report-total" }, t("report.total"), " ",
            d.live_cases.shown),
         el("div", { class: "cards", id: "report" },
            d.breakdowns.map(b => reportChart(b, d.threshold))));
  // Bar widths set through the DOM (the page's CSP allows no inline style).
  for (const bar of document.querySelectorAll("#report .bar:not(.suppressed)")) {
    // A zero draws nothing; any other count at least a sliver.
    const w = Number(bar.dataset.width);
    bar.style.width = w > 0 ? Math.max(w * 100, 1).toFixed(1) + "%" : "0";
  }
}
