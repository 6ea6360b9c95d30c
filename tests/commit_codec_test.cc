#include "change/commit_codec.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "change/commit.h"
#include "schema/validate_commit.h"

namespace fieldsync {
namespace {

Id16 FixedId(uint8_t fill) {
  std::array<uint8_t, 16> b;
  b.fill(fill);
  return Id16(b);
}

// A commit exercising every part of the format.
Commit Sample() {
  Commit c;
  c.author = FixedId(0xA1);
  c.seq = 300;
  c.hlc = Hlc::FromParts(1'764'000'000'000, 2);
  RowChange rc;
  rc.table = "persons";
  rc.row = FixedId(0x01);
  rc.fields.push_back({"_live", Value::Int(1), std::nullopt, {}});
  rc.fields.push_back({"full_name", Value::Text("Nguyễn Thị Hằng"),
                       Version{Hlc::FromParts(1'764'000'000'000, 1), FixedId(0xB2)}, {}});
  rc.fields.push_back({"birth_year", Value::Int(-5), std::nullopt,
                       {Version{Hlc::FromParts(1'763'000'000'000, 0), FixedId(0xC3)}}});
  rc.fields.push_back({"other_names", Value::Null(), std::nullopt, {}});
  c.changes.push_back(rc);
  RowChange rc2;
  rc2.table = "cases";
  rc2.row = FixedId(0x02);
  rc2.fields.push_back({"person_id", Value::Bytes(std::string(16, '\x01')), std::nullopt, {}});
  c.changes.push_back(rc2);
  return c;
}

std::string Hex(const std::string& b) {
  std::string out(b.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(b.data()),
                 b.size());
  out.pop_back();
  return out;
}

TEST(CommitCodecTest, RoundTrips) {
  const Commit c = Sample();
  const std::string bytes = EncodeCommit(c);
  const absl::StatusOr<Commit> back = DecodeCommit(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c);
  EXPECT_EQ(EncodeCommit(*back), bytes);
}

// Frozen known-answer vector for commit format version 1 (docs/FORMATS.md).
// If this fails, the format changed: bump kCommitFormatVersion instead.
TEST(CommitCodecTest, FormatVersion1IsFrozen) {
  EXPECT_EQ(Hex(EncodeCommit(Sample())),
            "46534301a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1ac02019ab697e80000020207706572736f6e73"
            "0101010101010101010101010101010104055f6c697665010200000966756c6c5f6e616d650215"
            "4e677579e1bb856e205468e1bb8b2048e1bab16e6701019ab697e8000001b2b2b2b2b2b2b2b2b2"
            "b2b2b2b2b2b2b2000a62697274685f7965617201090001019a7afd1e000000c3c3c3c3c3c3c3c3"
            "c3c3c3c3c3c3c3c30b6f746865725f6e616d6573000000056361736573020202020202020202"
            "020202020202020109706572736f6e5f69640310010101010101010101010101010101010000");
}

TEST(CommitCodecTest, EveryTruncationIsRefused) {
  const std::string bytes = EncodeCommit(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    const auto r = DecodeCommit(bytes.substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes was accepted";
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(CommitCodecTest, TrailingBytesAreRefused) {
  const auto r = DecodeCommit(EncodeCommit(Sample()) + "x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("trailing"), absl::string_view::npos) << r.status();
}

TEST(CommitCodecTest, UnknownFormatVersionSaysToUpgrade) {
  std::string bytes = EncodeCommit(Sample());
  bytes[3] = 2;
  const auto r = DecodeCommit(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("version 2"), absl::string_view::npos) << r.status();
  EXPECT_NE(r.status().message().find("upgrade"), absl::string_view::npos) << r.status();
}

TEST(CommitCodecTest, BadMagicUnknownTagsFlagsAndNonMinimalVarintsAreRefused) {
  const std::string good = EncodeCommit(Sample());
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  EXPECT_FALSE(DecodeCommit(bad_magic).ok());

  // The seq varint sits right after magic(3) + version(1) + author(16):
  // 300 = 0xAC 0x02. Re-encode it non-minimally as 0xAC 0x82 0x00.
  std::string non_minimal = good.substr(0, 20) + std::string("\xAC\x82\x00", 3) + good.substr(22);
  const auto r = DecodeCommit(non_minimal);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("non-minimal"), absl::string_view::npos) << r.status();

  // Flip every byte in turn: the decoder must never crash, and whatever it
  // accepts must re-encode to exactly the input (canonical form).
  for (size_t i = 0; i < good.size(); ++i) {
    std::string m = good;
    m[i] = static_cast<char>(m[i] ^ 0x5A);
    const auto d = DecodeCommit(m);
    if (d.ok()) {
      EXPECT_EQ(EncodeCommit(*d), m) << "byte " << i;
    }
  }
}

class ValidateCommitTest : public ::testing::Test {
 protected:
  absl::Status Validate(const Commit& c) { return ValidateCommit(FieldOfficeSchema(), c); }
  void ExpectRefused(const Commit& c, std::string_view needle) {
    const absl::Status s = Validate(c);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find(std::string(needle)), absl::string_view::npos) << s;
  }
};

TEST_F(ValidateCommitTest, TheSampleIsValid) { EXPECT_TRUE(Validate(Sample()).ok()); }

TEST_F(ValidateCommitTest, UnknownTableAndColumnAreNamed) {
  Commit c = Sample();
  c.changes[0].table = "victims";
  ExpectRefused(c, "unknown table \"victims\"");
  c = Sample();
  c.changes[0].fields[1].column = "fullname";
  ExpectRefused(c, "unknown column \"fullname\" in table persons");
}

TEST_F(ValidateCommitTest, WrongTypesAreNamedWithTheirPlace) {
  Commit c = Sample();
  c.changes[0].fields[2].value = Value::Text("1990");
  ExpectRefused(c, "persons.birth_year");
  c = Sample();
  c.changes[0].fields[0].value = Value::Int(2);
  ExpectRefused(c, "_live");
}

TEST_F(ValidateCommitTest, MalformedIdsAreRefused) {
  Commit c = Sample();
  c.changes[1].row = Id16();
  ExpectRefused(c, "malformed row id");
  c = Sample();
  c.changes[1].fields[0].value = Value::Bytes("0123");
  ExpectRefused(c, "malformed id in cases.person_id");
  c = Sample();
  c.author = Id16();
  ExpectRefused(c, "author");
}

TEST_F(ValidateCommitTest, BasesMustBeOlderThanTheCommit) {
  Commit c = Sample();
  c.changes[0].fields[1].base->hlc = c.hlc;
  ExpectRefused(c, "base version is not older");
  c = Sample();
  c.changes[0].fields[2].resolves[0].hlc = Hlc::FromParts(1'800'000'000'000, 0);
  ExpectRefused(c, "resolves a version that is not older");
}

TEST_F(ValidateCommitTest, DuplicatesAndEmptinessAreRefused) {
  Commit c = Sample();
  c.changes.push_back(c.changes[0]);
  ExpectRefused(c, "changed twice");
  c = Sample();
  c.changes[0].fields.push_back(c.changes[0].fields[1]);
  ExpectRefused(c, "written twice");
  c = Sample();
  c.changes.clear();
  ExpectRefused(c, "changes nothing");
  c = Sample();
  c.seq = 0;
  ExpectRefused(c, "sequence");
}

}  // namespace
}  // namespace fieldsync
