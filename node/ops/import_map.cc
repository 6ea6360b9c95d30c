#include "node/ops/import_map.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/strings.h"
#include "node/ops/messages.h"
#include "text/text.h"

namespace fieldsync::node::ops {
namespace {

// A header or a cell's words: folded (no diacritics, lower case), anything
// but letters and digits as one space, trimmed.
std::string Words(std::string_view s) {
  const std::string f = FoldForSearch(s);
  std::string out;
  for (char ch : f) {
    const bool word = absl::ascii_isalnum(static_cast<unsigned char>(ch)) ||
                      static_cast<unsigned char>(ch) >= 0x80;
    if (word) {
      out.push_back(ch);
    } else if (!out.empty() && out.back() != ' ') {
      out.push_back(' ');
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The default field of a header's words.
const std::map<std::string, std::string>& Defaults() {
  static const auto* m = [] {
    auto* d = new std::map<std::string, std::string>;
    auto add = [&](const char* field, std::initializer_list<const char*> words) {
      for (const char* w : words) (*d)[w] = field;
    };
    add("person.full_name", {"ho ten", "ho va ten", "ho ten nan nhan", "ten nan nhan",
                             "full name", "name", "ten"});
    add("person.other_names", {"ten khac", "ten goi khac", "bi danh", "other names", "alias"});
    add("person.date_of_birth", {"ngay sinh", "ngay thang nam sinh", "date of birth", "dob"});
    add("person.birth_year", {"nam sinh", "birth year", "year of birth"});
    add("person.sex", {"gioi tinh", "sex", "gender"});
    add("person.id_number", {"so cccd", "cccd", "cmnd", "so cmnd", "cmnd cccd", "so cmnd cccd",
                             "so giay to", "so dinh danh", "id number"});
    add("person.phones", {"dien thoai", "so dien thoai", "sdt", "phone", "phones"});
    add("person.home_address", {"que quan", "dia chi thuong tru", "thuong tru", "dia chi",
                                "home address", "address"});
    add("person.current_address", {"dia chi hien tai", "noi o hien tai", "cho o hien tai",
                                   "current address"});
    add("person.family_contacts", {"lien he gia dinh", "nguoi than", "family contacts",
                                   "family"});
    add("person.health_notes", {"suc khoe", "tinh trang suc khoe", "health notes", "health"});
    add("person.province_of_origin", {"tinh goc", "tinh que", "province of origin", "origin"});
    add("person.nationality", {"quoc tich", "nationality"});
    add("case.intake_channel", {"kenh tiep nhan", "hinh thuc tiep nhan", "intake channel",
                                "channel"});
    add("case.exploitation_types", {"hinh thuc boc lot", "loai boc lot", "exploitation types",
                                    "exploitation"});
    add("case.narrative", {"tom tat", "tom tat vu viec", "dien bien", "noi dung", "narrative"});
    add("case.interview_notes", {"ghi chu", "ghi chu phong van", "interview notes", "notes"});
    add("case.exact_places", {"dia diem", "noi xay ra", "exact places", "places"});
    add("case.perpetrator_details", {"doi tuong", "thong tin doi tuong", "perpetrator details",
                                     "perpetrators"});
    add("case.office", {"van phong", "office"});
    add("officer", {"can bo", "can bo phu trach", "can bo tiep nhan", "officer",
                    "assigned officer"});
    add("urgent", {"khan cap", "urgent", "muc do khan cap"});
    return d;
  }();
  return *m;
}

// A field named by the user: as in ImportFields, or a column's name alone.
std::string Canonical(std::string_view name) {
  const std::string n = absl::AsciiStrToLower(std::string(absl::StripAsciiWhitespace(AV(name))));
  for (const std::string& f : ImportFields()) {
    if (f == n) return f;
    const size_t dot = f.find('.');
    if (dot != std::string::npos && f.substr(dot + 1) == n) return f;
  }
  return "";
}

std::string Pad2(std::string_view s) { return s.size() == 1 ? absl::StrCat("0", AV(s)) : std::string(s); }

}  // namespace

const std::vector<std::string>& ImportFields() {
  static const auto* f = new std::vector<std::string>{
      "person.full_name", "person.other_names", "person.date_of_birth", "person.birth_year",
      "person.sex", "person.id_number", "person.phones", "person.home_address",
      "person.current_address", "person.family_contacts", "person.health_notes",
      "person.province_of_origin", "person.nationality", "case.intake_channel",
      "case.exploitation_types", "case.narrative", "case.interview_notes", "case.exact_places",
      "case.perpetrator_details", "case.office", "officer", "urgent"};
  return *f;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseImportMap(
    std::string_view flag) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view pair : absl::StrSplit(AV(flag), ',', absl::SkipWhitespace())) {
    const size_t eq = pair.rfind('=');
    if (eq == absl::string_view::npos) {
      return Coded(absl::InvalidArgumentError(
                       absl::StrCat("--map takes HEADER=FIELD pairs separated by commas, not \"",
                                    Printable(std::string(pair)), "\"")),
                   Msg::kImportMapSyntax, {{"pair", Printable(std::string(pair))}});
    }
    const std::string header(absl::StripAsciiWhitespace(pair.substr(0, eq)));
    if (header.empty()) {
      return Coded(absl::InvalidArgumentError(
                       absl::StrCat("--map takes HEADER=FIELD pairs separated by commas, not \"",
                                    Printable(std::string(pair)), "\"")),
                   Msg::kImportMapSyntax, {{"pair", Printable(std::string(pair))}});
    }
    const std::string field(absl::StripAsciiWhitespace(pair.substr(eq + 1)));
    const std::string canonical = field == "-" ? "-" : Canonical(field);
    if (canonical.empty()) {
      return Coded(absl::InvalidArgumentError(absl::StrCat(
                       "no field \"", Printable(field), "\" to import into; the fields are: ",
                       absl::StrJoin(ImportFields(), ", "), " (or - to leave a column out)")),
                   Msg::kImportNoSuchField, {{"field", Printable(field)}});
    }
    out.emplace_back(header, canonical);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> MapColumns(
    const std::vector<std::string>& headers,
    const std::vector<std::pair<std::string, std::string>>& user) {
  std::vector<std::string> out(headers.size());
  std::vector<bool> chosen(headers.size(), false);
  for (const auto& [header, field] : user) {
    bool found = false;
    for (size_t i = 0; i < headers.size(); ++i) {
      if (Words(headers[i]) != Words(header)) continue;
      out[i] = field == "-" ? "" : field;
      chosen[i] = found = true;
    }
    if (!found) {
      std::vector<std::string> shown;
      for (const std::string& h : headers) shown.push_back(Printable(h));
      return Coded(absl::InvalidArgumentError(absl::StrCat(
                       "no column \"", Printable(header),
                       "\" in the header; its columns are: ", absl::StrJoin(shown, ", "))),
                   Msg::kImportNoSuchColumn,
                   {{"column", Printable(header)}, {"columns", absl::StrJoin(shown, ", ")}});
    }
  }
  for (size_t i = 0; i < headers.size(); ++i) {
    if (chosen[i]) continue;
    const std::string w = Words(headers[i]);
    auto it = Defaults().find(w);
    if (it == Defaults().end()) {
      // "person.full_name" or "full_name" as a header.
      out[i] = Canonical(headers[i]);
    } else {
      out[i] = it->second;
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t j = i + 1; j < out.size(); ++j) {
      if (!out[i].empty() && out[i] == out[j]) {
        return Coded(absl::InvalidArgumentError(absl::StrCat(
                         "columns \"", Printable(headers[i]), "\" and \"", Printable(headers[j]),
                         "\" both fill ", out[i], ": leave one out (--map 'HEADER=-')")),
                     Msg::kImportSameField,
                     {{"column", Printable(headers[i])},
                      {"other", Printable(headers[j])},
                      {"field", out[i]}});
      }
    }
  }
  return out;
}

std::string CellForField(std::string_view field, std::string_view cell) {
  std::string v(absl::StripAsciiWhitespace(AV(cell)));
  if (field == "person.date_of_birth") {
    std::vector<std::string> parts = absl::StrSplit(v, absl::ByAnyChar("/-."));
    if (parts.size() == 3 && parts[2].size() == 4 && parts[0].size() <= 2 &&
        parts[1].size() <= 2 && !parts[0].empty() && !parts[1].empty()) {
      return absl::StrCat(parts[2], "-", Pad2(parts[1]), "-", Pad2(parts[0]));
    }
    return v;
  }
  static const auto* words = new std::map<std::string, std::map<std::string, std::string>>{
      {"person.sex",
       {{"nu", "female"}, {"f", "female"}, {"nam", "male"}, {"m", "male"}, {"khac", "other"},
        {"khong ro", "unknown"}, {"chua ro", "unknown"}}},
      {"case.intake_channel",
       {{"duong day nong", "hotline_call"}, {"tong dai", "hotline_call"},
        {"truc tiep", "walk_in"}, {"chuyen den", "referral_in"}, {"cong an", "police"}}},
      {"case.exploitation_types",
       {{"tinh duc", "sexual"}, {"boc lot tinh duc", "sexual"}, {"lao dong", "labour"},
        {"cuong buc lao dong", "labour"}, {"ket hon", "forced_marriage"},
        {"cuong ep ket hon", "forced_marriage"}, {"lay bo phan co the", "organ_removal"},
        {"ban tre em", "child_selling"}, {"mang thai ho", "surrogacy"}, {"khac", "other"}}},
  };
  auto table = words->find(std::string(field));
  if (table == words->end()) return v;
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(v, absl::ByAnyChar(",;"), absl::SkipWhitespace())) {
    auto it = table->second.find(Words(std::string(part)));
    out.push_back(it == table->second.end() ? std::string(absl::StripAsciiWhitespace(part))
                                            : it->second);
  }
  return absl::StrJoin(out, ",");
}

absl::StatusOr<bool> YesNoCell(std::string_view cell) {
  const std::string w = Words(cell);
  for (const char* yes : {"x", "co", "yes", "1", "true", "khan cap", "urgent", "khan"}) {
    if (w == yes) return true;
  }
  for (const char* no : {"", "khong", "no", "0", "false", "binh thuong", "normal"}) {
    if (w == no) return false;
  }
  return Coded(absl::InvalidArgumentError(absl::StrCat(
                   "urgent: \"", Printable(cell), "\" is not yes or no (có/không, x or empty)")),
               Msg::kImportNotYesNo, {{"field", "urgent"}, {"value", Printable(cell)}});
}

}  // namespace fieldsync::node::ops
