// A row installed whole over one this replica holds: merged field by field
// with the rule every commit's write follows (merge/merge.h), never put in
// its place. The hub serves a row whole when it becomes visible to the node
// after its cursor (a referral), and again after the node's cursor went
// back (a hub restored from a backup): that copy may be older than the
// node's, which has since applied newer commits it will then skip as held.
#include "merge/merge.h"
#include "store/replica_impl.h"

namespace fieldsync {
namespace {

std::string_view ColumnOf(const TableDef& t, size_t slot) {
  return slot == 0 ? std::string_view(kLiveColumn) : std::string_view(t.columns[slot - 1].name);
}

}  // namespace

absl::StatusOr<bool> Replica::Impl::MergeInstalled(const TableDef& t, const RowId& row,
                                                   const RowState& held, RowState& installed,
                                                   std::vector<bool>* held_wins) {
  bool changed = false;
  held_wins->assign(installed.slots.size(), false);
  for (size_t slot = 0; slot < installed.slots.size(); ++slot) {
    const SlotMeta& mine = held.slots[slot];
    const SlotMeta& theirs = installed.slots[slot];
    const std::optional<FieldVersion> current = ToFieldVersion(mine);
    const std::optional<FieldVersion> incoming = ToFieldVersion(theirs);
    // A field held at a newer version, by another device, stays with its
    // conflict records. Else the installed copy's, as when a row was put in
    // place of the one held: on a tie (the values and records the hub
    // serves of that version, which then count as served, not as verified
    // or witnessed here), and over this laptop's own writes, which the
    // replay of its unpushed work brings back after the install
    // (ReplayUnpushed) and which a set-aside or discarded one must not
    // outlive (docs/PROTOCOL.md, "Refresh on discard").
    const bool held_newer = current && incoming && current->version > incoming->version &&
                            mine.device != self_idx;
    if (incoming && !held_newer) {
      changed = true;
      continue;
    }
    if (!current) continue;
    (*held_wins)[slot] = true;
    installed.slots[slot] = mine;
    installed.values[slot] = held.values[slot];
  }
  // The held conflict records of the fields the installed copy won go; the
  // others stay (the installed copy's of those fields are not added).
  FS_ASSIGN_OR_RETURN(auto drop, db->Prepared("DELETE FROM _fs_conflicts WHERE tbl = ?1 AND "
                                              "row = ?2 AND col = ?3"));
  for (size_t slot = 0; slot < installed.slots.size(); ++slot) {
    if ((*held_wins)[slot] || !held.slots[slot].set) continue;
    drop->Reset();
    drop->BindText(1, t.name);
    drop->BindBlob(2, row.view());
    drop->BindText(3, ColumnOf(t, slot));
    FS_RETURN_IF_ERROR(drop->Run());
  }
  return changed;
}

absl::Status Replica::Impl::CountConflicts(const TableDef& t, const RowId& row, RowState& rs) {
  for (size_t slot = 0; slot < rs.slots.size(); ++slot) {
    rs.slots[slot].conflicts = 0;
    if (!rs.slots[slot].set) continue;
    // A record of the winning version: the two copies decided differently
    // which write lost; the field shows that write, as its value.
    const Version winner = ToVersion(rs.slots[slot].hlc, rs.slots[slot].device);
    sqlite::Stmt* st = delete_conflict_;
    st->Reset();
    st->BindText(1, t.name);
    st->BindBlob(2, row.view());
    st->BindText(3, ColumnOf(t, slot));
    st->BindInt(4, static_cast<int64_t>(winner.hlc.packed()));
    st->BindBlob(5, winner.device.view());
    FS_RETURN_IF_ERROR(st->Run());
  }
  FS_ASSIGN_OR_RETURN(auto count, db->Prepared("SELECT col, count(*) FROM _fs_conflicts WHERE "
                                               "tbl = ?1 AND row = ?2 GROUP BY col"));
  count->BindText(1, t.name);
  count->BindBlob(2, row.view());
  while (true) {
    FS_ASSIGN_OR_RETURN(bool more, count->Step());
    if (!more) break;
    const std::string col = count->ColumnString(0);
    const int ci = col == kLiveColumn ? -1 : t.ColumnIndex(col);
    const size_t slot = col == kLiveColumn ? 0 : static_cast<size_t>(ci) + 1;
    if (col != kLiveColumn && ci < 0) continue;
    rs.slots[slot].conflicts = static_cast<uint32_t>(count->ColumnInt(1));
  }
  return absl::OkStatus();
}

}  // namespace fieldsync
