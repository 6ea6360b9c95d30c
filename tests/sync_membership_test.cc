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
#include "support/raw_db.h"
#include "support/replica_fixture.h"
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
    auto st = testing::RawDb(n.replica()).Prepared("UPDATE _fs_keys SET pushed = 0 WHERE id = ?1");
    (*st)->BindBlob(1, record.Id());
    ASSERT_TRUE((*st)->Run().ok());
    ASSERT_EQ(testing::RawDb(n.replica()).Changes(), 1);
    auto r = n.Sync();
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->key_records_refused_by_hub, 0u) << r->key_push_refusal;
  }


  // Shares, held by `n`, for `device` of the office keys that `ring`'s
  // office data keys (kind 5) are sealed under: what `device` would need to
  // open the key ring, whatever a hub hands it.
  static int64_t SharesFor(harness::LocalNode& n, const RowId& ring, const DeviceId& device) {
    auto st = testing::RawDb(n.replica()).Prepared(
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
  auto shares = testing::RawDb(lc1.replica()).Prepared("SELECT count(*) FROM _fs_keys WHERE kind = 2 AND "
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

// A second laptop joining as the README says (enrol, sync; a member
// approves; it joins; both sync, in either order) receives the office's key
// and makes none of its own: it printed "created office key generation 1
// ... no key of the office has reached this device" (issue 12).
TEST_F(MembershipTest, ASecondLaptopJoiningMakesNoOfficeKeyOfItsOwn) {
  auto& lc1 = AddNode("LC");
  const RowId kase = NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc1);
  join_offices_ = false;
  auto& lc2 = AddNode("LC");
  std::vector<node::SyncReport> reports = {MustSync(lc2)};
  MustSync(lc1);
  ASSERT_TRUE(lc1.keys()->Approve(lc2.replica().device_id(), Code(lc2)).ok());
  ASSERT_TRUE(lc2.keys()->Join(CodeShownFor(lc1, lc2.replica().device_id())).ok());
  reports.push_back(MustSync(lc2));  // before the approval reached the hub
  MustSync(lc1);
  reports.push_back(MustSync(lc2));
  reports.push_back(MustSync(lc2));
  for (const node::SyncReport& r : reports) {
    for (const std::string& note : r.key_notes) {
      EXPECT_EQ(note.find("created office key"), std::string::npos) << note;
    }
  }
  EXPECT_EQ(lc2.Read("cases", kase, "narrative").state, State::kOpened);
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
  TamperWithHub("UPDATE hub_nodes SET revoked_at = NULL, revoked_position = 0 WHERE device = ?1",
                {Value::Bytes(id)});
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
  TamperWithHub("UPDATE hub_nodes SET sign_pk = ?2, box_pk = ?3 WHERE device = ?1",
                {Value::Bytes(id), Value::Bytes(attacker.public_keys().sign_pk),
                 Value::Bytes(attacker.public_keys().box_pk)});
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
  TamperWithHub("UPDATE hub_nodes SET name = 'renamed' WHERE device = ?1", {Value::Bytes(id)});
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
  batch.commits.emplace_back(*HubLogHead() + 1, forged);
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
  auto grants = testing::RawDb(lc.replica()).Prepared("SELECT office_key FROM _fs_keys WHERE kind = 3 AND "
                                           "province = 'HN'");
  size_t n = 0;
  while (*(*grants)->Step()) {
    ++n;
    auto owner = testing::RawDb(lc.replica()).Prepared("SELECT signer FROM _fs_keys WHERE kind = 1 AND "
                                            "office_key = ?1");
    (*owner)->BindBlob(1, (*grants)->ColumnBlob(0));
    ASSERT_TRUE(*(*owner)->Step());
    EXPECT_EQ((*owner)->ColumnBlob(0), hn.replica().device_id().view());
    (*owner)->Reset();
  }
  (*grants)->Reset();
  EXPECT_GT(n, 0u);
}

// Review finding 6: an approval the hub refused was set aside for good,
// though the refusal came from the hub's state (here its registry, edited:
// the new laptop listed in another office), which can be fixed. The
// approving laptop says so, and sends it again at its next syncs.
TEST_F(MembershipTest, AnApprovalTheHubRefusedIsShownAndSentAgainOnceTheHubIsFixed) {
  auto& lc1 = AddNode("LC");
  join_offices_ = false;
  auto& lc2 = AddNode("LC");
  MustSync(lc2);
  MustSync(lc1);
  const std::string code = CodeShownFor(lc1, lc2.replica().device_id());
  ASSERT_FALSE(code.empty());
  const std::string id(lc2.replica().device_id().view());
  TamperWithHub("UPDATE hub_nodes SET province = 'HN' WHERE device = ?1", {Value::Bytes(id)});
  ASSERT_TRUE(lc1.keys()->Approve(lc2.replica().device_id(), code).ok());
  auto r = lc1.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_GE(r->key_records_refused_by_hub, 1u) << "the hub took the approval";
  EXPECT_NE(r->key_push_refusal.find("is not a device of office LC"), std::string::npos)
      << r->key_push_refusal;
  // device list shows it, with the hub's reason.
  auto refused = [&]() {
    auto v = lc1.keys()->Office();
    EXPECT_TRUE(v.ok()) << v.status();
    if (!v.ok()) return std::string();
    for (const auto& d : v->devices) {
      if (d.device.keys.device == lc2.replica().device_id()) return d.refused;
    }
    return std::string("(not listed)");
  };
  EXPECT_NE(refused().find("the hub refused this laptop's approval of it"), std::string::npos)
      << refused();
  EXPECT_NE(refused().find("is not a device of office LC"), std::string::npos) << refused();
  // The hub is put right; lc1's next sync sends the approval (and the office
  // key share refused with it) again.
  TamperWithHub("UPDATE hub_nodes SET province = 'LC' WHERE device = ?1", {Value::Bytes(id)});
  MustSync(lc1);
  EXPECT_EQ(refused(), "");
  EXPECT_TRUE(lc1.keys()->RefusedRecords()->empty());
  MustSync(lc2);
  ASSERT_TRUE(lc2.keys()->Join(CodeShownFor(lc1, lc2.replica().device_id())).ok());
  const RowId kase = NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc1);
  MustSync(lc2);
  EXPECT_TRUE(lc2.keys()->Office()->member);
  EXPECT_EQ(lc2.Read("cases", kase, "narrative").state, State::kOpened);
}

// ---------------------------------------------------------------------------
// One laptop's key ring alone, fed what a hub would serve (registry and
// records made here by hand): membership as the laptop computes it, without
// a hub process.
class OneLaptopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    replica_ = OpenReplica(dir_.File("replica.db"), SystemClock::Get());
    ASSERT_NE(replica_, nullptr);
    me_ = std::make_unique<crypto::DeviceIdentity>(
        crypto::DeviceIdentity::Generate(replica_->device_id()));
    keys_ = Must(KeyRing::Open(replica_.get(), "LC"));
    ASSERT_TRUE(keys_->Unlock(me_->Clone()).ok());
    Register(*me_, "this laptop");
  }

  // A device of `province` the hub lists (devices_ is the whole registry).
  crypto::DeviceIdentity& NewDevice(const std::string& name, const std::string& province = "LC") {
    others_.push_back(std::make_unique<crypto::DeviceIdentity>(
        crypto::DeviceIdentity::Generate(Id16::NewRandom())));
    Register(*others_.back(), name, province);
    return *others_.back();
  }
  void Register(const crypto::DeviceIdentity& d, const std::string& name,
                const std::string& province = "LC") {
    RegisteredDevice r;
    r.keys = d.public_keys();
    r.province = province;
    r.name = name;
    devices_.push_back(r);
  }
  RegisteredDevice& Listed(const crypto::DeviceIdentity& d) {
    for (RegisteredDevice& r : devices_) {
      if (r.keys.device == d.device()) return r;
    }
    ADD_FAILURE() << "not registered";
    return devices_.front();
  }
  void Serve() { ASSERT_TRUE(keys_->SetRegistry(devices_).ok()); }
  void Revoke(const crypto::DeviceIdentity& d) {
    Listed(d).revoked_position = 1;
    Listed(d).revoked_at_millis = SystemClock::Get()->NowMillis() + 60'000;
    Serve();
  }

  static Hlc Now() { return Hlc::FromParts(SystemClock::Get()->NowMillis(), 0); }
  static crypto::KeyRecord Record(const crypto::DeviceIdentity& by, crypto::MembershipAction a,
                                  const crypto::DevicePublic& who,
                                  std::vector<std::string> kept = {}) {
    return Must(crypto::MembershipRecord(by, Now(), "LC", a, who, std::move(kept)));
  }
  static crypto::KeyRecord First(const crypto::DeviceIdentity& d) {
    return Record(d, crypto::MembershipAction::kFirstDevice, d.public_keys());
  }
  static crypto::KeyRecord Approve(const crypto::DeviceIdentity& by,
                                   const crypto::DevicePublic& who) {
    return Record(by, crypto::MembershipAction::kApprove, who);
  }
  void Take(const std::vector<crypto::KeyRecord>& records) {
    std::vector<std::string> bytes;
    for (const crypto::KeyRecord& r : records) bytes.push_back(r.bytes);
    auto added = keys_->AddRecords(bytes);
    ASSERT_TRUE(added.ok()) << added.status();
    ASSERT_EQ(added->refused, 0u) << added->first_refusal;
  }
  // This laptop's officer joins the office whose first device is `root`.
  void JoinUnder(const crypto::DeviceIdentity& root) {
    absl::Status s = keys_->Join(crypto::PairingCode(root.public_keys(), me_->public_keys()),
                                 root.device());
    ASSERT_TRUE(s.ok()) << s;
  }
  bool Member(const DeviceId& d) { return Must(keys_->IsMember("LC", d)); }
  // Membership records this laptop signed, oldest first.
  std::vector<crypto::KeyRecord> MineOfKind(crypto::MembershipAction a) {
    std::vector<crypto::KeyRecord> out;
    auto st = testing::RawDb(*replica_).Prepared("SELECT bytes FROM _fs_keys WHERE kind = 6 AND signer = ?1 "
                                      "ORDER BY seq");
    (*st)->BindBlob(1, me_->device().view());
    while (*(*st)->Step()) {
      crypto::KeyRecord r = Must(crypto::ParseKeyRecord((*st)->ColumnBlob(0)));
      if (r.action == a) out.push_back(std::move(r));
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<crypto::DeviceIdentity> me_;
  std::unique_ptr<KeyRing> keys_;
  std::vector<std::unique_ptr<crypto::DeviceIdentity>> others_;
  std::vector<RegisteredDevice> devices_;
};

// Review finding 1: an office restarted after its root was revoked (or one
// where an administrator planted a second first device) left later laptops
// with no usable code: the code was computed against the laptop itself.
TEST_F(OneLaptopTest, ARevokedFirstDeviceIsNoCandidateAndTheOtherOnesCodeIsShown) {
  crypto::DeviceIdentity& old_root = NewDevice("lc1 (lost)");
  crypto::DeviceIdentity& new_root = NewDevice("lc1 (new)");
  Serve();
  Take({First(old_root), First(new_root)});
  Revoke(old_root);
  auto v = keys_->Office();
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->first_devices_seen.size(), 1u);
  EXPECT_EQ(v->first_devices_seen.front().keys.device, new_root.device());
  EXPECT_EQ(v->my_code, crypto::PairingCode(new_root.public_keys(), me_->public_keys()))
      << "the code a member of the restarted office shows for this laptop";
  // Joining with that code needs no --first-device: one candidate remains.
  absl::Status joined =
      keys_->Join(crypto::PairingCode(new_root.public_keys(), me_->public_keys()));
  ASSERT_TRUE(joined.ok()) << joined;
  EXPECT_EQ(keys_->Office()->root->device, new_root.device());
}

