#include "tools/bench/sync/throughput.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "clock/clock_source.h"
#include "tools/bench/common/case_data.h"
#include "tools/bench/common/timing.h"
#include "tools/bench/sync/processes.h"

namespace fieldsync::bench_sync {
namespace {

using bench::Clock;
using bench::Fixed;
using bench::MB;
using bench::Rate;
using bench::SecondsSince;

// A small case (5 fields, as a hotline call first records it): the commits of
// the hub-throughput phase.
LocalTxn SmallCaseTxn(int64_t i, const std::string& province) {
  LocalTxn t;
  t.Create("cases", Id16::NewV7(SystemClock::Get()),
           {{"case_code", Value::Text(absl::StrCat(province, "-2026-", i))},
            {"province", Value::Text(province)},
            {"status", Value::Text("intake")},
            {"urgency", Value::Text(i % 9 == 0 ? "urgent" : "normal")},
            {"opened_on", Value::Text(bench::Date(i))}});
  return t;
}

}  // namespace

absl::StatusOr<ThroughputResults> Throughput(const Settings& s, const std::string& dir,
                                             const Mode& mode, const harness::Pki& pki) {
  ThroughputResults res;
  res.nodes = s.nodes;
  res.commits = s.nodes * s.node_commits;
  std::printf("[hub throughput, %s] a new hub; %lld nodes of %lld provinces, %s commits each "
              "(small cases, 5 fields), syncing at once ...\n",
              mode.name(), static_cast<long long>(s.nodes), static_cast<long long>(s.nodes),
              Rate(static_cast<double>(s.node_commits)).c_str());
  std::fflush(stdout);
  HubProcess hub(absl::StrCat(dir, "/hub-throughput", mode.tag()), pki);
  FS_RETURN_IF_ERROR(StartHub(hub, mode, "starting the throughput hub"));
  std::vector<std::string> provinces;
  std::vector<std::unique_ptr<LocalNode>> nodes;
  for (int64_t k = 1; k <= s.nodes; ++k) {
    // Province codes are 2 or 3 capital letters (schema/province_code.h):
    // AAA, AAB, ... for nodes 1, 2, ... (up to 17,576 of them).
    const int64_t nth = k - 1;
    const std::string code = {static_cast<char>('A' + nth / 676 % 26),
                              static_cast<char>('A' + nth / 26 % 26),
                              static_cast<char>('A' + nth % 26)};
    provinces.push_back(code);
    FS_RETURN_IF_ERROR(Context(hub.AddProvince(code, absl::StrCat("Tỉnh ", k)),
                               absl::StrCat("fieldhub province add ", code)));
    FS_ASSIGN_OR_RETURN(std::unique_ptr<LocalNode> n,
                        LocalNode::Create(absl::StrCat(dir, "/node-", code, mode.tag()),
                                          mode.crypto));
    FS_RETURN_IF_ERROR(
        Context(n->Enroll(hub, code), absl::StrCat("enrolling the node of ", code)));
    nodes.push_back(std::move(n));
  }
  // A first sync of every node (its bootstrap), after one shared record so
  // that each node's cursor moves past 0 (not measured).
  FS_RETURN_IF_ERROR(WriteOrganisation(nodes[0]->replica(), "Cục Cảnh sát hình sự"));
  for (auto& n : nodes) FS_RETURN_IF_ERROR(SyncNode(*n, hub, "first sync").status());

  node::ClientOptions monitor_options;
  monitor_options.address = hub.address();
  monitor_options.ca_file = pki.ca();
  FS_ASSIGN_OR_RETURN(std::unique_ptr<node::SyncClient> monitor,
                      node::SyncClient::Create(monitor_options));
  for (int rep = 0; rep < s.repeat; ++rep) {
    for (size_t k = 0; k < nodes.size(); ++k) {
      std::vector<LocalTxn> txns;
      txns.reserve(static_cast<size_t>(s.node_commits));
      for (int64_t i = 0; i < s.node_commits; ++i) {
        txns.push_back(SmallCaseTxn(rep * s.node_commits + i, provinces[k]));
      }
      FS_RETURN_IF_ERROR(nodes[k]->replica().WriteMany(txns).status());
    }
    FS_ASSIGN_OR_RETURN(node::HelloInfo before, monitor->Hello(nullptr));
    const int64_t target = before.log_head + res.commits;

    // Every node's sync in a thread of its own, released together.
    std::mutex mu;
    std::condition_variable cv;
    bool go = false;
    std::atomic<int> running{static_cast<int>(nodes.size())};
    std::vector<absl::StatusOr<node::SyncReport>> reports(nodes.size(),
                                                          absl::UnknownError("not run"));
    std::vector<std::thread> threads;
    for (size_t k = 0; k < nodes.size(); ++k) {
      threads.emplace_back([&, k] {
        {
          std::unique_lock<std::mutex> l(mu);
          cv.wait(l, [&] { return go; });
        }
        reports[k] = nodes[k]->Sync();
        running.fetch_sub(1);
      });
    }
    const double hub_cpu0 = ProcessCpuSeconds(hub.pid());
    const double self_cpu0 = bench::SelfCpuSeconds();
    const auto t0 = Clock::now();
    {
      std::lock_guard<std::mutex> l(mu);
      go = true;
    }
    cv.notify_all();
    // The hub's log head, as a node sees it (Hello), every 5 ms.
    std::optional<double> accepted;
    while (true) {
      const bool done = running.load() == 0;
      absl::StatusOr<node::HelloInfo> h = monitor->Hello(nullptr);
      if (h.ok() && h->log_head >= target) {
        accepted = SecondsSince(t0);
        break;
      }
      if (done) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (std::thread& t : threads) t.join();
    const double all = SecondsSince(t0);
    const double hub_cpu = ProcessCpuSeconds(hub.pid()) - hub_cpu0;
    const double nodes_cpu = bench::SelfCpuSeconds() - self_cpu0;
    // Pushes end before their syncs return: the log was complete by then.
    if (accepted) accepted = std::min(*accepted, all);

    uint64_t pushed = 0;
    for (size_t k = 0; k < nodes.size(); ++k) {
      if (!reports[k].ok()) {
        return absl::Status(reports[k].status().code(),
                            absl::StrCat("node ", provinces[k], ": ",
                                         reports[k].status().message(), HubLogNote(hub)));
      }
      pushed += reports[k]->pushed;
    }
    FS_ASSIGN_OR_RETURN(node::HelloInfo after, monitor->Hello(nullptr));
    if (!accepted && after.log_head >= target) accepted = all;  // a poll had failed
    if (!accepted || pushed != static_cast<uint64_t>(res.commits) || after.log_head != target) {
      return absl::InternalError(absl::StrCat(
          "the hub's log grew from ", before.log_head, " to ", after.log_head, " (want ", target,
          "); the nodes report ", pushed, " commits stored (want ", res.commits, ")"));
    }
    res.accepted_s.Add(*accepted);
    res.all_s.Add(all);
    res.hub_cpu_s.Add(hub_cpu);
    std::printf("  [run %d/%d] all %s commits in the hub's log after %7.3f s: %s commits/s; "
                "every sync returned after %7.3f s: %s commits/s; CPU hub %.1f s, nodes (this "
                "process) %.1f s\n",
                rep + 1, s.repeat, Rate(static_cast<double>(res.commits)).c_str(), *accepted,
                Rate(static_cast<double>(res.commits) / *accepted).c_str(), all,
                Rate(static_cast<double>(res.commits) / all).c_str(), hub_cpu, nodes_cpu);
    std::fflush(stdout);
  }
  res.hub_rss_kib = hub.PeakRssKib();
  std::printf("  check: the hub's log grew by exactly %s commits a run; hub peak RSS %s MB\n\n",
              Rate(static_cast<double>(res.commits)).c_str(),
              Fixed(MB(res.hub_rss_kib), 1).c_str());
  std::fflush(stdout);
  nodes.clear();
  if (const int rc = hub.Stop(); rc != 0) {
    std::printf("  note: the throughput hub exited with %d at SIGTERM\n", rc);
  }
  return res;
}

}  // namespace fieldsync::bench_sync
