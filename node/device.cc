#include "node/device.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "crypto/identity.h"
#include "crypto/pairing_code.h"
#include "node/commands/json.h"
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

using State = KeyRing::OfficeDevice::State;

std::string_view StateName(State s) {
  switch (s) {
    case State::kMember: return "member";
    case State::kPending: return "waiting for approval";
    case State::kRemoved: return "removed";
    case State::kRevoked: return "revoked";
  }
  return "?";
}

// DEVICE as typed: a whole id, or the start of one (8 characters or more);
// with `by_name`, also a device's name. It must name exactly one device of
// the office. A name is the hub's word (a hub may show a colleague's laptop
// under the name of another when this laptop first sees it), so it is taken
// only where a mistake cannot hurt: an approval, which the pairing code
// checks. A removal, which nothing checks, needs the id.
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
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", Printable(ref), "\" is a name, which the hub supplies: give the laptop's device "
        "id (or its first 8 characters) as written down when it was approved, or as that laptop "
        "shows it (\"this laptop:\" in its fieldnode device list); nothing was changed"));
  }
  if (found.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no device of this office is \"", Printable(ref), "\" (give its id or the first 8 "
        "characters of it", by_name ? ", or its name" : "", ", as \"fieldnode device list\" "
        "shows; sync first if the laptop enrolled just now); nothing was changed"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", Printable(ref), "\" names ", found.size(), " devices; give more of the id; nothing "
      "was changed"));
}

