#include "node/office.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "clock/clock_source.h"
#include "node/agent.h"
#include "node/help_texts.h"
#include "node/session.h"
#include "node/text.h"
#include "report/report.h"
#include "store/access_log.h"
#include "store/sqlite.h"

namespace fieldsync::node {
namespace {

using Fields = LocalTxn::Fields;
using State = OpenedField::State;

// ---------------------------------------------------------------------------
// Values, rows and references.

absl::Status Refused(std::string what) {
  return absl::FailedPreconditionError(absl::StrCat(what, ". Nothing was changed"));
}

int64_t NowMillis() { return SystemClock::Get()->NowMillis(); }

std::string Today() {
  const std::time_t t = static_cast<std::time_t>(NowMillis() / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

std::string Bytes(const RowId& id) { return std::string(id.view()); }
Value IdValue(const RowId& id) { return Value::Bytes(Bytes(id)); }

std::string TextOf(const Value& v) { return v.kind() == Value::Kind::kText ? v.str() : ""; }

std::optional<RowId> IdOf(const Value& v) {
  if (v.kind() != Value::Kind::kBytes || v.str().size() != 16) return std::nullopt;
  return *Id16::FromBytes(v.str(), "id");
}

absl::Status CheckDate(const std::string& s, const std::string& what) {
  Value v = Value::Text(s);
  static const TableDef* t = FieldOfficeSchema().FindTable("cases");
  if (!ValidateValue(*t, *t->FindColumn("opened_on"), v).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("bad date \"", s, "\" for ", what,
                                                   ": write it as YYYY-MM-DD, e.g. ", Today()));
  }
  return absl::OkStatus();
}

// The text a person typed for a column, as the schema wants it stored.
absl::StatusOr<Value> ParseColumnValue(const TableDef& t, const ColumnDef& c,
                                       const std::string& raw) {
  const std::string what = absl::StrCat(AV(t.name), ".", AV(c.name));
  if (raw.empty()) return Value::Null();
  FS_ASSIGN_OR_RETURN(std::string text, NormalizeInput(raw, what));
  Value v;
  switch (c.type) {
    case ColumnType::kText:
    case ColumnType::kDate:
      v = Value::Text(text);
      break;
    case ColumnType::kEnum:
      v = Value::Text(absl::AsciiStrToLower(text));
      break;
    case ColumnType::kEnumSet: {
      // Any order, any case, spaces allowed: stored in declaration order.
      std::set<std::string> given;
      for (absl::string_view part : absl::StrSplit(AV(text), ',', absl::SkipWhitespace())) {
        given.insert(absl::AsciiStrToLower(absl::StripAsciiWhitespace(part)));
      }
      std::vector<std::string> ordered;
      for (std::string_view a : c.allowed) {
        if (given.erase(std::string(a)) > 0) ordered.emplace_back(a);
      }
      if (!given.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "\"", *given.begin(), "\" is not a value of ", what, ": choose from ",
            absl::StrJoin(c.allowed, ", ", [](std::string* o, std::string_view a) {
              o->append(a);
            })));
      }
      v = Value::Text(absl::StrJoin(ordered, ","));
      break;
    }
    case ColumnType::kInteger: {
      char* end = nullptr;
      const long long n = std::strtoll(text.c_str(), &end, 10);
      if (end == text.c_str() || *end != '\0') {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " wants a whole number, not \"", text, "\""));
      }
      v = Value::Int(n);
      break;
    }
    case ColumnType::kBool: {
      const std::string l = absl::AsciiStrToLower(text);
      if (l == "yes" || l == "true" || l == "1") {
        v = Value::Int(1);
      } else if (l == "no" || l == "false" || l == "0") {
        v = Value::Int(0);
      } else {
        return absl::InvalidArgumentError(absl::StrCat(what, " wants yes or no, not \"", text,
                                                       "\""));
      }
      break;
    }
    case ColumnType::kTimestamp: {
      if (text == "now") {
        v = Value::Int(NowMillis());
        break;
      }
      std::tm tm{};
      const char* end = strptime(text.c_str(), "%Y-%m-%d", &tm);
      if (end != nullptr && *end == 'T') end = strptime(end, "T%H:%M", &tm);
      if (end == nullptr || (*end != '\0' && std::string(end) != "Z")) {
        return absl::InvalidArgumentError(absl::StrCat(
            "bad time \"", text, "\" for ", what, ": write now, YYYY-MM-DD or YYYY-MM-DDTHH:MM"));
      }
      v = Value::Int(static_cast<int64_t>(timegm(&tm)) * 1000);
      break;
    }
    case ColumnType::kId: {
      FS_ASSIGN_OR_RETURN(RowId id, Id16::Parse(text, what));
      v = IdValue(id);
      break;
    }
  }
  if (c.type == ColumnType::kDate) FS_RETURN_IF_ERROR(CheckDate(text, what));
  // Codes: province codes (LC, HN; lists joined by ','), nationality (ISO
  // 3166 alpha-2). Upper case whatever was typed.
  const std::string_view name = c.name;
  const bool province_list = name == "provinces_covered" || name == "focal_point_provinces";
  if (name == "province_of_origin" || (t.name == "organisations" && name == "province") ||
      province_list || name == "nationality") {
    std::string upper = absl::AsciiStrToUpper(text);
    std::vector<std::string> codes = absl::StrSplit(upper, ',', absl::SkipWhitespace());
    for (std::string& code : codes) {
      code = std::string(absl::StripAsciiWhitespace(code));
      const size_t want_max = name == "nationality" ? 2 : 3;
      if (code.size() < 2 || code.size() > want_max ||
          code.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos ||
          (!province_list && codes.size() > 1)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "\"", text, "\" is not ", name == "nationality"
                ? "a nationality: give the ISO 3166 two-letter code, e.g. VN, LA, CN"
                : absl::StrCat(province_list ? "a list of province codes" : "a province code",
                               " for ", what, ": give codes of 2 or 3 letters, e.g. LC",
                               province_list ? ",HN" : "")));
      }
    }
    v = Value::Text(absl::StrJoin(codes, ","));
  }
  // Dates that record what already happened cannot be in the future.
  if ((name == "listing_consent_on" || name == "verified_on" || name == "date_of_birth" ||
       name == "opened_on" || name == "closed_on") &&
      text > Today()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " ", text, " is in the future (today is ", Today(),
        name == "listing_consent_on" ? "): a person is listed only once they have consented"
                                     : ")"));
  }
  absl::Status s = ValidateValue(t, c, v);
  if (!s.ok()) {
    if (c.type == ColumnType::kEnum) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", text, "\" is not a value of ", what, ": choose one of ",
          absl::StrJoin(c.allowed, ", ",
                        [](std::string* o, std::string_view a) { o->append(a); })));
    }
    return s;
  }
  return v;
}

struct Ctx {
  const Args& args;
  Session s;
  bool json = false;
  std::string officer;

  Replica& r() { return *s.replica; }
  KeyRing& keys() { return *s.keys; }
  const std::string& province() const { return s.hub.province; }
  const TableDef& table(std::string_view name) { return *r().schema().FindTable(name); }

  absl::StatusOr<std::optional<Row>> Get(std::string_view table, const RowId& id) {
    return r().Get(std::string(table), id);
  }
  // The stored value of a column (sealed values stay sealed).
  const Value& Stored(const Row& row, std::string_view table, std::string_view col) {
    return row.values[static_cast<size_t>(this->table(table).ColumnIndex(col))];
  }
  std::string Clear(const Row& row, std::string_view table, std::string_view col) {
    return ShowValue(Stored(row, table, col));
  }
  // A column opened if sealed.
  OpenedField Open(const Row& row, std::string_view table, std::string_view col) {
    const size_t i = static_cast<size_t>(this->table(table).ColumnIndex(col));
    std::optional<Version> v;
    if (row.versions[i]) v = row.versions[i]->version;
    return keys().Read(table, row.id, col, row.values[i], v);
  }
  std::string Write(const OpenedField& f) {
    switch (f.state) {
      case State::kClear:
      case State::kOpened: return ShowValue(f.value);
      case State::kLocked: return "•••••• (sealed)";
      default: return absl::StrCat("[cannot be read: ", f.problem, "]");
    }
  }
  absl::Status Commit(const LocalTxn& txn) {
    auto w = r().Write(txn);
    if (!w.ok()) {
      if (w.status().code() == absl::StatusCode::kFailedPrecondition &&
          !keys().unlocked()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "writing needs the keystore unlocked (every change is signed): ", UnlockHint(),
            ". Nothing was changed"));
      }
      return w.status();
    }
    return absl::OkStatus();
  }
  absl::Status RequireUnlocked(std::string_view why) {
    if (keys().unlocked()) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(AV(why), " needs the keystore unlocked: ", UnlockHint()));
  }
  // Records in the access log that sealed fields of a case were opened.
  absl::Status Audit(const RowId& case_id, const std::string& action,
                     const std::vector<std::string>& fields) {
    return AuditMany({{case_id, fields}}, action);
  }
  // Several accesses, in one commit: all recorded or none.
  absl::Status AuditMany(const std::vector<std::pair<RowId, std::vector<std::string>>>& opened,
                         const std::string& action) {
    std::vector<AccessRequest> reqs;
    for (const auto& [case_id, fields] : opened) {
      if (!fields.empty()) reqs.push_back({case_id, action, absl::StrJoin(fields, ",")});
    }
    if (reqs.empty()) return absl::OkStatus();
    auto e = AppendAccessMany(r(), province(), officer, reqs, NowMillis());
    return e.ok() ? absl::OkStatus() : e.status();
  }
};

// A reference a person typed: a full id, or the start of one (at least 4
// hex digits, unambiguous), or for cases the case code.
absl::StatusOr<RowId> Resolve(Ctx& c, std::string_view table, const std::string& ref,
                              std::string_view what) {
  if (ref.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("give the ", AV(what)));
  }
  const bool is_cases = table == "cases";
  std::string hex;
  for (char ch : absl::AsciiStrToUpper(ref)) {
    if (ch != '-') hex.push_back(ch);
  }
  const bool hexlike = hex.size() >= 4 && hex.size() <= 32 &&
                       hex.find_first_not_of("0123456789ABCDEF") == std::string::npos;
  // Live rows whose id starts with the digits given, or (cases) whose code
  // is the one given, in any letter case.
  std::string sql = absl::StrCat("SELECT id FROM \"", AV(table), "\" WHERE _live = 1 AND (",
                                 hexlike ? "substr(hex(id), 1, length(?1)) = ?1" : "0",
                                 is_cases ? " OR upper(case_code) = upper(?2)" : "",
                                 ") LIMIT 3");
  FS_ASSIGN_OR_RETURN(auto st, c.r().db().Prepared(sql));
  st->BindText(1, hex);
  if (is_cases) st->BindText(2, ref);
  std::vector<RowId> matches;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool more, st->Step());
    if (!more) break;
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(0), what));
    matches.push_back(id);
  }
  if (matches.size() == 1) return matches.front();
  if (matches.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no ", AV(what), " \"", ref, "\" on this node",
        is_cases ? ": give its case code (e.g. LC-2611-K3QX7) or id; `fieldnode case list` "
                   "shows them"
                 : absl::StrCat(": `fieldnode ", AV(what), " list` shows them")));
  }
  return absl::InvalidArgumentError(absl::StrCat("\"", ref, "\" matches several ", AV(table),
                                                 ": give more of the id"));
}

absl::StatusOr<Row> MustGet(Ctx& c, std::string_view table, const RowId& id) {
  FS_ASSIGN_OR_RETURN(auto row, c.Get(table, id));
  if (!row || !row->live) {
    return absl::NotFoundError(absl::StrCat("no ", AV(table), " record ", id.ToString(),
                                            " on this node"));
  }
  return *std::move(row);
}

