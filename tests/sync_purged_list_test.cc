// The list of rows the hub collected (PullResponse.purged) over a link that
// drops every pull after about 20 KB (issue 13, story 3; attack review 24,
// MED 2; docs/PROTOCOL.md, "Tombstones"). Before, the whole list went in
// the first message of every pull, outside the laptop's byte budget, and
// started again from its first row at each pull: a list of more than some
// 750 rows never arrived, and the laptop pulled nothing more, for good.
// Now it comes in messages within the budget, ordered, and a pull cut in it
// goes on after the last row the laptop applied.
//  - A new laptop bootstrapped from its office's checkpoint, which owes the
//    whole list (hub:owes_purged), gets it and catches up.
//  - A laptop away during a collection (its gc_epoch behind the hub's: a
//    laptop many epochs behind takes the same path) gets the rows collected
//    since and drops their tombstones.
// Real hub processes (hub.db and PostgreSQL: the .postgresql variants).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "support/statement_fixture.h"
#include "sync/forwarding_transport.h"
#include "sync/report.h"
#include "sync/retry.h"

namespace fieldsync::testing {
namespace {

constexpr int kCollected = 2000;
// What the link carries of one pull's messages (their size as they came
// over the wire) before it drops.
constexpr uint64_t kLinkBytes = 20000;
// The most passes a laptop may need.
constexpr int kMaxTries = 200;
// A message's fields besides its records (call id, positions, epoch,
// flags), which the hub's byte count leaves out.
constexpr uint64_t kMessageFraming = 256;

// Drops each pull once its messages carried more than kLinkBytes: the
// message that would pass it never arrives. Counts the messages holding
// collected rows, and those larger than the budget the laptop asked.
class CutEveryPullAfter20KB : public sync::ForwardingTransport {
 public:
  using ForwardingTransport::ForwardingTransport;
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override {
    uint64_t carried = 0;
    bool cut = false;
    const uint64_t budget = req.params.max_message_bytes;
    absl::Status s = ForwardingTransport::Pull(req, [&](sync::PullChunk& c) -> absl::Status {
      if (cut) return absl::UnavailableError("the link dropped");
      carried += c.wire_bytes;
      if (carried > kLinkBytes) {
        cut = true;
        ++cuts;
        return absl::UnavailableError("the link dropped");
      }
      if (!c.purged.empty()) {
        ++purged_messages;
        largest_purged = std::max<uint64_t>(largest_purged, c.purged.size());
        if (budget == 0 || c.wire_bytes > budget + kMessageFraming) {
          ++over_budget;
          std::cout << "a message of " << c.purged.size() << " collected rows, " << c.wire_bytes
                    << " bytes, budget " << budget << "\n";
        }
      }
      return on_chunk(c);
    });
    return cut ? absl::UnavailableError("the link cut the pull") : s;
  }
  int cuts = 0;
  int purged_messages = 0;
  int over_budget = 0;
  uint64_t largest_purged = 0;
};

class PurgedListTest : public StatementFixture {
 protected:
  // The hub a `fieldhub serve` process: messages come over gRPC, with
  // their size.
  bool NeedsHubProcess() const override { return true; }

  // `n` writes kCollected cases (clear fields only), syncs, deletes them
  // and syncs twice (the hub then holds its pull past the deletes); or, as
  // many victims (`table` persons; clear fields only), who sort after the
  // shared directory (organisations) in the list of collected rows.
  static std::vector<RowId> WriteAndDeleteCases(harness::LocalNode& n,
                                                const std::string& table = "cases") {
    std::vector<RowId> ids;
    std::vector<LocalTxn> batch;
    for (int i = 0; i < kCollected; ++i) {
      ids.push_back(Id16::NewRandom());
      LocalTxn t;
      if (table == "persons") {
        t.Create("persons", ids.back(),
                 {{"sex", Value::Text("female")}, {"province", Value::Text(n.province())}});
      } else {
        t.Create("cases", ids.back(),
                 {{"case_code", Value::Text(absl::StrCat("LC-Lò-", i))},
                  {"province", Value::Text(n.province())},
                  {"status", Value::Text("intake")}});
      }
      batch.push_back(std::move(t));
      if (batch.size() == 200 || i + 1 == kCollected) {
        auto w = n.replica().WriteMany(batch);
        EXPECT_TRUE(w.ok()) << w.status();
        batch.clear();
      }
    }
    MustSync(n);
    for (size_t i = 0; i < ids.size(); ++i) {
      LocalTxn t;
      t.Delete(table, ids[i]);
      batch.push_back(std::move(t));
      if (batch.size() == 200 || i + 1 == ids.size()) {
        auto w = n.replica().WriteMany(batch);
        EXPECT_TRUE(w.ok()) << w.status();
        batch.clear();
      }
    }
    MustSync(n);
    MustSync(n);
    return ids;
  }

