// Office membership (sync-core/crypto/membership.h), the pairing code
// (pairing_code.h) and membership records (key record kind 6): the chain
// back to the root, removals and the approvals they keep, back-dated or
// forged links, order independence, and a frozen pairing code computed
// independently (Python's hashlib.blake2b) from docs/CRYPTO.md.
#include "crypto/membership.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "crypto/pairing_code.h"
#include "crypto_test_util.h"

namespace fieldsync::crypto {
namespace {

using crypto_test::FixedId;
using crypto_test::SignByHand;
using ::testing::HasSubstr;

const std::string kOffice = "LC";

Hlc At(int t) { return Hlc::FromParts(1'764'000'000'000 + static_cast<uint64_t>(t), 0); }

class MembershipTest : public ::testing::Test {
 protected:
  MembershipTest()
      : root_(DeviceIdentity::Generate(FixedId(0x10))),
        a_(DeviceIdentity::Generate(FixedId(0x20))),
        b_(DeviceIdentity::Generate(FixedId(0x30))),
        c_(DeviceIdentity::Generate(FixedId(0x40))),
        x_(DeviceIdentity::Generate(FixedId(0x50))) {}

  KeyRecord Approve(const DeviceIdentity& by, const DeviceIdentity& who, int t) {
    return Must(MembershipRecord(by, At(t), kOffice, MembershipAction::kApprove, who.public_keys()));
  }
  KeyRecord Remove(const DeviceIdentity& by, const DeviceIdentity& who, int t,
                   std::vector<std::string> kept = {}) {
    return Must(MembershipRecord(by, At(t), kOffice, MembershipAction::kRemove, who.public_keys(),
                            std::move(kept)));
  }
  Membership Of(const std::vector<KeyRecord>& records, std::set<DeviceId> revoked = {}) {
    return ComputeMembership(root_.public_keys(), records, revoked);
  }

