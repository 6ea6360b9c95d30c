#include <gtest/gtest.h>

#include "base/utf8.h"
#include "change/id.h"
#include "change/value.h"
#include "clock/clock_source.h"

namespace fieldsync {
namespace {

TEST(IdTest, V7IdsCarryTheirTimeAndSortByIt) {
  FakeClock clock(1'764'000'000'000);
  const Id16 a = Id16::NewV7(&clock);
  clock.Advance(1);
  const Id16 b = Id16::NewV7(&clock);
  EXPECT_LT(a, b);
  EXPECT_EQ(a.data()[6] >> 4, 7);          // version
  EXPECT_EQ(a.data()[8] & 0xC0, 0x80);     // variant
  uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = ms << 8 | a.data()[i];
  EXPECT_EQ(ms, 1'764'000'000'000u);
}

TEST(IdTest, ParseAcceptsCanonicalAndBareHexAndRoundTrips) {
  const Id16 a = Id16::NewRandom();
  const std::string s = a.ToString();
  ASSERT_EQ(s.size(), 36u);
  EXPECT_EQ(*Id16::Parse(s, "id"), a);
  std::string bare;
  for (char c : s) {
    if (c != '-') bare.push_back(static_cast<char>(std::toupper(c)));
  }
  EXPECT_EQ(*Id16::Parse(bare, "id"), a);
}

TEST(IdTest, MalformedIdsAreRefusedWithTheirName) {
  for (const char* bad : {"", "xyz", "0190f5d2-7c3e-7a1b-9c2d-3e4f5a6b7c8", "0190f5d2x7c3e-7a1b-9c2d-3e4f5a6b7c8d",
                          "0190f5d2-7c3e-7a1b-9c2d-3e4f5a6b7c8g"}) {
    const auto r = Id16::Parse(bad, "case id");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("case id"), absl::string_view::npos);
  }
  EXPECT_FALSE(Id16::FromBytes("short", "row id").ok());
}

TEST(ValueTest, KindsCompareByKindAndPayload) {
  EXPECT_EQ(Value::Text("a"), Value::Text("a"));
  EXPECT_NE(Value::Text("a"), Value::Bytes("a"));
  EXPECT_NE(Value::Int(1), Value::Int(2));
  EXPECT_NE(Value::Null(), Value::Int(0));
}

TEST(Utf8Test, AcceptsVietnameseAndRejectsMalformed) {
  EXPECT_TRUE(IsValidUtf8("Nguyễn Thị Hằng, Lào Cai"));
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));  // U+1F600
  size_t at = 0;
  EXPECT_FALSE(IsValidUtf8("ab\xC3", &at));      // truncated
  EXPECT_EQ(at, 2u);
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));         // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));     // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80")); // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xFF"));
}

}  // namespace
}  // namespace fieldsync
