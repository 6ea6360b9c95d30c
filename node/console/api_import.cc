// The route of the Import page (docs/CONSOLE.md, "The Import page"):
//   POST /api/import {data, encoding, map, key_column, dry_run}
// `data` the register's bytes in base64 (any encoding travels in JSON so),
// `encoding` "auto" or one of import_text.h's, `map` {HEADER: FIELD or "-"},
// `dry_run` a JSON boolean. Over the node library's call of `fieldnode
// import cases` (ops::ImportCases): the same checks, the same one
// transaction. A dry run writes nothing and needs no keys, but says which
// rows were imported before only when unlocked (else `already` is null);
// the import needs the keys.
// Not UTF-8 without a choice: 400 err.not_utf8 with `preview`, the first
// lines as windows-1258 decodes them.
#include <sodium.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "node/console/api.h"
#include "node/ops/import_cases.h"
#include "node/ops/import_json.h"
#include "node/ops/import_map.h"
#include "text/text.h"

namespace fieldsync::node::console {
namespace {

ApiReply Invalid(const std::string& field, const std::string& detail) {
  ApiReply e = ErrorKey(400, "err.invalid", detail);
  e.body["field"] = field;
  return e;
}
// The library's refusal, with its key and parameters.
ApiReply Invalid(const std::string& field, const absl::Status& s) {
  ApiReply e = ErrorKey(400, "err.invalid", s);
  e.body["field"] = field;
  return e;
}

}  // namespace

ApiReply Api::Import(ConsoleOffice& o, const ApiRequest& r) {
  const bool locked = !o.keys->unlocked();
  Json in = BodyObject(r);
  if (in.is_discarded()) return ErrorKey(400, "err.invalid", "not JSON");
  auto dry_run = FlagOf(in, "dry_run");
  if (!dry_run.ok()) return Invalid("dry_run", dry_run.status());
  if (!*dry_run) {
    if (auto refused = NeedsKeys(o, "importing cases")) return *refused;
  }
  auto it = in.find("data");
  if (it == in.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return Invalid("data", "choose the register's file");
  }
  const std::string& b64 = it->get_ref<const std::string&>();
  std::string bytes(b64.size() / 4 * 3 + 3, '\0');
  size_t n = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), b64.data(),
                        b64.size(), nullptr, &n, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return Invalid("data", "the file did not arrive whole (not base64)");
  }
  bytes.resize(n);
  ops::ImportRequest req;
  req.bytes = bytes;
  req.dry_run = *dry_run;
  auto encoding = TextOf(in, "encoding");
  if (!encoding.ok()) return Invalid("encoding", encoding.status());
  auto parsed = ops::ParseEncoding(*encoding);
  if (!parsed.ok()) return Invalid("encoding", parsed.status());
  req.encoding = *parsed;
  auto key = TextOf(in, "key_column");
  if (!key.ok()) return Invalid("key_column", key.status());
  req.key_column = *key;
  if (auto m = in.find("map"); m != in.end() && !m->is_null()) {
    if (!m->is_object()) return Invalid("map", "map: {HEADER: FIELD}");
    for (const auto& [header, field] : m->items()) {
      if (!field.is_string()) return Invalid("map", absl::StrCat("map: ", header, " must be text"));
      const std::string& f = field.get_ref<const std::string&>();
      auto pair = ops::ParseImportMap(
          absl::StrCat("x=", f.empty() ? absl::string_view("-") : absl::string_view(f)));
      if (!pair.ok()) return Invalid("map", pair.status());
      auto h = NormalizeInput(header, "map");
      if (!h.ok()) return Invalid("map", h.status());
      req.map.emplace_back(*h, pair->front().second);
    }
  }
  auto report = ops::ImportCases(*o.office, req);
  if (!report.ok()) {
    if (ops::IsNotUtf8(report.status())) {
      ApiReply e = ErrorKey(400, "err.not_utf8", report.status());
      e.body["field"] = "encoding";
      e.body["preview"] = Printable(ops::PreviewAs(bytes, ops::Encoding::kWindows1258, 4));
      e.body["preview_encoding"] = "windows-1258";
      return e;
    }
    return ErrorReply(report.status(), locked);
  }
  ApiReply out;
  out.body = ops::ImportReportJson(*report);
  // Each refused row's reason as a key and parameters, for the page's own
  // words (the CLI's JSON has the English reason only).
  for (size_t i = 0; i < report->rejected.size(); ++i) {
    const auto& m = report->rejected[i].message;
    if (m) out.body["rejected"][i]["message"] = MessageJson(*m);
  }
  // The page's: how many imported before, the fields a column may fill,
  // the first records as decoded.
  // null while locked: a locked console says nothing of what was imported.
  out.body["already"] = report->already_known ? Json(report->already.size()) : Json();
  out.body["fields"] = ops::ImportFields();
  Json preview = Json::array();
  for (const auto& rec : report->preview) {
    Json cells = Json::array();
    for (const std::string& cell : rec) cells.push_back(Printable(cell));
    preview.push_back(std::move(cells));
  }
  out.body["preview"] = std::move(preview);
  out.body["dry_run"] = *dry_run;
  // Rows refused: nothing imported (all or nothing), said as a refusal.
  if (!*dry_run && !report->rejected.empty()) {
    out.status = 409;
    out.body["error"] = "err.import_rejected";
  }
  return out;
}

}  // namespace fieldsync::node::console
