#include "node/ops/cases.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "node/ops/messages.h"
#include "node/ops/resolve.h"
#include "node/ops/values.h"
#include "text/text.h"
#include "schema/relations.h"

namespace fieldsync::node::ops {
namespace {

std::string Bytes(const RowId& id) { return std::string(id.view()); }

bool HasColumn(const Fields& f, std::string_view col) {
  return std::any_of(f.begin(), f.end(), [&](const auto& e) { return e.first == col; });
}

}  // namespace

std::string NewCaseCode(const Office& o) {
  // Province, year and month, and 5 random characters of Crockford's base
  // 32: unique enough for offline devices, and reveals nothing of the victim.
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const RowId r = Id16::NewRandom();
  const std::string today = o.Today();
  std::string code = absl::StrCat(o.province, "-", today.substr(2, 2), today.substr(5, 2), "-");
  for (int i = 0; i < 5; ++i) code.push_back(kAlphabet[static_cast<uint8_t>(r.view()[i]) % 32]);
  return code;
}

absl::StatusOr<std::string> UniqueCaseCode(const Office& o,
                                           const std::function<std::string()>& draw) {
  // 5 random characters a month: two of an office's thousands may meet
  // (about 37% at 5,000 a month). A code a live case here holds is drawn
  // again; one a colleague's laptop made offline may still meet it after a
  // sync (CaseCodeShown).
  for (int tries = 0; tries < 64; ++tries) {
    std::string code = draw();
    FS_ASSIGN_OR_RETURN(std::vector<RowId> held,
                        o.replica.FindLiveRows("cases", "", "case_code", code, 1));
    if (held.empty()) return code;
  }
  return Coded(absl::ResourceExhaustedError("no free case code after 64 draws: the office's codes "
                                            "of this month are nearly all taken"),
               Msg::kNoFreeCode);
}

std::string CaseCodeShown(const std::string& code, const RowId& id) {
  std::string hex;
  for (char c : id.ToString()) {
    if (c != '-') hex.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return absl::StrCat(code, "/", hex.substr(hex.size() - kCaseCodeTellApart));
}

namespace {

// FIELD of a case file: a column of cases, else of persons.
absl::StatusOr<std::pair<std::string, const ColumnDef*>> CaseField(const Office& o,
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
    const ColumnDef* col = o.Table(t).FindColumn(n);
    if (col == nullptr) continue;
    if (n == "province" || n == "person_id" || n == "case_code") {
      return Coded(MalformedValue(absl::StrCat(
                       "\"", n,
                       "\" cannot be changed here: it decides who sees the case (a case moves to "
                       "another office through a referral)")),
                   Msg::kFieldNotChangeable, {{"field", Printable(n)}});
    }
    return std::make_pair(std::string(t), col);
  }
  std::vector<std::string> names;
  for (const char* t : {"cases", "persons"}) {
    for (const ColumnDef& col : o.Table(t).columns) {
      if (col.name != "province" && col.name != "person_id" && col.name != "case_code") {
        names.emplace_back(col.name);
      }
    }
  }
  return Coded(
      MalformedValue(absl::StrCat(
          "no field \"", name, "\" in a case file; the fields are: ", absl::StrJoin(names, ", "))),
      Msg::kNoSuchField, {{"field", Printable(name)}});
}

// A record's fields with a value, opened; sealed ones it opened go to
// `opened` ("persons.full_name").
RecordView View(const Office& o, const Row& row, std::string_view table,
                std::vector<std::string>* opened) {
  const TableDef& t = o.Table(table);
  RecordView out{row.id, {}};
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (row.values[i].is_null()) continue;
    const std::string col(t.columns[i].name);
    OpenedField f = o.Open(row, table, col);
    if (f.state == State::kOpened && f.value.is_null()) continue;  // sealed, absent
    if (f.state == State::kOpened) opened->push_back(absl::StrCat(AV(table), ".", col));
    FieldView fv{col, t.columns[i].type, f, std::nullopt};
    // A link to the directories reads as the name it points to.
    if (auto linked = IdOf(f.value);
        linked && t.columns[i].type == ColumnType::kId && col != "person_id" &&
        col != "case_id") {
      const char* dir = col == "service_id" ? "services" : "organisations";
      if (auto r = o.Get(dir, *linked); r.ok() && *r) {
        fv.linked = std::make_pair(*linked, Office::Shown(o.Open(**r, dir, "name")));
      }
    }
    out.fields.push_back(std::move(fv));
  }
  return out;
}

// Every change to the file's records, oldest first: from the commit log,
// and for what the log here does not hold (a file received whole through a
// referral, or after the hub collected old history) from the versions of
// the fields, which say who wrote each one last and when.
absl::StatusOr<std::vector<HistoryLine>> History(
    const Office& o, const std::set<std::string>& rows,
    const std::vector<std::pair<std::string, const Row*>>& held) {
  std::vector<HistoryLine> out;
  std::set<std::string> seen;  // hlc@author/table/row of the log's changes
  int64_t after = 0;
  while (true) {
    FS_ASSIGN_OR_RETURN(auto batch, o.replica.LogAfter(after, 2000));
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
        HistoryLine line;
        line.millis = static_cast<int64_t>(commit.hlc.wall_millis());
        line.who = o.DeviceName(commit.author);
        line.this_laptop = commit.author == o.replica.device_id();
        line.what = std::move(what);
        line.table = rc.table;
        line.change = deleted   ? HistoryLine::Change::kDeleted
                      : created ? HistoryLine::Change::kCreated
                                : HistoryLine::Change::kChanged;
        if (!deleted) line.columns = std::move(cols);
        out.push_back(std::move(line));
        seen.insert(absl::StrCat(commit.hlc.ToString(), "@", commit.author.ToString(), "/",
                                 rc.table, "/", rc.row.ToString()));
      }
    }
  }
  std::map<std::string, std::pair<HistoryLine, std::vector<std::string>>> earlier;
  for (const auto& [table, row] : held) {
    const TableDef& t = o.Table(table);
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (!row->versions[i]) continue;
      const Version& v = row->versions[i]->version;
      const std::string key = absl::StrCat(v.hlc.ToString(), "@", v.device.ToString(), "/",
                                           table, "/", row->id.ToString());
      if (seen.count(key) > 0) continue;
      auto& e = earlier[key];
      if (e.second.empty()) {
        e.first.millis = static_cast<int64_t>(v.hlc.wall_millis());
        e.first.who = o.DeviceName(v.device);
        e.first.this_laptop = v.device == o.replica.device_id();
        e.first.what = table;
        e.first.table = table;
        e.first.received_whole = true;
      }
      e.second.emplace_back(t.columns[i].name);
    }
  }
  for (auto& [key, e] : earlier) {
    e.first.what = absl::StrCat(e.first.what, ": ", absl::StrJoin(e.second, ", "),
                                " (last written; received whole)");
    e.first.columns = e.second;
    out.push_back(std::move(e.first));
  }
  std::stable_sort(out.begin(), out.end(), [](const HistoryLine& a, const HistoryLine& b) {
    return a.millis < b.millis;
  });
  return out;
}

}  // namespace

