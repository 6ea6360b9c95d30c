// Commit headers (crypto/commit_header.h, docs/PROTOCOL-v3.md section 1):
// the bytes are the documented ones (checked against an independent
// re-implementation and a frozen vector), decoding is strict, a signature
// and a link bind every byte, and a body, whole or trimmed, matches its
// header only if it is the one the author signed.
#include "crypto/commit_header.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <vector>

#include "crypto/commit_signature.h"
#include "crypto_test_util.h"
#include "support/must.h"

namespace fieldsync::crypto {
namespace {

using crypto_test::FixedId;
using crypto_test::Hex;
using crypto_test::PutU32;
using crypto_test::PutU64;
using crypto_test::U;

// BLAKE2b-256 of domain 0x00 data, straight from libsodium.
std::string SpecHash(std::string_view domain, std::string_view data) {
  std::string m(domain);
  m.push_back('\0');
  m.append(data);
  std::string out(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), 32, U(m), m.size(), nullptr,
                     0);
  return out;
}

std::string SpecTag(std::string_view table, const RowId& row) {
  std::string in(1, static_cast<char>(table.size()));
  in.append(table);
  in.append(row.view());
  return SpecHash("fieldsync row tag v1", in).substr(0, 16);
}

RowChange Change(std::string table, uint8_t row, std::string value) {
  return RowChange{std::move(table), FixedId(row), {{"name", Value::Text(std::move(value)), {}, {}}}};
}

Commit ThreeChanges(const DeviceId& author, uint64_t seq) {
  Commit c;
  c.author = author;
  c.seq = seq;
  c.hlc = Hlc::FromPacked(0x0001020304050607ull);
  c.changes = {Change("cases", 0x40, "Lò Thị Mai"), Change("persons", 0x50, "Hằng"),
               Change("referrals", 0x60, "sent")};
  return c;
}

class CommitHeaderTest : public ::testing::Test {
 protected:
  DeviceIdentity author_ = DeviceIdentity::Generate(FixedId(0x20));
  DeviceIdentity other_ = DeviceIdentity::Generate(FixedId(0x30));
};

TEST_F(CommitHeaderTest, TheBytesAreTheDocumentedOnes) {
  const Commit c = ThreeChanges(author_.device(), 2);
  const std::string prev(32, '\x7a');
  const std::string got = Must(EncodeCommitHeader(Must(HeaderOfCommit(c, prev))));

  std::string digests, tags;
  for (const RowChange& rc : c.changes) {
    digests += ChangeDigest(rc);
    tags += SpecTag(rc.table, rc.row);
  }
  std::string want = "\xF7\x01";
  want.push_back('\0');
  want += author_.device().view();
  PutU64(&want, 2);
  PutU64(&want, 0x0001020304050607ull);
  want += prev;
  PutU32(&want, 3);
  want += SpecHash("fieldsync changes v1", digests);
  want += SpecHash("fieldsync row tags v1", tags);
  want.push_back('\0');
  EXPECT_EQ(Hex(got), Hex(want));
  EXPECT_EQ(got.size(), kCommitHeaderFixedBytes);
}

// Frozen with Python's hashlib.blake2b(digest_size=32), a third
// implementation: the domain strings and the tag layout cannot drift.
TEST_F(CommitHeaderTest, RowTagsAndEmptyRootsMatchFrozenVectors) {
  EXPECT_EQ(Hex(Must(RowTag("cases", FixedId(0x40)))), "b5ee621ae091f3d52369e4652f112514");
  EXPECT_EQ(Hex(ChangesRoot({})), "9ad22aef0c15394137d3e39a1b3b10357798f3afe5b50bd38968d39d6c3080ef");
  EXPECT_EQ(Hex(TagsRoot({})), "d674e2ec8a83f021d27ed37b8266ad7fa7dc36d3ed727a0fb88cf58de02e412c");
}

TEST_F(CommitHeaderTest, ARowTagNamesTableAndRow) {
  const std::string a = Must(RowTag("cases", FixedId(1)));
  EXPECT_EQ(a, SpecTag("cases", FixedId(1)));
  EXPECT_NE(a, Must(RowTag("cases", FixedId(2))));
  EXPECT_NE(a, Must(RowTag("persons", FixedId(1))));
  EXPECT_FALSE(RowTag(std::string(256, 't'), FixedId(1)).ok());
}

TEST_F(CommitHeaderTest, CommitsAndWithdrawalsDecodeAsEncoded) {
  const CommitHeader first = Must(HeaderOfCommit(ThreeChanges(author_.device(), 1), NoLink()));
  EXPECT_EQ(Must(DecodeCommitHeader(Must(EncodeCommitHeader(first)))), first);

  const std::string l(32, '\x11'), m(32, '\x22'), n(32, '\x33');
  const CommitHeader w = Must(WithdrawalHeader(author_.device(), 9, 77, n,
                                               {{1, 2, NoLink(), l}, {4, 7, m, n}}));
  const std::string bytes = Must(EncodeCommitHeader(w));
  EXPECT_EQ(bytes.size(), kCommitHeaderFixedBytes + 2 * kWithdrawnRangeBytes);
  EXPECT_EQ(Must(DecodeCommitHeader(bytes)), w);
}

TEST_F(CommitHeaderTest, DecodingRefusesEveryMalformedHeader) {
  const std::string good = Must(EncodeCommitHeader(
      Must(HeaderOfCommit(ThreeChanges(author_.device(), 2), std::string(32, '\x01')))));
  ASSERT_TRUE(DecodeCommitHeader(good).ok());
  auto with = [&](size_t at, char byte) {
    std::string b = good;
    b[at] = byte;
    return b;
  };
  EXPECT_FALSE(DecodeCommitHeader(with(0, '\xF6')).ok());            // magic
  EXPECT_FALSE(DecodeCommitHeader(with(1, '\x02')).ok());            // format
  EXPECT_FALSE(DecodeCommitHeader(with(2, '\x02')).ok());            // unknown flag
  EXPECT_FALSE(DecodeCommitHeader(with(2, '\x01')).ok());            // withdrawal with changes
  EXPECT_FALSE(DecodeCommitHeader(with(135, '\x01')).ok());          // ranges in a commit
  EXPECT_FALSE(DecodeCommitHeader(good.substr(0, good.size() - 1)).ok());  // truncated
  EXPECT_FALSE(DecodeCommitHeader(good + "x").ok());                 // trailing
  EXPECT_FALSE(DecodeCommitHeader("").ok());
  std::string seq0 = good;
  for (size_t i = 19; i < 27; ++i) seq0[i] = 0;
  EXPECT_FALSE(DecodeCommitHeader(seq0).ok());
  std::string seq1_with_prev = good;
  for (size_t i = 19; i < 27; ++i) seq1_with_prev[i] = 0;
  seq1_with_prev[26] = 1;
  EXPECT_FALSE(DecodeCommitHeader(seq1_with_prev).ok());
  std::string no_prev = good;
  for (size_t i = 35; i < 67; ++i) no_prev[i] = 0;
  EXPECT_FALSE(DecodeCommitHeader(no_prev).ok());
  // One line naming the problem, never an exception.
  EXPECT_NE(DecodeCommitHeader(with(0, 'x')).status().message().find("malformed commit header"),
            std::string::npos);
}

TEST_F(CommitHeaderTest, WithdrawalsMustNameOrderedRangesBeforeThemselves) {
  const std::string l(32, '\x11'), m(32, '\x22');
  const DeviceId d = author_.device();
  EXPECT_FALSE(WithdrawalHeader(d, 5, 1, m, {}).ok());                         // no range
  EXPECT_FALSE(WithdrawalHeader(d, 5, 1, m, {{2, 5, l, m}}).ok());             // not before it
  EXPECT_FALSE(WithdrawalHeader(d, 9, 1, m, {{3, 4, l, m}, {4, 6, l, m}}).ok());  // overlap
  EXPECT_FALSE(WithdrawalHeader(d, 9, 1, m, {{5, 6, l, m}, {2, 3, l, m}}).ok());  // order
  EXPECT_FALSE(WithdrawalHeader(d, 9, 1, m, {{3, 2, l, m}}).ok());             // first > last
  EXPECT_FALSE(WithdrawalHeader(d, 9, 1, m, {{1, 2, l, m}}).ok());  // seq 1 names a link
  EXPECT_FALSE(WithdrawalHeader(d, 9, 1, m, {{2, 2, NoLink(), m}}).ok());
  std::vector<WithdrawnRange> nine;
  for (uint64_t s = 1; s <= 9; ++s) nine.push_back({s * 2, s * 2, l, m});
  EXPECT_FALSE(WithdrawalHeader(d, 30, 1, m, nine).ok());
  nine.pop_back();
  EXPECT_TRUE(WithdrawalHeader(d, 30, 1, m, nine).ok());
}

TEST_F(CommitHeaderTest, TheSignatureCoversEveryByteAndOnlyTheAuthorsKey) {
  const std::string h = Must(EncodeCommitHeader(
      Must(HeaderOfCommit(ThreeChanges(author_.device(), 1), NoLink()))));
  const std::string sig = Must(SignCommitHeader(author_, h));
  const std::string& pk = author_.public_keys().sign_pk;
  EXPECT_TRUE(VerifyCommitHeader(h, sig, pk).ok());
  EXPECT_EQ(VerifyCommitHeader(h, sig, other_.public_keys().sign_pk).code(),
            absl::StatusCode::kUnauthenticated);
  for (size_t i = 0; i < h.size(); ++i) {
    std::string t = h;
    t[i] ^= 0x01;
    EXPECT_FALSE(VerifyCommitHeader(t, sig, pk).ok()) << "byte " << i;
  }
  // A signature made for another purpose (a v1 commit signature's domain)
  // does not pass for a header's.
  const std::string v1 = Must(author_.Sign(kCommitSignDomain, h));
  EXPECT_FALSE(VerifyCommitHeader(h, v1, pk).ok());
}

TEST_F(CommitHeaderTest, LinksChainEntriesAndChangeWithAnyByte) {
  const Commit c1 = ThreeChanges(author_.device(), 1);
  const std::string h1 = Must(EncodeCommitHeader(Must(HeaderOfCommit(c1, NoLink()))));
  const std::string s1 = Must(SignCommitHeader(author_, h1));
  const std::string link1 = CommitLink(h1, s1);
  EXPECT_EQ(link1, SpecHash("fieldsync commit link v1", h1 + s1));
  const CommitHeader second = Must(HeaderOfCommit(ThreeChanges(author_.device(), 2), link1));
  EXPECT_EQ(second.prev_link, link1);
  std::string t = s1;
  t[0] ^= 1;
  EXPECT_NE(CommitLink(h1, t), link1);
  std::string u = h1;
  u[30] ^= 1;
  EXPECT_NE(CommitLink(u, s1), link1);
}

TEST_F(CommitHeaderTest, AWholeOrTrimmedBodyMatchesItsHeaderAndNothingElse) {
  const Commit whole = ThreeChanges(author_.device(), 3);
  const CommitHeader h = Must(HeaderOfCommit(whole, std::string(32, '\x05')));
  EXPECT_TRUE(CheckHeaderCoversCommit(h, whole, {}).ok());

  // Trimmed to a node's scope: the persons change left out, its digest and
  // tag sent instead.
  Commit trimmed = whole;
  trimmed.changes.erase(trimmed.changes.begin() + 1);
  trimmed.omitted = {{1, ChangeDigest(whole.changes[1])}};
  const std::string tag1 = Must(RowTag("persons", FixedId(0x50)));
  EXPECT_TRUE(CheckHeaderCoversCommit(h, trimmed, {tag1}).ok());

  // A hub hiding which row was touched (another tag), or changing a kept
  // change, or the clock, is caught.
  EXPECT_EQ(CheckHeaderCoversCommit(h, trimmed, {Must(RowTag("persons", FixedId(0x51)))}).code(),
            absl::StatusCode::kUnauthenticated);
  Commit edited = whole;
  edited.changes[0].fields[0].value = Value::Text("Lò Thị Mây");
  EXPECT_FALSE(CheckHeaderCoversCommit(h, edited, {}).ok());
  Commit later = whole;
  later.hlc = Hlc::FromPacked(whole.hlc.packed() + 1);
  EXPECT_FALSE(CheckHeaderCoversCommit(h, later, {}).ok());
  Commit reordered = whole;
  std::swap(reordered.changes[0], reordered.changes[2]);
  EXPECT_FALSE(CheckHeaderCoversCommit(h, reordered, {}).ok());
  Commit dropped = whole;
  dropped.changes.pop_back();
  EXPECT_FALSE(CheckHeaderCoversCommit(h, dropped, {}).ok());
  EXPECT_FALSE(CheckHeaderCoversCommit(h, trimmed, {}).ok());  // tag missing
  Commit other_seq = whole;
  other_seq.seq = 4;
  EXPECT_FALSE(CheckHeaderCoversCommit(h, other_seq, {}).ok());
  const CommitHeader w = Must(WithdrawalHeader(author_.device(), 3, 1, std::string(32, '\x05'),
                                               {{2, 2, std::string(32, '\x06'), std::string(32, '\x07')}}));
  Commit body;
  body.author = author_.device();
  body.seq = 3;
  EXPECT_FALSE(CheckHeaderCoversCommit(w, body, {}).ok());
}

}  // namespace
}  // namespace fieldsync::crypto
