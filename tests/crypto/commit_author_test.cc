// crypto/commit_author.h: whether a commit's author may have signed it --
// the registry, its revocation, a cut-off, the keys its office approved --
// before the signature is checked. The key table is faked.
#include "crypto/commit_author.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "crypto_test_util.h"

namespace fieldsync::crypto {
namespace {

using crypto_test::FixedId;

struct Author {
  DeviceIdentity device = DeviceIdentity::Generate(FixedId(1));
  DevicePublic registered = device.public_keys();
  std::string why;
  std::shared_ptr<Membership> office = std::make_shared<Membership>();
  int offices_asked = 0;
  CommitAuthor facts;
  Commit commit;

  Author() {
    office->approved[device.device()] = device.public_keys();
    office->members[device.device()] = device.public_keys();
    facts.registered = &registered;
    facts.name = "laptop 1";
    facts.office = [this]() -> absl::StatusOr<std::shared_ptr<const Membership>> {
      ++offices_asked;
      return std::shared_ptr<const Membership>(office);
    };
    commit.author = device.device();
    commit.seq = 3;
    commit.hlc = Hlc::FromParts(1000, 0);
  }
  absl::StatusCode Code(int64_t position) {
    return CommitAuthorRefusal(commit, facts, position).code();
  }
};

TEST(CommitAuthorTest, ARegisteredDeviceWithTheKeysItsOfficeApprovedSigns) {
  Author a;
  EXPECT_EQ(a.Code(5), absl::StatusCode::kOk);
  EXPECT_EQ(a.offices_asked, 1);
  a.office = nullptr;  // no first device of its office pinned here: nothing to compare
  EXPECT_EQ(a.Code(5), absl::StatusCode::kOk);
  a.office = std::make_shared<Membership>();  // an office that never approved it
  EXPECT_EQ(a.Code(5), absl::StatusCode::kOk);
}

TEST(CommitAuthorTest, ADeviceTheRegistryDoesNotListIsUnauthenticated) {
  Author a;
  a.facts.registered = nullptr;
  absl::Status s = CommitAuthorRefusal(a.commit, a.facts, 5);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("registry does not list"), std::string_view::npos) << s;
  EXPECT_EQ(a.offices_asked, 0);
}

TEST(CommitAuthorTest, ARevokedDevicesCommitsAfterItsRevocationAreRefused) {
  Author a;
  a.facts.revoked = true;
  a.facts.revoked_position = 10;
  EXPECT_EQ(a.Code(9), absl::StatusCode::kOk);    // before it, in the hub's log
  EXPECT_EQ(a.Code(10), absl::StatusCode::kOk);   // the last one it may have signed
  EXPECT_EQ(a.Code(11), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(a.Code(0), absl::StatusCode::kPermissionDenied);  // at no known position
  a.facts.revoked = false;  // a position alone is no revocation
  EXPECT_EQ(a.Code(11), absl::StatusCode::kOk);
}

TEST(CommitAuthorTest, ACommitArrivingAfterItsAuthorWasCutOffIsRefused) {
  Author a;
  a.why = "removed";
  a.facts.cut_off = &a.why;
  absl::Status s = CommitAuthorRefusal(a.commit, a.facts, 5);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("device was removed"), std::string_view::npos) << s;
  EXPECT_EQ(a.offices_asked, 0);  // refused before the membership is computed
}

TEST(CommitAuthorTest, KeysOtherThanThoseItsOfficeApprovedAreUnauthenticated) {
  Author a;
  const DeviceIdentity other = DeviceIdentity::Generate(FixedId(1));  // same id, other keys
  a.registered = other.public_keys();  // the hub lists other keys for it
  EXPECT_EQ(a.Code(5), absl::StatusCode::kUnauthenticated);
  a.registered = a.device.public_keys();
  a.registered.box_pk = other.public_keys().box_pk;  // only the box key differs
  EXPECT_EQ(a.Code(5), absl::StatusCode::kUnauthenticated);
  a.office->approved.clear();  // not in the chain: its keys are the registry's to say
  EXPECT_EQ(a.Code(5), absl::StatusCode::kOk);
}

TEST(CommitAuthorTest, AFailureToComputeTheMembershipIsReturned) {
  Author a;
  a.facts.office = []() -> absl::StatusOr<std::shared_ptr<const Membership>> {
    return absl::InternalError("disk I/O error");
  };
  EXPECT_EQ(a.Code(5), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace fieldsync::crypto
