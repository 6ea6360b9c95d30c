// What a sync pass did, in the lines fieldnode sync and the daemon print.
#include "node/sync_lines.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/strings.h"
#include "base/terminal.h"
#include "sync/downgrade.h"

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
  for (const std::string& note : r.key_notes) {
    absl::StrAppendFormat(out, "%skeys: %s\n", prefix.c_str(), note.c_str());
  }
  if (r.key_records_refused > 0) {
    absl::StrAppendFormat(out, "%skeys: refused %llu key records from the hub (first: %s)\n",
                 prefix.c_str(), static_cast<unsigned long long>(r.key_records_refused),
                 Printable(r.key_refusal).c_str());
  }
  if (r.key_records_refused_by_hub > 0) {
    absl::StrAppendFormat(out, "%skeys: the hub refused %llu of this node's key records, set aside "
                 "(first: %s); they are sent again at the next syncs, approvals and removals "
                 "first (fieldnode device list shows them)\n",
                 prefix.c_str(), static_cast<unsigned long long>(r.key_records_refused_by_hub),
                 Printable(r.key_push_refusal).c_str());
  }
  (void)keys;
  // Not keys, but said where both fieldnode sync and the daemon say what
  // the hub refused: changes set aside (sync/set_aside.h).
  if (r.set_aside > 0) {
    absl::StrAppendFormat(out, "%sthe hub refused %llu of this laptop's changes for good (first: "
                          "%s); they are set aside, every other change was sent: run fieldnode "
                          "set-aside list\n",
                          prefix.c_str(), static_cast<unsigned long long>(r.set_aside),
                          Printable(r.set_aside_reason).c_str());
  }
  if (!r.withdrawal_note.empty()) {
    absl::StrAppendFormat(out, "%s%s\n", prefix.c_str(), Printable(r.withdrawal_note).c_str());
  }
  // Work stamped by a clock ahead (sync/restamp.h): re-dated, or why not yet.
  if (!r.redate_note.empty()) {
    absl::StrAppendFormat(out, "%s%s\n", prefix.c_str(), Printable(r.redate_note).c_str());
  }
}

void WarnSkew(const SyncReport& r, std::string* out) {
  // Which clock is wrong is not known here (a hub's clock may be wrong, or
  // the hub lying): said without presuming (attack review 80, MED 5).
  if (r.skew_millis > 120'000 || r.skew_millis < -120'000) {
    absl::StrAppendFormat(out,
                 "fieldnode: warning: this laptop's clock and the hub's differ by %lld s (%s "
                 "is ahead): check the date and time here; if they are right, tell the hub "
                 "administrator%s\n",
                 static_cast<long long>(std::llabs(r.skew_millis) / 1000),
                 r.skew_millis > 0 ? "this laptop's" : "the hub's",
                 r.skew_millis > 0 ? "; work stamped ahead of the hub's time is not taken by it"
                                   : "");
  }
}

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
  // The hub went back (docs/PROTOCOL.md, "A hub put back from a backup").
  if (r.hub_went_back) {
    absl::StrAppendFormat(out, "%shub: the hub's log went back from position %lld to %lld (a hub "
                          "restored from an older backup): this laptop pulled again from %lld; "
                          "what it already held was skipped\n",
                          prefix.c_str(), static_cast<long long>(r.went_back_from),
                          static_cast<long long>(r.went_back_to),
                          static_cast<long long>(r.went_back_to));
  }
  if (r.relayed > 0 || r.relayed_key_records > 0) {
    absl::StrAppendFormat(out, "%shub: relayed %llu changes and %llu key records of other laptops "
                          "to the hub, which had lost them\n",
                          prefix.c_str(), static_cast<unsigned long long>(r.relayed),
                          static_cast<unsigned long long>(r.relayed_key_records));
  }
  for (const std::string& note : r.relay_notes) {
    absl::StrAppendFormat(out, "%shub: %s\n", prefix.c_str(), Printable(note).c_str());
  }
  if (r.own_resent) {
    absl::StrAppendFormat(out, "%shub: the hub held this laptop's changes only up to %llu of the "
                          "%llu it had acknowledged (a hub restored from an older backup): the "
                          "rest was sent again\n",
                          prefix.c_str(), static_cast<unsigned long long>(r.own_held_seq),
                          static_cast<unsigned long long>(r.own_sent_seq));
  }
  if (r.downgraded_from > 0) {
    absl::StrAppendFormat(out, "%shistory: HUB DOWNGRADE: %s\n", prefix.c_str(),
                 Printable(sync::DowngradeLine(r.downgraded_from, r.protocol_version)).c_str());
  }
  for (size_t i = 0; i < r.chain.problems.size() && i < 5; ++i) {
    absl::StrAppendFormat(out, "%shistory: %s\n", prefix.c_str(), Printable(r.chain.problems[i]).c_str());
  }
  if (r.chain.rows_unvouched > 0) {
    absl::StrAppendFormat(out, "%shistory: %llu record(s) of a case newly referred to this office came "
                 "without the signed commits that wrote them: shown as the hub served them, "
                 "they decide no key and no office this laptop seals for\n", prefix.c_str(),
                 static_cast<unsigned long long>(r.chain.rows_unvouched));
  }
  if (r.chain.held > 0) {
    absl::StrAppendFormat(out, "%shistory: %llu commits of other laptops wait here until the "
                 "hub sends what comes before them; the rest of the sync went on\n", prefix.c_str(),
                 static_cast<unsigned long long>(r.chain.held));
  }
  // In a downgraded pass no header travels: its evidence is the downgrade.
  if (r.chain.new_evidence > 0 && r.downgraded_from == 0) {
    absl::StrAppendFormat(out, "%shistory: the hub showed this laptop a history its authors "
                 "did not sign as one (kept as evidence on this laptop): tell the hub "
                 "administrator and your office\n",
                 prefix.c_str());
  }
  if (r.chain.unacknowledged > 0) {
    absl::StrAppendFormat(out, "%shistory: %llu trust evidence item(s) not yet read by an officer "
                 "(fieldnode trust lists them; fieldnode trust ack once read)\n",
                 prefix.c_str(), static_cast<unsigned long long>(r.chain.unacknowledged));
  }
}

}  // namespace fieldsync::node