// Flags → fields of `table`, normalised and checked.
absl::Status AddFlags(Ctx& c, std::string_view table,
                      const std::vector<std::pair<std::string, std::string>>& flag_to_column,
                      Fields* out) {
  const TableDef& t = c.table(table);
  for (const auto& [flag, column] : flag_to_column) {
    if (c.args.flags.count(flag) == 0) continue;
    const ColumnDef* col = t.FindColumn(column);
    FS_ASSIGN_OR_RETURN(Value v, ParseColumnValue(t, *col, c.args.Flag(flag)));
    out->emplace_back(column, std::move(v));
  }
  return absl::OkStatus();
}

std::string AgeBand(int64_t age) {
  if (age < 12) return "0-11";
  if (age < 16) return "12-15";
  if (age < 18) return "16-17";
  if (age < 25) return "18-24";
  if (age < 35) return "25-34";
  if (age < 50) return "35-49";
  return "50+";
}

std::string NewCaseCode(const std::string& province) {
  // Province, year and month, and 5 random characters of Crockford's base
  // 32: unique enough for offline devices, and reveals nothing of the victim.
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const RowId r = Id16::NewRandom();
  std::string code = absl::StrCat(province, "-", Today().substr(2, 2), Today().substr(5, 2), "-");
  for (int i = 0; i < 5; ++i) code.push_back(kAlphabet[static_cast<uint8_t>(r.view()[i]) % 32]);
  return code;
}

void Print(const std::string& s) { std::fputs(s.c_str(), stdout); }

// ---------------------------------------------------------------------------
// Cases.

absl::StatusOr<std::optional<Row>> PersonOf(Ctx& c, const Row& kase) {
  auto pid = IdOf(c.Stored(kase, "cases", "person_id"));
  if (!pid) return std::optional<Row>();
  return c.Get("persons", *pid);
}

int CaseNew(Ctx& c) {
  if (c.args.positional.size() != 2) return Usage("case new takes no operands, only flags");
  if (c.args.Flag("name").empty()) {
    return Usage("case new needs --name NAME (the victim's full name; it is sealed)");
  }
  Fields person;
  absl::Status s = AddFlags(c, "persons",
                            {{"name", "full_name"}, {"other-names", "other_names"},
                             {"dob", "date_of_birth"}, {"id-number", "id_number"},
                             {"phones", "phones"}, {"address", "current_address"},
                             {"home-address", "home_address"}, {"family", "family_contacts"},
                             {"health", "health_notes"}, {"sex", "sex"},
                             {"birth-year", "birth_year"}, {"origin", "province_of_origin"},
                             {"nationality", "nationality"}},
                            &person);
  if (!s.ok()) return Fail(s);
  // Age band and is_child from the year of birth (or the date of birth).
  int64_t year = 0, dob_year = 0;
  for (const auto& [col, v] : person) {
    if (col == "birth_year" && v.kind() == Value::Kind::kInt) year = v.int_value();
    if (col == "date_of_birth") dob_year = std::atoi(TextOf(v).substr(0, 4).c_str());
  }
  if (year != 0 && dob_year != 0 && year != dob_year) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "--birth-year ", year, " and --dob ", dob_year, " disagree: give one of them")));
  }
  if (year == 0) year = dob_year;
  if (year != 0) {
    const int64_t this_year = std::atoi(Today().substr(0, 4).c_str());
    if (year < 1900 || year > this_year) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "year of birth ", year, " is not plausible: give a year from 1900 to ", this_year)));
    }
    const int64_t age = this_year - year;
    bool has_year = false;
    for (const auto& [col, v] : person) has_year |= col == "birth_year";
    if (!has_year) person.emplace_back("birth_year", Value::Int(year));
    person.emplace_back("age_band", Value::Text(AgeBand(age)));
    person.emplace_back("is_child", Value::Int(age < 18 ? 1 : 0));
  }
  person.emplace_back("province", Value::Text(c.province()));
  Fields kase;
  s = AddFlags(c, "cases",
               {{"channel", "intake_channel"}, {"narrative", "narrative"},
                {"notes", "interview_notes"}, {"places", "exact_places"},
                {"perpetrators", "perpetrator_details"}, {"exploitation", "exploitation_types"},
                {"office", "office"}},
               &kase);
  if (!s.ok()) return Fail(s);
  auto officer = NormalizeInput(c.args.Flag("officer", c.officer), "--officer");
  if (!officer.ok()) return Fail(officer.status());
  const RowId person_id = Id16::NewV7(SystemClock::Get());
  const RowId case_id = Id16::NewV7(SystemClock::Get());
  const std::string code = NewCaseCode(c.province());
  auto has = [&](const char* col) {
    for (const auto& f : kase) {
      if (f.first == col) return true;
    }
    return false;
  };
  if (!has("intake_channel")) kase.emplace_back("intake_channel", Value::Text("hotline_call"));
  if (!has("office")) kase.emplace_back("office", Value::Text(c.province()));
  kase.emplace_back("case_code", Value::Text(code));
  kase.emplace_back("person_id", IdValue(person_id));
  kase.emplace_back("province", Value::Text(c.province()));
  kase.emplace_back("assigned_officer", Value::Text(*officer));
  kase.emplace_back("status", Value::Text("intake"));
  kase.emplace_back("trafficking_status", Value::Text("possible"));
  const bool urgent = c.args.Has("urgent");
  kase.emplace_back("urgency", Value::Text(urgent ? "urgent" : "normal"));
  kase.emplace_back("opened_on", Value::Text(Today()));
  s = c.Commit(LocalTxn().Create("persons", person_id, person).Create("cases", case_id, kase));
  if (!s.ok()) return Fail(s);
  if (c.json) {
    Print(absl::StrCat("{\"case_code\": \"", code, "\", \"case_id\": \"", case_id.ToString(),
                       "\", \"person_id\": \"", person_id.ToString(), "\", \"urgent\": ",
                       urgent ? "true" : "false", "}\n"));
  } else {
    Print(absl::StrCat("opened case ", code, " (id ", case_id.ToString(), ")",
                       urgent ? ", URGENT: it is pushed first at the next sync" : "",
                       "\nSealed on this laptop: the victim's identity and the narrative. It "
                       "reaches the hub at the next sync (fieldnode sync).\n"));
  }
  return 0;
}

// FIELD of a case file: a column of cases, else of persons.
absl::StatusOr<std::pair<std::string, const ColumnDef*>> CaseField(Ctx& c,
                                                                   const std::string& name) {
  std::string n = name;
  std::string table;
  if (absl::StartsWith(n, "person.")) {
    table = "persons";
    n = n.substr(7);
  } else if (absl::StartsWith(n, "case.")) {
    table = "cases";
    n = n.substr(5);
  }
  for (const char* t : {"cases", "persons"}) {
    if (!table.empty() && table != t) continue;
    const ColumnDef* col = c.table(t).FindColumn(n);
    if (col == nullptr) continue;
    if (n == "province" || n == "person_id" || n == "case_code") {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", n, "\" cannot be changed here: it decides who sees the case (a case moves to "
          "another office through a referral)"));
    }
    return std::make_pair(std::string(t), col);
  }
  std::vector<std::string> names;
  for (const char* t : {"cases", "persons"}) {
    for (const ColumnDef& col : c.table(t).columns) {
      if (col.name != "province" && col.name != "person_id" && col.name != "case_code") {
        names.emplace_back(col.name);
      }
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("no field \"", name, "\" in a case file; the "
                                                 "fields are: ", absl::StrJoin(names, ", ")));
}

// The month a case was opened (YYYY-MM), clear: opened_month, or the month
// of a clear opened_on written before schema version 4.
std::string OpenedMonth(Ctx& c, const Row& kase) {
  std::string m = c.Clear(kase, "cases", "opened_month");
  const Value& legacy = c.Stored(kase, "cases", "opened_on");
  if (m.empty() && legacy.kind() == Value::Kind::kText) m = legacy.str().substr(0, 7);
  return m;
}

bool IsUrgentChange(const std::string& column, const Value& v) {
  return (column == "urgency" && TextOf(v) == "urgent") ||
         (column == "crime_reported_at" && !v.is_null());
}

int CaseSet(Ctx& c) {
  if (c.args.positional.size() != 5) {
    return Usage("case set needs CASE FIELD VALUE, e.g. fieldnode case set LC-2611-K3QX7 "
                 "status verifying");
  }
  auto id = Resolve(c, "cases", c.args.positional[2], "case");
  if (!id.ok()) return Fail(id.status());
  auto field = CaseField(c, c.args.positional[3]);
  if (!field.ok()) return Fail(field.status());
  const auto& [table, col] = *field;
  auto value = ParseColumnValue(c.table(table), *col, c.args.positional[4]);
  if (!value.ok()) return Fail(value.status());
  auto kase = MustGet(c, "cases", *id);
  if (!kase.ok()) return Fail(kase.status());
  RowId row = *id;
  if (table == "persons") {
    auto pid = IdOf(c.Stored(*kase, "cases", "person_id"));
    if (!pid) return Fail(Refused("this case names no person"));
    row = *pid;
  }
  // A case is not closed before it was opened (the opening date is sealed:
  // read here, or its clear month when it cannot be).
  if (table == "cases" && (col->name == "closed_on" || col->name == "opened_on") &&
      !value->is_null()) {
    const bool closing = col->name == "closed_on";
    std::string opened = closing ? "" : TextOf(*value);
    const std::string closed = closing ? TextOf(*value) : c.Clear(*kase, "cases", "closed_on");
    if (closing) {
      OpenedField f = c.Open(*kase, "cases", "opened_on");
      opened = (f.state == State::kOpened || f.state == State::kClear) &&
                       f.value.kind() == Value::Kind::kText
                   ? f.value.str()
                   : OpenedMonth(c, *kase);
    }
    const size_t n = std::min(opened.size(), closed.size());
    if (n > 0 && closed.substr(0, n) < opened.substr(0, n)) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "closed_on ", closed, " is before the case was opened (", opened,
          "): give a date on or after it. Nothing was changed")));
    }
  }
  Fields fields = {{std::string(col->name), *value}};
  // A year or date of birth also sets the age band and is_child, at the
  // year the case was opened.
  if (table == "persons" && (col->name == "birth_year" || col->name == "date_of_birth") &&
      !value->is_null()) {
    const int64_t year = value->kind() == Value::Kind::kInt
                             ? value->int_value()
                             : std::atoi(TextOf(*value).substr(0, 4).c_str());
    std::string opened = OpenedMonth(c, *kase);
    const int64_t at = std::atoi((opened.empty() ? Today() : opened).substr(0, 4).c_str());
    if (year < 1900 || year > at) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "year of birth ", year, " is not plausible for a case opened in ", at,
          ": give a year from 1900 to ", at, ". Nothing was changed")));
    }
    fields.emplace_back("age_band", Value::Text(AgeBand(at - year)));
    fields.emplace_back("is_child", Value::Int(at - year < 18 ? 1 : 0));
    if (col->name == "date_of_birth") fields.emplace_back("birth_year", Value::Int(year));
  }
  absl::Status s = c.Commit(LocalTxn().Set(table, row, fields));
  if (!s.ok()) return Fail(s);
  Print(absl::StrCat("case ", c.Clear(*kase, "cases", "case_code"), ": ", AV(col->name),
                     value->is_null() ? " cleared" : " set",
                     IsUrgentChange(std::string(col->name), *value)
                         ? " (urgent: pushed first at the next sync)"
                         : "",
                     "\n"));
  return 0;
}

std::string DeviceName(Ctx& c, const DeviceId& d) {
  if (const RegisteredDevice* dev = c.keys().FindDevice(d)) {
    return absl::StrCat(dev->name.empty() ? d.ToString().substr(0, 8) : dev->name, " (",
                        dev->province, ")");
  }
  if (d == c.r().device_id()) return "this laptop";
  return d.ToString().substr(0, 8);
}

