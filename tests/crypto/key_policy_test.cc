// crypto/key_policy.h: the key ring's decisions, without its table -- who
// stands behind a key, which relayed record is taken, which record of a
// version is tried first, whether a version still seals. KeyFacts is faked
// here: what the store would answer from _fs_keys, the registry and the
// pinned first devices.
#include "crypto/key_policy.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crypto/membership.h"
#include "crypto_test_util.h"

namespace fieldsync::crypto {
namespace {

using crypto_test::FixedId;

// Members now (`now`) and devices approved once (`once`) by office; the
// registry's office of each device.
class FakeFacts final : public KeyFacts {
 public:
  std::map<std::string, std::set<DeviceId>> now, once;
  std::map<DeviceId, std::string> registered;
  int asked = 0;

  absl::StatusOr<bool> Trusted(const std::string& office, const DeviceId& signer,
                               bool at_now) override {
    ++asked;
    if (now[office].count(signer) > 0) return true;
    return !at_now && once[office].count(signer) > 0;
  }
  const std::string* RegisteredOffice(const DeviceId& device) override {
    auto it = registered.find(device);
    return it == registered.end() ? nullptr : &it->second;
  }
};

KeyRecord Record(KeyRecordKind kind, const std::string& province, const DeviceId& signer) {
  KeyRecord r;
  r.kind = kind;
  r.province = province;
  r.signer = signer;
  return r;
}

KeyRecord OfficeKeyBy(const DeviceId& signer, uint32_t generation, uint8_t id) {
  KeyRecord r = Record(KeyRecordKind::kOfficeKey, "LC", signer);
  r.generation = generation;
  r.office_key_id = FixedId(id);
  return r;
}

TEST(KeyPolicyTest, OfficeBoundKindsAreThoseOnlyTheirOwnOfficeSigns) {
  EXPECT_TRUE(OfficeBound(KeyRecordKind::kOfficeKey));
  EXPECT_TRUE(OfficeBound(KeyRecordKind::kOfficeShare));
  EXPECT_TRUE(OfficeBound(KeyRecordKind::kOfficeDataKey));
  EXPECT_TRUE(OfficeBound(KeyRecordKind::kMembership));
  EXPECT_FALSE(OfficeBound(KeyRecordKind::kDataKey));  // a grant goes to another office
  EXPECT_FALSE(OfficeBound(KeyRecordKind::kErasure));
}

TEST(KeyPolicyTest, ASignerCountsWithTheKeysItWasApprovedWithOnly) {
  const DeviceIdentity root = DeviceIdentity::Generate(FixedId(1));
  const DeviceIdentity gone = DeviceIdentity::Generate(FixedId(2));
  const DeviceIdentity other_keys = DeviceIdentity::Generate(FixedId(1));
  Membership office;
  office.root = root.public_keys();
  office.members[root.device()] = root.public_keys();
  office.approved[root.device()] = root.public_keys();
  office.approved[gone.device()] = gone.public_keys();
  office.removed.insert(gone.device());

  const DevicePublic root_keys = root.public_keys();
  const DevicePublic gone_keys = gone.public_keys();
  const DevicePublic forged = other_keys.public_keys();
  EXPECT_TRUE(TrustedSigner(&office, root.device(), &root_keys, /*now=*/true));
  // A hub that lists other keys for the device: not it.
  EXPECT_FALSE(TrustedSigner(&office, root.device(), &forged, /*now=*/true));
  EXPECT_FALSE(TrustedSigner(&office, root.device(), nullptr, /*now=*/false));
  // Removed: its past records still open, nothing new.
  EXPECT_FALSE(TrustedSigner(&office, gone.device(), &gone_keys, /*now=*/true));
  EXPECT_TRUE(TrustedSigner(&office, gone.device(), &gone_keys, /*now=*/false));
  // No first device pinned: nobody.
  EXPECT_FALSE(TrustedSigner(nullptr, root.device(), &root_keys, /*now=*/false));
}

TEST(KeyPolicyTest, ARelayedRecordIsTakenOnlyFromAKnownSignerOfItsOfficeNotCutOff) {
  const DeviceIdentity self = DeviceIdentity::Generate(FixedId(1));
  const DeviceIdentity signer = DeviceIdentity::Generate(FixedId(2));
  const DeviceIdentity stranger = DeviceIdentity::Generate(FixedId(3));
  const OfficeKey key = NewOfficeKey("LC", 1);
  const KeyRecord rec = Must(OfficeKeyRecord(signer, Hlc::FromParts(1, 0), key));
  const DevicePublic keys = signer.public_keys();
  const DevicePublic wrong = stranger.public_keys();
  const std::string why = "removed from office LC by its office";

  EXPECT_FALSE(RecordRefusal(rec, &keys, "LC", nullptr, self.device(), "LC").has_value());
  auto refused = RecordRefusal(rec, nullptr, "", nullptr, self.device(), "LC");
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->find("not in the hub's registry"), std::string::npos) << *refused;
  refused = RecordRefusal(rec, &keys, "LC", &why, self.device(), "LC");
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->find(why), std::string::npos) << *refused;
  // Verified against the keys the registry holds, not the record's word.
  EXPECT_TRUE(RecordRefusal(rec, &wrong, "LC", nullptr, self.device(), "LC"));
  // An office key of LC signed by a device the registry lists in HN.
  refused = RecordRefusal(rec, &keys, "HN", nullptr, self.device(), "LC");
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->find("signed by a device of office HN"), std::string::npos) << *refused;
  // This laptop's own records are taken back whatever it was cut off for.
  const KeyRecord own = Must(OfficeKeyRecord(self, Hlc::FromParts(1, 0), key));
  const DevicePublic self_keys = self.public_keys();
  EXPECT_FALSE(RecordRefusal(own, &self_keys, "LC", &why, self.device(), "LC").has_value());
}

