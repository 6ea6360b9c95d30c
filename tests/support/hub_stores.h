// A hub's storage (hub/storage.h) on either store, for tests that assert
// the same behaviour of both: SQLite (hub/sqlite_storage.h, in a temporary
// directory) and PostgreSQL (hub/pg/storage.h, a fresh database of the
// private cluster: support/pg_cluster.h). Two laptops' replicas write the
// commits the hub merges, with the engine's merge (merge/commit_merge.h).
#ifndef FIELDSYNC_TESTS_SUPPORT_HUB_STORES_H_
#define FIELDSYNC_TESTS_SUPPORT_HUB_STORES_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hub/pg/storage.h"
#include "hub/sqlite_storage.h"
#include "merge/commit_merge.h"
#include "support/pg_cluster.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync::testing {

enum class HubStore { kSqlite, kPostgres };

inline std::string HubStoreName(const ::testing::TestParamInfo<HubStore>& info) {
  return info.param == HubStore::kSqlite ? "sqlite" : "postgresql";
}

// An id of 16 equal bytes: ids in a known byte order.
inline Id16 SameBytesId(char b) { return *Id16::FromBytes(std::string(16, b), "test id"); }

class HubStoresTest : public ::testing::TestWithParam<HubStore> {
 protected:
  void SetUp() override {
    a_ = OpenReplica(dir_.File("a.db"), &clock_a_);
    b_ = OpenReplica(dir_.File("b.db"), &clock_b_);
    ASSERT_TRUE(a_ && b_);
    if (GetParam() == HubStore::kPostgres) {
      ASSERT_TRUE(db_.Create().ok());
    }
    hub_ = OpenHub();
    ASSERT_TRUE(hub_);
  }

  // The store (again: a hub process started anew on the same data).
  std::unique_ptr<hub::HubStorage> OpenHub() {
    if (GetParam() == HubStore::kPostgres) {
      auto hub = hub::PostgresHubStorage::Open(db_.uri(), &clock_hub_);
      EXPECT_TRUE(hub.ok()) << hub.status();
      if (hub.ok()) return std::move(hub).value();
      return nullptr;
    }
    auto hub = hub::SqliteHubStorage::Open(dir_.File("hub.db"), &clock_hub_);
    EXPECT_TRUE(hub.ok()) << hub.status();
    if (hub.ok()) return std::move(hub).value();
    return nullptr;
  }

  std::vector<Commit> CommitsOf(Replica& r, uint64_t after = 0) {
    auto c = r.LocalCommitsAfter(after, 1000);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : std::vector<Commit>{};
  }

  // `commits` merged by the engine over the hub's storage.
  absl::StatusOr<ApplyResult> HubMerge(const std::vector<Commit>& commits) {
    ApplyResult out;
    absl::Status s = hub_->Write([&](hub::HubWriteTxn& w) {
      return w.MergeTransaction([&](MergeStore& rows) -> absl::Status {
        auto r = MergeCommits(rows, commits, nullptr);
        if (!r.ok()) return r.status();
        out = *r;
        return absl::OkStatus();
      });
    });
    if (!s.ok()) return s;
    return out;
  }

  // A case created on `a_`, its commit merged by the hub; its id.
  RowId HubCase(const char* code = "LC-0001") {
    const RowId id = RowId::NewV7(&clock_a_);
    auto c = a_->Write(LocalTxn().Create("cases", id, {{"case_code", T(code)},
                                                       {"province", T("lao-cai")},
                                                       {"status", T("intake")}}));
    EXPECT_TRUE(c.ok()) << c.status();
    if (c.ok()) {
      EXPECT_TRUE(HubMerge({*c}).ok());
    }
    return id;
  }

  // `body` as the writer, and over a snapshot; a failure is the test's.
  void Write(const std::function<absl::Status(hub::HubWriteTxn&)>& body) {
    absl::Status s = hub_->Write(body);
    EXPECT_TRUE(s.ok()) << s;
  }
  void Read(const std::function<absl::Status(hub::HubReadTxn&)>& body) {
    absl::Status s = hub_->Read(body);
    EXPECT_TRUE(s.ok()) << s;
  }

  TempDir dir_;
  PgDatabase db_;
  FakeClock clock_a_{kTestEpochMillis};
  FakeClock clock_b_{kTestEpochMillis + 5};
  FakeClock clock_hub_{kTestEpochMillis + 60'000};
  std::unique_ptr<Replica> a_, b_;
  std::unique_ptr<hub::HubStorage> hub_;
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_HUB_STORES_H_
