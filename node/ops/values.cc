#include "node/ops/values.h"

#include <cstdlib>
#include <ctime>
#include <set>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "crypto/envelope.h"
#include "node/ops/messages.h"
#include "node/ops/office.h"
#include "text/text.h"
#include "schema/province_code.h"

namespace fieldsync::node::ops {

std::string ShowValue(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull: return "";
    case Value::Kind::kInt: return absl::StrCat(v.int_value());
    case Value::Kind::kText: return v.str();
    case Value::Kind::kBytes:
      if (v.str().size() == 16) return Id16::FromBytes(v.str(), "id")->ToString();
      return absl::StrCat("(", v.str().size(), " bytes)");
  }
  return "";
}

std::string TextOf(const Value& v) { return v.kind() == Value::Kind::kText ? v.str() : ""; }

std::optional<RowId> IdOf(const Value& v) {
  if (v.kind() != Value::Kind::kBytes || v.str().size() != 16) return std::nullopt;
  return *Id16::FromBytes(v.str(), "id");
}

Value IdValue(const RowId& id) { return Value::Bytes(std::string(id.view())); }

absl::Status CheckDate(const Office& o, const std::string& s, const std::string& what) {
  Value v = Value::Text(s);
  static const TableDef* t = FieldOfficeSchema().FindTable("cases");
  if (!ValidateValue(*t, *t->FindColumn("opened_on"), v).ok()) {
    return Coded(MalformedValue(absl::StrCat("bad date \"", s, "\" for ", what,
                                             ": write it as YYYY-MM-DD, e.g. ", o.Today())),
                 Msg::kValueBadDate, {{"field", what}, {"example", o.Today()}});
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> ParseColumnValue(const Office& o, const TableDef& t, const ColumnDef& c,
                                       const std::string& raw) {
  const std::string what = absl::StrCat(AV(t.name), ".", AV(c.name));
  if (raw.empty()) return Value::Null();
  // The console's words for a refusal (messages.h): the field, and the
  // value only if its column is clear (a sealed value is never repeated).
  const bool clear = c.sensitivity == Sensitivity::kClear;
  auto coded = [&what](absl::Status st, Msg m, MessageParams more = {}) {
    MessageParams p = {{"field", what}};
    p.insert(p.end(), more.begin(), more.end());
    return Coded(std::move(st), m, p);
  };
  auto not_allowed = [&](absl::Status st, const std::string& value) {
    const std::string allowed =
        absl::StrJoin(c.allowed, ",", [](std::string* out, std::string_view a) { out->append(a); });
    return clear ? coded(std::move(st), Msg::kValueNotAllowed,
                         {{"value", Printable(value)}, {"allowed", allowed}})
                 : coded(std::move(st), Msg::kValueNotAllowedSealed, {{"allowed", allowed}});
  };
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
        return not_allowed(
            MalformedValue(absl::StrCat(
                "\"", *given.begin(), "\" is not a value of ", what, ": choose from ",
                absl::StrJoin(c.allowed, ", ",
                              [](std::string* out, std::string_view a) { out->append(a); }))),
            *given.begin());
      }
      v = Value::Text(absl::StrJoin(ordered, ","));
      break;
    }
    case ColumnType::kInteger: {
      char* end = nullptr;
      const long long n = std::strtoll(text.c_str(), &end, 10);
      if (end == text.c_str() || *end != '\0') {
        return coded(
            MalformedValue(absl::StrCat(what, " wants a whole number, not \"", text, "\"")),
            Msg::kValueNotNumber);
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
        return coded(MalformedValue(absl::StrCat(what, " wants yes or no, not \"", text, "\"")),
                     Msg::kValueNotYesNo);
      }
      break;
    }
    case ColumnType::kTimestamp: {
      if (text == "now") {
        v = Value::Int(o.NowMillis());
        break;
      }
      // UTC; absl::ParseTime refuses a field out of range, a day past its
      // month's end included (strptime and timegm carried 02-30 into March).
      absl::Time at;
      bool read = false;
      for (const char* format : {"%Y-%m-%d", "%Y-%m-%dZ", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%MZ"}) {
        std::string error;
        if (absl::ParseTime(format, text, absl::UTCTimeZone(), &at, &error)) {
          read = true;
          break;
        }
      }
      if (!read) {
        return coded(MalformedValue(absl::StrCat("bad time \"", text, "\" for ", what,
                                                 ": write now, YYYY-MM-DD or YYYY-MM-DDTHH:MM")),
                     Msg::kValueBadTime);
      }
      v = Value::Int(absl::ToUnixMillis(at));
      break;
    }
    case ColumnType::kId: {
      absl::StatusOr<RowId> id = Id16::Parse(text, what);
      if (!id.ok()) {
        return coded(MalformedValue(std::string(id.status().message())), Msg::kValueBadId);
      }
      v = IdValue(*id);
      break;
    }
  }
  if (c.type == ColumnType::kDate) FS_RETURN_IF_ERROR(CheckDate(o, text, what));
  // A field that may be sealed holds what one envelope takes (64 KiB), a
  // clear one kMaxValueBytes: said here, before anything is written.
  const size_t max_bytes = c.sensitivity == Sensitivity::kClear ? tuning::kMaxValueBytes
                                                                : crypto::kMaxSealedValue;
  if (text.size() > max_bytes) {
    return coded(
        MalformedValue(absl::StrCat(
            what, " is too long: ", text.size(), " bytes, at most ", max_bytes,
            c.sensitivity == Sensitivity::kClear ? "" : " (a field that is sealed holds 64 KiB)")),
        Msg::kValueTooLong,
        {{"bytes", absl::StrCat(text.size())}, {"max", absl::StrCat(max_bytes)}});
  }
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
      // Province codes by the one rule the hub registers them by.
      const bool well_formed =
          name == "nationality"
              ? code.size() == 2 && code.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") ==
                                        std::string::npos
              : IsProvinceCode(code);
      if (!well_formed || (!province_list && codes.size() > 1)) {
        return coded(
            MalformedValue(absl::StrCat(
                "\"", text, "\" is not ",
                name == "nationality"
                    ? "a nationality: give the ISO 3166 two-letter code, e.g. VN, LA, CN"
                    : absl::StrCat(province_list ? "a list of province codes" : "a province code",
                                   " for ", what, ": give codes of 2 or 3 letters, e.g. LC",
                                   province_list ? ",HN" : ""))),
            name == "nationality" ? Msg::kValueNotNationality : Msg::kValueNotProvince);
      }
    }
    // A province is one this laptop knows of: its own office, or an
    // office of the hub's registry (enrolled laptops; no list of provinces
    // reaches a laptop otherwise). "ZZ" is refused, not stored.
    if (name != "nationality") {
      const std::set<std::string> known = KnownOffices(o);
      for (const std::string& code : codes) {
        if (known.count(code) > 0) continue;
        return coded(
            absl::NotFoundError(absl::StrCat(
                "\"", code, "\" is not a province this laptop knows (", what, "): it knows ",
                absl::StrJoin(known, ", "),
                ", the offices with a laptop enrolled at the hub as "
                "of the last sync. Check the code; for a province with no laptop enrolled yet, "
                "leave it out and set it once one is. Nothing was changed")),
            Msg::kValueUnknownProvince,
            {{"value", Printable(code)}, {"known", absl::StrJoin(known, ", ")}});
      }
    }
    v = Value::Text(absl::StrJoin(codes, ","));
  }
  // Dates that record what already happened cannot be in the future.
  const std::string today = o.LatestDate();
  if ((name == "listing_consent_on" || name == "verified_on" || name == "date_of_birth" ||
       name == "opened_on" || name == "closed_on") &&
      text > today) {
    return coded(
        MalformedValue(absl::StrCat(what, " ", text, " is in the future (today is ", today,
                                    name == "listing_consent_on"
                                        ? "): a person is listed only once they have consented"
                                        : ")")),
        Msg::kValueInFuture, {{"today", today}});
  }
  absl::Status s = ValidateValue(t, c, v);
  if (!s.ok()) {
    if (c.type == ColumnType::kEnum) {
      return not_allowed(
          MalformedValue(absl::StrCat(
              "\"", text, "\" is not a value of ", what, ": choose one of ",
              absl::StrJoin(c.allowed, ", ",
                            [](std::string* out, std::string_view a) { out->append(a); }))),
          text);
    }
    return coded(MalformedValue(std::string(s.message())), Msg::kValueRefused);
  }
  return v;
}

absl::Status ParseTypedColumns(const Office& o, const TableDef& t, const TypedColumns& typed,
                               LocalTxn::Fields* out) {
  for (const auto& [column, text] : typed) {
    const ColumnDef* col = t.FindColumn(column);
    if (col == nullptr) {
      return Coded(MalformedValue(absl::StrCat("no field \"", column, "\" in ", AV(t.name))),
                   Msg::kNoSuchField, {{"field", Printable(column)}});
    }
    FS_ASSIGN_OR_RETURN(Value v, ParseColumnValue(o, t, *col, text));
    out->emplace_back(column, std::move(v));
  }
  return absl::OkStatus();
}

absl::Status CheckRequired(std::string_view table, std::string_view column, const Value& v) {
  if (table != "persons" || column != "full_name") return absl::OkStatus();
  if (v.is_null() || (v.kind() == Value::Kind::kText && IsBlank(v.str()))) return NameRequired();
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

}  // namespace fieldsync::node::ops
