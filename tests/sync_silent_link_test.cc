// A link that goes silent (packets stop, no reset, no FIN: the cutting
// proxy's silent mode) fails a sync in well under a minute, saying that the
// link went silent; before keepalives it hung until the pull's 30-minute
// deadline (issue 13). And keepalives do not fail a link that is slow but
// alive.
//
// Each sync runs on a thread bounded by a deadline: a sync that hangs shows
// as a failure, and cutting the proxy then ends it, so the suite never hangs.
//
// The silent links are detected with short keepalives and connect timeout
// (kQuick: the least the hub accepts), so that the mechanism is tested in
// seconds rather than in the production values' 25 s; that those detect a
// silent link in under a minute too is their arithmetic, checked below.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>

#include "base/tuning.h"
#include "node/grpc_transport.h"
#include "support/sync_fixture.h"
#include "tools/lib/cutting_proxy.h"

namespace fieldsync::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kSlowBytesPerSecond = 32'000;  // 256 kbit/s each way

// A link gone silent fails after at most the keepalive's time and timeout
// (during a call) or the connect timeout (during the TLS handshake): with
// the production values, in under a minute.
static_assert(tuning::kNodeKeepaliveTimeMillis + tuning::kNodeKeepaliveTimeoutMillis < 60'000);
static_assert(tuning::kNodeConnectTimeoutMillis < 60'000);

// Pings every 5 s (the least the hub accepts, kHubMinPingIntervalMillis),
// answered within 3 s; a handshake not done in 6 s fails. A silent link is
// then told from a slow one as it is with the production values: an
// unanswered ping, a handshake that took longer than the ping's timeout.
node::ClientOptions Quick(uint32_t pull_batch = 0) {
  node::ClientOptions o;
  o.pull_batch = pull_batch;
  o.keepalive_time_millis = tuning::kHubMinPingIntervalMillis;
  o.keepalive_timeout_millis = 3000;
  o.connect_timeout_millis = 6000;
  return o;
}

class SilentLinkTest : public SyncProcessTest {
 protected:
  // `n` cases of text that does not compress much (the wire is gzip'ed),
  // written by `node` and pushed.
  static void WriteCases(harness::LocalNode& node, int n) {
    std::vector<LocalTxn> batch;
    for (int i = 0; i < n; ++i) {
      std::string noise;
      while (noise.size() < 600) noise += Id16::NewRandom().ToString();
      LocalTxn t;
      t.Create("cases", Id16::NewRandom(),
               {{"case_code", Value::Text(absl::StrCat("LC-", i))},
                {"province", Value::Text(node.province())},
                {"status", Value::Text("intake")},
                {"narrative", Value::Text(noise)}});
      batch.push_back(std::move(t));
    }
    auto w = node.replica().WriteMany(batch);
    ASSERT_TRUE(w.ok()) << w.status();
    MustSync(node);
  }

  // Runs a sync of `n` and waits for it up to `limit`; if it is still
  // running then, records a failure and cuts `proxy` to end it.
  static absl::StatusOr<node::SyncReport> SyncWithin(harness::LocalNode& n, CuttingProxy& proxy,
                                                     std::chrono::seconds limit,
                                                     double* seconds) {
    const auto start = Clock::now();
    auto f = std::async(std::launch::async, [&n] { return n.Sync(); });
    if (f.wait_for(limit) != std::future_status::ready) {
      ADD_FAILURE() << "the sync was still running after " << limit.count()
                    << " s: the proxy is cut to end it";
      proxy.CutNow();
    }
    absl::StatusOr<node::SyncReport> r = f.get();
    *seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return r;
  }
};

TEST_F(SilentLinkTest, APullOverALinkThatGoesSilentFailsInUnderAMinuteAndSaysSo) {
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");  // bootstrapped: what follows streams as commits
  WriteCases(writer, 1500);
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  ASSERT_TRUE(reader.Connect(absl::StrCat("localhost:", proxy.port()), Quick(20)).ok());
  // Well past the TLS handshake and Hello: inside the pull's stream.
  proxy.GoSilentAfterBytes(Direction::kDownstream, 60000);
  double seconds = 0;
  auto r = SyncWithin(reader, proxy, std::chrono::seconds(60), &seconds);
  std::cout << "silent link: the sync ended after " << seconds << " s: "
            << (r.ok() ? "completed" : r.status().ToString()) << "\n";
  ASSERT_TRUE(proxy.silent()) << "the link must go silent during the sync for this test";
  ASSERT_FALSE(r.ok());
  EXPECT_LT(seconds, 60);
  EXPECT_TRUE(node::Retryable(r.status())) << r.status();
  const std::string m(r.status().message());
  EXPECT_NE(m.find("went silent"), std::string::npos) << m;
  EXPECT_EQ(m.find("CA file"), std::string::npos) << m;
  EXPECT_EQ(m.find("certificate"), std::string::npos) << m;
  // What was applied before the silence stays; the rest comes next time.
  auto cursor = reader.replica().GetCursor(node::kPulledCursor);
  ASSERT_TRUE(cursor.ok());
  std::cout << "  cursor after the silence: " << *cursor << "\n";
  proxy.Stop();
  ASSERT_TRUE(reader.Connect(absl::StrCat("localhost:", hub_->port())).ok());
  MustSync(reader);
  EXPECT_EQ(Digest(reader.replica()), Digest(writer.replica()));
}

// A slow link that works: keepalive pings (every 5 s here, the least the
// hub accepts, answered within 3 s rather than 15) pass behind the data
// queued on it, during a pull and during a push (while the hub sends
// nothing), and the sync completes.
TEST_F(SilentLinkTest, KeepalivesDoNotFailASlowLinkThatIsAlive) {
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");
  WriteCases(writer, 150);
  std::vector<LocalTxn> mine;
  for (int i = 0; i < 110; ++i) {
    std::string noise;
    while (noise.size() < 600) noise += Id16::NewRandom().ToString();
    LocalTxn t;
    t.Create("cases", Id16::NewRandom(),
             {{"case_code", Value::Text(absl::StrCat("LC-r", i))},
              {"province", Value::Text("LC")},
              {"narrative", Value::Text(noise)}});
    mine.push_back(std::move(t));
  }
  ASSERT_TRUE(reader.replica().WriteMany(mine).ok());
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.SetRate(kSlowBytesPerSecond);
  ASSERT_TRUE(reader.Connect(absl::StrCat("localhost:", proxy.port()), Quick(20)).ok());
  double seconds = 0;
  auto r = SyncWithin(reader, proxy, std::chrono::seconds(120), &seconds);
  const uint64_t bytes = proxy.bytes(Direction::kUpstream) + proxy.bytes(Direction::kDownstream);
  std::cout << "slow link: " << bytes << " bytes in " << seconds << " s ("
            << static_cast<int>(bytes / std::max(seconds, 0.001)) << " bytes/s): "
            << (r.ok() ? "completed" : r.status().ToString()) << "\n";
  ASSERT_TRUE(r.ok()) << r.status();
  // Long enough for pings to go during the push and during the pull.
  EXPECT_GE(seconds, 10) << "the link must be slow for this test to mean anything";
  EXPECT_EQ(r->pushed, 110u);
  MustSync(writer);
  EXPECT_EQ(Digest(reader.replica()), Digest(writer.replica()));
}

// Silent from the start of the TLS handshake: the connection never
// completes (no keepalive yet); the connect timeout ends it, and the line
// says the link went silent, not that a certificate was refused.
TEST_F(SilentLinkTest, ALinkSilentDuringTheTlsHandshakeFailsInUnderAMinuteAndSaysSo) {
  auto& n = AddNode("LC");
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  ASSERT_TRUE(n.Connect(absl::StrCat("localhost:", proxy.port()), Quick()).ok());
  proxy.GoSilentAfterBytes(Direction::kDownstream, 100);
  double seconds = 0;
  auto r = SyncWithin(n, proxy, std::chrono::seconds(60), &seconds);
  std::cout << "silent during the handshake: the sync ended after " << seconds << " s: "
            << (r.ok() ? "completed" : r.status().ToString()) << "\n";
  ASSERT_TRUE(proxy.silent());
  ASSERT_FALSE(r.ok());
  EXPECT_LT(seconds, 60);
  EXPECT_TRUE(node::Retryable(r.status())) << r.status();
  const std::string m(r.status().message());
  EXPECT_NE(m.find("went silent"), std::string::npos) << m;
  EXPECT_EQ(m.find("CA file"), std::string::npos) << m;
}

}  // namespace
}  // namespace fieldsync::testing
