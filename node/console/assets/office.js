// The console's pages of sharing and of the office (docs/CONSOLE.md): the
// case file's consents and referral form, the Referrals page, the Devices
// page. Loaded before app.js, whose helpers (el, t, api, value, fmtDate,
// showMessage, errorText, caseLink, render, nfc, fieldList, pageCase) these
// call when a page is shown. Every text from messages.js; values from the
// server put in the page as text.
"use strict";

// A form's inline error: the catalogue's words for the key, then the
// library's.
function inlineError(form, id, e) {
  const box = form.querySelector("#" + id + "-error");
  if (box) box.textContent = errorText(e);
  else showMessage(errorText(e));
}
function errorSpan(id) {
  return el("span", { class: "field-error", id: id + "-error", "aria-live": "polite" });
}
function fieldValue(record, column) {
  const f = record.fields.find(x => x.column === column);
  return f ? f.value : undefined;
}

// ---- the case file: consents (record, withdraw) ----
const CONSENT_SCOPES = ["services", "share_with_org", "police", "anonymous_statistics"];

function consentSection(d) {
  const items = d.consents.map(c => {
    const withdrawn = fieldValue(c, "withdrawn_at");
    return el("div", { class: "record" }, fieldList(c),
      withdrawn ? null
        : el("button", { type: "button", class: "withdraw", "data-id": c.id,
                         onclick: () => withdrawConsent(d.code, c.id) }, t("consent.withdraw")));
  });
  const form = el("form", { class: "form", id: "consent-form" },
    el("label", { for: "consent-scope" }, t("consent.scope"),
       el("select", { id: "consent-scope" },
          CONSENT_SCOPES.map(s => el("option", { value: s }, value(s)))), errorSpan("consent-scope")),
    el("label", { for: "consent-org", id: "consent-org-label" }, t("consent.org"),
       el("input", { id: "consent-org", autocomplete: "off" }), errorSpan("consent-org")),
    el("label", { for: "consent-given-by" }, t("consent.given_by"),
       el("select", { id: "consent-given-by" },
          ["victim", "guardian"].map(s => el("option", { value: s }, value(s)))),
       errorSpan("consent-given_by")),
    el("div", {}, el("button", { type: "submit", class: "primary", id: "consent-save" },
                     t("consent.record"))));
  const scope = form.querySelector("#consent-scope");
  const orgShown = () => { form.querySelector("#consent-org-label").hidden = scope.value !== "share_with_org"; };
  scope.addEventListener("change", orgShown);
  orgShown();
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    for (const e of form.querySelectorAll(".field-error")) e.textContent = "";
    const body = { ref: d.code, scope: scope.value,
                   given_by: form.querySelector("#consent-given-by").value };
    if (scope.value === "share_with_org") body.org = nfc(form.querySelector("#consent-org").value);
    try {
      await api("POST", "consent", body);
      await pageCase(d.code);
      showMessage(t("consent.recorded", { scope: value(body.scope) }), true);
    } catch (e) {
      inlineError(form, "consent-" + (e.field || "scope"), e);
    }
  });
  return [el("h2", {}, t("case.consents"), ` (${d.consents.length})`), items,
          el("h3", {}, t("consent.new")), form];
}

async function withdrawConsent(code, id) {
  if (!confirm(t("consent.withdraw_confirm"))) return;
  try {
    await api("POST", "withdraw", { id });
    await pageCase(code);
    showMessage(t("consent.withdrawn"), true);
  } catch (e) { showMessage(errorText(e)); }
}

