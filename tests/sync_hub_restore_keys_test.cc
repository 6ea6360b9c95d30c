// A hub put back from a backup that lost key records alone (docs/PROTOCOL.md,
// "A hub put back from a backup"): records a laptop pushed after the backup
// with no commit of its own after it -- the key of a case whose commit the
// hub had before the backup, an approval and its office key share. Neither
// the log chain (no position was lost) nor the commits held (none was)
// show it; the hub's count of the records the laptop signed does
// (HelloResponse.own.key_records), and the laptop sends its own again: the
// same signed records, never a new one on the hub's word.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "crypto/key_record.h"
#include "node/ops/records.h"
#include "support/raw_db.h"
#include "support/sync_fixture.h"
#include "sync/forwarding_transport.h"
#include "sync/pass.h"

namespace fieldsync::testing {
namespace {

// A link that carries every call but pushes of key records: those are
// answered as a connection that died (the pass fails after its commits
// were pushed, as the simulation's links do).
class KeysCutTransport : public sync::ForwardingTransport {
 public:
  using ForwardingTransport::ForwardingTransport;
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    if (!req.key_records.empty()) return absl::UnavailableError("the link dropped the push");
    return ForwardingTransport::Push(req);
  }
};

// A hub that says it holds none of the caller's key records, and what
// the laptop then pushes.
class LostKeysClaim : public sync::ForwardingTransport {
 public:
  using ForwardingTransport::ForwardingTransport;
  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& req) override {
    absl::StatusOr<sync::HelloReply> out = ForwardingTransport::Hello(req);
    if (out.ok() && out->own) out->own->key_records = 0;
    return out;
  }
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    for (const std::string& r : req.key_records) pushed.insert(r);
    return ForwardingTransport::Push(req);
  }
  std::set<std::string> pushed;
};

// Counts the key records the hub's pull answers carry.
class KeysPulled : public sync::ForwardingTransport {
 public:
  using ForwardingTransport::ForwardingTransport;
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on) override {
    return ForwardingTransport::Pull(req, [&](sync::PullChunk& c) {
      records += c.key_records.size();
      for (const std::string& k : c.key_records) bytes += k.size();
      return on(c);
    });
  }
  size_t records = 0;
  size_t bytes = 0;
};

// The same claim at every hello, and the order of the key records pushed.
class LostKeysClaimEveryPass : public LostKeysClaim {
 public:
  using LostKeysClaim::LostKeysClaim;
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    for (const std::string& r : req.key_records) order.push_back(r);
    return LostKeysClaim::Push(req);
  }
  std::vector<std::string> order;
};

class HubRestoreKeysTest : public SyncTest {
 protected:
  static void ExpectOpens(harness::LocalNode& n, const RowId& kase, const std::string& text) {
    OpenedField f = n.Read("cases", kase, "narrative");
    EXPECT_EQ(f.state, OpenedField::State::kOpened) << f.problem;
    EXPECT_EQ(f.value, Value::Text(text));
  }
  void KeyPushedAfterTheBackupIsSentAgain();
  void KeysAtSeqsGivenAgainReachALaptopPastThem();
  static bool Noted(const node::SyncReport& r, const std::string& what) {
    for (const std::string& n : r.key_notes) {
      if (n.find(what) != std::string::npos) return true;
    }
    return false;
  }
};

// Simulation seed 6682309121010439305: LC2 writes a case (its key made with
// it); a pass pushes the commit and is cut before the key; the hub's backup;
// the next pass pushes the key; the backup put back. Before, LC2 never sent
// the key again (the hub held all its commits, its log had not gone back)
// and LC1 could not open the case's narrative, for good.
TEST_F(HubRestoreKeysTest, AKeyPushedAfterTheBackupWithoutItsCommitIsSentAgain) {
  KeyPushedAfterTheBackupIsSentAgain();
}

class HubRestoreKeysProcessTest : public HubRestoreKeysTest {
 protected:
  bool NeedsHubProcess() const override { return true; }
};

// The same through a `fieldhub serve` process: the count crosses gRPC
// (HelloResponse.own.key_records).
TEST_F(HubRestoreKeysProcessTest, AKeyPushedAfterTheBackupWithoutItsCommitIsSentAgain) {
  KeyPushedAfterTheBackupIsSentAgain();
}

