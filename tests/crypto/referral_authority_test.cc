// crypto/referral_authority.h: whether a referral lets its case's keys go
// to its receiving office, and which offices its letter is for -- from the
// versions that wrote its fields and the offices' memberships (faked).
#include "crypto/referral_authority.h"

#include <gtest/gtest.h>

#include <functional>
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

// A creation the hub refused, set aside on this laptop: no referral was
// made at the hub, whatever answer a hub relays (attack review 72, H1 and
// LOW 4). Asked last: not at all for a referral refused before it.
TEST(ReferralAuthorityPolicyTest, ACreationSetAsideHereAuthorisesNothing) {
  Members m;
  m.now["LC"] = {FixedId(1)};
  m.now["HN"] = {FixedId(2)};
  const Version made = V(1, 100), answer = V(2, 200);
  const std::string lc = "LC", hn = "HN";
  int asked = 0;
  bool set_aside = true;
  ReferralAuthorship r{lc, hn, &made, &made, &made, &answer, &made};
  r.created_set_aside = [&]() -> absl::StatusOr<bool> {
    ++asked;
    return set_aside;
  };
  auto got = ReferralAuthorises(r, m);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(*got);
  set_aside = false;
  got = ReferralAuthorises(r, m);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got);
  EXPECT_EQ(asked, 2);
  m.now["HN"].clear();  // answered by a device HN never approved
  got = ReferralAuthorises(r, m);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(*got);
  EXPECT_EQ(asked, 2) << "asked of a referral refused before it";
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

// A lazy fact that counts how often it was asked.
struct Asked {
  bool answer = false;
  int times = 0;
  std::function<absl::StatusOr<bool>()> Fn() {
    return [this]() -> absl::StatusOr<bool> {
      ++times;
      return answer;
    };
  }
};

TEST(ReferralAuthorityPolicyTest, AReferralIsASourceOnlyAsItsCreationWroteItByAMemberNow) {
  Members m;
  m.now["LC"] = {FixedId(1)};
  m.once["LC"] = {FixedId(2)};  // removed since
  const Version made = V(1, 100), by_removed = V(2, 100);
  const Value sent = Value::Text("sent"), declined = Value::Text("declined");
  const LetterOffices letter{"LC", "HN"}, elsewhere{"LC", "QN"}, third{"QN", "HN"};
  Asked noted;
  SourceReferral r;
  r.letter = &letter;
  r.created = &made;
  r.status = &sent;
  r.noted_final = noted.Fn();
  auto standing = [&](const SourceReferral& x) {
    auto got = ReferralSourceStanding("LC", "HN", x, m);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : SourceStanding::kNone;
  };
  EXPECT_EQ(standing(r), SourceStanding::kOpen);
  EXPECT_EQ(noted.times, 1);
  noted.answer = true;  // seen declined here, though the merge kept "sent"
  EXPECT_EQ(standing(r), SourceStanding::kEnded);
  noted.answer = false;
  SourceReferral ended = r;
  ended.status = &declined;
  const int before = noted.times;
  EXPECT_EQ(standing(ended), SourceStanding::kEnded);
  EXPECT_EQ(noted.times, before);  // final as held: the log is not asked
  for (const LetterOffices* l : {&elsewhere, &third}) {
    SourceReferral other = r;
    other.letter = l;  // its creation wrote other offices
    EXPECT_EQ(standing(other), SourceStanding::kNone);
  }
  SourceReferral unvouched = r;
  unvouched.letter = nullptr;
  EXPECT_EQ(standing(unvouched), SourceStanding::kNone);
  SourceReferral removed = r;
  removed.created = &by_removed;  // made by a device LC removed since
  EXPECT_EQ(standing(removed), SourceStanding::kNone);
  SourceReferral undated = r;
  undated.created = nullptr;
  EXPECT_EQ(standing(undated), SourceStanding::kNone);
}

TEST(ReferralAuthorityPolicyTest, OneOpenReferralToAnOfficeOutweighsItsEndedOnes) {
  ReferralSources s;
  AddReferralSource(s, "HN", SourceStanding::kEnded);
  EXPECT_EQ(s.ended, std::set<std::string>{"HN"});
  EXPECT_FALSE(SourceSettled(s, "HN"));
  AddReferralSource(s, "HN", SourceStanding::kOpen);
  EXPECT_EQ(s.open, std::set<std::string>{"HN"});
  EXPECT_TRUE(s.ended.empty());
  EXPECT_TRUE(SourceSettled(s, "HN"));
  AddReferralSource(s, "QN", SourceStanding::kNone);
  AddReferralSource(s, "DN", SourceStanding::kEnded);
  EXPECT_EQ(s.open, std::set<std::string>{"HN"});
  EXPECT_EQ(s.ended, std::set<std::string>{"DN"});
}

