#include "node/ops/set_aside.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "sync/messages.h"

namespace fieldsync::node::ops {
namespace {

absl::StatusOr<SetAsideItem> ItemOf(Replica& replica, const SetAsideRow& r) {
  SetAsideItem it;
  it.seq = r.seq;
  it.code = sync::RefusalCodeName(static_cast<sync::RefusalCode>(r.code));
  it.reason = r.reason;
  it.depends_on = r.depends_on;
  it.at_millis = r.at_millis;
  it.discarded = r.discarded_at_millis != 0;
  it.withdrawn = r.withdrawal != 0;
  // The commit itself stays in this laptop's log.
  FS_ASSIGN_OR_RETURN(std::vector<Commit> c, replica.LocalCommitsAfter(r.seq - 1, 1));
  if (c.empty() || c.front().seq != r.seq) return it;
  for (const RowChange& rc : c.front().changes) {
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica.Get(rc.table, rc.row));
    const bool held = row.has_value();
    it.rows_held += held ? 1 : 0;
    it.rows.push_back(absl::StrCat(rc.table, " ", rc.row.ToString(), held ? " (held here)" : ""));
  }
  return it;
}

}  // namespace

absl::StatusOr<std::vector<SetAsideItem>> ListSetAside(Replica& replica, bool all) {
  FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> rows, replica.SetAsideList());
  std::vector<SetAsideItem> out;
  for (const SetAsideRow& r : rows) {
    if (!all && r.discarded_at_millis != 0) continue;
    FS_ASSIGN_OR_RETURN(SetAsideItem it, ItemOf(replica, r));
    out.push_back(std::move(it));
  }
  return out;
}

absl::StatusOr<size_t> OpenSetAside(Replica& replica) {
  FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> rows, replica.SetAsideList());
  size_t n = 0;
  for (const SetAsideRow& r : rows) n += r.discarded_at_millis == 0 ? 1 : 0;
  return n;
}

absl::StatusOr<SetAsideItem> DiscardSetAside(Replica& replica, uint64_t seq, int64_t now_millis) {
  FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> rows, replica.SetAsideList());
  for (const SetAsideRow& r : rows) {
    if (r.seq != seq) continue;
    FS_ASSIGN_OR_RETURN(SetAsideItem it, ItemOf(replica, r));
    FS_RETURN_IF_ERROR(replica.DiscardSetAside(seq, now_millis));
    return it;
  }
  absl::Status none = replica.DiscardSetAside(seq, now_millis);  // its NOT_FOUND
  if (none.ok()) return absl::InternalError("a set-aside commit discarded twice over");
  return none;
}

}  // namespace fieldsync::node::ops
