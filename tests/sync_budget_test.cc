// Sync over a link that drops every connection after about 20 KB (TLS
// handshake included), as some provincial links do (issue 13, story 3):
// pushes and pulls shrink to what the link carries (docs/PROTOCOL.md,
// "Message budgets"), so every try moves something and the sync completes
// in a bounded number of tries, each case arriving once.
#include <gtest/gtest.h>

#include <iostream>

#include "support/sync_fixture.h"
#include "sync/budget.h"
#include "sync/forwarding_transport.h"
#include "sync/pass.h"
#include "tools/lib/cutting_proxy.h"

namespace fieldsync::testing {
namespace {

constexpr int kCases = 2000;
// What the link carries per connection, both directions together.
constexpr uint64_t kLinkBytes = 20000;
// The most tries (sync passes) each laptop may need. Each case is about
// 1 KB on the wire with its key record, so a try moves about 12 KB after
// the handshake: some 200 tries for the writer (commits, then key records).
constexpr int kMaxTries = 300;

class SyncBudgetTest : public SyncProcessTest {
 protected:
  // Text that does not compress (the wire is gzip'ed).
  static std::string Noise(size_t n) {
    std::string out;
    while (out.size() < n) out += Id16::NewRandom().ToString();
    out.resize(n);
    return out;
  }

  // Small cases, 100 commits per SQLite transaction.
  static void WriteCases(harness::LocalNode& node, int n) {
    std::vector<LocalTxn> batch;
    for (int i = 0; i < n; ++i) {
      LocalTxn t;
      t.Create("cases", Id16::NewRandom(),
               {{"case_code", Value::Text(absl::StrCat("LC-", i))},
                {"province", Value::Text(node.province())},
                {"status", Value::Text("intake")},
                {"narrative", Value::Text(Noise(120))}});
      batch.push_back(std::move(t));
      if (batch.size() == 100 || i + 1 == n) {
        auto w = node.replica().WriteMany(batch);
        ASSERT_TRUE(w.ok()) << w.status();
        batch.clear();
      }
    }
  }

  static size_t Cases(Replica& r) {
    auto rows = r.ListRows("cases", false);
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? rows->size() : 0;
  }

