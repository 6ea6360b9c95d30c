#include "change/commit_codec.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "base/tuning.h"

namespace fieldsync {
namespace {

constexpr char kMagic[3] = {'F', 'S', 'C'};
constexpr uint8_t kFlagHasBase = 0x01;

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutU64(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

void PutBytes(std::string_view s, std::string* out) {
  PutVarint(s.size(), out);
  out->append(s.data(), s.size());
}

void PutVersion(const Version& v, std::string* out) {
  PutU64(v.hlc.packed(), out);
  out->append(v.device.view());
}

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}

  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed commit: ", AV(what), " at byte ", pos_));
  }
  bool done() const { return pos_ == b_.size(); }

  absl::Status Byte(uint8_t* v) {
    if (pos_ >= b_.size()) return Error("truncated");
    *v = static_cast<uint8_t>(b_[pos_++]);
    return absl::OkStatus();
  }
  absl::Status Varint(uint64_t* v) {
    uint64_t result = 0;
    const size_t start = pos_;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) return Error("truncated varint");
      const uint8_t c = static_cast<uint8_t>(b_[pos_++]);
      if (shift == 63 && c > 1) return Error("varint overflows 64 bits");
      result |= uint64_t{c & 0x7Fu} << shift;
      if ((c & 0x80) == 0) {
        if (c == 0 && pos_ - start > 1) {
          pos_ = start;
          return Error("non-minimal varint");
        }
        *v = result;
        return absl::OkStatus();
      }
    }
    return Error("varint too long");
  }
  absl::Status U64(uint64_t* v) {
    if (b_.size() - pos_ < 8) return Error("truncated");
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r = (r << 8) | static_cast<uint8_t>(b_[pos_++]);
    *v = r;
    return absl::OkStatus();
  }
  absl::Status Raw(size_t n, std::string_view* v) {
    if (b_.size() - pos_ < n) return Error("truncated");
    *v = b_.substr(pos_, n);
    pos_ += n;
    return absl::OkStatus();
  }
  absl::Status Bytes(size_t limit, std::string_view* v) {
    uint64_t n = 0;
    absl::Status s = Varint(&n);
    if (!s.ok()) return s;
    if (n > limit) return Error(absl::StrCat("length ", n, " over the limit ", limit));
    return Raw(static_cast<size_t>(n), v);
  }
  absl::Status Id(Id16* id) {
    std::string_view raw;
    absl::Status s = Raw(Id16::kSize, &raw);
    if (!s.ok()) return s;
    *id = *Id16::FromBytes(raw, "id");
    return absl::OkStatus();
  }
  absl::Status Ver(Version* v) {
    uint64_t h = 0;
    absl::Status s = U64(&h);
    if (!s.ok()) return s;
    v->hlc = Hlc::FromPacked(h);
    return Id(&v->device);
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

#define FS_READ(expr)                      \
  do {                                     \
    absl::Status s_ = (expr);              \
    if (!s_.ok()) return s_;               \
  } while (0)

}  // namespace

void EncodeRowChangeTo(const RowChange& rc, std::string* out) {
  PutBytes(rc.table, out);
  out->append(rc.row.view());
  PutVarint(rc.fields.size(), out);
  for (const FieldWrite& f : rc.fields) {
    PutBytes(f.column, out);
    out->push_back(static_cast<char>(f.value.kind()));
    switch (f.value.kind()) {
      case Value::Kind::kNull:
        break;
      case Value::Kind::kInt: {
        const int64_t v = f.value.int_value();
        PutVarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63), out);
        break;
      }
      case Value::Kind::kText:
      case Value::Kind::kBytes:
        PutBytes(f.value.str(), out);
        break;
    }
    out->push_back(static_cast<char>(f.base ? kFlagHasBase : 0));
    if (f.base) PutVersion(*f.base, out);
    PutVarint(f.resolves.size(), out);
    for (const Version& r : f.resolves) PutVersion(r, out);
  }
}

