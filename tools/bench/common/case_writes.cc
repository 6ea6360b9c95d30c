#include "tools/bench/common/case_writes.h"

#include <utility>

#include "base/status_macros.h"

namespace fieldsync::bench {

std::vector<LocalTxn> CaseTxns(const std::vector<RowId>& ids, size_t start, size_t end,
                               int64_t first, CaseProfile profile, const std::string& province) {
  std::vector<LocalTxn> txns(end - start);
  for (size_t k = start; k < end; ++k) {
    std::vector<Value> values = CaseValues(first + static_cast<int64_t>(k), profile, province);
    LocalTxn::Fields fields;
    fields.reserve(values.size());
    for (size_t c = 0; c < values.size(); ++c) {
      fields.emplace_back(kCaseColumns[c], std::move(values[c]));
    }
    txns[k - start].Create("cases", ids[k], std::move(fields));
  }
  return txns;
}

absl::StatusOr<int64_t> LiveCases(Replica& r) {
  FS_ASSIGN_OR_RETURN(ReplicaStats s, r.Stats());
  for (const auto& [table, n] : s.live_rows) {
    if (table == "cases") return static_cast<int64_t>(n);
  }
  return 0;
}

}  // namespace fieldsync::bench