// ---- the case file: referrals sent from it ----
function referralSection(d) {
  const form = el("form", { class: "form", id: "refer-form" },
    el("label", { for: "refer-to-office" }, t("refer.to_office"),
       el("input", { id: "refer-to-office", autocomplete: "off", size: 6 }), errorSpan("refer-to_office")),
    el("label", { for: "refer-to-org" }, t("refer.to_org"),
       el("input", { id: "refer-to-org", autocomplete: "off", list: "refer-orgs" }),
       el("datalist", { id: "refer-orgs" }), errorSpan("refer-to_org")),
    el("label", { for: "refer-service" }, t("refer.service"),
       el("select", { id: "refer-service" }, el("option", { value: "" }, t("refer.no_service"))),
       errorSpan("refer-service")),
    el("label", { for: "refer-reason", class: "wide" }, t("refer.reason"),
       el("textarea", { id: "refer-reason", rows: 2 }), errorSpan("refer-reason")),
    el("label", { for: "refer-notes", class: "wide" }, t("refer.notes"),
       el("textarea", { id: "refer-notes", rows: 2 })),
    el("div", { class: "wide" }, errorSpan("refer-consent"),
       el("button", { type: "submit", class: "primary", id: "refer-send" }, t("refer.send"))));
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    for (const e of form.querySelectorAll(".field-error")) e.textContent = "";
    const v = id => nfc(form.querySelector("#" + id).value);
    const body = { ref: d.code, to_office: v("refer-to-office").toUpperCase(),
                   to_org: v("refer-to-org"), reason: v("refer-reason") };
    if (v("refer-notes")) body.notes = v("refer-notes");
    if (v("refer-service")) body.service = v("refer-service");
    try {
      const r = await api("POST", "refer", body);
      await pageCase(d.code);
      showMessage(t("refer.sent", { to: r.to }) +
                  (r.receiver_waits_for_members ? " " + t("refer.waits") : ""), true);
    } catch (e) {
      inlineError(form, "refer-" + (e.field || "consent"), e);
    }
  });
  if (!d.closed) fillReferralChoices(form);  // directory.js
  return [el("h2", {}, t("case.referrals"), ` (${d.referrals.length})`),
          d.referrals.map(fieldList),
          d.closed ? null : [el("h3", {}, t("refer.new")), form]];
}

// ---- the Referrals page: incoming, outgoing, and their answers ----
function referralRow(r) {
  const actions = el("td", { class: "actions" });
  const answer = async (response, reason) => {
    try {
      await api("POST", "respond", { id: r.id, response, reason });
      await pageReferrals();
      showMessage(t("referrals.done." + response, { code: r.case_code }), true);
    } catch (e) { showMessage(errorText(e)); }
  };
  for (const a of r.actions) {
    if (a === "decline") {
      const reason = el("input", { class: "decline-reason", autocomplete: "off",
                                   "aria-label": t("referrals.decline_reason"),
                                   placeholder: t("referrals.decline_reason") });
      actions.append(el("form", { class: "decline", onsubmit: ev => {
        ev.preventDefault();
        if (!nfc(reason.value)) { showMessage(t("referrals.reason_needed")); reason.focus(); return; }
        answer("decline", nfc(reason.value));
      } }, reason, el("button", { type: "submit" }, t("referrals.decline"))));
    } else {
      actions.append(el("button", { type: "button", class: "primary " + a,
                                    onclick: () => answer(a, "") }, t("referrals." + a)), " ");
    }
  }
  // data-label: each cell's heading, shown beside it at phone width (a card
  // a referral, as the Devices page's).
  const td = (key, ...children) => el("td", { "data-label": t(key) }, ...children);
  actions.dataset.label = t("referrals.actions");
  return el("tr", { "data-id": r.id },
    td("cases.code", caseLink(r.case_code)), td("referrals.from", r.from_office),
    td("referrals.to", r.to), td("cases.status", value(r.status)),
    td("referrals.sent", fmtDate(r.sent_at)), actions);
}
function referralTable(id, list) {
  if (!list.length) return el("p", { id }, t("today.none"));
  return el("table", { class: "cases", id },
    el("tr", {}, ["cases.code", "referrals.from", "referrals.to", "cases.status", "referrals.sent",
                  "referrals.actions"].map(k => el("th", {}, t(k)))),
    list.map(referralRow));
}
async function pageReferrals() {
  const d = await api("GET", "referrals");
  render(el("h1", {}, t("referrals.title")),
         keysState.unlocked ? null : el("p", { class: "sealed" }, t("referrals.needs_unlock")),
         el("h2", {}, t("referrals.incoming"), ` (${d.incoming.length})`),
         referralTable("referrals-in", d.incoming),
         el("h2", {}, t("referrals.outgoing"), ` (${d.outgoing.length})`),
         referralTable("referrals-out", d.outgoing),
         d.seen.length ? [el("h2", {}, t("referrals.seen")), referralTable("referrals-seen", d.seen)]
                       : null);
}

