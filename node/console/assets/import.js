// The console's Import page (docs/CONSOLE.md, "The Import page"): an
// office's register (CSV, or Excel's "Unicode text") brought in. The file
// is read in the browser and sent whole in base64 (POST /api/import), first
// as a dry run: the file as decoded (a preview), which field each column
// fills (changeable), every row refused with its line and why; then the
// import, every row or none. Loaded before app.js, whose helpers (el, t,
// api, render, showMessage, errorText, caseLink) it calls.
"use strict";

const importState = { data: null, name: "", map: {}, report: null };

function fileBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onerror = () => reject({ error: "import.err.read" });
    reader.onload = () => {
      const bytes = new Uint8Array(reader.result);
      let s = "";
      for (let i = 0; i < bytes.length; i += 0x8000) {
        s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
      }
      resolve(btoa(s));
    };
    reader.readAsArrayBuffer(file);
  });
}

function importFieldLabel(f) {
  if (!f) return t("import.left_out");
  if (f === "urgent") return t("import.field.urgent");
  if (f === "officer") return t("import.field.officer");
  return label(f.replace(/^(person|case)\./, ""));
}

async function importSend(dryRun) {
  showMessage("");
  const encoding = document.getElementById("import-encoding").value;
  const body = { data: importState.data, encoding, map: importState.map, dry_run: dryRun };
  let d;
  try {
    d = await api("POST", "import", body);
  } catch (e) {
    if (e && e.error === "err.import_rejected") {
      d = e;
    } else {
      if (e && e.error === "err.not_utf8") {
        // No mark and not UTF-8: offer windows-1258 with the preview.
        document.getElementById("import-encoding").value = "windows-1258";
        importState.report = null;
        document.getElementById("import-result").replaceChildren(
          el("section", { class: "card", id: "import-not-utf8" },
             el("h2", {}, t("err.not_utf8")),
             el("p", {}, t("import.preview_as", { encoding: e.preview_encoding })),
             el("pre", { class: "preview" }, e.preview)));
      }
      showMessage(errorText(e));
      return;
    }
  }
  importState.report = d;
  renderImportResult(d);
  if (!dryRun && d.imported > 0) {
    showMessage(t("import.done", { count: d.imported }), true);
  }
}

function renderImportResult(d) {
  const mapping = el("table", { id: "import-mapping", class: "list" },
    el("tr", {}, el("th", {}, t("import.column")), el("th", {}, t("import.field"))),
    d.columns.map(c => {
      const select = el("select", { "data-header": c.header, "aria-label": c.header },
        el("option", { value: "-" }, t("import.left_out")),
        d.fields.map(f => el("option", { value: f, selected: f === c.field }, importFieldLabel(f))));
      select.addEventListener("change", () => { importState.map[c.header] = select.value; });
      return el("tr", {}, el("td", { "data-label": t("import.column") }, c.header),
                el("td", { "data-label": t("import.field") }, select));
    }));
  // data-label: each cell's heading, shown beside it at phone width, where
  // a table is a card a row (app.css); the preview's headings are the
  // register's own.
  const heads = d.preview.length ? d.preview[0] : [];
  const preview = el("table", { id: "import-preview", class: "list" },
    d.preview.map((rec, i) => el("tr", {}, rec.map((cell, j) => i === 0 ? el("th", {}, cell)
        : el("td", { "data-label": heads[j] ?? "", class: cell.trim() ? "" : "empty" }, cell)))));
  const rejected = d.rejected.length === 0 ? el("p", { id: "import-rejected", class: "ok" }, t("import.none_rejected"))
    : el("table", { id: "import-rejected", class: "list error" },
        el("tr", {}, el("th", {}, t("import.line")), el("th", {}, t("import.reason"))),
        d.rejected.map(r => el("tr", { "data-line": r.line },
                               el("td", { "data-label": t("import.line") }, r.line),
                               el("td", { "data-label": t("import.reason") },
                                  libraryText(r.message) ?? r.reason))));
  const canImport = d.dry_run && d.rejected.length === 0 && d.new_rows > 0;
  document.getElementById("import-result").replaceChildren(
    el("section", { class: "card" },
       el("h2", {}, t("import.preview")),
       el("p", { class: "hint" }, t("import.decoded", { encoding: d.encoding, rows: d.rows }),
          d.bom ? " " + t("import.bom") : ""),
       el("div", { class: "scroll" }, preview)),
    el("section", { class: "card" }, el("h2", {}, t("import.mapping")), mapping,
       el("button", { type: "button", id: "import-check", onclick: () => importSend(true) },
          t("import.check_again"))),
    el("section", { class: "card", id: "import-summary", "data-new": d.new_rows,
                    "data-rejected": d.rejected.length, "data-imported": d.imported },
       el("h2", {}, d.dry_run ? t("import.dry_run") : t("import.result")),
       el("p", {}, t(d.already === null ? "import.counts_locked" : "import.counts",
                     { rows: d.rows, fresh: d.new_rows, already: d.already,
                       repeated: d.repeated.length })),
       d.rejected.length > 0 ? el("p", { class: "error" },
          t(d.dry_run ? "import.fix_rows" : "import.nothing_imported", { count: d.rejected.length })) : null,
       rejected,
       canImport ? el("button", { type: "button", id: "import-go", onclick: () => importSend(false) },
                      t("import.go", { count: d.new_rows })) : null,
       d.imported > 0 ? el("p", { id: "import-codes" }, t("import.codes"), " ",
                           d.codes.slice(0, 10).flatMap((c, i) => [i ? ", " : "", caseLink(c)]),
                           d.codes.length > 10 ? " …" : "") : null));
}

function pageImport() {
  importState.data = null;
  importState.map = {};
  importState.report = null;
  const file = el("input", { type: "file", id: "import-file", accept: ".csv,.txt,text/csv,text/plain" });
  const encoding = el("select", { id: "import-encoding" },
    ["auto", "utf-8", "windows-1258", "utf-16le", "utf-16be"].map(e =>
      el("option", { value: e }, t("import.encoding." + e))));
  render(el("h1", {}, t("import.title")),
         el("p", { class: "hint" }, t("import.how")),
         el("form", { class: "filters", id: "import-form", onsubmit: async ev => {
           ev.preventDefault();
           if (!file.files.length) { showMessage(t("import.choose")); return; }
           try {
             importState.data = await fileBase64(file.files[0]);
             importState.name = file.files[0].name;
           } catch (e) { showMessage(errorText(e)); return; }
           await importSend(true);
         } },
            el("label", { for: "import-file" }, t("import.file")), file,
            el("label", { for: "import-encoding" }, t("import.encoding")), encoding,
            el("button", { type: "submit", id: "import-dry" }, t("import.check"))),
         el("div", { id: "import-result" }));
}
