// The case a stored row belongs to, in a replica: the schema's declared
// relation (schema/relations.h) with the lookup it may need done here.
#ifndef FIELDSYNC_STORE_ROW_CASE_H_
#define FIELDSYNC_STORE_ROW_CASE_H_

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "store/replica.h"

namespace fieldsync {

// The case `row` of `table` belongs to (schema/relations.h, CaseOfRow): the
// case itself, the case its case column names, nullopt for a row of no
// case. A case's person belongs to the first case naming them, deleted ones
// included (live ones first); a person no case names (any more) is their
// own file, under their own key ring: the person's id. INVALID_ARGUMENT
// for a table the schema does not declare.
absl::StatusOr<std::optional<RowId>> CaseOfRecord(Replica& replica, std::string_view table,
                                                  const Row& row);

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_ROW_CASE_H_
