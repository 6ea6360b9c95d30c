// The hub's admission rules that need nothing but the push and the node's
// registered keys (hub/admission.h), and an office's removals computed from
// the records the hub stored (hub/office_removals.h): engine code, tested
// here without any store.
#include "hub/admission.h"

#include <gtest/gtest.h>

#include "change/commit_codec.h"
#include "crypto/commit_signature.h"
#include "crypto/envelope.h"
#include "crypto/identity.h"
#include "crypto/key_record.h"
#include "crypto/secret.h"
#include "hub/office_removals.h"
#include "schema/schema.h"

namespace fieldsync::hub {
namespace {

constexpr uint64_t kWall = 1'764'000'000'000;  // 2025-11

class AdmissionTest : public ::testing::Test {
 protected:
  AdmissionTest()
      : me_(crypto::DeviceIdentity::Generate(DeviceId::NewRandom())),
        other_(crypto::DeviceIdentity::Generate(DeviceId::NewRandom())) {
    node_.device = me_.device();
    node_.province = "LC";
    node_.name = "laptop 1";
    node_.keys = me_.public_keys();
    origin_.schema_version = FieldOfficeSchema().version();
  }

  // A commit of `author` creating a case whose narrative is `narrative`.
  Commit CaseCommit(const crypto::DeviceIdentity& author, const Value& narrative) {
    Commit c;
    c.author = author.device();
    c.seq = 1;
    c.hlc = Hlc::FromParts(kWall, 0);
    RowChange rc;
    rc.table = "cases";
    rc.row = RowId::NewRandom();
    rc.fields.push_back(FieldWrite{"province", Value::Text("LC"), std::nullopt, {}});
    rc.fields.push_back(FieldWrite{"narrative", narrative, std::nullopt, {}});
    c.changes.push_back(std::move(rc));
    return c;
  }
  Value Sealed(const std::string& text) {
    const RowId ring = RowId::NewRandom();
    auto sealed = crypto::SealValue(crypto::SecretBytes::Random(32), ring, 1,
                                    crypto::FieldContext{"cases", ring, "narrative",
                                                         Hlc::FromParts(kWall, 0), me_.device()},
                                    Value::Text(text));
    EXPECT_TRUE(sealed.ok()) << sealed.status();
    return Value::Bytes(*sealed);
  }
  PushedCommit Signed(const crypto::DeviceIdentity& signer, const Commit& c) {
    auto sig = crypto::SignCommit(signer, c);
    EXPECT_TRUE(sig.ok()) << sig.status();
    return PushedCommit{EncodeCommit(c), *sig, {}, {}, {}};
  }
  absl::StatusOr<std::vector<Commit>> Admit(const std::vector<PushedCommit>& push,
                                            bool crypto_checks = true) {
    return AdmitCommits(node_, origin_, push, FieldOfficeSchema(), crypto_checks);
  }