// One row of a file, fields opened; sealed ones it opened go to `opened`.
std::string RowJson(Ctx& c, const Row& row, std::string_view table,
                    std::vector<std::string>* opened) {
  const TableDef& t = c.table(table);
  std::string out = absl::StrCat("{\"id\": \"", row.id.ToString(), "\"");
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (row.values[i].is_null()) continue;
    const std::string col(t.columns[i].name);
    OpenedField f = c.Open(row, table, col);
    if (f.state == State::kOpened && f.value.is_null()) continue;  // sealed, absent
    if (f.state == State::kOpened) opened->push_back(absl::StrCat(AV(table), ".", col));
    if (f.state == State::kClear || f.state == State::kOpened) {
      if (f.value.kind() == Value::Kind::kInt) {
        absl::StrAppend(&out, ", \"", col, "\": ", f.value.int_value());
      } else {
        absl::StrAppend(&out, ", \"", col, "\": \"", JsonEscape(ShowValue(f.value)), "\"");
      }
    } else {
      absl::StrAppend(&out, ", \"", col, "\": {\"state\": \"", AV(OpenedStateName(f.state)),
                      "\", \"problem\": \"", JsonEscape(f.problem), "\"}");
    }
  }
  return out + "}";
}

std::string RowText(Ctx& c, const Row& row, std::string_view table, const std::string& indent,
                    std::vector<std::string>* opened, bool* masked) {
  const TableDef& t = c.table(table);
  std::string out;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (row.values[i].is_null()) continue;
    const std::string col(t.columns[i].name);
    if (col == "person_id" || col == "case_id") continue;
    OpenedField f = c.Open(row, table, col);
    if (f.state == State::kOpened && f.value.is_null()) continue;  // sealed, absent
    if (f.state == State::kOpened) opened->push_back(absl::StrCat(AV(table), ".", col));
    if (f.state == State::kLocked) *masked = true;
    std::string shown = c.Write(f);
    if (t.columns[i].type == ColumnType::kTimestamp && f.value.kind() == Value::Kind::kInt) {
      shown = FormatTimeMillis(f.value.int_value());
    }
    // A link to the directories reads as the name it points to.
    if (auto linked = IdOf(f.value); linked && t.columns[i].type == ColumnType::kId) {
      const char* dir = col == "service_id" ? "services" : "organisations";
      if (auto r = c.Get(dir, *linked); r.ok() && *r) {
        shown = absl::StrCat(c.Write(c.Open(**r, dir, "name")), "  (", linked->ToString(), ")");
      }
    }
    absl::StrAppend(&out, indent, PadTo(col, 20), " ", shown, "\n");
  }
  return out;
}

// Rows of `table` whose case_id is `case_id`.
absl::StatusOr<std::vector<Row>> RowsOfCase(Ctx& c, std::string_view table, const RowId& case_id) {
  FS_ASSIGN_OR_RETURN(std::vector<RowId> ids,
                      c.r().RowsWhere(std::string(table), "case_id", IdValue(case_id),
                                      /*include_deleted=*/false));
  std::vector<Row> out;
  for (const RowId& id : ids) {
    FS_ASSIGN_OR_RETURN(auto row, c.Get(table, id));
    if (row) out.push_back(*std::move(row));
  }
  return out;
}

struct HistoryLine {
  int64_t millis;
  std::string who;
  std::string what;
};

// Every change to the file's records, oldest first: from the commit log,
// and for what the log here does not hold (a file received whole through a
// referral, or after the hub collected old history) from the versions of
// the fields, which say who wrote each one last and when.
absl::StatusOr<std::vector<HistoryLine>> History(Ctx& c, const std::set<std::string>& rows,
                                                 const std::vector<std::pair<std::string, const Row*>>& held) {
  std::vector<HistoryLine> out;
  std::set<std::string> seen;  // hlc@author/table/row of the log's changes
  int64_t after = 0;
  while (true) {
    FS_ASSIGN_OR_RETURN(auto batch, c.r().LogAfter(after, 2000));
    if (batch.empty()) break;
    for (const auto& [pos, commit] : batch) {
      after = pos;
      for (const RowChange& rc : commit.changes) {
        if (rows.count(std::string(rc.row.view())) == 0) continue;
        std::vector<std::string> cols;
        bool deleted = false, created = false;
        for (const FieldWrite& f : rc.fields) {
          if (f.column == kLiveColumn) {
            deleted = f.value.kind() == Value::Kind::kInt && f.value.int_value() == 0;
            created = !deleted;
            continue;
          }
          cols.push_back(f.column);
        }
        std::string what = absl::StrCat(rc.table, deleted ? " deleted" : created ? " created" : "",
                                        deleted || cols.empty() ? "" : ": ",
                                        deleted ? "" : absl::StrJoin(cols, ", "));
        out.push_back({static_cast<int64_t>(commit.hlc.wall_millis()),
                       DeviceName(c, commit.author), what});
        seen.insert(absl::StrCat(commit.hlc.ToString(), "@", commit.author.ToString(), "/",
                                 rc.table, "/", rc.row.ToString()));
      }
    }
  }
  std::map<std::string, std::pair<HistoryLine, std::vector<std::string>>> earlier;
  for (const auto& [table, row] : held) {
    const TableDef& t = c.table(table);
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (!row->versions[i]) continue;
      const Version& v = row->versions[i]->version;
      const std::string key = absl::StrCat(v.hlc.ToString(), "@", v.device.ToString(), "/",
                                           table, "/", row->id.ToString());
      if (seen.count(key) > 0) continue;
      auto& e = earlier[key];
      if (e.second.empty()) {
        e.first = {static_cast<int64_t>(v.hlc.wall_millis()), DeviceName(c, v.device), table};
      }
      e.second.emplace_back(t.columns[i].name);
    }
  }
  for (auto& [key, e] : earlier) {
    e.first.what = absl::StrCat(e.first.what, ": ", absl::StrJoin(e.second, ", "),
                                " (last written; received whole)");
    out.push_back(std::move(e.first));
  }
  std::stable_sort(out.begin(), out.end(), [](const HistoryLine& a, const HistoryLine& b) {
    return a.millis < b.millis;
  });
  return out;
}

int CaseShow(Ctx& c) {
  if (c.args.positional.size() != 3) return Usage("case show needs CASE (its code or id)");
  auto id = Resolve(c, "cases", c.args.positional[2], "case");
  if (!id.ok()) return Fail(id.status());
  auto kase = MustGet(c, "cases", *id);
  if (!kase.ok()) return Fail(kase.status());
  auto person = PersonOf(c, *kase);
  if (!person.ok()) return Fail(person.status());
  auto consents = RowsOfCase(c, "consents", *id);
  if (!consents.ok()) return Fail(consents.status());
  auto referrals = RowsOfCase(c, "referrals", *id);
  if (!referrals.ok()) return Fail(referrals.status());
  std::set<std::string> rows = {Bytes(*id)};
  if (*person) rows.insert(Bytes((*person)->id));
  for (const Row& r : *consents) rows.insert(Bytes(r.id));
  for (const Row& r : *referrals) rows.insert(Bytes(r.id));
  std::vector<std::pair<std::string, const Row*>> held = {{"cases", &*kase}};
  if (*person) held.emplace_back("persons", &**person);
  for (const Row& r : *consents) held.emplace_back("consents", &r);
  for (const Row& r : *referrals) held.emplace_back("referrals", &r);
  auto history = History(c, rows, held);
  if (!history.ok()) return Fail(history.status());
  auto conflicts = c.r().Conflicts(std::string("cases"), *id);
  size_t open_conflicts = conflicts.ok() ? conflicts->size() : 0;
  if (*person) {
    auto pc = c.r().Conflicts(std::string("persons"), (*person)->id);
    if (pc.ok()) open_conflicts += pc->size();
  }
  std::vector<std::string> opened;
  bool masked = false;
  std::string out;
  const std::string code = c.Clear(*kase, "cases", "case_code");
  if (c.json) {
    out = absl::StrCat("{\"case\": ", RowJson(c, *kase, "cases", &opened), ", \"person\": ",
                       *person ? RowJson(c, **person, "persons", &opened) : "null",
                       ", \"consents\": [");
    for (size_t i = 0; i < consents->size(); ++i) {
      absl::StrAppend(&out, i ? ", " : "", RowJson(c, (*consents)[i], "consents", &opened));
    }
    absl::StrAppend(&out, "], \"referrals\": [");
    for (size_t i = 0; i < referrals->size(); ++i) {
      absl::StrAppend(&out, i ? ", " : "", RowJson(c, (*referrals)[i], "referrals", &opened));
    }
    absl::StrAppend(&out, "], \"history\": [");
    for (size_t i = 0; i < history->size(); ++i) {
      const HistoryLine& h = (*history)[i];
      absl::StrAppend(&out, i ? ", " : "", "{\"at\": \"", FormatTimeMillis(h.millis),
                      "\", \"by\": \"", JsonEscape(h.who), "\", \"what\": \"", JsonEscape(h.what),
                      "\"}");
    }
    absl::StrAppend(&out, "], \"open_conflicts\": ", open_conflicts, ", \"locked\": ",
                    c.keys().unlocked() ? "false" : "true", "}\n");
  } else {
    const bool urgent = c.Clear(*kase, "cases", "urgency") == "urgent";
    out = absl::StrCat("Case ", code, "  (id ", id->ToString(), ")", urgent ? "  [URGENT]" : "",
                       "\n", RowText(c, *kase, "cases", "  ", &opened, &masked));
    absl::StrAppend(&out, "\nPerson\n");
    if (*person) {
      absl::StrAppend(&out, RowText(c, **person, "persons", "  ", &opened, &masked));
    } else {
      absl::StrAppend(&out, "  (none recorded)\n");
    }
    absl::StrAppend(&out, "\nConsents (", consents->size(), ")\n");
    for (const Row& r : *consents) {
      absl::StrAppend(&out, "  - ", r.id.ToString(), "\n",
                      RowText(c, r, "consents", "      ", &opened, &masked));
    }
    absl::StrAppend(&out, "\nReferrals (", referrals->size(), ")\n");
    for (const Row& r : *referrals) {
      absl::StrAppend(&out, "  - ", r.id.ToString(), "\n",
                      RowText(c, r, "referrals", "      ", &opened, &masked));
    }
    absl::StrAppend(&out, "\nHistory of changes\n");
    for (const HistoryLine& h : *history) {
      absl::StrAppend(&out, "  ", FormatTimeMillis(h.millis), "  ", PadTo(h.who, 24), "  ",
                      h.what, "\n");
    }
    if (open_conflicts > 0) {
      absl::StrAppend(&out, "\n", open_conflicts, " field(s) of this file were changed on two "
                      "devices at once: fieldnode conflict list\n");
    }
    if (masked) {
      absl::StrAppend(&out, "\nSealed fields are masked: the keystore is locked. ", UnlockHint(),
                      ".\n");
    }
  }
  // The access is recorded before anything is shown.
  absl::Status a = c.Audit(*id, c.json ? "export" : "show", opened);
  if (!a.ok()) return Fail(a);
  Print(out);
  return 0;
}

