#include "store/row_meta.h"

#include "absl/strings/str_cat.h"

namespace fieldsync {
namespace {

// Slot tags. Frozen: part of the on-disk format.
constexpr uint8_t kUnset = 0;
constexpr uint8_t kFull = 1;      // version follows
constexpr uint8_t kSame = 2;      // same version as the previous set slot
constexpr uint8_t kFormat = 1;    // first byte of the blob

// Writes v at p, returns the byte after it (at most 10 bytes).
char* PutVarint(uint64_t v, char* p) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

bool GetVarint(std::string_view b, size_t* pos, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && *pos < b.size(); shift += 7) {
    const uint8_t c = static_cast<uint8_t>(b[(*pos)++]);
    r |= uint64_t{c & 0x7Fu} << shift;
    if ((c & 0x80) == 0) {
      *v = r;
      return true;
    }
  }
  return false;
}

}  // namespace

void EncodeRowMeta(const std::vector<SlotMeta>& slots, std::string* out) {
  size_t n = slots.size();
  while (n > 0 && !slots[n - 1].set) --n;
  // At most 1 + 5 varints (10 bytes each) + the conflict count per slot.
  out->resize(1 + n * 62);
  char* p = out->data();
  *p++ = static_cast<char>(kFormat);
  const SlotMeta* prev = nullptr;
  for (size_t i = 0; i < n; ++i) {
    const SlotMeta& s = slots[i];
    if (!s.set) {
      *p++ = static_cast<char>(kUnset);
      continue;
    }
    if (prev != nullptr && s.SameVersionAs(*prev)) {
      *p++ = static_cast<char>(kSame);
    } else {
      *p++ = static_cast<char>(kFull);
      p = PutVarint(s.hlc, p);
      p = PutVarint(s.device, p);
      p = PutVarint(s.has_base ? 1 : 0, p);
      if (s.has_base) {
        p = PutVarint(s.base_hlc, p);
        p = PutVarint(s.base_device, p);
      }
    }
    p = PutVarint(s.conflicts, p);
    prev = &s;
  }
  out->resize(static_cast<size_t>(p - out->data()));
}

absl::Status DecodeRowMeta(std::string_view b, size_t n_slots, std::vector<SlotMeta>* slots) {
  slots->assign(n_slots, SlotMeta{});
  auto damaged = [&](size_t at) {
    return absl::DataLossError(absl::StrCat(
        "damaged row version metadata at byte ", at,
        "; the replica is corrupt: restore it from a backup or re-bootstrap from the hub"));
  };
  if (b.empty() || static_cast<uint8_t>(b[0]) != kFormat) return damaged(0);
  size_t pos = 1;
  const SlotMeta* prev = nullptr;
  for (size_t i = 0; pos < b.size(); ++i) {
    if (i >= n_slots) return damaged(pos);
    const uint8_t tag = static_cast<uint8_t>(b[pos++]);
    SlotMeta& s = (*slots)[i];
    if (tag == kUnset) continue;
    if (tag == kSame) {
      if (prev == nullptr) return damaged(pos - 1);
      s = *prev;
    } else if (tag == kFull) {
      uint64_t hlc, dev, has_base;
      if (!GetVarint(b, &pos, &hlc) || !GetVarint(b, &pos, &dev) ||
          !GetVarint(b, &pos, &has_base) || has_base > 1) {
        return damaged(pos);
      }
      s.hlc = hlc;
      s.device = static_cast<uint32_t>(dev);
      s.has_base = has_base == 1;
      if (s.has_base) {
        uint64_t bh, bd;
        if (!GetVarint(b, &pos, &bh) || !GetVarint(b, &pos, &bd)) return damaged(pos);
        s.base_hlc = bh;
        s.base_device = static_cast<uint32_t>(bd);
      }
    } else {
      return damaged(pos - 1);
    }
    s.set = true;
    uint64_t conflicts;
    if (!GetVarint(b, &pos, &conflicts)) return damaged(pos);
    s.conflicts = static_cast<uint32_t>(conflicts);
    prev = &s;
  }
  return absl::OkStatus();
}

}  // namespace fieldsync
