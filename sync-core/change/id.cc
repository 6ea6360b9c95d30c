#include "change/id.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "clock/clock_source.h"

namespace fieldsync {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Id16 Id16::NewV7(ClockSource* clock) {
  std::array<uint8_t, kSize> b;
  randombytes_buf(b.data(), b.size());
  const uint64_t ms = static_cast<uint64_t>(clock->NowMillis());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  b[6] = static_cast<uint8_t>(0x70 | (b[6] & 0x0F));  // version 7
  b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3F));  // RFC 9562 variant
  return Id16(b);
}

Id16 Id16::NewRandom() {
  std::array<uint8_t, kSize> b;
  randombytes_buf(b.data(), b.size());
  b[6] = static_cast<uint8_t>(0x40 | (b[6] & 0x0F));  // version 4
  b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3F));
  return Id16(b);
}

absl::StatusOr<Id16> Id16::FromBytes(std::string_view raw, std::string_view what) {
  if (raw.size() != kSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed ", AV(what), ": an id is 16 bytes, got ", raw.size()));
  }
  std::array<uint8_t, kSize> b;
  std::memcpy(b.data(), raw.data(), kSize);
  return Id16(b);
}

absl::StatusOr<Id16> Id16::Parse(std::string_view text, std::string_view what) {
  std::string hex;
  hex.reserve(32);
  if (text.size() == 36) {
    for (size_t i = 0; i < text.size(); ++i) {
      const bool dash_pos = (i == 8 || i == 13 || i == 18 || i == 23);
      if (dash_pos != (text[i] == '-')) {
        return absl::InvalidArgumentError(absl::StrCat(
            "malformed ", AV(what), " \"", AV(text),
            "\": expected the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"));
      }
      if (!dash_pos) hex.push_back(text[i]);
    }
  } else if (text.size() == 32) {
    hex.assign(text.data(), text.size());
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed ", AV(what), " \"", AV(text),
        "\": expected 36 characters like 0190f5d2-7c3e-7a1b-9c2d-3e4f5a6b7c8d"));
  }
  std::array<uint8_t, kSize> b;
  for (size_t i = 0; i < kSize; ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed ", AV(what), " \"", AV(text), "\": not hexadecimal"));
    }
    b[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return Id16(b);
}

bool Id16::is_nil() const {
  for (uint8_t x : bytes_) {
    if (x != 0) return false;
  }
  return true;
}

std::string Id16::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < kSize; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes_[i] >> 4]);
    out.push_back(kHex[bytes_[i] & 0xF]);
  }
  return out;
}

}  // namespace fieldsync
