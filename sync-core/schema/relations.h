// The domain relations the schema declares (TableDef::case_relation,
// owner, grants_case_to, urgent_when, restriction), answered in one place:
// which case a row belongs to, which office owns it, whether a write is
// urgent, whether a row is restricted. The node, the key ring, the hub's
// scope and the daemon's urgent lane read them here instead of naming
// tables and values themselves.
#ifndef FIELDSYNC_SCHEMA_RELATIONS_H_
#define FIELDSYNC_SCHEMA_RELATIONS_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "change/value.h"
#include "schema/schema.h"

namespace fieldsync {

// The declared relation of `table` to its case. INVALID_ARGUMENT for a table
// the schema does not declare: a row of it belongs to no one known, and
// every caller refuses it (fail closed).
absl::StatusOr<CaseRelation> CaseRelationOf(const Schema& schema, std::string_view table);

// The table whose rows are cases (CaseLink::kSelf), nullptr if none is.
const TableDef* CasesTable(const Schema& schema);

// What a row's own values say of the case it belongs to.
struct RowCase {
  enum class Kind {
    kNone,     // no case (a directory entry; a row whose case column is NULL)
    kCase,     // the case `case_id`
    kNamedBy,  // the cases whose column `naming_column` names the row: a lookup
  };
  Kind kind = Kind::kNone;
  RowId case_id;                      // kCase
  std::string_view naming_column = {};  // kNamedBy: the column of cases
};

// The value of one of the row's columns, nullptr when the caller has none
// for it (read as NULL).
using ColumnValue = std::function<const Value*(std::string_view column)>;

// The case row `row` of `table` belongs to, from its values: the row itself
// for a case, the id its case column holds (NULL: none), the cases naming
// it (to be looked up by the caller, in its replica or the hub's tables)
// for a case's person, none for a directory. INVALID_ARGUMENT for an
// undeclared table or a case column holding anything but NULL or an id.
absl::StatusOr<RowCase> CaseOfRow(const Schema& schema, std::string_view table, const RowId& row,
                                  const ColumnValue& value);

// The declared owner of `table`'s rows. INVALID_ARGUMENT for a table the
// schema does not declare: a row of it is no office's, and every caller
// refuses or hides it (fail closed).
absl::StatusOr<OwnerRelation> OwnerOf(const Schema& schema, std::string_view table);

// Whether `table` is of the shared directory (OwnerLink::kShared): every
// office sees and writes its rows. False for an undeclared table.
bool IsShared(const Schema& schema, std::string_view table);

// The tables a key ring can be a row of: those with a column sealed (always
// or when restricted), in schema order. A row of a case's file that is no
// ring itself (CaseLink::kColumn) may still be one for part of its columns
// (a referral's letter).
std::vector<std::string> KeyRingTables(const Schema& schema);

// The key ring a sealed field of row `row` of `table` is sealed under: the
// row itself for cases, persons, contacts and services, and for a
// referral's letter (referral::SealedUnderReferral); for the other fields
// of a case's file (CaseLink::kColumn: referrals, consents) the case its
// case column names. `row_value`: what a column of the row will hold once
// the write is stored. FAILED_PRECONDITION when such a row names no case
// (its sensitive fields have no key); INVALID_ARGUMENT for a table the
// schema does not declare.
absl::StatusOr<RowId> KeyRingOfField(
    const Schema& schema, std::string_view table, const RowId& row, std::string_view column,
    const std::function<absl::StatusOr<Value>(std::string_view column)>& row_value);

// Whether writing `value` to `column` of `table` makes the commit urgent:
// one of the table's urgent_when, on the column itself or on a clear column
// derived from it (the coarse copy written in the same change: a crime
// report's hour is the urgent sign of its sealed exact time). False for an
// undeclared table or column.
bool IsUrgentWrite(const Schema& schema, std::string_view table, std::string_view column,
                   const Value& value);

// Whether a row whose restriction column holds `value` is restricted (NULL
// or another value: it is not).
bool IsRestricted(const Value& value);

// OK if the declared relations name columns that exist with the right
// type: a case column an id, a naming column an id of cases, an owner
// column and a granting column clear text (an owner of its case, a granting
// column and a listing only where they mean something), an urgent column
// and its value allowed, a restriction an enum that allows
// kRestrictedValue. INTERNAL naming the first that does not otherwise.
absl::Status CheckRelations(const Schema& schema);

}  // namespace fieldsync

#endif  // FIELDSYNC_SCHEMA_RELATIONS_H_
