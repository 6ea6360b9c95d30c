// fieldnode trust (node/help/trust.txt), over node/ops/trust.h: the trust
// evidence this laptop found in what the hub showed it, and marking it read.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/strings.h"
#include "node/client.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/ops/trust.h"
#include "store/data_dir.h"
#include "store/keyring.h"

namespace fieldsync::node {
namespace {

std::optional<int64_t> ParseNumber(const std::string& w) {
  if (w.empty() || w.size() > 18 ||
      !std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoll(w);
}

}  // namespace

int RunTrustCommand(const Args& args) {
  const std::string sub = args.positional.size() > 1 ? args.positional[1] : "";
  if (sub != "" && sub != "ack") {
    return Usage(absl::StrCat("fieldnode trust takes ack or nothing, not \"", Printable(sub),
                              "\" (fieldnode trust --help)"));
  }
  if (sub == "ack" && args.positional.size() != 3) {
    return Usage("trust ack needs the number of the last evidence read, as fieldnode trust "
                 "shows it, or all");
  }
  if (sub == "" && args.positional.size() != 1) return Usage("trust takes no operands");
  std::optional<int64_t> up_to;
  if (sub == "ack" && args.positional[2] != "all") {
    up_to = ParseNumber(args.positional[2]);
    if (!up_to) {
      return Usage(absl::StrCat("trust ack takes an evidence number, as fieldnode trust shows "
                                "it, or all; not \"", Printable(args.positional[2]), "\""));
    }
  }
  const DataDir dir = NodeDir(args);
  auto r = OpenReplicaIn(dir);
  if (!r.ok()) return Fail(r.status());
  Replica& replica = **r;
  if (sub == "ack") {
    auto marked = ops::MarkEvidenceRead(replica, up_to);
    if (!marked.ok()) return Failed(marked.status());
    Print(absl::StrCat(*marked, " evidence item(s) marked read: fieldnode sync no longer exits 5 "
                       "for them; they stay on record (fieldnode trust --all)\n"));
    return 0;
  }
  auto hub = LoadHubConfig(dir.path);
  std::unique_ptr<KeyRing> keys;
  if (hub.ok() && !hub->province.empty()) {
    auto k = KeyRing::Open(&replica, hub->province);
    if (k.ok()) keys = *std::move(k);
  }
  auto st = ops::ReadChainStatus(replica, keys.get(), args.Has("all"));
  if (!st.ok()) return Fail(st.status());
  if (args.Has("json")) {
    Json items = Json::array();
    for (const ops::EvidenceItem& e : st->evidence) {
      Json item = {{"id", e.id},
                   {"kind", e.kind},
                   {"about", e.about},
                   {"found_at", FormatTimeMillis(e.found_at_millis)},
                   {"what", e.what},
                   {"read", e.read}};
      items.push_back(item);
    }
    Json out = {{"evidence", items}, {"unread", st->unread}};
    Print(JsonLine(out));
    return 0;
  }
  if (st->evidence.empty()) {
    Print(args.Has("all") ? "no trust evidence on record\n"
                          : "no unread trust evidence (fieldnode trust --all lists what was "
                            "read)\n");
    return 0;
  }
  std::string out;
  for (const ops::EvidenceItem& e : st->evidence) {
    absl::StrAppend(&out, e.id, "  ", FormatTimeMillis(e.found_at_millis), "  ", e.kind, ", ",
                    e.about, e.read ? " (read)" : "", "\n    ", Printable(e.what), "\n");
  }
  if (st->unread > 0) {
    absl::StrAppend(&out, "(once an officer read them: fieldnode trust ack N, N the last one "
                          "read, or all)\n");
  }
  Print(out);
  return 0;
}

}  // namespace fieldsync::node
