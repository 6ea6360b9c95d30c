// The key ring's writes run inside a transaction they are handed
// (sqlite::Transaction&, store/keyring_impl.h), on a real SQLite file:
//  - what the key ring keeps of a received commit (the referrals it ends)
//    is written in the batch's transaction, so a batch refused midway
//    keeps nothing of the commits checked before the refused one;
//  - a COMMIT that fails is reported, and nothing of the write is kept,
//    in the file or in what the key ring holds in memory.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "crypto/commit_signature.h"
#include "crypto/identity.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "support/faulty_vfs.h"
#include "support/raw_db.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync::testing {
namespace {

int64_t Count(Replica& r, const std::string& table) {
  auto st = RawDb(r).Prepared("SELECT count(*) FROM " + table);
  EXPECT_TRUE(st.ok()) << st.status();
  if (!st.ok()) return -1;
  auto row = (*st)->Step();
  EXPECT_TRUE(row.ok() && *row);
  return (*st)->ColumnInt(0);
}

std::unique_ptr<KeyRing> OpenKeys(Replica* r) {
  auto k = KeyRing::Open(r, "LC");
  EXPECT_TRUE(k.ok()) << k.status();
  return k.ok() ? std::move(*k) : nullptr;
}

// Laptop b's commits, signed by `signer` (b's own identity, or another).
Commit Signed(const Commit& c, const crypto::DeviceIdentity& signer) {
  Commit out = c;
  auto sig = crypto::SignCommit(signer, out);
  EXPECT_TRUE(sig.ok()) << sig.status();
  if (sig.ok()) out.signature = *sig;
  return out;
}

TEST(KeyRingTxnTest, ABatchRefusedMidwayKeepsNoReferralEndingOfItsEarlierCommits) {
  TempDir dir;
  auto a = OpenReplica(dir.File("a.db"), nullptr);
  auto b = OpenReplica(dir.File("b.db"), nullptr);
  ASSERT_TRUE(a && b);
  const crypto::DeviceIdentity id_b = crypto::DeviceIdentity::Generate(b->device_id());
  const crypto::DeviceIdentity stranger = crypto::DeviceIdentity::Generate(b->device_id());
  auto keys = OpenKeys(a.get());
  ASSERT_TRUE(keys);
  ASSERT_TRUE(keys->SetRegistry({{id_b.public_keys(), "LC", "laptop b"}}).ok());
  a->SetSecurity(keys->Security());

  // Laptop b refers a case, then declines the referral (final), then
  // writes once more.
  const RowId ref = Id16::NewRandom();
  const RowId kase = Id16::NewRandom();
  std::vector<Commit> made;
  for (const LocalTxn& t :
       {LocalTxn().Create("referrals", ref,
                          {{"case_id", Value::Bytes(std::string(kase.view()))},
                           {"from_office", T("LC")},
                           {"to_office", T("HN")},
                           {"status", T("sent")}}),
        LocalTxn().Set("referrals", ref, {{"status", T("declined")}}),
        LocalTxn().Set("referrals", ref, {{"sent_at", Value::Int(kTestEpochMillis)}})}) {
    auto c = b->Write(t);
    ASSERT_TRUE(c.ok()) << c.status();
    made.push_back(*c);
  }
  // The third is signed with keys that are not b's: the batch is refused
  // at it, after the decline was checked.
  const std::vector<Commit> batch = {Signed(made[0], id_b), Signed(made[1], id_b),
                                     Signed(made[2], stranger)};
  auto refused = a->Apply(batch);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  EXPECT_EQ(Count(*a, "referrals"), 0);
  EXPECT_EQ(Count(*a, "_fs_referral_final"), 0)
      << "the key ring kept the ending of a referral whose batch was refused";

  // The same two commits, taken: the ending is kept (what the check above
  // would see).
  auto taken = a->Apply({batch[0], batch[1]});
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(Count(*a, "_fs_referral_final"), 1);
}

TEST(KeyRingTxnTest, ACommitThatFailsIsReportedAndNothingOfTheWriteIsKept) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  const crypto::DeviceIdentity other = crypto::DeviceIdentity::Generate(Id16::NewRandom());
  const RegisteredDevice listed{other.public_keys(), "LC", "laptop b"};
  {
    ReplicaOptions o;
    o.path = path;
    o.vfs = RegisterFaultyVfs();
    auto a = Replica::Open(o);
    ASSERT_TRUE(a.ok()) << a.status();
    auto keys = OpenKeys(a->get());
    ASSERT_TRUE(keys);
    // In WAL mode the pages reach the file at COMMIT: its first write
    // fails, a disk error.
    FaultInjector::Get().ArmFailAt(1, FaultMode::kError);
    const absl::Status s = keys->SetRegistry({listed});
    const uint64_t faulted = FaultInjector::Get().faulted_ops();
    FaultInjector::Get().Disarm();
    ASSERT_GT(faulted, 0u) << "no write was failed: the test proves nothing";
    EXPECT_FALSE(s.ok()) << "a COMMIT that failed was reported as success";
    EXPECT_TRUE(keys->Registry().empty()) << "the key ring holds a registry it did not store";
    EXPECT_EQ(keys->FindDevice(other.device()), nullptr);
    // The connection is left in no transaction: the next write goes through.
    ASSERT_TRUE(keys->SetRegistry({listed}).ok());
    EXPECT_EQ(keys->Registry().size(), 1u);
  }
  {
    // And a failed COMMIT of a write that had to create an alert (other
    // name for a known device) keeps neither the alert nor the change.
    ReplicaOptions o;
    o.path = path;
    o.vfs = RegisterFaultyVfs();
    auto a = Replica::Open(o);
    ASSERT_TRUE(a.ok()) << a.status();
    auto keys = OpenKeys(a->get());
    ASSERT_TRUE(keys);
    RegisteredDevice renamed = listed;
    renamed.name = "someone else";
    FaultInjector::Get().ArmFailAt(1, FaultMode::kError);
    const absl::Status s = keys->SetRegistry({renamed});
    FaultInjector::Get().Disarm();
    EXPECT_FALSE(s.ok());
    auto alerts = keys->Alerts(/*acknowledged=*/true);
    ASSERT_TRUE(alerts.ok()) << alerts.status();
    EXPECT_TRUE(alerts->empty());
  }
  // Read again through the default VFS: what the file holds.
  auto a = OpenReplica(path, nullptr);
  ASSERT_TRUE(a);
  auto keys = OpenKeys(a.get());
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->Registry().size(), 1u);
  EXPECT_EQ(keys->Registry()[0].name, "laptop b");
  EXPECT_EQ(Count(*a, "_fs_trust_alerts"), 0);
}

}  // namespace
}  // namespace fieldsync::testing
