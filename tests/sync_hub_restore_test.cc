// A hub put back from an older backup (issue 13, story 6; docs/PROTOCOL.md,
// "A hub put back from a backup"): its laptops notice that its log went
// back, by the hashes of the hub's log chain they kept, however the hub was
// restored (here a copied file), pull again from where the two still agree,
// and send again what the hub lost of their own work. Nothing any laptop
// holds is lost, nothing is applied twice, and no administrator acts.
// Real hub processes and laptops.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"

#include "store/sqlite.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

class HubRestoreTest : public SyncTest {
 protected:
  // hub.db, checkpointed, copied aside with the hub stopped: a backup.
  std::string Backup(const std::string& name) {
    const std::string db = hub_->data_dir() + "/hub.db";
    hub_->Stop();
    {
      auto d = sqlite::Db::Open(db, "");
      EXPECT_TRUE(d.ok());
      EXPECT_TRUE((*d)->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
    }
    std::filesystem::copy_file(db, dir_.File(name));
    EXPECT_TRUE(hub_->Start().ok());
    return dir_.File(name);
  }

  // The administrator puts the backup back by copying the file.
  void PutBack(const std::string& saved) {
    const std::string db = hub_->data_dir() + "/hub.db";
    hub_->Stop();
    std::filesystem::remove(db + "-wal");
    std::filesystem::remove(db + "-shm");
    std::filesystem::copy_file(saved, db, std::filesystem::copy_options::overwrite_existing);
    ASSERT_TRUE(hub_->Start().ok());
  }

  int64_t HubCount(const std::string& sql) {
    auto st = sqlite::Db::Open(hub_->data_dir() + "/hub.db", "");
    EXPECT_TRUE(st.ok());
    auto q = (*st)->Prepared(sql);
    EXPECT_TRUE(q.ok()) << q.status();
    auto r = (*q)->Step();
    EXPECT_TRUE(r.ok() && *r) << sql;
    return (*q)->ColumnInt(0);
  }

  static size_t Cases(harness::LocalNode& n) {
    auto ids = n.replica().ListRows("cases", /*include_deleted=*/false);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? ids->size() : 0;
  }
};

// The story as filed: two laptops of Lào Cai, a backup, work after it that
// both laptops hold, the backup put back. Today's laptops were stranded
// ("the node's cursor 6 is past the end of the hub's log (3) ... ask the hub
// administrator"), cases both held never reached the hub again and a new
// laptop got 4 of 7.
TEST_F(HubRestoreTest, ARestoredHubIsHealedByItsLaptopsAndANewLaptopGetsEveryCase) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  NewCase(lc1.replica(), "LC", "Lò Thị Mai");
  NewCase(lc2.replica(), "LC", "Vàng Thị Sua");
  NewCase(lc2.replica(), "LC", "Giàng Thị Dế");
  MustSync(lc1);
  MustSync(lc2);
  MustSync(lc1);
  const std::string backup = Backup("backup.db");
  NewCase(lc1.replica(), "LC", "Hoàng Thị Lan");
  NewCase(lc1.replica(), "LC", "Sùng Thị Chư");
  NewCase(lc2.replica(), "LC", "Lý Thị Mỷ");
  MustSync(lc1);
  MustSync(lc2);
  MustSync(lc1);
  ASSERT_EQ(Cases(lc1), 7u);
  ASSERT_EQ(Cases(lc2), 7u);
  ASSERT_EQ(HubCount("SELECT count(*) FROM cases WHERE _live = 1"), 7);

  PutBack(backup);
  ASSERT_EQ(HubCount("SELECT count(*) FROM cases WHERE _live = 1"), 4);
  node::SyncReport r1 = MustSync(lc1);
  EXPECT_TRUE(r1.own_resent) << "lc1 did not notice that the hub lost its commits";
  EXPECT_TRUE(r1.hub_went_back) << "lc1 did not notice that the hub's log went back";
  // lc1 also relayed lc2's lost commit, which it held: the hub's log is
  // again what lc2 saw, and holds lc2's work: nothing for lc2 to do.
  EXPECT_EQ(r1.relayed, 1u);
  node::SyncReport r2 = MustSync(lc2);
  EXPECT_FALSE(r2.own_resent);
  EXPECT_FALSE(r2.hub_went_back);
  MustSync(lc1);
  MustSync(lc2);
  EXPECT_EQ(HubCount("SELECT count(*) FROM cases WHERE _live = 1"), 7);
  EXPECT_EQ(Cases(lc1), 7u);
  EXPECT_EQ(Cases(lc2), 7u);
  // Nothing applied twice: every commit of the hub's log once.
  EXPECT_EQ(HubCount("SELECT count(*) FROM (SELECT device, seq FROM _fs_log GROUP BY device, "
                     "seq HAVING count(*) > 1)"),
            0);
  // The chain goes on over the healed log: every position hashed.
  EXPECT_EQ(HubCount("SELECT count(*) FROM hub_log_hash"), HubCount("SELECT max(pos) FROM _fs_log"));
  auto& lc3 = AddNode("LC");
  MustSync(lc3);
  EXPECT_EQ(Cases(lc3), 7u);
  // Quiet again: the next passes say nothing of a hub that went back.
  node::SyncReport again = MustSync(lc1);
  EXPECT_FALSE(again.hub_went_back);
  EXPECT_FALSE(again.own_resent);
}

