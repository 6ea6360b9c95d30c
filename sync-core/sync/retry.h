// The retry policy: which failures are worth trying again soon, which are
// the hub's verdict for good, and how long to wait between tries.
#ifndef FIELDSYNC_SYNC_RETRY_H_
#define FIELDSYNC_SYNC_RETRY_H_

#include <cstdint>
#include <random>
#include <string_view>

#include "absl/status/status.h"

namespace fieldsync::sync {

// Whether an error is worth retrying soon (the hub unreachable, a cut
// link, a deadline): UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED,
// RESOURCE_EXHAUSTED, CANCELLED by the link. Not INTERNAL or UNKNOWN: a
// hub's internal error is not mended by asking again at once (the daemon
// tries again at its next scheduled pass, sync/schedule.h); the transport
// reports a stream reset or a socket lost halfway, which gRPC gives as
// INTERNAL or UNKNOWN, as UNAVAILABLE (node/grpc_transport.h).
bool Retryable(const absl::Status& s);

// Whether the hub refused a commit for good (PERMISSION_DENIED: outside the
// scope, a collected record; INVALID_ARGUMENT: malformed): sending it again
// as it is cannot succeed. Only meaningful after a Hello that succeeded
// (the node is enrolled and not revoked).
bool PermanentRefusal(const absl::Status& s);

// A failed call as the user reads it: the link's failures (UNAVAILABLE,
// DEADLINE_EXCEEDED), which the transport has explained, and what the node
// found malformed in the hub's answer (DATA_LOSS), as they are; anything
// else is the hub's answer: "the hub refused CALL: ...", but for this
// laptop's own stop (IsOwnStop), as it is.
absl::Status Refused(std::string_view call, const absl::Status& s);

// This laptop's own stop (SIGTERM to the daemon) cancelling the call under
// way: CANCELLED with `message`, marked (a payload, kOwnStopPayload) so that
// neither the wording nor the budgets take it for the hub's answer or a cut
// of the link. The transport that cancels the call says so with it
// (node/grpc_transport.cc, CancelOnStop).
inline constexpr char kOwnStopPayload[] = "type.fieldsync/own-stop";
absl::Status OwnStop(std::string_view message);
bool IsOwnStop(const absl::Status& s);

// Exponential backoff with jitter, capped: the wait after `failures`
// retryable failures in a row is drawn in [b/2, b], b = min(cap, base *
// 2^(failures-1)). The randomness is the caller's (seeded in tests).
class Backoff {
 public:
  Backoff(int64_t base_millis, int64_t cap_millis) : base_(base_millis), cap_(cap_millis) {}
  int64_t WaitMillis(int failures, std::mt19937_64& rng) const;

 private:
  int64_t base_;
  int64_t cap_;
};

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_RETRY_H_