// From the third review: an office whose first laptop was lost and revoked
// goes on with the members it approved (the hub keeps that chain too), and
// a new laptop must be able to join them; it saw no candidate at all and
// was told to become the office's first device instead, splitting it.
TEST_F(OneLaptopTest, ALaptopJoinsTheMembersOfAnOfficeWhoseFirstLaptopWasRevoked) {
  crypto::DeviceIdentity& root = NewDevice("lc1 (lost)");
  crypto::DeviceIdentity& member = NewDevice("lc2");
  Serve();
  Take({First(root), Approve(root, member.public_keys())});
  Revoke(root);
  auto v = keys_->Office();
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->first_devices_seen.size(), 1u);
  EXPECT_EQ(v->my_code, crypto::PairingCode(root.public_keys(), me_->public_keys()))
      << "the code lc2, which pinned lc1, shows for this laptop";
  absl::Status joined = keys_->Join(crypto::PairingCode(root.public_keys(), me_->public_keys()));
  ASSERT_TRUE(joined.ok()) << joined;
  Take({Approve(member, me_->public_keys())});
  EXPECT_TRUE(Member(me_->device()));
  EXPECT_TRUE(Member(member.device()));
  EXPECT_FALSE(Member(root.device()));
}

TEST_F(OneLaptopTest, TwoFirstDevicesSeenShowACodeEachAndJoiningNeedsTheOfficersChoice) {
  crypto::DeviceIdentity& root = NewDevice("lc1");
  crypto::DeviceIdentity& planted = NewDevice("\xe2\x80\xae" "1cl");  // shown as "lc1"
  Serve();
  Take({First(root), First(planted)});
  auto v = keys_->Office();
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->first_devices_seen.size(), 2u);
  for (const KeyRing::FirstDeviceSeen& f : v->first_devices_seen) {
    EXPECT_EQ(f.my_code, crypto::PairingCode(f.keys, me_->public_keys()));
  }
  EXPECT_EQ(v->my_code, "") << "no single code of this laptop's";
  // The member's code alone is refused, in one line naming both, and
  // nothing is pinned.
  const std::string code = crypto::PairingCode(root.public_keys(), me_->public_keys());
  absl::Status s = keys_->Join(code);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find(root.device().ToString()), std::string::npos) << s;
  EXPECT_NE(s.message().find(planted.device().ToString()), std::string::npos) << s;
  EXPECT_NE(s.message().find("--first-device"), std::string::npos) << s;
  EXPECT_NE(s.message().find("nothing was changed"), std::string::npos) << s;
  EXPECT_EQ(s.message().find('\n'), absl::string_view::npos) << s;
  EXPECT_EQ(s.message().find("\xe2\x80\xae"), absl::string_view::npos) << "a raw bidi mark";
  EXPECT_FALSE(keys_->Office()->root.has_value());
  // Naming the first device the member shows, with the code for it, joins;
  // naming the other with that code does not.
  EXPECT_EQ(keys_->Join(code, planted.device()).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(keys_->Join(code, Id16::NewRandom()).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(keys_->Office()->root.has_value());
  ASSERT_TRUE(keys_->Join(code, root.device()).ok());
  EXPECT_EQ(keys_->Office()->root->device, root.device());
}

// Review finding 2: an office key shared with a device removed since made a
// new generation only if the removed device was in this laptop's registry.
TEST_F(OneLaptopTest, AKeySharedWithARemovedDeviceTheRegistryNeverListedIsRotated) {
  crypto::DeviceIdentity& root = NewDevice("lc1");
  // `gone` was approved and received the office key, then removed; this
  // laptop enrolled later and the hub never listed `gone` to it.
  crypto::DeviceIdentity gone = crypto::DeviceIdentity::Generate(Id16::NewRandom());
  Serve();
  crypto::OfficeKey k = crypto::NewOfficeKey("LC", 1);
  Take({First(root), Approve(root, gone.public_keys()), Approve(root, me_->public_keys()),
        Must(crypto::OfficeKeyRecord(root, Now(), k)),
        Must(crypto::ShareOfficeKey(root, Now(), k, gone.public_keys())),
        Must(crypto::ShareOfficeKey(root, Now(), k, me_->public_keys())),
        Record(root, crypto::MembershipAction::kRemove, gone.public_keys())});
  JoinUnder(root);
  ASSERT_EQ(keys_->FindDevice(gone.device()), nullptr);
  auto r = keys_->Maintain();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->office_keys_created, 1u) << "the key `gone` holds is still the newest";
  auto newest = testing::RawDb(*replica_).Prepared("SELECT max(generation) FROM _fs_keys WHERE kind = 1");
  ASSERT_TRUE(*(*newest)->Step());
  EXPECT_EQ((*newest)->ColumnInt(0), 2);
}

