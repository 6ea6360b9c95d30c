#include "schema/schema.h"

#include <algorithm>
#include <cctype>

#include "crypto/envelope.h"

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "base/strings.h"
#include "absl/strings/str_join.h"
#include "base/tuning.h"
#include "base/utf8.h"

namespace fieldsync {

int TableDef::ColumnIndex(std::string_view column) const {
  // A table has a few dozen columns at most: a scan comparing lengths first
  // beats hashing the name.
  for (size_t i = 0; i < columns.size(); ++i) {
    const std::string_view name = columns[i].name;
    if (name.size() == column.size() && name == column) return static_cast<int>(i);
  }
  return -1;
}

const ColumnDef* TableDef::FindColumn(std::string_view column) const {
  const int i = ColumnIndex(column);
  return i < 0 ? nullptr : &columns[static_cast<size_t>(i)];
}

Schema::Schema(int version, std::vector<TableDef> tables)
    : version_(version), tables_(std::move(tables)) {
  for (size_t t = 0; t < tables_.size(); ++t) {
    table_index_[tables_[t].name] = static_cast<int>(t);
  }
}

int Schema::TableIndex(std::string_view table) const {
  auto it = table_index_.find(table);
  return it == table_index_.end() ? -1 : it->second;
}

const TableDef* Schema::FindTable(std::string_view table) const {
  const int i = TableIndex(table);
  return i < 0 ? nullptr : &tables_[static_cast<size_t>(i)];
}

int Schema::VersionToTake(std::string_view table, std::string_view column,
                          const Value& value) const {
  const TableDef* t = FindTable(table);
  const ColumnDef* c = t == nullptr ? nullptr : t->FindColumn(column);
  if (c == nullptr) return 0;  // not this schema's: the implicit _live, or refused elsewhere
  int v = c->since_version;
  if (c->sealed_since > 0 && c->type != ColumnType::kId &&
      value.kind() == Value::Kind::kBytes) {
    v = std::max(v, c->sealed_since);
  }
  return v;
}

std::string_view ColumnTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kText: return "text";
    case ColumnType::kInteger: return "integer";
    case ColumnType::kBool: return "bool";
    case ColumnType::kId: return "id";
    case ColumnType::kDate: return "date";
    case ColumnType::kTimestamp: return "timestamp";
    case ColumnType::kEnum: return "enum";
    case ColumnType::kEnumSet: return "enum set";
  }
  return "?";
}

std::string_view SensitivityName(Sensitivity s) {
  switch (s) {
    case Sensitivity::kClear: return "clear";
    case Sensitivity::kSensitive: return "sensitive";
    case Sensitivity::kSensitiveWhenRestricted: return "sensitive when restricted";
  }
  return "?";
}

namespace {

bool IsDigits(std::string_view s) {
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

bool IsValidDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  if (!IsDigits(s.substr(0, 4)) || !IsDigits(s.substr(5, 2)) || !IsDigits(s.substr(8, 2))) {
    return false;
  }
  const int y = std::stoi(std::string(s.substr(0, 4)));
  const int m = std::stoi(std::string(s.substr(5, 2)));
  const int d = std::stoi(std::string(s.substr(8, 2)));
  // A day that does not exist is normalised into another by CivilDay
  // (2026-02-30 is 2026-03-02): what does not come back as written is not
  // a date.
  const absl::CivilDay day(y, m, d);
  return day.year() == y && day.month() == m && day.day() == d;
}

std::string JoinAllowed(const ColumnDef& c) {
  std::string out;
  for (std::string_view a : c.allowed) absl::StrAppend(&out, out.empty() ? "" : ", ", AV(a));
  return out;
}

std::string Where(const TableDef& t, const ColumnDef& c) {
  return absl::StrCat(AV(t.name), ".", AV(c.name));
}

absl::Status WrongKind(const TableDef& t, const ColumnDef& c, const Value& v,
                       Value::Kind want) {
  return absl::InvalidArgumentError(absl::StrCat(
      "wrong type for ", Where(t, c), ": the column is ", AV(ColumnTypeName(c.type)),
      " and takes a ", AV(Value::KindName(want)), " value, got ", AV(Value::KindName(v.kind())),
      // A value of a sensitive column is never repeated: messages end up in
      // logs, the hub's among them.
      c.sensitivity == Sensitivity::kClear ? absl::StrCat(" ", v.DebugString())
                                           : std::string(" (value not shown: sensitive)")));
}

}  // namespace

