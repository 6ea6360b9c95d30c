// The state digest: a hash of the replicated state that two replicas holding
// the same commits share, whatever the order they received them in.
#include "store/replica_impl.h"

#include "absl/strings/str_format.h"
#include "store/state_digest.h"

namespace fieldsync {

absl::StatusOr<std::string> Replica::StateDigest() {
  Impl& m = *impl_;
  StateHasher h;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    for (size_t ti = 0; ti < m.schema->tables().size(); ++ti) {
      const TableDef& t = m.schema->tables()[ti];
      h.Table(t.name);
      std::string cols;
      for (const ColumnDef& c : t.columns) absl::StrAppend(&cols, ", ", Quote(c.name));
      FS_ASSIGN_OR_RETURN(auto st,
                          m.db->Prepared(absl::StrCat("SELECT id, _live, _ver", cols, " FROM ",
                                                      Quote(t.name), " ORDER BY id")));
      const size_t n = t.columns.size() + 1;
      std::vector<SlotMeta> slots;
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        h.Row(st->ColumnBlob(0));
        FS_RETURN_IF_ERROR(DecodeRowMeta(st->ColumnBlob(2), n, &slots));
        for (size_t i = 0; i < n; ++i) {
          const std::optional<FieldVersion> fv = m.ToFieldVersion(slots[i]);
          h.Slot(st->ColumnValue(i == 0 ? 1 : static_cast<int>(i + 2)),
                 fv ? std::optional<Version>(fv->version) : std::nullopt,
                 fv ? fv->base : std::nullopt);
        }
      }
    }
    h.Conflicts();
    FS_ASSIGN_OR_RETURN(std::vector<ConflictRecord> conflicts, Conflicts());
    for (const ConflictRecord& c : conflicts) {
      h.Conflict(c.table, c.row.view(), c.column, c.version, c.base, c.value);
    }
    return absl::OkStatus();
  }));
  return h.HexDigest();
}

}  // namespace fieldsync
