// The console's Directories page (docs/CONSOLE.md, "The Directories page"):
// organisations, contacts and services as `fieldnode org list`, `contact
// list` and `service list` show them, searched without diacritics; a
// restricted entry's sealed fields shown as the server says: "locked" (this
// office's, the keys locked) or "restricted" (another office's), never a
// value. Also the referral form's choices from the directory (the case
// file: office.js). Loaded before app.js, whose helpers (el, t, api, value,
// render, nfc) it calls. Values from the server put in the page as text.
"use strict";

const DIRECTORY_KINDS = ["organisations", "contacts", "services"];

// A listed field as text: the value (an enum's in the catalogue's words),
// or the catalogue's words for why it is not shown.
function directoryCell(f) {
  const label = t("directory.col." + f.column);
  if (f.state === "locked") {
    return el("td", { class: "sealed", "data-label": label, title: t("keys.sealed") },
              t("directory.sealed"));
  }
  if (f.state === "restricted") {
    return el("td", { class: "sealed", "data-label": label }, t("directory.restricted"));
  }
  const enumerated = ["kind", "restriction"].includes(f.column);
  return el("td", { "data-label": label, class: f.value ? "" : "empty" },
            enumerated && f.value ? value(f.value) : f.value);
}

async function pageDirectory(query) {
  const params = new URLSearchParams(query);
  const kind = DIRECTORY_KINDS.includes(params.get("kind")) ? params.get("kind") : "contacts";
  const q = params.get("q") || "";
  const d = await api("GET", "directory?" + new URLSearchParams(q ? { kind, q } : { kind }));
  const search = el("input", { id: "directory-q", type: "search", value: q,
                               "aria-label": t("directory.search"), placeholder: t("directory.search") });
  const withOrg = kind !== "organisations";
  render(el("h1", {}, t("directory.title")),
         el("div", { class: "tabs", role: "navigation" }, DIRECTORY_KINDS.map(k =>
           el("a", { href: "#/directory?kind=" + k, id: "directory-tab-" + k,
                     class: k === kind ? "active" : "" }, t("directory." + k)))),
         el("form", { class: "filters", id: "directory-form", onsubmit: ev => {
           ev.preventDefault();
           const typed = nfc(search.value);
           location.hash = "#/directory?" + new URLSearchParams(typed ? { kind, q: typed } : { kind });
         } }, search, el("button", { type: "submit" }, t("directory.find"))),
         d.masked ? el("p", { class: "sealed", id: "directory-masked" }, t("directory.masked")) : null,
         el("p", { class: "hint", id: "directory-count" },
            t("directory.count", { n: d.entries.length })),
         el("div", { class: "table-wrap" },
           el("table", { class: "list", id: "directory" },
             el("tr", {}, d.columns.map(c => el("th", {}, t("directory.col." + c))),
                withOrg ? el("th", {}, t("directory.col.org")) : null),
             d.entries.map(e => el("tr", { "data-id": e.id },
               e.fields.map(directoryCell),
               withOrg ? el("td", { "data-label": t("directory.col.org") }, e.org) : null)))));
}

// The referral form's choices (office.js's referralSection): the
// organisations as a list to pick a name from (typing stays possible), the
// services as a list whose choice also names its organisation when none is
// given. Sealed names (locked, restricted) are not offered.
async function fillReferralChoices(form) {
  let orgs, services;
  try {
    [orgs, services] = await Promise.all([api("GET", "directory?kind=organisations"),
                                          api("GET", "directory?kind=services")]);
  } catch (e) {
    return;  // the form still takes typed names
  }
  const name = e => (e.fields.find(f => f.column === "name") || {}).value;
  const list = form.querySelector("#refer-orgs");
  const select = form.querySelector("#refer-service");
  if (!list || !select) return;
  list.replaceChildren(...orgs.entries.filter(name).map(e => el("option", { value: name(e) })));
  select.replaceChildren(el("option", { value: "" }, t("refer.no_service")),
    ...services.entries.filter(name).map(e =>
      el("option", { value: e.id, "data-org": e.org }, `${name(e)} — ${e.org}`)));
  select.addEventListener("change", () => {
    const chosen = select.selectedOptions[0];
    const org = form.querySelector("#refer-to-org");
    if (chosen && chosen.dataset.org && !org.value.trim()) org.value = chosen.dataset.org;
  });
}