int CaseList(Ctx& c) {
  if (c.args.positional.size() != 2) return Usage("case list takes no operands, only filters");
  const std::string status = c.args.Flag("status");
  const std::string urgency = c.args.Flag("urgency");
  const std::string since = c.args.Flag("since");
  const TableDef& ct = c.table("cases");
  if (!status.empty() && !ValidateValue(ct, *ct.FindColumn("status"), Value::Text(status)).ok()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "unknown status \"", status, "\": use intake, verifying, assisting, referred or closed")));
  }
  if (!urgency.empty() && urgency != "normal" && urgency != "urgent") {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("unknown urgency \"", urgency, "\": use normal or urgent")));
  }
  if (!since.empty()) {
    absl::Status s = CheckDate(since, "--since");
    if (!s.ok()) return Fail(s);
  }
  auto officer_q = NormalizeInput(c.args.Flag("officer"), "--officer");
  if (!officer_q.ok()) return Fail(officer_q.status());
  auto ids = c.r().ListRows("cases", false);
  if (!ids.ok()) return Fail(ids.status());
  struct Line {
    std::string code, status, urgency, channel, officer, opened, updated, province, id;
  };
  std::vector<Line> lines;
  for (const RowId& id : *ids) {
    auto row = c.Get("cases", id);
    if (!row.ok()) return Fail(row.status());
    if (!*row) continue;
    const Row& k = **row;
    int64_t updated = 0;
    for (const auto& v : k.versions) {
      if (v) updated = std::max<int64_t>(updated, static_cast<int64_t>(v->version.hlc.wall_millis()));
    }
    Line l{c.Clear(k, "cases", "case_code"), c.Clear(k, "cases", "status"),
           c.Clear(k, "cases", "urgency"), c.Clear(k, "cases", "intake_channel"),
           c.Clear(k, "cases", "assigned_officer"), OpenedMonth(c, k),
           FormatTimeMillis(updated), c.Clear(k, "cases", "province"), id.ToString()};
    if (!status.empty() && l.status != status) continue;
    if (!urgency.empty() && l.urgency != urgency) continue;
    if (!officer_q->empty() && !MatchesFolded(FoldForSearch(l.officer), *officer_q)) continue;
    if (!since.empty() && l.updated.substr(0, 10) < since) continue;
    lines.push_back(std::move(l));
  }
  std::sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    if (a.urgency != b.urgency) return a.urgency == "urgent";
    return a.updated > b.updated;
  });
  if (c.json) {
    std::string out = "[";
    for (size_t i = 0; i < lines.size(); ++i) {
      const Line& l = lines[i];
      absl::StrAppend(&out, i ? ", " : "", "{\"case_code\": ", JsonString(l.code),
                      ", \"id\": ", JsonString(l.id), ", \"status\": ", JsonString(l.status),
                      ", \"urgency\": ", JsonString(l.urgency), ", \"intake_channel\": ",
                      JsonString(l.channel), ", \"assigned_officer\": ", JsonString(l.officer),
                      ", \"opened_month\": ", JsonString(l.opened), ", \"updated\": ",
                      JsonString(l.updated), ", \"province\": ", JsonString(l.province), "}");
    }
    Print(out + "]\n");
    return 0;
  }
  if (lines.empty()) {
    Print("no cases match\n");
    return 0;
  }
  Print(absl::StrCat(PadTo("CASE", 15), " ", PadTo("STATUS", 10), " ", PadTo("URGENCY", 8), " ",
                     PadTo("CHANNEL", 13), " ", PadTo("OFFICER", 18), " ", PadTo("OPENED", 10),
                     " ", PadTo("UPDATED", 20), " OFFICE\n"));
  for (const Line& l : lines) {
    Print(absl::StrCat(PadTo(l.code, 15), " ", PadTo(l.status, 10), " ", PadTo(l.urgency, 8), " ",
                       PadTo(l.channel, 13), " ", PadTo(l.officer, 18), " ", PadTo(l.opened, 10),
                       " ", PadTo(l.updated, 20), " ", l.province, "\n"));
  }
  Print(absl::StrCat(lines.size(), " case(s)\n"));
  return 0;
}

int CaseSearch(Ctx& c) {
  if (c.args.positional.size() != 3) {
    return Usage("case search needs the TEXT to look for, e.g. fieldnode case search \"nguyen "
                 "thi hang\"");
  }
  auto query = NormalizeInput(c.args.positional[2], "the search text");
  if (!query.ok()) return Fail(query.status());
  if (FoldForSearch(*query).find_first_not_of(' ') == std::string::npos) {
    return Usage("case search needs some text to look for");
  }
  absl::Status u = c.RequireUnlocked("searching names and places (they are sealed)");
  if (!u.ok()) return Fail(u);
  auto ids = c.r().ListRows("cases", false);
  if (!ids.ok()) return Fail(ids.status());
  struct Hit {
    RowId id;
    std::string code, name, where, status;
    std::vector<std::string> opened;  // shown: the name, and where it matched
  };
  std::vector<Hit> hits;
  for (const RowId& id : *ids) {
    auto kase = c.Get("cases", id);
    if (!kase.ok()) return Fail(kase.status());
    if (!*kase) continue;
    auto person = PersonOf(c, **kase);
    if (!person.ok()) return Fail(person.status());
    std::string name;
    std::vector<std::pair<std::string, std::string>> fields;  // label, text
    if (*person) {
      for (const char* col : {"full_name", "other_names", "current_address", "home_address"}) {
        OpenedField f = c.Open(**person, "persons", col);
        if (f.state == State::kOpened || f.state == State::kClear) {
          fields.emplace_back(absl::StrCat("persons.", col), ShowValue(f.value));
          if (std::string(col) == "full_name") name = ShowValue(f.value);
        }
      }
    }
    OpenedField places = c.Open(**kase, "cases", "exact_places");
    if (places.state == State::kOpened || places.state == State::kClear) {
      fields.emplace_back("cases.exact_places", ShowValue(places.value));
    }
    std::string where;
    std::vector<std::string> opened;
    for (const auto& [label, text] : fields) {
      if (!text.empty() && MatchesFolded(FoldForSearch(text), *query)) {
        where = label;
        break;
      }
    }
    // All words may also be spread over the name and the places.
    if (where.empty()) {
      std::string all;
      for (const auto& f : fields) absl::StrAppend(&all, " ", FoldForSearch(f.second));
      if (MatchesFolded(all, *query)) {
        where = "several fields";
        for (const auto& f : fields) opened.push_back(f.first);
      }
    }
    if (where.empty()) continue;
    if (opened.empty()) {
      if (!name.empty()) opened.push_back("persons.full_name");
      if (where != "persons.full_name") opened.push_back(where);
    }
    hits.push_back({id, c.Clear(**kase, "cases", "case_code"), name, where,
                    c.Clear(**kase, "cases", "status"), opened});
  }
  // Each case shown with its name is an access to its sealed fields,
  // recorded (all in one commit) before anything is shown.
  std::vector<std::pair<RowId, std::vector<std::string>>> accesses;
  for (const Hit& h : hits) accesses.push_back({h.id, h.opened});
  absl::Status a = c.AuditMany(accesses, "search");
  if (!a.ok()) return Fail(a);
  if (c.json) {
    std::string out = "[";
    for (size_t i = 0; i < hits.size(); ++i) {
      absl::StrAppend(&out, i ? ", " : "", "{\"case_code\": ", JsonString(hits[i].code),
                      ", \"id\": ", JsonString(hits[i].id.ToString()), ", \"full_name\": ",
                      JsonString(hits[i].name), ", \"matched\": ", JsonString(hits[i].where),
                      ", \"status\": ", JsonString(hits[i].status), "}");
    }
    Print(out + "]\n");
    return 0;
  }
  if (hits.empty()) {
    Print(absl::StrCat("no case matches \"", *query, "\"\n"));
    return 0;
  }
  for (const Hit& h : hits) {
    Print(absl::StrCat(PadTo(h.code, 15), " ", PadTo(h.name, 28), " ", PadTo(h.status, 10),
                       " matched in ", h.where, "\n"));
  }
  Print(absl::StrCat(hits.size(), " case(s)\n"));
  return 0;
}

int CaseSimple(Ctx& c, const std::string& sub) {
  if (c.args.positional.size() != 3) {
    return Usage(absl::StrCat("case ", sub, " needs CASE (its code or id)"));
  }
  auto id = Resolve(c, "cases", c.args.positional[2], "case");
  if (!id.ok()) return Fail(id.status());
  auto kase = MustGet(c, "cases", *id);
  if (!kase.ok()) return Fail(kase.status());
  const std::string code = c.Clear(*kase, "cases", "case_code");
  LocalTxn txn;
  std::string said;
  if (sub == "urgent") {
    txn.Set("cases", *id, {{"urgency", Value::Text("urgent")}});
    said = absl::StrCat("case ", code, " marked URGENT: it is pushed before anything else at the "
                        "next sync, and a running daemon syncs at once\n");
  } else if (sub == "crime-report") {
    txn.Set("cases", *id, {{"crime_reported_at", Value::Int(NowMillis())},
                           {"urgency", Value::Text("urgent")}});
    said = absl::StrCat("case ", code, ": crime report recorded at ", Now(),
                        "; urgent: pushed first, a running daemon syncs at once\n");
  } else if (sub == "close") {
    if (c.Clear(*kase, "cases", "status") == "closed") {
      return Fail(Refused(absl::StrCat("case ", code, " is already closed")));
    }
    txn.Set("cases", *id, {{"status", Value::Text("closed")}, {"closed_on", Value::Text(Today())}});
    said = absl::StrCat("case ", code, " closed on ", Today(), "\n");
  } else {  // delete
    const std::string owner = c.Clear(*kase, "cases", "province");
    if (owner != c.province()) {
      return Fail(absl::PermissionDeniedError(absl::StrCat(
          "case ", code, " belongs to office ", owner, "; only its office may delete it. "
          "Nothing was changed")));
    }
    if (!c.args.Has("yes")) {
      return Usage(absl::StrCat("case delete removes case ", code, " here and, once synced, on "
                                "every node: add --yes to confirm"));
    }
    txn.Delete("cases", *id);
    said = absl::StrCat("case ", code, " deleted");
    // Its consents and referrals go with it.
    size_t linked = 0;
    for (const char* table : {"consents", "referrals"}) {
      auto rows = RowsOfCase(c, table, *id);
      if (!rows.ok()) return Fail(rows.status());
      for (const Row& r : *rows) txn.Delete(table, r.id);
      linked += rows->size();
    }
    if (linked > 0) absl::StrAppend(&said, ", with its ", linked, " consent(s) and referral(s)");
    auto pid = IdOf(c.Stored(*kase, "cases", "person_id"));
    if (pid) {
      auto others = c.keys().OtherLiveCasesOf(*pid, *id);
      if (!others.ok()) return Fail(others.status());
      auto person = c.Get("persons", *pid);
      if (!person.ok()) return Fail(person.status());
      if (*others == 0 && *person && (*person)->live) {
        txn.Delete("persons", *pid);
        absl::StrAppend(&said, " with its person");
      } else if (*others > 0) {
        absl::StrAppend(&said, " (its person is kept: ", *others, " other case(s) name them)");
      }
    }
    absl::StrAppend(&said, "; the deletion reaches the hub at the next sync\n");
  }
  absl::Status s = c.Commit(txn);
  if (!s.ok()) return Fail(s);
  Print(said);
  return 0;
}

int CaseCmd(Ctx& c) {
  const std::string sub = c.args.positional.size() > 1 ? c.args.positional[1] : "";
  if (sub == "new") return CaseNew(c);
  if (sub == "set") return CaseSet(c);
  if (sub == "show") return CaseShow(c);
  if (sub == "list") return CaseList(c);
  if (sub == "search") return CaseSearch(c);
  if (sub == "urgent" || sub == "crime-report" || sub == "close" || sub == "delete") {
    return CaseSimple(c, sub);
  }
  return Usage(sub.empty() ? "case needs a subcommand: new, set, show, list, search, urgent, "
                             "crime-report, close or delete"
                           : absl::StrCat("unknown case subcommand \"", sub, "\""));
}

// ---------------------------------------------------------------------------
// Organisations (needed by consents, contacts and services).