void HubRestoreKeysTest::KeyPushedAfterTheBackupIsSentAgain() {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  MustSync(lc1);
  MustSync(lc2);
  const RowId kase = NewCase(lc2.replica(), "LC", "Lò Thị Mai", "Bị chồng đánh");
  {
    KeysCutTransport cut(lc2.client().transport());
    auto r = sync::RunPass(cut, lc2.replica(), *lc2.keys(), lc2.credential(), {});
    ASSERT_FALSE(r.ok()) << "the key's push was to fail";
  }
  const std::string backup = CopyHubFile("backup.db");
  MustSync(lc2);  // the key, alone
  PutHubFileBack(backup);

  node::SyncReport r2 = MustSync(lc2);
  EXPECT_FALSE(r2.own_resent) << "the hub held every commit of lc2";
  EXPECT_FALSE(r2.hub_went_back) << "the hub's log did not go back";
  EXPECT_TRUE(Noted(r2, "key records this laptop had sent")) << "lc2 did not notice the lost key";
  MustSync(lc1);
  ExpectOpens(lc1, kase, "Bị chồng đánh");
  // Nothing more is sent once the hub holds them all.
  node::SyncReport again = MustSync(lc2);
  EXPECT_FALSE(Noted(again, "key records this laptop had sent"));
  EXPECT_EQ(again.key_records_pushed, 0u);
}

// An approval and its office key share, pushed after the backup with no
// commit: the new laptop would never get the office's key.
TEST_F(HubRestoreKeysTest, AnApprovalPushedAfterTheBackupIsSentAgain) {
  join_offices_ = false;
  auto& lc1 = AddNode("LC");
  ASSERT_TRUE(lc1.BecomeFirstDevice().ok());
  const RowId kase = NewCase(lc1.replica(), "LC", "Vàng Thị Sua", "Bị ép cưới");
  MustSync(lc1);
  auto& lc2 = AddNode("LC");
  MustSync(lc2);  // it sees the first device
  MustSync(lc1);  // it sees lc2
  const std::string backup = CopyHubFile("backup.db");
  auto mine = lc2.keys()->Office();
  ASSERT_TRUE(mine.ok()) << mine.status();
  ASSERT_TRUE(lc1.keys()->Approve(lc2.replica().device_id(), mine->my_code).ok());
  auto theirs = lc1.keys()->Office();
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  std::string shown;
  for (const KeyRing::OfficeDevice& d : theirs->devices) {
    if (d.device.keys.device == lc2.replica().device_id()) shown = d.code;
  }
  ASSERT_TRUE(lc2.keys()->Join(shown).ok());
  MustSync(lc1);  // the approval and the share, no commit
  PutHubFileBack(backup);

  MustSync(lc2);
  node::SyncReport r1 = MustSync(lc1);
  EXPECT_TRUE(Noted(r1, "key records this laptop had sent")) << "lc1 did not notice";
  MustSync(lc2);
  ExpectOpens(lc2, kase, "Bị ép cưới");
}

// Simulation seed 98930324263262932 (and 4 more of session 18): a laptop
// pulled key records stored after the backup with no commit (here an
// approval and its share), so its key cursor went past the backup's last
// record while its log cursor did not; the backup put back, the hub gave
// those seqs again to other records (a colleague's new case's key) and
// the laptop, asking after its cursor, skipped them: that case's narrative
// stayed closed to it for good. Now the hub's mark of the record at the
// key cursor differs (hub/key_mark.h) and the hub sends its key records
// from the start.
TEST_F(HubRestoreKeysTest, KeyRecordsAtSeqsTheRestoredHubGaveAgainReachALaptopPastThem) {
  KeysAtSeqsGivenAgainReachALaptopPastThem();
}

// The same through a `fieldhub serve` process: the mark crosses gRPC
// (PullResponse.key_mark, PullRequest.key_mark).
TEST_F(HubRestoreKeysProcessTest, KeyRecordsAtSeqsTheRestoredHubGaveAgainReachALaptopPastThem) {
  KeysAtSeqsGivenAgainReachALaptopPastThem();
}

