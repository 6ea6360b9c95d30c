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
#include "node/ops/office.h"
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
  // After a discard or keep: fields here that still show it (their earlier
  // value is not held here: a record installed whole from the hub).
  size_t fields_left = 0;
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

// A record `keep` wrote.
struct KeptRecord {
  std::string table;  // "cases" or "persons"
  RowId row;
  bool created = false;  // a new record (else the change written again as an edit)
  std::string code;      // a case's code (its new one when created)
  std::string was;       // a created case: the code of the case it replaces, if known
};
struct KeptSetAside {
  SetAsideItem item;  // as it was, with fields_left
  std::vector<KeptRecord> records;
};
// The officer's keep of item `seq` (fieldnode set-aside keep): what it tried
// to do is written again, in one new commit signed and sealed as any write,
// and the item is resolved as a discard is (the next sync withdraws it), in
// one transaction. A record it wrote that this laptop no longer holds (a
// case deleted and collected at the hub) becomes a NEW record with a new id:
// every field this laptop last knew of it (its row, else its commits in the
// log) with the change on top, a new case code, this office's province, and
// a new person only if the change wrote the person too (else it names the
// same person, who must be held here). A record still held is written the
// change again as an edit. Case files only (cases, persons). Refused,
// nothing changed: not set aside (NOT_FOUND), resolved already, waiting to
// be re-dated (CLOCK_AHEAD), a delete, another table, a case whose keys
// were erased or a value that does not open here (FAILED_PRECONDITION), a
// locked keystore.
absl::StatusOr<KeptSetAside> KeepSetAside(const Office& o, uint64_t seq);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_SET_ASIDE_H_
