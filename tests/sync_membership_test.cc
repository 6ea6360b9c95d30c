// Office membership decided on the office's laptops (docs/CRYPTO.md,
// "Office membership"), tried as the attackers of the threat model would,
// against a real hub process: the hub administrator enrolling a reader of
// their own, a hub whose disk is edited while it is stopped (a revocation
// undone, a device's keys replaced, a second first device), a wrong code.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/commit_signature.h"
#include "crypto/key_record.h"
#include "crypto/pairing_code.h"
#include "clock/clock_source.h"
#include "store/sqlite.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

using State = OpenedField::State;

class MembershipTest : public SyncTest {
 protected:

  static std::string Code(harness::LocalNode& n) {
    auto v = n.keys()->Office();
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? v->my_code : "";
  }

  // Pushes `record`, signed by `n`, as a modified program would: stored as
  // one of its own records not yet pushed, then synced.
  static void PushAsModifiedProgram(harness::LocalNode& n, const crypto::KeyRecord& record) {
    auto added = n.keys()->AddRecords({record.bytes});
    ASSERT_TRUE(added.ok()) << added.status();
    auto st = n.replica().db().Prepared("UPDATE _fs_keys SET pushed = 0 WHERE id = ?1");
    (*st)->BindBlob(1, record.Id());
    ASSERT_TRUE((*st)->Run().ok());
    ASSERT_EQ(n.replica().db().Changes(), 1);
    auto r = n.Sync();
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->key_records_refused_by_hub, 0u) << r->key_push_refusal;
  }


  // Shares, held by `n`, for `device` of the office keys that `ring`'s
  // office data keys (kind 5) are sealed under: what `device` would need to
  // open the key ring, whatever a hub hands it.
  static int64_t SharesFor(harness::LocalNode& n, const RowId& ring, const DeviceId& device) {
    auto st = n.replica().db().Prepared(
        "SELECT count(*) FROM _fs_keys s JOIN _fs_keys w ON w.office_key = s.office_key AND "
        "w.kind = 5 AND w.keyring = ?1 WHERE s.kind = 2 AND s.recipient = ?2");
    EXPECT_TRUE(st.ok());
    (*st)->BindBlob(1, ring.view());
    (*st)->BindBlob(2, device.view());
    auto row = (*st)->Step();
    EXPECT_TRUE(row.ok() && *row);
    return (*st)->ColumnInt(0);
  }

  static RowId PersonOf(harness::LocalNode& n, const RowId& kase) {
    auto row = n.replica().Get("cases", kase);
    EXPECT_TRUE(row.ok() && row->has_value());
    const int i = n.replica().schema().FindTable("cases")->ColumnIndex("person_id");
    return *Id16::FromBytes((*row)->values[static_cast<size_t>(i)].str(), "person");
  }
};

