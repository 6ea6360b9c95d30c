// The lines fieldnode sync and fieldnode daemon print of a sync pass
// (stderr; every value from the hub or a replica escaped).
#ifndef FIELDSYNC_NODE_SYNC_LINES_H_
#define FIELDSYNC_NODE_SYNC_LINES_H_

#include <cstdint>
#include <string>

#include "node/client.h"
#include "store/keyring.h"

namespace fieldsync::node {

// "pushed 3, pulled 5 commits ..., at position P of H, N ms".
std::string Describe(const SyncReport& r, int64_t millis);
// The lines below are appended to `out`, each ending in a newline.
// What the key ring did and what the hub refused, each line after `prefix`.
void ReportKeys(const SyncReport& r, const KeyRing& keys, const std::string& prefix,
                std::string* out);
// A clock more than two minutes off the hub's.
void WarnSkew(const SyncReport& r, std::string* out);
// Protocol version 3: what the authors' commit chains showed (held
// commits, missing ranges, evidence), each line after `prefix`.
void ReportHistory(const SyncReport& r, const std::string& prefix, std::string* out);

// When the daemon tries again after a failed pass that waits `wait_millis`:
// "at once (it moved something)", "in 0.4 s" (tenths under a second),
// "in 12 s".
std::string NextTry(int64_t wait_millis);

// Whether a pass moved anything: commits, records or key records either
// way, a bootstrap, evidence found, a checkpoint adopted.
bool Moved(const SyncReport& r);

// The daemon's log of its passes: a pass that moved nothing and has
// nothing new to say (its lines are those printed last) is not logged,
// but for one line every `heartbeat_millis` saying the daemon is alive
// (a daemon syncing every few seconds once logged 400 lines in half an
// hour that said nothing). Failed passes follow the same rule (a link cut
// every 20 KB once logged every cut): a failure other than the last one
// printed is printed at once; the same failure again (the same words, its
// numbers aside) is counted, and printed only at the 2nd, 4th, 8th, ...
// pass in a row that failed so, or an hour after the last line, saying how
// many went unlogged; the first pass that succeeds after failures is
// printed, saying how many failed before it.
class PassLog {
 public:
  explicit PassLog(int64_t heartbeat_millis) : heartbeat_millis_(heartbeat_millis) {}
  // Whether to print the pass that ended at `now_millis`, which moved
  // something or not, with `lines` (what it would print but its timing).
  bool Take(bool moved, const std::string& lines, int64_t now_millis);
  // Whether to print a failed pass that ended at `now_millis`; `what`: its
  // failure in words (the status code and message, not the wait).
  bool TakeFailure(const std::string& what, int64_t now_millis);
  // Passes not printed since the last printed one (read before Take).
  uint64_t unlogged() const { return unlogged_; }
  // Failed passes not printed since the last printed line (read before
  // Take or TakeFailure).
  uint64_t failures_unlogged() const { return failures_unlogged_; }
  // Failed passes in a row before this one (read before Take: a recovery
  // says it).
  uint64_t failed_in_a_row() const { return failed_in_a_row_; }
  // What the next printed line adds of the passes not printed, read before
  // Take (" (N passes since the last line moved nothing)", " (after N
  // failed passes in a row, M of them not logged)") or TakeFailure (" (N
  // more failed passes like the last line not logged)"); "" if nothing.
  std::string OkSuffix() const;
  std::string FailureSuffix() const;

 private:
  int64_t heartbeat_millis_;
  int64_t last_millis_ = 0;
  bool any_ = false;
  std::string last_lines_;
  uint64_t unlogged_ = 0;
  std::string last_failure_;    // as printed last, numbers masked; "" after a success
  uint64_t same_in_a_row_ = 0;  // failed passes in a row with last_failure_
  uint64_t failures_unlogged_ = 0;
  uint64_t failed_in_a_row_ = 0;
};

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_SYNC_LINES_H_
