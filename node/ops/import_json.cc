#include "node/ops/import_json.h"

#include <string>

#include "base/strings.h"

namespace fieldsync::node::ops {

Json ImportReportJson(const ImportReport& r) {
  Json columns = Json::array();
  for (const ImportColumn& c : r.columns) {
    columns.push_back({{"header", Printable(c.header)}, {"field", c.field}});
  }
  Json rejected = Json::array();
  for (const RejectedRow& x : r.rejected) {
    rejected.push_back({{"line", x.line}, {"reason", Printable(x.reason)}});
  }
  Json repeated = Json::array();
  for (const auto& [line, of] : r.repeated) repeated.push_back({{"line", line}, {"repeats", of}});
  return {{"encoding", std::string(EncodingName(r.encoding))},
          {"bom", r.bom},
          {"separator", std::string(1, r.separator)},
          {"columns", columns},
          {"rows", r.rows},
          {"rejected", rejected},
          {"already", r.already_known ? Json(r.already) : Json()},
          {"repeated", repeated},
          {"new_rows", r.new_rows},
          {"imported", r.imported},
          {"codes", r.codes}};
}

}  // namespace fieldsync::node::ops
