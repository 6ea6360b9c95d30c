// A row's whole replicated state as bytes, format version 1: what a signed
// checkpoint's leaves hash (docs/PROTOCOL.md, "Checkpoints"; issue 11 point
// 3) and what a verified bootstrap page carries, so that a node hashes
// exactly the bytes it installs.
//
//   magic 0xF9, format 1
//   table: length u8 (1..255), bytes
//   row id: 16 bytes
//   f: u16 BE, then f fields in the order RowSnapshot holds them (_live
//     first, then declared columns in schema order): column (length u8,
//     bytes), value, version, base
//   c: u16 BE, then c conflict records by (column, HLC, device): column,
//     version, base, value
//   value: kind u8 (0 NULL, 1 integer, 2 text, 3 bytes); integer: i64 BE;
//     text and bytes: length u32 BE (at most 256 KiB), bytes
//   version: HLC u64 BE, device 16 bytes
//   base: 0, or 1 then a version
//
// Strict: DecodeRowState accepts only what EncodeRowState writes (no
// trailing bytes, known kinds), so Encode(Decode(b)) == b. The schema is
// not consulted: installing the row checks its table and columns.
#ifndef FIELDSYNC_STORE_ROW_STATE_H_
#define FIELDSYNC_STORE_ROW_STATE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "store/replica.h"

namespace fieldsync {

inline constexpr uint8_t kRowStateMagic = 0xF9;
inline constexpr uint8_t kRowStateFormat = 1;

// INVALID_ARGUMENT for a row that cannot be written in the format (a table
// name over 255 bytes, over 65,535 fields or conflicts).
absl::StatusOr<std::string> EncodeRowState(const RowSnapshot& row);

// INVALID_ARGUMENT "malformed row state: ... at byte N".
absl::StatusOr<RowSnapshot> DecodeRowState(std::string_view bytes);

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_ROW_STATE_H_
