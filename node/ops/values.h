// Values as people type and read them: the text typed for a column, checked
// and converted as the schema wants it stored (dates, enums, codes, ...),
// and a stored value shown as text.
#ifndef FIELDSYNC_NODE_OPS_VALUES_H_
#define FIELDSYNC_NODE_OPS_VALUES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/value.h"
#include "schema/schema.h"
#include "store/replica.h"

namespace fieldsync::node::ops {

struct Office;

// A field's value as a person reads it ("" for null, an id as its text).
std::string ShowValue(const Value& v);
// The text of a text value, else "".
std::string TextOf(const Value& v);
// The id a 16-byte value holds, else nullopt.
std::optional<RowId> IdOf(const Value& v);
// An id as the value of an id column.
Value IdValue(const RowId& id);

// OK if `s` is a date YYYY-MM-DD; else INVALID_ARGUMENT naming `what`, with
// today's date as the example.
absl::Status CheckDate(const Office& o, const std::string& s, const std::string& what);

// The text a person typed for column `c` of `t`, as the schema wants it
// stored: NFC; enums lower case ("" clears: null); enum sets in declaration
// order; integers, yes/no, times (now, YYYY-MM-DD[THH:MM]) converted;
// province and nationality codes upper case and checked; dates of what
// already happened not in the future. INVALID_ARGUMENT saying what to give.
absl::StatusOr<Value> ParseColumnValue(const Office& o, const TableDef& t, const ColumnDef& c,
                                       const std::string& raw);

// NameRequired (office.h) if `column` of `table` is the victim's full name
// and `v` empties it (null, or text of blanks only); else OK.
absl::Status CheckRequired(std::string_view table, std::string_view column, const Value& v);

// Text as a person typed it for columns of a table, in the order given
// ("" clears, as in ParseColumnValue).
using TypedColumns = std::vector<std::pair<std::string, std::string>>;

// Each of `typed` parsed for its column of `t` and appended to `out`, in
// order; INVALID_ARGUMENT for a column `t` lacks or a value it refuses.
absl::Status ParseTypedColumns(const Office& o, const TableDef& t, const TypedColumns& typed,
                               LocalTxn::Fields* out);

// The age band of the anonymised figures ("12-15", "50+").
std::string AgeBand(int64_t age);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_VALUES_H_
