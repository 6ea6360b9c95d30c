#include "store/row_case.h"

#include <string>
#include <vector>

#include "base/status_macros.h"
#include "schema/relations.h"

namespace fieldsync {

absl::StatusOr<std::optional<RowId>> CaseOfRecord(Replica& replica, std::string_view table,
                                                  const Row& row) {
  const Schema& schema = replica.schema();
  const TableDef* t = schema.FindTable(table);
  FS_ASSIGN_OR_RETURN(
      const RowCase found,
      CaseOfRow(schema, table, row.id, [&](std::string_view column) -> const Value* {
        const int i = t == nullptr ? -1 : t->ColumnIndex(column);
        return i < 0 || static_cast<size_t>(i) >= row.values.size()
                   ? nullptr
                   : &row.values[static_cast<size_t>(i)];
      }));
  switch (found.kind) {
    case RowCase::Kind::kNone:
      return std::optional<RowId>();
    case RowCase::Kind::kCase:
      return std::optional<RowId>(found.case_id);
    case RowCase::Kind::kNamedBy:
      break;
  }
  const TableDef* cases = CasesTable(schema);
  if (cases == nullptr) return std::optional<RowId>(row.id);
  FS_ASSIGN_OR_RETURN(std::vector<RowId> naming,
                      replica.RowsWhere(std::string(cases->name), std::string(found.naming_column),
                                        Value::Bytes(std::string(row.id.view())),
                                        /*include_deleted=*/true));
  return std::optional<RowId>(naming.empty() ? row.id : naming.front());
}

}  // namespace fieldsync
