// The field-office schema. Field names follow the spirit of HTCDS 2.0 (the
// IOM's human-trafficking case data standard). Sensitive columns are the ones
// that identify or describe a victim; everything clear is needed by the hub
// for routing, scope or national statistics. docs/SCHEMA.md lists the versions.
#include "schema/schema.h"

#include "change/referral_rules.h"

namespace fieldsync {
namespace {

constexpr auto kText = ColumnType::kText;
constexpr auto kInteger = ColumnType::kInteger;
constexpr auto kBool = ColumnType::kBool;
constexpr auto kId = ColumnType::kId;
constexpr auto kDate = ColumnType::kDate;
constexpr auto kTimestamp = ColumnType::kTimestamp;
constexpr auto kEnum = ColumnType::kEnum;
constexpr auto kEnumSet = ColumnType::kEnumSet;
constexpr auto C = Sensitivity::kClear;
constexpr auto S = Sensitivity::kSensitive;
constexpr auto R = Sensitivity::kSensitiveWhenRestricted;

// Version 4 (issue 11, "less in clear at the hub"): referral reasons, the
// year of birth and the exact dates of opening and of the crime report are
// sealed (their month and hour stay clear, derived); a restricted service's
// name and phone and a restricted contact's desk phone and position too.
//
// The current schema version. Bump it together with a migration step in
// store/migrations.cc and a fixture of the previous version in tests/fixtures.
constexpr int kCurrentVersion = 4;

Schema* Build() {
  std::vector<TableDef> t;

  t.push_back({"cases", "one victim's file: intake, status, trafficking details", {
      {"case_code", kText, C, {}, 1, "pseudonymous code, safe to show in meetings"},
      {"person_id", kId, C, {}, 1, "persons.id of the victim"},
      {"province", kText, C, {}, 1, "owning province office code (scope)"},
      {"office", kText, C, {}, 1, "owning field office within the province"},
      {"assigned_officer", kText, C, {}, 1, "officer handling the case"},
      {"intake_channel", kEnum, C, {"hotline_call", "walk_in", "referral_in", "police"}, 1,
       "how the case reached the office"},
      {"status", kEnum, C, {"intake", "verifying", "assisting", "referred", "closed"}, 1,
       "case workflow status"},
      {"trafficking_status", kEnum, C, {"possible", "confirmed", "not_trafficking"}, 1,
       "identification outcome"},
      {"deciding_org", kId, C, {}, 1, "organisations.id that decided trafficking status"},
      {"exploitation_types", kEnumSet, C,
       {"sexual", "labour", "forced_marriage", "organ_removal", "child_selling", "surrogacy",
        "other"}, 1, "forms of exploitation"},
      {"urgency", kEnum, C, {"normal", "urgent"}, 1, "urgent cases sync first"},
      // Sealed from version 4; its month stays clear in opened_month.
      {"opened_on", kDate, S, {}, 1, "date the case was opened", 4},
      {"closed_on", kDate, C, {}, 1, "date the case was closed"},
      {"narrative", kText, S, {}, 1, "what happened, in the victim's words"},
      {"interview_notes", kText, S, {}, 1, "notes of interviews"},
      {"exact_places", kText, S, {}, 1, "places of recruitment, transit, exploitation"},
      {"perpetrator_details", kText, S, {}, 1, "what is known of the perpetrators"},
      // Version 2: a crime report goes to the police focal point at once (II.1.3).
      // Sealed from version 4; its hour stays clear in crime_reported_hour.
      {"crime_reported_at", kTimestamp, S, {}, 2,
       "when a trafficking crime on this case was reported to the police", 4},
      // Version 4: the clear copies routing and reports need, written by the
      // replica with the exact (sealed) value.
      {"opened_month", kText, C, {}, 4, "month the case was opened (YYYY-MM), for reports", 0,
       "opened_on", Coarsen::kMonth},
      {"crime_reported_hour", kTimestamp, C, {}, 4,
       "hour of the crime report (ms, truncated to the hour): urgent cases sync first", 0,
       "crime_reported_at", Coarsen::kHour},
  }});
  // An urgent case, or a crime report (its clear hour, written with the
  // sealed exact time), syncs first.
  t.back().case_relation = {CaseLink::kSelf};
  t.back().urgent_when = {{"urgency", "urgent"}, {"crime_reported_hour"}};
  t.back().owner = {OwnerLink::kColumn, "province"};

  t.push_back({"persons", "a victim's identity: the most sensitive data", {
      {"full_name", kText, S, {}, 1, "full name"},
      {"other_names", kText, S, {}, 1, "aliases, names in other languages"},
      {"date_of_birth", kDate, S, {}, 1, "date of birth"},
      {"id_number", kText, S, {}, 1, "ID card or passport number"},
      {"phones", kText, S, {}, 1, "phone numbers"},
      {"home_address", kText, S, {}, 1, "home address"},
      {"current_address", kText, S, {}, 1, "current address"},
      {"family_contacts", kText, S, {}, 1, "family or guardian names and phones"},
      {"health_notes", kText, S, {}, 1, "health notes"},
      {"sex", kEnum, C, {"female", "male", "other", "unknown"}, 1, "sex"},
      {"birth_year", kInteger, S, {}, 1,
       "year of birth (sealed from version 4; age_band stays clear)", 4},
      {"age_band", kEnum, C, {"0-11", "12-15", "16-17", "18-24", "25-34", "35-49", "50+"}, 1,
       "age band at intake"},
      {"province_of_origin", kText, C, {}, 1, "province code of origin"},
      {"nationality", kText, C, {}, 1, "ISO 3166 alpha-2 code"},
      {"is_child", kBool, C, {}, 1, "under 18 at intake"},
      {"province", kText, C, {}, 1, "owning province office code (scope)"},
  }});
  // A victim belongs to the cases naming them (cases.person_id).
  t.back().case_relation = {CaseLink::kNamedBy, "person_id"};
  t.back().owner = {OwnerLink::kColumn, "province"};

  t.push_back({"contacts", "agencies, units and officers in the directory", {
      {"organisation_id", kId, C, {}, 1, "organisations.id"},
      {"name", kText, R, {}, 1, "officer or unit name"},
      {"position", kText, R, {}, 1, "position or role (sealed when restricted from version 4)", 4},
      {"focal_point_provinces", kText, C, {}, 1, "provinces this focal point serves"},
      {"focal_point_case_kinds", kText, C, {}, 1, "case kinds this focal point takes"},
      {"desk_phone", kText, R, {}, 1, "desk phone (sealed when restricted from version 4)", 4},
      {"mobile", kText, R, {}, 1, "mobile phone"},
      {"email", kText, R, {}, 1, "email"},
      {"on_call_hours", kText, C, {}, 1, "when reachable, e.g. 24/7"},
      {"listing_consent_on", kDate, C, {}, 1, "date the contact consented to be listed"},
      {"restriction", kEnum, C, {"public", "internal", kRestrictedValue}, 1,
       "who may see the entry; restricted entries are sealed"},
      {"verified_on", kDate, C, {}, 1, "date the entry was last verified"},
      {"province", kText, C, {}, 1, "province the entry belongs to"},
      // Version 2: channels are a list -- Skype, Zalo, in person (II.1.2).
      {"other_channels", kText, R, {}, 2, "other ways to reach them, one per line"},
  }});
  t.back().restriction = "restriction";
  // An office's entry in the directory every office sees, unless it is
  // restricted to that office.
  t.back().owner = {OwnerLink::kColumn, "province", /*listed=*/true};

  t.push_back({"organisations", "agencies and providers", {
      {"name", kText, C, {}, 1, "name"},
      {"kind", kEnum, C,
       {"police", "border_guard", "child_protection", "womens_union", "commune_committee", "ngo",
        "hospital", "other"}, 1, "kind of organisation"},
      {"parent_id", kId, C, {}, 1, "organisations.id of the parent body"},
      {"province", kText, C, {}, 1, "province code, empty for national bodies"},
      {"public_phone", kText, C, {}, 1, "public phone"},
  }});
  // The shared directory: its province says where a body works, not whose
  // it is.
  t.back().owner = {OwnerLink::kShared};

  t.push_back({"services", "the service directory", {
      {"organisation_id", kId, C, {}, 1, "provider organisations.id"},
      {"name", kText, R, {}, 1, "service name (sealed when restricted from version 4)", 4},
      {"kind", kEnum, C,
       {"shelter", "medical", "legal", "psychosocial", "repatriation", "vocational", "other"}, 1,
       "kind of service"},
      {"provinces_covered", kText, C, {}, 1, "province codes served"},
      {"eligibility", kText, C, {}, 1, "who may receive it"},
      {"procedure", kText, C, {}, 1, "how to request it"},
      {"governing_documents", kText, C, {}, 1, "laws and decisions that govern it"},
      {"phone", kText, R, {}, 1, "phone (sealed when restricted from version 4)", 4},
      {"hours", kText, C, {}, 1, "opening hours"},
      {"address", kText, R, {}, 1, "street address (sealed for restricted shelters)"},
      {"restriction", kEnum, C, {"public", "internal", kRestrictedValue}, 1, "who may see it"},
  }});
  t.back().restriction = "restriction";
  t.back().owner = {OwnerLink::kShared};

  t.push_back({"referrals", "a case sent from one office or agency to another", {
      {"case_id", kId, C, {}, 1, "cases.id"},
      {"from_office", kText, C, {}, 1, "referring province office code"},
      {"to_office", kText, C, {}, 1, "receiving province office code"},
      {"to_organisation", kId, C, {}, 1, "receiving organisations.id, if an agency"},
      {"service_id", kId, C, {}, 1, "services.id requested"},
      {"reason", kText, S, {}, 1, "why the case is referred (sealed from version 4)", 4},
      {"status", kEnum, C, referral::StatusNames(), 1, "referral status"},
      {"decline_reason", kText, S, {}, 1, "why it was declined (sealed from version 4)", 4},
      {"sent_at", kTimestamp, C, {}, 1, "when it was sent"},
      {"responded_at", kTimestamp, C, {}, 1, "when it was accepted or declined"},
      {"completed_at", kTimestamp, C, {}, 1, "when it was completed"},
      {"notes", kText, S, {}, 1, "notes travelling with the file"},
  }});
  t.back().case_relation = {CaseLink::kColumn, "case_id"};
  t.back().owner = {OwnerLink::kCase};
  // The office a case is referred to sees it from then on.
  t.back().grants_case_to = "to_office";

  t.push_back({"consents", "what a victim agreed to share, and with whom", {
      {"case_id", kId, C, {}, 1, "cases.id"},
      {"scope", kEnum, C, {"services", "share_with_org", "police", "anonymous_statistics"}, 1,
       "what the consent covers"},
      {"organisation_id", kId, C, {}, 1, "organisations.id, for share_with_org"},
      {"given_by", kEnum, C, {"victim", "guardian"}, 1, "who gave it"},
      {"recorded_by", kText, C, {}, 1, "officer who recorded it"},
      {"given_at", kTimestamp, C, {}, 1, "when it was given"},
      {"withdrawn_at", kTimestamp, C, {}, 1, "when it was withdrawn"},
  }});
  t.back().case_relation = {CaseLink::kColumn, "case_id"};
  t.back().owner = {OwnerLink::kCase};

  // Version 3: who viewed what (I.4: every read of victim data is
  // attributable). Each device appends one entry each time it opens a case's
  // sealed fields for display or export, chained to its previous entry by
  // hash (store/access_log.h); the hub shows them with `fieldhub audit`.
  // Append-only: entries are never edited or deleted.
  t.push_back({"access_log", "who opened which case's sealed fields, when, for what", {
      {"device", kId, C, {}, 3, "the device that opened them"},
      {"officer", kText, C, {}, 3, "the officer using it"},
      {"case_id", kId, C, {}, 3, "cases.id whose sealed fields were opened"},
      {"at", kTimestamp, C, {}, 3, "when"},
      {"action", kEnum, C, {"show", "search", "export", "edit"}, 3, "what for"},
      {"fields", kText, C, {}, 3, "which fields, table.column joined by ','"},
      {"seq", kInteger, C, {}, 3, "position in the device's chain, from 1"},
      {"prev_hash", kText, C, {}, 3, "entry_hash of the device's previous entry (hex)"},
      {"entry_hash", kText, C, {}, 3, "BLAKE2b-256 of prev_hash and this entry (hex)"},
      {"province", kText, C, {}, 3, "the reading office's province code (scope)"},
  }});
  // Its case_id says which case was read; the entry belongs to the reading
  // office, not to the case's file: it is not seen with the case, nor
  // sealed or erased with it (CaseLink::kNone). The reading office alone
  // sees it.
  t.back().owner = {OwnerLink::kColumn, "province"};

  return new Schema(kCurrentVersion, std::move(t));
}

}  // namespace

const Schema& FieldOfficeSchema() {
  static const Schema* schema = Build();
  return *schema;
}

}  // namespace fieldsync
