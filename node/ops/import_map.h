// Which field of a case file each column of a register fills: the names of
// the fields, a default for the headers Vietnamese and English registers
// use ("Họ và tên", "Ngày sinh", "Full name"), the user's own mapping
// (`--map 'HEADER=FIELD,...'`), and a cell's text as `case new` takes it
// (dd/mm/yyyy dates, "Nữ"/"Nam", "có"/"không").
#ifndef FIELDSYNC_NODE_OPS_IMPORT_MAP_H_
#define FIELDSYNC_NODE_OPS_IMPORT_MAP_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace fieldsync::node::ops {

// The fields a column may fill: "person.COL" and "case.COL" (the columns
// `case new` takes), "officer" (the assigned officer) and "urgent"
// (a yes/no cell).
const std::vector<std::string>& ImportFields();

// HEADER=FIELD pairs of a --map flag ("Tên=full_name,STT=-"): FIELD a field
// of ImportFields, its column's name alone ("full_name"), or "-" (ignored).
// INVALID_ARGUMENT naming a pair that is not one.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseImportMap(
    std::string_view flag);

// The field of each header: the user's mapping first (matched without
// diacritics or case), else the default for the header's words, else ""
// (ignored). INVALID_ARGUMENT for a mapping naming no header or two
// columns filling the same field.
absl::StatusOr<std::vector<std::string>> MapColumns(
    const std::vector<std::string>& headers,
    const std::vector<std::pair<std::string, std::string>>& user);

// A cell as `case new` takes it for `field`: trimmed; a date dd/mm/yyyy
// (or d/m/yyyy, with - or .) as YYYY-MM-DD; sex, intake channel and
// exploitation in Vietnamese words as their values. Other text unchanged.
std::string CellForField(std::string_view field, std::string_view cell);

// A yes/no cell ("có", "x", "yes", "1" / "", "không", "no", "0");
// INVALID_ARGUMENT otherwise.
absl::StatusOr<bool> YesNoCell(std::string_view cell);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_IMPORT_MAP_H_
