// The sync protocol's version and limits (docs/PROTOCOL.md), shared by every
// transport: the gRPC one of node/ and hub/, and the in-process loopback of
// the simulation. Changing a limit here changes what peers accept.
#ifndef FIELDSYNC_SYNC_PROTOCOL_H_
#define FIELDSYNC_SYNC_PROTOCOL_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace fieldsync::sync {

// The protocol this build speaks (fieldsync.v1.ProtocolVersion; frozen
// values: 1 the first, 2 signed commits and key records).
inline constexpr int kProtocolVersion = 2;
// The versions this build speaks: a node says 2 in its Hello (so that a
// version 2 hub answers) and the highest it speaks beside it; the hub
// answers the highest both speak, which the node's later calls carry.
// Version 3 adds commit headers and chains (docs/PROTOCOL.md).
inline constexpr int kMinProtocolVersion = 2;
inline constexpr int kMaxProtocolVersion = 3;

// Limits of docs/PROTOCOL.md.
inline constexpr int kMaxMessageBytes = 16 << 20;
inline constexpr int kMaxPushCommits = 2000;
inline constexpr int kMaxPushKeyRecords = 10000;
// Withdrawal entries a push may carry (version 3).
inline constexpr int kMaxPushWithdrawals = 8;
inline constexpr int kDefaultPullBatch = 2000;
inline constexpr int kMaxPullBatch = 10000;
// The chain heads a pull may name (version 3).
inline constexpr int kMaxChainHeads = 4096;
// The log marks a pull may carry (version 3, the hub's log chain).
inline constexpr int kMaxLogMarks = 32;
// The longest call id a pull may carry (PullRequest.call_id; a node sends
// 16 random bytes).
inline constexpr size_t kMaxPullCallIdBytes = 32;
// How long the hub takes an enrolment challenge it made (HelloReply).
inline constexpr int64_t kEnrolChallengeMillis = 10 * 60 * 1000;
// The largest token and device name an enrolment carries.
inline constexpr size_t kMaxEnrolTextBytes = 200;

// Refuses a peer speaking a version outside kMinProtocolVersion..
// kMaxProtocolVersion, naming both (FAILED_PRECONDITION).
absl::Status CheckProtocol(int theirs, std::string_view who);

// The version a hub answers a Hello that says `said` and at most `max`
// (0: only `said`).
int AgreedVersion(int said, int max);

// A push the hub could store none of because its first commit builds on
// commits the hub does not hold (a hub put back from a backup, until a
// colleague relays them): FAILED_PRECONDITION marked with this payload,
// which the gRPC transports carry as the status's details
// (docs/PROTOCOL.md, "A hub put back from a backup").
inline constexpr char kWaitsForLostCommitsUrl[] = "fieldsync.v1/waits-for-lost-commits";
absl::Status WaitsForLostCommitsError(std::string_view message);
// Whether `s` is such a refusal: the mark, or the words of a hub built
// before it (session 13).
bool WaitsForLostCommits(const absl::Status& s);

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_PROTOCOL_H_
