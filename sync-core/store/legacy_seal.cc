#include "store/legacy_seal.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "crypto/envelope.h"
#include "schema/relations.h"
#include "store/replica_internal.h"
#include "store/sqlite.h"

namespace fieldsync {
namespace {

constexpr char kDoneCursor[] = "legacy:sealed";

// A value stored clear (a sealed one is an envelope in bytes).
bool IsClear(const Value& v) {
  return v.kind() == Value::Kind::kText || v.kind() == Value::Kind::kInt ||
         (v.kind() == Value::Kind::kBytes && !crypto::LooksSealed(v.str()));
}

}  // namespace

absl::StatusOr<int64_t> SealLegacyValues(Replica& replica, KeyRing& keys, size_t max_rows) {
  if (!keys.unlocked()) return 0;
  FS_ASSIGN_OR_RETURN(int64_t done, replica.GetCursor(kDoneCursor));
  if (done > 0) return 0;
  const DeviceId self = replica.device_id();
  struct Rewrite {
    std::string table;
    RowId row;
    LocalTxn::Fields fields;
  };
  std::vector<Rewrite> rewrites;
  size_t rows = 0;
  int64_t values = 0;
  bool more = false;
  for (const TableDef& t : replica.schema().tables()) {
    std::vector<size_t> cols;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const ColumnDef& c = t.columns[i];
      if (c.sealed_since > 0 && c.sensitivity != Sensitivity::kClear) cols.push_back(i);
    }
    if (cols.empty()) continue;
    // Candidates: live rows with a clear value in one of those columns.
    std::string where;
    for (size_t i : cols) {
      absl::StrAppend(&where, where.empty() ? "" : " OR ", "typeof(\"", AV(t.columns[i].name),
                      "\") IN ('text', 'integer')");
    }
    std::vector<RowId> ids;
    FS_RETURN_IF_ERROR(replica.ReadTransaction([&]() -> absl::Status {
      FS_ASSIGN_OR_RETURN(auto st, ReplicaInternal::Db(replica).Prepared(absl::StrCat(
                                       "SELECT id FROM \"", AV(t.name), "\" WHERE _live = 1 AND (",
                                       where, ")")));
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(0), "row"));
        ids.push_back(id);
      }
      return absl::OkStatus();
    }));
    const int restriction = t.restriction.empty() ? -1 : t.ColumnIndex(t.restriction);
    for (const RowId& id : ids) {
      FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica.Get(std::string(t.name), id));
      if (!row || !row->live) continue;
      const bool restricted =
          restriction >= 0 && IsRestricted(row->values[static_cast<size_t>(restriction)]);
      LocalTxn::Fields fields;
      for (size_t i : cols) {
        const Value& v = row->values[i];
        if (!IsClear(v) || !row->versions[i] || row->versions[i]->version.device != self) continue;
        if (t.columns[i].sensitivity == Sensitivity::kSensitiveWhenRestricted && !restricted) {
          continue;
        }
        fields.emplace_back(std::string(t.columns[i].name), v);
      }
      if (fields.empty()) continue;
      if (rows == max_rows) {
        more = true;
        break;
      }
      rewrites.push_back(Rewrite{std::string(t.name), id, std::move(fields)});
      ++rows;
    }
    if (more) break;
  }
  // Commits of tuning::kLegacySealRowsPerCommit rows. A commit refused as a whole (a row
  // whose keys were erased, a value too long to seal) is written row by
  // row, and a row that cannot be is left as it is (counted as not done):
  // one bad row never holds back the others.
  for (size_t from = 0; from < rewrites.size(); from += tuning::kLegacySealRowsPerCommit) {
    const size_t to = std::min(rewrites.size(), from + tuning::kLegacySealRowsPerCommit);
    LocalTxn batch;
    for (size_t i = from; i < to; ++i) {
      batch.Set(rewrites[i].table, rewrites[i].row, rewrites[i].fields);
    }
    if (replica.Write(batch).ok()) {
      for (size_t i = from; i < to; ++i) values += static_cast<int64_t>(rewrites[i].fields.size());
      continue;
    }
    for (size_t i = from; i < to; ++i) {
      LocalTxn one;
      one.Set(rewrites[i].table, rewrites[i].row, rewrites[i].fields);
      if (replica.Write(one).ok()) {
        values += static_cast<int64_t>(rewrites[i].fields.size());
      }
    }
  }
  // A row that could not be rewritten (its case erased: nothing can be
  // sealed under its keys again) is not tried at every pass.
  if (!more) FS_RETURN_IF_ERROR(replica.SetCursor(kDoneCursor, 1));
  return values;
}

}  // namespace fieldsync
