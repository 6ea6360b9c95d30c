// Signed statements (crypto/statement.h, docs/PROTOCOL-v3.md section 6): the
// bytes are the documented ones (built here independently), decoding is
// strict, and the signature binds every byte.
#include "crypto/statement.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <string>
#include <vector>

#include "crypto_test_util.h"
#include "support/must.h"

namespace fieldsync::crypto {
namespace {

using crypto_test::FixedId;
using crypto_test::PutU64;
using crypto_test::U;

Statement Sample(const DeviceId& signer) {
  Statement s;
  s.signer = signer;
  s.created_hlc = (uint64_t{1764900000000} << 16) | 3;
  s.province = "LC";
  s.hub_id = FixedId(0x40);
  s.position = 77;
  s.key_cursor = 12;
  s.heads.push_back(StatedHead{FixedId(0x10), 5, std::string(32, '\x05')});
  s.heads.push_back(StatedHead{FixedId(0x20), 1, std::string(32, '\x01')});
  s.refused.push_back(StatedRange{3, 4});
  return s;
}

// The bytes before the signature, as the format table in statement.h says.
std::string SpecBody(const Statement& s) {
  std::string b;
  b.push_back('\xF8');
  b.push_back('\x01');
  b.push_back(static_cast<char>(s.kind));
  b.append(s.signer.view());
  PutU64(&b, s.created_hlc);
  b.push_back(static_cast<char>(s.province.size()));
  b.append(s.province);
  b.append(s.hub_id.view());
  PutU64(&b, s.position);
  b.append(s.position_hash);
  PutU64(&b, s.key_cursor);
  b.append(s.key_hash);
  b.push_back(static_cast<char>(s.heads.size() >> 8));
  b.push_back(static_cast<char>(s.heads.size() & 0xFF));
  for (const StatedHead& h : s.heads) {
    b.append(h.author.view());
    PutU64(&b, h.seq);
    b.append(h.link);
  }
  b.push_back(static_cast<char>(s.refused.size()));
  for (const StatedRange& r : s.refused) {
    PutU64(&b, r.first);
    PutU64(&b, r.last);
  }
  return b;
}

TEST(StatementFormatTest, BytesAreTheDocumentedOnesAndTheSignatureIsTheSignersOverThem) {
  DeviceIdentity id = DeviceIdentity::Generate(FixedId(0x01));
  const Statement s = Sample(id.device());
  const std::string bytes = Must(SignStatement(id, s));
  const std::string body = SpecBody(s);
  ASSERT_EQ(bytes.size(), body.size() + 64);
  EXPECT_EQ(bytes.substr(0, body.size()), body);
  std::string m = "fieldsync statement v1";
  m.push_back('\0');
  m += body;
  EXPECT_EQ(crypto_sign_verify_detached(U(bytes.substr(body.size())), U(m), m.size(),
                                        U(id.public_keys().sign_pk)),
            0);
  EXPECT_TRUE(VerifyStatement(bytes, id.public_keys().sign_pk).ok());
  EXPECT_EQ(Must(DecodeStatement(bytes)), s);
  EXPECT_EQ(StatementId(bytes).size(), 16u);
}

TEST(StatementFormatTest, EveryByteIsBoundBySignature) {
  DeviceIdentity id = DeviceIdentity::Generate(FixedId(0x01));
  const std::string bytes = Must(SignStatement(id, Sample(id.device())));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string t = bytes;
    t[i] = static_cast<char>(t[i] ^ 0x01);
    EXPECT_FALSE(VerifyStatement(t, id.public_keys().sign_pk).ok()) << "byte " << i;
  }
  DeviceIdentity other = DeviceIdentity::Generate(FixedId(0x01));
  EXPECT_EQ(VerifyStatement(bytes, other.public_keys().sign_pk).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(StatementFormatTest, DecodingIsStrict) {
  DeviceIdentity id = DeviceIdentity::Generate(FixedId(0x01));
  const std::string good = Must(SignStatement(id, Sample(id.device())));
  // Truncated anywhere, or with a byte more: refused.
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeStatement(good.substr(0, n)).ok()) << n;
  }
  std::string longer = good;
  longer.insert(longer.size() - 64, 1, '\0');
  EXPECT_FALSE(DecodeStatement(longer).ok());
  std::string magic = good;
  magic[0] = '\xF7';
  EXPECT_FALSE(DecodeStatement(magic).ok());
  std::string format = good;
  format[1] = '\x02';
  EXPECT_FALSE(DecodeStatement(format).ok());
  std::string kind = good;
  kind[2] = '\x03';
  EXPECT_FALSE(DecodeStatement(kind).ok());
  EXPECT_FALSE(DecodeStatement(std::string(9000, '\xF8')).ok());
}

TEST(StatementFormatTest, RulesAreCheckedWhenSigningSoNothingUndecodableIsSigned) {
  DeviceIdentity id = DeviceIdentity::Generate(FixedId(0x01));
  auto refused = [&](auto change) {
    Statement s = Sample(id.device());
    change(s);
    return SignStatement(id, s).status().code() == absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(refused([](Statement& s) { std::swap(s.heads[0], s.heads[1]); }));
  EXPECT_TRUE(refused([](Statement& s) { s.heads[1].author = s.heads[0].author; }));
  EXPECT_TRUE(refused([](Statement& s) { s.heads[0].seq = 0; }));
  EXPECT_TRUE(refused([](Statement& s) { s.heads[0].link = "short"; }));
  EXPECT_TRUE(refused([](Statement& s) { s.refused.push_back(StatedRange{2, 2}); }));
  EXPECT_TRUE(refused([](Statement& s) { s.refused[0] = StatedRange{4, 3}; }));
  EXPECT_TRUE(refused([](Statement& s) { s.province = ""; }));
  EXPECT_TRUE(refused([](Statement& s) { s.root = std::string(32, 'r'); }));
  EXPECT_TRUE(refused([](Statement& s) { s.signer = FixedId(0x02); }));
  EXPECT_TRUE(refused([](Statement& s) {
    s.heads.clear();
    for (int i = 0; i < 129; ++i) {
      s.heads.push_back(StatedHead{FixedId(static_cast<uint8_t>(i)), 1, std::string(32, 'l')});
    }
    std::sort(s.heads.begin(), s.heads.end(),
              [](const StatedHead& a, const StatedHead& b) { return a.author < b.author; });
  }));
  // 128 heads fit, under 8 KB.
  Statement full = Sample(id.device());
  full.heads.clear();
  for (int i = 0; i < 128; ++i) {
    full.heads.push_back(StatedHead{FixedId(static_cast<uint8_t>(2 * i)), 9, std::string(32, 'l')});
  }
  std::sort(full.heads.begin(), full.heads.end(),
            [](const StatedHead& a, const StatedHead& b) { return a.author < b.author; });
  full.heads.erase(std::unique(full.heads.begin(), full.heads.end(),
                               [](const StatedHead& a, const StatedHead& b) {
                                 return a.author == b.author;
                               }),
                   full.heads.end());
  std::string bytes = Must(SignStatement(id, full));
  EXPECT_LE(bytes.size(), kMaxStatementBytes);
  EXPECT_EQ(Must(DecodeStatement(bytes)), full);
}

TEST(StatementFormatTest, ACheckpointStatementCarriesItsRoot) {
  DeviceIdentity id = DeviceIdentity::Generate(FixedId(0x01));
  Statement s = Sample(id.device());
  s.kind = StatementKind::kSeenAndCheckpoint;
  s.leaf_count = 4000;
  s.root = std::string(32, 'R');
  const std::string bytes = Must(SignStatement(id, s));
  EXPECT_EQ(Must(DecodeStatement(bytes)), s);
}

}  // namespace
}  // namespace fieldsync::crypto