  DeviceIdentity root_, a_, b_, c_, x_;
};

TEST_F(MembershipTest, TheRootAloneIsAMember) {
  Membership m = Of({});
  EXPECT_TRUE(m.IsMember(root_.device()));
  EXPECT_FALSE(m.IsMember(a_.device()));
}

TEST_F(MembershipTest, ApprovalsChainBackToTheRootInAnyOrderOfArrival) {
  std::vector<KeyRecord> records = {Approve(root_, a_, 1), Approve(a_, b_, 2),
                                    Approve(b_, c_, 3)};
  std::mt19937 rng(7);
  for (int i = 0; i < 6; ++i) {
    std::shuffle(records.begin(), records.end(), rng);
    Membership m = Of(records);
    for (const DeviceIdentity* d : {&root_, &a_, &b_, &c_}) EXPECT_TRUE(m.IsMember(d->device()));
    EXPECT_EQ(m.approved_by.at(c_.device()), b_.device());
  }
}

TEST_F(MembershipTest, AnApprovalBySomeoneOutsideTheChainCountsForNothing) {
  Membership m = Of({Approve(x_, a_, 1), Approve(a_, b_, 2)});
  EXPECT_FALSE(m.IsMember(a_.device()));
  EXPECT_FALSE(m.IsMember(b_.device()));
}

TEST_F(MembershipTest, AnApprovalSignedWithOtherKeysThanTheSignerWasApprovedWithIsRefused) {
  // x_ signs an approval claiming to be a_ (same device id, its own keys).
  DeviceIdentity fake_a = DeviceIdentity::Generate(a_.device());
  Membership m = Of({Approve(root_, a_, 1), Approve(fake_a, b_, 2)});
  EXPECT_TRUE(m.IsMember(a_.device()));
  EXPECT_FALSE(m.IsMember(b_.device()));
  ASSERT_FALSE(m.problems.empty());
  EXPECT_THAT(m.problems.front(), HasSubstr("does not verify"));
}

TEST_F(MembershipTest, ASecondApprovalWithOtherKeysForAKnownDeviceIsIgnored) {
  DeviceIdentity other_keys = DeviceIdentity::Generate(a_.device());
  Membership m = Of({Approve(root_, a_, 1), Approve(root_, other_keys, 2)});
  ASSERT_TRUE(m.IsMember(a_.device()));
  EXPECT_EQ(m.members.at(a_.device()).sign_pk, a_.public_keys().sign_pk);
  ASSERT_FALSE(m.problems.empty());
  EXPECT_THAT(m.problems.front(), HasSubstr("other keys"));
}

TEST_F(MembershipTest, ARemovedDevicesApprovalsStayOnlyIfTheRemovalKeepsThem) {
  const KeyRecord a_by_root = Approve(root_, a_, 1);
  const KeyRecord b_by_a = Approve(a_, b_, 2);
  // A back-dated approval the removed device signs later: not kept.
  const KeyRecord c_by_a = Approve(a_, c_, 1);
  Membership kept = Of({a_by_root, b_by_a, c_by_a, Remove(root_, a_, 5, {b_by_a.Id()})});
  EXPECT_FALSE(kept.IsMember(a_.device()));
  EXPECT_TRUE(kept.IsMember(b_.device()));
  EXPECT_FALSE(kept.IsMember(c_.device()));
  EXPECT_TRUE(kept.removed.count(a_.device()));
  Membership none = Of({a_by_root, b_by_a, Remove(root_, a_, 5)});
  EXPECT_FALSE(none.IsMember(b_.device()));
}

// A removal keeps at most 16 approvals a record: more are written as
// several removals of the same device, whose kept lists add up; an approval
// none of them lists still falls.
TEST_F(MembershipTest, SeveralRemovalsOfOneDeviceKeepWhatAnyOfThemLists) {
  const KeyRecord a_by_root = Approve(root_, a_, 1);
  const KeyRecord b_by_a = Approve(a_, b_, 2);
  const KeyRecord c_by_a = Approve(a_, c_, 3);
  const KeyRecord x_by_a = Approve(a_, x_, 4);
  std::vector<KeyRecord> records = {a_by_root, b_by_a, c_by_a, x_by_a,
                                    Remove(root_, a_, 10, {b_by_a.Id()}),
                                    Remove(root_, a_, 10, {c_by_a.Id()})};
  std::mt19937 rng(11);
  for (int i = 0; i < 4; ++i) {
    std::shuffle(records.begin(), records.end(), rng);
    Membership m = Of(records);
    EXPECT_FALSE(m.IsMember(a_.device()));
    EXPECT_TRUE(m.IsMember(b_.device()));
    EXPECT_TRUE(m.IsMember(c_.device()));
    EXPECT_FALSE(m.IsMember(x_.device()));
  }
}

TEST_F(MembershipTest, TheRootRemovedStaysTheAnchorOfTheApprovalsItKept) {
  const KeyRecord a_by_root = Approve(root_, a_, 1);
  const KeyRecord b_by_root = Approve(root_, b_, 2);
  Membership m = Of({a_by_root, b_by_root, Remove(a_, root_, 3, {a_by_root.Id(), b_by_root.Id()})});
  EXPECT_FALSE(m.IsMember(root_.device()));
  EXPECT_TRUE(m.IsMember(a_.device()));
  EXPECT_TRUE(m.IsMember(b_.device()));
}

TEST_F(MembershipTest, ARemovalBySomeoneOutsideTheChainCountsForNothing) {
  Membership m = Of({Approve(root_, a_, 1), Remove(x_, a_, 2)});
  EXPECT_TRUE(m.IsMember(a_.device()));
}

TEST_F(MembershipTest, MutualRemovalsRemoveBoth) {
  Membership m = Of({Approve(root_, a_, 1), Approve(root_, b_, 2), Remove(a_, b_, 3),
                     Remove(b_, a_, 3)});
  EXPECT_FALSE(m.IsMember(a_.device()));
  EXPECT_FALSE(m.IsMember(b_.device()));
  EXPECT_TRUE(m.IsMember(root_.device()));
}

TEST_F(MembershipTest, ADeviceRevokedInThisLaptopsRegistryIsNoMemberButItsApprovalsStand) {
  Membership m = Of({Approve(root_, a_, 1), Approve(a_, b_, 2)}, {a_.device()});
  EXPECT_FALSE(m.IsMember(a_.device()));
  EXPECT_TRUE(m.revoked.count(a_.device()));
  EXPECT_TRUE(m.IsMember(b_.device()));
}

// Found by the attack review: a removed (stolen) laptop approves a device
// after its removal, then signs a removal of anyone whose "kept" list names
// that approval. The approval stays invalid.
TEST_F(MembershipTest, ARemovedDeviceCannotReaddAnyoneThroughAKeptListOfItsOwn) {
  const KeyRecord x_by_a = Approve(a_, x_, 100);
  Membership m = Of({Approve(root_, a_, 1), Approve(root_, b_, 2), Remove(b_, a_, 10), x_by_a,
                     Remove(a_, c_, 101, {x_by_a.Id()})});
  EXPECT_FALSE(m.IsMember(a_.device()));
  EXPECT_FALSE(m.IsMember(x_.device()));
  // Nor does a removal keep an approval its subject did not sign.
  const KeyRecord x_by_root = Approve(root_, x_, 3);
  Membership n = Of({Approve(root_, a_, 1), x_by_root, Remove(root_, a_, 10, {x_by_root.Id()}),
                     Remove(root_, x_, 11)});
  EXPECT_FALSE(n.IsMember(x_.device()));
}

// A device approved only by a removed one (after its removal, not kept)
// never becomes a member. Its removals still count (the safe side, and a
// known limit: docs/CRYPTO.md, "Office membership").
TEST_F(MembershipTest, ADeviceApprovedOnlyByARemovedDeviceIsNoMember) {
  Membership m = Of({Approve(root_, a_, 1), Approve(root_, b_, 2), Remove(b_, a_, 10),
                     Approve(a_, x_, 100), Remove(x_, b_, 101)});
  EXPECT_FALSE(m.IsMember(x_.device()));
  EXPECT_FALSE(m.IsMember(a_.device()));
}

// Found by the second review: the root revoked (a member removes it,
// keeping its approvals), then that member revoked too (another removes it,
// keeping its approvals): the office keeps its members.
TEST_F(MembershipTest, TwoRevocationsInTurnLeaveTheOfficeItsMembers) {
  const KeyRecord a_by_root = Approve(root_, a_, 1);
  const KeyRecord b_by_root = Approve(root_, b_, 2);
  Membership m = Of({a_by_root, b_by_root,
                     Remove(a_, root_, 3, {a_by_root.Id(), b_by_root.Id()}), Remove(b_, a_, 4)});
  EXPECT_TRUE(m.IsMember(b_.device()));
  EXPECT_FALSE(m.IsMember(a_.device()));
  EXPECT_FALSE(m.IsMember(root_.device()));
}

TEST_F(MembershipTest, FirstDeviceRecordsMustBeSignedByTheirSubject) {
  KeyRecord own = Must(MembershipRecord(root_, At(1), kOffice, MembershipAction::kFirstDevice,
                                   root_.public_keys()));
  std::vector<KeyRecord> records = {own};
  EXPECT_EQ(FirstDeviceRecords(records).size(), 1u);
  // A first-device record naming another device than its signer does not parse.
  KeyRecord other = own;
  other.subject = a_.public_keys();
  other = SignByHand(root_, other);
  EXPECT_FALSE(ParseKeyRecord(other.bytes).ok());
}

TEST_F(MembershipTest, MembershipRecordsRoundTripAndRefuseMalformedOnes) {
  const KeyRecord a = Approve(root_, a_, 1);
  auto parsed = ParseKeyRecord(a.bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->kind, KeyRecordKind::kMembership);
  EXPECT_EQ(parsed->action, MembershipAction::kApprove);
  EXPECT_EQ(parsed->subject.sign_pk, a_.public_keys().sign_pk);
  EXPECT_TRUE(VerifyKeyRecord(*parsed, root_.public_keys()).ok());
  EXPECT_EQ(crypto_test::SpecKeyRecordBody(*parsed), a.bytes.substr(0, a.bytes.size() - 64));
  // Every byte flipped: refused or no longer verifying.
  for (size_t i = 0; i < a.bytes.size(); ++i) {
    std::string t = a.bytes;
    t[i] = static_cast<char>(t[i] ^ 0x01);
    auto p = ParseKeyRecord(t);
    EXPECT_TRUE(!p.ok() || !VerifyKeyRecord(*p, root_.public_keys()).ok()) << "byte " << i;
  }
  // An approval of oneself, kept approvals on an approval, too many kept.
  EXPECT_FALSE(ParseKeyRecord(SignByHand(a_, [&] {
                                KeyRecord r = a;
                                r.subject = a_.public_keys();
                                return r;
                              }()).bytes).ok());
  KeyRecord with_kept = a;
  with_kept.kept = {std::string(16, 'k')};
  EXPECT_FALSE(ParseKeyRecord(SignByHand(root_, with_kept).bytes).ok());
  KeyRecord removal = Remove(root_, a_, 2, std::vector<std::string>(16, std::string(16, 'k')));
  EXPECT_TRUE(ParseKeyRecord(removal.bytes).ok());
  EXPECT_LE(removal.bytes.size(), kMaxKeyRecordBytes);
  removal.kept.push_back(std::string(16, 'z'));
  EXPECT_FALSE(ParseKeyRecord(SignByHand(root_, removal).bytes).ok());
}

TEST(PairingCodeTest, FrozenKnownAnswerFromAnIndependentComputation) {
  auto bytes = [](int from, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(from + i));
    return s;
  };
  DevicePublic root{*Id16::FromBytes(bytes(0, 16), "root"), bytes(32, 32), bytes(64, 32)};
  DevicePublic subject{*Id16::FromBytes(bytes(100, 16), "subject"), bytes(116, 32),
                       bytes(148, 32)};
  // python3: blake2b(b"fieldsync pairing code v1\0" + root + subject, digest_size=32), four
  // big-endian 40-bit numbers modulo 10^4.
  EXPECT_EQ(PairingCode(root, subject), "2546 9779 9319 1337");
  EXPECT_TRUE(*PairingCodeMatches("2546-9779-9319-1337", root, subject));
  EXPECT_TRUE(*PairingCodeMatches("2546977993191337", root, subject));
  EXPECT_FALSE(*PairingCodeMatches("2546 9779 9319 1338", root, subject));
  EXPECT_FALSE(*PairingCodeMatches("2546 9779 9319 1337", subject, root));
  EXPECT_FALSE(PairingCodeMatches("2546 9779 9319", root, subject).ok());
  EXPECT_FALSE(PairingCodeMatches("2546 9779 9319 133x", root, subject).ok());
}

}  // namespace
}  // namespace fieldsync::crypto