absl::StatusOr<PreparedCase> PrepareCase(const Office& o, const NewCase& in) {
  const bool named = std::any_of(in.person.begin(), in.person.end(), [](const auto& e) {
    return e.first == "full_name" && !e.second.empty();
  });
  if (!named) {
    return Coded(IncompleteRequest("a case needs the victim's full name (it is sealed)"),
                 Msg::kNameNeeded, {{"field", "persons.full_name"}});
  }
  for (const auto& [col, text] : in.person) {
    if (col == "full_name" && IsBlank(text)) return NameRequired();
  }
  Fields person;
  FS_RETURN_IF_ERROR(ParseTypedColumns(o, o.Table("persons"), in.person, &person));
  // Age band and is_child from the year of birth (or the date of birth).
  int64_t year = 0, dob_year = 0;
  for (const auto& [col, v] : person) {
    if (col == "birth_year" && v.kind() == Value::Kind::kInt) year = v.int_value();
    if (col == "date_of_birth") dob_year = std::atoi(TextOf(v).substr(0, 4).c_str());
  }
  if (year != 0 && dob_year != 0 && year != dob_year) {
    return Coded(MalformedValue(absl::StrCat("--birth-year ", year, " and --dob ", dob_year,
                                             " disagree: give one of them")),
                 Msg::kBirthYearsDisagree, {{"field", "persons.birth_year"}});
  }
  if (year == 0) year = dob_year;
  const std::string today = o.Today();
  if (year != 0) {
    const int64_t this_year = std::atoi(today.substr(0, 4).c_str());
    if (year < 1900 || year > this_year) {
      return Coded(
          MalformedValue(absl::StrCat("year of birth ", year,
                                      " is not plausible: give a year from 1900 to ", this_year)),
          Msg::kBirthYearImplausible,
          {{"min", "1900"}, {"max", absl::StrCat(this_year)}, {"field", "persons.birth_year"}});
    }
    const int64_t age = this_year - year;
    if (!HasColumn(person, "birth_year")) person.emplace_back("birth_year", Value::Int(year));
    person.emplace_back("age_band", Value::Text(AgeBand(age)));
    person.emplace_back("is_child", Value::Int(age < 18 ? 1 : 0));
  }
  person.emplace_back("province", Value::Text(o.province));
  Fields kase;
  FS_RETURN_IF_ERROR(ParseTypedColumns(o, o.Table("cases"), in.kase, &kase));
  FS_ASSIGN_OR_RETURN(std::string officer,
                      NormalizeInput(in.officer.value_or(o.officer), "--officer"));
  const RowId person_id = Id16::NewV7(o.clock);
  const RowId case_id = Id16::NewV7(o.clock);
  FS_ASSIGN_OR_RETURN(const std::string code, UniqueCaseCode(o, [&o] { return NewCaseCode(o); }));
  if (!HasColumn(kase, "intake_channel")) {
    kase.emplace_back("intake_channel", Value::Text("hotline_call"));
  }
  if (!HasColumn(kase, "office")) kase.emplace_back("office", Value::Text(o.province));
  kase.emplace_back("case_code", Value::Text(code));
  kase.emplace_back("person_id", IdValue(person_id));
  kase.emplace_back("province", Value::Text(o.province));
  kase.emplace_back("assigned_officer", Value::Text(officer));
  kase.emplace_back("status", Value::Text("intake"));
  kase.emplace_back("trafficking_status", Value::Text("possible"));
  kase.emplace_back("urgency", Value::Text(in.urgent ? "urgent" : "normal"));
  kase.emplace_back("opened_on", Value::Text(today));
  return PreparedCase{OpenedCase{code, case_id, person_id, in.urgent, o.DateWarning(),
                                 o.DateWarningMessage()},
                      std::move(person), std::move(kase)};
}

