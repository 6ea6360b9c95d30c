// fieldsync-bench's local writes with encryption and signatures on: a
// replica whose key ring signs every commit and seals every sensitive field,
// the key ring unlocked locally or by a key agent this program starts; and
// the time of one signature, locally and through the agent.
#ifndef FIELDSYNC_TOOLS_BENCH_REPLICA_CRYPTO_WRITES_H_
#define FIELDSYNC_TOOLS_BENCH_REPLICA_CRYPTO_WRITES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "tools/bench/replica/settings.h"
#include "tools/bench/replica/writes.h"

namespace fieldsync::bench_replica {

// What the crypto-on writes left behind, checked once the timing is over.
struct CryptoWrites {
  Seconds seconds;
  int sensitive_columns = 0;     // of the 15 written, by the schema
  int sealed_per_case = 0;       // stored sealed, in every sampled case
  int64_t data_key_records = 0;  // kind 5 records, one per case expected
  int64_t office_records = 0;    // office key and its share (kinds 1, 2)
  size_t sealed_bytes = 0;       // sealed fields of case 0, stored
  size_t clear_bytes = 0;        // the same values in clear
};

// A fresh replica at `path` with a key ring of office kOffice, unlocked with
// a new device identity and installed: every commit of a local write is then
// signed and every sensitive field sealed, with a data key (and its key
// record) made on the first sealed write of each case. Setting this up is
// not timed; the writes are timed exactly as TrackedInsert times them.
// Checks afterwards (not timed): every case is live, each sampled case has
// its sensitive fields stored sealed and opening to the values written, its
// commit carries a signature, and there is one data key record per case.
// With `agent_dir`, the key ring is unlocked by a key agent started there:
// every signature is made by it.
absl::StatusOr<CryptoWrites> CryptoInsert(const std::string& path, bool sync_full,
                                          const std::vector<RowId>& ids, int64_t batch,
                                          CaseProfile profile, const std::string& agent_dir = "");

// Prints the time of one signature of a case's commit (as the crypto-on
// writes make them: 15 fields of one new row), locally and through the key
// agent (started in files' "agent"), and of verifying one (which the
// agent's client does on every signature).
absl::Status SignOnce(const Settings& s, const Files& files);

}  // namespace fieldsync::bench_replica

#endif  // FIELDSYNC_TOOLS_BENCH_REPLICA_CRYPTO_WRITES_H_
