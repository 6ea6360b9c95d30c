#include "store/row_state.h"

#include "absl/strings/str_cat.h"
#include "base/tuning.h"
#include "crypto/bytes.h"

namespace fieldsync {
namespace {

using crypto::ByteReader;
using crypto::ByteWriter;

void PutVersion(ByteWriter& w, const Version& v) {
  w.U64(v.hlc.packed());
  w.Raw(v.device.view());
}

void PutBase(ByteWriter& w, const std::optional<Version>& base) {
  w.U8(base ? 1 : 0);
  if (base) PutVersion(w, *base);
}

void PutValue(ByteWriter& w, const Value& v) {
  w.U8(static_cast<uint8_t>(v.kind()));
  switch (v.kind()) {
    case Value::Kind::kNull:
      break;
    case Value::Kind::kInt:
      w.U64(static_cast<uint64_t>(v.int_value()));
      break;
    case Value::Kind::kText:
    case Value::Kind::kBytes:
      w.Field(v.str());
      break;
  }
}

void PutU16(ByteWriter& w, size_t n) {
  w.U8(static_cast<uint8_t>(n >> 8));
  w.U8(static_cast<uint8_t>(n & 0xFF));
}

uint16_t GetU16(ByteReader& r) {
  const uint16_t hi = r.U8();
  return static_cast<uint16_t>((hi << 8) | r.U8());
}

Version GetVersion(ByteReader& r) {
  Version v;
  v.hlc = Hlc::FromPacked(r.U64());
  std::string_view d = r.Raw(Id16::kSize, "a device id");
  if (r.ok()) v.device = *Id16::FromBytes(d, "device");
  return v;
}

std::optional<Version> GetBase(ByteReader& r) {
  const uint8_t flag = r.U8();
  if (flag > 1) r.Fail(absl::StrCat("base flag ", flag));
  if (!r.ok() || flag == 0) return std::nullopt;
  return GetVersion(r);
}

Value GetValue(ByteReader& r) {
  const uint8_t kind = r.U8();
  if (!r.ok()) return Value::Null();
  switch (kind) {
    case static_cast<uint8_t>(Value::Kind::kNull):
      return Value::Null();
    case static_cast<uint8_t>(Value::Kind::kInt):
      return Value::Int(static_cast<int64_t>(r.U64()));
    case static_cast<uint8_t>(Value::Kind::kText):
    case static_cast<uint8_t>(Value::Kind::kBytes): {
      const uint32_t n = r.U32();
      if (r.ok() && n > tuning::kMaxValueBytes) {
        r.Fail(absl::StrCat("a value of ", n, " bytes"));
        return Value::Null();
      }
      std::string s(r.Raw(n, "a value"));
      return kind == static_cast<uint8_t>(Value::Kind::kText) ? Value::Text(std::move(s))
                                                               : Value::Bytes(std::move(s));
    }
    default:
      r.Fail(absl::StrCat("value kind ", kind));
      return Value::Null();
  }
}

std::string GetName(ByteReader& r, std::string_view what) {
  std::string_view n = r.Short(what);
  if (r.ok() && n.empty()) r.Fail(absl::StrCat("an empty ", AV(what)));
  return std::string(n);
}

}  // namespace

absl::StatusOr<std::string> EncodeRowState(const RowSnapshot& row) {
  if (row.table.empty() || row.table.size() > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("a row state's table name must be 1 to 255 bytes, not ", row.table.size()));
  }
  if (row.fields.size() > 0xFFFF || row.conflicts.size() > 0xFFFF) {
    return absl::InvalidArgumentError("a row state holds at most 65,535 fields and conflicts");
  }
  std::string out;
  ByteWriter w(&out);
  w.U8(kRowStateMagic);
  w.U8(kRowStateFormat);
  w.Short(row.table);
  w.Raw(row.row.view());
  PutU16(w, row.fields.size());
  for (const FieldState& f : row.fields) {
    if (f.column.empty() || f.column.size() > 255) {
      return absl::InvalidArgumentError("a row state's column name must be 1 to 255 bytes");
    }
    w.Short(f.column);
    PutValue(w, f.value);
    PutVersion(w, f.version.version);
    PutBase(w, f.version.base);
  }
  PutU16(w, row.conflicts.size());
  for (const ConflictRecord& c : row.conflicts) {
    if (c.column.empty() || c.column.size() > 255) {
      return absl::InvalidArgumentError("a row state's column name must be 1 to 255 bytes");
    }
    w.Short(c.column);
    PutVersion(w, c.version);
    PutBase(w, c.base);
    PutValue(w, c.value);
  }
  return out;
}

absl::StatusOr<RowSnapshot> DecodeRowState(std::string_view bytes) {
  ByteReader r(bytes, "row state");
  const uint8_t magic = r.U8();
  if (r.ok() && magic != kRowStateMagic) r.Fail(absl::StrCat("magic ", magic));
  const uint8_t format = r.U8();
  if (r.ok() && format != kRowStateFormat) r.Fail(absl::StrCat("format version ", format));
  RowSnapshot s;
  s.table = GetName(r, "table name");
  std::string_view id = r.Raw(Id16::kSize, "a row id");
  if (r.ok()) s.row = *Id16::FromBytes(id, "row");
  const uint16_t f = GetU16(r);
  for (uint16_t i = 0; r.ok() && i < f; ++i) {
    FieldState fs;
    fs.column = GetName(r, "column name");
    fs.value = GetValue(r);
    fs.version.version = GetVersion(r);
    fs.version.base = GetBase(r);
    s.fields.push_back(std::move(fs));
  }
  const uint16_t c = GetU16(r);
  for (uint16_t i = 0; r.ok() && i < c; ++i) {
    ConflictRecord cr;
    cr.table = s.table;
    cr.row = s.row;
    cr.column = GetName(r, "column name");
    cr.version = GetVersion(r);
    cr.base = GetBase(r);
    cr.value = GetValue(r);
    s.conflicts.push_back(std::move(cr));
  }
  r.ExpectEnd();
  if (!r.ok()) return r.status();
  return s;
}

}  // namespace fieldsync