  // The hub collects what was deleted (every other laptop stale; or, with
  // `stale_after` "1h", every laptop holding back what it has not pulled
  // the delete of).
  void Collect(const std::string& what, const std::string& stale_after = "10ms") {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto gc = hub_->Admin({"gc", "--min-age", "0s", "--stale-after", stale_after});
    ASSERT_EQ(gc.exit_code, 0) << gc.err;
    ASSERT_NE(gc.out.find(what), std::string::npos) << gc.out;
  }

  // `fieldhub backup` of the serving hub (either store); the file's path.
  std::string BackUpHub() {
    const std::string file = dir_.File(HubOnPostgres() ? "hub-before.fsbak" : "hub-before.db");
    harness::CommandResult saved = hub_->Admin({"backup", file});
    EXPECT_EQ(saved.exit_code, 0) << saved.err;
    return file;
  }

  // The hub put back from `file` with `fieldhub restore` (stopped, then
  // started again).
  void RestoreHub(const std::string& file) {
    hub_->Stop();
    harness::CommandResult restored = hub_->Admin({"restore", file});
    ASSERT_EQ(restored.exit_code, 0) << restored.err;
    ASSERT_TRUE(hub_->Start().ok());
  }

  // Passes of `n` through `link` until one completes owing no list of
  // collected rows (a pass that installed a checkpoint completes owing it:
  // the next asks for it); the passes made (kMaxTries + 1: never).
  static int SyncUntilDone(harness::LocalNode& n, sync::Transport& link) {
    absl::Status last;
    for (int tries = 1; tries <= kMaxTries; ++tries) {
      auto r = SyncThrough(n, link);
      if (r.ok() && Cursor(n, sync::kOwesPurgedCursor) != 1) {
        std::cout << "completed after " << tries << " passes\n";
        return tries;
      }
      if (r.ok()) continue;
      last = r.status();
      if (!sync::Retryable(last)) {
        ADD_FAILURE() << last;
        return kMaxTries + 1;
      }
    }
    std::cout << "not completed after " << kMaxTries << " passes; last: " << last << "\n";
    return kMaxTries + 1;
  }

  // `first` opens three entries of the shared directory and deletes them;
  // `first` and `away` pull the deletes (and acknowledge them). A laptop of
  // another office that synced before (not stale) has not: it holds their
  // collection back. The entries.
  static std::vector<RowId> DeletedDirectoryEntries(harness::LocalNode& first,
                                                    harness::LocalNode& away) {
    std::vector<RowId> entries;
    for (const char* name : {"Trung tâm Bảo trợ xã hội Lào Cai", "Hội Liên hiệp Phụ nữ Hà Nội",
                             "Tổ chức Rồng Xanh"}) {
      entries.push_back(NewOrg(first.replica(), name));
    }
    MustSync(first);
    MustSync(away);
    for (const RowId& e : entries) {
      LocalTxn t;
      t.Delete("organisations", e);
      EXPECT_TRUE(first.replica().Write(t).ok());
    }
    for (harness::LocalNode* n : {&first, &first, &away, &away}) MustSync(*n);
    for (const RowId& e : entries) EXPECT_TRUE(Holds(away, "organisations", e)) << "a tombstone";
    return entries;
  }

