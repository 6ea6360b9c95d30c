// The scope tables as the writer reads them inside its write transaction
// (hub_row_scope, hub_grants, hub_person_case; hub/storage.h), on both
// stores. The PostgreSQL writer keeps what it read of them for the length
// of one transaction that holds the log head's row lock
// (hub/pg/scope_cache.h): its own writes must be read back at once, and
// nothing read under one lock may be trusted under the next, where another
// hub process -- or an administrator with psql -- may have changed them.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "clock/clock_source.h"
#include "hub/pg/connection.h"
#include "hub/pg/storage.h"
#include "hub/sqlite_storage.h"
#include "support/pg_cluster.h"
#include "support/temp_dir.h"

namespace fieldsync::hub {
namespace {

enum class Store { kSqlite, kPostgres };

std::string StoreName(const ::testing::TestParamInfo<Store>& info) {
  return info.param == Store::kSqlite ? "sqlite" : "postgresql";
}

RowId IdOf(char b) { return *Id16::FromBytes(std::string(16, b), "test id"); }

// The owner a row's scope entry names ("(none)" without an entry).
std::string OwnerOf(HubWriteTxn& w, const std::string& table, const RowId& row) {
  auto e = w.RowScope(table, row);
  EXPECT_TRUE(e.ok()) << e.status();
  if (!e.ok()) return "(error)";
  return e->has_value() ? (*e)->owner : "(none)";
}

class HubScopeCacheTest : public ::testing::TestWithParam<Store> {
 protected:
  void SetUp() override {
    if (GetParam() == Store::kPostgres) {
      absl::Status s = db_.Create();
      ASSERT_TRUE(s.ok()) << s;
    }
    hub_ = Open();
    ASSERT_NE(hub_, nullptr);
  }

  // The store as one more hub process opens it.
  std::unique_ptr<HubStorage> Open() {
    if (GetParam() == Store::kPostgres) {
      auto hub = PostgresHubStorage::Open(db_.uri(), SystemClock::Get());
      EXPECT_TRUE(hub.ok()) << hub.status();
      return hub.ok() ? std::unique_ptr<HubStorage>(std::move(hub).value()) : nullptr;
    }
    auto hub = SqliteHubStorage::Open(dir_.File("hub.db"), SystemClock::Get());
    EXPECT_TRUE(hub.ok()) << hub.status();
    return hub.ok() ? std::unique_ptr<HubStorage>(std::move(hub).value()) : nullptr;
  }

