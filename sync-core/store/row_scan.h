// Reading a table's rows, whatever holds them: a replica (a laptop's, or
// the hub's hub.db) or the hub's rows on PostgreSQL (hub/pg/views.h). What
// reads a replicated table for people -- the access log's chains
// (store/access_log.h), the anonymised report (report/report.h) -- reads it
// through this, so that `fieldhub audit` and `fieldhub report` give the same
// answer on both hub stores.
#ifndef FIELDSYNC_STORE_ROW_SCAN_H_
#define FIELDSYNC_STORE_ROW_SCAN_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "change/id.h"
#include "change/value.h"
#include "schema/schema.h"

namespace fieldsync {

class Replica;

class RowScan {
 public:
  // A row: its id, whether it is live (its liveness register holds 1),
  // and the values of the columns asked, in that order (NULL for a value
  // never written; a deleted row's cleared values are NULL too).
  using Visit =
      std::function<absl::Status(const RowId& id, bool live, const std::vector<Value>& values)>;

  virtual ~RowScan() = default;
  virtual const Schema& schema() const = 0;
  // Calls `visit` for every row of `table` (deleted ones too if
  // `include_deleted`), in id order (bytes), with the values of `columns`
  // as stored (a sealed column gives its envelope); stops at the first
  // error `visit` returns. INVALID_ARGUMENT for an unknown table or column.
  virtual absl::Status ScanRows(const std::string& table, const std::vector<std::string>& columns,
                                bool include_deleted, const Visit& visit) = 0;
};

// A replica's rows (Replica::ScanRows). Several scans see one state of the
// file only inside the replica's ReadTransaction().
class ReplicaRowScan final : public RowScan {
 public:
  explicit ReplicaRowScan(Replica& replica) : replica_(replica) {}
  const Schema& schema() const override;
  absl::Status ScanRows(const std::string& table, const std::vector<std::string>& columns,
                        bool include_deleted, const Visit& visit) override;

 private:
  Replica& replica_;
};

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_ROW_SCAN_H_