// Review finding 4: a removal kept at most 16 approvals; `Remove` refused
// beyond, and Maintain's removal of a revoked device cut the list silently.
class KeptApprovalsTest : public OneLaptopTest {
 protected:
  void SetUp() override {
    OneLaptopTest::SetUp();
    root_ = &NewDevice("lc1");
    approver_ = &NewDevice("lc2");
    for (int i = 0; i < 17; ++i) approved_.push_back(&NewDevice(absl::StrCat("lc", 3 + i)));
    Serve();
    std::vector<crypto::KeyRecord> records = {First(*root_),
                                              Approve(*root_, approver_->public_keys())};
    for (const crypto::DeviceIdentity* d : approved_) {
      records.push_back(Approve(*approver_, d->public_keys()));
    }
    // This laptop's own approval arrives last.
    records.push_back(Approve(*approver_, me_->public_keys()));
    mine_ = records.back().Id();
    Take(records);
    JoinUnder(*root_);
    ASSERT_TRUE(Member(me_->device()));
    for (const crypto::DeviceIdentity* d : approved_) ASSERT_TRUE(Member(d->device()));
  }

  // Every removal of the approver this laptop wrote keeps at most 16, the
  // first keeps this laptop's own approval, and everyone stays.
  void ExpectAllKept() {
    std::vector<crypto::KeyRecord> removals = MineOfKind(crypto::MembershipAction::kRemove);
    ASSERT_EQ(removals.size(), 2u);
    size_t kept = 0;
    for (const crypto::KeyRecord& r : removals) {
      EXPECT_EQ(r.subject.device, approver_->device());
      EXPECT_LE(r.kept.size(), crypto::kMaxKeptApprovals);
      kept += r.kept.size();
    }
    EXPECT_EQ(kept, 18u);
    EXPECT_EQ(removals.front().kept.front(), mine_) << "this laptop's own approval first";
    EXPECT_FALSE(Member(approver_->device()));
    EXPECT_TRUE(Member(me_->device()));
    for (const crypto::DeviceIdentity* d : approved_) {
      EXPECT_TRUE(Member(d->device())) << "lost its membership";
    }
  }

