// Set-aside work, for fieldnode set-aside and fieldnode status (protocol
// version 3; docs/PROTOCOL.md, "Refusals per commit and set-aside work";
// sync/set_aside.h): this laptop's commits the hub refused for good, what
// each tried to do and why, and the officer's discard of one. Discarding
// records the decision; the next sync withdraws its seq (a signed entry of
// this laptop's chain) and the hub stops counting it.
#ifndef FIELDSYNC_NODE_OPS_SET_ASIDE_H_
#define FIELDSYNC_NODE_OPS_SET_ASIDE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/replica.h"

namespace fieldsync::node::ops {

struct SetAsideItem {
  uint64_t seq = 0;        // what fieldnode set-aside discard takes
  std::string code;        // "ROW_COLLECTED", ...
  std::string reason;      // the hub's words
  uint64_t depends_on = 0; // DEPENDS_ON_REFUSED: the set-aside commit it needs
  int64_t at_millis = 0;
  // What it wrote: "cases 0190abcd-…" per row, and "(held here)" for a row
  // this laptop still holds with that change in it.
  std::vector<std::string> rows;
  size_t rows_held = 0;
  bool discarded = false;
  bool withdrawn = false;  // the hub was told (a withdrawal pushed)
};

// Open items, or every one with `all`, by seq.
absl::StatusOr<std::vector<SetAsideItem>> ListSetAside(Replica& replica, bool all);
// The number of items not resolved yet (fieldnode status).
absl::StatusOr<size_t> OpenSetAside(Replica& replica);
// Discards item `seq` (NOT_FOUND, FAILED_PRECONDITION as
// Replica::DiscardSetAside). Returns the item as it was.
absl::StatusOr<SetAsideItem> DiscardSetAside(Replica& replica, uint64_t seq, int64_t now_millis);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_SET_ASIDE_H_
