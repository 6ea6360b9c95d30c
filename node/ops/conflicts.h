// Conflicts: fields two people changed while apart. Each open one shows
// both values, who wrote them and when; resolving writes the value kept (or
// a new one), which syncs like any change.
#ifndef FIELDSYNC_NODE_OPS_CONFLICTS_H_
#define FIELDSYNC_NODE_OPS_CONFLICTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/ops/office.h"

namespace fieldsync::node::ops {

struct ConflictLine {
  std::string table;
  RowId row;
  std::string case_code;  // of the case the record belongs to; "" if none
  std::string field;
  std::string current, current_by;  // the value in place ("(deleted)"), "lc2 (LC) at TIME"
  std::string other, other_by;      // the value that lost
  // The same, apart, for a front end that says them in its own words: each
  // value's state (kLocked: masked, the keystore is locked), its writer
  // (DeviceName) and its time (the version's wall clock, ms; 0 unknown).
  State current_state = State::kClear, other_state = State::kClear;
  std::string current_device, other_device;
  int64_t current_millis = 0, other_millis = 0;
};
struct ConflictList {
  std::vector<ConflictLine> conflicts;
  bool masked = false;  // a sealed value is masked: the keystore is locked
};
// Every open conflict; opening a case's sealed value is recorded in the
// access log (as `access`) before this returns.
absl::StatusOr<ConflictList> ListConflicts(const Office& o, Access access);

enum class Keep { kCurrent, kOther, kValue };
struct ConflictResolution {
  std::string row_ref;  // a case code, or the id (or its start) of any record
  std::string field;    // with a case code, a field of its person too
  Keep keep = Keep::kCurrent;
  std::string value;    // kValue: the value to write, as typed
};
struct ResolvedConflict {
  std::string table;
  RowId row;
  std::string field;
};
// NOT_FOUND if the field has no open conflict; kOther needs exactly one
// other value; a sealed value kept must open here.
absl::StatusOr<ResolvedConflict> ResolveConflict(const Office& o, const ConflictResolution& in);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_CONFLICTS_H_
