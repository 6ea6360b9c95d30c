#include "store/row_scan.h"

#include "store/replica.h"

namespace fieldsync {

const Schema& ReplicaRowScan::schema() const { return replica_.schema(); }

absl::Status ReplicaRowScan::ScanRows(const std::string& table,
                                      const std::vector<std::string>& columns,
                                      bool include_deleted, const Visit& visit) {
  return replica_.ScanRows(table, columns, include_deleted, visit);
}

}  // namespace fieldsync
