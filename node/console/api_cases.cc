// The routes of the Cases, Intake and Case file pages:
//   GET  /api/cases?status&urgency&officer&since&page  the list (no sealed field)
//   GET  /api/search?q=&page                             names, diacritics ignored, 20 a page
//   POST /api/intake {person:{col:text}, case:{col:text}, urgent, crime_report}
//   GET  /api/case?ref=CODE                              the file, sealed opened if unlocked
//   POST /api/setfield {ref, field, value}               one field ("" clears)
//   POST /api/close {ref}                                closed today
// Each over the node library's call of the fieldnode command (case list,
// search, new, crime-report, show, set, close), with its validation.
#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/numbers.h"
#include "base/message.h"
#include "node/console/api.h"
#include "node/ops/case_search.h"
#include "node/ops/cases.h"
#include "node/ops/messages.h"
#include "node/ops/values.h"
#include "schema/schema.h"
#include "store/keyring_messages.h"
#include "text/text.h"

namespace fieldsync::node::console {
namespace {

// A search's page past this is refused (its offset would not fit).
constexpr size_t kMaxSearchPage = 1'000'000;

// The intake form's field a refusal names, for an inline error: the
// field of its message ("persons.sex": the column; the page marks it if its
// form has it); a keyed refusal naming no field marks none (the page shows it
// above the form); only an unkeyed one, the last of the form's columns its
// English words mention. (Before, the words alone: a value holding another
// column's name, as "narrative" typed for the channel, marked that column.)
std::string FormField(const absl::Status& s, const ops::NewCase& nc) {
  if (std::optional<Message> m = MessageOf(s)) {
    for (const auto& [name, value] : m->params) {
      if (name != "field") continue;
      // The library's word, not the request's: a column the form may have
      // left empty (the name), which the page marks if it shows it.
      const size_t dot = value.find('.');
      const std::string table = dot == std::string::npos ? "" : value.substr(0, dot);
      const std::string column = value.substr(dot + 1);
      const bool word = !column.empty() && column.find_first_not_of(
                                               "abcdefghijklmnopqrstuvwxyz0123456789_") ==
                                               std::string::npos;
      if ((table != "persons" && table != "cases") || !word) return std::string();
      return column;
    }
    // A keyed refusal naming no field is the form's, not a field's: its
    // words may mention a column, or echo what was typed (attack 29 K1).
    return std::string();
  }
  std::string found;
  for (const ops::TypedColumns* cols : {&nc.person, &nc.kase}) {
    for (const auto& kv : *cols) {
      if (s.message().find(kv.first) != std::string_view::npos) found = kv.first;
    }
  }
  return found;
}

// A record's fields as the page shows them: a sealed field the keystore
// cannot open has a state and no value; one that is not only locked, the
// key of what became of it (no key yet, erased, another record's, failed:
// store/keyring_messages.h), never the key ring's English words.
Json RecordJson(const ops::RecordView& r) {
  Json fields = Json::array();
  for (const ops::FieldView& f : r.fields) {
    if (f.column == "person_id" || f.column == "case_id") continue;
    const OpenedField& v = f.field;
    Json one = {{"column", f.column}, {"type", std::string(ColumnTypeName(f.type))}};
    if (v.state == OpenedField::State::kClear || v.state == OpenedField::State::kOpened) {
      if (v.value.kind() == Value::Kind::kInt) {
        one["value"] = v.value.int_value();
      } else {
        one["value"] = ops::ShowValue(v.value);
      }
      if (f.linked) one["value"] = f.linked->second;
    } else {
      one["state"] = std::string(OpenedStateName(v.state));
      const std::string_view key = SealedFieldKey(v);
      if (!key.empty()) one["message"] = MessageJson(Message{std::string(key), {}});
    }
    fields.push_back(std::move(one));
  }
  return {{"id", r.id.ToString()}, {"fields", fields}};
}

// A line of the case file's history in parts (the page says them with its
// labels): the table, "created", "deleted" or "changed", the columns
// written, and whether it comes from a file received whole. This laptop's
// own lines say so (the page: "Máy này"), not its name or the library's
// "this laptop" before it is in its own registry.
Json HistoryJson(const ops::HistoryLine& h) {
  using Change = ops::HistoryLine::Change;
  return {{"millis", h.millis},
          {"who", h.this_laptop ? std::string() : h.who},
          {"this_laptop", h.this_laptop},
          {"table", h.table},
          {"change", h.change == Change::kCreated   ? "created"
                     : h.change == Change::kDeleted ? "deleted"
                                                    : "changed"},
          {"columns", h.columns},
          {"received_whole", h.received_whole}};
}

// The columns a form may send: text values, NFC, through the library's
// parsing (ops::ParseTypedColumns in OpenCase).
absl::StatusOr<ops::TypedColumns> Typed(const Json& obj, const char* what) {
  ops::TypedColumns out;
  if (obj.is_null()) return out;
  if (!obj.is_object()) return ops::MalformedValue(std::string(what) + " must be an object");
  for (const auto& [k, v] : obj.items()) {
    if (!v.is_string()) return ops::MalformedValue(k + " must be text");
    auto nfc = NormalizeInput(v.get<std::string>(), k);
    if (!nfc.ok()) return nfc.status();
    if (!nfc->empty()) out.emplace_back(k, *nfc);
  }
  return out;
}

}  // namespace

ApiReply Api::Cases(ConsoleOffice& o, const ApiRequest& r) {
  const bool locked = !o.keys->unlocked();
  ops::CaseFilter f{r.Param("status"), r.Param("urgency"), r.Param("officer"), r.Param("since")};
  auto nfc = NormalizeInput(f.officer, "the officer");
  if (!nfc.ok()) return ErrorReply(nfc.status(), locked);
  f.officer = *nfc;
  size_t page = 1;
  if (!r.Param("page").empty() && (!absl::SimpleAtoi(r.Param("page"), &page) || page == 0)) {
    return ErrorKey(400, "err.invalid", "page");
  }
  auto lines = ops::ListCases(*o.office, f);
  if (!lines.ok()) return ErrorReply(lines.status(), locked);
  ApiReply out;
  Json cases = Json::array();
  const size_t from = std::min(lines->size(), (page - 1) * kCasesPerPage);
  const size_t to = std::min(lines->size(), from + kCasesPerPage);
  for (size_t i = from; i < to; ++i) {
    const ops::CaseLine& l = (*lines)[i];
    cases.push_back({{"case_code", l.code}, {"id", l.id}, {"status", l.status},
                     {"urgency", l.urgency}, {"intake_channel", l.channel},
                     {"assigned_officer", l.officer}, {"opened_month", l.opened_month},
                     {"updated", l.updated}, {"province", l.province}});
  }
  out.body = {{"total", lines->size()}, {"page", page}, {"page_size", kCasesPerPage},
              {"cases", cases}};
  return out;
}

// Paged as the list is: a broad query ("nguyen") opens, shows and records
// in the access log one page of cases, not thousands (ops::SearchCasesPage).
ApiReply Api::Search(ConsoleOffice& o, const ApiRequest& r) {
  const bool locked = !o.keys->unlocked();
  auto q = NormalizeInput(r.Param("q"), "the search text");
  if (!q.ok()) return ErrorReply(q.status(), locked);
  if (FoldForSearch(*q).find_first_not_of(' ') == std::string::npos) {
    return ErrorReply(ops::Coded(absl::InvalidArgumentError("the search needs some text to look for"),
                                 ops::Msg::kSearchNeedsText),
                      locked);
  }
  size_t page = 1;
  if (!r.Param("page").empty() && (!absl::SimpleAtoi(r.Param("page"), &page) || page == 0 ||
                                   page > kMaxSearchPage)) {
    return ErrorKey(400, "err.invalid", "page");
  }
  auto found = ops::SearchCasesPage(*o.office, *q, (page - 1) * kCasesPerPage, kCasesPerPage);
  if (!found.ok()) return ErrorReply(found.status(), locked);
  ApiReply out;
  Json list = Json::array();
  for (const ops::CaseHit& h : found->hits) {
    list.push_back({{"case_code", h.code}, {"id", h.id.ToString()}, {"full_name", h.full_name},
                    {"matched", h.matched}, {"status", h.status}});
  }
  out.body = {{"total", found->total}, {"page", page}, {"page_size", kCasesPerPage},
              {"hits", list}};
  return out;
}

ApiReply Api::Intake(ConsoleOffice& o, const ApiRequest& r) {
  const bool locked = !o.keys->unlocked();
  Json in = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded() || !in.is_object()) return ErrorKey(400, "err.invalid", "not JSON");
  ops::NewCase nc;
  auto person = Typed(in.value("person", Json()), "person");
  if (!person.ok()) return ErrorReply(person.status(), locked);
  auto kase = Typed(in.value("case", Json()), "case");
  if (!kase.ok()) return ErrorReply(kase.status(), locked);
  nc.person = *person;
  nc.kase = *kase;
  // Flags are JSON booleans, never guessed from "yes" or 1.
  auto urgent = FlagOf(in, "urgent");
  auto crime_flag = FlagOf(in, "crime_report");
  if (!urgent.ok() || !crime_flag.ok()) {
    ApiReply e = ErrorReply(urgent.ok() ? crime_flag.status() : urgent.status(), locked);
    e.body["field"] = urgent.ok() ? "crime_report" : "urgent";
    return e;
  }
  nc.urgent = *urgent;
  const bool crime = *crime_flag;
  auto opened = ops::OpenCase(*o.office, nc);
  if (!opened.ok()) {
    ApiReply e = ops::IsNameRequired(opened.status())
                     ? ErrorKey(400, "err.name_required", opened.status())
                     : ErrorReply(opened.status(), locked);
    const std::string field = FormField(opened.status(), nc);
    if (!field.empty()) e.body["field"] = field;
    return e;
  }
  ApiReply out;
  out.body = {{"case_code", opened->code}, {"case_id", opened->case_id.ToString()},
              {"urgent", opened->urgent}};
  if (!opened->date_warning.empty()) out.body["warning"] = opened->date_warning;
  if (opened->date_warning_message) {
    out.body["warning_message"] = MessageJson(*opened->date_warning_message);
  }
  if (crime) {
    // As `fieldnode case crime-report`: its own commit, after the case.
    auto reported = ops::RecordCrimeReport(*o.office, opened->code);
    if (!reported.ok()) {
      out.body["warning"] = std::string(reported.status().message());
      out.body["warning_message"] = MessageJson(reported.status());
    } else {
      out.body["crime_reported_at"] = reported->at_millis;
    }
  }
  return out;
}