  crypto::DeviceIdentity me_;
  crypto::DeviceIdentity other_;
  NodeInfo node_;
  PushOrigin origin_;
};

TEST_F(AdmissionTest, TakesTheNodesOwnSignedCommitWithSealedFields) {
  const Commit c = CaseCommit(me_, Sealed("what happened"));
  auto admitted = Admit({Signed(me_, c)});
  ASSERT_TRUE(admitted.ok()) << admitted.status();
  ASSERT_EQ(admitted->size(), 1u);
  EXPECT_EQ(admitted->front(), c);
  EXPECT_FALSE(admitted->front().signature.empty());
}

TEST_F(AdmissionTest, RefusesAnotherDevicesCommit) {
  const Commit c = CaseCommit(other_, Sealed("x"));
  auto admitted = Admit({Signed(other_, c)});
  EXPECT_EQ(admitted.status().code(), absl::StatusCode::kPermissionDenied) << admitted.status();
  EXPECT_NE(admitted.status().message().find("not written by this node"), std::string::npos);
}

TEST_F(AdmissionTest, RefusesACommitSignedWithOtherKeys) {
  const Commit c = CaseCommit(me_, Sealed("x"));
  // Same author id, signed by keys that are not the ones registered.
  const crypto::DeviceIdentity impostor = crypto::DeviceIdentity::Generate(me_.device());
  auto admitted = Admit({Signed(me_, c), Signed(impostor, c)});
  EXPECT_EQ(admitted.status().code(), absl::StatusCode::kUnauthenticated) << admitted.status();
  EXPECT_NE(admitted.status().message().find("commit 1 of 2"), std::string::npos);
}

TEST_F(AdmissionTest, RefusesASensitiveFieldInClearWithoutRepeatingIt) {
  const Commit c = CaseCommit(me_, Value::Text("the victim's own words"));
  auto admitted = Admit({Signed(me_, c)});
  EXPECT_EQ(admitted.status().code(), absl::StatusCode::kInvalidArgument) << admitted.status();
  EXPECT_NE(admitted.status().message().find("cases.narrative in clear"), std::string::npos);
  EXPECT_EQ(admitted.status().message().find("victim's own words"), std::string::npos);
}

TEST_F(AdmissionTest, RefusesAMalformedCommit) {
  auto admitted = Admit({PushedCommit{"not a commit", "", {}, {}, {}}});
  EXPECT_EQ(admitted.status().code(), absl::StatusCode::kInvalidArgument) << admitted.status();
}

TEST_F(AdmissionTest, WithoutCryptoChecksTakesUnsignedClearCommits) {
  const Commit c = CaseCommit(me_, Value::Text("clear"));
  auto admitted = Admit({PushedCommit{EncodeCommit(c), "", {}, {}, {}}}, /*crypto_checks=*/false);
  ASSERT_TRUE(admitted.ok()) << admitted.status();
  // The author is checked all the same.
  const Commit theirs = CaseCommit(other_, Value::Text("clear"));
  EXPECT_EQ(Admit({PushedCommit{EncodeCommit(theirs), "", {}, {}, {}}}, false).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(AdmissionTest, KeyRecordsMustBeTheNodesOwnAndOfItsOffice) {
  const Hlc at = Hlc::FromParts(kWall, 0);
  auto own = crypto::OfficeKeyRecord(me_, at, crypto::NewOfficeKey("LC", 1));
  auto elsewhere = crypto::OfficeKeyRecord(me_, at, crypto::NewOfficeKey("HG", 1));
  auto theirs = crypto::OfficeKeyRecord(other_, at, crypto::NewOfficeKey("LC", 1));
  ASSERT_TRUE(own.ok() && elsewhere.ok() && theirs.ok());

  auto ok = AdmitKeyRecords(node_, {own->bytes});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->size(), 1u);

  auto other_office = AdmitKeyRecords(node_, {own->bytes, elsewhere->bytes});
  EXPECT_EQ(other_office.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(other_office.status().message().find("its own office only"), std::string::npos);

  auto not_mine = AdmitKeyRecords(node_, {theirs->bytes});
  EXPECT_EQ(not_mine.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(not_mine.status().message().find("not made by this node"), std::string::npos);

  EXPECT_EQ(AdmitKeyRecords(node_, {"garbage"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(AdmissionTest, AKeyRecordWhoseSignatureDoesNotVerifyIsRefused) {
  auto own = crypto::OfficeKeyRecord(me_, Hlc::FromParts(kWall, 0), crypto::NewOfficeKey("LC", 1));
  ASSERT_TRUE(own.ok());
  NodeInfo impostor = node_;
  impostor.keys = crypto::DeviceIdentity::Generate(me_.device()).public_keys();
  EXPECT_EQ(AdmitKeyRecords(impostor, {own->bytes}).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// An office's removals, from the membership records as stored.
TEST(OfficeRemovalsTest, ARemovalByTheChainCountsFromWhenItWasStored) {
  const crypto::DeviceIdentity a = crypto::DeviceIdentity::Generate(DeviceId::NewRandom());
  const crypto::DeviceIdentity b = crypto::DeviceIdentity::Generate(DeviceId::NewRandom());
  const Hlc at = Hlc::FromParts(kWall, 0);
  auto first = crypto::MembershipRecord(a, at, "LC", crypto::MembershipAction::kFirstDevice,
                                        a.public_keys());
  auto approve = crypto::MembershipRecord(a, Hlc::FromParts(kWall + 1, 0), "LC",
                                          crypto::MembershipAction::kApprove, b.public_keys());
  auto remove = crypto::MembershipRecord(a, Hlc::FromParts(kWall + 2, 0), "LC",
                                         crypto::MembershipAction::kRemove, b.public_keys());
  ASSERT_TRUE(first.ok() && approve.ok() && remove.ok());

  OfficeRecords office;
  office.membership = {{first->bytes, 100}, {"damaged on disk", 150}, {approve->bytes, 200}};
  OfficeRemovals before = ComputeOfficeRemovals(office);
  ASSERT_TRUE(before.root.has_value());
  EXPECT_EQ(*before.root, a.device());
  EXPECT_TRUE(before.removed.empty());

  office.membership.emplace_back(remove->bytes, 300);
  OfficeRemovals after = ComputeOfficeRemovals(office);
  ASSERT_EQ(after.removed.count(b.device()), 1u);
  EXPECT_EQ(after.removed.at(b.device()).stored_at_millis, 300);
  EXPECT_EQ(after.removed.at(b.device()).by, a.device());
  EXPECT_EQ(after.removed.count(a.device()), 0u);
}

TEST(OfficeRemovalsTest, ARevokedPlantedFirstDeviceGivesWayToTheOfficesOwn) {
  const crypto::DeviceIdentity planted = crypto::DeviceIdentity::Generate(DeviceId::NewRandom());
  const crypto::DeviceIdentity real = crypto::DeviceIdentity::Generate(DeviceId::NewRandom());
  const Hlc at = Hlc::FromParts(kWall, 0);
  auto p = crypto::MembershipRecord(planted, at, "LC", crypto::MembershipAction::kFirstDevice,
                                    planted.public_keys());
  auto r = crypto::MembershipRecord(real, at, "LC", crypto::MembershipAction::kFirstDevice,
                                    real.public_keys());
  ASSERT_TRUE(p.ok() && r.ok());
  OfficeRecords office;
  office.membership = {{p->bytes, 100}, {r->bytes, 200}};
  EXPECT_EQ(*ComputeOfficeRemovals(office).root, planted.device());
  office.revoked = {planted.device()};
  EXPECT_EQ(*ComputeOfficeRemovals(office).root, real.device());
  EXPECT_FALSE(ComputeOfficeRemovals(OfficeRecords{}).root.has_value());
}

}  // namespace
}  // namespace fieldsync::hub
