#include "change/commit.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/tuning.h"

namespace fieldsync {

std::string Version::ToString() const {
  return absl::StrCat(hlc.ToString(), "@", device.ToString());
}

std::string Commit::Name() const { return absl::StrCat(author.ToString(), "#", seq); }

absl::Status ValidateCommit(const Schema& schema, const Commit& commit) {
  auto bad = [&](const std::string& where, const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid commit ", commit.Name(), where, ": ", what));
  };
  if (commit.author.is_nil()) return bad("", "the author device id is nil");
  if (commit.seq == 0) return bad("", "sequence numbers start at 1");
  if (commit.hlc.is_zero()) return bad("", "the timestamp is zero");
  if (commit.changes.empty()) return bad("", "it changes nothing");
  if (commit.changes.size() > tuning::kMaxRowChangesPerCommit) {
    return bad("", absl::StrCat(commit.changes.size(), " row changes, the limit is ",
                                tuning::kMaxRowChangesPerCommit));
  }
  absl::flat_hash_set<std::pair<std::string, RowId>> rows;
  for (size_t i = 0; i < commit.changes.size(); ++i) {
    const RowChange& rc = commit.changes[i];
    const std::string where = absl::StrCat(", change ", i, " (", rc.table, " ",
                                           rc.row.ToString(), ")");
    const TableDef* table = schema.FindTable(rc.table);
    if (table == nullptr) return bad(where, absl::StrCat("unknown table \"", rc.table, "\""));
    if (rc.row.is_nil()) return bad(where, "malformed row id: the nil id is not a row");
    if (!rows.insert({rc.table, rc.row}).second) {
      return bad(where, "the row is changed twice in one commit");
    }
    if (rc.fields.empty()) return bad(where, "no field is written");
    if (rc.fields.size() > tuning::kMaxFieldsPerRowChange) {
      return bad(where, absl::StrCat(rc.fields.size(), " fields, the limit is ",
                                     tuning::kMaxFieldsPerRowChange));
    }
    absl::flat_hash_set<std::string> columns;
    for (const FieldWrite& f : rc.fields) {
      const std::string fwhere = absl::StrCat(where, ", field ", f.column);
      if (!columns.insert(f.column).second) return bad(fwhere, "the field is written twice");
      absl::Status vs;
      if (f.column == kLiveColumn) {
        vs = ValidateLiveValue(*table, f.value);
      } else {
        const ColumnDef* col = table->FindColumn(f.column);
        if (col == nullptr) {
          return bad(fwhere, absl::StrCat("unknown column \"", f.column, "\" in table ",
                                          rc.table));
        }
        vs = ValidateValue(*table, *col, f.value);
      }
      if (!vs.ok()) return bad(fwhere, std::string(vs.message()));
      if (f.base && !(f.base->hlc < commit.hlc)) {
        return bad(fwhere, "its base version is not older than the commit");
      }
      if (f.base && f.base->device.is_nil()) return bad(fwhere, "malformed base: nil device");
      if (f.resolves.size() > tuning::kMaxResolvesPerField) {
        return bad(fwhere, absl::StrCat("resolves ", f.resolves.size(),
                                        " versions, the limit is ",
                                        tuning::kMaxResolvesPerField));
      }
      for (const Version& r : f.resolves) {
        if (!(r.hlc < commit.hlc)) {
          return bad(fwhere, "it resolves a version that is not older than the commit");
        }
        if (r.device.is_nil()) return bad(fwhere, "malformed resolved version: nil device");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace fieldsync
