// The laptop at a glance: province and hub, keystore locked or unlocked,
// last sync, commits waiting, membership of the office, trust alerts, the
// chain keeper's held commits and evidence, and what the replica holds.
#ifndef FIELDSYNC_NODE_OPS_STATUS_H_
#define FIELDSYNC_NODE_OPS_STATUS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/client.h"
#include "node/ops/trust.h"
#include "store/replica.h"

namespace fieldsync::node::ops {

struct NodeStatus {
  ReplicaStats stats;
  std::optional<int64_t> unlocked_until;  // the key agent's expiry; none: locked
  int64_t last_sync_millis = 0;           // 0: never
  size_t commits_waiting = 0;             // not yet pushed
  // Changes the hub refused for good, not resolved (node/ops/set_aside.h),
  // and the hub's words about the first.
  size_t set_aside = 0;
  std::string set_aside_first;
  // Membership as this laptop's own records decide it (no unlocking), in
  // words: "member of the office", "WAITING FOR APPROVAL ...", ...
  std::string membership = "not enrolled";
  size_t devices_waiting = 0;  // other devices of the office waiting for approval
  std::vector<std::string> trust_alerts;
  // What the chain keeper holds: commits held per author, evidence not yet
  // read, a hub downgrade (node/ops/trust.h).
  ChainStatus chains;
};
// `hub`: the enrolment (node/client.h), none if not enrolled. Whether an
// urgent commit is among those waiting is HasUrgentUnpushed's.
absl::StatusOr<NodeStatus> ReadNodeStatus(Replica& replica, const std::string& data_dir,
                                          const std::optional<HubConfig>& hub);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_STATUS_H_