std::string Name(const KeyRing::OfficeView& v, const DeviceId& d) {
  for (const KeyRing::OfficeDevice& od : v.devices) {
    if (od.device.keys.device == d) return Printable(od.device.name);
  }
  return d.ToString().substr(0, 8);
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

int List(Session& s, bool json) {
  auto v = s.keys->Office();
  if (!v.ok()) return Fail(v.status());
  auto alerts = s.keys->Alerts(/*acknowledged=*/false);
  if (!alerts.ok()) return Fail(alerts.status());
  auto aside = s.keys->RefusedRecords();
  if (!aside.ok()) return Fail(aside.status());
  // Records set aside other than the membership records shown by device.
  size_t other_aside = 0;
  std::string first_aside;
  for (const KeyRing::RefusedRecord& r : *aside) {
    if (r.record.kind == crypto::KeyRecordKind::kMembership) continue;
    if (other_aside++ == 0) first_aside = r.reason;
  }
  const std::string id8 = s.replica->device_id().ToString().substr(0, 8);
  if (json) {
    auto id_or_null = [](const std::optional<DeviceId>& d) {
      return d ? Json(d->ToString()) : Json(nullptr);
    };
    auto text_or_null = [](const std::string& t) { return t.empty() ? Json(nullptr) : Json(t); };
    Json doc = Json::object();
    doc["province"] = s.keys->province();
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
    doc["this_device"] = s.replica->device_id().ToString();
    doc["member"] = v->member;
    doc["removed"] = v->removed;
    doc["code"] = text_or_null(v->my_code);
    doc["devices"] = Json::array();
    for (const KeyRing::OfficeDevice& d : v->devices) {
      Json e = Json::object();
      e["device"] = d.device.keys.device.ToString();
      e["name"] = d.device.name;
      e["state"] = std::string(StateName(d.state));
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
    std::fputs(JsonLine(doc).c_str(), stdout);
    return 0;
  }
  std::string out = absl::StrCat("office ", s.keys->province(), ": ");
  if (v->root) {
    absl::StrAppend(&out, "first device ", v->root->device.ToString(), " (", Name(*v, v->root->device),
                    ")\n");
  } else {
    absl::StrAppend(&out, "no first device yet\n");
  }
  absl::StrAppend(&out, "this laptop: ", s.replica->device_id().ToString(), ", ",
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
                        Name(*v, v->first_device_seen->device), "), not confirmed here yet\n");
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
      std::string state(StateName(d.state));
      if (d.first) state += " (first)";
      if (d.me) state += " (this)";
      if (!d.refused.empty()) state += " (REFUSED BY THE HUB)";
      rows.push_back({d.device.keys.device.ToString(), state, Printable(d.device.name),
                      d.approved_by && !d.first ? Name(*v, *d.approved_by) : "-",
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
  std::fputs(out.c_str(), stdout);
  return 0;
}

int Approve(Session& s, const Args& args) {
  const std::string code = args.Flag("code");
  if (code.empty()) {
    return Usage("device approve needs --code CODE, the code the other laptop shows");
  }
  // A code of the wrong form is a wrong command line (exit 2); a code of the
  // right form that does not match is refused by the key ring (exit 1).
  if (auto form = crypto::ParsePairingCode(code); !form.ok()) {
    return Usage(std::string(form.status().message()));
  }
  if (args.Has("first")) {
    if (args.positional.size() != 2) {
      return Usage("device approve --first takes no DEVICE: it makes this laptop the first");
    }
    absl::Status st = s.keys->ApproveFirst(code);
    if (!st.ok()) return Fail(st);
    std::printf("this laptop is now the first device of office %s: approve the office's other "
                "laptops from here (fieldnode device list); sync to publish it\n",
                s.keys->province().c_str());
    return 0;
  }
  if (args.positional.size() != 3) {
    return Usage("device approve needs the DEVICE (its id, the first 8 characters of it, or its "
                 "name, as fieldnode device list shows)");
  }
  auto v = s.keys->Office();
  if (!v.ok()) return Fail(v.status());
  auto id = ResolveDevice(*v, args.positional[2], /*by_name=*/true);
  if (!id.ok()) return Fail(id.status());
  absl::Status st = s.keys->Approve(*id, code);
  if (!st.ok()) return Fail(st);
  std::printf("approved device %s (%s) for office %s: it receives the office's keys once this "
              "laptop has synced\n",
              id->ToString().c_str(), Name(*v, *id).c_str(), s.keys->province().c_str());
  return 0;
}

int Join(Session& s, const Args& args) {
  const std::string code = args.Flag("code");
  if (code.empty()) {
    return Usage("device join needs --code CODE, the code a member laptop shows for this one");
  }
  // A code of the wrong form is a wrong command line (exit 2); a code of the
  // right form that does not match is refused by the key ring (exit 1).
  if (auto form = crypto::ParsePairingCode(code); !form.ok()) {
    return Usage(std::string(form.status().message()));
  }
  if (args.positional.size() != 2) return Usage("device join takes no operands, only --code");
  std::optional<DeviceId> first;
  if (args.flags.count("first-device") > 0) {
    // The first device as the member laptop shows it: an id (or the start
    // of one) among those this laptop has seen, never a name.
    const std::string ref = args.Flag("first-device");
    auto v = s.keys->Office();
    if (!v.ok()) return Fail(v.status());
    std::vector<DeviceId> found;
    for (const KeyRing::FirstDeviceSeen& f : v->first_devices_seen) {
      const std::string id = f.keys.device.ToString();
      if ((id == ref || (ref.size() >= 8 && id.rfind(ref, 0) == 0)) &&
          std::find(found.begin(), found.end(), f.keys.device) == found.end()) {
        found.push_back(f.keys.device);
      }
    }
    if (v->root && found.empty()) {
      const std::string id = v->root->device.ToString();
      if (id == ref || (ref.size() >= 8 && id.rfind(ref, 0) == 0)) found.push_back(v->root->device);
    }
    if (found.size() != 1) {
      return Fail(absl::NotFoundError(absl::StrCat(
          found.empty() ? "no first device of this office this laptop has seen is \""
                        : "more than one first device starts with \"",
          Printable(ref), "\" (give the id, or its first 8 characters, that the approving "
          "laptop's \"fieldnode device list\" shows on its first line); nothing was changed")));
    }
    first = found.front();
  }
  absl::Status st = s.keys->Join(code, first);
  if (!st.ok()) return Fail(st);
  auto v = s.keys->Office();
  const bool member = v.ok() && v->member;
  std::printf("this laptop now trusts the first device of office %s it compared the code "
              "against%s\n",
              s.keys->province().c_str(),
              member ? "; it is a member" : "; it becomes a member once that laptop's approval "
                                            "arrives (sync)");
  return 0;
}

int Remove(Session& s, const Args& args) {
  if (args.positional.size() != 3) {
    return Usage("device remove needs the DEVICE's id, or its first 8 characters (as fieldnode "
                 "device list shows)");
  }
  auto v = s.keys->Office();
  if (!v.ok()) return Fail(v.status());
  auto id = ResolveDevice(*v, args.positional[2], /*by_name=*/false);
  if (!id.ok()) return Fail(id.status());
  if (!args.Has("yes")) {
    const RegisteredDevice* reg = s.keys->FindDevice(*id);
    return Usage(absl::StrCat("removing device ", id->ToString(), " (", Name(*v, *id),
                              reg != nullptr
                                  ? absl::StrCat(", fingerprint ", crypto::Fingerprint(reg->keys))
                                  : "",
                              ") is for good: check it is the laptop you mean, then add --yes"));
  }
  auto removal = s.keys->Remove(*id);
  if (!removal.ok()) return Fail(removal.status());
  if (removal->done_already) {
    std::printf("device %s (%s) was removed from office %s already; nothing was changed\n",
                id->ToString().c_str(), Name(*v, *id).c_str(), s.keys->province().c_str());
    return 0;
  }
  std::string kept;
  for (const DeviceId& k : removal->kept) {
    absl::StrAppend(&kept, kept.empty() ? "" : ", ", k.ToString().substr(0, 8), " (", Name(*v, k),
                    ")");
  }
  std::printf(
      "removed device %s (%s) from office %s: at the next sync the office's keys move to a new "
      "generation it does not receive. %s%s What it already holds stays readable to it: also "
      "ask the hub administrator to revoke it (fieldhub node revoke)\n",
      id->ToString().c_str(), Name(*v, *id).c_str(), s.keys->province().c_str(),
      removal->kept.empty()
          ? "It had approved no device still in the office."
          : absl::StrCat("The approvals it signed for ", kept,
                         " are kept, so they stay members.").c_str(),
      removal->records > 1
          ? absl::StrCat(" (", removal->records, " removal records: one keeps at most ",
                         crypto::kMaxKeptApprovals, " approvals.)").c_str()
          : "");
  return 0;
}

// fieldnode device alerts [--all] [--json] | --ack ID|all
int Alerts(Session& s, const Args& args) {
  if (args.positional.size() != 2) return Usage("device alerts takes no operands");
  if (args.flags.count("ack") > 0) {
    const std::string which = args.Flag("ack");
    std::optional<int64_t> id;
    if (which != "all") {
      int64_t n = 0;
      if (which.empty() || which.size() > 18 ||
          !std::all_of(which.begin(), which.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return Usage(absl::StrCat("--ack takes an alert's number, as fieldnode device alerts "
                                  "shows it, or all; not \"", Printable(which), "\""));
      }
      n = std::stoll(which);
      id = n;
    }
    auto acked = s.keys->AcknowledgeAlerts(id);
    if (!acked.ok()) return Fail(acked.status());
    if (id) {
      std::printf("alert %lld %s: fieldnode status no longer shows it\n",
                  static_cast<long long>(*id),
                  *acked > 0 ? "acknowledged" : "was acknowledged already");
    } else {
      std::printf("%zu alert(s) acknowledged: fieldnode status no longer shows them\n", *acked);
    }
    return 0;
  }
  auto alerts = s.keys->Alerts(args.Has("all"));
  if (!alerts.ok()) return Fail(alerts.status());
  if (args.Has("json")) {
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
    std::fputs(JsonLine(doc).c_str(), stdout);
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
  std::fputs(out.c_str(), stdout);
  return 0;
}

// fieldnode device resend: the records the hub refused, queued again.
int Resend(Session& s, const Args& args) {
  if (args.positional.size() != 2) return Usage("device resend takes no operands");
  auto n = s.keys->ResendRefused(std::numeric_limits<size_t>::max());
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

int DeviceCommand(const Args& args) {
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
  auto session = OpenLocal(args, ask);
  if (!session.ok()) return Fail(session.status());
  if (!session->keys) {
    return Fail(absl::FailedPreconditionError("this laptop is not enrolled: fieldnode enroll"));
  }
  if (sub == "list") return List(*session, args.Has("json"));
  if (sub == "approve") return Approve(*session, args);
  if (sub == "join") return Join(*session, args);
  if (sub == "alerts") return Alerts(*session, args);
  if (sub == "resend") return Resend(*session, args);
  return Remove(*session, args);
}

}  // namespace fieldsync::node
