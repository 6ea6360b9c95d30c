// A register's import as JSON: what `fieldnode import cases --json` prints
// and what the console's Import page is answered (docs/CONSOLE.md).
#ifndef FIELDSYNC_NODE_OPS_IMPORT_JSON_H_
#define FIELDSYNC_NODE_OPS_IMPORT_JSON_H_

#include "base/json.h"
#include "node/ops/import_cases.h"

namespace fieldsync::node::ops {

// {encoding, bom, separator, columns: [{header, field}], rows, rejected:
// [{line, reason}], already (the lines), repeated: [{line, repeats}],
// new_rows, imported, codes}; text from the file made Printable.
Json ImportReportJson(const ImportReport& r);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_IMPORT_JSON_H_
