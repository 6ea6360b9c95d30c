// Convergence property test: five replicas make 10,000 random local
// operations (creates, edits of overlapping fields, deletes, restores and
// re-edits after delete, conflict resolutions) while commits are delivered
// between them in random order, with duplicates and redelivery. At the end
// every replica must have the same state digest, hold exactly the conflict
// records the merge rule prescribes for the whole history, and have lost no
// write.
//
// The seed is printed; replay a failure with FIELDSYNC_SEED=<seed>.
// FIELDSYNC_OPS=<n> runs more operations (never fewer than 10,000).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "merge/merge.h"
#include "support/replica_fixture.h"

namespace fieldsync {
namespace {

using testing::Digest;
using testing::kTestEpochMillis;
using testing::OpenReplica;

constexpr int kReplicas = 5;
constexpr int kMinOps = 10'000;

uint64_t SeedFromEnv() {
  const char* s = std::getenv("FIELDSYNC_SEED");
  if (s != nullptr && *s != '\0') return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

int OpsFromEnv() {
  const char* s = std::getenv("FIELDSYNC_OPS");
  const int n = s ? std::atoi(s) : 0;
  return std::max(n, kMinOps);
}

// The fields random edits touch: few, so that edits overlap often.
struct EditableTable {
  const char* name;
  std::vector<const char*> fields;
};
const std::vector<EditableTable>& Editable() {
  static const auto* t = new std::vector<EditableTable>{
      {"cases", {"status", "urgency", "narrative", "assigned_officer", "interview_notes"}},
      {"persons", {"full_name", "phones", "sex"}},
  };
  return *t;
}

Value RandomValue(std::mt19937_64& rng, const std::string& table, const std::string& field,
                  int replica, int op) {
  if (field == "status") {
    static const char* v[] = {"intake", "verifying", "assisting", "referred", "closed"};
    return Value::Text(v[rng() % 5]);
  }
  if (field == "urgency") return Value::Text(rng() % 2 ? "urgent" : "normal");
  if (field == "sex") {
    static const char* v[] = {"female", "male", "other", "unknown"};
    return Value::Text(v[rng() % 4]);
  }
  static const char* names[] = {"Nguyễn Thị Hằng", "Trần Văn Đức", "Lò Thị Mai", "Hoàng A Páo"};
  return Value::Text(std::string(names[rng() % 4]) + " · " + table + "." + field + " r" +
                     std::to_string(replica) + " op" + std::to_string(op));
}

// One field write of the whole history, as the oracle sees it.
struct Write {
  Version version;
  std::optional<Version> base;
  std::vector<Version> resolves;
  Value value;
};
using FieldKey = std::tuple<std::string, RowId, std::string>;  // table, row, column

class ConvergenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = SeedFromEnv();
    std::cout << "FIELDSYNC_SEED=" << seed_ << " (set it to replay this run)" << std::endl;
    rng_.seed(seed_);
    for (int i = 0; i < kReplicas; ++i) {
      clocks_.push_back(std::make_unique<FakeClock>(kTestEpochMillis));
      replicas_.push_back(OpenReplica(dir_.File("r" + std::to_string(i) + ".db"),
                                      clocks_.back().get()));
      ASSERT_NE(replicas_.back(), nullptr);
    }
  }

