// The node's side of signed statements of what each laptop has seen
// (protocol version 3; docs/PROTOCOL.md, "Statements"; issue 11 point 3).
// Fork consistency, as in SUNDR: a hub that shows two laptops different
// histories must keep them apart for good, and each statement that crosses
// between them exposes it.
//
// - Take: a statement the hub relays is kept only if its signer is, by this
//   laptop's own membership records, a member of the office it names (this
//   laptop's, or a referral partner's), it is signed by the key pinned here
//   for that device, and it was not made in the future.
// - Compare: for each head (X, s, L) a kept statement names, if this laptop
//   holds X's entry s its link must be L (else evidence: two histories). If
//   it is behind on a tracked author, the next pull asks the hub for X's
//   entries up to s (PullParams.chain_wants); an entry still missing after
//   a pull that asked for it and ended caught up is evidence that the hub
//   withholds it, whatever position the statement names (a position past
//   this laptop's head means the hub numbered its log ahead for the signer:
//   it shows the two laptops two logs).
// - A colleague's statement older than a week is a warning: the colleague
//   has not synced, or the hub withholds its statements.
// - MakeIfDue: this laptop's own statement, at most once an interval.
#ifndef FIELDSYNC_SYNC_STATEMENT_KEEPER_H_
#define FIELDSYNC_SYNC_STATEMENT_KEEPER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clock/clock_source.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sync/report.h"

namespace fieldsync::sync {

class StatementKeeper {
 public:
  StatementKeeper(Replica& replica, KeyRing& keys, ClockSource& clock)
      : replica_(replica), keys_(keys), clock_(clock) {}

  // Checks the statements of one pull message; those kept go to `batch`
  // (stored with the message), the others are said in `report`.
  void Take(const std::vector<std::string>& statements, PulledBatch* batch, ChainReport* report);

  struct Comparison {
    // Tracked authors this laptop is behind on, and the seq a statement
    // names: what the next pull asks for.
    std::vector<std::pair<DeviceId, uint64_t>> wants;
  };
  // Compares every statement held with this laptop's chains (of signers
  // still members); new evidence is stored and counted in `report`.
  // `asked`: the wants the pull just made sent (it ended caught up at
  // `cursor`); an entry one of them covers that is still missing is
  // evidence that the hub withholds it. Null: no pull asked yet.
  absl::StatusOr<Comparison> Compare(int64_t cursor,
                                     const std::vector<std::pair<DeviceId, uint64_t>>* asked,
                                     ChainReport* report);

  // This laptop's own statement (signed: the key ring must be unlocked) if
  // none was made in the last `interval_millis`, or if `checkpoint`; none
  // otherwise. `hub_id`: the hub it describes. With `checkpoint`, a
  // statement of kind 2 with the root of every row held
  // (sync/checkpoint_keeper.h): the caller makes sure this laptop is caught
  // up with nothing of its own unpushed and nothing held.
  absl::StatusOr<std::optional<std::string>> MakeIfDue(const DeviceId& hub_id,
                                                       int64_t interval_millis,
                                                       bool checkpoint = false);
  // Records that the statement was handed to the hub.
  absl::Status Made();

 private:
  Replica& replica_;
  KeyRing& keys_;
  ClockSource& clock_;
  int64_t making_ = 0;  // when the statement MakeIfDue returned was made
};

// Lines for `fieldnode status` and the daemon's log: colleagues whose newest
// statement is over a week old, and, with `lone`, an office of one laptop
// (nobody to compare with). Read-only; needs no unlocking.
absl::StatusOr<std::vector<std::string>> StatementWarnings(Replica& replica, KeyRing& keys,
                                                          int64_t now_millis, bool lone = true);

// Cursor names (docs/FORMATS.md): how far the node holds the statements the
// hub relays, and when it last made its own (Unix ms).
inline constexpr char kStatementCursor[] = "hub:statements";
inline constexpr char kStatementMadeCursor[] = "hub:statement_made";

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_STATEMENT_KEEPER_H_
