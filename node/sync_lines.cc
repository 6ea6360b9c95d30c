// What a sync pass did, in the lines fieldnode sync and the daemon print.
#include "node/sync_lines.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "node/pass_lines.h"

namespace fieldsync::node {

std::string Describe(const SyncReport& r, int64_t millis) {
  return absl::StrCat("pushed ", r.pushed, r.push_duplicates ? absl::StrCat(
                                                                   " (+", r.push_duplicates,
                                                                   " already held)")
                                                             : "",
                      ", pulled ", r.pulled, " commits",
                      r.rows_installed ? absl::StrCat(" and ", r.rows_installed, " records")
                                       : "",
                      r.bootstrapped ? " (bootstrap)" : "",
                      r.tombstones_purged
                          ? absl::StrCat(", dropped ", r.tombstones_purged,
                                         " deleted records the hub collected")
                          : "",
                      ", at position ", r.cursor, " of ",
                      r.log_head, ", ", millis, " ms");
}

void ReportKeys(const SyncReport& r, const KeyRing& keys, const std::string& prefix,
                std::string* out) {
  (void)keys;
  AppendLines(KeyLines(r), prefix, out);
}

void WarnSkew(const SyncReport& r, std::string* out) { AppendLines(SkewLines(r), "", out); }

std::string NextTry(int64_t wait_millis) {
  if (wait_millis <= 0) return "at once (it moved something)";
  // Under a second in tenths, rounded up (before: "in 0 s"); from a
  // second on in whole seconds, as before (what the daemon's tests read).
  if (wait_millis < 1000) {
    return absl::StrCat("in 0.", std::min<int64_t>(9, (wait_millis + 99) / 100), " s");
  }
  return absl::StrCat("in ", wait_millis / 1000, " s");
}

bool Moved(const SyncReport& r) {
  return r.pushed > 0 || r.pulled > 0 || r.rows_installed > 0 || r.tombstones_purged > 0 ||
         r.bootstrapped || r.key_records_pushed > 0 || r.key_records_received > 0 ||
         r.chain.new_evidence > 0 || r.chain.released > 0 || r.chain.checkpoint_adopted ||
         r.set_aside > 0 || r.withdrawals_pushed > 0 || r.redated > 0 || r.hub_went_back ||
         r.own_resent || r.relayed > 0 || r.relayed_key_records > 0;
}

bool PassLog::Take(bool moved, const std::string& lines, int64_t now_millis) {
  const bool recovered = failed_in_a_row_ > 0;
  failed_in_a_row_ = 0;
  failures_unlogged_ = 0;
  last_failure_.clear();
  same_in_a_row_ = 0;
  const bool print = moved || recovered || !any_ || lines != last_lines_ ||
                     now_millis - last_millis_ >= heartbeat_millis_;
  if (!print) {
    ++unlogged_;
    return false;
  }
  any_ = true;
  last_lines_ = lines;
  last_millis_ = now_millis;
  unlogged_ = 0;
  return true;
}

std::string PassLog::OkSuffix() const {
  std::string out;
  if (unlogged_ > 0) {
    absl::StrAppend(&out, " (", unlogged_, " passes since the last line moved nothing)");
  }
  if (failed_in_a_row_ > 0) {
    absl::StrAppend(&out, " (after ", failed_in_a_row_,
                    failed_in_a_row_ == 1 ? " failed pass" : " failed passes", " in a row",
                    failures_unlogged_ > 0
                        ? absl::StrCat(", ", failures_unlogged_, " of them not logged")
                        : "",
                    ")");
  }
  return out;
}

std::string PassLog::FailureSuffix() const {
  if (failures_unlogged_ == 0) return "";
  return absl::StrCat(" (", failures_unlogged_,
                      failures_unlogged_ == 1 ? " more failed pass" : " more failed passes",
                      " like the last line not logged)");
}

bool PassLog::TakeFailure(const std::string& what, int64_t now_millis) {
  // Numbers (bytes sent, seconds, positions) do not make another failure.
  std::string masked;
  for (char c : what) {
    const bool digit = c >= '0' && c <= '9';
    if (!digit || masked.empty() || masked.back() != '#') masked.push_back(digit ? '#' : c);
  }
  ++failed_in_a_row_;
  const bool same = masked == last_failure_;
  same_in_a_row_ = same ? same_in_a_row_ + 1 : 1;
  const bool power_of_two = (same_in_a_row_ & (same_in_a_row_ - 1)) == 0;
  const bool print = !same || power_of_two || now_millis - last_millis_ >= heartbeat_millis_;
  last_failure_ = std::move(masked);
  if (!print) {
    ++failures_unlogged_;
    return false;
  }
  any_ = true;
  last_lines_.clear();
  last_millis_ = now_millis;
  failures_unlogged_ = 0;
  return true;
}

void ReportHistory(const SyncReport& r, const std::string& prefix, std::string* out) {
  AppendLines(HistoryLines(r), prefix, out);
}

}  // namespace fieldsync::node
