// The routes of the office's devices (docs/CONSOLE.md, "The Devices page"):
//   GET  /api/devices                  the office as this laptop sees it
//   POST /api/approve {device, code}   a waiting laptop approved
//   POST /api/remove {device, confirm} a laptop removed for good
// Over the node library's calls of `fieldnode device list, approve, remove`,
// with their checks. Approving is a trust decision made on this laptop: the
// page shows the code this laptop computes for the new one, and the officer
// types the code the new laptop shows on its own screen; the key ring
// approves only if the two match (never on the hub's word: the hub supplies
// the device's keys and name, not the code). Removal names the device by
// its id, never by the name the hub supplies, and asks a confirmation that
// shows its fingerprint.
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "crypto/identity.h"
#include "node/console/api.h"
#include "node/ops/devices.h"
#include "store/keyring_messages.h"

namespace fieldsync::node::console {

ApiReply Api::Devices(ConsoleOffice& o) {
  auto list = ops::ListDevices(*o.office);
  if (!list.ok()) return ErrorReply(list.status(), !o.keys->unlocked());
  const KeyRing::OfficeView& v = list->view;
  Json devices = Json::array();
  for (const KeyRing::OfficeDevice& d : v.devices) {
    devices.push_back(
        {{"device", d.device.keys.device.ToString()},
         {"name", d.device.name},
         {"state", std::string(ops::DeviceStateName(d.state))},
         {"first", d.first},
         {"this", d.me},
         {"approved_by", d.approved_by && !d.first ? ops::DeviceLabel(v, *d.approved_by) : ""},
         {"fingerprint", crypto::Fingerprint(d.device.keys)},
         {"code", d.code},
         {"refused", d.refused}});
    // The hub's refusal in the catalogue's words (the hub's own reason as
    // its parameter).
    if (std::optional<Message> m = DeviceRefusalMessage(d.refused)) {
      devices.back()["refused_message"] = MessageJson(*m);
    }
  }
  // Each alert: its key and parameters (store/keyring_messages.h), or its
  // words if no pattern knows them (an alert stored by an older version).
  Json alerts = Json::array();
  for (const KeyRing::TrustAlert& a : list->alerts) {
    std::optional<Message> m = TrustAlertMessage(a.text);
    alerts.push_back(m ? Json{{"message", MessageJson(*m)}} : Json{{"text", a.text}});
  }
  ApiReply out;
  out.body = {{"province", o.office->province},
              {"this_device", o.replica->device_id().ToString()},
              {"member", v.member},
              {"removed", v.removed},
              {"first_device", v.root ? Json(v.root->device.ToString()) : Json(nullptr)},
              {"code", v.my_code},
              {"devices", devices},
              {"alerts", alerts},
              {"problems", v.problems},
              {"records_set_aside", list->other_set_aside}};
  return out;
}

ApiReply Api::Approve(ConsoleOffice& o, const ApiRequest& r) {
  const Json in = BodyObject(r);
  if (in.is_discarded()) return ErrorKey(400, "err.invalid", "not a JSON object");
  auto device = TextOf(in, "device");
  auto code = TextOf(in, "code");
  if (!device.ok() || device->empty()) return ErrorKey(400, "err.invalid", "device");
  if (!code.ok() || code->empty()) {
    ApiReply e = ErrorKey(400, "err.code_needed");
    e.body["field"] = "code";
    return e;
  }
  if (auto e = NeedsKeys(o, "approving a device")) return *e;
  auto approved = ops::ApproveDevice(*o.office, *device, *code);
  if (!approved.ok()) {
    const absl::Status& s = approved.status();
    ApiReply e = ErrorReply(s, false);
    // The key ring's refusal of a code that does not match: the page says
    // not to approve (the hub may show one of the laptops other keys).
    if (s.code() == absl::StatusCode::kPermissionDenied &&
        absl::StartsWith(s.message(), "wrong code")) {
      e = ErrorKey(403, "err.wrong_code", s);
    }
    if (ops::IsRequestError(s) || e.body["error"] == "err.wrong_code") e.body["field"] = "code";
    return e;
  }
  ApiReply out;
  out.body = {{"device", approved->device.ToString()}, {"name", approved->name}};
  return out;
}

ApiReply Api::Remove(ConsoleOffice& o, const ApiRequest& r) {
  const Json in = BodyObject(r);
  if (in.is_discarded()) return ErrorKey(400, "err.invalid", "not a JSON object");
  auto device = TextOf(in, "device");
  if (!device.ok() || device->empty()) return ErrorKey(400, "err.invalid", "device");
  if (auto e = NeedsKeys(o, "removing a device")) return *e;
  // By id only: a name is the hub's word.
  auto target = ops::DeviceForRemoval(*o.office, *device);
  if (!target.ok()) return ErrorReply(target.status(), false);
  const auto confirm = in.find("confirm");
  if (confirm == in.end() || *confirm != true) {
    ApiReply e = ErrorKey(400, "err.remove_confirm",
                          target->device.ToString() + " (" + target->name +
                              (target->fingerprint.empty() ? "" : ", " + target->fingerprint) +
                              ")");
    e.body["field"] = "confirm";
    return e;
  }
  auto removed = ops::RemoveDevice(*o.office, target->device);
  if (!removed.ok()) return ErrorReply(removed.status(), false);
  Json kept = Json::array();
  for (const auto& [id, label] : removed->kept) kept.push_back(label);
  ApiReply out;
  out.body = {{"device", target->device.ToString()},
              {"name", target->name},
              {"already", removed->removal.done_already},
              {"kept", kept}};
  return out;
}

}  // namespace fieldsync::node::console
