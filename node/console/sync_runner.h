// The console's "Đồng bộ ngay" (docs/CONSOLE.md, "The Sync page"): one
// sync pass through the node library's pass (node/daemon_loop.h,
// SyncDaemon::Pass, the pass of `fieldnode sync` and `fieldnode daemon`),
// run on a thread of its own so that no HTTP thread waits for the hub;
// one pass at a time; its progress and its outcome kept for the page to
// poll, the outcome in keyed lines (node/pass_lines.h: the CLI's lines,
// each with a key the page says in its catalogue's words).
#ifndef FIELDSYNC_NODE_CONSOLE_SYNC_RUNNER_H_
#define FIELDSYNC_NODE_CONSOLE_SYNC_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/json.h"
#include "node/console/keys.h"
#include "node/pass_lines.h"

namespace fieldsync::node::console {

class SyncRunner {
 public:
  explicit SyncRunner(KeyWatch& keys) : keys_(keys) {}
  ~SyncRunner();  // stops a pass under way (between batches) and waits for it

  // Starts a pass over `office` (opened unlocked by the request) unless one
  // runs: false then, and nothing is started. The keys count as in use
  // (no idle lock) until the pass ends.
  bool Start(std::unique_ptr<ConsoleOffice> office);

  // {running, phase, started_millis, pushed, pulled, records, behind, last}:
  // phase "connecting" until the hub's first answer, then "pulling";
  // `last` the outcome of the last pass since the console started (null if
  // none): {finished_millis, ok, key, lines}, key from the catalogue
  // (sync.ok, sync.partly, sync.err.unreachable, sync.err.refused,
  // sync.err.stopped, sync.err.failed), lines each {key, params, text}:
  // a sync.line.* key, its parameters (Printable) and the CLI's words.
  Json Progress() const;

 private:
  void Run(std::unique_ptr<ConsoleOffice> office);
  void Finish(bool ok, std::string key, std::vector<PassLine> lines);

  KeyWatch& keys_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::thread thread_;  // guarded by mu_
  bool running_ = false;
  std::string phase_;
  int64_t started_millis_ = 0;
  uint64_t pushed_ = 0, pulled_ = 0, records_ = 0;
  int64_t behind_ = 0;
  Json last_;  // null until a pass ended
};

}  // namespace fieldsync::node::console

#endif  // FIELDSYNC_NODE_CONSOLE_SYNC_RUNNER_H_
