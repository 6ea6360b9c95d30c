// What only the PostgreSQL hub store claims beyond the behaviour it shares
// with SQLite (hub_*_store_test): several hub processes writing one
// database (here two stores, each with its own connections) stay as one
// writer would, and a database of schema version 2 is brought to 3.
//
// A writer holding its transaction open is held by a pause (kHold) so that
// the other process's write happens meanwhile: with the log head's row
// lock, that write waits and the assertions hold however long the pause;
// without it, they fail.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/key_record.h"
#include "hub/log_chain.h"
#include "hub/pg/connection.h"
#include "hub/pg/schema.h"
#include "hub/pg/storage.h"
#include "merge/commit_merge.h"
#include "support/pg_cluster.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync::hub {
namespace {

using fieldsync::testing::kTestEpochMillis;
using fieldsync::testing::OpenReplica;
using fieldsync::testing::T;

constexpr std::chrono::milliseconds kHold{400};

class PgHubWritersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = db_.Create();
    ASSERT_TRUE(s.ok()) << s;
  }
  std::unique_ptr<PostgresHubStorage> Open() {
    auto hub = PostgresHubStorage::Open(db_.uri(), &clock_hub_);
    EXPECT_TRUE(hub.ok()) << hub.status();
    return hub.ok() ? std::move(hub).value() : nullptr;
  }
  // `n` cases created on a laptop, merged by `hub` (no log chain).
  void MergeCases(HubStorage& hub, int n) {
    auto a = OpenReplica(dir_.File("a.db"), &clock_a_);
    ASSERT_TRUE(a);
    for (int i = 0; i < n; ++i) {
      clock_a_.Advance(1);
      ASSERT_TRUE(a->Write(LocalTxn().Create("cases", RowId::NewV7(&clock_a_),
                                             {{"case_code", T("LC-0001")},
                                              {"province", T("điện-biên")}})).ok());
    }
    auto commits = a->LocalCommitsAfter(0, 1000);
    ASSERT_TRUE(commits.ok());
    absl::Status s = hub.Write([&](HubWriteTxn& w) {
      return w.MergeTransaction(
          [&](MergeStore& rows) { return MergeCommits(rows, *commits, nullptr).status(); });
    });
    ASSERT_TRUE(s.ok()) << s;
  }

  fieldsync::testing::TempDir dir_;
  fieldsync::testing::PgDatabase db_;
  FakeClock clock_a_{kTestEpochMillis};
  FakeClock clock_hub_{kTestEpochMillis + 60'000};
};

