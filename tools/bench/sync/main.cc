// fieldsync-bench-sync: sync over TLS on loopback, with the hub (`fieldhub
// serve`) and the node as separate processes -- the figures of the sync
// issue. See docs/PERFORMANCE.md, "Sync (issue 3)".
//
// Figures:
//   initial sync    a new node pulls --cases cases (15 fields, about 1.1 KB of
//                   values each) from a hub that holds them. The node is
//                   `fieldnode sync` run as a process (made with `fieldnode
//                   init` and `fieldnode enroll`); cases/s = cases / wall time
//                   of that process from spawn to exit. Peak RSS of the node
//                   (the child's ru_maxrss) and of the hub during that sync
//                   (VmHWM, reset just before it). Beside it, in the same run,
//                   the same rows INSERTed into a plain SQLite table in one
//                   transaction (WAL, the replica's PRAGMAs), and the ratio.
//   incremental     node A edits one field of --edits cases (one commit each)
//                   and syncs (its push); node B syncs (its pull). Both talk to
//                   the hub through a byte-counting proxy of their own: the
//                   time of the two syncs, and the bytes on the wire (TLS, both
//                   directions, both nodes) per edit.
//   hub throughput  --nodes nodes, each of its own province, have written
//                   --node-commits commits each; all sync at once, one thread
//                   each. Commits accepted per second = all commits / time
//                   until the hub's log holds them all; also the time until
//                   every sync (push, then pull) has returned.
//   bad links       (crypto on; --links-only runs it alone) a new node
//                   bootstraps --link-cases cases, and a node pushes
//                   --link-commits new cases, each over a clean link, one cut
//                   every 20 KB, and a 256 kbit/s one with 150 ms each way:
//                   bytes carried (TLS handshakes included) against the clean
//                   link, tries, time (links.h).
// Side figures, without targets: the seed node's local writes and its push.
//
// Encryption and signatures (--crypto, default both): every phase runs with
// them on (the product) and off (a hub serving --benchmark-without-crypto,
// fieldsync-bench-hub of tools/bench/hub_main.cc, built for this benchmark only;
// nodes that neither sign nor seal), each against hubs of its own, in one
// run; the initial syncs of the two modes alternate run by run. With crypto
// on, the bootstrap also carries one data key record (kind 5) per case, and
// the sealed fields are larger (padding, envelope): part of the cost. The
// summary gives the cost of crypto against the encryption issue's target
// (initial sync at most 15% slower); docs/PERFORMANCE.md, "Encryption".
//
// A measurement, not a test: it exits 0 whether or not the targets are met,
#include <sodium.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tools/bench/common/run_frame.h"
#include "tools/bench/common/timing.h"
#include "tools/bench/sync/hubs_nodes.h"
#include "tools/bench/sync/incremental.h"
#include "tools/bench/sync/initial.h"
#include "tools/bench/sync/links.h"
#include "tools/bench/sync/settings.h"
#include "tools/bench/sync/summary.h"
#include "tools/bench/sync/throughput.h"
#include "tools/lib/sync_harness.h"

