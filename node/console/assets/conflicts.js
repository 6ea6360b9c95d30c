// The console's Conflicts and Set-aside pages (docs/CONSOLE.md, "Conflicts
// and work set aside"). Loaded before app.js, whose helpers (el, t, api,
// label, fmtDate, showMessage, errorText, caseLink, render, nfc) these call
// when a page is shown. Every text from the catalogue (messages.js,
// messages_conflicts.js); values from the server put in the page as text
// (the server sends them as Printable: no control or bidirectional
// formatting character raw).
"use strict";

// ---- Conflicts: both values side by side, keep one or write a new one ----
// A side's value in the catalogue's words: masked while locked; a sealed
// one that does not open here, what became of it; an enum's values by their
// words; a deletion conflict's sides as kept or deleted.
function conflictValue(side, k) {
  if (side.state === "locked") return t("keys.sealed");
  if (side.state) return libraryText(side.message) ?? t("case.unreadable");
  if (k.field === "_live") {
    return side.value === "live" || side.value === "1" ? t("conflicts.live") : t("conflicts.deleted");
  }
  if (side.value === "(deleted)") return t("conflicts.deleted");
  if (k.type === "enum") return value(side.value);
  if (k.type === "bool" && /^[01]$/.test(side.value)) return value(side.value === "1" ? "yes" : "no");
  if (k.type === "enum set") return String(side.value).split(",").map(value).join(", ");
  return side.value;
}
function conflictSide(side, key, keepable, resolve, k) {
  const shown = conflictValue(side, k);
  return el("div", { class: "side " + key },
    el("h3", {}, t("conflicts." + key)),
    el("p", { class: side.state === "locked" ? "value sealed" : "value" }, shown),
    el("p", { class: "hint" }, t("conflicts.by"), " ", side.by || "—", " · ",
       t("conflicts.at"), " ", side.millis ? fmtDate(side.millis) : "—"),
    keepable ? el("button", { type: "button", class: "primary keep-" + key,
                              onclick: () => resolve({ keep: key }) }, t("conflicts.keep"))
             : null);
}
function conflictCard(k, canResolve) {
  // The record by its full id (any table): a case code would name the
  // case's own field before its person's of the same name.
  const ref = k.row;
  const where = k.case_code ? caseLink(k.case_code) : el("span", { class: "mono" }, k.row.slice(0, 8));
  const resolve = async choice => {
    try {
      await api("POST", "resolve", { ref, field: k.field, value: "", ...choice });
      await pageConflicts();
      showMessage(t("conflicts.resolved", { field: label(k.field),
                                            ref: k.case_code || k.row.slice(0, 8) }), true);
    } catch (e) { showMessage(errorText(e)); }
  };
  const live = k.field !== "_live";
  const input = el("input", { class: "new-value", autocomplete: "off",
                              "aria-label": t("conflicts.new_value") });
  return el("section", { class: "card conflict", "data-row": k.row, "data-field": k.field },
    el("h2", {}, where, " · ", live ? label(k.field) : t("conflicts.deletion")),
    live ? null : el("p", { class: "hint" }, t("conflicts.deletion_how")),
    el("div", { class: "sides" },
       conflictSide(k.current, "current", canResolve && live, resolve, k),
       conflictSide(k.other, "other", canResolve && live, resolve, k)),
    canResolve && live
      ? el("form", { class: "new-value-form", onsubmit: ev => {
          ev.preventDefault();
          resolve({ keep: "value", value: nfc(input.value) });
        } }, el("label", {}, t("conflicts.new_value"), " ", input),
           el("button", { type: "submit" }, t("conflicts.write")))
      : null);
}
async function pageConflicts() {
  const d = await api("GET", "conflicts");
  const canResolve = keysState.unlocked;
  render(el("h1", {}, t("conflicts.title")),
         el("p", { class: "hint" }, t("conflicts.how")),
         d.masked ? el("p", { class: "sealed" }, t("conflicts.masked")) : null,
         !canResolve && d.conflicts.length ? el("p", { class: "sealed" }, t("conflicts.needs_unlock"))
                                           : null,
         d.conflicts.length === 0 ? el("p", { id: "conflicts" }, t("conflicts.none"))
           : el("div", { id: "conflicts" }, d.conflicts.map(k => conflictCard(k, canResolve))));
}

// ---- Set aside: what the hub refused, and the officer's keep or discard ----
function keptWhat(r) {
  return r.records.map(k => k.created && k.table === "cases"
                              ? t("setaside.kept_case", { code: k.code })
                              : t("setaside.kept_edit", { code: k.code || k.row.slice(0, 8) }))
                  .join("; ");
}
function setAsideRow(i, canAct) {
  const act = async action => {
    if (!confirm(t("setaside." + action + "_confirm", { seq: i.seq }))) return;
    try {
      const r = await api("POST", "setaside", { seq: i.seq, action });
      await pageSetAside();
      let msg = action === "keep" ? t("setaside.kept", { seq: i.seq, what: keptWhat(r) })
                                  : t("setaside.discarded", { seq: i.seq });
      if (r.fields_left) msg += " " + t("setaside.fields_left", { n: r.fields_left });
      showMessage(msg, true);
    } catch (e) { showMessage(errorText(e)); }
  };
  const td = (key, attrs, ...children) => el("td", { "data-label": t(key), ...attrs }, ...children);
  const actions = td("referrals.actions", { class: "actions" });
  if (canAct) {
    for (const a of i.actions) {
      actions.append(el("button", { type: "button", class: a === "keep" ? "primary keep" : "discard",
                                    onclick: () => act(a) }, t("setaside." + a)), " ");
    }
  }
  if (i.code === "CLOCK_AHEAD") actions.append(el("p", { class: "hint" }, t("setaside.redate")));
  return el("tr", { "data-seq": i.seq },
    td("setaside.seq", { class: "mono" }, String(i.seq)),
    td("setaside.at", {}, fmtDate(i.at_millis)),
    td("setaside.why", {},
       el("div", { class: "why" }, t("setaside.code." + i.code)),
       el("div", { class: "hint" }, t("setaside.hub_words"), " ", i.code, " — ", i.reason)),
    td("setaside.rows", { class: "mono" },
       el("ul", { class: "rows" }, i.rows.map(r => el("li", {},
         r.endsWith(" (held here)") ? [r.slice(0, -12), " ", t("setaside.held")] : r)))),
    actions);
}
async function pageSetAside() {
  const d = await api("GET", "setaside");
  const canAct = keysState.unlocked;
  render(el("h1", {}, t("setaside.title")),
         el("p", { class: "hint" }, t("setaside.how")),
         !canAct && d.set_aside.length ? el("p", { class: "sealed" }, t("setaside.needs_unlock")) : null,
         d.set_aside.length === 0 ? el("p", { id: "setaside" }, t("setaside.none"))
           : el("table", { class: "setaside", id: "setaside" },
                el("tr", {}, ["setaside.seq", "setaside.at", "setaside.why", "setaside.rows",
                              "referrals.actions"].map(k => el("th", {}, t(k)))),
                d.set_aside.map(i => setAsideRow(i, canAct))));
}
