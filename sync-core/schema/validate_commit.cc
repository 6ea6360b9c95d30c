#include "schema/validate_commit.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/tuning.h"

namespace fieldsync {

absl::Status ValidateCommit(const Schema& schema, const Commit& commit) {
  // Error text is built only on the error path: this runs for every commit
  // a replica applies.
  auto bad = [&](const std::string& where, const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid commit ", commit.Name(), where, ": ", what));
  };
  auto at_row = [&](size_t i) {
    const RowChange& rc = commit.changes[i];
    return absl::StrCat(", change ", i, " (", rc.table, " ", rc.row.ToString(), ")");
  };
  auto at_field = [&](size_t i, const FieldWrite& f) {
    return absl::StrCat(at_row(i), ", field ", f.column);
  };
  if (commit.author.is_nil()) return bad("", "the author device id is nil");
  if (commit.seq == 0) return bad("", "sequence numbers start at 1");
  if (commit.hlc.is_zero()) return bad("", "the timestamp is zero");
  if (commit.changes.empty()) return bad("", "it changes nothing");
  if (commit.changes.size() > tuning::kMaxRowChangesPerCommit) {
    return bad("", absl::StrCat(commit.changes.size(), " row changes, the limit is ",
                                tuning::kMaxRowChangesPerCommit));
  }
  absl::flat_hash_set<std::pair<int, RowId>> rows;
  std::vector<bool> seen_column;
  for (size_t i = 0; i < commit.changes.size(); ++i) {
    const RowChange& rc = commit.changes[i];
    const int ti = schema.TableIndex(rc.table);
    if (ti < 0) return bad(at_row(i), absl::StrCat("unknown table \"", rc.table, "\""));
    const TableDef& table = schema.tables()[static_cast<size_t>(ti)];
    if (rc.row.is_nil()) return bad(at_row(i), "malformed row id: the nil id is not a row");
    if (!rows.insert({ti, rc.row}).second) {
      return bad(at_row(i), "the row is changed twice in one commit");
    }
    if (rc.fields.empty()) return bad(at_row(i), "no field is written");
    if (rc.fields.size() > tuning::kMaxFieldsPerRowChange) {
      return bad(at_row(i), absl::StrCat(rc.fields.size(), " fields, the limit is ",
                                         tuning::kMaxFieldsPerRowChange));
    }
    // Slot 0 is the liveness register, slot c+1 column c.
    seen_column.assign(table.columns.size() + 1, false);
    for (const FieldWrite& f : rc.fields) {
      absl::Status vs;
      size_t slot = 0;
      if (f.column == kLiveColumn) {
        vs = ValidateLiveValue(table, f.value);
      } else {
        const int ci = table.ColumnIndex(f.column);
        if (ci < 0) {
          return bad(at_field(i, f), absl::StrCat("unknown column \"", f.column,
                                                  "\" in table ", rc.table));
        }
        slot = static_cast<size_t>(ci) + 1;
        vs = ValidateValue(table, table.columns[static_cast<size_t>(ci)], f.value);
      }
      if (seen_column[slot]) return bad(at_field(i, f), "the field is written twice");
      seen_column[slot] = true;
      if (!vs.ok()) return bad(at_field(i, f), std::string(vs.message()));
      if (f.base && !(f.base->hlc < commit.hlc)) {
        return bad(at_field(i, f), "its base version is not older than the commit");
      }
      if (f.base && f.base->device.is_nil()) {
        return bad(at_field(i, f), "malformed base: nil device");
      }
      if (f.resolves.size() > tuning::kMaxResolvesPerField) {
        return bad(at_field(i, f), absl::StrCat("resolves ", f.resolves.size(),
                                                " versions, the limit is ",
                                                tuning::kMaxResolvesPerField));
      }
      for (const Version& r : f.resolves) {
        if (!(r.hlc < commit.hlc)) {
          return bad(at_field(i, f), "it resolves a version that is not older than the commit");
        }
        if (r.device.is_nil()) return bad(at_field(i, f), "malformed resolved version: nil device");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace fieldsync