TEST(ReferralAuthorityPolicyTest, ADeletionEndsAVersionMadeBeforeItForAnOfficeNotEntitled) {
  const std::set<std::string> entitled = {"LC", "HN"};
  EXPECT_TRUE(DeletionEndsVersion("QN", 200, entitled, 100));
  EXPECT_FALSE(DeletionEndsVersion("QN", 100, entitled, 100));  // same instant: not after
  EXPECT_FALSE(DeletionEndsVersion("QN", 50, entitled, 100));
  EXPECT_FALSE(DeletionEndsVersion("HN", 200, entitled, 100));  // referred again since
}

// One referral to QN (not entitled) of a version made at 100.
struct Ending {
  Asked answered, made_here, final_here, after;
  Value status = Value::Text("accepted");
  Version answer = V(3, 150), deletion = V(3, 160);
  HeldReferral held;
  Ending() {
    held.to = "QN";
    held.live = true;
    held.status = &status;
    held.answer = &answer;
    held.answered_here = [this](const Version&) { return answered.Fn()(); };
    held.made_here = made_here.Fn();
    held.final_here = final_here.Fn();
    held.ended_after_made_here = [this](const Version&) { return after.Fn()(); };
    answered.answer = true;
  }
  bool Ends(const std::set<std::string>& entitled = {"LC"}) {
    auto got = ReferralEndsVersion(held, entitled, Hlc::FromParts(100, 0).packed());
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() && *got;
  }
};

TEST(ReferralAuthorityPolicyTest, AnOpenReferralAnsweredHereEndsNothing) {
  Ending e;
  EXPECT_FALSE(e.Ends());
  EXPECT_EQ(e.made_here.times, 0);  // answered here: not asked
  EXPECT_EQ(e.final_here.times, 1);
  Ending entitled;
  EXPECT_FALSE(entitled.Ends({"LC", "QN"}));
  EXPECT_EQ(entitled.answered.times, 0);  // an entitled office: nothing asked
}

TEST(ReferralAuthorityPolicyTest, AnAnswerNotAppliedHereEndsAVersionThisLaptopDidNotMake) {
  Ending e;
  e.answered.answer = false;  // taken whole: the hub chose the answer
  EXPECT_TRUE(e.Ends());
  Ending mine;
  mine.answered.answer = false;
  mine.made_here.answer = true;  // this laptop made the version after taking it
  EXPECT_FALSE(mine.Ends());
  Ending unanswered;
  unanswered.held.answer = nullptr;
  EXPECT_TRUE(unanswered.Ends());
  EXPECT_EQ(unanswered.answered.times, 0);
}

TEST(ReferralAuthorityPolicyTest, AnEndingDatedAfterTheVersionOrReachingThisLogAfterItEndsIt) {
  Ending declined;
  const Value no = Value::Text("declined");
  declined.held.status = &no;  // its answer (150) after the version (100)
  EXPECT_TRUE(declined.Ends());
  EXPECT_EQ(declined.final_here.times, 0);
  Ending seen;
  seen.final_here.answer = true;  // seen final here, the merge kept "accepted"
  EXPECT_TRUE(seen.Ends());
  Ending before;
  before.held.status = &no;
  before.answer = V(3, 90);  // dated before the version: the ender's word
  EXPECT_FALSE(before.Ends());
  EXPECT_EQ(before.after.times, 1);
  before.after.answer = true;  // but it reached this laptop's log after the version was made
  EXPECT_TRUE(before.Ends());
  Ending deleted;
  deleted.held.live = false;
  deleted.held.deletion = &deleted.deletion;
  deleted.deletion = V(3, 50);
  deleted.answer = V(3, 150);  // the deletion dates the ending, not the answer
  EXPECT_FALSE(deleted.Ends());
  deleted.deletion = V(3, 150);
  EXPECT_TRUE(deleted.Ends());
  deleted.held.deletion = nullptr;  // deleted, undated: ended
  EXPECT_TRUE(deleted.Ends());
}

}  // namespace
}  // namespace fieldsync::crypto
