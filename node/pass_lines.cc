// The lines of a sync pass, keyed (pass_lines.h); the English words are
// those fieldnode sync and the daemon printed before the keys.
#include "node/pass_lines.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "sync/downgrade.h"

namespace fieldsync::node {
namespace {

constexpr std::string_view kKeys[] = {
    "sync.line.skew_laptop_ahead", "sync.line.skew_hub_ahead", "sync.line.hub_notice",
    "sync.line.key_note",          "sync.line.keys_refused",   "sync.line.keys_refused_by_hub",
    "sync.line.set_aside",         "sync.line.withdrawal",     "sync.line.redate",
    "sync.line.went_back",         "sync.line.relayed",        "sync.line.relay_note",
    "sync.line.own_resent",        "sync.line.downgrade",      "sync.line.chain_problem",
    "sync.line.rows_unvouched",    "sync.line.held",           "sync.line.new_evidence",
    "sync.line.unacknowledged",    "sync.line.push_refused",   "sync.line.synced",
    "sync.line.already_held",      "sync.line.bootstrap",      "sync.line.purged",
    "sync.line.failure",           "sync.line.keys_forgotten",
};

// Parameters: numbers as decimal, words Printable (whoever wrote them).
std::string Num(uint64_t n) { return absl::StrCat(n); }
std::string Num(int64_t n) { return absl::StrCat(n); }
std::string Words(std::string_view s) { return Printable(s); }

}  // namespace

std::vector<PassLine> SkewLines(const sync::SyncReport& r) {
  // Which clock is wrong is not known here (a hub's clock may be wrong, or
  // the hub lying): said without presuming (attack review 80, MED 5).
  if (r.skew_millis <= 120'000 && r.skew_millis >= -120'000) return {};
  const bool laptop = r.skew_millis > 0;
  const std::string seconds = Num(static_cast<int64_t>(std::llabs(r.skew_millis) / 1000));
  return {{laptop ? "sync.line.skew_laptop_ahead" : "sync.line.skew_hub_ahead",
           {{"seconds", seconds}},
           absl::StrCat("fieldnode: warning: this laptop's clock and the hub's differ by ",
                        seconds, " s (", laptop ? "this laptop's" : "the hub's",
                        " is ahead): check the date and time here; if they are right, tell the "
                        "hub administrator",
                        laptop ? "; work stamped ahead of the hub's time is not taken by it"
                               : "")}};
}

std::vector<PassLine> NoticeLines(const sync::SyncReport& r) {
  if (r.notice.empty()) return {};
  // The hub's words: printed raw before (a hub could move the terminal's
  // cursor or reverse the text that follows).
  const std::string note = Words(r.notice);
  return {{"sync.line.hub_notice", {{"note", note}}, absl::StrCat("hub: ", note)}};
}

std::vector<PassLine> KeyLines(const sync::SyncReport& r) {
  std::vector<PassLine> out;
  for (const std::string& n : r.key_notes) {
    const std::string note = Words(n);
    out.push_back({"sync.line.key_note", {{"note", note}}, absl::StrCat("keys: ", note)});
  }
  if (r.key_records_refused > 0) {
    const std::string n = Num(r.key_records_refused), first = Words(r.key_refusal);
    out.push_back({"sync.line.keys_refused", {{"n", n}, {"first", first}},
                   absl::StrCat("keys: refused ", n, " key records from the hub (first: ", first,
                                ")")});
  }
  if (r.key_records_refused_by_hub > 0) {
    const std::string n = Num(r.key_records_refused_by_hub), first = Words(r.key_push_refusal);
    out.push_back({"sync.line.keys_refused_by_hub", {{"n", n}, {"first", first}},
                   absl::StrCat("keys: the hub refused ", n,
                                " of this node's key records, set aside (first: ", first,
                                "); they are sent again at the next syncs, approvals and "
                                "removals first (fieldnode device list shows them)")});
  }
  // Not keys, but said where both fieldnode sync and the daemon say what
  // the hub refused: changes set aside (sync/set_aside.h).
  if (r.set_aside > 0) {
    const std::string n = Num(r.set_aside), first = Words(r.set_aside_reason);
    out.push_back({"sync.line.set_aside", {{"n", n}, {"first", first}},
                   absl::StrCat("the hub refused ", n,
                                " of this laptop's changes for good (first: ", first,
                                "); they are set aside, every other change was sent: run "
                                "fieldnode set-aside list")});
  }
  if (!r.withdrawal_note.empty()) {
    const std::string note = Words(r.withdrawal_note);
    out.push_back({"sync.line.withdrawal", {{"note", note}}, note});
  }
  // Work stamped by a clock ahead (sync/restamp.h): re-dated, or why not yet.
  if (!r.redate_note.empty()) {
    const std::string note = Words(r.redate_note);
    out.push_back({"sync.line.redate", {{"note", note}}, note});
  }
  return out;
}

std::vector<PassLine> HistoryLines(const sync::SyncReport& r) {
  std::vector<PassLine> out;
  // The hub went back (docs/PROTOCOL.md, "A hub put back from a backup").
  if (r.hub_went_back) {
    const std::string from = Num(r.went_back_from), to = Num(r.went_back_to);
    out.push_back({"sync.line.went_back", {{"from", from}, {"to", to}},
                   absl::StrCat("hub: the hub's log went back from position ", from, " to ", to,
                                " (a hub restored from an older backup): this laptop pulled "
                                "again from ",
                                to, "; what it already held was skipped")});
  }
  if (r.relayed > 0 || r.relayed_key_records > 0) {
    const std::string changes = Num(r.relayed), records = Num(r.relayed_key_records);
    out.push_back({"sync.line.relayed", {{"changes", changes}, {"records", records}},
                   absl::StrCat("hub: relayed ", changes, " changes and ", records,
                                " key records of other laptops to the hub, which had lost "
                                "them")});
  }
  for (const std::string& n : r.relay_notes) {
    const std::string note = Words(n);
    out.push_back({"sync.line.relay_note", {{"note", note}}, absl::StrCat("hub: ", note)});
  }
  if (r.own_resent) {
    const std::string held = Num(r.own_held_seq), sent = Num(r.own_sent_seq);
    out.push_back({"sync.line.own_resent", {{"held", held}, {"sent", sent}},
                   absl::StrCat("hub: the hub held this laptop's changes only up to ", held,
                                " of the ", sent,
                                " it had acknowledged (a hub restored from an older backup): "
                                "the rest was sent again")});
  }
  if (r.downgraded_from > 0) {
    const std::string from = Num(static_cast<int64_t>(r.downgraded_from));
    const std::string now = Num(static_cast<int64_t>(r.protocol_version));
    out.push_back({"sync.line.downgrade", {{"from", from}, {"now", now}},
                   absl::StrCat("history: HUB DOWNGRADE: ",
                                Words(sync::DowngradeLine(r.downgraded_from,
                                                          r.protocol_version)))});
  }
  for (size_t i = 0; i < r.chain.problems.size() && i < 5; ++i) {
    const std::string note = Words(r.chain.problems[i]);
    out.push_back({"sync.line.chain_problem", {{"note", note}}, absl::StrCat("history: ", note)});
  }
  if (r.chain.rows_unvouched > 0) {
    const std::string n = Num(r.chain.rows_unvouched);
    out.push_back({"sync.line.rows_unvouched", {{"n", n}},
                   absl::StrCat("history: ", n,
                                " record(s) of a case newly referred to this office came "
                                "without the signed commits that wrote them: shown as the hub "
                                "served them, they decide no key and no office this laptop "
                                "seals for")});
  }
  if (r.chain.held > 0) {
    const std::string n = Num(r.chain.held);
    out.push_back({"sync.line.held", {{"n", n}},
                   absl::StrCat("history: ", n,
                                " commits of other laptops wait here until the hub sends what "
                                "comes before them; the rest of the sync went on")});
  }
  // In a downgraded pass no header travels: its evidence is the downgrade.
  if (r.chain.new_evidence > 0 && r.downgraded_from == 0) {
    out.push_back({"sync.line.new_evidence", {},
                   "history: the hub showed this laptop a history its authors did not sign as "
                   "one (kept as evidence on this laptop): tell the hub administrator and your "
                   "office"});
  }
  if (r.chain.unacknowledged > 0) {
    const std::string n = Num(r.chain.unacknowledged);
    out.push_back({"sync.line.unacknowledged", {{"n", n}},
                   absl::StrCat("history: ", n,
                                " trust evidence item(s) not yet read by an officer (fieldnode "
                                "trust lists them; fieldnode trust ack once read)")});
  }
  return out;
}

std::vector<PassLine> RefusedPushLines(const sync::SyncReport& r) {
  if (r.push_refused.ok()) return {};
  const std::string reason = Words(SV(r.push_refused.message()));
  return {{"sync.line.push_refused", {{"reason", reason}},
           absl::StrCat("pulled, but the push was refused: ", reason,
                        "\nThe refused commit and those after it stay on this laptop; nothing "
                        "of them was lost.")}};
}

std::vector<PassLine> SummaryLines(const sync::SyncReport& r, int64_t millis) {
  const std::string pushed = Num(r.pushed), pulled = Num(r.pulled);
  const std::string records = Num(r.rows_installed), cursor = Num(r.cursor);
  const std::string head = Num(r.log_head), ms = Num(millis);
  std::vector<PassLine> out;
  out.push_back({"sync.line.synced",
                 {{"pushed", pushed},
                  {"pulled", pulled},
                  {"records", records},
                  {"cursor", cursor},
                  {"head", head},
                  {"ms", ms}},
                 absl::StrCat("synced: pushed ", pushed, ", pulled ", pulled, " commits and ",
                              records, " records, at position ", cursor, " of ", head, ", ", ms,
                              " ms")});
  if (r.push_duplicates > 0) {
    const std::string n = Num(r.push_duplicates);
    out.push_back({"sync.line.already_held", {{"n", n}},
                   absl::StrCat(n, " of the commits sent the hub held already")});
  }
  if (r.bootstrapped) {
    out.push_back({"sync.line.bootstrap", {},
                   "the hub's current state was installed whole (bootstrap)"});
  }
  if (r.tombstones_purged > 0) {
    const std::string n = Num(r.tombstones_purged);
    out.push_back({"sync.line.purged", {{"n", n}},
                   absl::StrCat("dropped ", n, " deleted records the hub collected")});
  }
  return out;
}

PassLine FailureLine(std::string_view why) {
  const std::string reason = Words(why);
  return {"sync.line.failure", {{"reason", reason}}, reason};
}

PassLine KeysForgottenLine() {
  return {"sync.line.keys_forgotten", {},
          "the key agent was locked: office keys forgotten, synced locked"};
}

void AppendLines(const std::vector<PassLine>& lines, const std::string& prefix,
                 std::string* out) {
  for (const PassLine& l : lines) absl::StrAppend(out, prefix, l.text, "\n");
}

std::vector<std::string_view> PassLineKeys() {
  return std::vector<std::string_view>(std::begin(kKeys), std::end(kKeys));
}

}  // namespace fieldsync::node