// The restored hub took other work at the positions a laptop had pulled
// before it came back, so its log is past that laptop's cursor again: the
// hash at the cursor tells.
TEST_F(HubRestoreTest, ARestoredHubWhoseLogGrewPastTheCursorIsNoticedByItsHash) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc1);
  MustSync(lc2);
  MustSync(lc1);
  const std::string backup = Backup("backup.db");
  NewCase(lc2.replica(), "LC", "Lò Thị Mai");
  MustSync(lc2);
  MustSync(lc1);
  ASSERT_EQ(Cases(lc1), 2u);
  PutBack(backup);
  // lc1 comes back first with three cases of its own: the hub's log takes
  // them where lc2's case was, past lc1's cursor.
  NewCase(lc1.replica(), "LC", "Hoàng Thị Lan");
  NewCase(lc1.replica(), "LC", "Sùng Thị Chư");
  NewCase(lc1.replica(), "LC", "Lý Thị Mỷ");
  node::SyncReport r1 = MustSync(lc1);
  EXPECT_FALSE(r1.own_resent);
  EXPECT_TRUE(r1.hub_went_back) << "cursor " << r1.cursor << " of " << r1.log_head;
  EXPECT_LT(r1.went_back_to, r1.went_back_from);
  EXPECT_GE(r1.log_head, r1.went_back_from) << "the log did not grow past lc1's cursor";
  EXPECT_EQ(r1.relayed, 1u) << "lc1 held lc2's case and relays it";
  node::SyncReport r2 = MustSync(lc2);
  EXPECT_FALSE(r2.own_resent);
  EXPECT_TRUE(r2.hub_went_back);
  MustSync(lc1);
  EXPECT_EQ(Cases(lc1), 5u);
  EXPECT_EQ(Cases(lc2), 5u);
  EXPECT_EQ(HubCount("SELECT count(*) FROM cases WHERE _live = 1"), 5);
  auto& lc3 = AddNode("LC");
  MustSync(lc3);
  EXPECT_EQ(Cases(lc3), 5u);
}

// A laptop that does not come back: its colleague holds what it wrote after
// the backup and relays it, signed by its author, to the restored hub; a
// new laptop gets every case. When the author comes back, nothing is
// stored twice.
TEST_F(HubRestoreTest, WorkOfALaptopThatDoesNotComeBackIsRelayedByAColleague) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc1);
  MustSync(lc2);
  MustSync(lc1);
  const std::string backup = Backup("backup.db");
  const RowId mai = NewCase(lc2.replica(), "LC", "Lò Thị Mai", "lời kể của chị Mai");
  NewCase(lc2.replica(), "LC", "Vàng Thị Sua");
  MustSync(lc2);
  MustSync(lc1);
  ASSERT_EQ(Cases(lc1), 3u);
  PutBack(backup);
  ASSERT_EQ(HubCount("SELECT count(*) FROM cases WHERE _live = 1"), 1);
  node::SyncReport r1 = MustSync(lc1);
  EXPECT_TRUE(r1.hub_went_back);
  EXPECT_EQ(r1.relayed, 2u) << (r1.relay_notes.empty() ? "" : r1.relay_notes.front());
  EXPECT_EQ(HubCount("SELECT count(*) FROM cases WHERE _live = 1"), 3);
  EXPECT_GT(r1.relayed_key_records, 0u) << "lc2's data keys were not relayed";
  auto& lc3 = AddNode("LC");
  MustSync(lc3);
  EXPECT_EQ(Cases(lc3), 3u);
  // Sealed by lc2 under a data key only lc2's key records carry: relayed too.
  OpenedField narrative = lc3.Read("cases", mai, "narrative");
  EXPECT_EQ(narrative.state, OpenedField::State::kOpened) << narrative.problem;
  EXPECT_EQ(narrative.value, Value::Text("lời kể của chị Mai"));
  // The author comes back: its commits are held already, acknowledged.
  node::SyncReport r2 = MustSync(lc2);
  EXPECT_FALSE(r2.own_resent) << "the hub holds lc2's commits again: nothing to send";
  EXPECT_EQ(r2.pushed, 0u);
  EXPECT_EQ(HubCount("SELECT count(*) FROM (SELECT device, seq FROM _fs_log GROUP BY device, "
                     "seq HAVING count(*) > 1)"),
            0);
  EXPECT_EQ(Cases(lc2), 3u);
}

// A laptop's lost work builds on a colleague's lost work (an edit of a case
// the colleague opened after the backup), and the colleague does not come
// back: the laptop's push waits, the pull relays the colleague's case, and
// the push goes again in the same pass. Before, the push failed ("depends
// on commits the hub does not hold") and ended every pass before the pull.
TEST_F(HubRestoreTest, WorkBuiltOnALostColleaguesWorkArrivesAfterTheRelayInOnePass) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  MustSync(lc1);
  MustSync(lc2);
  const std::string backup = Backup("backup.db");
  const RowId kase = NewCase(lc2.replica(), "LC", "Lò Thị Mai");
  MustSync(lc2);
  MustSync(lc1);
  SetField(lc1.replica(), "cases", kase, "status", Value::Text("assisting"));
  MustSync(lc1);
  PutBack(backup);
  node::SyncReport r1 = MustSync(lc1);
  EXPECT_TRUE(r1.own_resent);
  EXPECT_TRUE(r1.hub_went_back);
  EXPECT_EQ(r1.relayed, 1u) << (r1.relay_notes.empty() ? "" : r1.relay_notes.front());
  EXPECT_TRUE(r1.push_refused.ok()) << r1.push_refused;
  auto& lc3 = AddNode("LC");
  MustSync(lc3);
  ASSERT_TRUE(Holds(lc3, "cases", kase));
  ExpectSameRowEverywhere(kase, {&lc1, &lc3});
}

}  // namespace
}  // namespace fieldsync::testing
