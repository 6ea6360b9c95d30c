// The sealed field envelope (sync-core/crypto/envelope.h): round trips, the
// binding of a ciphertext to its place, the key commitment, padding buckets
// and the refusal of malformed input (SECURITY.md, tests 1, 6 and 8).
#include "crypto/envelope.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "change/id.h"
#include "change/value.h"
#include "clock/hlc.h"
#include "crypto/secret.h"
#include "crypto_test_util.h"

namespace fieldsync::crypto {
namespace {

using crypto_test::FixedId;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

// "Nguyễn Thị Hằng", spelled in bytes so the source encoding cannot change it.
const std::string kVietnameseName = "Nguy\xe1\xbb\x85n Th\xe1\xbb\x8b H\xe1\xba\xb1ng";

constexpr uint32_t kVersion = 3;
constexpr Hlc kHlc = Hlc::FromParts(1'764'000'000'000, 5);

class EnvelopeTest : public ::testing::Test {
 protected:
  EnvelopeTest()
      : key_(SecretBytes::Random(kDataKeyBytes)),
        ring_(FixedId(0x10)),
        row_(FixedId(0x20)),
        author_(FixedId(0x30)) {}

  FieldContext Where() const { return FieldContext{"persons", row_, "full_name", kHlc, author_}; }

  std::string Seal(const Value& v) const { return SealAt(v, Where()); }
  std::string SealAt(const Value& v, const FieldContext& w) const {
    absl::StatusOr<std::string> s = SealValue(key_, ring_, kVersion, w, v);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : std::string();
  }

  // Seals `v` here and checks it opens back here: the fixture works, so a
  // later refusal is the property under test and nothing else.
  std::string SealChecked(const Value& v) const {
    std::string sealed = Seal(v);
    absl::StatusOr<Value> back = OpenValue(key_, sealed, Where());
    EXPECT_TRUE(back.ok()) << back.status();
    if (back.ok()) {
      EXPECT_EQ(*back, v);
    }
    return sealed;
  }

  SecretBytes key_;
  RowId ring_;
  RowId row_;
  DeviceId author_;
};

void ExpectRoundTrip(const SecretBytes& key, const RowId& ring, const FieldContext& w,
                     const Value& v) {
  absl::StatusOr<std::string> sealed = SealValue(key, ring, kVersion, w, v);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_TRUE(LooksSealed(*sealed));
  absl::StatusOr<EnvelopeHeader> h = ParseEnvelope(*sealed);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->keyring, ring);
  EXPECT_EQ(h->key_version, kVersion);
  absl::StatusOr<Value> back = OpenValue(key, *sealed, w);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, v) << "sent " << v.DebugString() << ", got " << back->DebugString();
  EXPECT_EQ(back->kind(), v.kind());
}

// ---- Round trips ----

TEST_F(EnvelopeTest, TextRoundTrips) {
  for (const std::string& s : {std::string(""), std::string("a"), std::string("Tran Van An"),
                               std::string(31, 'x'), std::string(5000, 'y')}) {
    ExpectRoundTrip(key_, ring_, Where(), Value::Text(s));
  }
}

TEST_F(EnvelopeTest, VietnameseTextRoundTripsAndIsNotInTheCiphertext) {
  ASSERT_EQ(kVietnameseName.size(), 21u);
  ExpectRoundTrip(key_, ring_, Where(), Value::Text(kVietnameseName));
  const std::string sealed = Seal(Value::Text(kVietnameseName));
  EXPECT_EQ(sealed.find("Nguy"), std::string::npos);
  EXPECT_EQ(sealed.find("H\xe1\xba\xb1ng"), std::string::npos);
}

TEST_F(EnvelopeTest, BytesRoundTrip) {
  // Bytes that look like padding (0x80, trailing zeros) must survive unpadding.
  for (const std::string& b :
       {std::string(), std::string("\x00", 1), std::string("\x80", 1),
        std::string("\x01\x80\x00\x00", 4), std::string(30, '\0'), std::string(31, '\x80'),
        std::string("\xff\xfe\x00\x80\x00", 5), std::string(300, '\x80')}) {
    ExpectRoundTrip(key_, ring_, Where(), Value::Bytes(b));
  }
}