namespace fieldsync::bench_sync {
namespace {

// The bad-link phase on a hub of its own (crypto on).
absl::StatusOr<LinkResults> RunLinks(const Settings& s, const std::string& dir,
                                     const harness::Pki& pki) {
  HubProcess hub(dir + "/hub-links", pki);
  FS_RETURN_IF_ERROR(StartHub(hub, Mode{true}, "starting the bad-link phase's hub"));
  FS_RETURN_IF_ERROR(Context(hub.AddProvince(kLinkProvince, "Yên Bái"), "fieldhub province add"));
  std::printf("hub:      fieldhub serve (pid %d) on %s, TLS, crypto on\n\n",
              static_cast<int>(hub.pid()), hub.address().c_str());
  std::fflush(stdout);
  FS_ASSIGN_OR_RETURN(LinkResults res, Links(s, dir, hub));
  if (const int rc = hub.Stop(); rc != 0) {
    std::printf("  note: the bad-link phase's hub exited with %d at SIGTERM\n", rc);
  }
  return res;
}

absl::Status Run(const Settings& s, const std::string& dir) {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  FS_ASSIGN_OR_RETURN(harness::Pki pki, harness::MakePki(dir + "/tls"));
  if (s.links_only) {
    FS_ASSIGN_OR_RETURN(LinkResults links, RunLinks(s, dir, pki));
    PrintLinks(links);
    return absl::OkStatus();
  }

  // The modes measured, the baseline first; one hub each for the initial and
  // incremental phases, in a data directory of its own.
  std::vector<Mode> modes;
  if (s.crypto_off) modes.push_back(Mode{false});
  if (s.crypto_on) modes.push_back(Mode{true});
  std::vector<std::unique_ptr<HubProcess>> hubs;
  std::vector<HubProcess*> hub_ptrs;
  for (const Mode& mode : modes) {
    auto hub = std::make_unique<HubProcess>(absl::StrCat(dir, "/hub", mode.tag()), pki);
    FS_RETURN_IF_ERROR(StartHub(*hub, mode, "starting the hub"));
    FS_RETURN_IF_ERROR(
        Context(hub->AddProvince(kSeedProvince, "Lào Cai"), "fieldhub province add"));
    FS_RETURN_IF_ERROR(
        Context(hub->AddProvince(kEditProvince, "Hà Giang"), "fieldhub province add"));
    std::printf("hub:      fieldhub serve (pid %d) on %s, TLS, %s%s\n",
                static_cast<int>(hub->pid()), hub->address().c_str(), mode.name(),
                mode.crypto ? "" : " (--benchmark-without-crypto)");
    hub_ptrs.push_back(hub.get());
    hubs.push_back(std::move(hub));
  }
  std::printf("\n");
  std::fflush(stdout);

  std::vector<InitialResults> inits;
  Sample raw_rate, paired_cost;
  FS_RETURN_IF_ERROR(InitialSync(s, dir, modes, hub_ptrs, inits, raw_rate, paired_cost));
  std::vector<IncrementalResults> incs;
  std::vector<int64_t> hub_rss_whole;
  for (size_t m = 0; m < modes.size(); ++m) {
    FS_ASSIGN_OR_RETURN(IncrementalResults inc, Incremental(s, dir, modes[m], *hubs[m]));
    incs.push_back(std::move(inc));
    hub_rss_whole.push_back(hubs[m]->PeakRssKib());
    if (const int rc = hubs[m]->Stop(); rc != 0) {
      std::printf("  note: the hub (%s) exited with %d at SIGTERM\n", modes[m].name(), rc);
    }
  }
  std::vector<ThroughputResults> thrs;
  for (const Mode& mode : modes) {
    FS_ASSIGN_OR_RETURN(ThroughputResults thr, Throughput(s, dir, mode, pki));
    thrs.push_back(std::move(thr));
  }

  std::optional<LinkResults> links;
  if (s.crypto_on) {
    FS_ASSIGN_OR_RETURN(links, RunLinks(s, dir, pki));
  }

  PrintSummary(s, Results{modes, std::move(inits), raw_rate, paired_cost, std::move(incs),
                          std::move(hub_rss_whole), std::move(thrs)});
  if (links) {
    std::printf("\n");
    PrintLinks(*links);
  }
  return absl::OkStatus();
}

}  // namespace

int Main(int argc, char** argv) {
  std::optional<Settings> s = ParseSettings(argc, argv);
  if (!s) return 2;

  bench::TempDir temp;
  const std::optional<std::string> dir =
      bench::BeginRun(kProgram, argc, argv, s->dir, /*require_empty=*/true, temp);
  if (!dir) return 1;
  if (s->links_only) {
    std::printf("settings: bad links only, %lld cases bootstrapped, %lld pushed, crypto on\n",
                static_cast<long long>(s->link_cases), static_cast<long long>(s->link_commits));
  } else {
    std::printf("settings: %lld cases, %lld edits, %lld nodes x %lld commits, %d run%s, %s\n",
                static_cast<long long>(s->cases), static_cast<long long>(s->edits),
                static_cast<long long>(s->nodes), static_cast<long long>(s->node_commits),
                s->repeat, s->repeat > 1 ? "s" : "",
                s->crypto_on && s->crypto_off ? "crypto off and on"
                : s->crypto_on                ? "crypto on"
                                              : "crypto off");
  }
  std::fflush(stdout);

  const auto t0 = bench::Clock::now();
  absl::Status st = Run(*s, *dir);
  if (!st.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "fieldsync-bench-sync: %s\n", std::string(st.ToString()).c_str());
    return 1;
  }
  std::printf("\ntotal:    %.0f s, load average now %s\n", bench::SecondsSince(t0),
              bench::LoadAverage().c_str());
  return 0;
}

}  // namespace fieldsync::bench_sync

int main(int argc, char** argv) { return fieldsync::bench_sync::Main(argc, argv); }
