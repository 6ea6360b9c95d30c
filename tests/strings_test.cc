// Printable (base/strings.h): what text from elsewhere (a device name the
// hub supplies, an alert, a refusal) may put on a terminal, escaped where
// the output filter (base/terminal.h) would only replace it.
#include "base/strings.h"

#include "absl/strings/str_cat.h"
#include "base/args.h"

#include <gtest/gtest.h>

#include <string>

namespace fieldsync {
namespace {

TEST(PrintableTest, KeepsVietnameseAndPlainText) {
  EXPECT_EQ(Printable("Nguyễn Thị Hằng, Lào Cai"), "Nguyễn Thị Hằng, Lào Cai");
  // Decomposed (NFD) marks are letters' parts, not controls.
  EXPECT_EQ(Printable("Ha\xcc\x80ng"), "Ha\xcc\x80ng");
  EXPECT_EQ(Printable(""), "");
  EXPECT_EQ(Printable("😀 emoji"), "😀 emoji");
}

TEST(PrintableTest, EscapesControlCharacters) {
  EXPECT_EQ(Printable("a\nb"), "a\\x0ab");
  EXPECT_EQ(Printable("\x1b[2J"), "\\x1b[2J");
  EXPECT_EQ(Printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(Printable("\x7f"), "\\x7f");
  // C1: U+009B is CSI on terminals that take 8-bit controls.
  EXPECT_EQ(Printable("x\xc2\x9b" "31m"), "x\\u009b31m");
  EXPECT_EQ(Printable("\xc2\x85"), "\\u0085");
  EXPECT_EQ(Printable("\xc2\xa0"), "\xc2\xa0");  // U+00A0 is a character
}

TEST(PrintableTest, EscapesBidirectionalFormatting) {
  // "lc1" written right to left would read "1cl" (a Trojan Source name).
  EXPECT_EQ(Printable("\xe2\x80\xae" "1cl"), "\\u202e1cl");
  for (const char* c : {"\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac", "\xe2\x80\xad",
                        "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8",
                        "\xe2\x81\xa9", "\xe2\x80\x8e", "\xe2\x80\x8f", "\xd8\x9c"}) {
    const std::string out = Printable(c);
    EXPECT_EQ(out.rfind("\\u", 0), 0u) << out;
    EXPECT_EQ(out.size(), 6u) << out;
  }
  EXPECT_EQ(Printable("\xe2\x80\xaf"), "\xe2\x80\xaf");  // U+202F, a space
  EXPECT_EQ(Printable("\xe2\x80\x8b"), "\xe2\x80\x8b");  // U+200B, not a direction
}

TEST(PrintableTest, EscapesInvalidUtf8ByteByByte) {
  EXPECT_EQ(Printable("\xff"), "\\xff");
  EXPECT_EQ(Printable("a\xc3"), "a\\xc3");                  // cut short
  EXPECT_EQ(Printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong
  EXPECT_EQ(Printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  // An overlong encoding of U+202E is escaped too, never decoded.
  EXPECT_EQ(Printable("\xf0\x82\x80\xae"), "\\xf0\\x82\\x80\\xae");
}

TEST(PrintableTest, IsIdempotent) {
  for (const std::string s : {"\x1b]0;x\x07", "\xe2\x80\xae" "abc", "\xff\xfe", "plain"}) {
    EXPECT_EQ(Printable(Printable(s)), Printable(s)) << s;
  }
}

// The node's durations (daemon --every/--max-backoff, unlock --for): what
// absl::ParseDuration reads, with a leading number of days kept ("7d"), as
// fieldhub reads them; the line for what is not one unchanged.
TEST(DurationTest, TheNodeReadsDurationsAsTheHubDoes) {
  EXPECT_EQ(*ParseDurationMillis("90s"), 90'000);
  EXPECT_EQ(*ParseDurationMillis("30m"), 1'800'000);
  EXPECT_EQ(*ParseDurationMillis("24h"), 86'400'000);
  EXPECT_EQ(*ParseDurationMillis("7d"), 7 * 86'400'000LL);
  EXPECT_EQ(*ParseDurationMillis("1500ms"), 1'500);
  EXPECT_EQ(*ParseDurationMillis("0s"), 0);
  // Compound durations, as fieldhub takes them.
  ASSERT_TRUE(ParseDurationMillis("1h30m").ok());
  EXPECT_EQ(*ParseDurationMillis("1h30m"), 5'400'000);
  ASSERT_TRUE(ParseDurationMillis("1d12h").ok());
  EXPECT_EQ(*ParseDurationMillis("1d12h"), 36 * 3'600'000LL);
  for (const char* bad : {"", "soon", "5", "-5s", "7 d", "d", "5x", "1d-2h", "99999999999999d"}) {
    auto r = ParseDurationMillis(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().message(),
              absl::StrCat("\"", bad, "\" is not a duration; write a number and a unit: 90s, "
                           "30m, 24h, 7d"));
  }
}

}  // namespace
}  // namespace fieldsync