// Two processes bring the log chain up to date at once (each hub's
// BringUpToDate at start): the second waits for the first and finds
// nothing left to hash; each position hashed once, in one chain.
TEST_F(PgHubWritersTest, TwoProcessesExtendingTheLogChainAtOnceHashEachPositionOnce) {
  auto one = Open();
  auto two = Open();
  ASSERT_TRUE(one && two);
  MergeCases(*one, 30);
  const DeviceId hub_id = one->hub_id();
  std::atomic<bool> hashed{false};
  absl::Status first_done;
  std::thread first([&] {
    first_done = one->Write([&](HubWriteTxn& w) {
      return w.Atomically([&]() -> absl::Status {
        absl::Status s = ExtendLogChain(w, hub_id);
        hashed = true;
        std::this_thread::sleep_for(kHold);  // uncommitted meanwhile
        return s;
      });
    });
  });
  while (!hashed) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  absl::Status second = two->Write(
      [&](HubWriteTxn& w) { return w.Atomically([&] { return ExtendLogChain(w, hub_id); }); });
  first.join();
  EXPECT_TRUE(first_done.ok()) << first_done;
  EXPECT_TRUE(second.ok()) << second;

  absl::Status s = two->Read([&](HubReadTxn& r) -> absl::Status {
    auto entries = r.LogEntriesAfter(0, 100);
    if (!entries.ok()) return entries.status();
    EXPECT_EQ(entries->size(), 30u);
    std::string expect = LogHashZero(hub_id);
    for (const LogEntry& e : *entries) {
      expect = NextLogHash(expect, e);
      EXPECT_EQ(*r.LogHash(e.position), std::optional<std::string>(expect)) << e.position;
    }
    auto head = r.LogHashHead();
    EXPECT_TRUE(head.ok() && head->position == 30 && head->hash == expect);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

// A key record stored by one process while another's transaction holding
// an earlier one is open: a pull that sees the later record sees the
// earlier (key cursors move past what they saw: a record committed later
// under a lower seq would be skipped for good).
TEST_F(PgHubWritersTest, AKeyRecordIsNeverVisibleBeforeOneOfALowerSeq) {
  auto one = Open();
  auto two = Open();
  ASSERT_TRUE(one && two);
  auto record = [](const char* name) {
    StoredKeyRecord r;
    r.kind = static_cast<int>(crypto::KeyRecordKind::kDataKey);
    r.province = "LC";
    r.stored_at_millis = 1;
    r.id = name;
    r.bytes = absl::StrCat("bytes of ", name);
    return r;
  };
  std::atomic<bool> stored{false};
  absl::Status first_done;
  std::thread first([&] {
    first_done = one->Write([&](HubWriteTxn& w) {
      return w.Atomically([&]() -> absl::Status {
        auto s = w.StoreKeyRecord(record("earlier"));
        stored = true;
        std::this_thread::sleep_for(kHold);  // uncommitted meanwhile
        return s.status();
      });
    });
  });
  while (!stored) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  absl::Status second = two->Write(
      [&](HubWriteTxn& w) { return w.StoreKeyRecord(record("later")).status(); });
  EXPECT_TRUE(second.ok()) << second;
  // Read at once, before the first process may have committed.
  std::vector<std::string> seen;
  absl::Status s = two->Read([&](HubReadTxn& r) {
    return r.ForEachKeyRecordAfter(0, [&](const StoredKeyRecord& k) {
      seen.push_back(absl::StrCat(k.seq, ":", k.id));
      return absl::OkStatus();
    });
  });
  first.join();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(first_done.ok()) << first_done;
  EXPECT_EQ(seen, (std::vector<std::string>{"1:earlier", "2:later"}));
}

// A database of schema version 2 (session 20's) is brought to the current
// version when a hub opens it: its log kept, the new tables made and empty,
// the collection at horizon 0, epoch 0.
TEST_F(PgHubWritersTest, AVersion2DatabaseIsUpgradedToTheCurrentVersion) {
  {
    auto conn = pg::Connection::Open(db_.uri());
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE(pg::Migrate(**conn, kTestEpochMillis, /*up_to=*/2).ok());
    EXPECT_EQ(*pg::SchemaVersion(**conn), 2);
    EXPECT_FALSE((*conn)->Exec("SELECT 1 FROM hub_gc").ok());  // not made yet
  }
  {
    // Its log as a version 2 hub wrote it.
    auto conn = pg::Connection::Open(db_.uri());
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->Exec("INSERT INTO hub_log(position, author, seq, body, signature, hlc) "
                              "VALUES (1, $1, 1, 'body', NULL, 5)",
                              {pg::Param::Bytes(std::string(16, '\x07'))})
                    .ok());
    ASSERT_TRUE((*conn)->Exec("UPDATE hub_log_head SET position = 1").ok());
  }
  auto hub = Open();
  ASSERT_TRUE(hub);
  {
    auto conn = pg::Connection::Open(db_.uri());
    ASSERT_TRUE(conn.ok());
    EXPECT_EQ(*pg::SchemaVersion(**conn), pg::kPgSchemaVersion);
  }
  absl::Status s = hub->Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(*r.LogHead(), 1);
    auto gc = r.Gc();
    EXPECT_TRUE(gc.ok() && gc->horizon == 0 && gc->epoch == 0u) << gc.status();
    EXPECT_EQ(r.LogHashHead()->position, 0) << "hashed when the engine brings it up to date";
    EXPECT_EQ(*r.KeyHead(), 0);
    EXPECT_FALSE(r.NewestCheckpoint("LC")->has_value());
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  s = hub->Write([&](HubWriteTxn& w) {
    return w.Atomically([&] { return ExtendLogChain(w, hub->hub_id()); });
  });
  EXPECT_TRUE(s.ok()) << s;
  s = hub->Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(r.LogHashHead()->position, 1);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

// A dropped tombstone leaves nothing of the row in any table of the rows
// (hub_rows, hub_fields, hub_conflicts).
TEST_F(PgHubWritersTest, ADroppedTombstoneLeavesNoRegistersNorConflicts) {
  auto hub = Open();
  ASSERT_TRUE(hub);
  auto a = OpenReplica(dir_.File("a.db"), &clock_a_);
  ASSERT_TRUE(a);
  const RowId id = RowId::NewV7(&clock_a_);
  ASSERT_TRUE(a->Write(LocalTxn().Create("cases", id, {{"case_code", T("LC-0001")},
                                                      {"province", T("lào-cai")}})).ok());
  ASSERT_TRUE(a->Write(LocalTxn().Delete("cases", id)).ok());
  auto commits = a->LocalCommitsAfter(0, 10);
  ASSERT_TRUE(commits.ok());
  absl::Status s = hub->Write([&](HubWriteTxn& w) -> absl::Status {
    absl::Status m = w.MergeTransaction(
        [&](MergeStore& rows) { return MergeCommits(rows, *commits, nullptr).status(); });
    if (!m.ok()) return m;
    auto conn = pg::Connection::Open(db_.uri());
    if (!conn.ok()) return conn.status();
    // A conflict record of the row, as a concurrent edit would leave.
    absl::Status c = (*conn)->Exec("INSERT INTO hub_conflicts(tbl, row, col, hlc, device, kind) "
                                   "VALUES ('cases', $1, 'status', 1, $2, 0)",
                                   {pg::Param::Bytes(id.view()),
                                    pg::Param::Bytes(std::string(16, '\x09'))})
                          .status();
    if (!c.ok()) return c;
    auto dropped = w.DropTombstone("cases", id);
    if (!dropped.ok()) return dropped.status();
    EXPECT_TRUE(*dropped);
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  auto conn = pg::Connection::Open(db_.uri());
  ASSERT_TRUE(conn.ok());
  for (const char* table : {"hub_rows", "hub_fields", "hub_conflicts"}) {
    auto n = (*conn)->Exec(absl::StrCat("SELECT count(*) FROM ", table, " WHERE row = $1"),
                           {pg::Param::Bytes(id.view())});
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n->Int(0, 0), 0) << table;
  }
}

}  // namespace
}  // namespace fieldsync::hub