Value CoarseValue(const ColumnDef& derived, const Value& source) {
  switch (derived.coarsen) {
    case Coarsen::kMonth:
      if (source.kind() == Value::Kind::kText && source.str().size() >= 7) {
        return Value::Text(source.str().substr(0, 7));
      }
      return Value::Null();
    case Coarsen::kHour:
      if (source.kind() == Value::Kind::kInt && source.int_value() >= 0) {
        constexpr int64_t kHourMillis = 3'600'000;
        return Value::Int(source.int_value() - source.int_value() % kHourMillis);
      }
      return Value::Null();
    case Coarsen::kNone:
      break;
  }
  return Value::Null();
}

absl::Status ValidateLiveValue(const TableDef& table, const Value& value) {
  if (value.kind() == Value::Kind::kInt && (value.int_value() == 0 || value.int_value() == 1)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "wrong value for ", AV(table.name), "._live: the liveness register takes 0 or 1, got ",
      AV(Value::KindName(value.kind())), " ", value.DebugString()));
}

absl::Status ValidateValue(const TableDef& table, const ColumnDef& column, const Value& value) {
  if (value.is_null()) return absl::OkStatus();
  // A sensitive column may hold a sealed envelope (bytes) instead of its
  // clear type; its structure is checked here, its content only where the
  // key is (crypto/envelope.h). No part of the value goes into the message.
  if (column.sensitivity != Sensitivity::kClear && value.kind() == Value::Kind::kBytes &&
      crypto::LooksSealed(value.str())) {
    absl::StatusOr<crypto::EnvelopeHeader> h = crypto::ParseEnvelope(value.str());
    if (!h.ok()) {
      return absl::Status(h.status().code(), absl::StrCat(Where(table, column), ": ",
                                                          h.status().message()));
    }
    return absl::OkStatus();
  }
  switch (column.type) {
    case ColumnType::kInteger:
    case ColumnType::kTimestamp:
      if (value.kind() != Value::Kind::kInt) return WrongKind(table, column, value, Value::Kind::kInt);
      if (column.type == ColumnType::kTimestamp && value.int_value() < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "bad timestamp for ", Where(table, column), ": ", value.int_value(),
            " is before 1970; timestamps are milliseconds since the Unix epoch"));
      }
      return absl::OkStatus();
    case ColumnType::kBool:
      if (value.kind() != Value::Kind::kInt) return WrongKind(table, column, value, Value::Kind::kInt);
      if (value.int_value() != 0 && value.int_value() != 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "bad value for ", Where(table, column), ": a bool is 0 or 1, got ", value.int_value()));
      }
      return absl::OkStatus();
    case ColumnType::kId:
      if (value.kind() != Value::Kind::kBytes) return WrongKind(table, column, value, Value::Kind::kBytes);
      if (value.str().size() != 16) {
        return absl::InvalidArgumentError(absl::StrCat(
            "malformed id in ", Where(table, column), ": an id is 16 bytes, got ",
            value.str().size()));
      }
      return absl::OkStatus();
    case ColumnType::kText:
    case ColumnType::kDate:
    case ColumnType::kEnum:
    case ColumnType::kEnumSet:
      break;
  }
  if (value.kind() != Value::Kind::kText) return WrongKind(table, column, value, Value::Kind::kText);
  const std::string& s = value.str();
  if (s.size() > tuning::kMaxValueBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "value too long for ", Where(table, column), ": ", s.size(), " bytes, the limit is ",
        tuning::kMaxValueBytes));
  }
  size_t bad = 0;
  if (!IsValidUtf8(s, &bad)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid UTF-8 in ", Where(table, column), " at byte ", bad,
        "; text must be UTF-8"));
  }
  if (column.type == ColumnType::kDate && !IsValidDate(s)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad date for ", Where(table, column), ": ", value.DebugString(),
        " is not a calendar date of the form YYYY-MM-DD"));
  }
  if (column.type == ColumnType::kEnum || column.type == ColumnType::kEnumSet) {
    // An enum is one allowed value; an enum set is allowed values separated by
    // ',' in declaration order, each at most once.
    const std::string_view all(s);
    size_t last_pos = 0;
    bool first = true;
    size_t start = 0;
    while (true) {
      size_t end = column.type == ColumnType::kEnum ? std::string_view::npos : all.find(',', start);
      const std::string_view item =
          all.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
      size_t pos = column.allowed.size();
      for (size_t i = 0; i < column.allowed.size(); ++i) {
        if (column.allowed[i] == item) pos = i;
      }
      if (pos == column.allowed.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "bad value for ", Where(table, column), ": \"", AV(item), "\" is not one of ",
            JoinAllowed(column)));
      }
      if (!first && pos <= last_pos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "bad value for ", Where(table, column), ": ", value.DebugString(),
            " must list each of ", JoinAllowed(column), " at most once, in that order"));
      }
      first = false;
      last_pos = pos;
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
  }
  return absl::OkStatus();
}

}  // namespace fieldsync
