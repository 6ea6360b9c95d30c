// The passphrase rule (node/passphrase_rule.h): 12 code points after NFC,
// and at least 10^10 guesses by zxcvbn, of the text and of its folded form.
#include "node/passphrase_rule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace fieldsync::node {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// "Gió mùa Đông" in NFC and in NFD (as some keyboards and input methods
// send it: the letter, then a combining mark).
const std::string kVi12Nfc = "Gi\xC3\xB3 m\xC3\xB9" "a \xC4\x90\xC3\xB4ng";
const std::string kVi12Nfd = "Gio\xCC\x81 mu\xCC\x80" "a \xC4\x90o\xCC\x82ng";
// "Gió mùa thu", NFD: 11 code points in NFC, 13 as typed, 13 bytes in NFC.
const std::string kVi11Nfd = "Gio\xCC\x81 mu\xCC\x80" "a thu";

TEST(PassphraseRuleTest, CountsCodePointsAfterNfc) {
  auto nfc = MeasurePassphrase(kVi12Nfc);
  auto nfd = MeasurePassphrase(kVi12Nfd);
  ASSERT_TRUE(nfc.ok() && nfd.ok());
  EXPECT_EQ(nfc->chars, 12u);
  EXPECT_EQ(nfd->chars, 12u);
  auto eleven = MeasurePassphrase(kVi11Nfd);
  ASSERT_TRUE(eleven.ok());
  EXPECT_EQ(eleven->chars, 11u);
}

TEST(PassphraseRuleTest, AcceptsTwelveVietnameseCharactersTypedEitherWay) {
  EXPECT_TRUE(CheckPassphraseRule(kVi12Nfc, "the passphrase").ok());
  EXPECT_TRUE(CheckPassphraseRule(kVi12Nfd, "the passphrase").ok());
}

TEST(PassphraseRuleTest, AcceptsTheSentencesTheTestsAndTheDemoUse) {
  for (const char* p : {"một câu dài làm mật khẩu", "mật khẩu dài của máy lc1",
                        "a new passphrase for the laptop", "benchmark throwaway passphrase",
                        "fieldsync known-answer passphrase", "correct horse battery staple"}) {
    absl::Status s = CheckPassphraseRule(p, "the passphrase");
    EXPECT_TRUE(s.ok()) << p << ": " << s;
  }
}

TEST(PassphraseRuleTest, RefusesShortOnesSayingHowManyCharacters) {
  const struct {
    std::string passphrase;
    size_t chars;
  } kShort[] = {{"short", 5}, {"exactly8", 8}, {"eleven char", 11}, {kVi11Nfd, 11}};
  for (const auto& c : kShort) {
    absl::Status s = CheckPassphraseRule(c.passphrase, "the passphrase");
    ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.passphrase;
    EXPECT_THAT(std::string(s.message()),
                HasSubstr(absl::StrCat("the passphrase has ", c.chars,
                                       " characters and at least 12 are needed")));
  }
}

TEST(PassphraseRuleTest, RefusesTheEasiestToGuessOfTwelveOrMore) {
  for (const char* p : {"password1234", "aaaaaaaaaaaa", "123456789012", "qwertyuiop12",
                        "1qaz2wsx3edc", "abc123abc123", "correcthorse", "Password1234",
                        "iloveyou1234", "P@ssw0rd2026",
                        // Deployment words and Vietnamese ones, accents or not.
                        "matkhau12345", "MậtKhẩu2026!", "fieldsync2026", "hotline18001567",
                        "vietnam123456", "toiyeuvietnam", "tôiyêuviệtnam"}) {
    absl::Status s = CheckPassphraseRule(p, "the new passphrase");
    ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << p;
    EXPECT_THAT(std::string(s.message()),
                HasSubstr("the new passphrase is among the easiest to guess"))
        << p;
    EXPECT_THAT(std::string(s.message()), HasSubstr("at least 10^10 are needed")) << p;
  }
}

TEST(PassphraseRuleTest, AMessageIsOneLineAndNeverRepeatsThePassphrase) {
  for (const std::string& p : {std::string("s3cr3t"), std::string("password1234"),
                              std::string("bad \xFF utf8 passphrase")}) {
    absl::Status s = CheckPassphraseRule(p, "the passphrase");
    ASSERT_FALSE(s.ok()) << p;
    const std::string m(s.message());
    EXPECT_THAT(m, Not(HasSubstr(p)));
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  absl::Status bad = CheckPassphraseRule("bad \xFF utf8 passphrase", "the passphrase");
  EXPECT_THAT(std::string(bad.message()), HasSubstr("the passphrase is not UTF-8 text (byte 4)"));
}

}  // namespace
}  // namespace fieldsync::node