ApiReply Api::CaseFile(ConsoleOffice& o, const ApiRequest& r) {
  const bool locked = !o.keys->unlocked();
  if (r.Param("ref").empty()) return ErrorKey(400, "err.invalid", "ref");
  auto file = ops::ReadCaseFile(*o.office, r.Param("ref"), ops::Access::kShow);
  if (!file.ok()) return ErrorReply(file.status(), locked);
  ApiReply out;
  Json consents = Json::array(), referrals = Json::array(), history = Json::array();
  for (const auto& c : file->consents) consents.push_back(RecordJson(c));
  for (const auto& c : file->referrals) referrals.push_back(RecordJson(c));
  for (const ops::HistoryLine& h : file->history) {
    history.push_back(HistoryJson(h));
  }
  out.body = {{"id", file->id.ToString()},
              {"code", file->code},
              {"urgent", file->urgent},
              {"locked", file->locked},
              {"case", RecordJson(file->kase)},
              {"person", file->person ? RecordJson(*file->person) : Json(nullptr)},
              {"consents", consents},
              {"referrals", referrals},
              {"history", history},
              {"open_conflicts", file->open_conflicts}};
  // The values each enum field and enum set takes, for the page's edit
  // form (a list to choose from, boxes to tick for a set: never a word to
  // guess); and every field the form offers, with its type, set or not (the
  // records above hold only the fields with a value: an empty date of birth
  // or exploitation types could not be chosen). Links (ids) and the clear
  // copies the replica derives are not offered.
  Json choices = Json::object();
  Json editable = Json::array();
  for (const char* table : {"cases", "persons"}) {
    for (const ColumnDef& c : o.office->Table(table).columns) {
      if (c.type == ColumnType::kId || !c.derived_from.empty()) continue;
      editable.push_back(
          {{"field", std::string(table == std::string_view("cases") ? "case." : "person.") +
                         std::string(c.name)},
           {"type", std::string(ColumnTypeName(c.type))}});
      if (c.type != ColumnType::kEnum && c.type != ColumnType::kEnumSet) continue;
      Json values = Json::array();
      for (std::string_view v : c.allowed) values.push_back(std::string(v));
      choices[std::string(c.name)] = values;
    }
  }
  out.body["editable"] = editable;
  out.body["choices"] = choices;
  return out;
}

