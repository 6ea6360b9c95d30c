#include "node/ops/devices.h"

#include <algorithm>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/identity.h"
#include "crypto/pairing_code.h"
#include "node/ops/messages.h"

namespace fieldsync::node::ops {

absl::StatusOr<DeviceList> ListDevices(const Office& o) {
  DeviceList out;
  FS_ASSIGN_OR_RETURN(out.view, o.keys.Office());
  FS_ASSIGN_OR_RETURN(out.alerts, o.keys.Alerts(/*acknowledged=*/false));
  FS_ASSIGN_OR_RETURN(std::vector<KeyRing::RefusedRecord> aside, o.keys.RefusedRecords());
  for (const KeyRing::RefusedRecord& r : aside) {
    if (r.record.kind == crypto::KeyRecordKind::kMembership) continue;
    if (out.other_set_aside++ == 0) out.first_set_aside = r.reason;
  }
  return out;
}

std::string_view DeviceStateName(KeyRing::OfficeDevice::State s) {
  using State = KeyRing::OfficeDevice::State;
  switch (s) {
    case State::kMember: return "member";
    case State::kPending: return "waiting for approval";
    case State::kRemoved: return "removed";
    case State::kRevoked: return "revoked";
  }
  return "?";
}

std::string DeviceLabel(const KeyRing::OfficeView& v, const DeviceId& d) {
  for (const KeyRing::OfficeDevice& od : v.devices) {
    if (od.device.keys.device == d) return Printable(od.device.name);
  }
  return d.ToString().substr(0, 8);
}

absl::StatusOr<DeviceId> ResolveDevice(const KeyRing::OfficeView& v, const std::string& ref,
                                       bool by_name) {
  std::vector<DeviceId> found;
  bool named = false;
  for (const KeyRing::OfficeDevice& d : v.devices) {
    const std::string id = d.device.keys.device.ToString();
    const bool by_id = id == ref || (ref.size() >= 8 && id.rfind(ref, 0) == 0);
    named |= d.device.name == ref;
    if (by_id || (by_name && d.device.name == ref)) found.push_back(d.device.keys.device);
  }
  if (found.size() == 1) return found.front();
  if (found.empty() && named) {
    return Coded(
        absl::InvalidArgumentError(absl::StrCat(
            "\"", Printable(ref),
            "\" is a name, which the hub supplies: give the laptop's device "
            "id (or its first 8 characters) as written down when it was approved, or as that "
            "laptop "
            "shows it (\"this laptop:\" in its fieldnode device list); nothing was changed")),
        Msg::kDeviceIsName, {{"ref", Printable(ref)}});
  }
  if (found.empty()) {
    return Coded(absl::NotFoundError(absl::StrCat(
                     "no device of this office is \"", Printable(ref),
                     "\" (give its id or the first 8 "
                     "characters of it",
                     by_name ? ", or its name" : "",
                     ", as \"fieldnode device list\" "
                     "shows; sync first if the laptop enrolled just now); nothing was changed")),
                 Msg::kDeviceNotFound, {{"ref", Printable(ref)}});
  }
  return Coded(
      absl::InvalidArgumentError(absl::StrCat("\"", Printable(ref), "\" names ", found.size(),
                                              " devices; give more of the id; nothing "
                                              "was changed")),
      Msg::kDeviceSeveral, {{"ref", Printable(ref)}, {"count", absl::StrCat(found.size())}});
}

absl::Status CheckPairingCodeForm(const std::string& code) {
  // A code of the wrong form is a wrong request; a code of the right form
  // that does not match is refused by the key ring.
  if (auto form = crypto::ParsePairingCode(code); !form.ok()) {
    return Coded(MalformedValue(SV(form.status().message())), Msg::kDeviceCodeForm);
  }
  return absl::OkStatus();
}

absl::Status ApproveFirstDevice(const Office& o, const std::string& code) {
  FS_RETURN_IF_ERROR(CheckPairingCodeForm(code));
  return o.keys.ApproveFirst(code);
}

absl::StatusOr<Approval> ApproveDevice(const Office& o, const std::string& ref,
                                       const std::string& code) {
  FS_RETURN_IF_ERROR(CheckPairingCodeForm(code));
  FS_ASSIGN_OR_RETURN(KeyRing::OfficeView v, o.keys.Office());
  FS_ASSIGN_OR_RETURN(DeviceId id, ResolveDevice(v, ref, /*by_name=*/true));
  if (absl::Status s = o.keys.Approve(id, code); !s.ok()) {
    // The key ring's refusal of a code that does not match.
    if (s.code() == absl::StatusCode::kPermissionDenied &&
        absl::StartsWith(s.message(), "wrong code")) {
      return Coded(s, Msg::kDeviceWrongCode);
    }
    return s;
  }
  return Approval{id, DeviceLabel(v, id)};
}

absl::StatusOr<bool> JoinOffice(const Office& o, const std::string& code,
                                const std::optional<std::string>& first_device_ref) {
  FS_RETURN_IF_ERROR(CheckPairingCodeForm(code));
  std::optional<DeviceId> first;
  if (first_device_ref) {
    // The first device as the member laptop shows it: an id (or the start
    // of one) among those this laptop has seen, never a name.
    const std::string& ref = *first_device_ref;
    FS_ASSIGN_OR_RETURN(KeyRing::OfficeView v, o.keys.Office());
    auto named = [&ref](const DeviceId& d) {
      const std::string id = d.ToString();
      return id == ref || (ref.size() >= 8 && id.rfind(ref, 0) == 0);
    };
    std::vector<DeviceId> found;
    for (const KeyRing::FirstDeviceSeen& f : v.first_devices_seen) {
      if (named(f.keys.device) &&
          std::find(found.begin(), found.end(), f.keys.device) == found.end()) {
        found.push_back(f.keys.device);
      }
    }
    if (v.root && found.empty() && named(v.root->device)) found.push_back(v.root->device);
    if (found.size() != 1) {
      return absl::NotFoundError(absl::StrCat(
          found.empty() ? "no first device of this office this laptop has seen is \""
                        : "more than one first device starts with \"",
          Printable(ref), "\" (give the id, or its first 8 characters, that the approving "
          "laptop's \"fieldnode device list\" shows on its first line); nothing was changed"));
    }
    first = found.front();
  }
  FS_RETURN_IF_ERROR(o.keys.Join(code, first));
  auto v = o.keys.Office();
  return v.ok() && v->member;
}

absl::StatusOr<DeviceToRemove> DeviceForRemoval(const Office& o, const std::string& ref) {
  FS_ASSIGN_OR_RETURN(KeyRing::OfficeView v, o.keys.Office());
  FS_ASSIGN_OR_RETURN(DeviceId id, ResolveDevice(v, ref, /*by_name=*/false));
  const RegisteredDevice* reg = o.keys.FindDevice(id);
  return DeviceToRemove{id, DeviceLabel(v, id),
                        reg != nullptr ? crypto::Fingerprint(reg->keys) : std::string()};
}

absl::StatusOr<DeviceRemoval> RemoveDevice(const Office& o, const DeviceId& device) {
  FS_ASSIGN_OR_RETURN(KeyRing::OfficeView v, o.keys.Office());
  DeviceRemoval out;
  FS_ASSIGN_OR_RETURN(out.removal, o.keys.Remove(device));
  for (const DeviceId& k : out.removal.kept) out.kept.emplace_back(k, DeviceLabel(v, k));
  return out;
}

absl::StatusOr<std::vector<KeyRing::TrustAlert>> DeviceAlerts(const Office& o, bool all) {
  return o.keys.Alerts(all);
}

absl::StatusOr<std::optional<int64_t>> ParseAlertRef(const std::string& which) {
  if (which == "all") return std::optional<int64_t>();
  if (which.empty() || which.size() > 18 ||
      !std::all_of(which.begin(), which.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return MalformedValue(absl::StrCat("--ack takes an alert's number, as fieldnode device "
                                       "alerts shows it, or all; not \"", Printable(which),
                                       "\""));
  }
  return std::optional<int64_t>(std::stoll(which));
}

absl::StatusOr<size_t> AcknowledgeAlerts(const Office& o, std::optional<int64_t> id) {
  return o.keys.AcknowledgeAlerts(id);
}

absl::StatusOr<size_t> ResendRefusedRecords(const Office& o) {
  return o.keys.ResendRefused(std::numeric_limits<size_t>::max());
}

}  // namespace fieldsync::node::ops
