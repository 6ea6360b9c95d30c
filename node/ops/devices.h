// The node library: which laptops belong to this laptop's office, decided on
// the office's laptops (docs/CRYPTO.md, "Office membership"): the office as
// this laptop sees it, approving, joining, removing, the alerts about what
// the hub served, and resending what it refused. Nothing here prints.
#ifndef FIELDSYNC_NODE_OPS_DEVICES_H_
#define FIELDSYNC_NODE_OPS_DEVICES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "node/ops/office.h"

namespace fieldsync::node::ops {

// The office's devices, this laptop's place among them, the alerts not yet
// acknowledged, and the key records of this laptop's the hub refused other
// than the membership records (those show on their device).
struct DeviceList {
  KeyRing::OfficeView view;
  std::vector<KeyRing::TrustAlert> alerts;
  size_t other_set_aside = 0;
  std::string first_set_aside;  // the hub's reason for the first of them
};
absl::StatusOr<DeviceList> ListDevices(const Office& o);

// "member", "waiting for approval", "removed", "revoked".
std::string_view DeviceStateName(KeyRing::OfficeDevice::State s);

// A device's name as the office view holds it (printable), else the start
// of its id.
std::string DeviceLabel(const KeyRing::OfficeView& v, const DeviceId& d);

// DEVICE as typed: a whole id, or the start of one (8 characters or more);
// with `by_name`, also a device's name. It must name exactly one device of
// the office. A name is the hub's word, so it is taken only where a mistake
// cannot hurt (an approval, which the pairing code checks).
absl::StatusOr<DeviceId> ResolveDevice(const KeyRing::OfficeView& v, const std::string& ref,
                                       bool by_name);

// A pairing code as typed; MalformedValue (a wrong request) if it is not of
// the form of one.
absl::Status CheckPairingCodeForm(const std::string& code);

// This laptop becomes the office's first device, `code` read by the hub
// administrator.
absl::Status ApproveFirstDevice(const Office& o, const std::string& code);

// A member approves the device `ref` names (id, its start, or its name).
struct Approval {
  DeviceId device;
  std::string name;
};
absl::StatusOr<Approval> ApproveDevice(const Office& o, const std::string& ref,
                                       const std::string& code);

// A new laptop confirms its office with the code a member laptop shows for
// it; `first_device_ref` names the office's first device when this laptop
// saw several (an id or its start, never a name). Whether this laptop is a
// member now.
absl::StatusOr<bool> JoinOffice(const Office& o, const std::string& code,
                                const std::optional<std::string>& first_device_ref);

// The device a removal would remove (by id or its start, never a name), and
// how to tell it is the one: its name and fingerprint ("" if unregistered).
struct DeviceToRemove {
  DeviceId device;
  std::string name;
  std::string fingerprint;
};
absl::StatusOr<DeviceToRemove> DeviceForRemoval(const Office& o, const std::string& ref);

// Removes it for good: the office's keys move to a new generation at the
// next sync. `kept`: the approvals it signed that stay (by label).
struct DeviceRemoval {
  KeyRing::Removal removal;
  std::vector<std::pair<DeviceId, std::string>> kept;  // id, label
};
absl::StatusOr<DeviceRemoval> RemoveDevice(const Office& o, const DeviceId& device);

// The alerts (`all`: acknowledged ones too).
absl::StatusOr<std::vector<KeyRing::TrustAlert>> DeviceAlerts(const Office& o, bool all);

// "all" or an alert's number as typed: nullopt for all; MalformedValue
// otherwise.
absl::StatusOr<std::optional<int64_t>> ParseAlertRef(const std::string& which);
// Acknowledges one alert or all; how many were.
absl::StatusOr<size_t> AcknowledgeAlerts(const Office& o, std::optional<int64_t> id);

// Every key record the hub refused, queued again for the next sync; how many.
absl::StatusOr<size_t> ResendRefusedRecords(const Office& o);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_DEVICES_H_
