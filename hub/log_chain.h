// The hub's log chain (docs/PROTOCOL.md, "A hub put back from a backup"):
// every position of the hub's log hashed with the one before it, so that a
// laptop that kept the hash of where it pulled to notices a hub whose log
// went back -- restored from an older backup, however it was restored (a
// copied file, `fieldhub restore`) -- even once the hub's log has grown
// past the laptop's cursor again, and finds where the two still agree.
//
//   hash(0) = BLAKE2b-256("fieldsync hub log v1" 0x00 || hub id)
//   hash(p) = BLAKE2b-256("fieldsync hub log v1" 0x00 || u64be(p) || hash(p-1)
//                         || author (16) || u64be(seq)
//                         || BLAKE2b-256(canonical commit || signature))
//
// The hub's log positions are never reused nor removed, so p-1 is the
// entry before. Not a defence against a malicious hub, which can compute
// any chain it likes: the signed commit chains are. It tells the laptops of
// an honest hub what the hub lost, so that they send it again.
#ifndef FIELDSYNC_HUB_LOG_CHAIN_H_
#define FIELDSYNC_HUB_LOG_CHAIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "hub/storage.h"
#include "sync/messages.h"

namespace fieldsync::hub {

std::string LogHashZero(const DeviceId& hub_id);
std::string NextLogHash(const std::string& before, const LogEntry& e);

// Hashes every log entry after the last one hashed (all of them in a file
// of a schema before the chain), in the caller's write transaction.
absl::Status ExtendLogChain(HubWriteTxn& hub, const DeviceId& hub_id);

// The chain's hash at `position` (0 included); none past the log's end.
absl::StatusOr<std::optional<std::string>> LogHashAt(HubReadTxn& hub, const DeviceId& hub_id,
                                                     int64_t position);

// Whether the hub's log went back under a node at `cursor` that sent
// `marks` (sync::PullParams): its cursor past the log's end, or the hash
// at its cursor not the one it was given. Then where the pull goes on: the
// newest mark whose hash the log still has, else 0. INVALID_ARGUMENT for
// marks over kMaxLogMarks or of a wrong size.
absl::StatusOr<std::optional<sync::LogWentBack>> FindWentBack(
    HubReadTxn& hub, const DeviceId& hub_id, int64_t cursor,
    const std::vector<sync::LogMark>& marks, int64_t head);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_LOG_CHAIN_H_