TEST_F(EnvelopeTest, IntsRoundTrip) {
  for (int64_t v :
       {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{42}, int64_t{0x80}, int64_t{1'764'000'000'000},
        std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    ExpectRoundTrip(key_, ring_, Where(), Value::Int(v));
  }
}

TEST_F(EnvelopeTest, KindIsPreservedForEqualPayloads) {
  const std::string text_sealed = Seal(Value::Text("5"));
  const std::string bytes_sealed = Seal(Value::Bytes("5"));
  absl::StatusOr<Value> t = OpenValue(key_, text_sealed, Where());
  absl::StatusOr<Value> b = OpenValue(key_, bytes_sealed, Where());
  ASSERT_TRUE(t.ok() && b.ok());
  EXPECT_EQ(t->kind(), Value::Kind::kText);
  EXPECT_EQ(b->kind(), Value::Kind::kBytes);
}

// ---- A ciphertext moved elsewhere does not open ----

TEST_F(EnvelopeTest, MovedToAnotherColumnDoesNotOpen) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  for (std::string_view column : {"phone", "full_nam", "full_name ", "narrative", ""}) {
    FieldContext w = Where();
    w.column = column;
    absl::StatusOr<Value> v = OpenValue(key_, sealed, w);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kUnauthenticated) << column;
    // Another field has another field key: refused by the key commitment,
    // before any decryption.
    EXPECT_THAT(std::string(v.status().message()), HasSubstr("key commitment")) << column;
  }
}

TEST_F(EnvelopeTest, MovedToAnotherRowDoesNotOpen) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  for (uint8_t first : {0x21, 0x00, 0x30}) {
    FieldContext w = Where();
    w.row = FixedId(first);
    absl::StatusOr<Value> v = OpenValue(key_, sealed, w);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kUnauthenticated) << int{first};
  }
}

TEST_F(EnvelopeTest, MovedToAnotherTableDoesNotOpen) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  for (std::string_view table : {"cases", "person", "persons_archive", ""}) {
    FieldContext w = Where();
    w.table = table;
    absl::StatusOr<Value> v = OpenValue(key_, sealed, w);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kUnauthenticated) << table;
    EXPECT_THAT(std::string(v.status().message()), HasSubstr("key commitment")) << table;
  }
  // The table/column split is unambiguous: "persons"."full_name" is not
  // "persons\0full"."name" nor "persons"."full\0name".
  FieldContext w = Where();
  w.table = std::string_view("persons\0full", 12);
  w.column = "name";
  EXPECT_EQ(OpenValue(key_, sealed, w).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(EnvelopeTest, MovedToAnotherCaseDoesNotOpen) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  const SecretBytes other_case_key = SecretBytes::Random(kDataKeyBytes);
  const RowId other_ring = FixedId(0x11);

  // Opened with the other case's key (the row now belongs to that case).
  EXPECT_EQ(OpenValue(other_case_key, sealed, Where()).status().code(),
            absl::StatusCode::kUnauthenticated);

  // Its header rewritten to name the other key ring: opens under neither key.
  std::string relabelled = sealed;
  relabelled.replace(2, 16, other_ring.view());
  absl::StatusOr<EnvelopeHeader> h = ParseEnvelope(relabelled);
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->keyring, other_ring);
  EXPECT_EQ(OpenValue(other_case_key, relabelled, Where()).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(OpenValue(key_, relabelled, Where()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(EnvelopeTest, MovedToAnotherKeyVersionDoesNotOpen) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  const SecretBytes next_version_key = SecretBytes::Random(kDataKeyBytes);

  // The same case's next key version does not open it.
  EXPECT_EQ(OpenValue(next_version_key, sealed, Where()).status().code(),
            absl::StatusCode::kUnauthenticated);

  // Its header rewritten to claim the next version: opens under neither key.
  std::string relabelled = sealed;
  relabelled[21] = static_cast<char>(kVersion + 1);
  absl::StatusOr<EnvelopeHeader> h = ParseEnvelope(relabelled);
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->key_version, kVersion + 1);
  EXPECT_EQ(OpenValue(key_, relabelled, Where()).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(OpenValue(next_version_key, relabelled, Where()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// ---- Any edited header byte, HLC or author fails ----

TEST_F(EnvelopeTest, EveryHeaderBitFlipFails) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  ASSERT_GE(sealed.size(), kEnvelopeHeaderBytes);
  for (size_t i = 0; i < kEnvelopeHeaderBytes; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string t = sealed;
      t[i] = static_cast<char>(t[i] ^ (1 << bit));
      absl::StatusOr<EnvelopeHeader> parsed = ParseEnvelope(t);
      absl::StatusOr<Value> opened = OpenValue(key_, t, Where());
      ASSERT_FALSE(opened.ok()) << "byte " << i << " bit " << bit << " opened";
      if (i == 0) {  // magic
        EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bit;
        EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument) << bit;
      } else if (i == 1) {  // format version
        EXPECT_EQ(parsed.status().code(), absl::StatusCode::kFailedPrecondition) << bit;
        EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition) << bit;
      } else {  // key ring, key version, nonce, commitment: parse, then refuse to open
        EXPECT_TRUE(parsed.ok()) << "byte " << i << " bit " << bit << ": " << parsed.status();
        EXPECT_EQ(opened.status().code(), absl::StatusCode::kUnauthenticated)
            << "byte " << i << " bit " << bit << ": " << opened.status();
      }
    }
  }
}

TEST_F(EnvelopeTest, EveryCiphertextBitFlipFails) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  for (size_t i = kEnvelopeHeaderBytes; i < sealed.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string t = sealed;
      t[i] = static_cast<char>(t[i] ^ (1 << bit));
      EXPECT_EQ(OpenValue(key_, t, Where()).status().code(), absl::StatusCode::kUnauthenticated)
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST_F(EnvelopeTest, EditedHlcInTheContextFails) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  for (Hlc hlc : {Hlc::FromPacked(kHlc.packed() + 1), Hlc::FromPacked(kHlc.packed() - 1),
                  Hlc::FromParts(kHlc.wall_millis() + 1, kHlc.counter()),
                  Hlc::FromPacked(kHlc.packed() ^ (uint64_t{1} << 63)), Hlc()}) {
    FieldContext w = Where();
    w.hlc = hlc;
    EXPECT_EQ(OpenValue(key_, sealed, w).status().code(), absl::StatusCode::kUnauthenticated)
        << hlc.packed();
  }
}

TEST_F(EnvelopeTest, EditedAuthorInTheContextFails) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  for (const DeviceId& author : {FixedId(0x31), DeviceId(), row_}) {
    FieldContext w = Where();
    w.author = author;
    EXPECT_EQ(OpenValue(key_, sealed, w).status().code(), absl::StatusCode::kUnauthenticated)
        << author.ToString();
  }
}

