// The per-field version metadata of one row, packed in the row's `_ver`
// column (format documented in docs/FORMATS.md, "Row version blob v1").
//
// Slot 0 is the liveness register, slot i+1 the table's i-th declared column.
// Devices are stored as indexes into the replica's _fs_devices table, so the
// blob is local to one replica and never leaves it.
#ifndef FIELDSYNC_STORE_ROW_META_H_
#define FIELDSYNC_STORE_ROW_META_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace fieldsync {

struct SlotMeta {
  bool set = false;        // the field was ever written here
  uint64_t hlc = 0;        // version of the winning write
  uint32_t device = 0;     // its author (device index)
  bool has_base = false;   // the winning write's base version
  uint64_t base_hlc = 0;
  uint32_t base_device = 0;
  uint32_t conflicts = 0;  // open conflict records of this field

  bool SameVersionAs(const SlotMeta& o) const {
    return hlc == o.hlc && device == o.device && has_base == o.has_base &&
           base_hlc == o.base_hlc && base_device == o.base_device;
  }
};

// Encodes `slots`; trailing unset slots are omitted.
void EncodeRowMeta(const std::vector<SlotMeta>& slots, std::string* out);

// Decodes into exactly `n_slots` slots (slots beyond the blob are unset: rows
// written before a column was added). DATA_LOSS if the blob is damaged.
absl::Status DecodeRowMeta(std::string_view blob, size_t n_slots, std::vector<SlotMeta>* slots);

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_ROW_META_H_