// A directory entry by id (or its start), else by name: exact (diacritics
// and case aside), else the one name containing every word given.
absl::StatusOr<RowId> ResolveByName(Ctx& c, const std::string& table, const std::string& ref,
                                    const std::string& noun) {
  auto byid = Resolve(c, table, ref, noun);
  if (byid.ok()) return byid;
  auto name = NormalizeInput(ref, absl::StrCat("the ", noun));
  if (!name.ok()) return name.status();
  FS_ASSIGN_OR_RETURN(auto ids, c.r().ListRows(table, false));
  std::vector<RowId> exact, partial;
  for (const RowId& id : ids) {
    FS_ASSIGN_OR_RETURN(auto row, c.Get(table, id));
    if (!row) continue;
    // A restricted service's name is sealed (schema version 4): matched
    // where it opens, never by its sealed bytes.
    const OpenedField f = c.Open(*row, table, "name");
    if (f.state != State::kClear && f.state != State::kOpened) continue;
    const std::string n = ShowValue(f.value);
    if (FoldForSearch(n) == FoldForSearch(*name)) exact.push_back(id);
    else if (MatchesFolded(FoldForSearch(n), *name)) partial.push_back(id);
  }
  if (exact.size() == 1) return exact.front();
  if (exact.empty() && partial.size() == 1) return partial.front();
  if (exact.empty() && partial.empty()) {
    return absl::NotFoundError(absl::StrCat("no ", noun == "org" ? "organisation" : noun, " \"",
                                            ref, "\" in the directory: "
                                            "`fieldnode ", noun, " list` shows them, `fieldnode ",
                                            noun, " add` adds one"));
  }
  return absl::InvalidArgumentError(absl::StrCat("\"", ref, "\" names several ", table,
                                                 ": give its id (fieldnode ", noun, " list)"));
}

absl::StatusOr<RowId> ResolveOrg(Ctx& c, const std::string& ref) {
  return ResolveByName(c, "organisations", ref, "org");
}

int OrgCmd(Ctx& c) {
  const std::string sub = c.args.positional.size() > 1 ? c.args.positional[1] : "";
  if (sub == "add") {
    if (c.args.positional.size() != 3) return Usage("org add needs the NAME");
    if (c.args.Flag("kind").empty()) return Usage("org add needs --kind KIND");
    Fields f;
    const TableDef& t = c.table("organisations");
    auto name = ParseColumnValue(t, *t.FindColumn("name"), c.args.positional[2]);
    if (!name.ok()) return Fail(name.status());
    f.emplace_back("name", *name);
    absl::Status s = AddFlags(c, "organisations",
                              {{"kind", "kind"}, {"province", "province"}, {"phone", "public_phone"}},
                              &f);
    if (!s.ok()) return Fail(s);
    if (auto same = ResolveOrg(c, ShowValue(*name)); same.ok()) {
      auto row = c.Get("organisations", *same);
      if (row.ok() && *row &&
          FoldForSearch(c.Clear(**row, "organisations", "name")) == FoldForSearch(ShowValue(*name))) {
        return Fail(absl::AlreadyExistsError(absl::StrCat(
            "organisation \"", ShowValue(*name), "\" is already in the directory (id ",
            same->ToString(), "). Nothing was changed")));
      }
    }
    const RowId id = Id16::NewV7(SystemClock::Get());
    s = c.Commit(LocalTxn().Create("organisations", id, f));
    if (!s.ok()) return Fail(s);
    Print(absl::StrCat("added organisation ", ShowValue(*name), " (id ", id.ToString(), ")\n"));
    return 0;
  }
  if (sub == "list") {
    auto ids = c.r().ListRows("organisations", false);
    if (!ids.ok()) return Fail(ids.status());
    std::string out = c.json ? "[" : "";
    bool first = true;
    for (const RowId& id : *ids) {
      auto row = c.Get("organisations", id);
      if (!row.ok()) return Fail(row.status());
      if (!*row) continue;
      const Row& r = **row;
      if (c.json) {
        absl::StrAppend(&out, first ? "" : ", ", "{\"id\": ", JsonString(id.ToString()),
                        ", \"name\": ", JsonString(c.Clear(r, "organisations", "name")),
                        ", \"kind\": ", JsonString(c.Clear(r, "organisations", "kind")),
                        ", \"province\": ", JsonString(c.Clear(r, "organisations", "province")),
                        "}");
      } else {
        absl::StrAppend(&out, id.ToString().substr(0, 13), "  ",
                        PadTo(c.Clear(r, "organisations", "kind"), 18), " ",
                        PadTo(c.Clear(r, "organisations", "province"), 4), " ",
                        c.Clear(r, "organisations", "name"), "\n");
      }
      first = false;
    }
    if (c.json) out += "]\n";
    if (!c.json && first) out = "no organisations yet: fieldnode org add NAME --kind KIND\n";
    Print(out);
    return 0;
  }
  return Usage(sub.empty() ? "org needs add or list"
                           : absl::StrCat("unknown org subcommand \"", sub, "\""));
}

// ---------------------------------------------------------------------------
// Consents.

bool ConsentLive(Ctx& c, const Row& r) {
  return r.live && c.Stored(r, "consents", "withdrawn_at").is_null();
}

int ConsentCmd(Ctx& c) {
  const std::string sub = c.args.positional.size() > 1 ? c.args.positional[1] : "";
  if (sub == "add") {
    if (c.args.positional.size() != 3) return Usage("consent add needs CASE");
    if (c.args.Flag("scope").empty()) {
      return Usage("consent add needs --scope services|share_with_org|police|anonymous_statistics");
    }
    auto id = Resolve(c, "cases", c.args.positional[2], "case");
    if (!id.ok()) return Fail(id.status());
    auto kase = MustGet(c, "cases", *id);
    if (!kase.ok()) return Fail(kase.status());
    Fields f = {{"case_id", IdValue(*id)}};
    absl::Status s = AddFlags(c, "consents", {{"scope", "scope"}, {"given-by", "given_by"}}, &f);
    if (!s.ok()) return Fail(s);
    const std::string scope = absl::AsciiStrToLower(c.args.Flag("scope"));
    if (scope == "share_with_org") {
      if (c.args.Flag("org").empty()) {
        return Usage("consent add --scope share_with_org needs --org ORG (with whom)");
      }
      auto org = ResolveOrg(c, c.args.Flag("org"));
      if (!org.ok()) return Fail(org.status());
      f.emplace_back("organisation_id", IdValue(*org));
    } else if (!c.args.Flag("org").empty()) {
      return Usage("--org goes with --scope share_with_org only");
    }
    if (c.args.Flag("given-by").empty()) f.emplace_back("given_by", Value::Text("victim"));
    f.emplace_back("recorded_by", Value::Text(c.officer));
    f.emplace_back("given_at", Value::Int(NowMillis()));
    const RowId cid = Id16::NewV7(SystemClock::Get());
    s = c.Commit(LocalTxn().Create("consents", cid, f));
    if (!s.ok()) return Fail(s);
    Print(absl::StrCat("consent ", cid.ToString(), " recorded for case ",
                       c.Clear(*kase, "cases", "case_code"), ": ", scope, "\n"));
    return 0;
  }
  if (sub == "withdraw") {
    if (c.args.positional.size() != 3) return Usage("consent withdraw needs CONSENT (its id)");
    auto id = Resolve(c, "consents", c.args.positional[2], "consent");
    if (!id.ok()) return Fail(id.status());
    auto row = MustGet(c, "consents", *id);
    if (!row.ok()) return Fail(row.status());
    if (!ConsentLive(c, *row)) return Fail(Refused("this consent was already withdrawn"));
    absl::Status s = c.Commit(LocalTxn().Set("consents", *id,
                                             {{"withdrawn_at", Value::Int(NowMillis())}}));
    if (!s.ok()) return Fail(s);
    Print(absl::StrCat("consent ", id->ToString(), " withdrawn; referrals it covered stay as "
                       "they are, new ones need a consent again\n"));
    return 0;
  }
  if (sub == "list") {
    if (c.args.positional.size() != 3) return Usage("consent list needs CASE");
    auto id = Resolve(c, "cases", c.args.positional[2], "case");
    if (!id.ok()) return Fail(id.status());
    auto rows = RowsOfCase(c, "consents", *id);
    if (!rows.ok()) return Fail(rows.status());
    std::string out = c.json ? "[" : "";
    for (size_t i = 0; i < rows->size(); ++i) {
      const Row& r = (*rows)[i];
      const Value& w = c.Stored(r, "consents", "withdrawn_at");
      const Value& g = c.Stored(r, "consents", "given_at");
      const std::string given = g.kind() == Value::Kind::kInt ? FormatTimeMillis(g.int_value()) : "";
      const std::string withdrawn =
          w.kind() == Value::Kind::kInt ? FormatTimeMillis(w.int_value()) : "";
      std::string with;  // the organisation of a share_with_org consent
      if (auto org = IdOf(c.Stored(r, "consents", "organisation_id"))) {
        auto o = c.Get("organisations", *org);
        with = o.ok() && *o ? c.Clear(**o, "organisations", "name") : org->ToString();
      }
      if (c.json) {
        absl::StrAppend(&out, i ? ", " : "", "{\"id\": ", JsonString(r.id.ToString()),
                        ", \"scope\": ", JsonString(c.Clear(r, "consents", "scope")),
                        ", \"organisation_id\": ", JsonString(c.Clear(r, "consents", "organisation_id")),
                        ", \"organisation\": ", JsonString(with),
                        ", \"given_by\": ", JsonString(c.Clear(r, "consents", "given_by")),
                        ", \"recorded_by\": ", JsonString(c.Clear(r, "consents", "recorded_by")),
                        ", \"given_at\": ", JsonString(given), ", \"withdrawn_at\": ",
                        JsonString(withdrawn), "}");
      } else {
        absl::StrAppend(&out, r.id.ToString(), "  ", PadTo(c.Clear(r, "consents", "scope"), 21),
                        with.empty() ? "" : absl::StrCat(" with ", with, ","),
                        " by ", c.Clear(r, "consents", "given_by"), ", recorded by ",
                        c.Clear(r, "consents", "recorded_by"), " at ", given,
                        withdrawn.empty() ? "" : absl::StrCat("  WITHDRAWN ", withdrawn), "\n");
      }
    }
    if (c.json) out += "]\n";
    if (!c.json && rows->empty()) out = "no consents recorded for this case\n";
    Print(out);
    return 0;
  }
  return Usage(sub.empty() ? "consent needs add, list or withdraw"
                           : absl::StrCat("unknown consent subcommand \"", sub, "\""));
}

// ---------------------------------------------------------------------------
// Referrals.

// The provinces this node knows: its own and those of the hub's registry.
std::set<std::string> KnownProvinces(Ctx& c) {
  std::set<std::string> out = {c.province()};
  for (const RegisteredDevice& d : c.keys().Registry()) out.insert(d.province);
  return out;
}

// OK if a live consent of the case covers a referral to `to_office` or
// `org`; else the refusal naming the consent that is missing.
absl::Status CheckConsent(Ctx& c, const RowId& case_id, const std::string& code,
                          const std::string& to_office, const std::optional<RowId>& org) {
  FS_ASSIGN_OR_RETURN(auto consents, RowsOfCase(c, "consents", case_id));
  std::string need;
  std::string org_kind;
  if (org) {
    FS_ASSIGN_OR_RETURN(auto o, c.Get("organisations", *org));
    if (o) org_kind = c.Clear(*o, "organisations", "kind");
  }
  const bool police = org_kind == "police" || org_kind == "border_guard";
  for (const Row& r : consents) {
    if (!ConsentLive(c, r)) continue;
    const std::string scope = c.Clear(r, "consents", "scope");
    if (!org && scope == "services") return absl::OkStatus();
    if (org && police && scope == "police") return absl::OkStatus();
    if (org && scope == "share_with_org") {
      auto with = IdOf(c.Stored(r, "consents", "organisation_id"));
      if (with && *with == *org) return absl::OkStatus();
    }
  }
  if (!org) {
    return Refused(absl::StrCat(
        "case ", code, " has no consent to be referred for services (consent scope "
        "\"services\"), so it cannot be sent to ", to_office, ": record the victim's consent "
        "with `fieldnode consent add ", code, " --scope services --given-by victim`, then send "
        "it again"));
  }
  return Refused(absl::StrCat(
      "case ", code, " has no consent to share with this organisation (consent scope ",
      police ? "\"police\" or " : "", "\"share_with_org\" for ", org->ToString(),
      "): record it with `fieldnode consent add ", code, " --scope ",
      police ? "police" : "share_with_org --org ", police ? "" : org->ToString(),
      "`, then send it again"));
}

