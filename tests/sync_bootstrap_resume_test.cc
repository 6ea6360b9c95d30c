// A bootstrap that is cut resumes where it was cut (issue 13, story 4;
// docs/PROTOCOL.md, "A bootstrap resumed after a cut"): the rows a laptop
// installed stay, the next pull continues after the last one, and only a
// hub that cannot continue (tombstones collected since the bootstrap
// began, a log that went back, an unknown table) starts it over, saying
// why. Real hub processes; the link is the project's cutting proxy, and
// the daemon a real `fieldnode daemon`.
//
// The bootstrapping laptop takes its office's records again, unverified
// (`hub:bootstrapped` 0, `hub:checkpoint_refused` 1: as a v2 node, a new
// office's laptop, or a laptop rebuilt after a missed delete would).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "support/rewriting_hub.h"
#include "support/sync_fixture.h"
#include "sync/forwarding_transport.h"
#include "sync/pass.h"
#include "sync/checkpoint_keeper.h"
#include "sync/report.h"
#include "tools/lib/cutting_proxy.h"

namespace fieldsync::testing {
namespace {

constexpr int kCases = 2000;

class BootstrapResumeTest : public SyncProcessTest {
 protected:
  // Text that does not compress (the wire is gzip'ed).
  static std::string Noise(std::mt19937_64& rng, size_t n) {
    static const char kHex[] = "0123456789abcdef";
    std::string out(n, ' ');
    for (char& c : out) c = kHex[rng() % 16];
    return out;
  }

  // Cases written by `node`, 100 commits a SQLite transaction.
  static std::vector<RowId> WriteCases(harness::LocalNode& node, int n, std::mt19937_64& rng) {
    std::vector<RowId> ids;
    std::vector<LocalTxn> batch;
    for (int i = 0; i < n; ++i) {
      LocalTxn t;
      ids.push_back(Id16::NewRandom());
      t.Create("cases", ids.back(),
               {{"case_code", Value::Text(absl::StrCat("LC-", i))},
                {"province", Value::Text(node.province())},
                {"status", Value::Text("intake")},
                {"narrative", Value::Text(absl::StrCat("Nguyễn Thị Hằng ", Noise(rng, 120)))}});
      batch.push_back(std::move(t));
      if (batch.size() == 100 || i + 1 == n) {
        auto w = node.replica().WriteMany(batch);
        EXPECT_TRUE(w.ok()) << w.status();
        batch.clear();
      }
    }
    return ids;
  }

  // Cases held, deleted ones included: what was installed.
  static size_t Cases(harness::LocalNode& n) {
    auto rows = n.replica().ListRows("cases", /*include_deleted=*/true);
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? rows->size() : 0;
  }

  static int64_t Cursor(harness::LocalNode& n, const char* name) {
    auto v = n.replica().GetCursor(name);
    EXPECT_TRUE(v.ok());
    return v.ok() ? *v : -1;
  }

  // `n` (a member of its office) takes its office's records again at its
  // next sync, unverified: as after a checkpoint refuted once it joined
  // (docs/PROTOCOL.md, "Checkpoints": `hub:bootstrapped` 0 and
  // `hub:checkpoint_refused` 1), the state a new laptop of an office
  // without a checkpoint, or a version 2 node, bootstraps from.
  static void BootstrapAgainUnverified(harness::LocalNode& n) {
    EXPECT_TRUE(n.replica().SetCursor(sync::kBootstrappedCursor, 0).ok());
    EXPECT_TRUE(n.replica().SetCursor(sync::kCheckpointRefusedCursor, 1).ok());
  }

