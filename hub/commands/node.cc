// fieldhub node list|revoke: the enrolled nodes (hub/help/node.txt).
#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/json.h"
#include "base/strings.h"
#include "crypto/identity.h"
#include "crypto/pairing_code.h"
#include "hub/commands/command.h"
#include "hub/commands/time_args.h"

namespace fieldsync::hub {
namespace {

// A node's key fingerprint, or "" if it registered no keys.
std::string FingerprintOf(const NodeInfo& n) {
  if (n.keys.sign_pk.empty() && n.keys.box_pk.empty()) return "";
  return crypto::Fingerprint(n.keys);
}

// The code an office's first laptop types to become the first device
// (docs/CRYPTO.md, "Office membership"): the administrator reads it over
// the phone, which proves the hub registered that laptop's own keys.
std::string FirstDeviceCodeOf(const NodeInfo& n) {
  if (n.keys.sign_pk.size() != 32 || n.keys.box_pk.size() != 32) return "";
  return crypto::PairingCode(n.keys, n.keys);
}

// A text as a JSON string, or null if it is empty.
Json StringOrNull(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

// Column LINK KEY: "held" (the device proves with it alone), "none" (an
// older laptop that has not called since its upgrade: its bearer or
// version 1 proof is still taken, unless serve --refuse-bearer), "closed"
// (by a session 25 hub's two-holders alarm, which since session 26 closes
// nothing: refused until enrolled again).
const char* LinkKeyWord(LinkKeyState s) {
  switch (s) {
    case LinkKeyState::kHeld:
      return "held";
    case LinkKeyState::kClosed:
      return "closed";
    case LinkKeyState::kNone:
      break;
  }
  return "none";
}

class NodeCmd final : public Command {
 public:
  NodeCmd() : Command("node") {}
  void Declare(CLI::App& app) override {
    DeclareDataDir(app);
    DeclareStore(app);
    DeclareJson(app);
    DeclareActor(app);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (operands.empty()) return Usage(io, "node needs list or revoke");
    const std::string& sub = operands[0];
    if (sub == "list") {
      if (operands.size() != 1) return Usage(io, "node list takes no operands");
      return List(io);
    }
    if (sub == "revoke") {
      if (operands.size() != 2) {
        return Usage(io, "node revoke needs the DEVICE id (see fieldhub node list)");
      }
      return Revoke(operands[1], io);
    }
    return Usage(io, absl::StrCat("unknown node command \"", sub, "\"; it is list or revoke"));
  }

 private:
  int Revoke(const std::string& device, const Io& io) {
    auto id = Id16::Parse(device, "device id");
    if (!id.ok()) return Usage(io, id.status());
    auto actor = Actor();
    if (!actor.ok()) return Usage(io, actor.status());
    auto store = OpenHubStore(FileCheck::kWhole);
    if (!store.ok()) return Fail(io, store.status());
    absl::Status s = (*store)->RevokeNode(*id, *actor);
    if (!s.ok()) return Fail(io, s);
    std::fprintf(io.out, "node %s revoked: the hub refuses it from now on\n", device.c_str());
    return kExitOk;
  }

  int List(const Io& io) {
    auto store = OpenHubStore(FileCheck::kOpened);
    if (!store.ok()) return Fail(io, store.status());
    auto nodes = (*store)->Nodes();
    if (!nodes.ok()) return Fail(io, nodes.status());
    auto head = (*store)->LogHead();
    if (!head.ok()) return Fail(io, head.status());
    if (json()) {
      Json out = Json::array();
      for (const NodeInfo& n : *nodes) {
        out.push_back({{"device", n.device.ToString()},
                       {"name", n.name},
                       {"province", n.province},
                       {"last_seen", FormatMillis(n.last_seen_millis)},
                       {"cursor", n.cursor},
                       {"lag", *head - n.delivered},
                       {"pending", n.pending},
                       {"acknowledged_seq", n.acknowledged_seq},
                       {"set_aside", n.set_aside},
                       {"protocol_version", n.protocol_version},
                       {"clock_skew_ms", n.clock_skew_millis},
                       {"key_fingerprint", StringOrNull(FingerprintOf(n))},
                       {"first_device_code", StringOrNull(FirstDeviceCodeOf(n))},
                       {"link_key", LinkKeyWord(n.link_key)},
                       {"revoked", n.revoked},
                       {"removed_by_office", n.removed_by_office_at_millis != 0}});
      }
      Put(io.out, JsonLine(out));
      return kExitOk;
    }
    if (nodes->empty()) {
      std::fprintf(io.out, "no nodes enrolled yet: fieldhub enroll-token --province CODE\n");
      return kExitOk;
    }
    std::fprintf(io.out,
                 "%-36s  %-8s  %-20s  %8s  %8s  %8s  %9s  %5s  %9s  %-19s  %-44s  %-8s  %s\n",
                 "DEVICE", "PROVINCE", "LAST SEEN", "LAG", "PENDING", "PUSHED", "SET ASIDE", "PROTO",
                 "SKEW(ms)", "FIRST-DEVICE CODE", "KEY FINGERPRINT", "LINK KEY", "NAME");
    for (const NodeInfo& n : *nodes) {
      const std::string fp = FingerprintOf(n);
      const std::string code = FirstDeviceCodeOf(n);
      std::fprintf(io.out,
                   "%-36s  %-8s  %-20s  %8lld  %8llu  %8llu  %9llu  %5d  %9lld  %-19s  %-44s  %-8s  "
                   "%s%s\n",
                   n.device.ToString().c_str(), n.province.c_str(),
                   FormatMillis(n.last_seen_millis).c_str(),
                   static_cast<long long>(*head - n.delivered),
                   static_cast<unsigned long long>(n.pending),
                   static_cast<unsigned long long>(n.acknowledged_seq),
                   static_cast<unsigned long long>(n.set_aside), n.protocol_version,
                   static_cast<long long>(n.clock_skew_millis),
                   code.empty() ? "-" : code.c_str(), fp.empty() ? "-" : fp.c_str(),
                   LinkKeyWord(n.link_key),
                   // Quoted: a name such as `x  [REVOKED]` cannot pass for
                   // the flags that follow it.
                   JsonString(Printable(n.name)).c_str(),
                   n.revoked                            ? "  [REVOKED]"
                   : n.removed_by_office_at_millis != 0 ? "  [REMOVED BY ITS OFFICE]"
                                                        : "");
    }
    return kExitOk;
  }
};

}  // namespace

std::unique_ptr<Command> MakeNodeCommand() { return std::make_unique<NodeCmd>(); }

}  // namespace fieldsync::hub
