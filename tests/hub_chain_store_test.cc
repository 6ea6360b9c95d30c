// The hub's log chain (hub/log_chain.h: LogHash, LogHashHead, PutLogHash),
// the devices' commit chains (ChainHead, ChainEntries, RefusedChainEntries,
// AddChainEntry, SetChainPosition), the laptops' statements (PutStatement,
// StatementsAfter, PartnerProvinces) and the checkpoints adopted
// (AdoptCheckpoint, NewestCheckpoint, CheckpointById, CheckpointLeaves,
// CheckpointRows) the same on both stores (support/hub_stores.h); the log
// chain's hashes equal for the same log.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "hub/log_chain.h"
#include "support/hub_stores.h"

namespace fieldsync::hub {
namespace {

using fieldsync::testing::HubStore;
using fieldsync::testing::HubStoreName;
using fieldsync::testing::SameBytesId;
using fieldsync::testing::T;

class HubChainStoreTest : public fieldsync::testing::HubStoresTest {};

// The hashes of positions 1..n and the head, as a snapshot reads them.
std::vector<std::string> Hashes(HubStorage& hub, int64_t n, LogPoint* head) {
  std::vector<std::string> out;
  absl::Status s = hub.Read([&](HubReadTxn& r) -> absl::Status {
    for (int64_t p = 0; p <= n + 1; ++p) {
      auto h = r.LogHash(p);
      if (!h.ok()) return h.status();
      if (p == 0 || p > n) {
        EXPECT_FALSE(h->has_value()) << "no hash stored at " << p;
        continue;
      }
      EXPECT_TRUE(h->has_value()) << p;
      out.push_back(h->value_or(""));
    }
    auto last = r.LogHashHead();
    if (!last.ok()) return last.status();
    *head = *last;
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// The same commits merged by a hub on each store, the chain extended by
// the engine's code (hub/log_chain.h) for one hub id: the same hashes,
// which are those the entries give.
TEST(HubLogChainStoresTest, TheSameLogHasTheSameHashesOnBothStores) {
  fieldsync::testing::TempDir dir;
  fieldsync::testing::PgDatabase db;
  ASSERT_TRUE(db.Create().ok());
  FakeClock clock_a{fieldsync::testing::kTestEpochMillis};
  FakeClock clock_hub{fieldsync::testing::kTestEpochMillis + 60'000};
  auto a = fieldsync::testing::OpenReplica(dir.File("a.db"), &clock_a);
  ASSERT_TRUE(a);
  auto sqlite = SqliteHubStorage::Open(dir.File("hub.db"), &clock_hub);
  auto pg = PostgresHubStorage::Open(db.uri(), &clock_hub);
  ASSERT_TRUE(sqlite.ok() && pg.ok()) << sqlite.status() << pg.status();
  const DeviceId hub_id = SameBytesId('\x42');
  std::vector<HubStorage*> hubs = {sqlite->get(), pg->get()};

  auto merge_and_chain = [&](const std::vector<Commit>& commits) {
    for (HubStorage* hub : hubs) {
      absl::Status s = hub->Write([&](HubWriteTxn& w) -> absl::Status {
        absl::Status m = w.MergeTransaction(
            [&](MergeStore& rows) { return MergeCommits(rows, commits, nullptr).status(); });
        if (!m.ok()) return m;
        return w.Atomically([&] { return ExtendLogChain(w, hub_id); });
      });
      ASSERT_TRUE(s.ok()) << s;
    }
  };
  const RowId kase = RowId::NewV7(&clock_a);
  ASSERT_TRUE(a->Write(LocalTxn().Create("cases", kase, {{"case_code", T("LC-0001")},
                                                         {"province", T("lào-cai")}})).ok());
  ASSERT_TRUE(a->Write(LocalTxn().Set("cases", kase, {{"status", T("verifying")}})).ok());
  auto first = a->LocalCommitsAfter(0, 100);
  ASSERT_TRUE(first.ok());
  merge_and_chain(*first);
  ASSERT_TRUE(a->Write(LocalTxn().Set("cases", kase, {{"status", T("closed")}})).ok());
  auto more = a->LocalCommitsAfter(first->back().seq, 100);
  ASSERT_TRUE(more.ok());
  merge_and_chain(*more);

  LogPoint on_sqlite, on_pg;
  const std::vector<std::string> sqlite_hashes = Hashes(**sqlite, 3, &on_sqlite);
  const std::vector<std::string> pg_hashes = Hashes(**pg, 3, &on_pg);
  EXPECT_EQ(pg_hashes, sqlite_hashes);
  EXPECT_EQ(on_pg.position, 3);
  EXPECT_EQ(on_sqlite.position, 3);
  EXPECT_EQ(on_pg.hash, on_sqlite.hash);

  // And they are the chain of the entries themselves.
  std::string expect = LogHashZero(hub_id);
  absl::Status s = (*pg)->Read([&](HubReadTxn& r) -> absl::Status {
    auto entries = r.LogEntriesAfter(0, 10);
    if (!entries.ok()) return entries.status();
    EXPECT_EQ(entries->size(), 3u);
    for (size_t i = 0; i < entries->size() && i < pg_hashes.size(); ++i) {
      expect = NextLogHash(expect, (*entries)[i]);
      EXPECT_EQ(pg_hashes[i], expect) << "position " << i + 1;
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

TEST_P(HubChainStoreTest, LogHashesAreKeptByPositionAndTheHeadIsTheLast) {
  Read([&](HubReadTxn& r) -> absl::Status {
    auto head = r.LogHashHead();
    EXPECT_TRUE(head.ok() && head->position == 0 && head->hash.empty());
    EXPECT_FALSE(r.LogHash(1)->has_value());
    return absl::OkStatus();
  });
  Write([&](HubWriteTxn& w) -> absl::Status {
    for (int64_t p = 1; p <= 3; ++p) {
      absl::Status s = w.PutLogHash(p, std::string(32, static_cast<char>(p)));
      if (!s.ok()) return s;
    }
    EXPECT_FALSE(w.PutLogHash(2, std::string(32, 'x')).ok()) << "a position is hashed once";
    return absl::OkStatus();
  });
  Read([&](HubReadTxn& r) -> absl::Status {
    auto head = r.LogHashHead();
    EXPECT_TRUE(head.ok() && head->position == 3);
    if (head.ok()) {
      EXPECT_EQ(head->hash, std::string(32, '\3'));
    }
    EXPECT_EQ(*r.LogHash(2), std::optional<std::string>(std::string(32, '\2')));
    EXPECT_FALSE(r.LogHash(4)->has_value());
    return absl::OkStatus();
  });
}

TEST_P(HubChainStoreTest, ChainEntriesAreReadBySeqAndRefusedOnesByTheirNegativePosition) {
  const DeviceId dev = SameBytesId('\x31'), other = SameBytesId('\x32');
  auto entry = [](uint64_t seq, int64_t position) {
    return StoredChainEntry{seq, position, absl::StrCat("header ", seq),
                            absl::StrCat("sig ", seq), std::string(32, static_cast<char>(seq))};
  };
  Write([&](HubWriteTxn& w) -> absl::Status {
    for (const StoredChainEntry& e : {entry(1, 1), entry(2, -3), entry(3, 0), entry(4, 2)}) {
      absl::Status s = w.AddChainEntry(dev, e);
      if (!s.ok()) return s;
    }
    EXPECT_FALSE(w.AddChainEntry(dev, entry(4, 5)).ok()) << "one entry a seq";
    // A refused commit withdrawn.
    return w.SetChainPosition(dev, 2, -3 - kWithdrawnRefusalOffset);
  });
  Read([&](HubReadTxn& r) -> absl::Status {
    auto head = r.ChainHead(dev);
    EXPECT_TRUE(head.ok()) << head.status();
    if (head.ok()) {
      EXPECT_EQ(head->seq, 4u);
      EXPECT_EQ(head->link, std::string(32, '\4'));
    }
    auto none = r.ChainHead(other);
    EXPECT_TRUE(none.ok() && none->seq == 0 && none->link.empty());
    auto some = r.ChainEntries(dev, 2, 4, 2);
    EXPECT_TRUE(some.ok() && some->size() == 2u);
    if (some.ok() && some->size() == 2u) {
      EXPECT_EQ((*some)[0].seq, 2u);
      EXPECT_EQ((*some)[0].position, -103);
      EXPECT_EQ((*some)[1].seq, 3u);
      EXPECT_EQ((*some)[1].header, "header 3");
      EXPECT_EQ((*some)[1].signature, "sig 3");
      EXPECT_EQ((*some)[1].link, std::string(32, '\3'));
    }
    EXPECT_EQ(r.ChainEntries(dev, 1, 10, 10)->size(), 4u);
    EXPECT_TRUE(r.ChainEntries(other, 1, 10, 10)->empty());
    auto refused = r.RefusedChainEntries(dev);
    EXPECT_TRUE(refused.ok() && refused->size() == 1u);
    if (refused.ok() && refused->size() == 1u) {
      EXPECT_EQ((*refused)[0].seq, 2u);
    }
    return absl::OkStatus();
  });
}

TEST_P(HubChainStoreTest, AStatementIsKeptOnlyIfNewerAndTakesTheNextSeq) {
  const DeviceId lc = SameBytesId('\x31'), hn = SameBytesId('\x32');
  auto statement = [](const DeviceId& d, const char* province, uint64_t created) {
    return StoredStatement{0, d, province, created, absl::StrCat("signed ", created)};
  };
  Write([&](HubWriteTxn& w) -> absl::Status {
    EXPECT_TRUE(*w.PutStatement(statement(lc, "LC", 100)));
    EXPECT_TRUE(*w.PutStatement(statement(hn, "HN", 50)));
    EXPECT_FALSE(*w.PutStatement(statement(lc, "LC", 100))) << "as new";
    EXPECT_FALSE(*w.PutStatement(statement(lc, "LC", 90))) << "older";
    return w.Atomically([&]() -> absl::Status {
      EXPECT_TRUE(*w.PutStatement(statement(lc, "LC", 200)));
      return absl::OkStatus();
    });
  });
  auto text = [](const absl::StatusOr<std::vector<StoredStatement>>& s) {
    std::string out;
    if (!s.ok()) return s.status().ToString();
    for (const StoredStatement& x : *s) {
      absl::StrAppend(&out, x.seq, ":", x.province, ":", x.created_hlc, ":", x.bytes, " ");
    }
    return out;
  };
  Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(text(r.StatementsAfter(0, {"LC", "HN"}, 10)),
              "2:HN:50:signed 50 3:LC:200:signed 200 ");
    EXPECT_EQ(text(r.StatementsAfter(0, {"LC"}, 10)), "3:LC:200:signed 200 ");
    EXPECT_EQ(text(r.StatementsAfter(2, {"LC", "HN"}, 10)), "3:LC:200:signed 200 ");
    EXPECT_EQ(text(r.StatementsAfter(0, {"HN", "LC"}, 1)), "2:HN:50:signed 50 ");
    EXPECT_EQ(text(r.StatementsAfter(0, {}, 10)), "");
    auto of = r.StatementsAfter(0, {"HN"}, 10);
    if (of.ok() && !of->empty()) {
      EXPECT_EQ((*of)[0].device, hn);
    }
    return absl::OkStatus();
  });
}

// An office's partners: the owners of the cases granted to it, and the
// offices granted its cases; not itself, not an empty owner.
TEST_P(HubChainStoreTest, PartnerProvincesAreTheOfficesSharingACase) {
  const RowId lc_case = SameBytesId('\x10'), qn_case = SameBytesId('\x20'),
              nobodys = SameBytesId('\x30'), own = SameBytesId('\x40');
  Write([&](HubWriteTxn& w) {
    return w.Atomically([&]() -> absl::Status {
      for (absl::Status s : {w.UpsertRowScope("cases", lc_case, "LC", std::nullopt, false),
                             w.UpsertRowScope("cases", qn_case, "QN", std::nullopt, false),
                             w.UpsertRowScope("cases", nobodys, "", std::nullopt, false),
                             w.UpsertRowScope("cases", own, "LC", std::nullopt, false),
                             w.AddGrant(lc_case, "HN", 1), w.AddGrant(lc_case, "b", 1),
                             w.AddGrant(qn_case, "LC", 2), w.AddGrant(nobodys, "LC", 3),
                             w.AddGrant(own, "LC", 4)}) {
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    });
  });
  Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(*r.PartnerProvinces("LC"), (std::vector<std::string>{"HN", "QN", "b"}));
    EXPECT_EQ(*r.PartnerProvinces("HN"), std::vector<std::string>{"LC"});
    EXPECT_TRUE(r.PartnerProvinces("DN")->empty());
    return absl::OkStatus();
  });
}

StoredCheckpoint Checkpoint(char tag, int64_t position, uint32_t leaves) {
  return StoredCheckpoint{std::string(16, tag), "LC", position, leaves, 1000 + position, 3,
                          absl::StrCat("statement ", position)};
}

std::vector<CheckpointRow> CheckpointRowsOf(uint32_t n) {
  std::vector<CheckpointRow> rows;
  for (uint32_t i = 0; i < n; ++i) {
    rows.push_back(CheckpointRow{i, i % 2 ? "persons" : "cases",
                                 SameBytesId(static_cast<char>(i % 200 + 1)),
                                 absl::StrCat("state ", i), absl::StrCat("leaf ", i)});
  }
  return rows;
}

TEST_P(HubChainStoreTest, CheckpointsAreAdoptedOnceWithTheirRowsAndTheTwoNewestKept) {
  constexpr uint32_t kRows = 1205;  // more than one statement's rows on PostgreSQL
  const std::vector<CheckpointRow> rows = CheckpointRowsOf(kRows);
  Write([&](HubWriteTxn& w) {
    return w.Atomically([&]() -> absl::Status {
      for (const StoredCheckpoint& c :
           {Checkpoint('a', 3, kRows), Checkpoint('b', 5, kRows), Checkpoint('c', 8, kRows)}) {
        absl::Status s = w.AdoptCheckpoint(c, rows, 2);
        if (!s.ok()) return s;
      }
      // Adopted before: nothing changes (not the newest again).
      return w.AdoptCheckpoint(Checkpoint('b', 5, kRows), {}, 2);
    });
  });
  Read([&](HubReadTxn& r) -> absl::Status {
    auto newest = r.NewestCheckpoint("LC");
    EXPECT_TRUE(newest.ok() && newest->has_value());
    if (newest.ok() && newest->has_value()) {
      const StoredCheckpoint& c = **newest;
      EXPECT_EQ(c.id, std::string(16, 'c'));
      EXPECT_EQ(c.province, "LC");
      EXPECT_EQ(c.position, 8);
      EXPECT_EQ(c.leaf_count, kRows);
      EXPECT_EQ(c.adopted_at_millis, 1008);
      EXPECT_EQ(c.gc_epoch, 3u);
      EXPECT_EQ(c.statement, "statement 8");
    }
    EXPECT_FALSE(r.NewestCheckpoint("HN")->has_value());
    EXPECT_FALSE(r.CheckpointById(std::string(16, 'a'))->has_value()) << "the oldest dropped";
    EXPECT_TRUE(r.CheckpointLeaves(std::string(16, 'a'))->empty()) << "with its rows";
    EXPECT_TRUE(r.CheckpointById(std::string(16, 'b'))->has_value());
    auto leaves = r.CheckpointLeaves(std::string(16, 'b'));
    EXPECT_TRUE(leaves.ok() && leaves->size() == kRows);
    if (leaves.ok() && leaves->size() == kRows) {
      EXPECT_EQ((*leaves)[0], "leaf 0");
      EXPECT_EQ((*leaves)[kRows - 1], absl::StrCat("leaf ", kRows - 1));
    }
    auto tail = r.CheckpointRows(std::string(16, 'c'), 1000, 300);
    EXPECT_TRUE(tail.ok() && tail->size() == kRows - 1000);
    if (tail.ok() && !tail->empty()) {
      const CheckpointRow& x = (*tail)[1];
      EXPECT_EQ(x.index, 1001u);
      EXPECT_EQ(x.table, "persons");
      EXPECT_EQ(x.row, rows[1001].row);
      EXPECT_EQ(x.state, "state 1001");
      EXPECT_EQ(x.leaf, "leaf 1001");
    }
    EXPECT_EQ(r.CheckpointRows(std::string(16, 'c'), 0, 10)->size(), 10u);
    return absl::OkStatus();
  });
}

INSTANTIATE_TEST_SUITE_P(Stores, HubChainStoreTest,
                         ::testing::Values(HubStore::kSqlite, HubStore::kPostgres), HubStoreName);

}  // namespace
}  // namespace fieldsync::hub
