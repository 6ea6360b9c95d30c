// fieldnode set-aside (node/help/set-aside.txt), over node/ops/set_aside.h:
// this laptop's changes the hub refused for good, and an officer's keep or
// discard of one.
#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/strings.h"
#include "clock/clock_source.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/ops/set_aside.h"
#include "store/data_dir.h"

namespace fieldsync::node {
namespace {

std::optional<uint64_t> ParseSeq(const std::string& w) {
  if (w.empty() || w.size() > 18 ||
      !std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const uint64_t v = std::stoull(w);
  if (v == 0) return std::nullopt;
  return v;
}

}  // namespace

int RunSetAsideCommand(const Args& args) {
  const std::string sub = args.positional.size() > 1 ? args.positional[1] : "";
  if (sub.empty()) return Usage("fieldnode set-aside needs list, keep N or discard N");
  if (sub != "list" && sub != "discard" && sub != "keep") {
    return Usage(absl::StrCat("fieldnode set-aside takes list, keep N or discard N, not \"",
                              Printable(sub), "\""));
  }
  if (sub == "list" && args.positional.size() != 2) return Usage("set-aside list takes no operands");
  std::optional<uint64_t> seq;
  if (sub == "discard" || sub == "keep") {
    if (args.positional.size() != 3) {
      return Usage(absl::StrCat("set-aside ", sub, " needs the number of the change, as "
                                "fieldnode set-aside list shows it"));
    }
    seq = ParseSeq(args.positional[2]);
    if (!seq) {
      return Usage(absl::StrCat("set-aside ", sub, " takes a change's number, as fieldnode "
                                "set-aside list shows it; not \"",
                                Printable(args.positional[2]), "\""));
    }
  }
  if (sub == "keep") {
    auto c = OpenOfficeContext(args, /*ask=*/true);
    if (!c.ok()) return Fail(c.status());
    auto kept = ops::KeepSetAside((*c)->office, *seq);
    if (!kept.ok()) return Failed(kept.status());
    std::string out;
    for (const ops::KeptRecord& r : kept->records) {
      if (!r.created) {
        absl::StrAppend(&out, "change ", *seq, " kept: written again to ",
                        r.code.empty() ? absl::StrCat(r.table, " ", r.row.ToString())
                                       : absl::StrCat("case ", r.code),
                        " as a new change; ");
      } else if (r.table == "cases") {
        absl::StrAppend(&out, "change ", *seq, " kept as new case ", r.code,
                        r.was.empty() ? "" : absl::StrCat(" (it was case ", r.was, ")"), "; ");
      } else {
        absl::StrAppend(&out, "change ", *seq, " kept as a new person record ",
                        r.row.ToString().substr(0, 8), "; ");
      }
    }
    absl::StrAppend(&out, "the next sync sends it and withdraws change ", *seq, "\n");
    Print(out);
    return 0;
  }
  const DataDir dir = NodeDir(args);
  auto r = OpenReplicaIn(dir);
  if (!r.ok()) return Fail(r.status());
  Replica& replica = **r;
  if (sub == "discard") {
    auto it = ops::DiscardSetAside(replica, *seq, SystemClock::Get()->NowMillis());
    if (!it.ok()) return Failed(it.status());
    std::string out = absl::StrCat("change ", *seq, " discarded (", it->code, "): it will never "
                                   "reach the hub; the next sync tells the hub and the office's "
                                   "laptops so (a signed withdrawal)\n");
    if (it->fields_left > 0) {
      absl::StrAppend(&out, "  ", it->fields_left, " field(s) here still show it (what they "
                            "held before is not on this laptop): they take the hub's state "
                            "when this laptop is next rebuilt from the hub\n");
    }
    Print(out);
    return 0;
  }
  auto items = ops::ListSetAside(replica, args.Has("all"));
  if (!items.ok()) return Fail(items.status());
  if (args.Has("json")) {
    Json list = Json::array();
    for (const ops::SetAsideItem& i : *items) {
      Json one = {{"seq", i.seq},           {"code", i.code},
                  {"reason", i.reason},     {"depends_on", i.depends_on},
                  {"at", FormatTimeMillis(i.at_millis)}, {"rows", i.rows},
                  {"discarded", i.discarded}, {"withdrawn", i.withdrawn}};
      list.push_back(one);
    }
    Print(JsonLine(Json{{"set_aside", list}}));
    return 0;
  }
  if (items->empty()) {
    Print(args.Has("all") ? "no change of this laptop was ever set aside\n"
                          : "no change set aside (fieldnode set-aside list --all lists those "
                            "discarded)\n");
    return 0;
  }
  std::string out;
  for (const ops::SetAsideItem& i : *items) {
    absl::StrAppend(&out, i.seq, "  ", FormatTimeMillis(i.at_millis), "  ", i.code,
                    i.discarded ? (i.withdrawn ? " (discarded)" : " (discarded, hub not told yet)")
                                : "",
                    "\n    ", Printable(i.reason), "\n");
    for (const std::string& row : i.rows) absl::StrAppend(&out, "    writes ", row, "\n");
  }
  absl::StrAppend(&out, "(an officer resolves each: fieldnode set-aside keep N writes what it "
                        "tried to do as a new record; fieldnode set-aside discard N gives it "
                        "up)\n");
  Print(out);
  return 0;
}

}  // namespace fieldsync::node