absl::StatusOr<OpenedCase> OpenCase(const Office& o, const NewCase& in) {
  FS_ASSIGN_OR_RETURN(PreparedCase c, PrepareCase(o, in));
  FS_RETURN_IF_ERROR(o.Commit(LocalTxn()
                                  .Create("persons", c.opened.person_id, std::move(c.person))
                                  .Create("cases", c.opened.case_id, std::move(c.kase))));
  return c.opened;
}

absl::StatusOr<ChangedCaseField> SetCaseField(const Office& o, const CaseFieldChange& in) {
  FS_ASSIGN_OR_RETURN(RowId id, Resolve(o, "cases", in.case_ref, "case"));
  FS_ASSIGN_OR_RETURN(auto field, CaseField(o, in.field));
  const auto& [table, col] = field;
  FS_ASSIGN_OR_RETURN(Value value, ParseColumnValue(o, o.Table(table), *col, in.value));
  FS_RETURN_IF_ERROR(CheckRequired(table, col->name, value));
  FS_ASSIGN_OR_RETURN(Row kase, o.MustGet("cases", id));
  RowId row = id;
  if (table == "persons") {
    auto pid = IdOf(o.Stored(kase, "cases", "person_id"));
    if (!pid) return Coded(Refused("this case names no person"), Msg::kCaseNoPerson);
    row = *pid;
  }
  // A case is not closed before it was opened (the opening date is sealed:
  // read here, or its clear month when it cannot be).
  if (table == "cases" && (col->name == "closed_on" || col->name == "opened_on") &&
      !value.is_null()) {
    const bool closing = col->name == "closed_on";
    std::string opened = closing ? "" : TextOf(value);
    const std::string closed = closing ? TextOf(value) : o.Clear(kase, "cases", "closed_on");
    if (closing) {
      OpenedField f = o.Open(kase, "cases", "opened_on");
      opened = (f.state == State::kOpened || f.state == State::kClear) &&
                       f.value.kind() == Value::Kind::kText
                   ? f.value.str()
                   : OpenedMonth(o, kase);
    }
    const size_t n = std::min(opened.size(), closed.size());
    if (n > 0 && closed.substr(0, n) < opened.substr(0, n)) {
      return Coded(absl::InvalidArgumentError(
                       absl::StrCat("closed_on ", closed, " is before the case was opened (",
                                    opened, "): give a date on or after it. Nothing was changed")),
                   Msg::kClosedBeforeOpened);
    }
  }
  Fields fields = {{std::string(col->name), value}};
  // A year or date of birth also sets the age band and is_child, at the
  // year the case was opened.
  if (table == "persons" && (col->name == "birth_year" || col->name == "date_of_birth") &&
      !value.is_null()) {
    const int64_t year = value.kind() == Value::Kind::kInt
                             ? value.int_value()
                             : std::atoi(TextOf(value).substr(0, 4).c_str());
    std::string opened = OpenedMonth(o, kase);
    const int64_t at = std::atoi((opened.empty() ? o.Today() : opened).substr(0, 4).c_str());
    if (year < 1900 || year > at) {
      return Coded(absl::InvalidArgumentError(absl::StrCat(
                       "year of birth ", year, " is not plausible for a case opened in ", at,
                       ": give a year from 1900 to ", at, ". Nothing was changed")),
                   Msg::kBirthYearImplausible, {{"min", "1900"}, {"max", absl::StrCat(at)}});
    }
    fields.emplace_back("age_band", Value::Text(AgeBand(at - year)));
    fields.emplace_back("is_child", Value::Int(at - year < 18 ? 1 : 0));
    if (col->name == "date_of_birth") fields.emplace_back("birth_year", Value::Int(year));
  }
  FS_RETURN_IF_ERROR(o.Commit(LocalTxn().Set(table, row, fields)));
  const std::string column(col->name);
  const bool dated = col->type == ColumnType::kDate && !value.is_null();
  return ChangedCaseField{o.Clear(kase, "cases", "case_code"), column, value.is_null(),
                          IsUrgentWrite(o.replica.schema(), table, column, value),
                          dated ? o.DateWarning() : "",
                          dated ? o.DateWarningMessage() : std::nullopt};
}