TEST_F(MembershipTest, ALaptopTheAdministratorEnrolledReadsNothingUntilApprovedWithTheRightCode) {
  auto& lc1 = AddNode("LC");
  const RowId before = NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc1);
  // The administrator makes a token and enrols a laptop of their own in
  // the office: the hub lists it as a device of LC.
  join_offices_ = false;
  auto& rogue = AddNode("LC");
  MustSync(rogue);
  const RowId after = NewCase(lc1.replica(), "LC", "Lò Thị Mai");
  for (int i = 0; i < 2; ++i) {
    MustSync(lc1);
    MustSync(rogue);
  }
  ASSERT_TRUE(rogue.replica().Get("cases", before)->has_value());
  ASSERT_TRUE(rogue.replica().Get("cases", after)->has_value());
  for (const RowId& kase : {before, after}) {
    EXPECT_EQ(rogue.Read("cases", kase, "narrative").state, State::kNoKey);
    EXPECT_EQ(rogue.Read("persons", PersonOf(rogue, kase), "full_name").state, State::kNoKey);
  }
  // No office key share was ever made for it.
  auto shares = lc1.replica().db().Prepared("SELECT count(*) FROM _fs_keys WHERE kind = 2 AND "
                                            "recipient = ?1");
  (*shares)->BindBlob(1, rogue.replica().device_id().view());
  ASSERT_TRUE(*(*shares)->Step());
  EXPECT_EQ((*shares)->ColumnInt(0), 0);
  (*shares)->Reset();
  auto listed = lc1.keys()->Office();
  ASSERT_TRUE(listed.ok());
  bool pending = false;
  for (const auto& d : listed->devices) {
    if (d.device.keys.device == rogue.replica().device_id()) {
      pending = d.state == KeyRing::OfficeDevice::State::kPending;
      EXPECT_EQ(d.code, Code(rogue)) << "both screens show one code";
    }
  }
  EXPECT_TRUE(pending);

  // A wrong code is refused, and nothing is approved.
  absl::Status wrong = lc1.keys()->Approve(rogue.replica().device_id(), "1111 2222 3333 4444");
  EXPECT_EQ(wrong.code(), absl::StatusCode::kPermissionDenied) << wrong;
  EXPECT_NE(wrong.message().find("wrong code"), std::string::npos) << wrong;
  EXPECT_EQ(lc1.keys()->Approve(rogue.replica().device_id(), "12").code(),
            absl::StatusCode::kInvalidArgument);
  MustSync(lc1);
  MustSync(rogue);
  EXPECT_EQ(rogue.Read("cases", before, "narrative").state, State::kNoKey);

  // An officer who compared the code on both screens approves it: now it
  // reads what was written before and after it enrolled.
  ASSERT_TRUE(lc1.keys()->Approve(rogue.replica().device_id(), Code(rogue)).ok());
  MustSync(lc1);
  MustSync(rogue);
  // Approved, but it trusts no office key until its own officer confirms
  // the office with the code the member shows.
  EXPECT_EQ(rogue.Read("cases", before, "narrative").state, State::kNoKey);
  ASSERT_TRUE(rogue.keys()->Join(CodeShownFor(lc1, rogue.replica().device_id())).ok());
  MustSync(rogue);
  MustSync(lc1);
  MustSync(rogue);
  EXPECT_EQ(rogue.Read("cases", before, "narrative").state, State::kOpened);
  EXPECT_EQ(rogue.Read("persons", PersonOf(rogue, after), "full_name").value.str(), "Lò Thị Mai");
}

TEST_F(MembershipTest, AnUnapprovedDevicesOfficeKeyIsNeverUsedBySealingMembers) {
  auto& lc1 = AddNode("LC");
  MustSync(lc1);
  join_offices_ = false;
  auto& rogue = AddNode("LC");
  // The rogue device writes a case: it makes an office key of its own, at
  // the generation it saw, and publishes it.
  NewCase(rogue.replica(), "LC", "Phạm Thị Lan");
  MustSync(rogue);
  MustSync(lc1);
  const RowId kase = NewCase(lc1.replica(), "LC", "Hoàng Thị Thu");
  MustSync(lc1);
  MustSync(rogue);
  EXPECT_EQ(rogue.Read("cases", kase, "narrative").state, State::kNoKey);
  EXPECT_EQ(lc1.Read("cases", kase, "narrative").value.str(), "Hoàng Thị Thu");
}

TEST_F(MembershipTest, ARevocationUndoneAtTheHubGivesTheRevokedLaptopNothingWrittenAfter) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  const RowId old_case = NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc1);
  MustSync(lc2);
  ASSERT_EQ(lc2.Read("cases", old_case, "narrative").state, State::kOpened);
  // The administrator revokes lc2 (a lost laptop); lc1 learns it.
  auto revoke = hub_->Admin({"node", "revoke", lc2.replica().device_id().ToString()});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  MustSync(lc1);
  // Someone with the hub's disk undoes the revocation.
  const std::string id(lc2.replica().device_id().view());
  EditHubWhileStopped("UPDATE hub_nodes SET revoked_at = NULL, revoked_position = 0 WHERE "
                      "device = ?1",
                      [&](sqlite::Stmt* s) { s->BindBlob(1, id); });
  const RowId new_case = NewCase(lc1.replica(), "LC", "Lò Thị Mai");
  MustSync(lc1);
  MustSync(lc1);
  // The hub still refuses lc2: lc1 turned the revocation into the office's
  // signed removal, which the hub enforces itself.
  auto r = lc2.Sync();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_NE(r.status().message().find("removed from office LC by its office"),
            std::string::npos) << r.status();
  // And what a hub serving it anyway could hand it opens nothing written
  // after: no key the new case is sealed under was shared with lc2.
  EXPECT_EQ(SharesFor(lc1, new_case, lc2.replica().device_id()), 0);
  EXPECT_EQ(SharesFor(lc1, PersonOf(lc1, new_case), lc2.replica().device_id()), 0);
  // lc1 still holds the revocation, and says what the hub did.
  const RegisteredDevice* seen = lc1.keys()->FindDevice(lc2.replica().device_id());
  ASSERT_NE(seen, nullptr);
  EXPECT_TRUE(seen->revoked());
  auto alerts = lc1.keys()->TrustAlerts();
  ASSERT_TRUE(alerts.ok());
  ASSERT_FALSE(alerts->empty());
  EXPECT_NE(alerts->back().find("it stays revoked"), std::string::npos) << alerts->back();
  // A laptop that joins after the hub was edited never saw the revocation,
  // but the office's signed removal reaches it: it shares nothing with lc2.
  auto& lc3 = AddNode("LC");
  MustSync(lc3);
  auto m = lc3.keys()->IsMember("LC", lc2.replica().device_id());
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(*m);
  const RowId third = NewCase(lc3.replica(), "LC", "Đặng Thị Hoa");
  MustSync(lc3);
  EXPECT_EQ(SharesFor(lc3, third, lc2.replica().device_id()), 0);
}

