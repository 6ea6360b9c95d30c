// Load: 63 nodes (the number of provinces when the hotline plan was written),
// one per province, each with 1,000 commits written offline, all syncing at
// once against one hub process over TLS. Every pass succeeds, and afterwards
// every node holds exactly what the hub holds of every record it sees: its
// province's cases and the whole shared directory.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

constexpr int kNodes = 63;
constexpr int kCommitsPerNode = 1000;
constexpr int kDirectoryCommits = 20;  // of each node's 1,000: shared by all

TEST_F(SyncTest, SixtyThreeNodesSyncingAtOnceAllConverge) {
  auto t0 = std::chrono::steady_clock::now();
  auto lap = [&](const char* what) {
    const auto now = std::chrono::steady_clock::now();
    std::cout << what << ": "
              << std::chrono::duration_cast<std::chrono::milliseconds>(now - t0).count()
              << " ms\n";
    t0 = now;
  };
  std::vector<harness::LocalNode*> nodes;
  for (int i = 0; i < kNodes; ++i) {
    // Province codes are 2 or 3 capital letters: PAA, PAB, ...
    const std::string code = {'P', static_cast<char>('A' + i / 26),
                              static_cast<char>('A' + i % 26)};
    ASSERT_TRUE(hub_->AddProvince(code, absl::StrCat("Tỉnh ", i + 1)).ok());
    nodes.push_back(&AddNode(code));
  }
  lap("63 provinces and nodes enrolled");
  // Offline work: cases of the node's province, and directory entries.
  for (int i = 0; i < kNodes; ++i) {
    harness::LocalNode& n = *nodes[i];
    std::vector<LocalTxn> txns;
    for (int k = 0; k < kCommitsPerNode; ++k) {
      LocalTxn t;
      if (k < kDirectoryCommits) {
        t.Create("organisations", Id16::NewRandom(),
                 {{"name", Value::Text(absl::StrCat("Công an xã ", i, "-", k))},
                  {"kind", Value::Text("police")},
                  {"province", Value::Text(n.province())}});
      } else {
        t.Create("cases", Id16::NewRandom(),
                 {{"case_code", Value::Text(absl::StrCat(n.province(), "-", k))},
                  {"province", Value::Text(n.province())},
                  {"status", Value::Text("intake")},
                  {"narrative", Value::Text("Nạn nhân được giải cứu tại biên giới")}});
      }
      txns.push_back(std::move(t));
    }
    ASSERT_TRUE(n.replica().WriteMany(txns).ok());
  }
  lap("63,000 commits written offline");
  // Two rounds, all 63 at once: the second brings everyone the directory
  // entries pushed by the others during the first.
  for (int round = 0; round < 2; ++round) {
    std::atomic<int> failures{0};
    std::vector<std::string> errors(kNodes);
    std::vector<std::thread> threads;
    for (int i = 0; i < kNodes; ++i) {
      threads.emplace_back([&, i] {
        auto r = nodes[i]->Sync();
        if (!r.ok() || !r->push_refused.ok()) {
          ++failures;
          errors[i] = r.ok() ? r->push_refused.ToString() : r.status().ToString();
        }
      });
    }
    for (auto& t : threads) t.join();
    lap(round == 0 ? "round 1: 63 nodes push and pull at once" : "round 2: and again");
    EXPECT_EQ(failures.load(), 0) << "round " << round;
    for (int i = 0; i < kNodes; ++i) {
      EXPECT_TRUE(errors[i].empty()) << "node " << i << ": " << errors[i];
    }
  }
  auto hub = OpenHubReplica();
  ASSERT_NE(hub, nullptr);
  auto stats = hub->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->log_commits, static_cast<uint64_t>(kNodes * kCommitsPerNode));
  for (int i = 0; i < kNodes; ++i) {
    Replica& r = nodes[i]->replica();
    EXPECT_EQ(Rows(r, "cases").size(), static_cast<size_t>(kCommitsPerNode - kDirectoryCommits))
        << "node " << i;
    EXPECT_EQ(Rows(r, "organisations").size(), static_cast<size_t>(kNodes * kDirectoryCommits))
        << "node " << i;
  }
  // Record by record, three nodes against the hub (all 63 would only
  // repeat the same comparison 63 times over).
  for (int i : {0, kNodes / 2, kNodes - 1}) {
    Replica& r = nodes[i]->replica();
    for (const char* table : {"cases", "organisations"}) {
      for (const RowId& row : Rows(r, table)) {
        auto mine = r.ExportRow(table, row);
        auto hubs = hub->ExportRow(table, row);
        ASSERT_TRUE(mine.ok() && hubs.ok() && mine->has_value() && hubs->has_value());
        ASSERT_EQ((*mine)->fields.size(), (*hubs)->fields.size());
        for (size_t f = 0; f < (*mine)->fields.size(); ++f) {
          EXPECT_EQ((*mine)->fields[f].value, (*hubs)->fields[f].value);
          EXPECT_EQ((*mine)->fields[f].version.version, (*hubs)->fields[f].version.version);
        }
      }
    }
    EXPECT_TRUE(r.CheckIntegrity().ok());
  }
  // The directory is identical on every node.
  std::string first;
  for (int i = 0; i < kNodes; ++i) {
    std::string ids;
    for (const RowId& row : Rows(nodes[i]->replica(), "organisations")) {
      absl::StrAppend(&ids, row.ToString());
    }
    if (i == 0) first = ids;
    EXPECT_EQ(ids, first) << "node " << i;
  }
  EXPECT_TRUE(hub->CheckIntegrity().ok());
  lap("checks");
}

}  // namespace
}  // namespace fieldsync::testing
