// What a pass's report may say in the simulation (World::JudgePass): the
// failures and refusals a schedule's conditions explain, and what is a
// defect whatever the daemon would do next.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sim/world.h"
#include "sync/protocol.h"
#include "sync/report.h"

namespace fieldsync::sim {
namespace {

// Whether the push of pass `r` stopped at a refusal of work the hub had
// acknowledged, not believed yet (sync/pusher.cc: "not set aside on its
// word") and not another refusal, and the hub's code for it, as the pass
// said it in its problems, is one gc explains.
bool DoubtedRefusalGcExplains(const sync::SyncReport& r) {
  const std::string refused = "the hub refused commit ";
  const std::string doubted =
      " of this laptop, which it had acknowledged stored: not set aside on its word";
  const std::string said(r.push_refused.message());
  if (r.push_refused.code() != absl::StatusCode::kPermissionDenied ||
      said.rfind(refused, 0) != 0) {
    return false;
  }
  const size_t end = said.find(doubted);
  if (end == std::string::npos) return false;
  const std::string problem =
      refused + said.substr(refused.size(), end - refused.size()) + " of this laptop (";
  for (const std::string& p : r.chain.problems) {
    if (p.rfind(problem, 0) != 0) continue;
    std::string code = p.substr(problem.size());
    code = code.substr(0, code.find(':'));
    for (int c = 1; c <= static_cast<int>(sync::RefusalCode::kColleagueRefused); ++c) {
      if (code == sync::RefusalCodeName(static_cast<sync::RefusalCode>(c))) return ExplainedByGc(c);
    }
    return false;
  }
  return false;
}

}  // namespace

absl::Status World::JudgePass(const Laptop& l, const absl::StatusOr<sync::SyncReport>& r,
                              bool liveness) {
  // A clock beyond the tolerance stops passes with FAILED_PRECONDITION
  // (the hub or a laptop refuses a batch whose time is too far ahead): the
  // field issue's to settle; allowed where such a clock runs.
  auto for_the_clock = [&](const absl::Status& s) {
    return shape_.far_off_laptops > 0 && s.code() == absl::StatusCode::kFailedPrecondition &&
           absl::StrContains(s.message(), "ahead of this machine's clock");
  };
  if (!r.ok()) {
    if (for_the_clock(r.status())) {
      ++clock_refusals_;
      return absl::OkStatus();
    }
    // A pull answer of an earlier call, or one delivered twice, may be
    // refused (whatever the words); what it did is judged by the
    // invariants, and by the liveness phase, where no link does it.
    if (!liveness && l.fed_stale) {
      if (stale_pull_refusals_++ == 0) stale_refusal_ = std::string(r.status().message());
      return absl::OkStatus();
    }
    // A bad link fails a pass with UNAVAILABLE (the loopback's faults) or
    // ABORTED (commits waiting for ones not held yet); anything else is a
    // defect, even if the daemon would retry it.
    if (!liveness && (r.status().code() == absl::StatusCode::kUnavailable ||
                      r.status().code() == absl::StatusCode::kAborted)) {
      return absl::OkStatus();
    }
    return absl::Status(r.status().code(),
                        absl::StrCat(l.name, "'s pass failed, ",
                                     liveness ? "on a good link: " : "not as a bad link fails: ",
                                     r.status().message()));
  }
  if (!r->push_refused.ok()) {
    // Refused and reported: the commits stay on the laptop, unpushed.
    if (for_the_clock(r->push_refused)) {
      ++clock_refusals_;
      return absl::OkStatus();
    }
    // A hub put back lost commits these need: colleagues relay them (the
    // invariants after liveness say whether that healed).
    if (restores_ > 0 && sync::WaitsForLostCommits(r->push_refused)) return absl::OkStatus();
    // A hub put back from a backup, then collecting, refuses for good work
    // it had acknowledged before it lost it (a row deleted and collected
    // since: docs/PROTOCOL.md, "An acknowledged high-water mark"): the
    // laptop believes it only at the third pass in a row and sets it aside
    // then; CheckSetAside says whether gc explains what was set aside
    // (seeds 17476977506319850681, 1285071755999644630). Only that
    // refusal: the push stopped at it (no other refusal said), for a code
    // gc explains, and the hub collected after it was put back (before, it
    // held the acknowledged work it would refuse) (attack review 27, G-LOW 2).
    if (collected_after_restore_ > 0 && r->refused_below_acknowledged > 0 &&
        DoubtedRefusalGcExplains(*r)) {
      return absl::OkStatus();
    }
    return absl::Status(r->push_refused.code(), absl::StrCat("the hub refused ", l.name,
                                                             "'s work: ",
                                                             r->push_refused.message()));
  }
  // A clock ahead no longer stops the pass: the hub refuses the commits
  // stamped ahead alone (CLOCK_AHEAD), the pass pulls and says why they wait.
  if (shape_.far_off_laptops > 0 && absl::StrContains(r->redate_note, "ahead of the hub's")) {
    ++clock_refusals_;
  }
  return absl::OkStatus();
}

}  // namespace fieldsync::sim