  // A random local operation on replica `r`. Returns false if it did nothing.
  bool LocalOp(int r, int op) {
    Replica& rep = *replicas_[static_cast<size_t>(r)];
    // Each laptop's clock drifts on its own (and some share milliseconds).
    clocks_[static_cast<size_t>(r)]->Advance(static_cast<int64_t>(rng_() % 3));
    const int dice = static_cast<int>(rng_() % 100);
    const auto& tables = Editable();
    const EditableTable& t = tables[rng_() % tables.size()];
    LocalTxn txn;
    if (dice < 12 || rows_.empty()) {
      const RowId id = RowId::NewV7(clocks_[static_cast<size_t>(r)].get());
      LocalTxn::Fields f;
      for (const char* field : t.fields) {
        if (rng_() % 2) f.emplace_back(field, RandomValue(rng_, t.name, field, r, op));
      }
      txn.Create(t.name, id, std::move(f));
      rows_.emplace_back(t.name, id);
      ++stats_["create"];
    } else {
      const auto& [table_name, id] = rows_[rng_() % rows_.size()];
      const EditableTable* et = nullptr;
      for (const auto& e : tables) {
        if (table_name == e.name) et = &e;
      }
      auto row = rep.Get(table_name, id);
      EXPECT_TRUE(row.ok()) << row.status();
      if (!row.ok() || !row->has_value()) return false;  // not delivered here yet
      const bool live = (*row)->live;
      auto random_fields = [&]() {
        LocalTxn::Fields f;
        const size_t n = 1 + rng_() % 3;
        for (size_t k = 0; k < n; ++k) {
          const char* field = et->fields[rng_() % et->fields.size()];
          bool dup = false;
          for (auto& p : f) dup |= p.first == field;
          if (!dup) f.emplace_back(field, RandomValue(rng_, table_name, field, r, op));
        }
        return f;
      };
      if (dice < 20) {
        auto conflicts = rep.Conflicts(table_name, id);
        EXPECT_TRUE(conflicts.ok());
        if (conflicts->empty()) return false;
        const ConflictRecord& c = (*conflicts)[rng_() % conflicts->size()];
        // Keep the losing value, or write a new one.
        Value v = c.value;
        if (c.column != kLiveColumn && rng_() % 2) {
          v = RandomValue(rng_, table_name, c.column, r, op);
        }
        // A field of a deleted row is resolved after restoring the row.
        if (!live && c.column != kLiveColumn) txn.Restore(table_name, id, {});
        txn.Resolve(table_name, id, c.column, v);
        ++stats_["resolve"];
      } else if (!live) {
        if (dice < 60) {
          txn.Restore(table_name, id, random_fields());  // re-edit after delete
          ++stats_["restore"];
        } else {
          return false;
        }
      } else if (dice < 28) {
        txn.Delete(table_name, id);
        ++stats_["delete"];
      } else {
        txn.Set(table_name, id, random_fields());
        ++stats_["edit"];
      }
    }
    auto c = rep.Write(txn);
    EXPECT_TRUE(c.ok()) << c.status() << " (seed " << seed_ << ")";
    if (!c.ok()) return false;
    by_author_[static_cast<size_t>(r)].push_back(pool_.size());
    ++delivered_[static_cast<size_t>(r)][static_cast<size_t>(r)];
    pool_.push_back(*c);
    return true;
  }

  // A random delivery to a random replica, as a sync with a peer would make
  // it but shuffled: the next commits of one or two other devices, plus some
  // already held (duplicates) and some from further ahead, whose
  // predecessors are missing (deferred by the replica, redelivered later).
  void RandomDelivery() {
    if (pool_.empty()) return;
    const size_t to = rng_() % kReplicas;
    std::vector<Commit> batch;
    const size_t authors = 1 + rng_() % 2;
    for (size_t a = 0; a < authors; ++a) {
      const size_t from = rng_() % kReplicas;
      const auto& theirs = by_author_[from];
      if (theirs.empty()) continue;
      const size_t next = delivered_[to][from];
      const size_t n = 1 + rng_() % 30;
      for (size_t i = next; i < std::min(theirs.size(), next + n); ++i) {
        batch.push_back(pool_[theirs[i]]);
      }
      if (rng_() % 3 == 0) batch.push_back(pool_[theirs[rng_() % theirs.size()]]);
    }
    if (batch.empty()) return;
    if (rng_() % 3 == 0) batch.push_back(batch[rng_() % batch.size()]);  // redelivery
    std::shuffle(batch.begin(), batch.end(), rng_);
    auto res = replicas_[to]->Apply(batch);
    ASSERT_TRUE(res.ok()) << res.status() << " (seed " << seed_ << ")";
    for (size_t i = 0; i < batch.size(); ++i) {
      if (res->outcomes[i] != ApplyOutcome::kApplied) continue;
      for (size_t from = 0; from < kReplicas; ++from) {
        if (replicas_[from]->device_id() == batch[i].author) ++delivered_[to][from];
      }
    }
    stats_["delivered"] += res->applied;
    stats_["duplicate"] += res->duplicates;
    stats_["deferred"] += res->deferred;
  }

  // Delivers the whole pool, shuffled, to every replica.
  void DeliverAll() {
    for (auto& rep : replicas_) {
      std::vector<Commit> all = pool_;
      std::shuffle(all.begin(), all.end(), rng_);
      auto res = rep->Apply(all);
      ASSERT_TRUE(res.ok()) << res.status();
      EXPECT_EQ(res->deferred, 0u) << "seed " << seed_;
    }
  }

