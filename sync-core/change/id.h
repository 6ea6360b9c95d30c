// 16-byte identifiers for rows and devices.
//
// Row ids are UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits,
// so they sort by creation time and need no coordination between offline
// replicas. Device ids are random UUIDv4. Both are written as the canonical
// 36-character lower-case form "0190f5d2-7c3e-7a1b-9c2d-3e4f5a6b7c8d".
#ifndef FIELDSYNC_CHANGE_ID_H_
#define FIELDSYNC_CHANGE_ID_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace fieldsync {

class ClockSource;

class Id16 {
 public:
  static constexpr size_t kSize = 16;

  Id16() { bytes_.fill(0); }
  explicit Id16(const std::array<uint8_t, kSize>& bytes) : bytes_(bytes) {}

  // A new UUIDv7 at the clock's current time (randomness from libsodium).
  static Id16 NewV7(ClockSource* clock);
  // A new random UUIDv4.
  static Id16 NewRandom();
  // From exactly 16 raw bytes; INVALID_ARGUMENT otherwise, naming `what`.
  static absl::StatusOr<Id16> FromBytes(std::string_view raw, std::string_view what);
  // From the canonical 36-character form or 32 hex digits, any case.
  static absl::StatusOr<Id16> Parse(std::string_view text, std::string_view what);

  bool is_nil() const;
  const uint8_t* data() const { return bytes_.data(); }
  std::string_view view() const {
    return std::string_view(reinterpret_cast<const char*>(bytes_.data()), kSize);
  }
  std::string ToString() const;

  friend bool operator==(const Id16& a, const Id16& b) { return a.bytes_ == b.bytes_; }
  friend bool operator!=(const Id16& a, const Id16& b) { return a.bytes_ != b.bytes_; }
  friend bool operator<(const Id16& a, const Id16& b) { return a.bytes_ < b.bytes_; }
  friend bool operator>(const Id16& a, const Id16& b) { return a.bytes_ > b.bytes_; }

  template <typename H>
  friend H AbslHashValue(H h, const Id16& id) {
    return H::combine(std::move(h), id.view());
  }

 private:
  std::array<uint8_t, kSize> bytes_;
};

using RowId = Id16;
using DeviceId = Id16;

}  // namespace fieldsync

#endif  // FIELDSYNC_CHANGE_ID_H_