absl::StatusOr<CaseFile> ReadCaseFile(const Office& o, const std::string& case_ref,
                                      Access access) {
  FS_ASSIGN_OR_RETURN(RowId id, Resolve(o, "cases", case_ref, "case"));
  FS_ASSIGN_OR_RETURN(Row kase, o.MustGet("cases", id));
  FS_ASSIGN_OR_RETURN(std::optional<Row> person, PersonOf(o, kase));
  FS_ASSIGN_OR_RETURN(std::vector<Row> consents, RowsOfCase(o, "consents", id));
  FS_ASSIGN_OR_RETURN(std::vector<Row> referrals, RowsOfCase(o, "referrals", id));
  std::set<std::string> rows = {Bytes(id)};
  if (person) rows.insert(Bytes(person->id));
  for (const Row& r : consents) rows.insert(Bytes(r.id));
  for (const Row& r : referrals) rows.insert(Bytes(r.id));
  std::vector<std::pair<std::string, const Row*>> held = {{"cases", &kase}};
  if (person) held.emplace_back("persons", &*person);
  for (const Row& r : consents) held.emplace_back("consents", &r);
  for (const Row& r : referrals) held.emplace_back("referrals", &r);
  CaseFile file;
  FS_ASSIGN_OR_RETURN(file.history, History(o, rows, held));
  auto conflicts = o.replica.Conflicts(std::string("cases"), id);
  file.open_conflicts = conflicts.ok() ? conflicts->size() : 0;
  if (person) {
    auto pc = o.replica.Conflicts(std::string("persons"), person->id);
    if (pc.ok()) file.open_conflicts += pc->size();
  }
  std::vector<std::string> opened;
  file.id = id;
  file.code = o.Clear(kase, "cases", "case_code");
  file.urgent = o.Clear(kase, "cases", "urgency") == "urgent";
  file.kase = View(o, kase, "cases", &opened);
  if (person) file.person = View(o, *person, "persons", &opened);
  for (const Row& r : consents) file.consents.push_back(View(o, r, "consents", &opened));
  for (const Row& r : referrals) file.referrals.push_back(View(o, r, "referrals", &opened));
  file.locked = !o.keys.unlocked();
  // The access is recorded before anything is shown.
  FS_RETURN_IF_ERROR(o.AuditMany({{id, opened}}, std::string(AccessAction(access))));
  return file;
}