  crypto::DeviceIdentity* root_ = nullptr;
  crypto::DeviceIdentity* approver_ = nullptr;
  std::vector<crypto::DeviceIdentity*> approved_;
  std::string mine_;
};

TEST_F(KeptApprovalsTest, RemoveWritesSeveralRecordsAndSaysWhichApprovalsItKeeps) {
  auto removal = keys_->Remove(approver_->device());
  ASSERT_TRUE(removal.ok()) << removal.status();
  EXPECT_FALSE(removal->done_already);
  EXPECT_EQ(removal->records, 2u);
  ASSERT_EQ(removal->kept.size(), 18u);
  EXPECT_EQ(removal->kept.front(), me_->device());
  ExpectAllKept();
  auto again = keys_->Remove(approver_->device());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->done_already);
}

TEST_F(KeptApprovalsTest, ARevocationTurnedIntoRemovalsKeepsEveryApproval) {
  Revoke(*approver_);
  auto r = keys_->Maintain();
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectAllKept();
  bool said = false;
  for (const std::string& n : r->notes) {
    said |= n.find("are kept") != std::string::npos &&
            n.find(approved_.back()->device().ToString()) != std::string::npos;
  }
  EXPECT_TRUE(said) << "the notes say which approvals are kept";
}

// Review finding 5: alerts were never acknowledged, stored the hub's text
// as it came (a bidirectional mark reordering a line), and a hub changing
// a name at each sync added one alert each time.
TEST_F(OneLaptopTest, AlertsAreStoredPrintableOneASubjectAndAcknowledged) {
  crypto::DeviceIdentity& lc2 = NewDevice("lc2");
  Serve();
  const std::string forged = "l\x1b[8mc\xe2\x80\xae" "2";
  Listed(lc2).name = forged;
  Serve();
  auto alerts = keys_->Alerts(false);
  ASSERT_TRUE(alerts.ok()) << alerts.status();
  ASSERT_EQ(alerts->size(), 1u);
  const KeyRing::TrustAlert first = alerts->front();
  EXPECT_EQ(first.text.find('\x1b'), std::string::npos) << first.text;
  EXPECT_EQ(first.text.find("\xe2\x80\xae"), std::string::npos) << first.text;
  EXPECT_NE(first.text.find("l\\x1b[8mc\\u202e2"), std::string::npos) << first.text;
  EXPECT_NE(first.text.find("first name is kept"), std::string::npos) << first.text;
  // Served again, and with names changing back and forth: one alert.
  Serve();
  Listed(lc2).name = "lc3";
  Serve();
  Listed(lc2).name = forged;
  Serve();
  alerts = keys_->Alerts(false);
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ(alerts->front().id, first.id);
  EXPECT_EQ(alerts->front().seen, 4);
  // Acknowledged: status no longer shows it, nor once it is served again
  // unchanged; another name shows it again.
  EXPECT_EQ(keys_->AcknowledgeAlerts(first.id + 100).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(*keys_->AcknowledgeAlerts(first.id), 1u);
  EXPECT_TRUE(keys_->TrustAlerts()->empty());
  ASSERT_EQ(keys_->Alerts(true)->size(), 1u);
  EXPECT_NE(keys_->Alerts(true)->front().acknowledged_at_millis, 0);
  Serve();
  EXPECT_TRUE(keys_->TrustAlerts()->empty());
  Listed(lc2).name = "lc9";
  Serve();
  ASSERT_EQ(keys_->TrustAlerts()->size(), 1u);
  EXPECT_NE(keys_->TrustAlerts()->front().find("\"lc9\""), std::string::npos);
  // Another subject is another alert; --ack all takes both.
  Listed(lc2).revoked_at_millis = 1;
  Serve();
  Listed(lc2).revoked_at_millis = 0;
  Serve();
  EXPECT_EQ(keys_->TrustAlerts()->size(), 2u);
  EXPECT_EQ(*keys_->AcknowledgeAlerts(std::nullopt), 2u);
  EXPECT_TRUE(keys_->TrustAlerts()->empty());
}

// A replica whose _fs_trust_alerts predates acknowledgement (text, at, seq)
// keeps its alerts, and they can be acknowledged.
TEST(TrustAlertsUpgradeTest, AlertsOfAnOlderReplicaAreKeptAndAcknowledgeable) {
  TempDir dir;
  auto replica = OpenReplica(dir.File("replica.db"), SystemClock::Get());
  ASSERT_NE(replica, nullptr);
  ASSERT_TRUE(testing::RawDb(*replica)
                  .Exec("CREATE TABLE _fs_trust_alerts(text TEXT PRIMARY KEY, at INTEGER NOT "
                        "NULL, seq INTEGER NOT NULL) WITHOUT ROWID; INSERT INTO "
                        "_fs_trust_alerts VALUES ('an old alert', 1764000000000, 1)")
                  .ok());
  auto keys = Must(KeyRing::Open(replica.get(), "LC"));
  auto alerts = keys->Alerts(false);
  ASSERT_TRUE(alerts.ok()) << alerts.status();
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ(alerts->front().text, "an old alert");
  EXPECT_EQ(alerts->front().last_at_millis, 1764000000000);
  EXPECT_EQ(*keys->AcknowledgeAlerts(alerts->front().id), 1u);
  EXPECT_TRUE(keys->TrustAlerts()->empty());
  keys.reset();
  keys = Must(KeyRing::Open(replica.get(), "LC"));  // opened again: migrated once
  EXPECT_TRUE(keys->TrustAlerts()->empty());
}

}  // namespace
}  // namespace fieldsync::testing