  // The story of a hub put back from an older backup that collects to the
  // same epoch number again (attack review 25, LOW 1), up to the restore:
  // `first` and `away` of Lào Cai, `late` of Hà Nội, which synced before
  // the directory `entries` were deleted and not since; the hub backed up
  // (`backup`), then `first`'s kCollected victims written and deleted,
  // `away` holding their deletes, and collected (epoch 1) but not the
  // entries (`late` holds them back).
  struct RestoreStory {
    harness::LocalNode* first = nullptr;
    harness::LocalNode* away = nullptr;
    harness::LocalNode* late = nullptr;
    std::vector<RowId> entries;
    std::string backup;
  };
  void VictimsCollectedAfterABackup(RestoreStory* s) {
    s->first = &Laptop("LC");
    s->away = &Laptop("LC");
    s->late = &Laptop("HN");
    MustSync(*s->away);
    MustSync(*s->late);
    s->entries = DeletedDirectoryEntries(*s->first, *s->away);
    s->backup = BackUpHub();
    WriteAndDeleteCases(*s->first, "persons");
    MustSync(*s->away);
    MustSync(*s->away);
    ASSERT_NO_FATAL_FAILURE(Collect(absl::StrCat("collected ", kCollected, " tombstones"), "1h"));
  }

  // The rest of the story: the hub put back from the backup, `late` pulls
  // the entries' deletes, and the restored hub collects them: its epoch 1
  // again, another list. Then `away` syncs: it must hold none of them.
  void TheRestoredHubsEpoch1ReachesAway(const RestoreStory& s, const std::string& why) {
    ASSERT_NO_FATAL_FAILURE(RestoreHub(s.backup));
    MustSync(*s.late);
    MustSync(*s.late);
    ASSERT_NO_FATAL_FAILURE(Collect(
        absl::StrCat("collected ", s.entries.size(), " tombstones (collection epoch 1)")));
    MustSync(*s.away);
    MustSync(*s.away);
    for (const RowId& e : s.entries) EXPECT_FALSE(Holds(*s.away, "organisations", e)) << why;
    EXPECT_EQ(Cursor(*s.away, sync::kGcEpochCursor), 1);
    EXPECT_FALSE(PurgedCutKept(*s.away));
  }

  static int64_t Cursor(harness::LocalNode& n, const char* name) {
    return n.replica().GetCursor(name).value_or(-1);
  }

