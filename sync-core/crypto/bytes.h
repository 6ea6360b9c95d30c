// Big-endian byte writing and strict reading for the crypto formats
// (docs/CRYPTO.md). The reader never reads past its input and reports the
// byte offset of the first problem.
#ifndef FIELDSYNC_CRYPTO_BYTES_H_
#define FIELDSYNC_CRYPTO_BYTES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace fieldsync::crypto {

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int i = 3; i >= 0; --i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 7; i >= 0; --i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void Raw(std::string_view b) { out_->append(b.data(), b.size()); }
  // A string of any length, its length first as u32be (the hash inputs of
  // the access log and the hub's audit trail).
  void Field(std::string_view b) {
    U32(static_cast<uint32_t>(b.size()));
    Raw(b);
  }
  // A string of at most 255 bytes, length first.
  void Short(std::string_view b) {
    U8(static_cast<uint8_t>(b.size()));
    Raw(b);
  }

 private:
  std::string* out_;
};

class ByteReader {
 public:
  ByteReader(std::string_view in, std::string_view what) : in_(in), what_(what) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  bool ok() const { return error_.empty(); }
  // The first problem, as "malformed <what>: <problem> at byte N", N being
  // where the field read last (the one found wrong) starts.
  absl::Status status() const {
    if (error_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(error_);
  }

  uint8_t U8() {
    std::string_view b = Raw(1, "a byte");
    return b.empty() ? 0 : static_cast<uint8_t>(b[0]);
  }
  uint32_t U32() {
    std::string_view b = Raw(4, "a 32-bit number");
    uint32_t v = 0;
    for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
    return v;
  }
  uint64_t U64() {
    std::string_view b = Raw(8, "a 64-bit number");
    uint64_t v = 0;
    for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
    return v;
  }
  std::string_view Raw(size_t n, std::string_view field) {
    if (!ok()) return {};
    field_ = pos_;
    if (remaining() < n) {
      Fail(absl::StrCat("truncated: ", AV(field), " needs ", n, " bytes, ", remaining(),
                        " left"));
      return {};
    }
    std::string_view b = in_.substr(pos_, n);
    field_ = pos_;
    pos_ += n;
    return b;
  }
  std::string_view Short(std::string_view field) {
    uint8_t n = U8();
    return Raw(n, field);
  }
  std::string_view Rest() {
    if (!ok()) return {};
    field_ = pos_;
    std::string_view b = in_.substr(pos_);
    pos_ = in_.size();
    return b;
  }
  void Fail(const std::string& problem) {
    if (error_.empty()) {
      error_ = absl::StrCat("malformed ", AV(what_), ": ", problem, " at byte ", field_);
    }
  }
  // Fails unless every byte was consumed.
  void ExpectEnd() {
    field_ = pos_;
    if (ok() && remaining() != 0) Fail(absl::StrCat(remaining(), " unexpected trailing bytes"));
  }

 private:
  std::string_view in_;
  std::string_view what_;
  size_t pos_ = 0;
  size_t field_ = 0;
  std::string error_;
};

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_BYTES_H_
