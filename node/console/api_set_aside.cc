// The routes of the Set-aside page (docs/CONSOLE.md, "Conflicts and work set
// aside"):
//   GET  /api/setaside                     this laptop's changes the hub refused
//   POST /api/setaside {seq, action}       keep or discard one
// Over the node library's calls of `fieldnode set-aside list`, `keep N` and
// `discard N`, with their checks. Each item: its number, when, the hub's
// code (the page says it in the catalogue's words: setaside.code.*) and its
// words (Printable: the hub is not trusted to send clean text), the records
// it writes, and what the officer may do: keep and discard, discard only
// for a change damaged on this disk, nothing for a change that waits to be
// re-dated (the next sync re-dates it once the clock is right).
// Both actions need the keys here, though `fieldnode set-aside discard`
// does not: a locked console acts for nobody (a passer-by at a locked
// console must not give up an officer's work).
#include <cstdint>
#include <string>

#include "base/strings.h"
#include "node/console/api.h"
#include "node/ops/set_aside.h"

namespace fieldsync::node::console {
namespace {

Json Actions(const ops::SetAsideItem& i) {
  if (i.discarded || i.code == "CLOCK_AHEAD") return Json::array();
  if (i.code == "DAMAGED") return Json::array({"discard"});
  return Json::array({"keep", "discard"});
}

Json ItemJson(const ops::SetAsideItem& i) {
  Json rows = Json::array();
  for (const std::string& row : i.rows) rows.push_back(Printable(row));
  return {{"seq", i.seq},
          {"code", i.code},
          {"reason", Printable(i.reason)},
          {"depends_on", i.depends_on},
          {"at_millis", i.at_millis},
          {"rows", rows},
          {"rows_held", i.rows_held},
          {"discarded", i.discarded},
          {"withdrawn", i.withdrawn},
          {"actions", Actions(i)}};
}

}  // namespace

ApiReply Api::SetAside(ConsoleOffice& o) {
  auto items = ops::ListSetAside(*o.replica, /*all=*/false);
  if (!items.ok()) return ErrorReply(items.status(), !o.keys->unlocked());
  Json list = Json::array();
  for (const ops::SetAsideItem& i : *items) list.push_back(ItemJson(i));
  ApiReply r;
  r.body = {{"set_aside", list}};
  return r;
}

ApiReply Api::SetAsideAction(ConsoleOffice& o, const ApiRequest& r) {
  const Json in = BodyObject(r);
  if (in.is_discarded()) return ErrorKey(400, "err.invalid", "not a JSON object");
  const auto seq_it = in.find("seq");
  if (seq_it == in.end() || !seq_it->is_number_unsigned() || seq_it->get<uint64_t>() == 0) {
    ApiReply e = ErrorKey(400, "err.invalid", "seq: the change's number, as the list shows it");
    e.body["field"] = "seq";
    return e;
  }
  const uint64_t seq = seq_it->get<uint64_t>();
  auto action = TextOf(in, "action");
  if (!action.ok() || (*action != "keep" && *action != "discard")) {
    ApiReply e = ErrorKey(400, "err.invalid", "action: keep or discard");
    e.body["field"] = "action";
    return e;
  }
  if (auto e = NeedsKeys(o, *action == "keep" ? "keeping a change set aside"
                                              : "discarding a change set aside")) {
    return *e;
  }
  ApiReply out;
  if (*action == "discard") {
    auto it = ops::DiscardSetAside(*o.replica, seq, o.office->NowMillis());
    if (!it.ok()) return ErrorReply(it.status(), false);
    out.body = {{"seq", seq}, {"action", "discard"}, {"fields_left", it->fields_left}};
    return out;
  }
  auto kept = ops::KeepSetAside(*o.office, seq);
  if (!kept.ok()) return ErrorReply(kept.status(), false);
  Json records = Json::array();
  for (const ops::KeptRecord& k : kept->records) {
    records.push_back({{"table", k.table}, {"row", k.row.ToString()}, {"created", k.created},
                       {"code", k.code}, {"was", k.was}});
  }
  out.body = {{"seq", seq}, {"action", "keep"}, {"records", records}};
  return out;
}

}  // namespace fieldsync::node::console
