// Who viewed what: the access log (schema version 3, table `access_log`).
//
// Each time a node opens a case's sealed fields for display or export it
// appends one entry: device, officer, case, when, what for, which fields.
// The entries of one device form a chain: entry `seq` = n carries the
// entry_hash of entry n-1 in prev_hash, and its own entry_hash covers
// prev_hash and every field of the entry. Entries sync to the hub like any
// other record (they are signed commits of the device); `fieldhub audit`
// verifies every chain and reports a gap, a fork, a deleted or an edited
// entry. Format (version 1), in docs/FORMATS.md, "Access log":
//
//   entry_hash = hex(BLAKE2b-256(
//       "fieldsync access log v1" 0x00
//       || field(device 16 bytes) || field(officer) || field(case_id 16 bytes)
//       || u64be(at) || field(action) || field(fields) || u64be(seq)
//       || field(province) || field(prev_hash)))
//   field(x) = u32be(len(x)) || x;  prev_hash of seq 1 is "" (empty).
#ifndef FIELDSYNC_STORE_ACCESS_LOG_H_
#define FIELDSYNC_STORE_ACCESS_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "store/replica.h"
#include "store/row_scan.h"

namespace fieldsync {

struct AccessEntry {
  RowId id;
  bool live = true;
  DeviceId device;
  std::string officer;
  RowId case_id;
  int64_t at_millis = 0;
  std::string action;  // show, search, export, edit
  std::string fields;  // table.column joined by ','
  int64_t seq = 0;
  std::string prev_hash;
  std::string entry_hash;
  std::string province;
};

// The entry_hash an entry must carry (hex, 64 characters).
std::string AccessEntryHash(const AccessEntry& e);

// Appends an entry for `replica`'s device, chained to its previous one, in
// one signed commit. Appends of several processes of one device are
// serialised by a lock file beside the replica, so a chain never forks.
absl::StatusOr<AccessEntry> AppendAccess(Replica& replica, const std::string& province,
                                         const std::string& officer, const RowId& case_id,
                                         const std::string& action, const std::string& fields,
                                         int64_t at_millis);

struct AccessRequest {
  RowId case_id;
  std::string action;
  std::string fields;
};

// Several entries in one signed commit, chained in order: all or none.
absl::StatusOr<std::vector<AccessEntry>> AppendAccessMany(Replica& replica,
                                                          const std::string& province,
                                                          const std::string& officer,
                                                          const std::vector<AccessRequest>& reqs,
                                                          int64_t at_millis);

// Every entry `rows` hold (a replica's, or the hub's on either store),
// deleted ones included (live = false), ordered by device then seq.
absl::StatusOr<std::vector<AccessEntry>> ReadAccessLog(RowScan& rows);
// The same of a replica, in one read transaction.
absl::StatusOr<std::vector<AccessEntry>> ReadAccessLog(Replica& replica);

struct ChainProblem {
  DeviceId device;
  int64_t seq = 0;       // the entry concerned (0: the chain as a whole)
  std::string problem;   // one line: what is wrong
};

// Checks every device's chain: seq from 1 without gaps or repeats, each
// prev_hash the entry_hash of the entry before, each entry_hash right, no
// entry deleted. Empty when every chain is whole.
std::vector<ChainProblem> VerifyAccessChains(const std::vector<AccessEntry>& entries);

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_ACCESS_LOG_H_
