// The row state format (store/row_state.h): what checkpoint leaves hash and
// verified bootstrap pages carry. Encoding and strict decoding round-trip
// for random rows; anything else is refused in one line.
// The seed is printed; replay a failure with FIELDSYNC_SEED=<seed>.
#include "store/row_state.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

namespace fieldsync {
namespace {

uint64_t Seed() {
  const char* s = std::getenv("FIELDSYNC_SEED");
  const uint64_t seed = s != nullptr ? std::strtoull(s, nullptr, 10) : std::random_device{}();
  std::cout << "FIELDSYNC_SEED=" << seed << " (set it to replay this run)" << std::endl;
  return seed;
}

Id16 RandomId(std::mt19937_64& rng) {
  std::array<uint8_t, Id16::kSize> b;
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return Id16(b);
}

Value RandomValue(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return Value::Null();
    case 1:
      return Value::Int(static_cast<int64_t>(rng()));
    case 2:
      return Value::Text(std::string("Lò Thị Mai ") + std::to_string(rng() % 1000));
    default: {
      std::string b(rng() % 300, '\0');
      for (char& c : b) c = static_cast<char>(rng());
      return Value::Bytes(b);
    }
  }
}

Version RandomVersion(std::mt19937_64& rng) {
  return Version{Hlc::FromPacked(rng()), RandomId(rng)};
}

RowSnapshot RandomRow(std::mt19937_64& rng) {
  RowSnapshot r;
  r.table = rng() % 2 ? "cases" : "persons";
  r.row = RandomId(rng);
  const size_t f = 1 + rng() % 8;
  for (size_t i = 0; i < f; ++i) {
    FieldState s;
    s.column = i == 0 ? "_live" : "col" + std::to_string(i);
    s.value = i == 0 ? Value::Int(static_cast<int64_t>(rng() % 2)) : RandomValue(rng);
    s.version.version = RandomVersion(rng);
    if (rng() % 2) s.version.base = RandomVersion(rng);
    r.fields.push_back(std::move(s));
  }
  const size_t c = rng() % 3;
  for (size_t i = 0; i < c; ++i) {
    ConflictRecord k;
    k.table = r.table;
    k.row = r.row;
    k.column = "col1";
    k.version = RandomVersion(rng);
    if (rng() % 2) k.base = RandomVersion(rng);
    k.value = RandomValue(rng);
    r.conflicts.push_back(std::move(k));
  }
  return r;
}

bool SameVersion(const Version& a, const Version& b) {
  return a.hlc.packed() == b.hlc.packed() && a.device == b.device;
}

TEST(RowStateTest, RandomRowsRoundTripByteForByte) {
  std::mt19937_64 rng(Seed());
  for (int n = 0; n < 500; ++n) {
    const RowSnapshot r = RandomRow(rng);
    auto bytes = EncodeRowState(r);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    auto back = DecodeRowState(*bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->table, r.table);
    EXPECT_EQ(back->row, r.row);
    ASSERT_EQ(back->fields.size(), r.fields.size());
    for (size_t i = 0; i < r.fields.size(); ++i) {
      EXPECT_EQ(back->fields[i].column, r.fields[i].column);
      EXPECT_EQ(back->fields[i].value, r.fields[i].value);
      EXPECT_TRUE(SameVersion(back->fields[i].version.version, r.fields[i].version.version));
      ASSERT_EQ(back->fields[i].version.base.has_value(), r.fields[i].version.base.has_value());
    }
    ASSERT_EQ(back->conflicts.size(), r.conflicts.size());
    auto again = EncodeRowState(*back);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *bytes);
  }
}

TEST(RowStateTest, AnythingButTheCanonicalBytesIsRefusedInOneLine) {
  std::mt19937_64 rng(7);
  auto good = EncodeRowState(RandomRow(rng));
  ASSERT_TRUE(good.ok());
  std::vector<std::string> bad = {
      "",
      good->substr(0, good->size() - 1),  // truncated
      *good + "x",                        // trailing
      std::string(1, '\xF8') + good->substr(1),  // another magic
      good->substr(0, 1) + "\x02" + good->substr(2),  // another format
  };
  for (const std::string& b : bad) {
    auto r = DecodeRowState(b);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("malformed row state"), std::string::npos)
        << r.status();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
  // A value kind and a base flag the format does not have.
  RowSnapshot one;
  one.table = "cases";
  one.row = RandomId(rng);
  one.fields.push_back(FieldState{"_live", Value::Int(1), FieldVersion{}});
  auto bytes = EncodeRowState(one);
  ASSERT_TRUE(bytes.ok());
  const size_t kind_at = 2 + 1 + 5 + 16 + 2 + 1 + 5;  // after "_live"
  std::string wrong_kind = *bytes;
  wrong_kind[kind_at] = '\x09';
  EXPECT_FALSE(DecodeRowState(wrong_kind).ok());
  std::string wrong_base = *bytes;
  wrong_base[kind_at + 1 + 8 + 8 + 16] = '\x02';
  EXPECT_FALSE(DecodeRowState(wrong_base).ok());
  EXPECT_TRUE(DecodeRowState(*bytes).ok());
}

}  // namespace
}  // namespace fieldsync
