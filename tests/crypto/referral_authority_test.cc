// crypto/referral_authority.h: whether a referral lets its case's keys go
// to its receiving office, and which offices its letter is for -- from the
// versions that wrote its fields and the offices' memberships (faked).
#include "crypto/referral_authority.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "crypto_test_util.h"

namespace fieldsync::crypto {
namespace {

using crypto_test::FixedId;

class Members final : public KeyFacts {
 public:
  std::map<std::string, std::set<DeviceId>> now, once;
  absl::StatusOr<bool> Trusted(const std::string& office, const DeviceId& signer,
                               bool at_now) override {
    if (now[office].count(signer) > 0) return true;
    return !at_now && once[office].count(signer) > 0;
  }
  const std::string* RegisteredOffice(const DeviceId&) override { return nullptr; }
};

Version V(uint8_t device, uint64_t millis) {
  return Version{Hlc::FromParts(millis, 0), FixedId(device)};
}

TEST(ReferralAuthorityPolicyTest, OnlyTheOwningOfficeRefersItsCaseAndNeverToItself) {
  EXPECT_TRUE(ReferralOfficesMayGrant("LC", "LC", "HN"));
  EXPECT_FALSE(ReferralOfficesMayGrant("LC", "QN", "HN"));  // a third office's referral
  EXPECT_FALSE(ReferralOfficesMayGrant("LC", "LC", "LC"));
}

TEST(ReferralAuthorityPolicyTest, ACreationByAMemberNowAnsweredByTheReceiverOnItAuthorises) {
  Members m;
  m.now["LC"] = {FixedId(1)};
  m.once["HN"] = {FixedId(2)};  // removed since: its answer still counts
  const Version made = V(1, 100), answer = V(2, 200), rewrite = V(3, 300);
  const std::string lc = "LC", hn = "HN";
  ReferralAuthorship r{lc, hn, &made, &made, &made, &answer, &made};
  auto yes = [&](const ReferralAuthorship& x) {
    auto got = ReferralAuthorises(x, m);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() && *got;
  };
  EXPECT_TRUE(yes(r));
  ReferralAuthorship moved = r;
  moved.to_office_written = &rewrite;  // to_office rewritten since
  EXPECT_FALSE(yes(moved));
  ReferralAuthorship based = r;
  based.status_base = &rewrite;  // an answer to something else
  EXPECT_FALSE(yes(based));
  based.status_base = nullptr;
  EXPECT_FALSE(yes(based));
  ReferralAuthorship unanswered = r;
  unanswered.status = nullptr;
  EXPECT_FALSE(yes(unanswered));
  // Its maker removed from LC since: grants nothing more.
  m.now["LC"].clear();
  m.once["LC"] = {FixedId(1)};
  EXPECT_FALSE(yes(r));
  // Answered by a device HN never approved.
  m.now["LC"] = {FixedId(1)};
  m.once["HN"].clear();
  EXPECT_FALSE(yes(r));
}

TEST(ReferralAuthorityPolicyTest, ALetterIsForTheOfficesItsCreationWrote) {
  Members m;
  m.once["LC"] = {FixedId(1)};
  const Version made = V(1, 100), rewrite = V(3, 300);
  const Value from = Value::Text("LC"), to = Value::Text("HN"), none = Value::Null();
  LetterAuthorship l;
  l.live = true;
  l.from_office = &from;
  l.to_office = &to;
  l.created = &made;
  l.case_id = &made;
  l.to_office_written = &made;
  auto holds = [&](const LetterAuthorship& x) {
    auto got = LetterOfficesHold(x, m);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() && *got;
  };
  EXPECT_TRUE(holds(l));
  LetterAuthorship org = l;  // to an organisation: no to_office
  org.to_office = &none;
  org.to_office_written = nullptr;
  org.to_organisation = &made;
  EXPECT_TRUE(holds(org));
  LetterAuthorship readdressed = l;
  readdressed.to_office_written = &rewrite;
  EXPECT_FALSE(holds(readdressed));
  LetterAuthorship recased = l;
  recased.case_id = &rewrite;
  EXPECT_FALSE(holds(recased));
  LetterAuthorship deleted = l;
  deleted.live = false;
  EXPECT_FALSE(holds(deleted));
  const Value number = Value::Int(7);
  LetterAuthorship odd = l;
  odd.from_office = &number;
  EXPECT_FALSE(holds(odd));
  m.once["LC"].clear();  // made by a device LC never approved
  EXPECT_FALSE(holds(l));
}

}  // namespace
}  // namespace fieldsync::crypto
