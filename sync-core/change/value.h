// A field's value as it travels in commits and sits in the replica.
// Four kinds, mirroring SQLite's storage classes minus REAL (no column of
// the field-office schema is a float): NULL, 64-bit integer, UTF-8 text, bytes.
#ifndef FIELDSYNC_CHANGE_VALUE_H_
#define FIELDSYNC_CHANGE_VALUE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace fieldsync {

class Value {
 public:
  // Frozen: these numbers are the value tags of the commit format.
  enum class Kind : uint8_t { kNull = 0, kInt = 1, kText = 2, kBytes = 3 };

  Value() = default;
  static Value Null() { return Value(); }
  static Value Int(int64_t v) {
    Value x;
    x.kind_ = Kind::kInt;
    x.i_ = v;
    return x;
  }
  static Value Text(std::string s) {
    Value x;
    x.kind_ = Kind::kText;
    x.s_ = std::move(s);
    return x;
  }
  static Value Bytes(std::string b) {
    Value x;
    x.kind_ = Kind::kBytes;
    x.s_ = std::move(b);
    return x;
  }

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  int64_t int_value() const { return i_; }
  // Text or bytes payload.
  const std::string& str() const { return s_; }

  // For display and error messages: text quoted, bytes as length, ints plain.
  std::string DebugString() const;
  static std::string_view KindName(Kind k);

  friend bool operator==(const Value& a, const Value& b) {
    return a.kind_ == b.kind_ && a.i_ == b.i_ && a.s_ == b.s_;
  }
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  Kind kind_ = Kind::kNull;
  int64_t i_ = 0;
  std::string s_;
};

}  // namespace fieldsync

#endif  // FIELDSYNC_CHANGE_VALUE_H_