absl::StatusOr<std::vector<CaseLine>> ListCases(const Office& o, const CaseFilter& filter) {
  const TableDef& ct = o.Table("cases");
  if (!filter.status.empty() &&
      !ValidateValue(ct, *ct.FindColumn("status"), Value::Text(filter.status)).ok()) {
    return Coded(
        MalformedValue(absl::StrCat("unknown status \"", filter.status,
                                    "\": use intake, verifying, assisting, referred or closed")),
        Msg::kUnknownStatus);
  }
  if (!filter.urgency.empty() && filter.urgency != "normal" && filter.urgency != "urgent") {
    return Coded(MalformedValue(absl::StrCat("unknown urgency \"", filter.urgency,
                                             "\": use normal or urgent")),
                 Msg::kUnknownUrgency);
  }
  if (!filter.since.empty()) FS_RETURN_IF_ERROR(CheckDate(o, filter.since, "--since"));
  FS_ASSIGN_OR_RETURN(std::string officer_q, NormalizeInput(filter.officer, "--officer"));
  FS_ASSIGN_OR_RETURN(std::vector<RowId> ids, o.replica.ListRows("cases", false));
  std::vector<CaseLine> lines;
  std::map<std::string, int> held;  // how many listed-or-not cases hold each code
  for (const RowId& id : ids) {
    FS_ASSIGN_OR_RETURN(auto row, o.Get("cases", id));
    if (!row) continue;
    const Row& k = *row;
    ++held[o.Clear(k, "cases", "case_code")];
    int64_t updated = 0;
    for (const auto& v : k.versions) {
      if (v) updated = std::max<int64_t>(updated, static_cast<int64_t>(v->version.hlc.wall_millis()));
    }
    CaseLine l{o.Clear(k, "cases", "case_code"), o.Clear(k, "cases", "status"),
               o.Clear(k, "cases", "urgency"), o.Clear(k, "cases", "intake_channel"),
               o.Clear(k, "cases", "assigned_officer"), OpenedMonth(o, k),
               FormatTimeMillis(updated), o.Clear(k, "cases", "province"), id.ToString()};
    if (!filter.status.empty() && l.status != filter.status) continue;
    if (!filter.urgency.empty() && l.urgency != filter.urgency) continue;
    if (!officer_q.empty() && !MatchesFolded(FoldForSearch(l.officer), officer_q)) continue;
    if (!filter.since.empty() && l.updated.substr(0, 10) < filter.since) continue;
    lines.push_back(std::move(l));
  }
  // A code two cases hold (two laptops drew it offline): each shown with
  // the end of its id, which Resolve takes.
  for (CaseLine& l : lines) {
    if (held[l.code] > 1) {
      auto id = Id16::Parse(l.id, "case id");
      if (id.ok()) l.code = CaseCodeShown(l.code, *id);
    }
  }
  std::sort(lines.begin(), lines.end(), [](const CaseLine& a, const CaseLine& b) {
    if (a.urgency != b.urgency) return a.urgency == "urgent";
    return a.updated > b.updated;
  });
  return lines;
}