TEST(KeyPolicyTest, TheNewestOfficeKeyIsTheNewestAMemberNowMadeAskedNoFurther) {
  const DeviceId me = FixedId(1), member = FixedId(2), unapproved = FixedId(3);
  FakeFacts facts;
  facts.now["LC"] = {member};
  const std::vector<KeyRecord> keys = {OfficeKeyBy(unapproved, 3, 30), OfficeKeyBy(member, 2, 20),
                                       OfficeKeyBy(me, 1, 10)};
  auto newest = NewestTrustedOfficeKey(keys, "LC", nullptr, facts);
  ASSERT_TRUE(newest.ok());
  ASSERT_NE(*newest, nullptr);
  EXPECT_EQ((*newest)->generation, 2u);
  EXPECT_EQ(facts.asked, 2) << "asked past the first trusted key";
  // This laptop's own key counts without asking.
  const std::vector<KeyRecord> mine = {OfficeKeyBy(me, 4, 40), OfficeKeyBy(member, 2, 20)};
  facts.asked = 0;
  newest = NewestTrustedOfficeKey(mine, "LC", &me, facts);
  ASSERT_TRUE(newest.ok() && *newest != nullptr);
  EXPECT_EQ((*newest)->generation, 4u);
  EXPECT_EQ(facts.asked, 0);
  // Only an unapproved device's: none.
  newest = NewestTrustedOfficeKey({OfficeKeyBy(unapproved, 9, 90)}, "LC", &me, facts);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(*newest, nullptr);
}

TEST(KeyPolicyTest, GrantsAreRankedBySignerAndNeverSealedUnderWhenPassedOn) {
  const DeviceId me = FixedId(1), member = FixedId(2), third = FixedId(3);
  FakeFacts facts;
  facts.now["LC"] = {member};
  facts.now["QN"] = {third};
  facts.registered[member] = "LC";
  const std::set<std::string> granters = {"LC"};
  KeyRecord grant = Record(KeyRecordKind::kDataKey, "LC", member);
  auto rank = [&](const KeyRecord& w, const std::set<std::string>* g) {
    auto r = RankGrant(w, me, g, facts);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : WrapRank::kOther;
  };
  EXPECT_EQ(rank(grant, &granters), WrapRank::kTrustedGrant);
  EXPECT_EQ(rank(grant, nullptr), WrapRank::kTrustedGrant);
  // A third office's member: read with, never sealed under for LC.
  KeyRecord by_third = Record(KeyRecordKind::kDataKey, "LC", third);
  EXPECT_EQ(rank(by_third, &granters), WrapRank::kOther);
  EXPECT_EQ(rank(by_third, nullptr), WrapRank::kOther);  // not in the registry
  facts.registered[third] = "QN";
  EXPECT_EQ(rank(by_third, nullptr), WrapRank::kTrustedGrant);
  // Passed on (its maker chose the key): for reading only.
  KeyRecord relayed = grant;
  relayed.purpose = DataKeyPurpose::kRelayed;
  EXPECT_EQ(rank(relayed, &granters), WrapRank::kOther);
  EXPECT_EQ(rank(relayed, nullptr), WrapRank::kTrustedGrant);
  KeyRecord own = Record(KeyRecordKind::kDataKey, "LC", me);
  EXPECT_EQ(rank(own, &granters), WrapRank::kTrustedGrant);

  KeyRecord wrap = Record(KeyRecordKind::kOfficeDataKey, "LC", me);
  wrap.office_key_id = FixedId(20);
  const RowId newest = FixedId(20), older = FixedId(10);
  EXPECT_EQ(RankOfficeWrap(wrap, &newest), WrapRank::kNewestOfficeWrap);
  EXPECT_EQ(RankOfficeWrap(wrap, &older), WrapRank::kOlderOfficeWrap);
  EXPECT_EQ(RankOfficeWrap(wrap, nullptr), WrapRank::kOlderOfficeWrap);
}

TEST(KeyPolicyTest, AVersionSealsOnlyForEntitledOfficesUnderTheirNewestGeneration) {
  std::map<std::string, int64_t> newest = {{"LC", 2}, {"HN", 5}};
  auto gen = [&](const std::string& office) -> absl::StatusOr<int64_t> { return newest[office]; };
  const std::set<std::string> both = {"LC", "HN"};
  auto seals = [&](std::vector<std::pair<std::string, int64_t>> wraps,
                   const std::set<std::string>& entitled) {
    auto r = VersionStillSeals(wraps, "LC", entitled, gen);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && *r;
  };
  EXPECT_TRUE(seals({{"LC", 2}, {"HN", 5}}, both));
  EXPECT_FALSE(seals({{"HN", 5}}, both)) << "not wrapped for this office";
  EXPECT_FALSE(seals({{"LC", 2}, {"HN", 5}}, {"LC"})) << "HN's referral ended";
  EXPECT_FALSE(seals({{"LC", 1}}, both)) << "under an older generation (a revoked device's)";
  EXPECT_FALSE(seals({{"LC", -1}}, both)) << "under an office key unknown here";
  EXPECT_FALSE(seals({}, both));
}

}  // namespace
}  // namespace fieldsync::crypto
