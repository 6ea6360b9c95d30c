// What fieldsync-bench times: the cases written through a replica (one
// commit each) and the same rows INSERTed into plain SQLite; the commits
// merged into a second replica and the same values UPSERTed into plain
// SQLite; and the edits made and merged the same two ways. Each returns the
// seconds spent inside the timed calls only: building the input is not
// timed, for fieldsync and for SQLite alike.
#ifndef FIELDSYNC_TOOLS_BENCH_REPLICA_WRITES_H_
#define FIELDSYNC_TOOLS_BENCH_REPLICA_WRITES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "store/replica.h"
#include "tools/bench/common/case_data.h"
#include "tools/bench/common/raw_sqlite.h"
#include "tools/bench/common/timing.h"

namespace fieldsync::bench_replica {

using bench::CaseProfile;
using bench::Seconds;

// Every case names province kOffice, the office of the key ring that seals
// the crypto-on writes: a node writes the cases of its own office (the hub
// refuses others), and seals them under keys of that office.
inline constexpr char kOffice[] = "LC";

// The database files of a run, in one directory.
struct Files {
  std::string dir;
  std::string Path(const std::string& name) const { return dir + "/" + name; }
  // Removes a database and its WAL / shared-memory files.
  void Remove(const std::string& name) const;
};

absl::StatusOr<std::unique_ptr<Replica>> OpenReplica(const std::string& path, bool sync_full);

// The 15 values of case i (province kOffice).
std::vector<Value> OfficeCaseValues(int64_t i, CaseProfile profile);

// Creates the cases through the replica: one LocalTxn (one commit) per case,
// `batch` commits per WriteMany call.
absl::StatusOr<Seconds> TrackedInsert(Replica& r, const std::vector<RowId>& ids, int64_t batch,
                                      CaseProfile profile);

// The same rows through one prepared INSERT (or UPSERT) of plain SQLite,
// `batch` rows per transaction.
absl::StatusOr<Seconds> RawInsert(bench::RawDb& db, const std::vector<RowId>& ids, int64_t batch,
                                  bool upsert, CaseProfile profile);

// Edits on the writer (not timed): case i gets 3, 4 or 5 fields set.
absl::Status MakeEdits(Replica& r, const std::vector<RowId>& ids, int64_t batch);

// The edits as row UPSERTs of the changed columns (one prepared statement
// per column set), `batch` rows per transaction.
absl::StatusOr<Seconds> RawEdits(bench::RawDb& db, const std::vector<RowId>& ids, int64_t batch);

struct MergeRun {
  Seconds seconds;
  int64_t commits = 0;
  int64_t declared_fields = 0;  // field writes of declared columns
  int64_t live_fields = 0;      // writes of the implicit _live register
};

// Pulls the writer's commits with seq in (after_seq, after_seq + count]
// `batch` at a time (not timed) and applies each batch to `to` in one Apply
// call (timed), like a pull.
absl::StatusOr<MergeRun> Merge(Replica& from, Replica& to, uint64_t after_seq, int64_t count,
                               int64_t batch);

}  // namespace fieldsync::bench_replica

#endif  // FIELDSYNC_TOOLS_BENCH_REPLICA_WRITES_H_
