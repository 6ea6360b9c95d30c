// What a hub's storage reads of the replica it relays from
// (store/replica_relay.cc), through Replica instead of its _fs_* tables:
// log entries by position and by author, an author's positions, the
// sequence held of a device, and a collected tombstone dropped with its
// conflicts.
#include <gtest/gtest.h>

#include "change/commit_codec.h"
#include "store/replica.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync {
namespace {

using testing::Deliver;
using testing::kTestEpochMillis;
using testing::OpenReplica;
using testing::T;

class ReplicaRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = OpenReplica(dir_.File("a.db"), &clock_a_);
    b_ = OpenReplica(dir_.File("b.db"), &clock_b_);
    hub_ = OpenReplica(dir_.File("hub.db"), &clock_hub_);
    ASSERT_TRUE(a_ && b_ && hub_);
  }

  RowId NewCase(Replica& r, FakeClock& clock, const char* code) {
    const RowId id = RowId::NewV7(&clock);
    auto c = r.Write(LocalTxn().Create("cases", id, {{"case_code", T(code)},
                                                     {"province", T("LC")},
                                                     {"status", T("intake")}}));
    EXPECT_TRUE(c.ok()) << c.status();
    return id;
  }

  testing::TempDir dir_;
  FakeClock clock_a_{kTestEpochMillis};
  FakeClock clock_b_{kTestEpochMillis};
  FakeClock clock_hub_{kTestEpochMillis};
  std::unique_ptr<Replica> a_, b_, hub_;
};

TEST_F(ReplicaRelayTest, LogEntriesByPositionAndByAuthor) {
  NewCase(*a_, clock_a_, "LC-0001");
  NewCase(*b_, clock_b_, "LC-0002");
  NewCase(*a_, clock_a_, "LC-0003");
  Deliver(*a_, *hub_);  // positions 1, 2: a's seq 1, 2
  Deliver(*b_, *hub_);  // position 3: b's seq 1
  auto all = hub_->RawLogAfter(0, 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].seq, 1u);
  EXPECT_EQ((*all)[1].seq, 2u);
  EXPECT_EQ((*all)[2].author, b_->device_id());

  // At positions, in position order, the missing ones left out.
  auto at = hub_->RawLogAt({3, 1, 99});
  ASSERT_TRUE(at.ok()) << at.status();
  ASSERT_EQ(at->size(), 2u);
  EXPECT_EQ((*at)[0].position, 1);
  EXPECT_EQ((*at)[0].author, a_->device_id());
  EXPECT_EQ((*at)[0].body, (*all)[0].body);
  EXPECT_EQ((*at)[1].position, 3);
  EXPECT_EQ((*at)[1].seq, 1u);
  EXPECT_TRUE(hub_->RawLogAt({})->empty());

  // By author and sequence.
  auto second = hub_->RawLogEntryOf(a_->device_id(), 2);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->position, 2);
  auto decoded = DecodeCommit((*second)->body);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->seq, 2u);
  EXPECT_FALSE(hub_->RawLogEntryOf(a_->device_id(), 3)->has_value());
  EXPECT_FALSE(hub_->RawLogEntryOf(DeviceId::NewRandom(), 1)->has_value());

  // An author's positions, and the sequence held of each device.
  EXPECT_EQ(*hub_->LogPositionsOf(a_->device_id(), 0), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(*hub_->LogPositionsOf(a_->device_id(), 1), (std::vector<int64_t>{2}));
  EXPECT_EQ(*hub_->LogPositionsOf(b_->device_id(), 0), (std::vector<int64_t>{3}));
  EXPECT_EQ(*hub_->SeqHeld(a_->device_id()), 2u);
  EXPECT_EQ(*hub_->SeqHeld(b_->device_id()), 1u);
  EXPECT_EQ(*hub_->SeqHeld(DeviceId::NewRandom()), 0u);
}

TEST_F(ReplicaRelayTest, ATombstoneIsDroppedWithItsConflictsAndNothingElseIs) {
  const RowId gone = NewCase(*a_, clock_a_, "LC-0001");
  const RowId kept = NewCase(*a_, clock_a_, "LC-0002");
  Deliver(*a_, *b_);
  clock_a_.Advance(10);
  clock_b_.Advance(5);
  // An edit concurrent with the delete: a conflict on the tombstone.
  ASSERT_TRUE(a_->Write(LocalTxn().Delete("cases", gone)).ok());
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", gone, {{"status", T("verifying")}})).ok());
  Deliver(*a_, *hub_);
  Deliver(*b_, *hub_);
  ASSERT_EQ(hub_->Conflicts("cases", gone)->size(), 1u);

  EXPECT_FALSE(*hub_->DropTombstone("cases", kept));  // live: stays
  EXPECT_TRUE((*hub_->Get("cases", kept)).has_value());
  EXPECT_FALSE(*hub_->DropTombstone("cases", RowId::NewRandom()));
  auto bad = hub_->DropTombstone("victims", gone);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();

  auto dropped = hub_->DropTombstone("cases", gone);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_TRUE(*dropped);
  EXPECT_FALSE((*hub_->Get("cases", gone)).has_value());
  EXPECT_TRUE(hub_->Conflicts("cases", gone)->empty());
  EXPECT_FALSE(*hub_->DropTombstone("cases", gone));  // once
}

}  // namespace
}  // namespace fieldsync