  // A seed from FIELDSYNC_BOOT_SEED, else a fresh one; printed.
  static uint64_t Seed() {
    uint64_t seed = std::random_device{}();
    const char* s = std::getenv("FIELDSYNC_BOOT_SEED");
    if (s != nullptr && *s != '\0') seed = std::strtoull(s, nullptr, 10);
    std::cout << "seed " << seed << " (replay: FIELDSYNC_BOOT_SEED=" << seed << ")\n";
    return seed;
  }
};

// Cut at random byte counts (a new one each try), while a colleague keeps
// editing, creating and deleting cases between the tries: every try keeps
// what it installed, and the bootstrap completes with the colleague's rows.
// Before: each try began with `reset`, so the count fell back at every cut
// and the bootstrap never completed over a link shorter than it.
TEST_F(BootstrapResumeTest, ABootstrapCutAtRandomPointsCompletesWithoutDiscardingInstalledRows) {
  const uint64_t seed = Seed();
  std::mt19937_64 rng(seed);
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");
  std::vector<RowId> ids = WriteCases(writer, kCases, rng);
  MustSync(writer);
  BootstrapAgainUnverified(reader);

  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  ASSERT_TRUE(reader.Connect(absl::StrCat("localhost:", proxy.port())).ok());
  constexpr int kMaxTries = 80;
  std::string counts;
  size_t before = 0;
  int tries = 0;
  bool done = false;
  bool went_down = false;
  while (!done && tries < kMaxTries) {
    ++tries;
    // This try's link: cut after 40-240 KB, TLS handshake included.
    const uint64_t limit = 40'000 + rng() % 200'000;
    proxy.SetConnectionLimit(limit);
    auto r = reader.Sync();
    done = r.ok();
    if (!done) {
      EXPECT_TRUE(node::Retryable(r.status())) << r.status();
      if (!node::Retryable(r.status())) break;
    }
    const size_t now = Cases(reader);
    absl::StrAppend(&counts, counts.empty() ? "" : ", ", now);
    if (now < before) went_down = true;
    EXPECT_GE(now, before) << "try " << tries << " (link " << limit << " bytes) dropped rows "
                           << "installed before: " << counts;
    before = now;
    // Meanwhile a colleague works (directly to the hub): an edit, a new
    // case, a delete, so that rows change between the cut and the resume.
    if (!done && rng() % 3 == 0) {
      const RowId edited = ids[rng() % ids.size()];
      SetField(writer.replica(), "cases", edited, "status", Value::Text("referred"));
      ids.push_back(NewCase(writer.replica(), "LC", "Lò Thị Mai"));
      const size_t gone = rng() % ids.size();
      LocalTxn del;
      del.Delete("cases", ids[gone]);
      EXPECT_TRUE(writer.replica().Write(del).ok());
      ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(gone));
      MustSync(writer);
    }
  }
  std::cout << "cases installed after each try: " << counts << "; " << tries << " tries, "
            << proxy.cuts() << " cuts\n";
  EXPECT_TRUE(done) << "the bootstrap never completed: " << counts;
  EXPECT_FALSE(went_down) << counts;
  EXPECT_GE(proxy.cuts(), 3) << "the link must cut the bootstrap for this test to mean anything";
  EXPECT_EQ(Cursor(reader, sync::kBootstrappedCursor), 1);
  // The same records as the colleague, no conflict record the merge would
  // not show.
  ASSERT_TRUE(reader.Connect(hub_->address()).ok());
  MustSync(writer);
  MustSync(reader);
  EXPECT_EQ(Digest(reader.replica()), Digest(writer.replica()));
  EXPECT_TRUE(reader.replica().CheckIntegrity().ok());
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `fieldnode daemon` stopped by SIGTERM in the middle of a bootstrap over
// a slow link: the records it installed stay, the daemon says so, and the
// next sync installs only the rest. Before: the next sync started over.
TEST_F(BootstrapResumeTest, ADaemonStoppedMidBootstrapKeepsWhatItReceived) {
  const uint64_t seed = Seed();
  std::mt19937_64 rng(seed);
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");
  WriteCases(writer, kCases, rng);
  MustSync(writer);
  BootstrapAgainUnverified(reader);
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.SetRate(150'000);
  auto hub = node::LoadHubConfig(reader.dir());
  ASSERT_TRUE(hub.ok()) << hub.status();
  hub->address = absl::StrCat("localhost:", proxy.port());
  ASSERT_TRUE(node::SaveEnrolment(reader.dir(), *hub, reader.credential()).ok());

  const std::string log = reader.dir() + "/daemon.log";
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    std::vector<std::string> argv = {harness::BinDir() + "/fieldnode", "daemon", "--data-dir",
                                     reader.dir(), "--every", "1h", "--pull-batch", "50"};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  // Stopped once some cases are in, well before the last.
  size_t got = 0;
  for (int i = 0; i < 1500 && (got = Cases(reader)) < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadAll(log);
  const size_t kept = Cases(reader);
  std::cout << "stopped with " << kept << " of " << kCases << " cases installed\n"
            << ReadAll(log);
  ASSERT_GE(kept, 300u) << ReadAll(log);
  ASSERT_EQ(Cursor(reader, sync::kBootstrappedCursor), 0)
      << "the stop must land inside the bootstrap for this test to mean anything";
  EXPECT_NE(ReadAll(log).find("the bootstrap under way keeps"), std::string::npos)
      << "the daemon says what it kept: " << ReadAll(log);

  // The next sync (directly) continues: it installs only the rest.
  node::SyncReport rest = MustSync(reader);
  std::cout << "the next sync installed " << rest.rows_installed << " rows\n";
  EXPECT_EQ(Cases(reader), static_cast<size_t>(kCases));
  EXPECT_LE(rest.rows_installed, static_cast<uint64_t>(kCases) - kept + 1)
      << "rows installed before the stop were sent again";
  EXPECT_EQ(Cursor(reader, sync::kBootstrappedCursor), 1);
  MustSync(writer);
  EXPECT_EQ(Digest(reader.replica()), Digest(writer.replica()));
}

// Tombstones collected between the cut and the resume: the hub cannot
// continue (a row the laptop installed may have been deleted and
// collected since), so it starts over with `reset` and a notice saying
// why; the bootstrap completes, and the laptop's own work is kept.
TEST_F(BootstrapResumeTest, TombstonesCollectedSinceTheCutRestartItWithANotice) {
  std::mt19937_64 rng(7);
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");
  std::vector<RowId> ids = WriteCases(writer, 400, rng);
  MustSync(writer);
  BootstrapAgainUnverified(reader);
  ASSERT_TRUE(reader.Connect(hub_->address(), /*pull_batch=*/50).ok());
  std::atomic<bool> stop{false};
  auto cut = reader.client().Sync(reader.replica(), *reader.keys(), reader.credential(), &stop,
                                  [&](const node::SyncReport& r) {
                                    if (Cases(reader) >= 100) stop = true;
                                    (void)r;
                                  });
  ASSERT_FALSE(cut.ok()) << "stopped in the middle of the bootstrap";
  const size_t kept = Cases(reader);
  ASSERT_GE(kept, 100u);
  ASSERT_LT(kept, 400u);
  // The reader's own work, written while it waits.
  const RowId mine = NewCase(reader.replica(), "LC", "Hà Thị Lan");

  // A case deleted, and collected.
  LocalTxn del;
  del.Delete("cases", ids[0]);
  ASSERT_TRUE(writer.replica().Write(del).ok());
  MustSync(writer);
  MustSync(writer);  // acknowledges the delete
  auto gc = hub_->Admin({"gc", "--min-age", "0s", "--stale-after", "10ms"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  ASSERT_NE(gc.out.find("collected 1 tombstones"), std::string::npos) << gc.out;

  node::SyncReport again = MustSync(reader);
  std::cout << "notice: " << again.notice << "\n";
  EXPECT_NE(again.notice.find("deleted records were collected"), std::string::npos)
      << again.notice;
  EXPECT_NE(again.notice.find("starts again"), std::string::npos) << again.notice;
  EXPECT_GE(again.rows_installed, 399u) << "started over";
  EXPECT_FALSE(Holds(reader, "cases", ids[0])) << "the collected case is not brought back";
  EXPECT_TRUE(Holds(reader, "cases", mine)) << "the laptop's own work is kept";
  EXPECT_EQ(Cursor(reader, sync::kBootstrappedCursor), 1);
  MustSync(writer);
  MustSync(reader);
  EXPECT_EQ(Digest(reader.replica()), Digest(writer.replica()));
}

// A hostile hub marks its messages as a bootstrap's to a laptop that is
// in none: rows so marked would be installed as a bootstrap's, without the
// witnesses asked of rows newly visible. Refused, nothing applied; the
// honest pull after it takes everything.
TEST_F(BootstrapResumeTest, AHubCannotPassRowsOffAsABootstrapsToALaptopInNone) {
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");
  const RowId kase = NewCase(writer.replica(), "LC", "Vàng Thị Dợ");
  MustSync(writer);
  RewritingHub hostile(reader.client().transport(), [](sync::PullChunk& c) {
    c.bootstrap = BootstrapCut{c.log_head, std::string(32, 'x'), c.gc_epoch, {}, RowId()};
    return true;
  });
  auto r = sync::RunPass(hostile, reader.replica(), *reader.keys(), reader.credential(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("a bootstrap this laptop is not in"), std::string::npos)
      << r.status();
  EXPECT_FALSE(Holds(reader, "cases", kase));
  MustSync(reader);
  EXPECT_TRUE(Holds(reader, "cases", kase));
}

// The hub of the previous build: it ignores PullRequest.bootstrap_cut and
// marks nothing. A cut bootstrap then starts over, as before, and
// completes; nothing is refused.
class PreviousBuildHub : public sync::ForwardingTransport {
 public:
  explicit PreviousBuildHub(sync::Transport& real) : ForwardingTransport(real) {}
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override {
    sync::PullRequest sent = req;
    sent.params.bootstrap_cut.reset();
    int with_rows = 0;
    return ForwardingTransport::Pull(sent, [&](sync::PullChunk& c) -> absl::Status {
      c.bootstrap.reset();
      const bool rows = !c.rows.empty();  // taken by the node
      absl::Status s = on_chunk(c);
      if (!s.ok()) return s;
      if (rows && ++with_rows == cut_after_row_messages) {
        return absl::UnavailableError("the network cut the pull");
      }
      return absl::OkStatus();
    });
  }
  int cut_after_row_messages = 0;  // 0: never
};

TEST_F(BootstrapResumeTest, AHubOfThePreviousBuildStartsACutBootstrapOverAsBefore) {
  std::mt19937_64 rng(11);
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");
  WriteCases(writer, 300, rng);
  MustSync(writer);
  BootstrapAgainUnverified(reader);
  PreviousBuildHub old(reader.client().transport());
  old.cut_after_row_messages = 2;
  sync::PassOptions o;
  o.pull.max_batch = 50;
  auto cut = sync::RunPass(old, reader.replica(), *reader.keys(), reader.credential(), o);
  ASSERT_FALSE(cut.ok());
  EXPECT_TRUE(sync::Retryable(cut.status())) << cut.status();
  const size_t kept = Cases(reader);
  EXPECT_GT(kept, 0u);
  EXPECT_LT(kept, 300u);
  old.cut_after_row_messages = 0;
  auto again = sync::RunPass(old, reader.replica(), *reader.keys(), reader.credential(), o);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_GE(again->rows_installed, 300u) << "started over";
  EXPECT_EQ(Cases(reader), 300u);
  EXPECT_EQ(Cursor(reader, sync::kBootstrappedCursor), 1);
  MustSync(writer);
  MustSync(reader);
  EXPECT_EQ(Digest(reader.replica()), Digest(writer.replica()));
}

}  // namespace
}  // namespace fieldsync::testing