  static bool PurgedCutKept(harness::LocalNode& n) {
    auto c = n.replica().PurgedCutAt();
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() && c->has_value();
  }
};

TEST_F(PurgedListTest, ALongCollectedListReachesANewLaptopOnALinkCutEvery20KB) {
  auto& first = CheckpointingLaptop("LC");
  NewCase(first.replica(), "LC", "Hà Thị Lan");  // the checkpoint holds some rows
  const std::vector<RowId> gone = WriteAndDeleteCases(first);
  ASSERT_NO_FATAL_FAILURE(Collect(absl::StrCat("collected ", kCollected, " tombstones")));
  ASSERT_TRUE(MustSync(first).chain.checkpoint_adopted) << "the office's checkpoint, after it";

  join_offices_ = false;  // its first pull is its bootstrap, over the link
  auto& fresh = Laptop("LC");
  CutEveryPullAfter20KB link(fresh.client().transport());
  const int tries = SyncUntilDone(fresh, link);
  std::cout << link.cuts << " pulls cut, " << link.purged_messages
            << " messages of collected rows, the largest " << link.largest_purged << " rows\n";
  auto boot = fresh.replica().Bootstrap();
  ASSERT_TRUE(boot.ok() && boot->has_value()) << "bootstrapped from the checkpoint";
  EXPECT_LE(tries, kMaxTries) << "the laptop never caught up";
  EXPECT_GE(link.cuts, 1) << "the link did cut";
  EXPECT_GE(link.purged_messages, 2) << "the list came in pages";
  EXPECT_EQ(link.over_budget, 0) << "every message of the list within the laptop's budget";
  EXPECT_EQ(Cursor(fresh, sync::kOwesPurgedCursor), 0) << "the whole list was applied";
  EXPECT_GE(Cursor(fresh, sync::kGcEpochCursor), 1) << "the hub's epoch recorded";
  EXPECT_FALSE(PurgedCutKept(fresh)) << "forgotten once the list was complete";
  for (const RowId& row : gone) ASSERT_FALSE(Holds(fresh, "cases", row));
  ASSERT_TRUE(fresh.JoinOffice(first).ok());
  MustSync(first);
  MustSync(fresh);
  EXPECT_EQ(Digest(first), Digest(fresh));
}

TEST_F(PurgedListTest, ALaptopAwayDuringACollectionDropsALongListOnALinkCutEvery20KB) {
  auto& first = Laptop("LC");
  auto& away = Laptop("LC");
  MustSync(away);
  const std::vector<RowId> gone = WriteAndDeleteCases(first);
  MustSync(away);  // holds the deletes, then stays away
  ASSERT_TRUE(Holds(away, "cases", gone.front())) << "a tombstone";
  ASSERT_NO_FATAL_FAILURE(Collect(absl::StrCat("collected ", kCollected, " tombstones")));
  NewCase(first.replica(), "LC", "Vàng Thị Dợ");
  MustSync(first);
  const int64_t epoch = Cursor(first, sync::kGcEpochCursor);
  ASSERT_GE(epoch, 1);
  ASSERT_LT(Cursor(away, sync::kGcEpochCursor), epoch);

  CutEveryPullAfter20KB link(away.client().transport());
  const int tries = SyncUntilDone(away, link);
  std::cout << link.cuts << " pulls cut, " << link.purged_messages
            << " messages of collected rows, the largest " << link.largest_purged << " rows\n";
  EXPECT_LE(tries, kMaxTries) << "the laptop never caught up";
  EXPECT_GE(link.cuts, 1) << "the link did cut";
  EXPECT_GE(link.purged_messages, 2) << "the list came in pages";
  EXPECT_EQ(link.over_budget, 0) << "every message of the list within the laptop's budget";
  EXPECT_EQ(Cursor(away, sync::kGcEpochCursor), epoch);
  EXPECT_FALSE(PurgedCutKept(away)) << "forgotten once the list was complete";
  int held = 0;
  for (const RowId& row : gone) held += Holds(away, "cases", row) ? 1 : 0;
  EXPECT_EQ(held, 0) << "the collected rows' tombstones dropped";
  EXPECT_EQ(Digest(first), Digest(away));
}

// A list cut before the hub was put back from an older backup (attack
// review 25, LOW 1): the restored hub collected to the laptop's cut epoch
// again, rows that sort before its cut row among them. Before, the hub went
// on after the cut in the very pull that said its log went back, and the
// laptop recorded the epoch: the entries' tombstones stayed for good.
TEST_F(PurgedListTest, AListCutBeforeARestoreIsReadFromTheStartAfterIt) {
  RestoreStory s;
  ASSERT_NO_FATAL_FAILURE(VictimsCollectedAfterABackup(&s));
  CutEveryPullAfter20KB link(s.away->client().transport());
  ASSERT_FALSE(SyncThrough(*s.away, link).ok()) << "the link cut the pull";
  ASSERT_TRUE(PurgedCutKept(*s.away)) << "cut part way through the victims";
  ASSERT_EQ(Cursor(*s.away, sync::kGcEpochCursor), 0);
  TheRestoredHubsEpoch1ReachesAway(s, "the restored hub's list read from its start");
}

// A laptop that finished the list of epoch 1, and a hub put back from an
// older backup that collected other rows to epoch 1 again: the laptop
// drops what the new list names. Before, the number alone said "the same
// list", and the entries' tombstones stayed at the laptop for good.
TEST_F(PurgedListTest, AnEpochNumberReachedAgainAfterARestoreIsANewList) {
  RestoreStory s;
  ASSERT_NO_FATAL_FAILURE(VictimsCollectedAfterABackup(&s));
  MustSync(*s.away);
  ASSERT_EQ(Cursor(*s.away, sync::kGcEpochCursor), 1) << "the list of epoch 1 applied";
  ASSERT_NE(Cursor(*s.away, sync::kGcIdCursor), 0) << "with its collection's id";
  for (const RowId& e : s.entries) ASSERT_TRUE(Holds(*s.away, "organisations", e));
  TheRestoredHubsEpoch1ReachesAway(s, "the restored hub's epoch 1 is a new list");
}

}  // namespace
}  // namespace fieldsync::testing