// ---- Key commitment ----

TEST_F(EnvelopeTest, WrongDataKeyIsCaughtByTheKeyCommitment) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  const SecretBytes wrong = SecretBytes::Random(kDataKeyBytes);
  absl::StatusOr<Value> v = OpenValue(wrong, sealed, Where());
  ASSERT_EQ(v.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("key commitment"));
  EXPECT_THAT(std::string(v.status().message()), Not(HasSubstr("does not authenticate")));
}

TEST_F(EnvelopeTest, EditedCommitmentOrNonceIsCaughtByTheKeyCommitment) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  // Bytes 22..45 are the nonce (the commitment covers it), 46..77 the commitment.
  for (size_t i = 22; i < kEnvelopeHeaderBytes; ++i) {
    std::string t = sealed;
    t[i] = static_cast<char>(t[i] ^ 0x01);
    absl::StatusOr<Value> v = OpenValue(key_, t, Where());
    ASSERT_EQ(v.status().code(), absl::StatusCode::kUnauthenticated) << i;
    EXPECT_THAT(std::string(v.status().message()), HasSubstr("key commitment")) << i;
  }
}

TEST_F(EnvelopeTest, AeadFailureIsReportedDistinctlyFromTheCommitment) {
  // A row move passes the commitment (same field key) and fails the AEAD: the
  // two checks are separate, so the messages above really come from the
  // commitment and not from a failed decryption.
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  FieldContext w = Where();
  w.row = FixedId(0x21);
  absl::StatusOr<Value> v = OpenValue(key_, sealed, w);
  ASSERT_EQ(v.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(v.status().message()), Not(HasSubstr("key commitment")));
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("does not authenticate"));
}

