// References as people type them: a full id, the start of one (at least 4
// hex digits, unambiguous), a case code, or a directory entry's name.
#ifndef FIELDSYNC_NODE_OPS_RESOLVE_H_
#define FIELDSYNC_NODE_OPS_RESOLVE_H_

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "node/ops/office.h"

namespace fieldsync::node::ops {

// The live row of `table` that `ref` names: its id or the start of it, or
// for cases its case code (any letter case). NOT_FOUND saying where to look
// (`what`: "case", "consent", ...); INVALID_ARGUMENT if it names several.
absl::StatusOr<RowId> Resolve(const Office& o, std::string_view table, const std::string& ref,
                              std::string_view what);

// A directory entry (organisations, services) by id or its start, else by
// name: exact (diacritics and case aside), else the one name containing
// every word given. A sealed name (a restricted service) matches only where
// it opens. `noun`: org, service.
absl::StatusOr<RowId> ResolveByName(const Office& o, const std::string& table,
                                    const std::string& ref, const std::string& noun);
absl::StatusOr<RowId> ResolveOrg(const Office& o, const std::string& ref);

// Any record: a case (code or id), else the first table with a row whose
// id starts so. The table and the id.
absl::StatusOr<std::pair<std::string, RowId>> ResolveAnyRow(const Office& o,
                                                            const std::string& ref);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_RESOLVE_H_
