// Refusals one commit at a time in a version 3 push (docs/PROTOCOL.md,
// "Refusals per commit and set-aside work"; issue 13, story 5). A commit the
// hub refuses for good (a row collected, outside the node's scope, a
// referral rule, a field that must be sealed) no longer refuses the push:
// it is refused alone, its header kept (hub/chain_admission.h), and every
// later commit of the push that does not need it is stored. A later commit
// that does need it (names a version it wrote, or writes a row it created)
// is refused DEPENDS_ON_REFUSED. The node sets the refused commits aside
// (sync/set_aside.h) instead of sending them for ever. A version 2 push keeps
// its rule: one refusal refuses the batch.
#ifndef FIELDSYNC_HUB_COMMIT_REFUSALS_H_
#define FIELDSYNC_HUB_COMMIT_REFUSALS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/commit.h"
#include "hub/storage.h"
#include "merge/commit_merge.h"
#include "sync/messages.h"

namespace fieldsync::hub {

// The refusal of `c` for `why` (an error of CheckBeforeMerge that set
// `code`), in one commit's words (the batch's are dropped).
sync::CommitRefusal RefusalOf(const Commit& c, sync::RefusalCode code, const absl::Status& why);

// CLOCK_AHEAD if `c` is stamped more than the skew limit past the hub's
// `clock` (the laptop's clock was ahead): refused alone, never stored, and
// re-dated by the laptop (sync/restamp.h). Judged before anything else of
// the hub's rules, so that every commit stamped ahead is named so.
std::optional<sync::CommitRefusal> ClockAhead(const HybridClock& clock, const Commit& c);

class CommitRefusals {
 public:
  // The pushing device's commits the hub refused before this push.
  static absl::StatusOr<CommitRefusals> Begin(HubWriteTxn& hub, const DeviceId& device);

  // Whether `c`, next in its author's sequence, needs one of its author's
  // refused commits: it names a version one wrote (a base or a version it
  // resolves), or, `waiting` for something the hub does not hold, writes a
  // row one created in this push, or comes after refused ones (what it waits
  // for can then only be theirs: every earlier commit of its author was
  // stored or refused) -- unless it names a version of another author that
  // the hub does not hold (`held` false): it waits for that author's commit
  // (one a hub put back from a backup lost, relayed later), not refused
  // here (ColleagueVersions says whether that commit will never come).
  std::optional<sync::CommitRefusal> DependsOnRefused(
      const Commit& c, bool waiting,
      const std::function<bool(const Version&)>& held = nullptr) const;

  // `c` refused with `r`: kept for the reply, and what it wrote for the
  // next commits' DependsOnRefused.
  void Add(const Commit& c, sync::CommitRefusal r);

  // Once merged: the commits of the push the hub had refused in an earlier
  // one (duplicates now; the node did not get that answer) named again, a
  // DEPENDS_ON_REFUSED one with the refused commit it needs (depends_on).
  void Repeat(const std::vector<Commit>& commits, const std::vector<ApplyOutcome>& outcomes);

  // Whether `seq` was refused COLLEAGUE_REFUSED in an earlier push; the
  // versions it names that will never come, judged again in this push's
  // transaction, for its Repeat (else a refusal named again names none:
  // attack review 27, MED 2).
  bool EarlierColleagueRefused(uint64_t seq) const;
  void NameAgain(const sync::CommitRefusal& judged);

  // Every refusal of the push, in seq order.
  std::vector<sync::CommitRefusal> Take();

 private:
  DeviceId device_;
  std::map<uint64_t, uint64_t> versions_;  // HLC written -> seq of the refused commit
  std::map<uint64_t, sync::RefusalCode> earlier_;  // seq -> code, refused before this push
  std::map<uint64_t, sync::CommitRefusal> named_again_;  // seq -> judged again
  std::map<std::pair<std::string, RowId>, uint64_t> created_;  // row -> seq that created it
  std::vector<sync::CommitRefusal> out_;
};

// A commit waiting for a colleague's version that will never come (attack
// review 24, L2): it names, as a base or a version it resolves, a version
// of another author the hub does not hold, and that author was revoked (its
// commits never land again, relayed or not), or its commit at or after that
// version (by HLC: one device's HLCs increase with its seq) is recorded
// refused for good at this hub. Left pending, it would stop its author's
// chain for good behind it (commits apply in seq order); refused
// COLLEAGUE_REFUSED instead, the colleague's device and refused commit named,
// so that its laptop sets it aside and its later work goes on. Every such
// version is named (never_coming), and, for a revoked author, the highest
// seq of its commits the hub holds (never_after): a restore may have lost
// several of its commits in a row on one field, and the laptop passes over
// them all (attack review 27, MED 1).
class ColleagueVersions {
 public:
  // The refusal of `c` if it waits so (nullopt: it may still come, e.g.
  // relayed by a colleague to a hub put back from a backup: `c` waits).
  absl::StatusOr<std::optional<sync::CommitRefusal>> NeverComing(
      HubWriteTxn& hub, const Commit& c, const std::function<bool(const Version&)>& held);

 private:
  struct Author {
    bool revoked = false;
    uint64_t held_seq = 0;  // revoked: the highest seq of its commits held
    // HLC of each refused commit -> (seq, code). A CLOCK_AHEAD one is
    // re-dated under a lower HLC: it stands for its own version only.
    std::map<uint64_t, std::pair<uint64_t, sync::RefusalCode>> refused;
  };
  absl::StatusOr<const Author*> AuthorOf(HubWriteTxn& hub, const DeviceId& device);
  std::map<DeviceId, Author> authors_;  // read once a push
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_COMMIT_REFUSALS_H_