TEST_F(MembershipTest, ChangedKeysForAKnownDeviceAreRefusedAndReported) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  const RowId kase = NewCase(lc2.replica(), "LC", "Lò Thị Mai");
  MustSync(lc2);
  MustSync(lc1);
  const crypto::DevicePublic real = lc2.identity().public_keys();
  // The hub replaces lc2's keys with keys of its own.
  crypto::DeviceIdentity attacker = crypto::DeviceIdentity::Generate(lc2.replica().device_id());
  const std::string id(lc2.replica().device_id().view());
  EditHubWhileStopped("UPDATE hub_nodes SET sign_pk = ?2, box_pk = ?3 WHERE device = ?1",
                      [&](sqlite::Stmt* s) {
                        s->BindBlob(1, id);
                        s->BindBlob(2, attacker.public_keys().sign_pk);
                        s->BindBlob(3, attacker.public_keys().box_pk);
                      });
  MustSync(lc1);
  const RegisteredDevice* seen = lc1.keys()->FindDevice(lc2.replica().device_id());
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(seen->keys.sign_pk, real.sign_pk) << "the keys first seen are kept";
  auto alerts = lc1.keys()->TrustAlerts();
  ASSERT_TRUE(alerts.ok());
  ASSERT_FALSE(alerts->empty());
  EXPECT_NE(alerts->back().find("other keys"), std::string::npos) << alerts->back();
  // A name the hub changes is not taken either (an officer removing "lc2"
  // by name must not reach another device).
  EditHubWhileStopped("UPDATE hub_nodes SET name = 'renamed' WHERE device = ?1",
                      [&](sqlite::Stmt* s) { s->BindBlob(1, id); });
  MustSync(lc1);
  EXPECT_EQ(lc1.keys()->FindDevice(lc2.replica().device_id())->name, "test node");
  alerts = lc1.keys()->TrustAlerts();
  ASSERT_TRUE(alerts.ok());
  EXPECT_NE(alerts->back().find("first name is kept"), std::string::npos) << alerts->back();
  // A commit of lc2's re-signed with the hub's keys for it is refused by
  // lc1, which verifies against the keys it pinned.
  auto mine = lc2.replica().LocalCommitsAfter(0, 100);
  ASSERT_TRUE(mine.ok() && !mine->empty());
  Commit forged = mine->back();
  forged.hlc = Hlc::FromPacked(forged.hlc.packed() + 1);
  forged.signature = Must(crypto::SignCommit(attacker, forged));
  PulledBatch batch;
  batch.commits.emplace_back(*OpenHubReplica()->LogHead() + 1, forged);
  auto applied = lc1.replica().ApplyPulled(batch);
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kUnauthenticated) << applied.status();
  EXPECT_EQ(lc1.Read("cases", kase, "narrative").value.str(), "Lò Thị Mai");
}

