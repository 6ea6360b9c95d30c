#include "node/ops/status.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "node/agent.h"
#include "node/ops/set_aside.h"
#include "store/keyring.h"

namespace fieldsync::node::ops {

absl::StatusOr<NodeStatus> ReadNodeStatus(Replica& replica, const std::string& data_dir,
                                          const std::optional<HubConfig>& hub) {
  NodeStatus out;
  FS_ASSIGN_OR_RETURN(out.stats, replica.Stats());
  auto pushed = replica.GetCursor(kPushedCursor);
  auto last_sync = replica.GetCursor(kLastSyncCursor);
  auto waiting =
      replica.LocalCommitsAfter(pushed.ok() ? static_cast<uint64_t>(*pushed) : 0, 100000);
  out.unlocked_until = AgentExpiry(data_dir);
  out.commits_waiting = waiting.ok() ? waiting->size() : 0;
  out.last_sync_millis = last_sync.ok() ? *last_sync : 0;
  // Set-aside work (node/ops/set_aside.h): the open items, the first's words.
  FS_ASSIGN_OR_RETURN(std::vector<SetAsideItem> aside, ListSetAside(replica, false));
  out.set_aside = aside.size();
  if (!aside.empty()) out.set_aside_first = aside.front().reason;
  std::unique_ptr<KeyRing> ring;
  if (hub && !hub->province.empty()) {
    auto opened = KeyRing::Open(&replica, hub->province);
    if (opened.ok()) ring = *std::move(opened);
  }
  FS_ASSIGN_OR_RETURN(out.chains, ReadChainStatus(replica, ring.get()));
  if (ring == nullptr) return out;
  auto* keys = &ring;
  auto v = (*keys)->Office();
  if (v.ok()) {
    for (const KeyRing::OfficeDevice& d : v->devices) {
      if (!d.me && d.state == KeyRing::OfficeDevice::State::kPending) ++out.devices_waiting;
    }
    if (v->member) {
      out.membership = "member of the office";
    } else if (v->removed) {
      out.membership = "REMOVED from the office: it receives no key";
    } else if (v->first_devices_seen.size() > 1) {
      out.membership = absl::StrCat("WAITING FOR APPROVAL: the hub shows ",
                                    v->first_devices_seen.size(), " first devices for this "
                                    "office; only one is yours: see fieldnode device list");
    } else if (v->root || v->first_device_seen) {
      out.membership = absl::StrCat("WAITING FOR APPROVAL (code ", v->my_code, ")",
                                    v->root ? "" : " and for this laptop to join",
                                    ": see fieldnode device list");
    } else {
      out.membership = "the office's first device is not known here yet: see fieldnode device "
                       "list";
    }
    if (out.devices_waiting > 0) {
      absl::StrAppend(&out.membership, "; ", out.devices_waiting,
                      " device(s) of the office wait for approval (fieldnode device list)");
    }
  }
  auto alerts = (*keys)->TrustAlerts();
  if (alerts.ok()) out.trust_alerts = *alerts;
  return out;
}

}  // namespace fieldsync::node::ops
