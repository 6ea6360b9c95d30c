// fieldnode case: new, set, show, list, search, urgent, crime-report, close,
// delete (node/help/case.txt), over node/ops/cases.h.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/strings.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/ops/cases.h"
#include "node/ops/values.h"
#include "text/text.h"

namespace fieldsync::node {
namespace {

using ops::Office;
using ops::State;

// The flags given among `flag_to_column`, as text for their columns.
ops::TypedColumns Typed(const Args& args,
                        const std::vector<std::pair<std::string, std::string>>& flag_to_column) {
  ops::TypedColumns out;
  for (const auto& [flag, column] : flag_to_column) {
    if (args.flags.count(flag) > 0) out.emplace_back(column, args.Flag(flag));
  }
  return out;
}

int New(OfficeContext& c) {
  if (c.Words() != 2) return Usage("case new takes no operands, only flags");
  if (c.args.Flag("name").empty()) {
    return Usage("case new needs --name NAME (the victim's full name; it is sealed)");
  }
  ops::NewCase in;
  in.person = Typed(c.args, {{"name", "full_name"}, {"other-names", "other_names"},
                             {"dob", "date_of_birth"}, {"id-number", "id_number"},
                             {"phones", "phones"}, {"address", "current_address"},
                             {"home-address", "home_address"}, {"family", "family_contacts"},
                             {"health", "health_notes"}, {"sex", "sex"},
                             {"birth-year", "birth_year"}, {"origin", "province_of_origin"},
                             {"nationality", "nationality"}});
  in.kase = Typed(c.args, {{"channel", "intake_channel"}, {"narrative", "narrative"},
                           {"notes", "interview_notes"}, {"places", "exact_places"},
                           {"perpetrators", "perpetrator_details"},
                           {"exploitation", "exploitation_types"}, {"office", "office"}});
  if (c.args.flags.count("officer") > 0) in.officer = c.args.Flag("officer");
  in.urgent = c.args.Has("urgent");
  auto opened = ops::OpenCase(c.office, in);
  if (!opened.ok()) return Failed(opened.status());
  if (c.json) {
    Json out{{"case_code", opened->code},
             {"case_id", opened->case_id.ToString()},
             {"person_id", opened->person_id.ToString()},
             {"urgent", opened->urgent}};
    if (!opened->date_warning.empty()) out["warning"] = opened->date_warning;
    Print(JsonLine(out));
  } else {
    Print(absl::StrCat("opened case ", opened->code, " (id ", opened->case_id.ToString(), ")",
                       opened->urgent ? ", URGENT: it is pushed first at the next sync" : "",
                       "\nSealed on this laptop: the victim's identity and the narrative. It "
                       "reaches the hub at the next sync (fieldnode sync).\n",
                       opened->date_warning.empty()
                           ? ""
                           : absl::StrCat("warning: ", opened->date_warning, "\n")));
  }
  return 0;
}

int Set(OfficeContext& c) {
  if (c.Words() != 5) {
    return Usage("case set needs CASE FIELD VALUE, e.g. fieldnode case set LC-2611-K3QX7 "
                 "status verifying");
  }
  auto changed = ops::SetCaseField(
      c.office, {c.args.positional[2], c.args.positional[3], c.args.positional[4]});
  if (!changed.ok()) return Failed(changed.status());
  Print(absl::StrCat("case ", changed->code, ": ", changed->column,
                     changed->cleared ? " cleared" : " set",
                     changed->urgent ? " (urgent: pushed first at the next sync)" : "", "\n",
                     changed->date_warning.empty()
                         ? ""
                         : absl::StrCat("warning: ", changed->date_warning, "\n")));
  return 0;
}

Json RecordJson(const ops::RecordView& r) {
  Json out = {{"id", r.id.ToString()}};
  for (const ops::FieldView& f : r.fields) {
    const OpenedField& v = f.field;
    if (v.state == State::kClear || v.state == State::kOpened) {
      if (v.value.kind() == Value::Kind::kInt) {
        out[f.column] = v.value.int_value();
      } else {
        out[f.column] = ops::ShowValue(v.value);
      }
    } else {
      out[f.column] = {{"state", std::string(OpenedStateName(v.state))}, {"problem", v.problem}};
    }
  }
  return out;
}

std::string RecordText(const ops::RecordView& r, const std::string& indent, bool* masked) {
  std::string out;
  for (const ops::FieldView& f : r.fields) {
    if (f.column == "person_id" || f.column == "case_id") continue;
    if (f.field.state == State::kLocked) *masked = true;
    std::string shown = Office::Shown(f.field);
    if (f.type == ColumnType::kTimestamp && f.field.value.kind() == Value::Kind::kInt) {
      shown = FormatTimeMillis(f.field.value.int_value());
    }
    if (f.linked) shown = absl::StrCat(f.linked->second, "  (", f.linked->first.ToString(), ")");
    absl::StrAppend(&out, indent, PadTo(f.column, 20), " ", shown, "\n");
  }
  return out;
}

int Show(OfficeContext& c) {
  if (c.Words() != 3) return Usage("case show needs CASE (its code or id)");
  auto file = ops::ReadCaseFile(c.office, c.args.positional[2],
                                c.json ? ops::Access::kExport : ops::Access::kShow);
  if (!file.ok()) return Failed(file.status());
  if (c.json) {
    Json doc = {{"case", RecordJson(file->kase)},
                {"person", file->person ? RecordJson(*file->person) : Json(nullptr)}};
    doc["consents"] = Json::array();
    for (const auto& r : file->consents) doc["consents"].push_back(RecordJson(r));
    doc["referrals"] = Json::array();
    for (const auto& r : file->referrals) doc["referrals"].push_back(RecordJson(r));
    doc["history"] = Json::array();
    for (const ops::HistoryLine& h : file->history) {
      doc["history"].push_back(
          {{"at", FormatTimeMillis(h.millis)}, {"by", h.who}, {"what", h.what}});
    }
    doc["open_conflicts"] = file->open_conflicts;
    doc["locked"] = file->locked;
    Print(JsonLine(doc));
    return 0;
  }
  bool masked = false;
  std::string out = absl::StrCat("Case ", file->code, "  (id ", file->id.ToString(), ")",
                                 file->urgent ? "  [URGENT]" : "", "\n",
                                 RecordText(file->kase, "  ", &masked));
  absl::StrAppend(&out, "\nPerson\n");
  if (file->person) {
    absl::StrAppend(&out, RecordText(*file->person, "  ", &masked));
  } else {
    absl::StrAppend(&out, "  (none recorded)\n");
  }
  absl::StrAppend(&out, "\nConsents (", file->consents.size(), ")\n");
  for (const auto& r : file->consents) {
    absl::StrAppend(&out, "  - ", r.id.ToString(), "\n", RecordText(r, "      ", &masked));
  }
  absl::StrAppend(&out, "\nReferrals (", file->referrals.size(), ")\n");
  for (const auto& r : file->referrals) {
    absl::StrAppend(&out, "  - ", r.id.ToString(), "\n", RecordText(r, "      ", &masked));
  }
  absl::StrAppend(&out, "\nHistory of changes\n");
  for (const ops::HistoryLine& h : file->history) {
    absl::StrAppend(&out, "  ", FormatTimeMillis(h.millis), "  ", PadTo(h.who, 24), "  ", h.what,
                    "\n");
  }
  if (file->open_conflicts > 0) {
    absl::StrAppend(&out, "\n", file->open_conflicts, " field(s) of this file were changed on "
                    "two devices at once: fieldnode conflict list\n");
  }
  if (masked) {
    absl::StrAppend(&out, "\nSealed fields are masked: the keystore is locked. ", UnlockHint(),
                    ".\n");
  }
  Print(out);
  return 0;
}

int List(OfficeContext& c) {
  if (c.Words() != 2) return Usage("case list takes no operands, only filters");
  auto lines = ops::ListCases(c.office, {c.args.Flag("status"), c.args.Flag("urgency"),
                                         c.args.Flag("officer"), c.args.Flag("since")});
  if (!lines.ok()) return Failed(lines.status());
  if (c.json) {
    Json out = Json::array();
    for (const ops::CaseLine& l : *lines) {
      out.push_back({{"case_code", l.code}, {"id", l.id}, {"status", l.status},
                     {"urgency", l.urgency}, {"intake_channel", l.channel},
                     {"assigned_officer", l.officer}, {"opened_month", l.opened_month},
                     {"updated", l.updated}, {"province", l.province}});
    }
    Print(JsonLine(out));
    return 0;
  }
  if (lines->empty()) {
    Print("no cases match\n");
    return 0;
  }
  Print(absl::StrCat(PadTo("CASE", 15), " ", PadTo("STATUS", 10), " ", PadTo("URGENCY", 8), " ",
                     PadTo("CHANNEL", 13), " ", PadTo("OFFICER", 18), " ", PadTo("OPENED", 10),
                     " ", PadTo("UPDATED", 20), " OFFICE\n"));
  for (const ops::CaseLine& l : *lines) {
    Print(absl::StrCat(PadTo(l.code, 15), " ", PadTo(l.status, 10), " ", PadTo(l.urgency, 8), " ",
                       PadTo(l.channel, 13), " ", PadTo(l.officer, 18), " ",
                       PadTo(l.opened_month, 10), " ", PadTo(l.updated, 20), " ", l.province,
                       "\n"));
  }
  Print(absl::StrCat(lines->size(), " case(s)\n"));
  return 0;
}

int Search(OfficeContext& c) {
  if (c.Words() != 3) {
    return Usage("case search needs the TEXT to look for, e.g. fieldnode case search \"nguyen "
                 "thi hang\"");
  }
  auto query = NormalizeInput(c.args.positional[2], "the search text");
  if (!query.ok()) return Failed(query.status());
  if (FoldForSearch(*query).find_first_not_of(' ') == std::string::npos) {
    return Usage("case search needs some text to look for");
  }
  auto hits = ops::SearchCases(c.office, *query);
  if (!hits.ok()) return Failed(hits.status());
  if (c.json) {
    Json out = Json::array();
    for (const ops::CaseHit& h : *hits) {
      out.push_back({{"case_code", h.code}, {"id", h.id.ToString()}, {"full_name", h.full_name},
                     {"matched", h.matched}, {"status", h.status}});
    }
    Print(JsonLine(out));
    return 0;
  }
  if (hits->empty()) {
    Print(absl::StrCat("no case matches \"", *query, "\"\n"));
    return 0;
  }
  for (const ops::CaseHit& h : *hits) {
    Print(absl::StrCat(PadTo(h.code, 15), " ", PadTo(h.full_name, 28), " ", PadTo(h.status, 10),
                       " matched in ", h.matched, "\n"));
  }
  Print(absl::StrCat(hits->size(), " case(s)\n"));
  return 0;
}

int Urgent(OfficeContext& c, const std::string& ref) {
  auto done = ops::MarkUrgent(c.office, ref);
  if (!done.ok()) return Failed(done.status());
  Print(absl::StrCat("case ", done->code, " marked URGENT: it is pushed before anything else at "
                     "the next sync, and a running daemon syncs at once\n"));
  return 0;
}

int CrimeReport(OfficeContext& c, const std::string& ref) {
  auto done = ops::RecordCrimeReport(c.office, ref);
  if (!done.ok()) return Failed(done.status());
  Print(absl::StrCat("case ", done->code, ": crime report recorded at ",
                     FormatTimeMillis(done->at_millis),
                     "; urgent: pushed first, a running daemon syncs at once\n"));
  return 0;
}

int Close(OfficeContext& c, const std::string& ref) {
  auto done = ops::CloseCase(c.office, ref);
  if (!done.ok()) return Failed(done.status());
  Print(absl::StrCat("case ", done->code, " closed on ", done->on, "\n"));
  return 0;
}

int Delete(OfficeContext& c, const std::string& ref) {
  auto plan = ops::PlanCaseDeletion(c.office, ref);
  if (!plan.ok()) return Failed(plan.status());
  if (!c.args.Has("yes")) {
    return Usage(absl::StrCat("case delete removes case ", plan->code, " here and, once synced, "
                              "on every node: add --yes to confirm"));
  }
  absl::Status s = ops::DeleteCase(c.office, *plan);
  if (!s.ok()) return Failed(s);
  std::string said = absl::StrCat("case ", plan->code, " deleted");
  if (!plan->linked.empty()) {
    absl::StrAppend(&said, ", with its ", plan->linked.size(), " consent(s) and referral(s)");
  }
  if (plan->person) {
    absl::StrAppend(&said, " with its person");
  } else if (plan->person_kept_for > 0) {
    absl::StrAppend(&said, " (its person is kept: ", plan->person_kept_for,
                    " other case(s) name them)");
  }
  Print(absl::StrCat(said, "; the deletion reaches the hub at the next sync\n"));
  return 0;
}

}  // namespace

int RunCaseCommand(OfficeContext& c) {
  const std::string sub = c.Sub();
  if (sub == "new") return New(c);
  if (sub == "set") return Set(c);
  if (sub == "show") return Show(c);
  if (sub == "list") return List(c);
  if (sub == "search") return Search(c);
  if (sub == "urgent" || sub == "crime-report" || sub == "close" || sub == "delete") {
    if (c.Words() != 3) return Usage(absl::StrCat("case ", sub, " needs CASE (its code or id)"));
    const std::string& ref = c.args.positional[2];
    if (sub == "urgent") return Urgent(c, ref);
    if (sub == "crime-report") return CrimeReport(c, ref);
    if (sub == "close") return Close(c, ref);
    return Delete(c, ref);
  }
  return Usage(sub.empty() ? "case needs a subcommand: new, set, show, list, search, urgent, "
                             "crime-report, close or delete"
                           : absl::StrCat("unknown case subcommand \"", sub, "\""));
}

}  // namespace fieldsync::node
