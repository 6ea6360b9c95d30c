// fieldnode device (node/help/device.txt): who belongs to this laptop's
// office, over node/ops/devices.h; this file parses and prints.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "crypto/identity.h"
#include "crypto/key_record.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/ops/devices.h"
#include "node/session.h"
#include "text/text.h"

namespace fieldsync::node {
namespace {

// Rows as columns padded by display width (Vietnamese names stay aligned).
std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], DisplayWidth(r[i]));
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += i + 1 == r.size() ? r[i] : PadTo(r[i], width[i]) + "  ";
    }
    out += line + "\n";
  }
  return out;
}

// The alerts not acknowledged, for device list: each with its number and
// how to acknowledge it.
void AppendAlerts(const std::vector<KeyRing::TrustAlert>& alerts, std::string* out) {
  for (const KeyRing::TrustAlert& a : alerts) {
    absl::StrAppend(out, "ALERT ", a.id, ": ", Printable(a.text),
                    a.seen > 1 ? absl::StrCat(" (served ", a.seen, " times)") : "", "\n");
  }
  if (!alerts.empty()) {
    absl::StrAppend(out, "(once read: fieldnode device alerts --ack ID, or --ack all; status "
                         "then no longer shows them)\n");
  }
}

int List(OfficeContext& c) {
  auto list = ops::ListDevices(c.office);
  if (!list.ok()) return Fail(list.status());
  const KeyRing::OfficeView* v = &list->view;
  const std::vector<KeyRing::TrustAlert>* alerts = &list->alerts;
  const size_t other_aside = list->other_set_aside;
  const std::string& first_aside = list->first_set_aside;
  const bool json = c.json;
  const std::string id8 = c.office.replica.device_id().ToString().substr(0, 8);
  if (json) {
    auto id_or_null = [](const std::optional<DeviceId>& d) {
      return d ? Json(d->ToString()) : Json(nullptr);
    };
    auto text_or_null = [](const std::string& t) { return t.empty() ? Json(nullptr) : Json(t); };
    Json doc = Json::object();
    doc["province"] = c.office.province;
    doc["first_device"] = v->root ? Json(v->root->device.ToString()) : Json(nullptr);
    doc["first_device_seen"] =
        v->first_device_seen ? Json(v->first_device_seen->device.ToString()) : Json(nullptr);
    doc["first_devices_seen"] = Json::array();
    for (const KeyRing::FirstDeviceSeen& f : v->first_devices_seen) {
      Json e = Json::object();
      e["device"] = f.keys.device.ToString();
      e["name"] = f.name;
      e["code"] = f.my_code;
      doc["first_devices_seen"].push_back(std::move(e));
    }
    doc["this_device"] = c.office.replica.device_id().ToString();
    doc["member"] = v->member;
    doc["removed"] = v->removed;
    doc["code"] = text_or_null(v->my_code);
    doc["devices"] = Json::array();
    for (const KeyRing::OfficeDevice& d : v->devices) {
      Json e = Json::object();
      e["device"] = d.device.keys.device.ToString();
      e["name"] = d.device.name;
      e["state"] = std::string(ops::DeviceStateName(d.state));
      e["first"] = d.first;
      e["this"] = d.me;
      e["approved_by"] = id_or_null(d.approved_by);
      e["fingerprint"] = crypto::Fingerprint(d.device.keys);
      e["code"] = text_or_null(d.code);
      e["refused"] = text_or_null(d.refused);
      doc["devices"].push_back(std::move(e));
    }
    doc["records_set_aside"] = other_aside;
    doc["alerts"] = Json::array();
    for (const KeyRing::TrustAlert& a : *alerts) doc["alerts"].push_back(a.text);
    Print(JsonLine(doc));
    return 0;
  }
  std::string out = absl::StrCat("office ", c.office.province, ": ");
  if (v->root) {
    absl::StrAppend(&out, "first device ", v->root->device.ToString(), " (", ops::DeviceLabel(*v, v->root->device),
                    ")\n");
  } else {
    absl::StrAppend(&out, "no first device yet\n");
  }
  absl::StrAppend(&out, "this laptop: ", c.office.replica.device_id().ToString(), ", ",
                  v->member    ? "a member"
                  : v->removed ? "removed from the office: it receives no key"
                               : "waiting for approval",
                  "\n");
  if (!v->member && !v->removed) {
    if (v->first_devices_seen.size() > 1) {
      // Several first devices: one code each; the officer at the member
      // laptop compares the one against that laptop's first device.
      absl::StrAppend(&out, "  the hub shows ", v->first_devices_seen.size(), " first devices "
                      "for this office; only one is your office's. This laptop's code against "
                      "each:\n");
      for (const KeyRing::FirstDeviceSeen& f : v->first_devices_seen) {
        absl::StrAppend(&out, "    first device ", f.keys.device.ToString(), " (",
                        f.name.empty() ? "not in the registry" : Printable(f.name), "): ",
                        f.my_code, "\n");
      }
      absl::StrAppend(
          &out, "  1. an officer at a laptop of the office reads its first device (the first "
          "line of \"fieldnode device list\" there), compares the code above for that one with "
          "that laptop's screen, and runs there:\n    fieldnode device approve ", id8,
          " --code \"CODE\"\n  2. here, naming that first device and typing the code THAT "
          "laptop shows for this one (never copy it from this screen):\n    fieldnode device "
          "join --first-device ID --code \"CODE SHOWN THERE\"\n  and tell the hub administrator "
          "about the other first device\n");
    } else if (v->root || v->first_device_seen) {
      if (!v->root) {
        absl::StrAppend(&out, "  the office's first device, as the hub shows it: ",
                        v->first_device_seen->device.ToString(), " (",
                        ops::DeviceLabel(*v, v->first_device_seen->device), "), not confirmed here yet\n");
      }
      absl::StrAppend(
          &out, "  its code: ", v->my_code, "\n  1. an officer at a laptop of the office compares "
          "it with that laptop's screen and runs there:\n    fieldnode device approve ",
          id8, " --code \"", v->my_code, "\"\n");
      if (!v->root) {
        absl::StrAppend(&out, "  2. here, typing the code THAT laptop shows for this one (never "
                              "copy it from this screen):\n    fieldnode device join --code "
                              "\"CODE SHOWN THERE\"\n");
      }
    } else {
      absl::StrAppend(
          &out, "  if this is the office's first laptop: phone the hub administrator, who reads "
          "this device's code from \"fieldhub node list\", and run:\n    fieldnode device "
          "approve --first --code \"CODE\"\n  (the code this laptop computes for itself: ",
          v->my_code, ")\n");
    }
  }
  if (!v->devices.empty()) {
    std::vector<std::vector<std::string>> rows = {
        {"DEVICE", "STATE", "NAME", "APPROVED BY", "CODE TO COMPARE"}};
    for (const KeyRing::OfficeDevice& d : v->devices) {
      std::string state(ops::DeviceStateName(d.state));
      if (d.first) state += " (first)";
      if (d.me) state += " (this)";
      if (!d.refused.empty()) state += " (REFUSED BY THE HUB)";
      rows.push_back({d.device.keys.device.ToString(), state, Printable(d.device.name),
                      d.approved_by && !d.first ? ops::DeviceLabel(*v, *d.approved_by) : "-",
                      d.code.empty() ? "-" : d.code});
    }
    absl::StrAppend(&out, "\n", FormatTable(rows));
  }
  bool refused = false;
  for (const KeyRing::OfficeDevice& d : v->devices) {
    if (d.refused.empty()) continue;
    refused = true;
    absl::StrAppend(&out, "refused: ", d.device.keys.device.ToString(), " (",
                    Printable(d.device.name), "): ", Printable(d.refused), "\n");
  }
  if (refused) {
    absl::StrAppend(&out, "  the other laptops of the office do not have it until the hub "
                          "takes it: it is sent again at each sync; ask the hub administrator "
                          "why it was refused\n");
  }
  if (other_aside > 0) {
    absl::StrAppend(&out, other_aside, " other key record(s) of this laptop's were refused by "
                    "the hub and set aside (first: ", Printable(first_aside), "); a few are "
                    "sent again at each sync, all of them after fieldnode device resend\n");
  }
  for (const std::string& p : v->problems) absl::StrAppend(&out, "not taken: ", Printable(p), "\n");
  AppendAlerts(*alerts, &out);
  Print(out);
  return 0;
}
int Approve(OfficeContext& c) {
  const Args& args = c.args;
  const std::string code = args.Flag("code");
  if (code.empty()) {
    return Usage("device approve needs --code CODE, the code the other laptop shows");
  }
  if (args.Has("first")) {
    if (c.Words() != 2) {
      if (absl::Status form = ops::CheckPairingCodeForm(code); !form.ok()) return Failed(form);
      return Usage("device approve --first takes no DEVICE: it makes this laptop the first");
    }
    absl::Status st = ops::ApproveFirstDevice(c.office, code);
    if (!st.ok()) return Failed(st);
    std::printf("this laptop is now the first device of office %s: approve the office's other "
                "laptops from here (fieldnode device list); sync to publish it\n",
                c.office.province.c_str());
    return 0;
  }
  if (c.Words() != 3) {
    if (absl::Status form = ops::CheckPairingCodeForm(code); !form.ok()) return Failed(form);
    return Usage("device approve needs the DEVICE (its id, the first 8 characters of it, or its "
                 "name, as fieldnode device list shows)");
  }
  auto approved = ops::ApproveDevice(c.office, args.positional[2], code);
  if (!approved.ok()) return Failed(approved.status());
  std::printf("approved device %s (%s) for office %s: it receives the office's keys once this "
              "laptop has synced\n",
              approved->device.ToString().c_str(), approved->name.c_str(),
              c.office.province.c_str());
  return 0;
}

