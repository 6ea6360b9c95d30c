// The case rows of case_data.h as replica writes: a batch of LocalTxns
// creating cases, and the count of live cases a replica holds afterwards.
#ifndef FIELDSYNC_TOOLS_BENCH_COMMON_CASE_WRITES_H_
#define FIELDSYNC_TOOLS_BENCH_COMMON_CASE_WRITES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "store/replica.h"
#include "tools/bench/common/case_data.h"

namespace fieldsync::bench {

// One LocalTxn (one commit) per case for ids[start, end): case ids[k] is
// case number first + k, with the 15 values of CaseValues(first + k,
// profile, province).
std::vector<LocalTxn> CaseTxns(const std::vector<RowId>& ids, size_t start, size_t end,
                               int64_t first, CaseProfile profile, const std::string& province);

// Live rows of `cases` in `r`.
absl::StatusOr<int64_t> LiveCases(Replica& r);

}  // namespace fieldsync::bench

#endif  // FIELDSYNC_TOOLS_BENCH_COMMON_CASE_WRITES_H_