absl::StatusOr<CaseChanged> MarkUrgent(const Office& o, const std::string& case_ref) {
  FS_ASSIGN_OR_RETURN(RowId id, Resolve(o, "cases", case_ref, "case"));
  FS_ASSIGN_OR_RETURN(Row kase, o.MustGet("cases", id));
  FS_RETURN_IF_ERROR(o.Commit(LocalTxn().Set("cases", id, {{"urgency", Value::Text("urgent")}})));
  return CaseChanged{o.Clear(kase, "cases", "case_code"), 0, ""};
}

absl::StatusOr<CaseChanged> RecordCrimeReport(const Office& o, const std::string& case_ref) {
  FS_ASSIGN_OR_RETURN(RowId id, Resolve(o, "cases", case_ref, "case"));
  FS_ASSIGN_OR_RETURN(Row kase, o.MustGet("cases", id));
  const int64_t now = o.NowMillis();
  FS_RETURN_IF_ERROR(o.Commit(LocalTxn().Set(
      "cases", id, {{"crime_reported_at", Value::Int(now)}, {"urgency", Value::Text("urgent")}})));
  return CaseChanged{o.Clear(kase, "cases", "case_code"), now, ""};
}

absl::StatusOr<CaseChanged> CloseCase(const Office& o, const std::string& case_ref) {
  FS_ASSIGN_OR_RETURN(RowId id, Resolve(o, "cases", case_ref, "case"));
  FS_ASSIGN_OR_RETURN(Row kase, o.MustGet("cases", id));
  const std::string code = o.Clear(kase, "cases", "case_code");
  if (o.Clear(kase, "cases", "status") == "closed") {
    return Coded(Refused(absl::StrCat("case ", code, " is already closed")),
                 Msg::kCaseClosedAlready, {{"code", code}});
  }
  const std::string today = o.Today();
  FS_RETURN_IF_ERROR(o.Commit(LocalTxn().Set(
      "cases", id, {{"status", Value::Text("closed")}, {"closed_on", Value::Text(today)}})));
  return CaseChanged{code, 0, today};
}

absl::StatusOr<CaseDeletion> PlanCaseDeletion(const Office& o, const std::string& case_ref) {
  FS_ASSIGN_OR_RETURN(RowId id, Resolve(o, "cases", case_ref, "case"));
  FS_ASSIGN_OR_RETURN(Row kase, o.MustGet("cases", id));
  CaseDeletion plan;
  plan.case_id = id;
  plan.code = o.Clear(kase, "cases", "case_code");
  const std::string owner = o.Clear(kase, "cases", "province");
  if (owner != o.province) {
    return Coded(
        absl::PermissionDeniedError(absl::StrCat("case ", plan.code, " belongs to office ", owner,
                                                 "; only its office may delete it. "
                                                 "Nothing was changed")),
        Msg::kCaseOtherOffice, {{"code", plan.code}, {"office", owner}});
  }
  // Its consents and referrals go with it.
  for (const char* table : {"consents", "referrals"}) {
    FS_ASSIGN_OR_RETURN(std::vector<Row> rows, RowsOfCase(o, table, id));
    for (const Row& r : rows) plan.linked.emplace_back(table, r.id);
  }
  if (auto pid = IdOf(o.Stored(kase, "cases", "person_id"))) {
    FS_ASSIGN_OR_RETURN(plan.person_kept_for, o.keys.OtherLiveCasesOf(*pid, id));
    FS_ASSIGN_OR_RETURN(auto person, o.Get("persons", *pid));
    if (plan.person_kept_for == 0 && person && person->live) plan.person = *pid;
  }
  return plan;
}

absl::Status DeleteCase(const Office& o, const CaseDeletion& plan) {
  LocalTxn txn;
  txn.Delete("cases", plan.case_id);
  for (const auto& [table, id] : plan.linked) txn.Delete(table, id);
  if (plan.person) txn.Delete("persons", *plan.person);
  return o.Commit(txn);
}

}  // namespace fieldsync::node::ops