TEST_F(MembershipTest, TheHubCannotGiveAnOfficeASecondFirstDevice) {
  auto& lc1 = AddNode("LC");
  MustSync(lc1);
  join_offices_ = false;
  auto& rogue = AddNode("LC");
  MustSync(rogue);
  // The ordinary command refuses: the office has a first device.
  const crypto::DevicePublic me = rogue.identity().public_keys();
  absl::Status s = rogue.keys()->ApproveFirst(crypto::PairingCode(me, me));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("already has a first device"), std::string::npos) << s;
  // A modified program signs one anyway and pushes it through the hub.
  PushAsModifiedProgram(rogue, Must(crypto::MembershipRecord(rogue.identity(), Hlc::FromParts(1, 0),
                                                         "LC",
                                                         crypto::MembershipAction::kFirstDevice,
                                                         me)));
  const RowId kase = NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc1);
  MustSync(rogue);
  auto m = lc1.keys()->IsMember("LC", rogue.replica().device_id());
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(*m);
  EXPECT_EQ(rogue.Read("cases", kase, "narrative").state, State::kNoKey);
  auto alerts = lc1.keys()->TrustAlerts();
  ASSERT_TRUE(alerts.ok());
  ASSERT_FALSE(alerts->empty());
  EXPECT_NE(alerts->back().find("claims to be the first device"), std::string::npos)
      << alerts->back();
}

TEST_F(MembershipTest, AnAdministratorsLaptopMadeFirstDeviceIsNoticedAndDoesNotStrandTheOffice) {
  // The administrator enrols a laptop of their own in LC before any real
  // laptop of the office, and makes it the office's first device.
  auto& rogue = AddNode("LC");
  join_offices_ = false;
  auto& lc1 = AddNode("LC");
  MustSync(lc1);
  const crypto::DevicePublic me = lc1.identity().public_keys();
  absl::Status s = lc1.keys()->ApproveFirst(crypto::PairingCode(me, me));
  ASSERT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find(rogue.replica().device_id().ToString()), std::string::npos) << s;
  // The officer calls the hub; the administrator's laptop is revoked. The
  // office's real first laptop is not stuck: it starts the office anew.
  ASSERT_EQ(hub_->Admin({"node", "revoke", rogue.replica().device_id().ToString()}).exit_code, 0);
  MustSync(lc1);
  ASSERT_TRUE(lc1.keys()->ApproveFirst(crypto::PairingCode(me, me)).ok());
  MustSync(lc1);
  auto v = lc1.keys()->Office();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->member);
  ASSERT_TRUE(v->root.has_value());
  EXPECT_EQ(v->root->device, lc1.replica().device_id());
  const RowId kase = NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc1);
  EXPECT_EQ(lc1.Read("cases", kase, "narrative").value.str(), "Nguyễn Thị Hằng");
}

TEST_F(MembershipTest, AGrantGoesOnlyToAnOfficeKeyOfThatOfficesApprovalChain) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  join_offices_ = false;
  // A reader the administrator enrolled in HN publishes an office key of a
  // newer generation than HN's own (a modified program).
  auto& rogue = AddNode("HN");
  MustSync(rogue);
  crypto::OfficeKey newer = crypto::NewOfficeKey("HN", 5);
  PushAsModifiedProgram(rogue, Must(crypto::OfficeKeyRecord(rogue.identity(), NowHlc(), newer)));
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng");
  AcceptReferral(lc, hn, Refer(lc.replica(), kase, "LC", "HN"));
  for (int i = 0; i < 2; ++i) {
    MustSync(lc);
    MustSync(hn);
    MustSync(rogue);
  }
  EXPECT_EQ(hn.Read("cases", kase, "narrative").value.str(), "Nguyễn Thị Hằng");
  EXPECT_EQ(rogue.Read("cases", kase, "narrative").state, State::kNoKey);
  // Every grant lc made is sealed to an office key hn's office chain made.
  auto grants = lc.replica().db().Prepared("SELECT office_key FROM _fs_keys WHERE kind = 3 AND "
                                           "province = 'HN'");
  size_t n = 0;
  while (*(*grants)->Step()) {
    ++n;
    auto owner = lc.replica().db().Prepared("SELECT signer FROM _fs_keys WHERE kind = 1 AND "
                                            "office_key = ?1");
    (*owner)->BindBlob(1, (*grants)->ColumnBlob(0));
    ASSERT_TRUE(*(*owner)->Step());
    EXPECT_EQ((*owner)->ColumnBlob(0), hn.replica().device_id().view());
    (*owner)->Reset();
  }
  (*grants)->Reset();
  EXPECT_GT(n, 0u);
}

}  // namespace
}  // namespace fieldsync::testing
