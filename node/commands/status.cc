// fieldnode status (node/help/status.txt), over node/ops/status.h.
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/strings.h"
#include "node/client.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/ops/status.h"
#include "store/data_dir.h"

namespace fieldsync::node {

namespace {

// What the chain keeper holds (protocol version 3), in lines; "" if nothing.
std::string ChainLines(const ops::ChainStatus& c) {
  std::string out;
  if (!c.downgrade.empty()) absl::StrAppend(&out, "HUB DOWNGRADE: ", Printable(c.downgrade), "\n");
  for (const ops::HeldOfAuthor& h : c.held) {
    absl::StrAppend(&out, "held commits     ", h.name, ": ", h.commits,
                    h.commits == 1 ? absl::StrCat(" (seq ", h.first, ")")
                                   : absl::StrCat(" (seq ", h.first, "..", h.last, ")"),
                    h.refused_upto > 0
                        ? absl::StrCat(", waiting for commits up to ", h.refused_upto,
                                       ", which came in a form this laptop does not verify "
                                       "(asked for again)")
                    : h.missing_to > 0 ? absl::StrCat(", waiting for ", h.missing_from, "..",
                                                      h.missing_to, " the hub has not sent")
                                       : std::string(", held back (fieldnode sync says why)"),
                    "\n");
  }
  for (const ops::EvidenceItem& e : c.evidence) {
    absl::StrAppend(&out, "EVIDENCE ", e.id, ": ", e.kind, ", ", e.about, ", found ",
                    FormatTimeMillis(e.found_at_millis), ": ", Printable(e.what), "\n");
  }
  for (const std::string& w : c.warnings) absl::StrAppend(&out, "history: ", Printable(w), "\n");
  if (!c.bootstrap.empty()) absl::StrAppend(&out, "bootstrap: ", Printable(c.bootstrap), "\n");
  if (c.unread > 0) {
    absl::StrAppend(&out, "(evidence not yet read makes fieldnode sync exit 5; once an officer "
                          "read it: fieldnode trust ack all)\n");
  }
  return out;
}

}  // namespace

int RunStatusCommand(const Args& args) {
  const DataDir dir = NodeDir(args);
  auto r = OpenReplicaIn(dir);
  if (!r.ok()) return Fail(r.status());
  auto hub = LoadHubConfig(dir.path);
  auto st = ops::ReadNodeStatus(**r, dir.path,
                                hub.ok() ? std::optional<HubConfig>(*hub) : std::nullopt);
  if (!st.ok()) return Fail(st.status());
  auto urgent = HasUrgentUnpushed(**r);
  const bool urgent_waiting = urgent.ok() && *urgent;
  const std::string last =
      st->last_sync_millis > 0 ? FormatTimeMillis(st->last_sync_millis) : "never";
  if (args.Has("json")) {
    // The replica's part as FormatStatus(json) writes it (fieldhub and
    // fieldnode alike), then this laptop's.
    Json rows = Json::object();
    for (const auto& [table, n] : st->stats.live_rows) rows[table] = n;
    Json out = {{"data_dir", dir.path},
                {"device", st->stats.device.ToString()},
                {"schema_version", st->stats.schema_version},
                {"local_commits", st->stats.local_seq},
                {"commits_held", st->stats.log_commits},
                {"open_conflicts", st->stats.open_conflicts},
                {"live_rows", rows},
                {"province", hub.ok() ? hub->province : ""},
                {"hub", hub.ok() ? hub->address : ""},
                {"keystore", st->unlocked_until ? "unlocked" : "locked"},
                {"unlocked_until",
                 st->unlocked_until ? FormatTimeMillis(*st->unlocked_until) : ""},
                {"last_sync", last},
                {"commits_waiting", st->commits_waiting},
                {"set_aside", st->set_aside},
                {"urgent_waiting", urgent_waiting},
                {"membership", st->membership},
                {"devices_waiting", st->devices_waiting},
                {"trust_alerts", st->trust_alerts.size()}};
    Json held = Json::array();
    for (const ops::HeldOfAuthor& h : st->chains.held) {
      Json one = {{"author", h.author.ToString()}, {"commits", h.commits},
                  {"first", h.first},              {"last", h.last},
                  {"missing_from", h.missing_from}, {"missing_to", h.missing_to}};
      held.push_back(one);
    }
    Json evidence = Json::array();
    for (const ops::EvidenceItem& e : st->chains.evidence) {
      Json one = {{"id", e.id},     {"kind", e.kind},
                  {"about", e.about}, {"found_at", FormatTimeMillis(e.found_at_millis)},
                  {"what", e.what}};
      evidence.push_back(one);
    }
    out["held_commits"] = held;
    out["unread_evidence"] = evidence;
    out["history_warnings"] = st->chains.warnings;
    out["bootstrap"] = st->chains.bootstrap;
    out["hub_max_agreed_version"] = st->chains.max_agreed;
    out["hub_downgraded_to"] = st->chains.downgraded_to;
    Print(JsonLine(out));
    return 0;
  }
  const std::string keystore =
      st->unlocked_until ? absl::StrCat("unlocked until ", FormatTimeMillis(*st->unlocked_until))
                         : "locked";
  Print(absl::StrCat(
      "province         ", hub.ok() ? hub->province : "(not enrolled: fieldnode enroll)", "\n",
      "hub              ", hub.ok() ? hub->address : "-", "\n",
      "keystore         ", keystore, "\n",
      "last sync        ", last, "\n",
      "commits waiting  ", st->commits_waiting, urgent_waiting ? " (urgent among them)" : "",
      "\n", "office           ", st->membership, "\n", FormatStatus(dir, st->stats, false)));
  if (st->set_aside > 0) {
    Print(absl::StrCat(st->set_aside, st->set_aside == 1 ? " change" : " changes",
                       " set aside: ", Printable(st->set_aside_first),
                       st->set_aside > 1 ? " (and more)" : "", "; run fieldnode set-aside list\n"));
  }
  for (const std::string& a : st->trust_alerts) Print(absl::StrCat("ALERT: ", Printable(a), "\n"));
  if (!st->trust_alerts.empty()) {
    Print("(once read: fieldnode device alerts --ack all; fieldnode device alerts lists them)\n");
  }
  Print(ChainLines(st->chains));
  return 0;
}

}  // namespace fieldsync::node