TEST_F(EnvelopeTest, AuthenticCiphertextWithAWrongCommitmentIsNotDecrypted) {
  // Built by hand: the AEAD is valid under this field's key (header with the
  // bad commitment included in the additional data), but the commitment is
  // that of another key. Only a commitment check refuses it.
  const std::string nonce(24, '\x42');
  const std::string field_key = crypto_test::SpecFieldKey(key_.view(), "persons", "full_name");
  const std::string other_field_key =
      crypto_test::SpecFieldKey(SecretBytes::Random(kDataKeyBytes).view(), "persons", "full_name");
  const std::string plain =
      crypto_test::SpecPlaintext(static_cast<uint8_t>(Value::Kind::kText), kVietnameseName);

  // Sanity: with the right commitment the hand-built envelope opens.
  const std::string good =
      crypto_test::SpecSeal(field_key, ring_, kVersion, nonce,
                            crypto_test::SpecCommitment(field_key, nonce), Where(), plain);
  absl::StatusOr<Value> ok = OpenValue(key_, good, Where());
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(*ok, Value::Text(kVietnameseName));

  const std::string bad =
      crypto_test::SpecSeal(field_key, ring_, kVersion, nonce,
                            crypto_test::SpecCommitment(other_field_key, nonce), Where(), plain);
  absl::StatusOr<Value> v = OpenValue(key_, bad, Where());
  ASSERT_EQ(v.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("key commitment"));
}

// ---- Padding ----

TEST_F(EnvelopeTest, CiphertextSizeIsHeaderPlusPaddedBucketPlusTag) {
  struct Case {
    size_t n;
    size_t size;
  };
  // 78 header + bucket of (1 kind byte + n + at least 1 padding byte) + 16 tag.
  for (const Case& c : {Case{0, 126}, Case{1, 126}, Case{30, 126}, Case{31, 158}, Case{32, 158},
                        Case{100, 222}, Case{1000, 1118}}) {
    const size_t formula = kEnvelopeHeaderBytes + PaddedLength(c.n + 1) + kEnvelopeTagBytes;
    EXPECT_EQ(formula, c.size) << c.n;
    EXPECT_EQ(Seal(Value::Text(std::string(c.n, 'a'))).size(), formula) << "text of " << c.n;
    EXPECT_EQ(Seal(Value::Bytes(std::string(c.n, '\x80'))).size(), formula) << "bytes of " << c.n;
  }
  EXPECT_EQ(Seal(Value::Int(std::numeric_limits<int64_t>::min())).size(), 126u);
}

TEST_F(EnvelopeTest, LengthsWithinOneBucketGiveEqualSizes) {
  // Payload lengths where the bucket changes (kind byte + payload + 0x80 no
  // longer fit): 32, 64, 128, 256, then every 256.
  const std::vector<size_t> boundaries = {31, 63, 127, 255, 511, 767, 1023};
  size_t prev = Seal(Value::Text("")).size();
  for (size_t n = 1; n <= 1100; ++n) {
    const size_t size = Seal(Value::Text(std::string(n, 'a'))).size();
    const bool boundary = std::find(boundaries.begin(), boundaries.end(), n) != boundaries.end();
    if (boundary) {
      EXPECT_GT(size, prev) << n;
    } else {
      EXPECT_EQ(size, prev) << n;
    }
    prev = size;
  }
}

TEST_F(EnvelopeTest, LongestValueSealsAndOneByteMoreIsRefused) {
  const size_t longest = 64 * 1024 - 1;  // kind byte + payload <= 64 KiB
  const std::string sealed = Seal(Value::Text(std::string(longest, 'n')));
  EXPECT_EQ(sealed.size(), kEnvelopeHeaderBytes + kMaxSealedPlaintext + kEnvelopeTagBytes);
  absl::StatusOr<Value> back = OpenValue(key_, sealed, Where());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->str().size(), longest);

  absl::StatusOr<std::string> too_long =
      SealValue(key_, ring_, kVersion, Where(), Value::Text(std::string(longest + 1, 'n')));
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- Malformed envelopes: clear errors, never a crash ----

