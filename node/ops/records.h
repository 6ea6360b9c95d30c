// The node library: one record of any table as this laptop holds it
// (`fieldnode show`), and crypto-shredding a case (`fieldnode erase`):
// every key of the case, of its referrals' letters and of its person
// destroyed here, and at the hub and every node once synced.
#ifndef FIELDSYNC_NODE_OPS_RECORDS_H_
#define FIELDSYNC_NODE_OPS_RECORDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/ops/office.h"

namespace fieldsync::node::ops {

// A record's fields that hold a value (a sealed absent value counts as
// none), each opened if sealed and the keystore is unlocked.
struct Record {
  std::string table;
  RowId id;
  bool live = true;
  struct Field {
    std::string column;
    OpenedField field;
  };
  std::vector<Field> fields;
  bool masked = false;  // a sealed field was not opened: the keystore is locked
};

// The schema's table `table`; MalformedValue naming where the tables are
// listed otherwise.
absl::StatusOr<const TableDef*> RecordTable(const Office& o, const std::string& table);

// The record `id` of `table` (deleted ones too); NOT_FOUND if this node
// holds none. Opening a case's sealed fields is recorded in the access log
// (`access`: shown or exported) before they are returned.
absl::StatusOr<Record> ReadRecord(const Office& o, const std::string& table, const RowId& id,
                                  Access access);

// What an erasure did: the case, and its person's keys (erased with it
// unless other live cases name the same person).
struct Erasure {
  RowId case_id;
  bool person_erased = false;
  int64_t person_other_cases = 0;  // why the person's keys were kept
  bool has_person = false;
};

// Destroys the keys of the case `ref` names (its exact case code in any
// letter case or its whole id; never the start of an id, as erasure cannot
// be undone):
// the case's, its referrals' letters', and its person's unless another live
// case names them. Only the owning office, unlocked. NOT_FOUND saying how to
// name a case; PERMISSION_DENIED for another office's case.
absl::StatusOr<Erasure> EraseCase(const Office& o, const std::string& ref);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_RECORDS_H_