int ReferralSend(Ctx& c) {
  if (c.args.positional.size() != 3) return Usage("referral send needs CASE");
  const std::string to_office = c.args.Flag("to-office");
  const std::string to_org = c.args.Flag("to-org");
  if (to_office.empty() == to_org.empty()) {
    return Usage("referral send needs --to-office CODE or --to-org ORG (one of them)");
  }
  if (c.args.Flag("reason").empty()) return Usage("referral send needs --reason TEXT");
  auto id = Resolve(c, "cases", c.args.positional[2], "case");
  if (!id.ok()) return Fail(id.status());
  auto kase = MustGet(c, "cases", *id);
  if (!kase.ok()) return Fail(kase.status());
  const std::string code = c.Clear(*kase, "cases", "case_code");
  const std::string owner = c.Clear(*kase, "cases", "province");
  if (owner != c.province()) {
    return Fail(absl::PermissionDeniedError(absl::StrCat(
        "case ", code, " belongs to office ", owner, "; only its office refers it. Nothing was "
        "changed")));
  }
  if (c.Clear(*kase, "cases", "status") == "closed") {
    return Fail(Refused(absl::StrCat("case ", code, " is closed; reopen it first (fieldnode case "
                                     "set ", code, " status assisting)")));
  }
  std::optional<RowId> org;
  if (!to_office.empty()) {
    const std::set<std::string> known = KnownProvinces(c);
    if (known.count(to_office) == 0) {
      return Fail(absl::NotFoundError(absl::StrCat(
          "unknown province office \"", to_office, "\": the offices this node knows are ",
          absl::StrJoin(known, ", "), " (from the hub's registry at the last sync); check the "
          "code, or sync first if the office is new. Nothing was changed")));
    }
    if (to_office == c.province()) {
      return Fail(Refused("a case cannot be referred to its own office"));
    }
  } else {
    auto o = ResolveOrg(c, to_org);
    if (!o.ok()) return Fail(o.status());
    org = *o;
  }
  // One open referral per destination.
  auto existing = RowsOfCase(c, "referrals", *id);
  if (!existing.ok()) return Fail(existing.status());
  for (const Row& r : *existing) {
    const std::string st = c.Clear(r, "referrals", "status");
    if (st != "sent" && st != "accepted") continue;
    const bool same = org ? IdOf(c.Stored(r, "referrals", "to_organisation")) == org
                          : c.Clear(r, "referrals", "to_office") == to_office;
    if (same) {
      return Fail(Refused(absl::StrCat("case ", code, " is already referred there (referral ",
                                       r.id.ToString(), ", ", st, ")")));
    }
  }
  absl::Status s = CheckConsent(c, *id, code, to_office, org);
  if (!s.ok()) return Fail(s);
  Fields f = {{"case_id", IdValue(*id)},
              {"from_office", Value::Text(c.province())},
              {"status", Value::Text("sent")},
              {"sent_at", Value::Int(NowMillis())}};
  if (!to_office.empty()) f.emplace_back("to_office", Value::Text(to_office));
  if (org) f.emplace_back("to_organisation", IdValue(*org));
  s = AddFlags(c, "referrals", {{"reason", "reason"}, {"notes", "notes"}}, &f);
  if (!s.ok()) return Fail(s);
  if (!c.args.Flag("service").empty()) {
    auto svc = ResolveByName(c, "services", c.args.Flag("service"), "service");
    if (!svc.ok()) return Fail(svc.status());
    f.emplace_back("service_id", IdValue(*svc));
  }
  const RowId rid = Id16::NewV7(SystemClock::Get());
  s = c.Commit(LocalTxn()
                   .Create("referrals", rid, f)
                   .Set("cases", *id, {{"status", Value::Text("referred")}}));
  if (!s.ok()) return Fail(s);
  Print(absl::StrCat("referral ", rid.ToString(), " of case ", code, " sent to ",
                     to_office.empty() ? to_org : to_office,
                     "; it travels at the next sync. The receiving office sees the referral and "
                     "the case's clear fields; the whole file once it accepts.\n"));
  return 0;
}

int ReferralRespond(Ctx& c, const std::string& sub) {
  if (c.args.positional.size() != 3) {
    return Usage(absl::StrCat("referral ", sub, " needs REFERRAL (its id or the start of it)"));
  }
  auto id = Resolve(c, "referrals", c.args.positional[2], "referral");
  if (!id.ok()) return Fail(id.status());
  auto ref = MustGet(c, "referrals", *id);
  if (!ref.ok()) return Fail(ref.status());
  const std::string status = c.Clear(*ref, "referrals", "status");
  const std::string to = c.Clear(*ref, "referrals", "to_office");
  const std::string from = c.Clear(*ref, "referrals", "from_office");
  // An office answers for itself; for an agency, the referring office
  // records the agency's answer.
  const bool mine = to.empty() ? from == c.province() : to == c.province();
  if (!mine) {
    return Fail(absl::PermissionDeniedError(absl::StrCat(
        "referral ", id->ToString(), " is addressed to ", to.empty() ? "an agency" : to,
        "; only ", to.empty() ? absl::StrCat("office ", from) : absl::StrCat("office ", to),
        " records its answer. Nothing was changed")));
  }
  Fields f;
  std::string said;
  if (sub == "accept" || sub == "decline") {
    if (status != "sent") {
      return Fail(Refused(absl::StrCat("referral ", id->ToString(), " is ", status,
                                       "; only a referral that was sent can be ", sub, "d")));
    }
    f = {{"status", Value::Text(sub == "accept" ? "accepted" : "declined")},
         {"responded_at", Value::Int(NowMillis())}};
    if (sub == "decline") {
      if (c.args.Flag("reason").empty()) return Usage("referral decline needs --reason TEXT");
      absl::Status s = AddFlags(c, "referrals", {{"reason", "decline_reason"}}, &f);
      if (!s.ok()) return Fail(s);
      said = "declined; the referring office sees why at its next sync";
    } else {
      said = "accepted; once the owning office has synced it grants this office the case's key, "
             "and the whole file opens here at the sync after";
    }
  } else {  // complete
    if (status != "accepted") {
      return Fail(Refused(absl::StrCat("referral ", id->ToString(), " is ", status,
                                       "; only an accepted referral can be completed")));
    }
    f = {{"status", Value::Text("completed")}, {"completed_at", Value::Int(NowMillis())}};
    said = "completed; the case's key is renewed, so what is written from now on stays with the "
           "owning office";
  }
  absl::Status s = c.Commit(LocalTxn().Set("referrals", *id, f));
  if (!s.ok()) return Fail(s);
  Print(absl::StrCat("referral ", id->ToString(), " ", said, "\n"));
  return 0;
}

int ReferralList(Ctx& c) {
  auto ids = c.r().ListRows("referrals", false);
  if (!ids.ok()) return Fail(ids.status());
  std::string out = c.json ? "[" : "";
  bool first = true;
  for (const RowId& id : *ids) {
    auto row = c.Get("referrals", id);
    if (!row.ok()) return Fail(row.status());
    if (!*row) continue;
    const Row& r = **row;
    std::string code;
    if (auto cid = IdOf(c.Stored(r, "referrals", "case_id"))) {
      auto kase = c.Get("cases", *cid);
      if (kase.ok() && *kase) code = c.Clear(**kase, "cases", "case_code");
    }
    const std::string from = c.Clear(r, "referrals", "from_office");
    std::string to = c.Clear(r, "referrals", "to_office");
    if (to.empty()) {
      if (auto org = IdOf(c.Stored(r, "referrals", "to_organisation"))) {
        auto o = c.Get("organisations", *org);
        to = o.ok() && *o ? c.Clear(**o, "organisations", "name") : org->ToString();
      }
    }
    // out: this office sent it; in: it is addressed to this office; seen:
    // another office's referral of a case this office was given.
    const std::string dir = from == c.province()                              ? "out"
                            : c.Clear(r, "referrals", "to_office") == c.province() ? "in"
                                                                               : "seen";
    const Value& sent = c.Stored(r, "referrals", "sent_at");
    const std::string when = sent.kind() == Value::Kind::kInt ? FormatTimeMillis(sent.int_value()) : "";
    if (c.json) {
      absl::StrAppend(&out, first ? "" : ", ", "{\"id\": ", JsonString(id.ToString()),
                      ", \"direction\": ", JsonString(dir), ", \"case_code\": ", JsonString(code),
                      ", \"from_office\": ", JsonString(from), ", \"to\": ", JsonString(to),
                      ", \"status\": ", JsonString(c.Clear(r, "referrals", "status")),
                      ", \"sent_at\": ", JsonString(when), "}");
    } else {
      if (first) {
        absl::StrAppend(&out, PadTo("REFERRAL", 36), "  ", PadTo("DIR", 4), "  ",
                        PadTo("CASE", 15), " ", PadTo("FROM", 4), " ", PadTo("TO", 20), " ",
                        PadTo("STATUS", 9), " SENT\n");
      }
      absl::StrAppend(&out, id.ToString(), "  ", PadTo(dir, 4), "  ", PadTo(code, 15), " ",
                      PadTo(from, 4), " ", PadTo(to, 20), " ",
                      PadTo(c.Clear(r, "referrals", "status"), 9), " ", when, "\n");
    }
    first = false;
  }
  if (c.json) out += "]\n";
  if (!c.json && first) out = "no referrals sent or received\n";
  Print(out);
  return 0;
}

int ReferralCmd(Ctx& c) {
  const std::string sub = c.args.positional.size() > 1 ? c.args.positional[1] : "";
  if (sub == "send") return ReferralSend(c);
  if (sub == "accept" || sub == "decline" || sub == "complete") return ReferralRespond(c, sub);
  if (sub == "list") return ReferralList(c);
  return Usage(sub.empty() ? "referral needs send, list, accept, decline or complete"
                           : absl::StrCat("unknown referral subcommand \"", sub, "\""));
}

// ---------------------------------------------------------------------------
// Contacts and services.

struct DirectorySpec {
  std::string table;   // contacts, services
  std::string noun;    // contact, service
  std::vector<std::pair<std::string, std::string>> flags;  // flag → column
  std::vector<std::string> list_columns;
  std::vector<std::string> search_columns;
};

const DirectorySpec& ContactSpec() {
  static const DirectorySpec* s = new DirectorySpec{
      "contacts", "contact",
      {{"name", "name"}, {"position", "position"}, {"desk-phone", "desk_phone"},
       {"mobile", "mobile"}, {"email", "email"}, {"other-channels", "other_channels"},
       {"on-call", "on_call_hours"}, {"consent-on", "listing_consent_on"},
       {"restriction", "restriction"}, {"focal-provinces", "focal_point_provinces"},
       {"focal-kinds", "focal_point_case_kinds"}, {"verified-on", "verified_on"}},
      {"name", "position", "desk_phone", "mobile", "on_call_hours", "restriction"},
      {"name", "position", "email", "focal_point_provinces", "focal_point_case_kinds",
       "other_channels"}};
  return *s;
}

const DirectorySpec& ServiceSpec() {
  static const DirectorySpec* s = new DirectorySpec{
      "services", "service",
      {{"name", "name"}, {"kind", "kind"}, {"provinces", "provinces_covered"},
       {"eligibility", "eligibility"}, {"procedure", "procedure"},
       {"documents", "governing_documents"}, {"phone", "phone"}, {"hours", "hours"},
       {"address", "address"}, {"restriction", "restriction"}},
      {"name", "kind", "provinces_covered", "phone", "hours", "address"},
      {"name", "kind", "provinces_covered", "eligibility", "procedure", "governing_documents",
       "address"}};
  return *s;
}