  // Syncs `n` again and again, at once (each try that moved something is
  // followed by the next at once, as the daemon does), until a pass
  // completes or kMaxTries. Returns the tries made; prints how far `count`
  // got every 50 tries.
  static int SyncUntilDone(harness::LocalNode& n, const std::string& who,
                           const std::function<size_t()>& count) {
    absl::Status last;
    for (int tries = 1; tries <= kMaxTries; ++tries) {
      auto r = n.Sync();
      if (r.ok()) {
        std::cout << who << ": completed after " << tries << " tries (" << count()
                  << " cases)\n";
        return tries;
      }
      last = r.status();
      EXPECT_TRUE(node::Retryable(last)) << last;
      if (!node::Retryable(last)) return tries;
      if (tries % 50 == 0) {
        std::cout << who << ": " << count() << " of " << kCases << " cases after " << tries
                  << " tries\n";
      }
    }
    std::cout << who << ": " << count() << " of " << kCases << " cases after " << kMaxTries
              << " tries, not completed; last: " << last << "\n";
    return kMaxTries + 1;
  }
};

TEST_F(SyncBudgetTest, ALinkThatDropsEveryConnectionAfter20KBStillCarriesEverything) {
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");
  MustSync(writer);
  MustSync(reader);  // bootstrapped: the cases come to it as commits
  auto hub_cases = [&] {
    auto hub = OpenHubReplica();
    return hub ? Cases(*hub) : 0;
  };
  const size_t before = hub_cases();
  WriteCases(writer, kCases);

  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.SetConnectionLimit(kLinkBytes);
  const std::string via = absl::StrCat("localhost:", proxy.port());
  ASSERT_TRUE(writer.Connect(via).ok());
  ASSERT_TRUE(reader.Connect(via).ok());

  const int pushed_in = SyncUntilDone(writer, "writer", [&] { return hub_cases() - before; });
  EXPECT_LE(pushed_in, kMaxTries) << "the writer's cases never all reached the hub";
  EXPECT_EQ(hub_cases() - before, static_cast<size_t>(kCases));
  const size_t reader_before = Cases(reader.replica());
  auto reader_stats = reader.replica().Stats();
  ASSERT_TRUE(reader_stats.ok());
  const uint64_t reader_log_before = reader_stats->log_commits;
  const int pulled_in =
      SyncUntilDone(reader, "reader", [&] { return Cases(reader.replica()) - reader_before; });
  EXPECT_LE(pulled_in, kMaxTries) << "the reader never received every case";
  std::cout << "connections " << proxy.connections_accepted() << ", cut " << proxy.cuts()
            << "\n";
  // The link did cut, many times: else this test means nothing.
  EXPECT_GE(proxy.cuts(), 20);

  // Every case arrived, once: the hub's log and the reader's hold each
  // commit once, and the reader holds what the writer holds.
  EXPECT_EQ(Cases(reader.replica()) - reader_before, static_cast<size_t>(kCases));
  reader_stats = reader.replica().Stats();
  ASSERT_TRUE(reader_stats.ok());
  EXPECT_EQ(reader_stats->log_commits - reader_log_before, static_cast<uint64_t>(kCases));
  auto pushed = writer.replica().GetCursor(node::kPushedCursor);
  ASSERT_TRUE(pushed.ok());
  auto writer_stats = writer.replica().Stats();
  ASSERT_TRUE(writer_stats.ok());
  EXPECT_EQ(static_cast<uint64_t>(*pushed), writer_stats->local_seq);
  EXPECT_EQ(Digest(reader.replica()), Digest(writer.replica()));
  EXPECT_TRUE(reader.replica().CheckIntegrity().ok());
  auto hub = OpenHubReplica();
  ASSERT_TRUE(hub != nullptr);
  EXPECT_TRUE(hub->CheckIntegrity().ok());
}

// The pull alone: the first message used to carry up to 5,000 key records
// and 4 MiB of commits, whatever the node asked.
TEST_F(SyncBudgetTest, APullOverALinkThatDropsEveryConnectionAfter20KBCompletes) {
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");
  MustSync(reader);
  WriteCases(writer, kCases);
  MustSync(writer);  // directly
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.SetConnectionLimit(kLinkBytes);
  ASSERT_TRUE(reader.Connect(absl::StrCat("localhost:", proxy.port())).ok());
  const size_t before = Cases(reader.replica());
  const int tries =
      SyncUntilDone(reader, "reader", [&] { return Cases(reader.replica()) - before; });
  EXPECT_LE(tries, kMaxTries) << "the reader never received every case";
  EXPECT_GE(proxy.cuts(), 20);
  EXPECT_EQ(Cases(reader.replica()) - before, static_cast<size_t>(kCases));
  EXPECT_EQ(Digest(reader.replica()), Digest(writer.replica()));
}

// What a pull message "carried" (PullChunk.wire_bytes, which sizes the
// next messages after a cut) is its size as it came over gRPC, key records
// included. Before, the transport measured it after moving the key records
// out: a message of key records counted a few bytes, and a pull cut in
// the key-record phase sent the budget to the floor whatever the link
// carried.
TEST_F(SyncBudgetTest, APullMessageOfKeyRecordsIsMeasuredWithItsKeyRecords) {
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");
  MustSync(reader);
  WriteCases(writer, 200);  // 200 key records (one data key a case)
  MustSync(writer);
  ASSERT_TRUE(reader.replica().SetCursor(sync::kPullBudgetCursor, 8192).ok());
  struct Measured : sync::ForwardingTransport {
    using ForwardingTransport::ForwardingTransport;
    absl::Status Pull(const sync::PullRequest& req,
                      const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override {
      return ForwardingTransport::Pull(req, [&](sync::PullChunk& c) {
        size_t keys = 0;
        for (const std::string& k : c.key_records) keys += k.size();
        if (!c.key_records.empty()) ++key_messages;
        if (c.wire_bytes < keys) ++undercounted;
        return on_chunk(c);
      });
    }
    int key_messages = 0, undercounted = 0;
  } measured(reader.client().transport());
  auto r = sync::RunPass(measured, reader.replica(), *reader.keys(), reader.credential(), {});
  ASSERT_TRUE(r.ok()) << r.status();
  std::cout << measured.key_messages << " messages with key records, " << measured.undercounted
            << " measured under their key records\n";
  EXPECT_GT(measured.key_messages, 1);
  EXPECT_EQ(measured.undercounted, 0);
}

}  // namespace
}  // namespace fieldsync::testing