ApiReply Api::SetField(ConsoleOffice& o, const ApiRequest& r) {
  const bool locked = !o.keys->unlocked();
  Json in = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded() || !in.is_object() || !in["ref"].is_string() ||
      !in["field"].is_string() || !in["value"].is_string()) {
    return ErrorKey(400, "err.invalid", "ref, field and value (text) are needed");
  }
  auto value = NormalizeInput(in["value"].get<std::string>(), "the value");
  if (!value.ok()) return ErrorReply(value.status(), locked);
  auto changed = ops::SetCaseField(
      *o.office, {in["ref"].get<std::string>(), in["field"].get<std::string>(), *value});
  if (!changed.ok()) {
    if (ops::IsNameRequired(changed.status())) {
      ApiReply e = ErrorKey(400, "err.name_required", changed.status());
      e.body["field"] = "person.full_name";
      return e;
    }
    return ErrorReply(changed.status(), locked);
  }
  ApiReply out;
  out.body = {{"case_code", changed->code}, {"column", changed->column},
              {"cleared", changed->cleared}, {"urgent", changed->urgent}};
  if (!changed->date_warning.empty()) out.body["warning"] = changed->date_warning;
  if (changed->date_warning_message) {
    out.body["warning_message"] = MessageJson(*changed->date_warning_message);
  }
  return out;
}

ApiReply Api::Close(ConsoleOffice& o, const ApiRequest& r) {
  const bool locked = !o.keys->unlocked();
  Json in = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded() || !in.is_object() || !in["ref"].is_string()) {
    return ErrorKey(400, "err.invalid", "ref");
  }
  auto done = ops::CloseCase(*o.office, in["ref"].get<std::string>());
  if (!done.ok()) return ErrorReply(done.status(), locked);
  ApiReply out;
  out.body = {{"case_code", done->code}, {"closed_on", done->on}};
  return out;
}

}  // namespace fieldsync::node::console
