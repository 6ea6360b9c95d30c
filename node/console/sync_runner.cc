#include "node/console/sync_runner.h"

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/strings.h"
#include "clock/clock_source.h"
#include "node/agent.h"
#include "node/daemon_loop.h"
#include "node/setup.h"
#include "node/sync_lines.h"

namespace fieldsync::node::console {

SyncRunner::~SyncRunner() {
  stop_.store(true);
  std::thread t;
  {
    std::lock_guard<std::mutex> l(mu_);
    t = std::move(thread_);
  }
  if (t.joinable()) t.join();
}

bool SyncRunner::Start(std::unique_ptr<ConsoleOffice> office) {
  std::lock_guard<std::mutex> l(mu_);
  if (running_) return false;
  if (thread_.joinable()) thread_.join();  // the last pass's, ended
  running_ = true;
  phase_ = "connecting";
  started_millis_ = SystemClock::Get()->NowMillis();
  pushed_ = pulled_ = records_ = 0;
  behind_ = 0;
  // No hold on the idle lock: a pull may wait 30 minutes on a slow link,
  // past the idle time of an officer who walked away (attack review 88).
  // A pass whose keys went away meanwhile syncs locked and says so
  // (DaemonOptions::agent_open).
  thread_ = std::thread([this, o = std::move(office)]() mutable { Run(std::move(o)); });
  return true;
}

Json SyncRunner::Progress() const {
  std::lock_guard<std::mutex> l(mu_);
  return Json{{"running", running_},
              {"phase", running_ ? phase_ : std::string("idle")},
              {"started_millis", started_millis_},
              {"pushed", pushed_},
              {"pulled", pulled_},
              {"records", records_},
              {"behind", behind_},
              {"last", last_}};
}

void SyncRunner::Finish(bool ok, std::string key, std::vector<std::string> lines) {
  {
    std::lock_guard<std::mutex> l(mu_);
    running_ = false;
    last_ = Json{{"finished_millis", SystemClock::Get()->NowMillis()},
                 {"ok", ok},
                 {"key", std::move(key)},
                 {"lines", std::move(lines)}};
  }
}

void SyncRunner::Run(std::unique_ptr<ConsoleOffice> o) {
  const std::string dir = keys_.dir().path;
  // The hub's address and CA as `fieldnode sync` takes them: the
  // enrolment in the data directory (hub.conf, credential).
  auto cred = LoadCredential(dir);
  if (!cred.ok()) return Finish(false, "sync.err.failed", {std::string(cred.status().message())});
  auto client = ClientFor(o->hub, 0);
  if (!client.ok()) {
    return Finish(false, "sync.err.failed", {std::string(client.status().message())});
  }
  DaemonOptions options;
  options.seed = std::random_device{}();
  options.agent_open = [dir] { return AgentExpiry(dir).has_value(); };
  options.progress = [this](const SyncReport& r) {
    std::lock_guard<std::mutex> l(mu_);
    phase_ = "pulling";
    pushed_ = r.pushed;
    pulled_ = r.pulled;
    records_ = r.rows_installed;
    behind_ = r.log_head > r.cursor ? r.log_head - r.cursor : 0;
  };
  SyncDaemon daemon(*o->replica, *o->keys, **client, *cred, std::move(options), &stop_);
  const DaemonPassResult pass = daemon.Pass();
  std::vector<std::string> lines;
  if (pass.keys_forgotten) {
    lines.push_back("the key agent was locked: office keys forgotten, synced locked");
  }
  const auto& report = pass.report;
  if (!report.ok()) {
    // As `fieldnode sync` says it (FailHub), without its "fieldnode: ".
    lines.push_back(Printable(SV(report.status().message())));
    const char* key = pass.stopped ? "sync.err.stopped"
                      : pass.refused() ? "sync.err.refused"
                      : Retryable(report.status()) ? "sync.err.unreachable"
                                                   : "sync.err.failed";
    return Finish(false, key, std::move(lines));
  }
  // The lines of `fieldnode sync`, in its order.
  std::string said;
  WarnSkew(*report, &said);
  if (!report->notice.empty()) absl::StrAppend(&said, "hub: ", report->notice, "\n");
  ReportKeys(*report, *o->keys, "", &said);
  if (!report->push_refused.ok()) {
    absl::StrAppend(&said, "pulled, but the push was refused: ",
                    Printable(SV(report->push_refused.message())),
                    "\nThe refused commit and those after it stay on this laptop; nothing of "
                    "them was lost.\n");
  }
  ReportHistory(*report, "", &said);
  for (absl::string_view line : absl::StrSplit(said, '\n', absl::SkipEmpty())) {
    lines.emplace_back(line);
  }
  lines.push_back(absl::StrCat("synced: ", Describe(*report, pass.millis)));
  const bool whole = report->push_refused.ok();
  Finish(whole, whole ? "sync.ok" : "sync.partly", std::move(lines));
}

}  // namespace fieldsync::node::console