int Join(OfficeContext& c) {
  const Args& args = c.args;
  const std::string code = args.Flag("code");
  if (code.empty()) {
    return Usage("device join needs --code CODE, the code a member laptop shows for this one");
  }
  if (absl::Status form = ops::CheckPairingCodeForm(code); !form.ok()) return Failed(form);
  if (c.Words() != 2) return Usage("device join takes no operands, only --code");
  std::optional<std::string> first;
  if (args.flags.count("first-device") > 0) first = args.Flag("first-device");
  auto member = ops::JoinOffice(c.office, code, first);
  if (!member.ok()) return Failed(member.status());
  std::printf("this laptop now trusts the first device of office %s it compared the code "
              "against%s\n",
              c.office.province.c_str(),
              *member ? "; it is a member" : "; it becomes a member once that laptop's approval "
                                             "arrives (sync)");
  return 0;
}

int Remove(OfficeContext& c) {
  if (c.Words() != 3) {
    return Usage("device remove needs the DEVICE's id, or its first 8 characters (as fieldnode "
                 "device list shows)");
  }
  auto target = ops::DeviceForRemoval(c.office, c.args.positional[2]);
  if (!target.ok()) return Fail(target.status());
  const std::string id = target->device.ToString();
  if (!c.args.Has("yes")) {
    return Usage(absl::StrCat("removing device ", id, " (", target->name,
                              target->fingerprint.empty()
                                  ? ""
                                  : absl::StrCat(", fingerprint ", target->fingerprint),
                              ") is for good: check it is the laptop you mean, then add --yes"));
  }
  auto removed = ops::RemoveDevice(c.office, target->device);
  if (!removed.ok()) return Fail(removed.status());
  if (removed->removal.done_already) {
    std::printf("device %s (%s) was removed from office %s already; nothing was changed\n",
                id.c_str(), target->name.c_str(), c.office.province.c_str());
    return 0;
  }
  std::string kept;
  for (const auto& [k, label] : removed->kept) {
    absl::StrAppend(&kept, kept.empty() ? "" : ", ", k.ToString().substr(0, 8), " (", label, ")");
  }
  std::printf(
      "removed device %s (%s) from office %s: at the next sync the office's keys move to a new "
      "generation it does not receive. %s%s What it already holds stays readable to it: also "
      "ask the hub administrator to revoke it (fieldhub node revoke)\n",
      id.c_str(), target->name.c_str(), c.office.province.c_str(),
      removed->kept.empty()
          ? "It had approved no device still in the office."
          : absl::StrCat("The approvals it signed for ", kept,
                         " are kept, so they stay members.").c_str(),
      removed->removal.records > 1
          ? absl::StrCat(" (", removed->removal.records, " removal records: one keeps at most ",
                         crypto::kMaxKeptApprovals, " approvals.)").c_str()
          : "");
  return 0;
}

