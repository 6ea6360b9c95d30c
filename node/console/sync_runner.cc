#include "node/console/sync_runner.h"

#include <random>
#include <utility>

#include "base/strings.h"
#include "clock/clock_source.h"
#include "node/agent.h"
#include "node/daemon_loop.h"
#include "node/setup.h"
#include "node/pass_lines.h"

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

void SyncRunner::Finish(bool ok, std::string key, std::vector<PassLine> lines) {
  Json said = Json::array();
  for (PassLine& l : lines) {
    Json params = Json::object();
    for (auto& [name, value] : l.params) params[name] = std::move(value);
    said.push_back(Json{{"key", std::move(l.key)}, {"params", std::move(params)},
                        {"text", std::move(l.text)}});
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    running_ = false;
    last_ = Json{{"finished_millis", SystemClock::Get()->NowMillis()},
                 {"ok", ok},
                 {"key", std::move(key)},
                 {"lines", std::move(said)}};
  }
}

void SyncRunner::Run(std::unique_ptr<ConsoleOffice> o) {
  const std::string dir = keys_.dir().path;
  // The hub's address and CA as `fieldnode sync` takes them: the
  // enrolment in the data directory (hub.conf, credential).
  auto cred = LoadCredential(dir);
  if (!cred.ok()) {
    return Finish(false, "sync.err.failed", {FailureLine(SV(cred.status().message()))});
  }
  auto client = ClientFor(o->hub, 0);
  if (!client.ok()) {
    return Finish(false, "sync.err.failed", {FailureLine(SV(client.status().message()))});
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
  std::vector<PassLine> lines;
  if (pass.keys_forgotten) lines.push_back(KeysForgottenLine());
  const auto& report = pass.report;
  if (!report.ok()) {
    // As `fieldnode sync` says it (FailHub), without its "fieldnode: ".
    lines.push_back(FailureLine(SV(report.status().message())));
    const char* key = pass.stopped ? "sync.err.stopped"
                      : pass.refused() ? "sync.err.refused"
                      : Retryable(report.status()) ? "sync.err.unreachable"
                                                   : "sync.err.failed";
    return Finish(false, key, std::move(lines));
  }
  // The lines of `fieldnode sync`, in its order, then its counts.
  for (auto part : {SkewLines(*report), NoticeLines(*report), KeyLines(*report),
                    RefusedPushLines(*report), HistoryLines(*report),
                    SummaryLines(*report, pass.millis)}) {
    for (PassLine& l : part) lines.push_back(std::move(l));
  }
  const bool whole = report->push_refused.ok();
  Finish(whole, whole ? "sync.ok" : "sync.partly", std::move(lines));
}

}  // namespace fieldsync::node::console
