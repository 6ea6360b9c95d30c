// The routes of the Conflicts page (docs/CONSOLE.md, "Conflicts and work set
// aside"):
//   GET  /api/conflicts                              every open conflict
//   POST /api/resolve {ref, field, keep, value}      one resolved
// Over the node library's calls of `fieldnode conflict list` and `conflict
// resolve`, with their checks: keep "current" or "other", or "value" with
// the value to write (parsed as `--value TEXT` is). Each open conflict shows
// both values, who wrote each and when; opening a case's sealed value is
// recorded in the access log as the CLI's list records it (once per unlock:
// ops::AuditMemo). Text written on another laptop or relayed by the hub is
// sent as Printable (base/strings.h): no control or bidirectional
// formatting character reaches the page raw.
#include <string>

#include "base/strings.h"
#include "node/console/api.h"
#include "node/ops/conflicts.h"
#include "node/ops/office.h"
#include "schema/schema.h"
#include "store/keyring_messages.h"
#include "text/text.h"

namespace fieldsync::node::console {
namespace {

// One side of a conflict: its value (or the state that hides it), who, when.
// A sealed value that does not open here: its state and the key of what
// became of it (store/keyring_messages.h), not the key ring's English words.
Json Side(const std::string& shown, ops::State state, const std::string& device,
          int64_t millis) {
  Json one = {{"by", Printable(device)}, {"millis", millis}};
  const std::string_view key = SealedFieldKey(OpenedField{state, Value(), ""});
  if (state == ops::State::kLocked) {
    one["state"] = "locked";  // no value at all, not even a mask
  } else if (!key.empty()) {
    one["state"] = std::string(OpenedStateName(state));
    one["message"] = MessageJson(Message{std::string(key), {}});
  } else {
    one["value"] = Printable(shown);
    if (state != ops::State::kClear && state != ops::State::kOpened) {
      one["state"] = std::string(OpenedStateName(state));
    }
  }
  return one;
}

}  // namespace

ApiReply Api::Conflicts(ConsoleOffice& o) {
  const bool locked = !o.keys->unlocked();
  auto list = ops::ListConflicts(*o.office, ops::Access::kShow);
  if (!list.ok()) return ErrorReply(list.status(), locked);
  Json out = Json::array();
  for (const ops::ConflictLine& k : list->conflicts) {
    // The column's type: the page says an enum's value in its words.
    const ColumnDef* column = o.office->Table(k.table).FindColumn(k.field);
    out.push_back({{"table", k.table},
                   {"row", k.row.ToString()},
                   {"case_code", k.case_code},
                   {"field", k.field},
                   {"type", column ? std::string(ColumnTypeName(column->type)) : ""},
                   {"current", Side(k.current, k.current_state, k.current_device,
                                    k.current_millis)},
                   {"other", Side(k.other, k.other_state, k.other_device, k.other_millis)}});
  }
  ApiReply r;
  r.body = {{"conflicts", out}, {"masked", list->masked}};
  return r;
}

ApiReply Api::ResolveConflict(ConsoleOffice& o, const ApiRequest& r) {
  const Json in = BodyObject(r);
  if (in.is_discarded()) return ErrorKey(400, "err.invalid", "not a JSON object");
  ops::ConflictResolution res;
  for (const char* key : {"ref", "field", "keep", "value"}) {
    auto text = TextOf(in, key);
    if (!text.ok()) {
      ApiReply e = ErrorReply(text.status(), false);
      e.body["field"] = key;
      return e;
    }
    if (std::string(key) == "ref") res.row_ref = *text;
    if (std::string(key) == "field") res.field = *text;
    if (std::string(key) == "value") res.value = *text;
    if (std::string(key) == "keep") {
      if (*text == "current") {
        res.keep = ops::Keep::kCurrent;
      } else if (*text == "other") {
        res.keep = ops::Keep::kOther;
      } else if (*text == "value") {
        res.keep = ops::Keep::kValue;
      } else {
        ApiReply e = ErrorKey(400, "err.invalid", "keep: current, other or value");
        e.body["field"] = "keep";
        return e;
      }
    }
  }
  if (res.row_ref.empty() || res.field.empty()) {
    ApiReply e = ErrorKey(400, "err.invalid", "ref and field are needed");
    e.body["field"] = res.row_ref.empty() ? "ref" : "field";
    return e;
  }
  if (auto e = NeedsKeys(o, "resolving a conflict")) return *e;
  auto done = ops::ResolveConflict(*o.office, res);
  if (!done.ok()) {
    ApiReply e = ErrorReply(done.status(), false);
    if (ops::IsRequestError(done.status()) && res.keep == ops::Keep::kValue) {
      e.body["field"] = "value";
    }
    return e;
  }
  ApiReply out;
  out.body = {{"table", done->table}, {"row", done->row.ToString()}, {"field", done->field}};
  return out;
}

}  // namespace fieldsync::node::console