int DirectoryAdd(Ctx& c, const DirectorySpec& d) {
  if (c.args.positional.size() != 2) {
    return Usage(absl::StrCat(d.noun, " add takes flags only (--org, --name, ...)"));
  }
  if (c.args.Flag("org").empty() || c.args.Flag("name").empty()) {
    return Usage(absl::StrCat(d.noun, " add needs --org ORG and --name NAME"));
  }
  if (d.table == "contacts" && c.args.Flag("consent-on").empty()) {
    return Usage("contact add needs --consent-on YYYY-MM-DD: a person is listed only with their "
                 "prior consent (plan II.1.2)");
  }
  if (d.table == "services" && c.args.Flag("kind").empty()) {
    return Usage("service add needs --kind KIND (shelter, medical, legal, psychosocial, "
                 "repatriation, vocational, other)");
  }
  auto org = ResolveOrg(c, c.args.Flag("org"));
  if (!org.ok()) return Fail(org.status());
  Fields f = {{"organisation_id", IdValue(*org)}};
  absl::Status s = AddFlags(c, d.table, d.flags, &f);
  if (!s.ok()) return Fail(s);
  if (d.table == "contacts") f.emplace_back("province", Value::Text(c.province()));
  const RowId id = Id16::NewV7(SystemClock::Get());
  s = c.Commit(LocalTxn().Create(d.table, id, f));
  if (!s.ok()) return Fail(s);
  const bool restricted = c.args.Flag("restriction") == "restricted";
  Print(absl::StrCat("added ", d.noun, " ", id.ToString(),
                     restricted ? " (restricted: its private fields are sealed for this office)"
                                : "",
                     "\n"));
  return 0;
}

int DirectoryEdit(Ctx& c, const DirectorySpec& d) {
  if (c.args.positional.size() != 5) {
    return Usage(absl::StrCat(d.noun, " edit needs ", absl::AsciiStrToUpper(d.noun),
                              " FIELD VALUE"));
  }
  auto id = Resolve(c, d.table, c.args.positional[2], d.noun);
  if (!id.ok()) return Fail(id.status());
  const TableDef& t = c.table(d.table);
  const ColumnDef* col = t.FindColumn(c.args.positional[3]);
  if (col == nullptr || col->name == "province") {
    std::vector<std::string> names;
    for (const ColumnDef& cd : t.columns) {
      if (cd.name != "province") names.emplace_back(cd.name);
    }
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "no field \"", c.args.positional[3], "\" in a ", d.noun, " that can be edited; the "
        "fields are: ", absl::StrJoin(names, ", "))));
  }
  auto v = ParseColumnValue(t, *col, c.args.positional[4]);
  if (!v.ok()) return Fail(v.status());
  absl::Status s = c.Commit(LocalTxn().Set(d.table, *id, {{std::string(col->name), *v}}));
  if (!s.ok()) return Fail(s);
  Print(absl::StrCat(d.noun, " ", id->ToString(), ": ", AV(col->name), " set\n"));
  return 0;
}

int DirectoryList(Ctx& c, const DirectorySpec& d, const std::string& query) {
  auto ids = c.r().ListRows(d.table, false);
  if (!ids.ok()) return Fail(ids.status());
  std::string out = c.json ? "[" : "";
  size_t n = 0;
  bool masked = false;
  for (const RowId& id : *ids) {
    auto row = c.Get(d.table, id);
    if (!row.ok()) return Fail(row.status());
    if (!*row) continue;
    std::map<std::string, std::string> shown;
    std::string haystack;
    for (const std::string& col : d.list_columns) {
      OpenedField f = c.Open(**row, d.table, col);
      masked |= f.state == State::kLocked;
      shown[col] = f.state == State::kClear || f.state == State::kOpened ? ShowValue(f.value)
                   : f.state == State::kLocked                         ? "•••••• (sealed)"
                                                                        : "(restricted)";
    }
    if (!query.empty()) {
      for (const std::string& col : d.search_columns) {
        OpenedField f = c.Open(**row, d.table, col);
        if (f.state == State::kClear || f.state == State::kOpened) {
          absl::StrAppend(&haystack, " ", FoldForSearch(ShowValue(f.value)));
        }
      }
      if (auto org = IdOf(c.Stored(**row, d.table, "organisation_id"))) {
        auto o = c.Get("organisations", *org);
        if (o.ok() && *o) {
          absl::StrAppend(&haystack, " ", FoldForSearch(c.Clear(**o, "organisations", "name")));
        }
      }
      if (!MatchesFolded(haystack, query)) continue;
    }
    if (c.json) {
      absl::StrAppend(&out, n ? ", " : "", "{\"id\": ", JsonString(id.ToString()));
      for (const std::string& col : d.list_columns) {
        absl::StrAppend(&out, ", ", JsonString(col), ": ", JsonString(shown[col]));
      }
      absl::StrAppend(&out, "}");
    } else {
      absl::StrAppend(&out, id.ToString().substr(0, 13));
      for (const std::string& col : d.list_columns) {
        absl::StrAppend(&out, "  ", PadTo(shown[col], col == "name" ? 28 : 14));
      }
      absl::StrAppend(&out, "\n");
    }
    ++n;
  }
  if (c.json) {
    out += "]\n";
  } else {
    absl::StrAppend(&out, n, " ", d.noun, "(s)\n");
    if (masked) absl::StrAppend(&out, "Restricted fields are masked: ", UnlockHint(), ".\n");
  }
  Print(out);
  return 0;
}

int DirectoryCmd(Ctx& c, const DirectorySpec& d) {
  const std::string sub = c.args.positional.size() > 1 ? c.args.positional[1] : "";
  if (sub == "add") return DirectoryAdd(c, d);
  if (sub == "edit") return DirectoryEdit(c, d);
  if (sub == "list") return DirectoryList(c, d, "");
  if (sub == "search") {
    if (c.args.positional.size() != 3) return Usage(absl::StrCat(d.noun, " search needs TEXT"));
    auto q = NormalizeInput(c.args.positional[2], "the search text");
    if (!q.ok()) return Fail(q.status());
    return DirectoryList(c, d, *q);
  }
  return Usage(sub.empty() ? absl::StrCat(d.noun, " needs add, edit, list or search")
                           : absl::StrCat("unknown ", d.noun, " subcommand \"", sub, "\""));
}

// ---------------------------------------------------------------------------
// Conflicts.

absl::StatusOr<std::pair<std::string, RowId>> ResolveAnyRow(Ctx& c, const std::string& ref) {
  if (auto k = Resolve(c, "cases", ref, "case"); k.ok()) return std::make_pair(std::string("cases"), *k);
  for (const TableDef& t : c.r().schema().tables()) {
    if (t.name == "cases") continue;
    auto id = Resolve(c, t.name, ref, "record");
    if (id.ok()) return std::make_pair(std::string(t.name), *id);
  }
  return absl::NotFoundError(absl::StrCat("no record \"", ref, "\" on this node: give a case "
                                          "code or an id from fieldnode conflict list"));
}

int ConflictCmd(Ctx& c) {
  const std::string sub = c.args.positional.size() > 1 ? c.args.positional[1] : "";
  if (sub == "list") {
    auto all = c.r().Conflicts();
    if (!all.ok()) return Fail(all.status());
    std::vector<std::pair<RowId, std::string>> opened_cases;
    std::string out = c.json ? "[" : "";
    bool masked = false;
    for (size_t i = 0; i < all->size(); ++i) {
      const ConflictRecord& k = (*all)[i];
      auto row = c.Get(k.table, k.row);
      if (!row.ok()) return Fail(row.status());
      std::string current = "(deleted)", current_by, code;
      OpenedField cur;
      if (*row && k.column != kLiveColumn) {
        cur = c.Open(**row, k.table, k.column);
        current = c.Write(cur);
        const int ci = c.table(k.table).ColumnIndex(k.column);
        if (ci >= 0 && (*row)->versions[static_cast<size_t>(ci)]) {
          const Version& v = (*row)->versions[static_cast<size_t>(ci)]->version;
          current_by = absl::StrCat(DeviceName(c, v.device), " at ",
                                    FormatTimeMillis(static_cast<int64_t>(v.hlc.wall_millis())));
        }
      } else if (*row) {
        current = (*row)->live ? "live" : "deleted";
      }
      std::optional<RowId> case_of;  // for the access log and the code shown
      if (*row) {
        auto of = CaseOfRecord(c.r(), k.table, **row);
        if (!of.ok()) return Fail(of.status());
        case_of = *of;
      }
      if (case_of) {
        auto kr = c.Get("cases", *case_of);
        if (kr.ok() && *kr) code = c.Clear(**kr, "cases", "case_code");
      }
      OpenedField other = k.column == kLiveColumn
                              ? OpenedField{State::kClear, k.value, ""}
                              : c.keys().Read(k.table, k.row, k.column, k.value, k.version);
      masked |= other.state == State::kLocked || cur.state == State::kLocked;
      const std::string other_by = absl::StrCat(
          DeviceName(c, k.version.device), " at ",
          FormatTimeMillis(static_cast<int64_t>(k.version.hlc.wall_millis())));
      // Opening either value of a case's sealed field is an access (a
      // person no case names is logged under the person's id).
      if ((other.state == State::kOpened || cur.state == State::kOpened) &&
          (k.table == "cases" || k.table == "persons" || k.table == "referrals")) {
        opened_cases.emplace_back(case_of ? *case_of : k.row,
                                  absl::StrCat(k.table, ".", k.column));
      }
      if (c.json) {
        absl::StrAppend(&out, i ? ", " : "", "{\"table\": ", JsonString(k.table),
                        ", \"row\": ", JsonString(k.row.ToString()), ", \"case_code\": ",
                        JsonString(code), ", \"field\": ", JsonString(k.column),
                        ", \"current\": ", JsonString(current), ", \"current_by\": ",
                        JsonString(current_by), ", \"other\": ", JsonString(c.Write(other)),
                        ", \"other_by\": ", JsonString(other_by), "}");
      } else {
        absl::StrAppend(&out, k.table, " ", code.empty() ? k.row.ToString() : code, "  field ",
                        k.column, "\n    current: ", current, "   (", current_by, ")\n    other:   ",
                        c.Write(other), "   (", other_by, ")\n    resolve: fieldnode conflict "
                        "resolve ", code.empty() ? k.row.ToString() : code, " ", k.column,
                        " --keep current|other  (or --value TEXT)\n");
      }
    }
    std::vector<std::pair<RowId, std::vector<std::string>>> accesses;
    for (const auto& [case_id, field] : opened_cases) accesses.push_back({case_id, {field}});
    absl::Status a = c.AuditMany(accesses, c.json ? "export" : "show");
    if (!a.ok()) return Fail(a);
    if (c.json) {
      out += "]\n";
    } else if (all->empty()) {
      out = "no conflicts: every field has one value\n";
    } else {
      absl::StrAppend(&out, all->size(), " field(s) in conflict\n");
      if (masked) absl::StrAppend(&out, "Sealed values are masked: ", UnlockHint(), ".\n");
    }
    Print(out);
    return 0;
  }
  if (sub == "resolve") {
    if (c.args.positional.size() != 4) {
      return Usage("conflict resolve needs ROW FIELD and --keep current|other or --value TEXT");
    }
    const std::string keep = c.args.Flag("keep");
    const bool has_value = c.args.flags.count("value") > 0;
    if (keep.empty() == !has_value || (!keep.empty() && keep != "current" && keep != "other")) {
      return Usage("conflict resolve needs one of --keep current, --keep other, --value TEXT");
    }
    auto target = ResolveAnyRow(c, c.args.positional[2]);
    if (!target.ok()) return Fail(target.status());
    auto [table, row_id] = *target;
    const std::string column = c.args.positional[3];
    // A case code with a field of the victim: the case's person.
    if (table == "cases" && c.table("cases").FindColumn(column) == nullptr &&
        c.table("persons").FindColumn(column) != nullptr) {
      auto kase = MustGet(c, "cases", row_id);
      if (!kase.ok()) return Fail(kase.status());
      auto pid = IdOf(c.Stored(*kase, "cases", "person_id"));
      if (!pid) return Fail(Refused("this case names no person"));
      table = "persons";
      row_id = *pid;
    }
    auto records = c.r().Conflicts(table, row_id);
    if (!records.ok()) return Fail(records.status());
    std::vector<ConflictRecord> mine;
    for (const ConflictRecord& k : *records) {
      if (k.column == column) mine.push_back(k);
    }
    if (mine.empty()) {
      return Fail(absl::NotFoundError(absl::StrCat(
          "no conflict on field \"", column, "\" of that ", table, " record: fieldnode conflict "
          "list shows the open ones. Nothing was changed")));
    }
    if (column == kLiveColumn) {
      return Fail(Refused("a conflict between a deletion and an edit is resolved with fieldnode "
                          "case delete, or by editing the record again"));
    }
    auto row = MustGet(c, table, row_id);
    if (!row.ok()) return Fail(row.status());
    const TableDef& t = c.table(table);
    Value value;
    if (has_value) {
      auto v = ParseColumnValue(t, *t.FindColumn(column), c.args.Flag("value"));
      if (!v.ok()) return Fail(v.status());
      value = *v;
    } else {
      if (keep == "other" && mine.size() > 1) {
        return Fail(absl::InvalidArgumentError(absl::StrCat(
            mine.size(), " other values are in conflict with this field: write the one to keep "
            "with --value TEXT")));
      }
      // A sealed value is opened and written anew, sealed again under the
      // case's current key.
      OpenedField f = keep == "current"
                          ? c.Open(*row, table, column)
                          : c.keys().Read(table, row_id, column, mine[0].value, mine[0].version);
      if (f.state != State::kClear && f.state != State::kOpened) {
        return Fail(absl::FailedPreconditionError(absl::StrCat(
            "the value to keep cannot be opened here (", f.problem.empty() ? "locked" : f.problem,
            "): ", UnlockHint(), ". Nothing was changed")));
      }
      value = f.value;
    }
    absl::Status s = c.Commit(LocalTxn().Resolve(table, row_id, column, value));
    if (!s.ok()) return Fail(s);
    Print(absl::StrCat("resolved ", table, " ", row_id.ToString(), " field ", column, ": ",
                       has_value ? "new value written" : absl::StrCat("kept the ", keep, " value"),
                       "; the choice reaches the other devices at the next sync\n"));
    return 0;
  }
  return Usage(sub.empty() ? "conflict needs list or resolve"
                           : absl::StrCat("unknown conflict subcommand \"", sub, "\""));
}