  // The merge rule applied to the whole history at once.
  void CheckAgainstOracle(Replica& rep) {
    std::map<FieldKey, std::vector<Write>> writes;
    for (const Commit& c : pool_) {
      for (const RowChange& rc : c.changes) {
        for (const FieldWrite& f : rc.fields) {
          writes[{rc.table, rc.row, f.column}].push_back(
              Write{c.version(), f.base, f.resolves, f.value});
        }
      }
    }
    std::set<std::tuple<std::string, RowId, std::string, Version>> want_conflicts;
    std::map<std::tuple<std::string, RowId, std::string, Version>, Value> want_values;
    size_t concurrent_overwrites = 0;
    for (const auto& [key, ws] : writes) {
      const auto& [table, row, column] = key;
      const Write* winner = &ws[0];
      for (const Write& w : ws) {
        if (w.version > winner->version) winner = &w;
      }
      for (const Write& w : ws) {
        if (&w == winner) continue;
        bool superseded = false;
        for (const Write& o : ws) superseded |= Supersedes(o.base, o.resolves, w.version);
        if (!superseded) {
          want_conflicts.insert({table, row, column, w.version});
          want_values[{table, row, column, w.version}] = w.value;
        }
        // A write replaced by one whose author had not seen it.
        bool seen_by_winner = Supersedes(winner->base, winner->resolves, w.version);
        if (!seen_by_winner) ++concurrent_overwrites;
      }
      // Nothing lost: the field holds the winning write's value and version.
      auto got = rep.Get(table, row);
      ASSERT_TRUE(got.ok() && got->has_value()) << "row missing, seed " << seed_;
      if (column == kLiveColumn) {
        EXPECT_EQ(Value::Int((*got)->live ? 1 : 0), winner->value) << "seed " << seed_;
        EXPECT_EQ((*got)->live_version->version, winner->version);
      } else {
        const size_t ci = static_cast<size_t>(rep.schema().FindTable(table)->ColumnIndex(column));
        EXPECT_EQ((*got)->values[ci], winner->value) << table << "." << column << " seed " << seed_;
        ASSERT_TRUE((*got)->versions[ci].has_value());
        EXPECT_EQ((*got)->versions[ci]->version, winner->version);
      }
    }
    auto conflicts = rep.Conflicts();
    ASSERT_TRUE(conflicts.ok());
    std::set<std::tuple<std::string, RowId, std::string, Version>> got_conflicts;
    for (const ConflictRecord& c : *conflicts) {
      got_conflicts.insert({c.table, c.row, c.column, c.version});
      auto it = want_values.find({c.table, c.row, c.column, c.version});
      if (it != want_values.end()) {
        EXPECT_EQ(c.value, it->second) << "conflict keeps the loser's value, seed " << seed_;
      }
    }
    EXPECT_EQ(got_conflicts, want_conflicts) << "seed " << seed_;
    stats_["conflicts"] = got_conflicts.size();
    stats_["concurrent overwrites"] = concurrent_overwrites;
  }

  testing::TempDir dir_;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<FakeClock>> clocks_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::vector<std::pair<std::string, RowId>> rows_;
  std::vector<Commit> pool_;
  // Indexes into pool_ of each replica's own commits, in sequence order.
  std::vector<size_t> by_author_[kReplicas];
  // delivered_[to][from]: how many of from's commits `to` holds.
  size_t delivered_[kReplicas][kReplicas] = {};
  std::map<std::string, size_t> stats_;
};

TEST_F(ConvergenceTest, FiveReplicasTenThousandRandomOperationsConverge) {
  const int ops = OpsFromEnv();
  int done = 0;
  for (int op = 0; done < ops; ++op) {
    if (LocalOp(static_cast<int>(rng_() % kReplicas), op)) ++done;
    if (rng_() % 10 < 4) RandomDelivery();
    if (HasFatalFailure()) return;
  }
  DeliverAll();
  if (HasFatalFailure()) return;

  const std::string d0 = Digest(*replicas_[0]);
  for (int i = 0; i < kReplicas; ++i) {
    auto st = replicas_[static_cast<size_t>(i)]->Stats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->log_commits, pool_.size()) << "replica " << i << " seed " << seed_;
    EXPECT_EQ(Digest(*replicas_[static_cast<size_t>(i)]), d0)
        << "replica " << i << " diverged, seed " << seed_;
    EXPECT_TRUE(replicas_[static_cast<size_t>(i)]->CheckIntegrity().ok());
  }
  CheckAgainstOracle(*replicas_[0]);
  // The run really exercised what it claims to.
  EXPECT_GE(pool_.size(), static_cast<size_t>(kMinOps));
  EXPECT_GT(stats_["delete"], 100u);
  EXPECT_GT(stats_["restore"], 50u);
  EXPECT_GT(stats_["resolve"], 20u);
  EXPECT_GT(stats_["deferred"], 0u);
  EXPECT_GT(stats_["duplicate"], 0u);
  EXPECT_GT(stats_["concurrent overwrites"], 100u);
  EXPECT_GT(stats_["conflicts"], 0u);
  std::cout << "commits " << pool_.size() << ", rows " << rows_.size();
  for (const auto& [k, v] : stats_) std::cout << ", " << k << " " << v;
  std::cout << std::endl;
}

}  // namespace
}  // namespace fieldsync
