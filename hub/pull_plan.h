// Pull planning: what a node is sent when it pulls (docs/PROTOCOL.md,
// "Pull", "Scope"), written once over one snapshot of the storage
// (hub/storage.h), whatever store keeps it:
//   - the registry if the node's copy differs, and the key records after
//     its key cursor that it may hold (office keys, erasures and membership
//     records for all; shares and office data keys of its office; grants to
//     its office, and grants to others of a record its office sees);
//   - a bootstrap (the current state of its scope, not its history) when it
//     is not bootstrapped, or missed a delete whose tombstone was collected;
//   - else the rows collected since its last pull, to drop; the records that
//     became visible to it since its cursor, whole; then the log after its
//     cursor trimmed to its scope (a commit's changes outside it are left
//     out and named by digest), its own commits skipped;
// cut into messages of at most `max_batch` items and about the node's byte
// budget (PullParams.max_message_bytes; the first messages of a call
// smaller, PullMessageBytes), never more than about 4 MiB;
// key records count among both.
#ifndef FIELDSYNC_HUB_PULL_PLAN_H_
#define FIELDSYNC_HUB_PULL_PLAN_H_

#include <cstddef>
#include <functional>

#include "absl/status/status.h"
#include "hub/storage.h"
#include "hub/store.h"

namespace fieldsync::hub {

// The bytes a message of this pull should stay under: the node's budget
// if it sent one, at most the hub's own size (tuning::kPullChunkBytes).
size_t PullMessageBytes(const PullParams& params);
// The bytes the message a pull sends after `sent` others should stay under:
// for a node that sent a budget, the first messages of every call are
// smaller, kPullRampFirstBytes doubling at each message up to the
// budget (docs/PROTOCOL.md, "Message budgets": a link that cuts the call
// before a whole budget came still carries the first messages, and the
// node sizes its next ones from what they carried, instead of a try that
// moves nothing); a node without one gets PullMessageBytes(params).
// A budget of kPullRampUpToBytes or less has no ramp: every message of the
// call may fill it. Such a budget comes from a link's measure (a share of
// what a cut call carried, or halvings after calls that moved nothing):
// the link carries it, and a ramp would only hold the first three messages
// of every call to one row each (session 28).
size_t PullMessageBytes(const PullParams& params, size_t sent);
inline constexpr size_t kPullRampFirstBytes = 1 << 10;
inline constexpr size_t kPullRampUpToBytes = 8 << 10;

// Streams `node`'s pull from `hub` to `emit`; CANCELLED when `emit` returns
// false (the node has gone). INVALID_ARGUMENT for a negative cursor,
// FAILED_PRECONDITION for a cursor past the log's end.
absl::Status StreamPull(HubReadTxn& hub, const DeviceId& hub_id, const NodeInfo& node,
                        const PullParams& params, const std::function<bool(PullChunk&)>& emit);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_PULL_PLAN_H_
