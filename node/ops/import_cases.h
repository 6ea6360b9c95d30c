// Bringing an office's existing register in (`fieldnode import cases
// FILE.csv` and the console's import page): each row of a CSV register
// becomes a case and its person, checked as `case new` checks them; a dry
// run lists every row refused with its line and why; the import writes
// every new row or none, in one SQLite transaction. Each row's source key
// (docs/FORMATS.md, "Imported registers") is recorded with it, so the same
// register imported again adds nothing twice.
#ifndef FIELDSYNC_NODE_OPS_IMPORT_CASES_H_
#define FIELDSYNC_NODE_OPS_IMPORT_CASES_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/message.h"
#include "node/ops/import_text.h"
#include "node/ops/office.h"

namespace fieldsync::node::ops {

struct ImportRequest {
  std::string_view bytes;  // the file as saved
  Encoding encoding = Encoding::kAuto;
  // HEADER=FIELD (ParseImportMap), before the default mapping.
  std::vector<std::pair<std::string, std::string>> map;
  // A column whose value names each row for good (the register's own
  // number): the source key is that value's; "" the row's mapped content's.
  std::string key_column;
  bool dry_run = false;
};

struct ImportColumn {
  std::string header;
  std::string field;  // ImportFields(), or "" (left out)
};
struct RejectedRow {
  size_t line = 0;  // in the file, from 1 (the header is line 1)
  std::string reason;
  // The reason as a key and its parameters (node/ops/messages.h), for a
  // front end's own words; no key if the check that refused the row has none.
  std::optional<Message> message;
};
struct ImportReport {
  Encoding encoding = Encoding::kUtf8;
  bool bom = false;
  char separator = ',';
  std::vector<ImportColumn> columns;
  size_t rows = 0;                  // the register's rows (blank ones left out)
  std::vector<RejectedRow> rejected;  // in file order
  std::vector<size_t> already;      // lines imported before (source key recorded)
  // Whether `already` was looked up: only with the keys unlocked (a locked
  // laptop says nothing of what it imported); if not, every row not
  // refused counts in new_rows, and the import itself needs the keys.
  bool already_known = true;
  std::vector<std::pair<size_t, size_t>> repeated;  // a line, and the earlier line it repeats
  size_t new_rows = 0;              // rows that would become cases
  size_t imported = 0;              // cases written: 0 on a dry run or with a row rejected
  std::vector<std::string> codes;   // the case codes written, in file order
  // The first records as decoded (the header first): the page's preview.
  std::vector<std::vector<std::string>> preview;
};

// The register read, mapped and checked; unless `dry_run` or a row is
// rejected, every new row written as a case (status intake, opened today,
// this office's) with its source key, all in one transaction. Whole-file
// problems (not decodable, no header, no column for the victim's full name,
// a mapping naming no column, more than kMaxImportRows rows) are errors,
// nothing written; rows the checks refuse are in `rejected`. Writing needs
// the keys (FAILED_PRECONDITION with the unlock hint); a dry run does not,
// but tells which rows were imported before only with them.
absl::StatusOr<ImportReport> ImportCases(const Office& o, const ImportRequest& in);

inline constexpr size_t kMaxImportRows = 100000;
// Cases a commit of an import holds (2 row changes each: far below
// tuning::kMaxRowChangesPerCommit, a small part of one push call).
inline constexpr size_t kImportCasesPerCommit = 100;

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_IMPORT_CASES_H_