void HubRestoreKeysTest::KeysAtSeqsGivenAgainReachALaptopPastThem() {
  join_offices_ = false;
  auto& lc1 = AddNode("LC");
  ASSERT_TRUE(lc1.BecomeFirstDevice().ok());
  auto& lc2 = AddNode("LC");
  ASSERT_TRUE(lc2.JoinOffice(lc1).ok());
  auto& lc3 = AddNode("LC");
  MustSync(lc3);
  MustSync(lc1);
  MustSync(lc2);
  const std::string backup = CopyHubFile("backup.db");
  // lc3 approved: key records alone, which lc1 pulls (its key cursor past
  // the backup's last record; no commit, so its log cursor is not).
  ASSERT_TRUE(lc3.JoinOffice(lc1).ok());
  MustSync(lc1);
  PutHubFileBack(backup);

  const RowId kase = NewCase(lc2.replica(), "LC", "Sùng Thị Mỷ", "Bị bỏ rơi");
  MustSync(lc2);  // its case's key at a seq lc1 had pulled past
  node::SyncReport r1 = MustSync(lc1);
  EXPECT_FALSE(r1.hub_went_back) << "the hub's log did not go back under lc1";
  ExpectOpens(lc1, kase, "Bị bỏ rơi");
  // Once past the records given again, the pulls go on from the cursor.
  KeysPulled counted(lc1.client().transport());
  auto again = sync::RunPass(counted, lc1.replica(), *lc1.keys(), lc1.credential(), {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(counted.records, 0u) << "the key records were sent from the start again";
}

// Attack review 86, MED 2: the hub sets a laptop's key cursor and mark on
// every record it looks at, another office's grant of a case the laptop
// does not see included. An erasure deleted that record and, the mark
// finding nothing at the cursor, the hub sent the laptop every key record
// again (the review measured 26,616 bytes for a laptop of 100 cases), at
// each erasure an office chose to make. Now the erasure keeps the erased
// record's seq, id and time stored (hub_keys_erased, no bytes): the mark
// still matches, and laptops of other offices pull the erasures alone (3:
// the case's ring, its person's, its referral letter's; before, 22
// records each).
TEST_F(HubRestoreKeysTest, AnotherOfficesErasureDoesNotSendALaptopEveryKeyRecordAgain) {
  ASSERT_TRUE(hub_->AddProvince("DB", "Điện Biên").ok());
  auto& hn = AddNode("HN");  // the office the case is referred to
  auto& db = AddNode("DB");  // an office with no part in it
  for (int i = 0; i < 6; ++i) {
    NewCase(hn.replica(), "HN", absl::StrCat("Hà Thị ", i), "Bị lừa bán");
    NewCase(db.replica(), "DB", absl::StrCat("Điện Thị ", i), "Bị ép cưới");
  }
  MustSync(hn);
  MustSync(db);
  auto& lc = AddNode("LC");
  const RowId kase = NewCase(lc.replica(), "LC", "Lò Thị Mai", "Bị chồng đánh");
  AcceptReferral(lc, hn, Refer(lc.replica(), kase, "LC", "HN"));
  MustSync(db);
  MustSync(hn);
  // Both laptops' key cursors are at a grant to HN of one of the case
  // file's rings (the case's, its person's, its referral letter's), looked
  // at by DB's laptop and not sent to it: LC erases the case as
  // `fieldnode erase` does, with those rings.
  std::set<std::string> rings;
  {
    auto hub = OpenHubReplica();
    auto st = testing::RawDb(*hub).Prepared("SELECT DISTINCT keyring FROM hub_keys WHERE "
                                            "province = 'HN' AND keyring IS NOT NULL AND kind = ?1");
    ASSERT_TRUE(st.ok()) << st.status();
    (*st)->BindInt(1, static_cast<int>(crypto::KeyRecordKind::kDataKey));
    while (*(*st)->Step()) rings.insert(std::string((*st)->ColumnBlob(0)));
    ASSERT_EQ(rings.size(), 3u) << "the case file's rings granted to HN";
    for (harness::LocalNode* n : {&hn, &db}) {
      auto at = n->replica().GetCursor(sync::kKeyCursor);
      ASSERT_TRUE(at.ok()) << at.status();
      auto ring = testing::RawDb(*hub).Prepared("SELECT keyring FROM hub_keys WHERE seq = ?1");
      ASSERT_TRUE(ring.ok()) << ring.status();
      (*ring)->BindInt(1, *at);
      ASSERT_TRUE(*(*ring)->Step()) << "no record at the key cursor " << *at;
      ASSERT_EQ(rings.count(std::string((*ring)->ColumnBlob(0))), 1u)
          << "the key cursor " << *at << " is not at a record of the case file erased below";
    }
  }

  const node::ops::Office o{lc.replica(), *lc.keys(), "LC", "Lò Thị Mai", "unlock it"};
  auto erased = node::ops::EraseCase(o, kase.ToString());
  ASSERT_TRUE(erased.ok()) << erased.status();
  ASSERT_TRUE(erased->person_erased);
  MustSync(lc);
  for (harness::LocalNode* n : {&hn, &db}) {
    KeysPulled counted(n->client().transport());
    auto r = sync::RunPass(counted, n->replica(), *n->keys(), n->credential(), {});
    ASSERT_TRUE(r.ok()) << r.status();
    std::printf("%s pulled %zu key records, %zu bytes, after LC's erasure\n",
                n == &hn ? "HN" : "DB", counted.records, counted.bytes);
    EXPECT_LE(counted.records, rings.size())
        << "the erasures alone (one a ring), not every key record again";
  }
  EXPECT_EQ(hn.Read("cases", kase, "narrative").state, OpenedField::State::kErased);
}

// The hub's word alone: a hub that claims it lost every record a laptop
// signed gets those records again, the same bytes, and not one new record
// (no share, no grant made on its word).
TEST_F(HubRestoreKeysTest, AHubClaimingItLostTheKeysGetsTheSameRecordsAndNoNewOne) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  NewCase(lc1.replica(), "LC", "Giàng Thị Dế", "Bị lừa bán");
  MustSync(lc1);
  MustSync(lc2);
  MustSync(lc1);
  auto held = lc1.keys()->RecordsSignedBy(lc1.replica().device_id(), 0, 1000);
  ASSERT_TRUE(held.ok()) << held.status();
  std::set<std::string> mine;
  for (const auto& [seq, bytes] : *held) mine.insert(bytes);
  ASSERT_FALSE(mine.empty());

  LostKeysClaim liar(lc1.client().transport());
  auto r = sync::RunPass(liar, lc1.replica(), *lc1.keys(), lc1.credential(), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(Noted(*r, "key records this laptop had sent"));
  EXPECT_EQ(liar.pushed, mine) << "not the same records again";
  auto after = lc1.keys()->RecordsSignedBy(lc1.replica().device_id(), 0, 1000);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->size(), held->size()) << "a record was made on the hub's word";
}

// Attack review 84, MED/LOW: a hub that says at every hello it holds none
// of the laptop's key records. Before, every record the laptop ever signed
// was marked again at each pass and sent oldest first (new ones, a new
// case's key, behind them on a small link), without end. Now the record
// never acknowledged goes first, and over 12 passes the old ones are sent
// again at 5 of them (the first, then 1, 2, 4, 8 passes after), not 12.
TEST_F(HubRestoreKeysTest, AHubAlwaysClaimingItLostTheKeysGetsNewRecordsFirstAndFewResends) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  for (const char* name : {"Giàng Thị Dế", "Lò Thị Mai", "Hà Thị Sáu"}) {
    NewCase(lc1.replica(), "LC", name, "Bị lừa bán");
  }
  MustSync(lc1);
  MustSync(lc2);
  MustSync(lc1);
  const DeviceId self = lc1.replica().device_id();
  auto held = lc1.keys()->RecordsSignedBy(self, 0, 1000);
  ASSERT_TRUE(held.ok()) << held.status();
  std::set<std::string> old;
  for (const auto& [seq, bytes] : *held) old.insert(bytes);
  ASSERT_GE(old.size(), 3u);
  const RowId fresh = NewCase(lc1.replica(), "LC", "Vàng Thị Dợ", "Bị ép cưới");

  LostKeysClaimEveryPass liar(lc1.client().transport());
  size_t resent = 0;
  constexpr int kPasses = 12;
  for (int pass = 0; pass < kPasses; ++pass) {
    liar.order.clear();
    auto r = sync::RunPass(liar, lc1.replica(), *lc1.keys(), lc1.credential(), {});
    ASSERT_TRUE(r.ok()) << "pass " << pass << ": " << r.status();
    if (pass == 0) {
      ASSERT_FALSE(liar.order.empty());
      EXPECT_EQ(old.count(liar.order.front()), 0u)
          << "a record sent again went before the new case's key";
    }
    for (const std::string& rec : liar.order) resent += old.count(rec);
  }
  EXPECT_LE(resent, 5 * old.size()) << "sent again over " << kPasses << " passes";
  EXPECT_GE(resent, old.size()) << "never sent again";
  // The colleague opens the new case: its key reached the hub.
  MustSync(lc2);
  ExpectOpens(lc2, fresh, "Bị ép cưới");
  // An honest hub's count ends the episode.
  MustSync(lc1);
  auto since = lc1.replica().GetCursor(sync::kKeysResentCursor);
  ASSERT_TRUE(since.ok()) << since.status();
  EXPECT_EQ(*since, 0);
}

}  // namespace
}  // namespace fieldsync::testing
