// The declaration of the replicated tables: the one place that names them.
//
// Storage (store/), merge and validation read this declaration; no other list
// of column names exists. Every table implicitly has:
//   id     a 16-byte row id (UUIDv7), the primary key;
//   _live  the row's liveness register (1 = live, 0 = deleted), merged like a
//          field, so deletion is a tombstone with its own version.
#ifndef FIELDSYNC_SCHEMA_SCHEMA_H_
#define FIELDSYNC_SCHEMA_SCHEMA_H_

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "change/commit.h"  // kLiveColumn
#include "change/value.h"

namespace fieldsync {

// What a column holds. The storage class in commits and in SQLite follows.
enum class ColumnType {
  kText,       // UTF-8 text (Value::Text)
  kInteger,    // signed 64-bit (Value::Int)
  kBool,       // 0 or 1 (Value::Int)
  kId,         // a 16-byte row id of another table (Value::Bytes)
  kDate,       // calendar date "YYYY-MM-DD" (Value::Text)
  kTimestamp,  // milliseconds since the Unix epoch, UTC (Value::Int)
  kEnum,       // one of the column's allowed values (Value::Text)
  kEnumSet,    // allowed values joined by ',' in declaration order, no repeats (Value::Text)
};

// Who may read a column in clear. Sealing itself is the encryption issue's;
// the declaration is made now so that every layer reads it from one place.
enum class Sensitivity {
  kClear,      // travels in clear: routing, scope, national statistics
  kSensitive,  // identifies or describes a victim: sealed on the node
  kSensitiveWhenRestricted,  // sealed when the row's `restriction` is "restricted"
};

// How a clear column is derived from a sealed one (schema version 4): the
// clear copy keeps only what routing and reports need.
enum class Coarsen {
  kNone,
  kMonth,  // "YYYY-MM" of a kDate column
  kHour,   // a kTimestamp column truncated to the hour
};

struct ColumnDef {
  std::string_view name;
  ColumnType type;
  Sensitivity sensitivity;
  std::vector<std::string_view> allowed;  // kEnum / kEnumSet only
  int since_version;                      // schema version that added it
  std::string_view doc;
  // The schema version from which a column that was clear before is sealed
  // (0: as declared since it was added). Replicas and hubs may still hold
  // clear values written before it; the author's laptop rewrites them
  // sealed (docs/CRYPTO.md, "Fields sealed in schema version 4").
  int sealed_since = 0;
  // A clear column written by the replica itself, never by a caller: the
  // coarse copy of `derived_from`, written in the same change.
  std::string_view derived_from = {};
  Coarsen coarsen = Coarsen::kNone;
};

// How a table's rows belong to a case. A case's file (the case, its
// person, its referrals and consents) is what an office is granted sight
// of, what the case's key ring seals and what an erasure destroys.
enum class CaseLink {
  kNone,     // belongs to no case
  kSelf,     // a row is a case
  kColumn,   // a column of the row names its case (CaseRelation::column: cases.id)
  kNamedBy,  // the cases whose CaseRelation::column names the row (a case's person)
};

struct CaseRelation {
  CaseLink link = CaseLink::kNone;
  // kColumn: the row's column naming its case; kNamedBy: the column of
  // cases naming the row; empty otherwise.
  std::string_view column = {};
};

// Who owns a table's rows: the office that alone may delete them, move them
// to another province or change who may see them, under whose province the
// hub files what touched them, and whose office a key ring sealing them
// belongs to. What an office sees follows from it and the case relation.
enum class OwnerLink {
  kNone,    // not declared: no office owns, sees or writes its rows at the hub (fail closed)
  kShared,  // the shared directory: no owner; every office sees and writes its rows
  kColumn,  // the office its column OwnerRelation::column names (a province code)
  kCase,    // the owner of the case it belongs to (its CaseRelation is kColumn)
};

struct OwnerRelation {
  OwnerLink link = OwnerLink::kNone;
  // kColumn: the clear text column naming the owning office; empty otherwise.
  std::string_view column = {};
  // kColumn, a table of no case: whether every office sees its rows (a
  // directory entry an office keeps: a contact), all but those restricted
  // to their owner since their creation. False: its owner alone sees them.
  bool listed = false;
};

// One thing that makes a write urgent (pushed first, and it wakes a running
// daemon): `column` written with `value`, or with any value but NULL when
// `value` is empty.
struct UrgentWhen {
  std::string_view column;
  std::string_view value = {};
};

// The value of a restriction column that restricts its row (NULL: public).
inline constexpr std::string_view kRestrictedValue = "restricted";

struct TableDef {
  std::string_view name;
  std::string_view doc;
  std::vector<ColumnDef> columns;  // excludes the implicit id and _live

  // The domain relations (schema/relations.h reads them): the case a row
  // belongs to, what makes a write urgent, and the enum column whose value
  // kRestrictedValue restricts a row (empty: the table has none).
  CaseRelation case_relation = {};
  std::vector<UrgentWhen> urgent_when = {};
  std::string_view restriction = {};
  // Who owns the rows, and the clear text column of a row of a case
  // (CaseLink::kColumn) naming an office that gains sight of that case when
  // the row names it (a referral's receiving office; empty: none).
  OwnerRelation owner = {};
  std::string_view grants_case_to = {};

  // Index into `columns`, or -1.
  int ColumnIndex(std::string_view column) const;
  const ColumnDef* FindColumn(std::string_view column) const;
};

class Schema {
 public:
  explicit Schema(int version, std::vector<TableDef> tables);

  int version() const { return version_; }
  const std::vector<TableDef>& tables() const { return tables_; }
  // Index into tables(), or -1.
  int TableIndex(std::string_view table) const;
  const TableDef* FindTable(std::string_view table) const;

  // The lowest schema version whose replicas can take `value` written to
  // `table`.`column`, 0 when any can: a column added later
  // (since_version), or a sealed value (bytes) in a column not of ids
  // that was clear before `sealed_since`. An older replica refuses the
  // whole batch holding such a value, so the hub holds it back
  // (docs/PROTOCOL.md, "Nodes of an older schema").
  int VersionToTake(std::string_view table, std::string_view column, const Value& value) const;

 private:
  int version_;
  std::vector<TableDef> tables_;
  std::unordered_map<std::string_view, int> table_index_;
};

// The coarse clear value of `source` for `derived` (Coarsen): NULL for NULL
// or for a value that is not of the source's type.
Value CoarseValue(const ColumnDef& derived, const Value& source);

// The field-office schema at its current version (see schema/field_office.cc
// and docs/SCHEMA.md for the history of versions).
const Schema& FieldOfficeSchema();

std::string_view ColumnTypeName(ColumnType t);
std::string_view SensitivityName(Sensitivity s);

// OK if `value` may be stored in `column` of `table`: NULL always may;
// otherwise the storage class, and for text the encoding, length, date form
// or allowed values, must match. INVALID_ARGUMENT naming table.column, the
// value and what was expected otherwise.
absl::Status ValidateValue(const TableDef& table, const ColumnDef& column, const Value& value);

// The value of the liveness register must be 0 or 1.
absl::Status ValidateLiveValue(const TableDef& table, const Value& value);

}  // namespace fieldsync

#endif  // FIELDSYNC_SCHEMA_SCHEMA_H_