void EncodeCommitTo(const Commit& c, std::string* out) {
  out->append(kMagic, sizeof(kMagic));
  out->push_back(static_cast<char>(kCommitFormatVersion));
  out->append(c.author.view());
  PutVarint(c.seq, out);
  PutU64(c.hlc.packed(), out);
  PutVarint(c.changes.size(), out);
  for (const RowChange& rc : c.changes) EncodeRowChangeTo(rc, out);
}

std::string EncodeCommit(const Commit& commit) {
  std::string out;
  EncodeCommitTo(commit, &out);
  return out;
}

absl::StatusOr<Commit> DecodeCommit(std::string_view bytes) {
  if (bytes.size() > tuning::kMaxEncodedCommitBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed commit: ", bytes.size(), " bytes, the limit is ",
        tuning::kMaxEncodedCommitBytes));
  }
  Reader r(bytes);
  std::string_view magic;
  FS_READ(r.Raw(3, &magic));
  if (std::memcmp(magic.data(), kMagic, 3) != 0) return r.Error("not a commit (bad magic)");
  uint8_t version = 0;
  FS_READ(r.Byte(&version));
  if (version != kCommitFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported commit format version ", version, " (this build reads version ",
        kCommitFormatVersion, "); upgrade fieldsync on this machine"));
  }
  Commit c;
  FS_READ(r.Id(&c.author));
  FS_READ(r.Varint(&c.seq));
  uint64_t hlc = 0;
  FS_READ(r.U64(&hlc));
  c.hlc = Hlc::FromPacked(hlc);
  uint64_t n_changes = 0;
  FS_READ(r.Varint(&n_changes));
  if (n_changes > tuning::kMaxRowChangesPerCommit) return r.Error("too many row changes");
  c.changes.resize(static_cast<size_t>(n_changes));
  for (RowChange& rc : c.changes) {
    std::string_view table;
    FS_READ(r.Bytes(256, &table));
    rc.table.assign(table.data(), table.size());
    FS_READ(r.Id(&rc.row));
    uint64_t n_fields = 0;
    FS_READ(r.Varint(&n_fields));
    if (n_fields > tuning::kMaxFieldsPerRowChange) return r.Error("too many fields");
    rc.fields.resize(static_cast<size_t>(n_fields));
    for (FieldWrite& f : rc.fields) {
      std::string_view column;
      FS_READ(r.Bytes(256, &column));
      f.column.assign(column.data(), column.size());
      uint8_t tag = 0;
      FS_READ(r.Byte(&tag));
      switch (static_cast<Value::Kind>(tag)) {
        case Value::Kind::kNull:
          f.value = Value::Null();
          break;
        case Value::Kind::kInt: {
          uint64_t z = 0;
          FS_READ(r.Varint(&z));
          f.value = Value::Int(static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1)));
          break;
        }
        case Value::Kind::kText:
        case Value::Kind::kBytes: {
          std::string_view s;
          FS_READ(r.Bytes(tuning::kMaxValueBytes, &s));
          f.value = tag == static_cast<uint8_t>(Value::Kind::kText)
                        ? Value::Text(std::string(s))
                        : Value::Bytes(std::string(s));
          break;
        }
        default:
          return r.Error(absl::StrCat("unknown value tag ", tag));
      }
      uint8_t flags = 0;
      FS_READ(r.Byte(&flags));
      if (flags & ~kFlagHasBase) return r.Error(absl::StrCat("unknown flags ", flags));
      if (flags & kFlagHasBase) {
        Version base;
        FS_READ(r.Ver(&base));
        f.base = base;
      }
      uint64_t n_resolves = 0;
      FS_READ(r.Varint(&n_resolves));
      if (n_resolves > tuning::kMaxResolvesPerField) return r.Error("too many resolved versions");
      f.resolves.resize(static_cast<size_t>(n_resolves));
      for (Version& v : f.resolves) FS_READ(r.Ver(&v));
    }
  }
  if (!r.done()) return r.Error("trailing bytes after the commit");
  return c;
}

}  // namespace fieldsync