  fieldsync::testing::TempDir dir_;
  fieldsync::testing::PgDatabase db_;
  std::unique_ptr<HubStorage> hub_;
};

// Every read of the scope tables after a write of them in the same
// transaction reads what was written: the row's entry, the case's grants,
// the person's cases and the case's persons with their owners, an entry
// forgotten by a collection.
TEST_P(HubScopeCacheTest, AWriteTransactionReadsItsOwnScopeWritesAtOnce) {
  const RowId kase = IdOf('\x10'), person = IdOf('\x20'), contact = IdOf('\x30');
  absl::Status s = hub_->Write([&](HubWriteTxn& w) {
    return w.Atomically([&]() -> absl::Status {
      EXPECT_EQ(OwnerOf(w, "cases", kase), "(none)");
      EXPECT_TRUE(w.UpsertRowScope("cases", kase, "LC", std::nullopt, false).ok());
      EXPECT_EQ(OwnerOf(w, "cases", kase), "LC");
      EXPECT_TRUE(w.UpsertRowScope("cases", kase, "HN", std::nullopt, std::nullopt).ok());
      EXPECT_EQ(OwnerOf(w, "cases", kase), "HN");

      EXPECT_TRUE(w.UpsertRowScope("contacts", contact, "LC", kase, false).ok());
      EXPECT_FALSE((*w.RowScope("contacts", contact))->ever_public);
      EXPECT_TRUE(*w.MarkEverPublic("contacts", contact));
      EXPECT_TRUE((*w.RowScope("contacts", contact))->ever_public);

      EXPECT_FALSE(*w.CaseGranted(kase, "DN"));
      EXPECT_TRUE(w.CaseGrantees(kase)->empty());
      EXPECT_TRUE(w.AddGrant(kase, "DN", 3).ok());
      EXPECT_TRUE(*w.CaseGranted(kase, "DN"));
      EXPECT_EQ(*w.CaseGrantees(kase), std::vector<std::string>{"DN"});

      EXPECT_TRUE(w.CasesNaming(person)->empty());
      EXPECT_TRUE(w.PersonsOfCase(kase)->empty());
      EXPECT_EQ(*w.PersonOfCase(kase), std::nullopt);
      EXPECT_TRUE(w.LinkPerson(person, kase).ok());
      EXPECT_EQ(*w.CasesNaming(person), std::vector<RowId>{kase});
      EXPECT_EQ(*w.PersonOfCase(kase), std::optional<RowId>(person));
      auto persons = w.PersonsOfCase(kase);
      EXPECT_EQ(persons->size(), 1u);
      EXPECT_EQ(persons->front().second, std::nullopt) << "the person has no entry yet";
      EXPECT_TRUE(w.UpsertRowScope("persons", person, "LC", std::nullopt, false).ok());
      persons = w.PersonsOfCase(kase);
      EXPECT_EQ(persons->size(), 1u);
      EXPECT_EQ(persons->front().second, std::optional<std::string>("LC"))
          << "the person's owner, written since the case's persons were read";

      EXPECT_TRUE(w.RecordPurged(Tombstone{"cases", kase, 5}, 1, false, {"HN"}).ok());
      EXPECT_EQ(OwnerOf(w, "cases", kase), "(none)") << "a collected row's entry is forgotten";
      return absl::OkStatus();
    });
  });
  ASSERT_TRUE(s.ok()) << s;
}

// A key record of `id` (its bytes made up: the store keeps them as given).
StoredKeyRecord RecordOf(char id, const RowId& ring) {
  StoredKeyRecord r;
  r.kind = 3;
  r.province = "LC";
  r.keyring = ring;
  r.signer = IdOf('\x77');
  r.stored_at_millis = 1000;
  r.id = std::string(16, id);
  r.bytes = std::string(40, id);
  return r;
}

// A push's reads made at once (HubWriteTxn::Prefetch; on PostgreSQL a few
// queries for the whole push, then answered from what it read): what was
// held before is read as held, and the push's own writes after it are read
// back at once -- a person linked to a case (in person order, with its
// owner), a key record stored (a second store of it stores nothing), a
// ring erased, a case's grants.
TEST_P(HubScopeCacheTest, APushsPrefetchedReadsFollowItsOwnWrites) {
  const RowId kase = IdOf('\x10'), first = IdOf('\x40'), second = IdOf('\x20'),
              ring = IdOf('\x50'), fresh = IdOf('\x60');
  ASSERT_TRUE(hub_->Write([&](HubWriteTxn& w) {
                return w.Atomically([&]() -> absl::Status {
                  EXPECT_TRUE(w.UpsertRowScope("cases", kase, "LC", std::nullopt, false).ok());
                  EXPECT_TRUE(w.UpsertRowScope("persons", first, "LC", std::nullopt, false).ok());
                  EXPECT_TRUE(w.LinkPerson(first, kase).ok());
                  EXPECT_TRUE(w.AddGrant(kase, "DN", 2).ok());
                  EXPECT_TRUE(*w.StoreKeyRecord(RecordOf('\x01', ring)));
                  return absl::OkStatus();
                });
              }).ok());
  absl::Status s = hub_->Write([&](HubWriteTxn& w) {
    return w.MergeTransaction([&](MergeStore&) -> absl::Status {
      PushReads reads;
      reads.ids = {kase, first, second, ring, fresh};
      reads.key_ids = {std::string(16, '\x01'), std::string(16, '\x02')};
      EXPECT_TRUE(w.Prefetch(reads).ok());
      EXPECT_EQ(OwnerOf(w, "cases", kase), "LC");
      EXPECT_EQ(OwnerOf(w, "persons", second), "(none)");
      EXPECT_TRUE(*w.CaseGranted(kase, "DN"));
      EXPECT_FALSE(*w.CaseGranted(kase, "HN"));
      EXPECT_TRUE(w.AddGrant(kase, "HN", 3).ok());
      EXPECT_TRUE(*w.CaseGranted(kase, "HN")) << "granted since the push's reads";
      EXPECT_EQ(*w.CaseGrantees(kase), (std::vector<std::string>{"DN", "HN"}));

      EXPECT_EQ(*w.PersonOfCase(kase), std::optional<RowId>(first));
      EXPECT_TRUE(w.UpsertRowScope("persons", second, "HN", std::nullopt, false).ok());
      EXPECT_TRUE(w.LinkPerson(second, kase).ok());
      auto persons = w.PersonsOfCase(kase);
      EXPECT_EQ(persons->size(), 2u);
      if (persons->size() == 2) {
        EXPECT_EQ((*persons)[0].first, second) << "in person order";
        EXPECT_EQ((*persons)[0].second, std::optional<std::string>("HN"));
        EXPECT_EQ((*persons)[1].first, first);
        EXPECT_EQ((*persons)[1].second, std::optional<std::string>("LC"));
      }
      EXPECT_EQ(*w.CasesNaming(second), std::vector<RowId>{kase});
      EXPECT_TRUE(w.UpsertRowScope("persons", first, "DN", std::nullopt, std::nullopt).ok());
      persons = w.PersonsOfCase(kase);
      EXPECT_EQ(persons->back().second, std::optional<std::string>("DN")) << "moved since";

      EXPECT_FALSE(*w.StoreKeyRecord(RecordOf('\x01', ring))) << "held before the push";
      EXPECT_TRUE(*w.StoreKeyRecord(RecordOf('\x02', fresh)));
      EXPECT_FALSE(*w.StoreKeyRecord(RecordOf('\x02', fresh))) << "stored by this push";

      EXPECT_FALSE(*w.RingErased(ring));
      EXPECT_TRUE(w.EraseRing(ring, {3}, 2000, IdOf('\x77')).ok());
      EXPECT_TRUE(*w.RingErased(ring)) << "erased since the push's reads";
      return absl::OkStatus();
    });
  });
  ASSERT_TRUE(s.ok()) << s;
  // And kept: read again in a transaction of its own.
  ASSERT_TRUE(hub_->Write([&](HubWriteTxn& w) {
                return w.Atomically([&]() -> absl::Status {
                  EXPECT_EQ(w.PersonsOfCase(kase)->size(), 2u);
                  EXPECT_TRUE(*w.RingErased(ring));
                  EXPECT_FALSE(*w.StoreKeyRecord(RecordOf('\x02', fresh)));
                  return absl::OkStatus();
                });
              }).ok());
}

// The scope entries of a list of rows (HubReadTxn::ScopeRowsOf; on
// PostgreSQL up to 1,000 ids a query): those of the named rows of that
// table the hub recorded, each once, in row order, as RowScope gives each
// -- an id named twice, one not held, one held in another table, more than
// a query's worth of ids.
TEST_P(HubScopeCacheTest, TheScopeEntriesOfNamedRowsAreEachRowsAlone) {
  auto id = [](int n) {
    std::string b(16, '\x5a');
    b[14] = static_cast<char>(n >> 8);
    b[15] = static_cast<char>(n & 0xff);
    return *Id16::FromBytes(b, "test id");
  };
  constexpr int kHeld = 1100;
  ASSERT_TRUE(hub_->Write([&](HubWriteTxn& w) {
                return w.Atomically([&]() -> absl::Status {
                  for (int n = 0; n < kHeld; ++n) {
                    const std::optional<RowId> kase =
                        n % 3 == 0 ? std::optional<RowId>(id(n + 5000)) : std::nullopt;
                    absl::Status s = w.UpsertRowScope("persons", id(n), n % 2 == 1 ? "HG" : "LC",
                                                      kase, n % 5 == 0);
                    if (!s.ok()) return s;
                  }
                  return w.UpsertRowScope("cases", id(7000), "LC", std::nullopt, false);
                });
              }).ok());
  std::vector<RowId> asked;
  for (int n = kHeld - 1; n >= 0; n -= 1 + n % 2) asked.push_back(id(n));  // not in row order
  asked.push_back(id(4));      // twice at least
  asked.push_back(id(4));
  asked.push_back(id(6000));   // not held
  asked.push_back(id(7000));   // a case's
  ASSERT_TRUE(hub_->Read([&](HubReadTxn& r) -> absl::Status {
                std::vector<RowId> expected_rows;
                for (int n = 0; n < kHeld; ++n) {
                  if (std::find(asked.begin(), asked.end(), id(n)) != asked.end()) {
                    expected_rows.push_back(id(n));
                  }
                }
                auto got = r.ScopeRowsOf("persons", asked);
                EXPECT_TRUE(got.ok()) << got.status();
                if (!got.ok()) return absl::OkStatus();
                EXPECT_EQ(got->size(), expected_rows.size());
                for (size_t i = 0; i < std::min(got->size(), expected_rows.size()); ++i) {
                  const ScopedRow& g = (*got)[i];
                  EXPECT_EQ(g.row, expected_rows[i]) << i;
                  EXPECT_EQ(g.table, "persons");
                  auto one = r.RowScope("persons", g.row);
                  EXPECT_TRUE(one.ok() && one->has_value()) << i;
                  if (!one.ok() || !one->has_value()) continue;
                  EXPECT_EQ(g.entry.owner, (*one)->owner) << i;
                  EXPECT_EQ(g.entry.case_id, (*one)->case_id) << i;
                  EXPECT_EQ(g.entry.restricted, (*one)->restricted) << i;
                  EXPECT_EQ(g.entry.ever_public, (*one)->ever_public) << i;
                }
                EXPECT_TRUE(r.ScopeRowsOf("persons", {})->empty());
                EXPECT_TRUE(r.ScopeRowsOf("cases", {id(1), id(6000)})->empty());
                EXPECT_EQ(r.ScopeRowsOf("cases", {id(7000)})->size(), 1u);
                return absl::OkStatus();
              }).ok());
}

INSTANTIATE_TEST_SUITE_P(Stores, HubScopeCacheTest,
                         ::testing::Values(Store::kSqlite, Store::kPostgres), StoreName);

// Another hub process on the same store changes a row's entry between two
// write transactions of this one (its writes wait for the lock this one
// holds): the second transaction reads the change, though the same view
// read the entry before (PostgreSQL only: one writer of hub.db at a time).
TEST(PgScopeCacheTest, WhatAnotherProcessWroteBetweenTwoTransactionsIsRead) {
  fieldsync::testing::PgDatabase db;
  ASSERT_TRUE(db.Create().ok());
  auto opened = PostgresHubStorage::Open(db.uri(), SystemClock::Get());
  auto second = PostgresHubStorage::Open(db.uri(), SystemClock::Get());
  ASSERT_TRUE(opened.ok() && second.ok());
  std::unique_ptr<HubStorage> mine = std::move(opened).value();
  std::unique_ptr<HubStorage> other = std::move(second).value();
  const RowId kase = IdOf('\x10');
  auto upsert = [&](HubStorage& h, const std::string& owner) {
    return h.Write([&](HubWriteTxn& w) {
      return w.Atomically([&]() {
        return w.UpsertRowScope("cases", kase, owner, std::nullopt, std::nullopt);
      });
    });
  };
  ASSERT_TRUE(upsert(*mine, "LC").ok());
  absl::Status s = mine->Write([&](HubWriteTxn& w) -> absl::Status {
    absl::Status first = w.Atomically([&]() -> absl::Status {
      EXPECT_EQ(OwnerOf(w, "cases", kase), "LC");
      EXPECT_FALSE(*w.CaseGranted(kase, "HN"));
      return absl::OkStatus();
    });
    if (!first.ok()) return first;
    // Between the two: another process moves the case and grants it.
    EXPECT_TRUE(upsert(*other, "HN").ok());
    EXPECT_TRUE(other->Write([&](HubWriteTxn& o) {
                  return o.Atomically([&]() { return o.AddGrant(kase, "HN", 7); });
                }).ok());
    EXPECT_EQ(OwnerOf(w, "cases", kase), "HN") << "read outside a transaction";
    return w.Atomically([&]() -> absl::Status {
      EXPECT_EQ(OwnerOf(w, "cases", kase), "HN") << "an entry read under the last lock";
      EXPECT_TRUE(*w.CaseGranted(kase, "HN")) << "a grant read under the last lock";
      return absl::OkStatus();
    });
  });
  ASSERT_TRUE(s.ok()) << s;
}

// An administrator with psql changes a row's entry while the hub serves:
// the hub's next write transaction reads the change (PostgreSQL only).
TEST(PgScopeCacheTest, AnAdministratorsEditIsReadByTheNextWriteTransaction) {
  fieldsync::testing::PgDatabase db;
  ASSERT_TRUE(db.Create().ok());
  auto hub = PostgresHubStorage::Open(db.uri(), SystemClock::Get());
  ASSERT_TRUE(hub.ok()) << hub.status();
  const RowId kase = IdOf('\x10');
  absl::Status s = (*hub)->Write([&](HubWriteTxn& w) -> absl::Status {
    absl::Status first = w.Atomically([&]() -> absl::Status {
      EXPECT_TRUE(w.UpsertRowScope("cases", kase, "LC", std::nullopt, false).ok());
      EXPECT_EQ(OwnerOf(w, "cases", kase), "LC");
      return absl::OkStatus();
    });
    if (!first.ok()) return first;
    auto admin = pg::Connection::Open(db.uri());
    EXPECT_TRUE(admin.ok()) << admin.status();
    if (admin.ok()) {
      auto r = (*admin)->Exec("UPDATE hub_row_scope SET owner = 'DN' WHERE tbl = 'cases'");
      EXPECT_TRUE(r.ok() && r->Affected() == 1) << (r.ok() ? "" : r.status().ToString());
    }
    return w.Atomically([&]() -> absl::Status {
      EXPECT_EQ(OwnerOf(w, "cases", kase), "DN");
      return absl::OkStatus();
    });
  });
  ASSERT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace fieldsync::hub
