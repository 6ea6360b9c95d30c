// The hub's approved set counts a device only with the keys it enrolled
// with, as laptops do (store/keyring TrustedSigner: the approved keys must
// equal the registered ones). An approval record naming other keys is
// refused when pushed (attack review 66, LOW 6): stored, it made the hub
// count its subject approved and store that device's moves, which every
// laptop of the office then refuses, so that the office stops pulling.
#include <gtest/gtest.h>

#include <string>

#include "crypto/key_record.h"
#include "support/sync_fixture.h"
#include "sync/messages.h"

namespace fieldsync::testing {
namespace {

class HubApprovalKeysTest : public SyncTest {};

TEST_F(HubApprovalKeysTest, AnApprovalNamingOtherKeysThanTheRegisteredOnesIsRefused) {
  auto& m = AddNode("LC");
  auto& d = AddNode("LC");
  auto& other = AddNode("HN");
  MustSync(m);
  MustSync(d);
  crypto::DevicePublic forged = d.identity().public_keys();
  forged.sign_pk = other.identity().public_keys().sign_pk;
  forged.box_pk = other.identity().public_keys().box_pk;
  auto record = crypto::MembershipRecord(m.identity(), NowHlc(), "LC",
                                         crypto::MembershipAction::kApprove, forged);
  ASSERT_TRUE(record.ok()) << record.status();
  sync::PushRequest req;
  req.credential = m.credential();
  req.key_records.push_back(record->bytes);
  auto out = m.client().transport().Push(req);
  EXPECT_FALSE(out.ok()) << "the hub stored an approval of " << d.replica().device_id().ToString()
                         << " with keys it was not enrolled with";
  if (!out.ok()) {
    EXPECT_EQ(out.status().code(), absl::StatusCode::kPermissionDenied) << out.status();
    EXPECT_NE(out.status().message().find("keys"), std::string::npos) << out.status();
  }
  // The same approval with the registered keys is taken.
  auto honest = crypto::MembershipRecord(m.identity(), NowHlc(), "LC",
                                         crypto::MembershipAction::kApprove,
                                         d.identity().public_keys());
  ASSERT_TRUE(honest.ok()) << honest.status();
  sync::PushRequest ok_req;
  ok_req.credential = m.credential();
  ok_req.key_records.push_back(honest->bytes);
  auto taken = m.client().transport().Push(ok_req);
  EXPECT_TRUE(taken.ok()) << taken.status();
}

}  // namespace
}  // namespace fieldsync::testing