// ---- the Devices page: approving is a trust decision made here ----
function deviceState(s) { return t("device.state." + s.replace(/ /g, "_")); }
function deviceRow(d, canApprove) {
  const cell = el("td", { class: "actions" });
  if (canApprove && d.state === "waiting for approval") {
    const code = el("input", { class: "approve-code", autocomplete: "off", inputmode: "numeric",
                               size: 19, "aria-label": t("devices.code_typed"),
                               placeholder: t("devices.code_typed") });
    const error = el("span", { class: "field-error", "aria-live": "polite" });
    cell.append(el("form", { class: "approve", onsubmit: async ev => {
      ev.preventDefault();
      error.textContent = "";
      try {
        const r = await api("POST", "approve", { device: d.device, code: nfc(code.value) });
        await pageDevices();
        showMessage(t("devices.approved", { name: r.name }), true);
      } catch (e) { error.textContent = errorText(e); code.focus(); }
    } }, code, el("button", { type: "submit", class: "primary" }, t("devices.approve")), error));
  }
  if (canApprove && !d.this && (d.state === "member" || d.state === "waiting for approval")) {
    cell.append(" ", el("button", { type: "button", class: "remove", onclick: () => removeDevice(d) },
                        t("devices.remove")));
  }
  // data-label: each cell's heading, shown beside it at phone width.
  const td = (key, attrs, ...children) => el("td", { "data-label": t(key), ...attrs }, ...children);
  cell.dataset.label = t("referrals.actions");
  return el("tr", { "data-device": d.device },
    td("devices.name", {}, d.name || "—",
       d.this ? el("span", { class: "sealed" }, " ", t("devices.this")) : null),
    td("devices.id", { class: "mono" }, d.device.slice(0, 8)),
    td("devices.state", {}, deviceState(d.state), d.first ? " " + t("devices.first") : "",
       d.refused ? el("div", { class: "urgent" },
                      libraryText(d.refused_message) ?? `${t("devices.refused")} ${d.refused}`)
                 : null),
    td("devices.approved_by", {}, d.approved_by || "—"),
    td("devices.code", { class: "mono code" }, d.code || "—"),
    cell);
}
async function removeDevice(d) {
  if (!confirm(t("devices.remove_confirm", { name: d.name || d.device.slice(0, 8), id: d.device,
                                             fingerprint: d.fingerprint }))) return;
  try {
    await api("POST", "remove", { device: d.device, confirm: true });
    await pageDevices();
    showMessage(t("devices.removed", { name: d.name || d.device.slice(0, 8) }), true);
  } catch (e) { showMessage(errorText(e)); }
}
async function pageDevices() {
  const d = await api("GET", "devices");
  const canApprove = d.member && keysState.unlocked;
  const me = d.member ? t("devices.me_member") : d.removed ? t("devices.me_removed")
                      : t("devices.me_waiting", { code: d.code });
  render(el("h1", {}, t("devices.title"), " · ", d.province),
         el("p", { id: "devices-me" }, me),
         d.member ? el("p", { class: "hint", id: "devices-how" }, t("devices.how")) : null,
         d.member && !keysState.unlocked ? el("p", { class: "sealed" }, t("devices.needs_unlock")) : null,
         d.alerts.length ? el("section", { class: "message" }, el("h2", {}, t("devices.alerts")),
                              el("ul", {}, d.alerts.map(a => el("li", {}, libraryText(a.message) ?? a.text))))
                         : null,
         d.devices.length === 0 ? el("p", {}, t("today.none")) :
         el("table", { class: "devices", id: "devices" },
            el("tr", {}, ["devices.name", "devices.id", "devices.state", "devices.approved_by",
                          "devices.code", "referrals.actions"].map(k => el("th", {}, t(k)))),
            d.devices.map(x => deviceRow(x, canApprove))));
}
