#include "tools/bench/sync/links.h"

#include <cstdio>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "clock/clock_source.h"
#include "node/client.h"
#include "sync/budget.h"
#include "tools/bench/common/report.h"
#include "tools/bench/common/timing.h"
#include "tools/lib/cutting_proxy.h"

namespace fieldsync::bench_sync {
namespace {

using bench::Clock;
using bench::Fixed;
using bench::Rate;
using bench::SecondsSince;
using testing::CuttingProxy;
using testing::Direction;

// The province whose laptops push in this phase (their first sync, direct,
// must not bootstrap the phase's bootstrap cases).
constexpr char kPushProvince[] = "TQ";

// The links, the clean one first (the baseline).
const Link kLinks[] = {
    {"clean", 0, 0, 0},
    {"cut every 20 KB", 20'000, 0, 0},
    {"256 kbit/s, 150 ms", 0, 32'000, 150},
};

// A transfer that has not completed after this many tries, or this long,
// is reported as incomplete (a bootstrap that starts over at every cut
// never completes).
constexpr int kMaxTries = 300;
// Tries over a cutting link traced one by one.
constexpr int kTracedTries = 12;
constexpr double kMaxSeconds = 300;

int64_t Cases(Replica& r) {
  absl::StatusOr<ReplicaStats> st = r.Stats();
  if (!st.ok()) return -1;
  for (const auto& [table, n] : st->live_rows) {
    if (table == "cases") return static_cast<int64_t>(n);
  }
  return 0;
}

// Syncs `n` through `proxy` (set to `link`) again and again, at once, as the
// daemon does after a pass that moved something, until a pass completes
// with `want` held (by `held`), or kMaxTries / kMaxSeconds.
absl::StatusOr<LinkRun> Transfer(LocalNode& n, CuttingProxy& proxy, const Link& link,
                                 int64_t want, const std::function<int64_t()>& held) {
  LinkRun run;
  run.link = link.name;
  proxy.SetConnectionLimit(link.connection_limit);
  proxy.SetRate(link.rate);
  proxy.SetDelay(link.delay_millis);
  const uint64_t up0 = proxy.bytes(Direction::kUpstream);
  const uint64_t down0 = proxy.bytes(Direction::kDownstream);
  const int conns0 = proxy.connections_accepted();
  const auto t0 = Clock::now();
  int64_t before = held();
  absl::Status last;
  while (run.tries < kMaxTries && SecondsSince(t0) < kMaxSeconds) {
    ++run.tries;
    const uint64_t try0 = proxy.bytes(Direction::kUpstream) + proxy.bytes(Direction::kDownstream);
    const size_t conn0 = proxy.Connections().size();
    absl::StatusOr<node::SyncReport> r = n.Sync();
    const int64_t now = held();
    // The first tries over a cutting link, one line each: where a
    // connection's bytes go while the budget finds what the link carries.
    if (link.connection_limit > 0 && run.tries <= kTracedTries) {
      const std::vector<testing::ConnectionBytes> cs = proxy.Connections();
      uint64_t handshakes = 0;
      for (size_t i = conn0; i < cs.size(); ++i) {
        handshakes += cs[i].handshake_up + cs[i].handshake_down;
      }
      absl::StatusOr<int64_t> budget = n.replica().GetCursor(sync::kPullBudgetCursor);
      std::printf("    try %d: %zu connection(s), %s B (TLS handshake %s B), %+lld held, pull "
                  "budget now %s B\n",
                  run.tries, cs.size() - conn0,
                  Rate(static_cast<double>(proxy.bytes(Direction::kUpstream) +
                                           proxy.bytes(Direction::kDownstream) - try0))
                      .c_str(),
                  Rate(static_cast<double>(handshakes)).c_str(),
                  static_cast<long long>(now - before),
                  budget.ok() ? Rate(static_cast<double>(sync::ClampBudget(*budget))).c_str()
                              : "?");
    }
    if (now <= before) ++run.idle_tries;
    before = now;
    if (r.ok() && now >= want) {
      run.complete = true;
      break;
    }
    if (!r.ok()) {
      last = r.status();
      if (!node::Retryable(last)) {
        return absl::Status(last.code(), absl::StrCat("over the link \"", link.name,
                                                      "\" (not retryable): ", last.message()));
      }
    }
  }
  run.seconds = SecondsSince(t0);
  run.bytes = proxy.bytes(Direction::kUpstream) - up0 + proxy.bytes(Direction::kDownstream) -
              down0;
  run.connections = proxy.connections_accepted() - conns0;
  run.cases = held();
  // The handshakes: a resumed one lacks the hub's certificate, so its
  // server flight is well under the first (full) one's.
  const std::vector<testing::ConnectionBytes> conns = proxy.Connections();
  for (size_t i = static_cast<size_t>(conns0); i < conns.size(); ++i) {
    const uint64_t first = conns[static_cast<size_t>(conns0)].handshake_down;
    run.handshake_bytes += conns[i].handshake_up + conns[i].handshake_down;
    if (conns[i].handshake_down > 0 && 2 * conns[i].handshake_down < first) ++run.resumed;
  }
  if (run.complete) {
    const uint64_t b0 = proxy.bytes(Direction::kUpstream) + proxy.bytes(Direction::kDownstream);
    if (n.Sync().ok()) {
      run.idle_pass_bytes =
          proxy.bytes(Direction::kUpstream) + proxy.bytes(Direction::kDownstream) - b0;
    }
  }
  std::printf("  %-20s %s: %s of %s in %d tr%s (%d moved nothing), %.1f s, %s bytes, %d "
              "connection%s%s%s\n",
              link.name, run.complete ? "complete  " : "INCOMPLETE", Rate(static_cast<double>(run.cases)).c_str(),
              Rate(static_cast<double>(want)).c_str(), run.tries, run.tries == 1 ? "y" : "ies",
              run.idle_tries, run.seconds, Rate(static_cast<double>(run.bytes)).c_str(),
              run.connections, run.connections == 1 ? "" : "s",
              run.complete || last.ok() ? "" : "; last failure: ",
              run.complete || last.ok() ? "" : std::string(last.message()).c_str());
  if (run.connections > 0) {
    std::printf("  %-20s TLS handshakes %s B (%s B a connection, %d of %d resumed); a pass with "
                "nothing to do: %s B\n",
                "", Rate(static_cast<double>(run.handshake_bytes)).c_str(),
                Rate(static_cast<double>(run.handshake_bytes) / run.connections).c_str(),
                run.resumed, run.connections,
                Rate(static_cast<double>(run.idle_pass_bytes)).c_str());
  }
  std::fflush(stdout);
  return run;
}

// A new laptop of kLinkProvince bootstrapping `cases` cases through `link`
// (enrolled directly: only the sync goes through the link); the laptop in
// `out`, for the caller's checks.
absl::StatusOr<LinkRun> BootstrapThrough(HubProcess& hub, const Link& link, int64_t cases,
                                         const std::string& node_dir,
                                         std::unique_ptr<LocalNode>* out) {
  CuttingProxy proxy("127.0.0.1", hub.port());
  FS_RETURN_IF_ERROR(proxy.Start());
  FS_ASSIGN_OR_RETURN(std::unique_ptr<LocalNode> n, LocalNode::Create(node_dir, true));
  FS_RETURN_IF_ERROR(Context(n->Enroll(hub, kLinkProvince), "enrolling a new laptop"));
  FS_RETURN_IF_ERROR(n->Connect(absl::StrCat("localhost:", proxy.port())));
  Replica& r = n->replica();
  FS_ASSIGN_OR_RETURN(LinkRun run, Transfer(*n, proxy, link, cases, [&r] { return Cases(r); }));
  *out = std::move(n);
  return run;
}

}  // namespace

absl::StatusOr<LinkResults> Links(const Settings& s, const std::string& dir, HubProcess& hub) {
  LinkResults res;
  res.cases = s.link_cases;
  res.commits = s.link_commits;
  FS_RETURN_IF_ERROR(Context(hub.AddProvince(kPushProvince, "Tuyên Quang"),
                             "fieldhub province add"));
  std::printf("[bad links, crypto on] a new laptop of %s bootstraps %s cases; a laptop of %s "
              "pushes %s new cases (one commit each); each through a proxy that is clean, cuts "
              "every connection after 20,000 bytes (both ways, TLS handshake included), or "
              "carries 32,000 bytes/s each way 150 ms late each way; tries follow at once\n",
              kLinkProvince, Rate(static_cast<double>(s.link_cases)).c_str(), kPushProvince,
              Rate(static_cast<double>(s.link_commits)).c_str());
  std::fflush(stdout);

  // The cases to bootstrap, written and pushed directly (not measured).
  FS_ASSIGN_OR_RETURN(std::unique_ptr<LocalNode> seed,
                      LocalNode::Create(absl::StrCat(dir, "/link-seed"), true));
  FS_RETURN_IF_ERROR(Context(seed->Enroll(hub, kLinkProvince), "enrolling the seed laptop"));
  std::vector<RowId> ids;
  for (int64_t i = 0; i < s.link_cases; ++i) ids.push_back(Id16::NewV7(SystemClock::Get()));
  FS_RETURN_IF_ERROR(WriteCases(seed->replica(), ids, 0, kLinkProvince).status());
  FS_RETURN_IF_ERROR(SyncNode(*seed, hub, "the seed laptop's push").status());

  std::printf(" bootstrap of %s cases:\n", Rate(static_cast<double>(s.link_cases)).c_str());
  int k = 0;
  for (const Link& link : kLinks) {
    std::unique_ptr<LocalNode> n;
    FS_ASSIGN_OR_RETURN(LinkRun run, BootstrapThrough(hub, link, s.link_cases,
                                                      absl::StrCat(dir, "/link-boot-", k), &n));
    res.bootstrap.push_back(std::move(run));
    ++k;
  }

  // The office's checkpoint (docs/PROTOCOL.md, "Checkpoints"): the seed
  // becomes its first device and signs the root of its rows; new laptops
  // then take them in verified pages (over the slow link the same bytes as
  // the clean one: left out).
  FS_RETURN_IF_ERROR(
      Context(seed->BecomeFirstDevice(), "making the seed laptop the office's first device"));
  seed->client().set_checkpoint_interval(0);
  FS_ASSIGN_OR_RETURN(node::SyncReport ck, SyncNode(*seed, hub, "the seed laptop's checkpoint"));
  if (!ck.chain.checkpoint_adopted) {
    return absl::InternalError(absl::StrCat(
        "the hub did not adopt the seed laptop's checkpoint: ",
        ck.key_notes.empty() ? std::string("no checkpoint made") : ck.key_notes.back()));
  }
  std::printf(" bootstrap of %s cases from the office's checkpoint, in verified pages:\n",
              Rate(static_cast<double>(s.link_cases)).c_str());
  for (const Link& link : {kLinks[0], kLinks[1]}) {
    std::unique_ptr<LocalNode> n;
    FS_ASSIGN_OR_RETURN(LinkRun run, BootstrapThrough(hub, link, s.link_cases,
                                                      absl::StrCat(dir, "/link-boot-", k), &n));
    FS_ASSIGN_OR_RETURN(std::optional<BootstrapProgress> boot, n->replica().Bootstrap());
    if (!boot) return absl::InternalError("a new laptop was not bootstrapped from the checkpoint");
    res.bootstrap_verified.push_back(std::move(run));
    ++k;
  }

  std::printf(" push of %s new cases:\n", Rate(static_cast<double>(s.link_commits)).c_str());
  k = 0;
  for (const Link& link : kLinks) {
    CuttingProxy proxy("127.0.0.1", hub.port());
    FS_RETURN_IF_ERROR(proxy.Start());
    FS_ASSIGN_OR_RETURN(std::unique_ptr<LocalNode> n,
                        LocalNode::Create(absl::StrCat(dir, "/link-push-", k), true));
    FS_RETURN_IF_ERROR(Context(n->Enroll(hub, kPushProvince), "enrolling a pushing laptop"));
    FS_RETURN_IF_ERROR(SyncNode(*n, hub, "a pushing laptop's first sync").status());
    std::vector<RowId> mine;
    for (int64_t i = 0; i < s.link_commits; ++i) mine.push_back(Id16::NewV7(SystemClock::Get()));
    FS_RETURN_IF_ERROR(WriteCases(n->replica(), mine, 0, kPushProvince).status());
    FS_RETURN_IF_ERROR(n->Connect(absl::StrCat("localhost:", proxy.port())));
    Replica& r = n->replica();
    FS_ASSIGN_OR_RETURN(const int64_t pushed0, r.GetCursor(node::kPushedCursor));
    FS_ASSIGN_OR_RETURN(
        LinkRun run, Transfer(*n, proxy, link, s.link_commits, [&r, pushed0]() -> int64_t {
          absl::StatusOr<int64_t> p = r.GetCursor(node::kPushedCursor);
          return p.ok() ? *p - pushed0 : -1;
        }));
    res.push.push_back(std::move(run));
    ++k;
  }
  std::printf("\n");
  return res;
}

void PrintLinks(const LinkResults& r) {
  std::printf("bad links (crypto on; bytes = both directions through the link, TLS "
              "handshakes included; against the clean link of the same run):\n");
  std::vector<bench::TableRow> rows;
  // `ratio_goal`: the link must carry the transfer in under 1.5 times the
  // clean link's bytes (the bootstrap's goal); else completing is the goal.
  auto add = [&rows](const std::string& what, const std::vector<LinkRun>& runs,
                     bool ratio_goal) {
    if (runs.empty()) return;
    const LinkRun& clean = runs.front();
    for (const LinkRun& run : runs) {
      const double ratio = clean.bytes > 0 ? static_cast<double>(run.bytes) /
                                                 static_cast<double>(clean.bytes)
                                           : 0;
      const bool is_clean = &run == &clean;
      std::string met;
      if (!is_clean) met = run.complete && (!ratio_goal || ratio < 1.5) ? "yes" : "no";
      rows.push_back(bench::TableRow{
          absl::StrCat(what, ", ", run.link),
          absl::StrCat(Rate(static_cast<double>(run.bytes)), " B, ", Fixed(run.seconds, 1),
                       " s, ", run.tries, " tries"),
          run.complete ? "complete" : absl::StrCat("INCOMPLETE (", run.cases, ")"),
          absl::StrCat(Fixed(is_clean ? 1.0 : ratio, 2), "x"),
          is_clean ? "baseline" : (ratio_goal ? "done, < 1.5x" : "done"), met});
    }
  };
  add(absl::StrCat("bootstrap ", r.cases), r.bootstrap, true);
  add(absl::StrCat("bootstrap ", r.cases, " verified"), r.bootstrap_verified, true);
  add(absl::StrCat("push ", r.commits), r.push, false);
  bench::PrintTable(rows, bench::TableRow{"figure", "bytes, time, tries", "result",
                                          "bytes vs clean", "goal", "met"});
}

}  // namespace fieldsync::bench_sync
