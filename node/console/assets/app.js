// The fieldsync console's pages: Today, Cases, Intake, Case file, Sync (the
// Referrals and Devices pages, and the case file's consents and referral
// form: office.js; the Conflicts and Set-aside pages: conflicts.js; the
// Report page: report.js; the Directories page: directory.js; the Import
// page: import.js). Plain
// JavaScript, no framework; every text from messages.js; every change a
// POST to /api/ (same origin); every API request carries the session in the
// X-Fieldsync-Session header, kept in this tab's sessionStorage (never a
// cookie: cookies ignore ports, and would go to any other server on
// 127.0.0.1 the browser visits); the passphrase is sent
// once and the field cleared, never stored. Values from the server are put
// in the page as text, never as HTML.
"use strict";

let lang = localStorage.getItem("fieldsync.lang") === "en" ? "en" : "vi";
let keysState = { unlocked: false, until: 0 };

// The catalogue's words for `key`, each {name} filled from `vars` in one
// pass (a value holding "{…}" is not filled again).
function t(key, vars) {
  const s = MESSAGES[lang][key] ?? MESSAGES.vi[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (vars && k in vars ? String(vars[k]) : m));
}
function value(v) { return MESSAGES[lang]["value." + v] ?? v; }
// A column's label ("persons.full_name" or "full_name"), else its name.
function label(column) {
  const c = String(column).replace(/^[a-z_]+\./, "");
  return MESSAGES[lang]["field." + c] ?? column;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c == null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// dd/mm/yyyy for YYYY-MM-DD, mm/yyyy for YYYY-MM, dd/mm/yyyy HH:MM for ms.
function pad(n) { return String(n).padStart(2, "0"); }
function fmtDate(s) {
  if (typeof s === "number") {
    const d = new Date(s);
    return `${pad(d.getDate())}/${pad(d.getMonth() + 1)}/${d.getFullYear()} ` +
           `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  let m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s || "");
  if (m) return `${m[3]}/${m[2]}/${m[1]}`;
  m = /^(\d{4})-(\d{2})$/.exec(s || "");
  return m ? `${m[2]}/${m[1]}` : (s || "");
}
// dd/mm/yyyy typed -> YYYY-MM-DD ("" stays ""); null if malformed.
function parseDate(s) {
  s = s.trim();
  if (s === "") return "";
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s);
  return m ? `${m[3]}-${pad(m[2])}-${pad(m[1])}` : null;
}

function showMessage(text, ok) {
  if (text === null) return;  // a page's late answer (errorText of STALE): nothing to say
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = ok ? "message ok" : "message";
  box.hidden = !text;
}
// A field the library names ("persons.sex", "person.sex", "--officer") by
// its label; a name that is no column ("the value") as "this field".
function fieldName(v) {
  const c = String(v).replace(/^-+/, "").replace(/^[a-z_]+\./, "");
  if (MESSAGES[lang]["field." + c]) return MESSAGES[lang]["field." + c];
  if (c === "urgent" || c === "officer") return t("import.field." + c);
  return /^[a-z_]+$/.test(c) ? c : t("lib.this_field");
}
// A message of the node library ({key, params}: docs/CONSOLE.md, "The
// library's messages") in the catalogue's words (messages_library.js), its
// parameters as the pages show them; null if the catalogue lacks the key.
function libraryText(m) {
  if (!m || !m.key || (MESSAGES[lang][m.key] ?? MESSAGES.vi[m.key]) === undefined) return null;
  const vars = {};
  for (const [k, v] of Object.entries(m.params || {})) {
    if (k === "field") vars[k] = fieldName(v);
    else if (k === "allowed") vars[k] = String(v).split(",").map(value).join(", ");
    else if (k === "status") vars[k] = value(v);
    else if (k === "what") vars[k] = t("lib.what." + v);
    else if (k === "today") vars[k] = fmtDate(v);
    else vars[k] = v;
  }
  return t(m.key, vars);
}
// An error answer: the catalogue's words for its key, then the library's
// message in the catalogue's words, or (a message with no key) its words.
function errorText(body) {
  if (body === STALE) return null;
  const lead = t(body && body.error ? body.error : "err.internal");
  const said = body ? libraryText(body.message) ?? body.detail : null;
  return said ? `${lead}: ${said}` : lead;
}

const SESSION = "fieldsync.session";

// The one-time token of the address fieldnode console printed (?token=),
// taken out of the address bar at once and exchanged for the session.
async function signIn() {
  const token = new URLSearchParams(location.search).get("token");
  if (token === null) return;
  history.replaceState(null, "", "/" + location.hash);
  try {
    const res = await fetch("/api/session", {
      method: "POST", credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
    });
    if (res.ok) sessionStorage.setItem(SESSION, (await res.json()).session);
  } catch (e) {
    // no session: the page says so at its first request
  }
}

// The navigation a page's requests belong to: route() counts each. A GET's
// answer that comes back after the user moved on is not drawn (a slow page
// must not draw over the next): it is thrown as STALE, which route() and
// the pages' own catches leave unsaid. A change (POST) is answered
// whatever the page: it was made.
let navigation = 0;
const STALE = { error: "stale" };
async function api(method, path, body) {
  const asked = navigation;
  const answer = await apiAnswer(method, path, body);
  if (method === "GET" && asked !== navigation) throw STALE;
  return answer;
}
async function apiAnswer(method, path, body) {
  let res;
  try {
    const headers = { "X-Fieldsync-Session": sessionStorage.getItem(SESSION) || "" };
    if (body) headers["Content-Type"] = "application/json";
    res = await fetch("/api/" + path, {
      method, credentials: "omit", headers,
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw { error: "err.network" };
  }
  const data = await res.json().catch(() => ({ error: "err.internal" }));
  if (res.status === 401) throw { error: "err.session" };
  if (!res.ok) throw data;
  return data;
}

function nfc(s) { return s.normalize("NFC").trim(); }

// ---- the header: language, lock state ----
function applyStatic() {
  document.documentElement.lang = lang;
  document.title = t("app.title");
  document.getElementById("brand").textContent = t("app.title");
  document.getElementById("lang").textContent = t("lang.switch");
  for (const e of document.querySelectorAll("[data-msg]")) e.textContent = t(e.dataset.msg);
  for (const e of document.querySelectorAll("[data-ph]")) e.placeholder = t(e.dataset.ph);
  renderKeys();
}
function idleText(ms) {
  return ms >= 60000 ? t("unit.min", { n: Math.round(ms / 60000) })
                     : t("unit.s", { n: Math.round(ms / 1000) });
}
function renderKeys() {
  document.getElementById("keys-state").textContent = keysState.unlocked
      ? t("keys.unlocked", { idle: idleText(keysState.idle_lock_millis) }) : t("keys.locked");
  document.getElementById("unlock-form").hidden = keysState.unlocked;
  document.getElementById("lock").hidden = !keysState.unlocked;
}

async function unlock(ev) {
  ev.preventDefault();
  const field = document.getElementById("passphrase");
  const passphrase = field.value;
  field.value = "";  // never kept by the page
  showMessage(t("keys.unlocking"), true);
  try {
    keysState = await api("POST", "unlock", { passphrase });
    showMessage("");
  } catch (e) { showMessage(errorText(e)); }
  renderKeys();
  route();
}
async function lock() {
  try { keysState = await api("POST", "lock", {}); showMessage(""); }
  catch (e) { showMessage(errorText(e)); }
  renderKeys();
  route();
}

// ---- pages ----
const page = () => document.getElementById("page");
// Replaces the page's content (arrays flattened, null left out).
function render(...children) {
  page().replaceChildren(...children.flat(Infinity).filter(c => c != null && c !== false));
}

function caseLink(code) { return el("a", { href: "#/case/" + encodeURIComponent(code) }, code); }

async function pageToday() {
  const d = await api("GET", "today");
  const card = (title, count, body) =>
      el("section", { class: "card" }, el("h2", {}, title), el("div", { class: "count" }, count),
         body);
  const list = (items, f) => items.length ? el("ul", {}, items.map(f)) : el("p", {}, t("today.none"));
  render(
    el("h1", {}, t("today.title")),
    el("div", { class: "cards" },
      card(t("today.urgent"), d.urgent.length,
           list(d.urgent, c => el("li", {}, caseLink(c.case_code), " · ", value(c.status)))),
      card(t("today.referrals"), d.referrals.length,
           [list(d.referrals, r => el("li", {}, caseLink(r.case_code), " · ", r.from_office,
                                        " · ", fmtDate(r.sent_at), " · ",
                                        el("a", { href: "#/referrals", class: "answer" },
                                           t("today.answer")))),
            el("a", { href: "#/referrals", id: "today-referrals" }, t("today.all_referrals"))]),
      card(t("today.conflicts"), d.open_conflicts,
           el("a", { href: "#/conflicts", id: "today-conflicts" }, t("today.see_conflicts"))),
      card(t("today.devices"), d.devices_waiting,
           el("a", { href: "#/devices", id: "today-devices" }, t("today.see_devices"))),
      el("section", { class: "card" }, el("h2", {}, t("today.sync")),
         el("dl", { class: "fields" },
            el("dt", {}, t("today.office")), el("dd", {}, d.province || "—"),
            el("dt", {}, t("today.last_sync")),
            el("dd", {}, d.last_sync_millis ? fmtDate(d.last_sync_millis) : t("today.never")),
            el("dt", {}, t("today.waiting")),
            el("dd", {}, d.commits_waiting, " ", d.urgent_waiting ? t("today.urgent_waiting") : ""),
            el("dt", {}, t("today.set_aside")),
            el("dd", {}, d.set_aside ? el("a", { href: "#/setaside", id: "today-setaside" },
                                          d.set_aside) : d.set_aside)))));
}

function select(id, label, options, current) {
  return el("label", { for: id }, label,
            el("select", { id }, el("option", { value: "" }, t("cases.any")),
               options.map(o => el("option", { value: o, selected: o === current }, value(o)))));
}

async function pageCases(params) {
  const q = new URLSearchParams(params);
  const page_no = Number(q.get("page") || 1);
  const search = q.get("q") || "";
  const form = el("form", { class: "filters", id: "case-filters" },
    el("label", { for: "q" }, t("cases.search"),
       el("input", { id: "q", type: "search", value: search, size: 30 })),
    select("status", t("cases.status"), ["intake", "verifying", "assisting", "referred", "closed"],
           q.get("status") || ""),
    select("urgency", t("cases.urgency"), ["normal", "urgent"], q.get("urgency") || ""),
    el("label", { for: "officer" }, t("cases.officer"),
       el("input", { id: "officer", value: q.get("officer") || "", size: 12 })),
    el("label", { for: "since" }, t("cases.since"),
       el("input", { id: "since", value: fmtDate(q.get("since") || ""), size: 10 })),
    el("button", { type: "submit", class: "primary" }, t("cases.search_button")));
  form.addEventListener("submit", ev => {
    ev.preventDefault();
    const since = parseDate(form.querySelector("#since").value);
    if (since === null) { showMessage(`${t("err.invalid")}: ${t("cases.since")}`); return; }
    const next = new URLSearchParams();
    const put = (k, v) => { if (v) next.set(k, v); };
    put("q", nfc(form.querySelector("#q").value));
    put("status", form.querySelector("#status").value);
    put("urgency", form.querySelector("#urgency").value);
    put("officer", nfc(form.querySelector("#officer").value));
    put("since", since);
    location.hash = "#/cases?" + next.toString();
  });
  const out = el("div", { id: "case-results" });
  render(el("h1", {}, t("cases.title")), form, out);
  const go = p => { q.set("page", p); location.hash = "#/cases?" + q.toString(); };
  if (search) {
    // Paged as the list: a page's hits alone are opened and access-logged.
    if (!keysState.unlocked) { out.append(el("p", {}, t("cases.search_needs_unlock"))); return; }
    const d = await api("GET", "search?" + new URLSearchParams({ q: search, page: page_no }));
    if (d.total === 0) { out.append(el("p", {}, t("cases.none"))); return; }
    out.append(
      el("table", { class: "cases", id: "search-hits" },
         el("tr", {}, el("th", {}, t("cases.code")), el("th", {}, t("cases.name")),
            el("th", {}, t("cases.status")), el("th", {}, t("cases.matched"))),
         d.hits.map(h => el("tr", {}, el("td", {}, caseLink(h.case_code)), el("td", {}, h.full_name),
                             el("td", {}, value(h.status)), el("td", {}, label(h.matched))))),
      pager(page_no, d, go));
    return;
  }
  const filter = new URLSearchParams({ page: page_no });
  for (const k of ["status", "urgency", "officer", "since"]) if (q.get(k)) filter.set(k, q.get(k));
  const d = await api("GET", "cases?" + filter);
  if (d.total === 0) { out.append(el("p", {}, t("cases.none"))); return; }
  out.append(
    el("table", { class: "cases" },
       el("tr", {}, ["cases.code", "cases.status", "cases.urgency", "cases.channel",
                     "cases.officer", "cases.opened", "cases.updated"].map(k => el("th", {}, t(k)))),
       d.cases.map(c => el("tr", {},
         el("td", {}, caseLink(c.case_code)), el("td", {}, value(c.status)),
         el("td", { class: c.urgency === "urgent" ? "urgent" : "" }, value(c.urgency)),
         el("td", {}, value(c.intake_channel)), el("td", {}, c.assigned_officer),
         el("td", {}, fmtDate(c.opened_month)), el("td", {}, fmtDate(c.updated))))),
    pager(page_no, d, go));
}

// The list's and the search's pages ({total, page_size}): previous, where,
// next.
function pager(page_no, d, go) {
  const pages = Math.max(1, Math.ceil(d.total / d.page_size));
  return el("div", { class: "pager" },
    el("button", { type: "button", class: "prev", disabled: page_no <= 1,
                   onclick: () => go(page_no - 1) }, t("cases.prev")),
    el("span", { class: "where" }, t("cases.page", { p: page_no, n: pages }), " · ",
       t("cases.count", { n: d.total })),
    el("button", { type: "button", class: "next", disabled: page_no >= pages,
                   onclick: () => go(page_no + 1) }, t("cases.next")));
}

function pageIntake() {
  const field = (id, label, input) =>
      el("label", { for: id, class: input.tagName === "TEXTAREA" ? "wide" : "" }, label, input,
         el("span", { class: "field-error", id: id + "-error", "aria-live": "polite" }));
  const options = (id, values) => el("select", { id }, values.map(v => el("option", { value: v }, value(v))));
  const form = el("form", { class: "form", id: "intake-form", novalidate: true },
    el("h2", { class: "wide" }, t("intake.person")),
    field("full_name", t("intake.full_name"), el("input", { id: "full_name", autocomplete: "off" })),
    field("sex", t("intake.sex"), options("sex", ["female", "male", "other", "unknown"])),
    field("birth_year", t("intake.birth_year"),
          el("input", { id: "birth_year", inputmode: "numeric", size: 4, autocomplete: "off" })),
    field("phones", t("intake.phones"), el("input", { id: "phones", autocomplete: "off" })),
    field("current_address", t("intake.address"), el("input", { id: "current_address", autocomplete: "off" })),
    el("h2", { class: "wide" }, t("intake.case")),
    field("intake_channel", t("intake.channel"),
          options("intake_channel", ["hotline_call", "walk_in", "referral_in", "police"])),
    field("narrative", t("intake.narrative"), el("textarea", { id: "narrative", rows: 4 })),
    el("label", { class: "check", for: "urgent" }, el("input", { type: "checkbox", id: "urgent" }),
       t("intake.urgent")),
    el("label", { class: "check", for: "crime" }, el("input", { type: "checkbox", id: "crime" }),
       t("intake.crime")),
    el("div", { class: "wide" }, el("button", { type: "submit", class: "primary", id: "save" },
                                    t("intake.save"))));
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    for (const e of form.querySelectorAll(".field-error")) e.textContent = "";
    const v = id => nfc(form.querySelector("#" + id).value);
    const fail = (id, msg) => {
      form.querySelector("#" + id + "-error").textContent = msg;
      form.querySelector("#" + id).focus();
    };
    if (!v("full_name")) return fail("full_name", t("intake.name_required"));
    if (v("birth_year") && !/^\d{4}$/.test(v("birth_year"))) {
      return fail("birth_year", t("intake.year_invalid"));
    }
    const person = { full_name: v("full_name"), sex: v("sex") };
    for (const k of ["birth_year", "phones", "current_address"]) if (v(k)) person[k] = v(k);
    const kase = { intake_channel: v("intake_channel") };
    if (v("narrative")) kase.narrative = v("narrative");
    try {
      const d = await api("POST", "intake", {
        person, case: kase, urgent: form.querySelector("#urgent").checked,
        crime_report: form.querySelector("#crime").checked });
      location.hash = "#/case/" + encodeURIComponent(d.case_code);
      const warning = libraryText(d.warning_message) ?? d.warning;
      showMessage(t("intake.saved", { code: d.case_code }) + (warning ? " " + warning : ""), true);
    } catch (e) {
      if (e.field && form.querySelector("#" + e.field + "-error")) fail(e.field, errorText(e));
      else showMessage(errorText(e));
    }
  });
  render(el("h1", {}, t("intake.title")),
                         keysState.unlocked ? null : el("p", { class: "sealed" }, t("intake.needs_unlock")),
                         form);
  form.querySelector("#full_name").focus();
}

function fieldList(record) {
  return el("dl", { class: "fields" }, record.fields.map(f => [
    el("dt", {}, label(f.column)),
    f.state === "locked" ? el("dd", { class: "sealed" }, t("keys.sealed"))
      : f.state ? el("dd", { class: "sealed" }, libraryText(f.message) ?? t("case.unreadable"))
      : el("dd", {}, f.type === "timestamp" && typeof f.value === "number" ? fmtDate(f.value)
                     : f.type === "date" || f.column === "opened_month" ? fmtDate(f.value)
                     : f.type === "bool" ? value(f.value ? "yes" : "no")
                     : f.type === "enum" ? value(f.value)
                     : f.type === "enum set" ? String(f.value).split(",").map(value).join(", ")
                     : f.value)]));
}

// Fields the library derives or that decide who sees the case: not offered.
const FIXED = new Set(["case_code", "province", "office", "opened_month", "crime_reported_hour",
                       "age_band", "is_child", "person_id", "opened_on", "crime_reported_at"]);

// Long text: a box of several lines, holding the text there is to edit.
const LONG = new Set(["narrative", "interview_notes", "exact_places", "perpetrator_details",
                      "family_contacts", "health_notes"]);

// The field's value control, holding its current value: a list for an enum,
// boxes to tick for an enum set, dd/mm/yyyy for a date, several lines for
// long text, else a line.
function valueInput(field, type, current, values) {
  const column = field.replace(/^[a-z]+\./, "");
  if (type === "enum set" && values) {
    const had = new Set(current == null ? [] : String(current).split(","));
    return el("fieldset", { id: "edit-value", class: "choices" },
              el("legend", { class: "sr" }, label(column)),
              values.map(v => el("label", { class: "check" },
                                 el("input", { type: "checkbox", name: "edit-set", value: v,
                                               checked: had.has(v) }), value(v))));
  }
  if (values) {
    return el("select", { id: "edit-value" },
              values.map(v => el("option", { value: v, selected: v === current }, value(v))));
  }
  const shown = current == null ? "" : type === "date" ? fmtDate(current) : String(current);
  if (LONG.has(column)) {
    const box = el("textarea", { id: "edit-value", rows: 5 });
    box.value = shown;
    return box;
  }
  return el("input", { id: "edit-value", autocomplete: "off", value: shown,
                       placeholder: type === "date" ? "dd/mm/yyyy" : null });
}

function editForm(d) {
  const current = new Map();
  const unopened = new Set();  // sealed, not opened here (locked, no key yet)
  for (const [rec, prefix] of [[d.case, "case."], [d.person, "person."]]) {
    for (const f of rec ? rec.fields : []) {
      current.set(prefix + f.column, f.state ? null : f.value);
      if (f.state) unopened.add(prefix + f.column);
    }
  }
  // Every field, set or not (d.editable), the derived and deciding ones left out.
  const offered = (d.editable || []).filter(f => !FIXED.has(f.field.replace(/^[a-z]+\./, "")));
  const typeOf = new Map(offered.map(f => [f.field, f.type]));
  const form = el("form", { class: "form", id: "edit-form" },
    el("label", { for: "edit-field" }, t("case.field"),
       el("select", { id: "edit-field" },
          offered.map(f => el("option", { value: f.field }, label(f.field))))),
    el("div", { id: "edit-value-label", class: "field wide" },
       el("label", { for: "edit-value", id: "edit-value-words" }, t("case.value")),
       el("span", { id: "edit-value" }),
       el("span", { class: "field-error", id: "edit-value-error", "aria-live": "polite" })),
    el("div", {}, el("button", { type: "submit", class: "primary", id: "edit-save" }, t("case.save")),
       " ",
       d.closed ? null : el("button", { type: "button", id: "close-case", onclick: () => closeCase(d.code) },
                            t("case.close"))));
  const fieldSelect = form.querySelector("#edit-field");
  const swapValue = () => {
    const field = fieldSelect.value;
    const type = typeOf.get(field);
    const input = valueInput(field, type, current.get(field),
                             (d.choices || {})[field.replace(/^[a-z]+\./, "")]);
    // A value this page cannot read is not offered as an empty box to
    // save (that would clear it).
    if (unopened.has(field)) {
      input.disabled = true;
      if ("placeholder" in input) input.placeholder = t("keys.sealed");
    }
    form.querySelector("#edit-value").replaceWith(input);
    form.querySelector("#edit-value-words").textContent =
        t("case.value") + (type === "date" ? " (dd/mm/yyyy)" : "");
    form.querySelector("#edit-value-error").textContent = "";
  };
  fieldSelect.addEventListener("change", swapValue);
  swapValue();
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const field = fieldSelect.value;
    const input = form.querySelector("#edit-value");
    const error = form.querySelector("#edit-value-error");
    error.textContent = "";
    if (unopened.has(field)) { error.textContent = t("keys.sealed"); return; }
    let typed = input.tagName === "FIELDSET"
        ? [...input.querySelectorAll("input:checked")].map(b => b.value).join(",")
        : nfc(input.value);
    if (typeOf.get(field) === "date") {
      typed = parseDate(typed);  // the library keeps YYYY-MM-DD
      if (typed === null) {
        error.textContent = `${t("err.invalid")}: ${label(field)} (dd/mm/yyyy)`;
        input.focus();
        return;
      }
    }
    try {
      const r = await api("POST", "setfield", { ref: d.code, field, value: typed });
      await pageCase(d.code);
      // A date written while this laptop's clock and the hub's disagree:
      // the library's warning, in the catalogue's words.
      const warning = libraryText(r.warning_message) ?? r.warning;
      showMessage(t("case.saved", { field: label(field) }) + (warning ? " " + warning : ""), true);
    } catch (e) {
      error.textContent = errorText(e);
    }
  });
  return form;
}

async function closeCase(code) {
  if (!confirm(t("case.close_confirm", { code }))) return;
  try {
    const r = await api("POST", "close", { ref: code });
    await pageCase(code);
    showMessage(t("case.closed", { code, on: fmtDate(r.closed_on) }), true);
  } catch (e) { showMessage(errorText(e)); }
}

async function pageCase(code) {
  const d = await api("GET", "case?" + new URLSearchParams({ ref: code }));
  d.closed = d.case.fields.some(f => f.column === "status" && f.value === "closed");
  render(
    el("p", {}, el("a", { href: "#/cases" }, t("case.back"))),
    el("h1", { id: "case-title" }, t("case.title", { code: d.code }), " ",
       d.urgent ? el("span", { class: "urgent" }, t("case.urgent")) : null, " ",
       d.open_conflicts ? el("a", { href: "#/conflicts", class: "badge", id: "case-conflicts-badge" },
                             t("case.conflicts_badge", { n: d.open_conflicts })) : null),
    d.locked ? el("p", { class: "sealed" }, t("case.masked")) : null,
    d.open_conflicts ? el("p", { class: "urgent" }, t("case.conflicts", { n: d.open_conflicts }), " ",
                          el("a", { href: "#/conflicts" }, t("case.see_conflicts"))) : null,
    el("h2", {}, t("case.person")), d.person ? fieldList(d.person) : el("p", {}, t("today.none")),
    el("h2", {}, t("case.case")), fieldList(d.case),
    el("h2", {}, t("case.edit")), editForm(d),
    consentSection(d),
    referralSection(d),
    el("h2", {}, t("case.history")),
    el("table", {}, el("tr", {}, el("th", {}, t("case.when")), el("th", {}, t("case.who")),
                        el("th", {}, t("case.what"))),
       d.history.map(h => el("tr", {}, el("td", {}, fmtDate(h.millis)),
                             el("td", {}, h.this_laptop ? t("history.this_laptop") : h.who),
                             el("td", {}, historyText(h))))));
}

// A line of the history ({table, change, columns, received_whole}) in the
// catalogue's words: the record by the case file's headings, each column by
// its label.
const HISTORY_TABLES = { cases: "case.case", persons: "case.person", consents: "case.consents",
                         referrals: "case.referrals" };
function historyText(h) {
  const table = HISTORY_TABLES[h.table] ? t(HISTORY_TABLES[h.table]) : h.table;
  const columns = (h.columns || []).map(label).join(", ");
  const said = t("history." + h.change + (columns ? "" : "_only"), { table, columns });
  return h.received_whole ? `${said} ${t("history.received_whole")}` : said;
}

// ---- Sync: "Đồng bộ ngay" starts one pass in the background (POST
// /api/sync); while it runs the page polls GET /api/sync (not activity for
// the idle lock) and shows its phase and counts; then how it ended, each
// line in the catalogue's words. ----
let syncTimer = null;
// A line of the pass ({key, params, text}: node/pass_lines.h) in the
// catalogue's words (messages_sync.js), or its English words if the
// catalogue lacks its key.
function passLineText(l) { return libraryText(l) ?? l.text; }
function stopSyncPoll() { if (syncTimer) { clearTimeout(syncTimer); syncTimer = null; } }
function renderSync(d) {
  const last = d.last;
  const progress = d.running
      ? el("p", { id: "sync-progress", role: "status" },
           t("sync.phase." + d.phase), " — ",
           t("sync.counts", { pushed: d.pushed, pulled: d.pulled, records: d.records,
                              behind: d.behind }))
      : null;
  const outcome = last
      ? el("section", { class: "card", id: "sync-last", "data-finished": last.finished_millis },
           el("h2", {}, t("sync.last_pass"), " · ", fmtDate(last.finished_millis)),
           el("p", { class: last.ok ? "ok" : "error" }, t(last.key)),
           el("ul", { class: "lines" }, last.lines.map(l => el("li", {}, passLineText(l)))))
      : null;
  render(
    el("h1", {}, t("sync.title")),
    el("p", {}, el("button", { type: "button", id: "sync-now", disabled: d.running,
                               onclick: syncNow }, t(d.running ? "sync.running" : "sync.now"))),
    !d.unlocked ? el("p", { class: "hint" }, t("sync.needs_unlock")) : null,
    progress,
    el("dl", { class: "fields" },
       el("dt", {}, t("sync.hub")), el("dd", {}, d.hub || "—"),
       el("dt", {}, t("today.last_sync")),
       el("dd", {}, d.last_sync_millis ? fmtDate(d.last_sync_millis) : t("today.never")),
       el("dt", {}, t("sync.commits_waiting")), el("dd", { id: "sync-commits" }, d.commits_waiting),
       el("dt", {}, t("sync.keys_waiting")), el("dd", {}, d.key_records_waiting),
       el("dt", {}, t("today.set_aside")), el("dd", {}, d.set_aside),
       el("dt", {}, t("sync.daemon")), el("dd", { id: "sync-daemon" }, t(d.daemon ? "sync.daemon_running" : "sync.daemon_none"))),
    outcome);
}
async function pageSync() {
  stopSyncPoll();
  const d = await api("GET", "sync");
  renderSync(d);
  if (d.running) syncTimer = setTimeout(pollSync, 500);
}
async function pollSync() {
  syncTimer = null;
  if (!location.hash.startsWith("#/sync")) return;
  try { await pageSync(); } catch (e) { showMessage(errorText(e)); }
}
async function syncNow() {
  showMessage("");
  try { await api("POST", "sync", {}); }
  catch (e) { showMessage(errorText(e)); }
  try { await pageSync(); } catch (e) { showMessage(errorText(e)); }
}

// ---- routing: #/today, #/cases?..., #/intake, #/case/CODE, #/sync,
// #/referrals, #/devices, #/conflicts, #/setaside, #/report?threshold=,
// #/directory?kind=&q=, #/import ----
async function route() {
  const mine = ++navigation;
  const hash = location.hash || "#/today";
  const [path, query] = hash.slice(1).split("?");
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", path.startsWith(a.getAttribute("href").slice(1)));
  }
  stopSyncPoll();
  try {
    // The keys may have been locked meanwhile (idle lock, fieldnode lock).
    keysState = await api("GET", "state");
    renderKeys();
    if (path === "/cases") await pageCases(query || "");
    else if (path === "/intake") pageIntake();
    else if (path.startsWith("/case/")) await pageCase(decodeURIComponent(path.slice(6)));
    else if (path === "/sync") await pageSync();
    else if (path === "/referrals") await pageReferrals();
    else if (path === "/devices") await pageDevices();
    else if (path === "/conflicts") await pageConflicts();
    else if (path === "/setaside") await pageSetAside();
    else if (path === "/report") await pageReport(query || "");
    else if (path === "/directory") await pageDirectory(query || "");
    else if (path === "/import") pageImport();
    else await pageToday();
  } catch (e) {
    if (e === STALE || mine !== navigation) return;  // another page is drawn now
    showMessage(errorText(e));
    page().replaceChildren();
  }
}

document.getElementById("lang").addEventListener("click", () => {
  lang = lang === "vi" ? "en" : "vi";
  localStorage.setItem("fieldsync.lang", lang);
  applyStatic();
  route();
});
document.getElementById("unlock-form").addEventListener("submit", unlock);
document.getElementById("lock").addEventListener("click", lock);
window.addEventListener("hashchange", () => { showMessageOnNav(); route(); });
function showMessageOnNav() {
  const box = document.getElementById("message");
  if (box.className === "message") showMessage("");  // an error belongs to the page it was on
}
applyStatic();
signIn().then(route);