TEST_F(EnvelopeTest, UnknownFormatVersionIsFailedPrecondition) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  for (int version : {0, 2, 3, 0x7f, 0xff}) {
    std::string t = sealed;
    t[1] = static_cast<char>(version);
    absl::StatusOr<EnvelopeHeader> h = ParseEnvelope(t);
    EXPECT_EQ(h.status().code(), absl::StatusCode::kFailedPrecondition) << version;
    EXPECT_THAT(std::string(h.status().message()), HasSubstr("format version")) << version;
    EXPECT_EQ(OpenValue(key_, t, Where()).status().code(), absl::StatusCode::kFailedPrecondition)
        << version;
  }
  // A newer version is refused even when nothing else of the envelope is there.
  EXPECT_EQ(ParseEnvelope(std::string("\xF5\x02", 2)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(EnvelopeTest, EveryTruncationIsRefusedWithAClearError) {
  for (size_t n : {size_t{0}, size_t{1000}}) {
    const std::string sealed = SealChecked(Value::Text(std::string(n, 't')));
    for (size_t len = 0; len < sealed.size(); ++len) {
      const std::string t = sealed.substr(0, len);
      absl::StatusOr<EnvelopeHeader> h = ParseEnvelope(t);
      absl::StatusOr<Value> v = OpenValue(key_, t, Where());
      ASSERT_FALSE(v.ok()) << "prefix of " << len << " bytes opened";
      // A prefix that ends exactly on a smaller padding bucket is well formed
      // and fails authentication; every other prefix is malformed.
      const size_t body = len > kEnvelopeHeaderBytes ? len - kEnvelopeHeaderBytes : 0;
      const bool bucket = body > kEnvelopeTagBytes &&
                          PaddedLength(body - kEnvelopeTagBytes - 1) == body - kEnvelopeTagBytes;
      if (bucket) {
        EXPECT_TRUE(h.ok()) << len;
        EXPECT_EQ(v.status().code(), absl::StatusCode::kUnauthenticated) << len;
      } else {
        ASSERT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument) << len;
        EXPECT_THAT(std::string(h.status().message()), HasSubstr("malformed sealed value")) << len;
        EXPECT_EQ(v.status(), h.status()) << len;
      }
    }
  }
}

TEST_F(EnvelopeTest, OversizedEnvelopesAreRefusedWithAClearError) {
  const std::string sealed = SealChecked(Value::Text(kVietnameseName));
  // Trailing bytes that break the bucket: malformed.
  for (size_t extra : {1, 15, 16, 31, 33}) {
    absl::StatusOr<EnvelopeHeader> h = ParseEnvelope(sealed + std::string(extra, '\0'));
    EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument) << extra;
    EXPECT_EQ(OpenValue(key_, sealed + std::string(extra, '\0'), Where()).status().code(),
              absl::StatusCode::kInvalidArgument)
        << extra;
  }
  // Trailing bytes that land on the next bucket: well formed, not authentic.
  EXPECT_EQ(OpenValue(key_, sealed + std::string(32, '\0'), Where()).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Beyond the largest sealed value: malformed, whatever the bucket.
  const std::string header = sealed.substr(0, kEnvelopeHeaderBytes);
  for (size_t body : {kMaxSealedPlaintext + kEnvelopeTagBytes + 1,
                      kMaxSealedPlaintext + kEnvelopeTagBytes + 256, size_t{16} << 20}) {
    const std::string big = header + std::string(body, '\x5a');
    absl::StatusOr<EnvelopeHeader> h = ParseEnvelope(big);
    ASSERT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_THAT(std::string(h.status().message()), HasSubstr("exceeds the limit")) << body;
    EXPECT_EQ(OpenValue(key_, big, Where()).status().code(), absl::StatusCode::kInvalidArgument)
        << body;
  }
}

// ---- Randomised nonces ----

TEST_F(EnvelopeTest, EqualPlaintextsSealedTwiceGiveDifferentCiphertexts) {
  for (const Value& v : {Value::Text(kVietnameseName), Value::Text(""), Value::Int(7),
                         Value::Bytes(std::string(100, '\0'))}) {
    const std::string a = Seal(v);
    const std::string b = Seal(v);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_NE(a, b);
    EXPECT_NE(a.substr(22, 24), b.substr(22, 24)) << "nonce repeated";
    EXPECT_NE(a.substr(kEnvelopeHeaderBytes), b.substr(kEnvelopeHeaderBytes))
        << "ciphertext repeated";
    absl::StatusOr<Value> va = OpenValue(key_, a, Where());
    absl::StatusOr<Value> vb = OpenValue(key_, b, Where());
    ASSERT_TRUE(va.ok() && vb.ok());
    EXPECT_EQ(*va, v);
    EXPECT_EQ(*vb, v);
  }
}

}  // namespace
}  // namespace fieldsync::crypto
