// Every tunable of sync-core in one commented place. Changing one of these
// changes behaviour, not formats.
#ifndef FIELDSYNC_BASE_TUNING_H_
#define FIELDSYNC_BASE_TUNING_H_

#include <cstddef>
#include <cstdint>

namespace fieldsync::tuning {

// A remote HLC more than this far ahead of the local wall clock is refused.
// Five minutes tolerates unsynchronised laptop clocks and rejects wrong dates.
inline constexpr int64_t kDefaultMaxClockSkewMillis = 5 * 60 * 1000;

// The largest text or bytes value of one field (a long interview note fits).
inline constexpr size_t kMaxValueBytes = 256 * 1024;

// Rows whose clear values from before schema version 4 one sync pass
// rewrites sealed (store/legacy_seal.h): the rest at the next passes, so a
// pass over a bad link stays small.
inline constexpr size_t kLegacySealRowsPerPass = 500;

// Key records the hub refused (set aside: store/keyring.h, MarkRefused)
// that one sync pass sends again, approvals and removals first, then those
// refused longest ago: a hub fixed since takes them, and one that still
// refuses costs a pass at most this many single-record pushes.
inline constexpr size_t kKeyRecordsResentPerPass = 16;

// The most row changes in one commit, and field writes in one row change.
inline constexpr size_t kMaxRowChangesPerCommit = 10000;
inline constexpr size_t kMaxFieldsPerRowChange = 256;
// The most versions one field write may resolve (the field's open conflicts).
inline constexpr size_t kMaxResolvesPerField = 1024;
// The largest encoded commit accepted by the decoder.
inline constexpr size_t kMaxEncodedCommitBytes = 64 * 1024 * 1024;

// Partial-row UPDATE statements kept prepared per table (one per set of
// changed columns); further combinations are prepared for the call only.
inline constexpr size_t kMaxCachedUpdateStatements = 64;

// SQLite: how long a writer waits for another connection's lock.
inline constexpr int kBusyTimeoutMillis = 5000;
// SQLite page cache per connection, in KiB (negative cache_size).
inline constexpr int kCacheSizeKiB = 64 * 1024;

// Bytes of commits a push call carries (sync/pusher.h), well under the
// 16 MiB message limit; and commits read for one call.
inline constexpr size_t kPushBytesPerCall = 4 << 20;
inline constexpr size_t kPushCommitsPerCall = 500;

// The sync daemon (sync/schedule.h): the first wait after a retryable
// failure (doubling up to --max-backoff, with jitter), how often its wait
// looks for a stop, and how often for an urgent commit written meanwhile.
inline constexpr int64_t kSyncBackoffBaseMillis = 2000;
inline constexpr int64_t kDaemonStopPollMillis = 100;
inline constexpr int64_t kDaemonUrgentPollMillis = 1000;

// Protocol version 3: a laptop signs a statement of what it has seen at the
// end of a sync pass at most this often (and so at least daily while it
// syncs); colleagues warn when one is a week old.
inline constexpr int64_t kStatementIntervalMillis = 60 * 60 * 1000;

}  // namespace fieldsync::tuning

#endif  // FIELDSYNC_BASE_TUNING_H_