// ---------------------------------------------------------------------------
// Unlock, lock, status.

int Unlock(const Args& args) {
  const DataDir dir = NodeDir(args);
  {
    auto r = OpenReplicaIn(dir);
    if (!r.ok()) return Fail(r.status());
  }
  auto period = ParseDurationMillis(args.Flag("for", "8h"));
  if (!period.ok()) return Usage(std::string(period.status().message()));
  if (*period < 60'000 || *period > 7 * 86'400'000LL) {
    return Usage("--for must be between 1m and 7d");
  }
  if (auto until = AgentExpiry(dir.path)) {
    Print(absl::StrCat("already unlocked until ", FormatTimeMillis(*until),
                       " (fieldnode lock to lock now)\n"));
    return 0;
  }
  auto pass = MustUnlock(args, dir, "unlocking");
  if (!pass.ok()) return Fail(pass.status());
  const int64_t until = NowMillis() + *period;
  absl::Status s = StartAgent(dir.path, *std::move(pass), until);
  if (!s.ok()) return Fail(s);
  Print(absl::StrCat("unlocked until ", FormatTimeMillis(until), ": fieldnode commands use the "
                     "keys without asking; fieldnode lock forgets them\n"));
  return 0;
}

int Lock(const Args& args) {
  const DataDir dir = NodeDir(args);
  if (StopAgent(dir.path)) {
    Print("locked: the keys are forgotten; sealed fields are masked until the next unlock\n");
  } else {
    Print("already locked (no keys were kept in memory)\n");
  }
  return 0;
}

int Status(const Args& args) {
  const DataDir dir = NodeDir(args);
  auto r = OpenReplicaIn(dir);
  if (!r.ok()) return Fail(r.status());
  auto stats = (*r)->Stats();
  if (!stats.ok()) return Fail(stats.status());
  auto hub = LoadHubConfig(dir.path);
  auto pushed = (*r)->GetCursor(kPushedCursor);
  auto last_sync = (*r)->GetCursor(kLastSyncCursor);
  auto waiting = (*r)->LocalCommitsAfter(pushed.ok() ? static_cast<uint64_t>(*pushed) : 0, 100000);
  auto urgent = HasUrgentUnpushed(**r);
  const std::optional<int64_t> until = AgentExpiry(dir.path);
  const size_t n_waiting = waiting.ok() ? waiting->size() : 0;
  // Membership, as this laptop's own records decide it (no unlocking).
  std::string membership = "not enrolled";
  std::vector<std::string> alerts;
  size_t pending_others = 0;
  if (hub.ok() && !hub->province.empty()) {
    auto keys = KeyRing::Open(r->get(), hub->province);
    if (keys.ok()) {
      auto v = (*keys)->Office();
      if (v.ok()) {
        for (const KeyRing::OfficeDevice& d : v->devices) {
          if (!d.me && d.state == KeyRing::OfficeDevice::State::kPending) ++pending_others;
        }
        if (v->member) {
          membership = "member of the office";
        } else if (v->removed) {
          membership = "REMOVED from the office: it receives no key";
        } else if (v->first_devices_seen.size() > 1) {
          membership = absl::StrCat("WAITING FOR APPROVAL: the hub shows ",
                                    v->first_devices_seen.size(), " first devices for this "
                                    "office; only one is yours: see fieldnode device list");
        } else if (v->root || v->first_device_seen) {
          membership = absl::StrCat("WAITING FOR APPROVAL (code ", v->my_code, ")",
                                    v->root ? "" : " and for this laptop to join",
                                    ": see fieldnode device list");
        } else {
          membership = "the office's first device is not known here yet: see fieldnode device "
                       "list";
        }
        if (pending_others > 0) {
          absl::StrAppend(&membership, "; ", pending_others,
                          " device(s) of the office wait for approval (fieldnode device list)");
        }
      }
      auto a = (*keys)->TrustAlerts();
      if (a.ok()) alerts = *a;
    }
  }
  const std::string keystore =
      until ? absl::StrCat("unlocked until ", FormatTimeMillis(*until)) : "locked";
  const std::string last =
      last_sync.ok() && *last_sync > 0 ? FormatTimeMillis(*last_sync) : "never";
  if (args.Has("json")) {
    std::string base = FormatStatus(dir, *stats, true);
    base.resize(base.size() - 2);  // drop "}\n"
    Print(absl::StrCat(base, ", \"province\": ",
                       JsonString(hub.ok() ? hub->province : ""), ", \"hub\": ",
                       JsonString(hub.ok() ? hub->address : ""), ", \"keystore\": ",
                       JsonString(until ? "unlocked" : "locked"), ", \"unlocked_until\": ",
                       JsonString(until ? FormatTimeMillis(*until) : ""),
                       ", \"last_sync\": ", JsonString(last), ", \"commits_waiting\": ",
                       n_waiting, ", \"urgent_waiting\": ",
                       urgent.ok() && *urgent ? "true" : "false", ", \"membership\": ",
                       JsonString(membership), ", \"devices_waiting\": ", pending_others,
                       ", \"trust_alerts\": ", alerts.size(), "}\n"));
    return 0;
  }
  Print(absl::StrCat(
      "province         ", hub.ok() ? hub->province : "(not enrolled: fieldnode enroll)", "\n",
      "hub              ", hub.ok() ? hub->address : "-", "\n",
      "keystore         ", keystore, "\n",
      "last sync        ", last, "\n",
      "commits waiting  ", n_waiting, urgent.ok() && *urgent ? " (urgent among them)" : "",
      "\n", "office           ", membership, "\n", FormatStatus(dir, *stats, false)));
  for (const std::string& a : alerts) Print(absl::StrCat("ALERT: ", Printable(a), "\n"));
  if (!alerts.empty()) {
    Print("(once read: fieldnode device alerts --ack all; fieldnode device alerts lists them)\n");
  }
  return 0;
}

}  // namespace

bool IsOfficeCommand(const std::string& cmd) {
  static const std::set<std::string> cmds = {"case",     "consent", "referral", "org",
                                             "contact",  "service", "conflict", "report",
                                             "unlock",   "lock",    "status"};
  return cmds.count(cmd) > 0;
}

const std::set<std::string>& OfficeValuedFlags() {
  static const std::set<std::string> f = {
      "data-dir", "passphrase-file", "new-passphrase-file", "officer", "name", "other-names",
      "dob", "id-number",
      "phones", "address", "home-address", "family", "health", "sex", "birth-year", "origin",
      "nationality", "channel", "narrative", "notes", "places", "perpetrators", "exploitation",
      "office", "status", "urgency", "since", "scope", "org", "given-by", "to-office", "to-org",
      "reason", "service", "kind", "province", "phone", "position", "desk-phone", "mobile",
      "email", "other-channels", "on-call", "consent-on", "restriction", "focal-provinces",
      "focal-kinds", "verified-on", "provinces", "eligibility", "procedure", "documents",
      "hours", "keep", "value", "threshold", "for"};
  return f;
}

const std::set<std::string>& OfficeSwitches() {
  static const std::set<std::string> s = {"json", "help", "urgent", "yes", "codes"};
  return s;
}

std::string OfficeHelp(const std::string& cmd) {
  for (const help::Text& t : help::kTexts) {
    if (t.command == cmd) return std::string(t.text);
  }
  return "";
}

int RunReport(Ctx& c);

int RunOfficeCommand(const Args& args) {
  const std::string cmd = args.positional[0];
  if (cmd == "unlock") return Unlock(args);
  if (cmd == "lock") return Lock(args);
  if (cmd == "status") return Status(args);
  // Writing commands and those that open sealed fields ask for the
  // passphrase on a terminal when no agent holds the keys; the lists that
  // show no sealed field and the report never ask.
  const std::string sub = args.positional.size() > 1 ? args.positional[1] : "";
  const bool clear_only =
      cmd == "report" || (sub == "list" && (cmd == "case" || cmd == "referral" ||
                                            cmd == "org" || cmd == "consent"));
  auto session = OpenLocal(args, /*ask=*/!clear_only);
  if (!session.ok()) return Fail(session.status());
  Ctx c{args, *std::move(session), args.Has("json"), Officer(args)};
  if (cmd == "case") return CaseCmd(c);
  if (cmd == "consent") return ConsentCmd(c);
  if (cmd == "referral") return ReferralCmd(c);
  if (cmd == "org") return OrgCmd(c);
  if (cmd == "contact") return DirectoryCmd(c, ContactSpec());
  if (cmd == "service") return DirectoryCmd(c, ServiceSpec());
  if (cmd == "conflict") return ConflictCmd(c);
  return RunReport(c);
}

int RunReport(Ctx& c) {
  if (c.args.positional.size() != 1) return Usage("report takes no operands, only options");
  report::ReportOptions o;
  const std::string t = c.args.Flag("threshold", "5");
  char* end = nullptr;
  const long n = std::strtol(t.c_str(), &end, 10);
  if (end == t.c_str() || *end != '\0' || n < 1 || n > 1000) {
    return Usage(absl::StrCat("--threshold wants a whole number from 1 to 1000, not \"", t, "\""));
  }
  o.threshold = static_cast<int>(n);
  o.include_case_codes = c.args.Has("codes");
  o.title = absl::StrCat("Cases seen by office ", c.province(), " on ", Today());
  auto r = report::BuildReport(c.r(), o);
  if (!r.ok()) return Fail(r.status());
  Print(c.json ? report::RenderJson(*r) : report::RenderText(*r));
  return 0;
}

}  // namespace fieldsync::node
