#include "node/ops/conflicts.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "node/ops/messages.h"
#include "node/ops/resolve.h"
#include "node/ops/values.h"
#include "store/row_case.h"

namespace fieldsync::node::ops {

absl::StatusOr<ConflictList> ListConflicts(const Office& o, Access access) {
  FS_ASSIGN_OR_RETURN(std::vector<ConflictRecord> all, o.replica.Conflicts());
  ConflictList out;
  std::vector<std::pair<RowId, std::vector<std::string>>> accesses;
  for (const ConflictRecord& k : all) {
    FS_ASSIGN_OR_RETURN(auto row, o.Get(k.table, k.row));
    ConflictLine line;
    line.table = k.table;
    line.row = k.row;
    line.field = k.column;
    line.current = "(deleted)";
    OpenedField cur;
    if (row && k.column != kLiveColumn) {
      cur = o.Open(*row, k.table, k.column);
      line.current = Office::Shown(cur);
      const int ci = o.Table(k.table).ColumnIndex(k.column);
      line.current_state = cur.state;
      if (ci >= 0 && row->versions[static_cast<size_t>(ci)]) {
        const Version& v = row->versions[static_cast<size_t>(ci)]->version;
        line.current_device = o.DeviceName(v.device);
        line.current_millis = static_cast<int64_t>(v.hlc.wall_millis());
        line.current_by = absl::StrCat(o.DeviceName(v.device), " at ",
                                       FormatTimeMillis(static_cast<int64_t>(v.hlc.wall_millis())));
      }
    } else if (row) {
      line.current = row->live ? "live" : "deleted";
    }
    std::optional<RowId> case_of;  // for the access log and the code shown
    if (row) {
      FS_ASSIGN_OR_RETURN(case_of, CaseOfRecord(o.replica, k.table, *row));
    }
    if (case_of) {
      auto kr = o.Get("cases", *case_of);
      if (kr.ok() && *kr) line.case_code = o.Clear(**kr, "cases", "case_code");
    }
    OpenedField other = k.column == kLiveColumn
                            ? OpenedField{State::kClear, k.value, ""}
                            : o.keys.Read(k.table, k.row, k.column, k.value, k.version);
    out.masked |= other.state == State::kLocked || cur.state == State::kLocked;
    line.other = Office::Shown(other);
    line.other_state = other.state;
    line.other_device = o.DeviceName(k.version.device);
    line.other_millis = static_cast<int64_t>(k.version.hlc.wall_millis());
    line.other_by = absl::StrCat(o.DeviceName(k.version.device), " at ",
                                 FormatTimeMillis(static_cast<int64_t>(k.version.hlc.wall_millis())));
    // Opening either value of a case's sealed field is an access (a person
    // no case names is logged under the person's id).
    if ((other.state == State::kOpened || cur.state == State::kOpened) &&
        (k.table == "cases" || k.table == "persons" || k.table == "referrals")) {
      accesses.push_back({case_of ? *case_of : k.row, {absl::StrCat(k.table, ".", k.column)}});
    }
    out.conflicts.push_back(std::move(line));
  }
  FS_RETURN_IF_ERROR(o.AuditMany(accesses, std::string(AccessAction(access))));
  return out;
}

absl::StatusOr<ResolvedConflict> ResolveConflict(const Office& o, const ConflictResolution& in) {
  FS_ASSIGN_OR_RETURN(auto target, ResolveAnyRow(o, in.row_ref));
  auto [table, row_id] = target;
  const std::string& column = in.field;
  // A case code with a field of the victim: the case's person.
  if (table == "cases" && o.Table("cases").FindColumn(column) == nullptr &&
      o.Table("persons").FindColumn(column) != nullptr) {
    FS_ASSIGN_OR_RETURN(Row kase, o.MustGet("cases", row_id));
    auto pid = IdOf(o.Stored(kase, "cases", "person_id"));
    if (!pid) return Coded(Refused("this case names no person"), Msg::kCaseNoPerson);
    table = "persons";
    row_id = *pid;
  }
  FS_ASSIGN_OR_RETURN(std::vector<ConflictRecord> records, o.replica.Conflicts(table, row_id));
  std::vector<ConflictRecord> mine;
  for (const ConflictRecord& k : records) {
    if (k.column == column) mine.push_back(k);
  }
  if (mine.empty()) {
    return Coded(
        absl::NotFoundError(absl::StrCat("no conflict on field \"", column, "\" of that ", table,
                                         " record: fieldnode conflict "
                                         "list shows the open ones. Nothing was changed")),
        Msg::kNoConflict, {{"field", absl::StrCat(table, ".", Printable(column))}});
  }
  if (column == kLiveColumn) {
    return Coded(Refused("a conflict between a deletion and an edit is resolved with fieldnode "
                         "case delete, or by editing the record again"),
                 Msg::kConflictDeletion);
  }
  FS_ASSIGN_OR_RETURN(Row row, o.MustGet(table, row_id));
  const TableDef& t = o.Table(table);
  Value value;
  if (in.keep == Keep::kValue) {
    FS_ASSIGN_OR_RETURN(value, ParseColumnValue(o, t, *t.FindColumn(column), in.value));
    FS_RETURN_IF_ERROR(CheckRequired(table, column, value));
  } else {
    if (in.keep == Keep::kOther && mine.size() > 1) {
      return Coded(absl::InvalidArgumentError(absl::StrCat(
                       mine.size(),
                       " other values are in conflict with this field: write the one to keep "
                       "with --value TEXT")),
                   Msg::kConflictSeveral, {{"count", absl::StrCat(mine.size())}});
    }
    // A sealed value is opened and written anew, sealed again under the
    // case's current key.
    OpenedField f = in.keep == Keep::kCurrent
                        ? o.Open(row, table, column)
                        : o.keys.Read(table, row_id, column, mine[0].value, mine[0].version);
    if (f.state != State::kClear && f.state != State::kOpened) {
      return Coded(
          absl::FailedPreconditionError(absl::StrCat(
              "the value to keep cannot be opened here (", f.problem.empty() ? "locked" : f.problem,
              "): ", o.unlock_hint, ". Nothing was changed")),
          Msg::kConflictSealed);
    }
    value = f.value;
  }
  FS_RETURN_IF_ERROR(o.Commit(LocalTxn().Resolve(table, row_id, column, value)));
  return ResolvedConflict{table, row_id, column};
}

}  // namespace fieldsync::node::ops