// fieldnode device alerts [--all] [--json] | --ack ID|all
int Alerts(OfficeContext& c) {
  const Args& args = c.args;
  if (c.Words() != 2) return Usage("device alerts takes no operands");
  if (args.flags.count("ack") > 0) {
    auto id = ops::ParseAlertRef(args.Flag("ack"));
    if (!id.ok()) return Failed(id.status());
    auto acked = ops::AcknowledgeAlerts(c.office, *id);
    if (!acked.ok()) return Fail(acked.status());
    if (*id) {
      std::printf("alert %lld %s: fieldnode status no longer shows it\n",
                  static_cast<long long>(**id),
                  *acked > 0 ? "acknowledged" : "was acknowledged already");
    } else {
      std::printf("%zu alert(s) acknowledged: fieldnode status no longer shows them\n", *acked);
    }
    return 0;
  }
  auto alerts = ops::DeviceAlerts(c.office, args.Has("all"));
  if (!alerts.ok()) return Fail(alerts.status());
  if (c.json) {
    Json doc = Json::array();
    for (const KeyRing::TrustAlert& a : *alerts) {
      Json e = Json::object();
      e["id"] = a.id;
      e["text"] = a.text;
      e["first_seen"] = FormatTimeMillis(a.first_at_millis);
      e["last_seen"] = FormatTimeMillis(a.last_at_millis);
      e["times"] = a.seen;
      e["acknowledged"] = a.acknowledged_at_millis
                              ? Json(FormatTimeMillis(a.acknowledged_at_millis))
                              : Json(nullptr);
      doc.push_back(std::move(e));
    }
    Print(JsonLine(doc));
    return 0;
  }
  if (alerts->empty()) {
    std::printf(args.Has("all") ? "no alert: the hub has served nothing this laptop refused\n"
                                : "no alert waits to be read (--all shows those acknowledged)\n");
    return 0;
  }
  std::string out;
  for (const KeyRing::TrustAlert& a : *alerts) {
    absl::StrAppend(&out, "ALERT ", a.id, ": ", Printable(a.text), "\n    first seen ",
                    FormatTimeMillis(a.first_at_millis));
    if (a.seen > 1) {
      absl::StrAppend(&out, ", served ", a.seen, " times, last ",
                      FormatTimeMillis(a.last_at_millis));
    }
    if (a.acknowledged_at_millis) {
      absl::StrAppend(&out, "; acknowledged ", FormatTimeMillis(a.acknowledged_at_millis));
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "(once read: fieldnode device alerts --ack ID, or --ack all)\n");
  Print(out);
  return 0;
}

// fieldnode device resend: the records the hub refused, queued again.
int Resend(OfficeContext& c) {
  if (c.Words() != 2) return Usage("device resend takes no operands");
  auto n = ops::ResendRefusedRecords(c.office);
  if (!n.ok()) return Fail(n.status());
  if (*n == 0) {
    std::printf("no key record of this laptop's is set aside: nothing to resend\n");
  } else {
    std::printf("%zu key record(s) the hub refused are sent again at the next sync (fieldnode "
                "sync); those it refuses again are set aside again with its reason\n",
                *n);
  }
  return 0;
}

}  // namespace

int RunDeviceCommand(const Args& args) {
  static const std::set<std::string> kSubs = {"list",   "approve", "join",
                                              "remove", "alerts",  "resend"};
  const std::string sub = args.positional.size() > 1 ? args.positional[1] : "";
  if (kSubs.count(sub) == 0) {
    return Usage(sub.empty() ? "device needs list, approve, join, remove, alerts or resend"
                             : absl::StrCat("unknown device command \"", Printable(sub),
                                            "\"; it is list, approve, join, remove, alerts or "
                                            "resend"));
  }
  if (sub == "list" && args.positional.size() != 2) return Usage("device list takes no operands");
  // Approving, joining and removing sign or compute from this laptop's own
  // keys; the others read or queue what is stored.
  const bool ask = sub == "approve" || sub == "join" || sub == "remove";
  auto context = OpenOfficeContext(args, ask);
  if (!context.ok()) return Fail(context.status());
  OfficeContext& c = **context;
  if (sub == "list") return List(c);
  if (sub == "approve") return Approve(c);
  if (sub == "join") return Join(c);
  if (sub == "alerts") return Alerts(c);
  if (sub == "resend") return Resend(c);
  return Remove(c);
}

}  // namespace fieldsync::node
