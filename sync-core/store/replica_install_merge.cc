// A row installed whole over one this replica holds (Replica::Impl::
// MergeInstalled), field by field: a field the copy holds newer (or at the
// version held) is the copy's, with its records, as when the row was put in
// place of the held one; a field held newer stays, and each write of the
// copy this replica has not applied is merged into it with the rule every
// commit's write follows (merge/merge.h). A hub put back from a backup
// serves its older copy of a referred case again after the node's cursor
// went back: replacing the held row with it took back fields the node held
// newer, whose commits the node then skipped as held when they came again
// (docs/MERGE.md, "Rows installed over held ones"). Where the copy's field
// is newer, a held write applied here that no write of the copy can have
// superseded stays as a record (docs/MERGE.md, "A held write older than the
// copy's field").
#include <algorithm>
#include <set>
#include <vector>

#include "merge/merge.h"
#include "store/replica_impl.h"

namespace fieldsync {

absl::StatusOr<bool> Replica::Impl::OwnSetAside(const Version& v) {
  if (v.device != self) return false;
  // Resolved: discarded or kept by an officer, or re-dated (its new commit
  // then holds the field). One still waiting stays, as this laptop's work
  // not at the hub does: re-dating rewrites only the rows that hold it.
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT 1 FROM _fs_log l JOIN _fs_set_aside s ON "
                                            "s.seq = l.seq WHERE l.device = ?1 AND l.hlc = ?2 "
                                            "AND s.discarded_at != 0"));
  st->BindInt(1, self_idx);
  st->BindInt(2, static_cast<int64_t>(v.hlc.packed()));
  return st->Step();
}

absl::StatusOr<std::vector<InstalledRecord>> Replica::Impl::HeldRecords(const TableDef& t,
                                                                       const RowId& row) {
  std::vector<InstalledRecord> out;
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT col, hlc, device, base_hlc, base_device, "
                                            "value FROM _fs_conflicts WHERE tbl = ?1 AND row = "
                                            "?2"));
  st->BindText(1, t.name);
  st->BindBlob(2, row.view());
  while (true) {
    FS_ASSIGN_OR_RETURN(bool more, st->Step());
    if (!more) break;
    const std::string col = st->ColumnString(0);
    const int ci = col == kLiveColumn ? -1 : t.ColumnIndex(col);
    if (col != kLiveColumn && ci < 0) continue;  // a column no longer declared
    InstalledRecord r;
    r.slot = col == kLiveColumn ? 0 : static_cast<size_t>(ci) + 1;
    r.version.hlc = Hlc::FromPacked(static_cast<uint64_t>(st->ColumnInt(1)));
    FS_ASSIGN_OR_RETURN(r.version.device, Id16::FromBytes(st->ColumnBlob(2), "conflict device"));
    if (!st->ColumnIsNull(3)) {
      Version b;
      b.hlc = Hlc::FromPacked(static_cast<uint64_t>(st->ColumnInt(3)));
      FS_ASSIGN_OR_RETURN(b.device, Id16::FromBytes(st->ColumnBlob(4), "conflict base device"));
      r.base = b;
    }
    r.value = st->ColumnValue(5);
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<FieldHistory> Replica::Impl::HistoryOf(
    std::string_view table, const RowId& row, std::string_view column,
    const std::optional<FieldVersion>& winner, const std::vector<InstalledRecord>& records) {
  FieldHistory h;
  std::vector<Version> queue;
  if (winner) queue.push_back(winner->version);
  for (const InstalledRecord& r : records) queue.push_back(r.version);
  for (const Version& v : queue) h.seen.insert(v);
  // Bounded: a field's history walked back this far is older than any
  // copy a hub put back from a backup serves.
  constexpr size_t kMaxSteps = 256;
  for (size_t i = 0; i < queue.size() && i < kMaxSteps; ++i) {
    const Version v = queue[i];
    FS_ASSIGN_OR_RETURN(std::optional<FieldWrite> w, LoggedWrite(v, table, row, column));
    if (!w) {
      // Came in a row installed whole: its history is that install's.
      if (!h.unlogged || *h.unlogged < v) h.unlogged = v;
      continue;
    }
    std::vector<Version> earlier = w->resolves;
    if (w->base) earlier.push_back(*w->base);
    for (const Version& e : earlier) {
      if (h.seen.insert(e).second) queue.push_back(e);
    }
  }
  // The winner's line: its base is known from the row even when it came
  // installed; each earlier one's from the log.
  if (winner) {
    Version v = winner->version;
    std::optional<Version> base = winner->base;
    for (size_t i = 0; i < kMaxSteps; ++i) {
      h.line.insert(v);
      if (!base) break;
      v = *base;
      FS_ASSIGN_OR_RETURN(std::optional<FieldWrite> w, LoggedWrite(v, table, row, column));
      if (!w) {
        h.line.insert(v);
        break;
      }
      base = w->base;
    }
  }
  return h;
}

absl::Status Replica::Impl::KeepHeldWritesTheCopyLacks(
    const TableDef& t, const RowId& row, size_t slot, const FieldVersion& held_field,
    const Value& held_value, const std::vector<InstalledRecord>& held_field_records,
    const FieldVersion& copy_field, std::vector<InstalledRecord>& records) {
  // A write of the copy supersedes a held one only through a line of bases
  // and resolutions, and a write's base is never older than what it
  // supersedes (a resolution's base is the winner it saw, newer than the
  // records it resolved): so where every base the copy shows is older than
  // a held write, nothing the hub holds superseded that write, and a write
  // between two versions, which a copy does not show, cannot have either
  // (the reason the copy's records alone were taken: 22 of 2,000 schedules
  // showed records no other laptop had when the two sets were merged).
  std::optional<Version> newest_base = copy_field.base;
  for (const InstalledRecord& r : records) {
    if (r.base && (!newest_base || *newest_base < *r.base)) newest_base = r.base;
  }
  std::vector<InstalledRecord> held_writes = held_field_records;
  held_writes.push_back({slot, held_field.version, held_field.base, held_value, true});
  const std::string_view column = SlotColumn(t, slot);
  std::vector<InstalledRecord> kept;
  for (const InstalledRecord& h : held_writes) {
    if (newest_base && !(*newest_base < h.version)) continue;
    if (copy_field.version == h.version) continue;
    const bool in_copy = std::any_of(records.begin(), records.end(), [&](const InstalledRecord& c) {
      return c.version == h.version;
    });
    if (in_copy) continue;
    // Only a write a commit applied here brought: this laptop skips that
    // commit as held when its author sends it again, so the record would be
    // lost here alone. One an earlier install brought is the copy's to say.
    FS_ASSIGN_OR_RETURN(std::optional<FieldWrite> logged,
                        LoggedWrite(h.version, t.name, row, column));
    if (!logged) continue;
    FS_ASSIGN_OR_RETURN(const bool own_refused, OwnSetAside(h.version));
    if (own_refused) continue;
    InstalledRecord k = h;
    k.winner = false;
    k.value = logged->value;
    kept.push_back(std::move(k));
  }
  for (InstalledRecord& k : kept) records.push_back(std::move(k));
  return absl::OkStatus();
}

absl::StatusOr<InstallMarks> Replica::Impl::MergeInstalled(size_t tidx, const RowId& row,
                                                           const RowState& held,
                                                           RowState& installed,
                                                           std::vector<InstalledRecord>& records,
                                                           const InstallMarks& batch) {
  const TableDef& t = schema->tables()[tidx];
  FS_ASSIGN_OR_RETURN(std::vector<InstalledRecord> held_records, HeldRecords(t, row));
  FS_ASSIGN_OR_RETURN(const int provenance, ProvenanceOf(t.name, row));
  const bool held_vouched = provenance != 2;
  const bool installed_before = provenance != 0;
  // Something of the copy went in (the row differs from the one held): the
  // row is then as the hub served it.
  bool from_copy = false;
  // A field stays the held one, newer than the copy's (or the copy lacks
  // it).
  bool held_stays = false;
  std::vector<InstalledRecord> merged_records;
  for (size_t slot = 0; slot < installed.slots.size(); ++slot) {
    const std::optional<FieldVersion> copy_field = ToFieldVersion(installed.slots[slot]);
    std::vector<InstalledRecord> copy_records;
    for (const InstalledRecord& r : records) {
      if (r.slot == slot) copy_records.push_back(r);
    }
    const std::optional<FieldVersion> held_field = ToFieldVersion(held.slots[slot]);
    std::vector<InstalledRecord> held_field_records;
    for (const InstalledRecord& r : held_records) {
      if (r.slot == slot) held_field_records.push_back(r);
    }
    std::optional<FieldVersion> winner = held_field;
    Value value = held.values[slot];
    std::vector<InstalledRecord> field_records = held_field_records;
    // This laptop's own write the hub refused (set aside), once resolved,
    // does not outlive an install: the field is the copy's, or unset if the
    // copy has none (docs/PROTOCOL.md, "Refresh on discard": a field it
    // could not put back takes the hub's state here).
    bool own_refused = false;
    if (held_field) {
      FS_ASSIGN_OR_RETURN(own_refused, OwnSetAside(held_field->version));
    }
    if (own_refused || !held_field ||
        (copy_field && copy_field->version > held_field->version)) {
      // The copy's field is newer (or nothing is held of it): it holds
      // every write of the field up to its position, the held one too if
      // the hub had it (else superseded there); taken with its records, as
      // a row put in place of the held one was.
      winner = copy_field;
      value = installed.values[slot];
      field_records = copy_records;
      if (!own_refused && held_field) {
        FS_RETURN_IF_ERROR(KeepHeldWritesTheCopyLacks(t, row, slot, *held_field,
                                                      held.values[slot], held_field_records,
                                                      *copy_field, field_records));
      }
    } else if (copy_field && copy_field->version == held_field->version) {
      // The version held. Paired with another value: a hub's lie if a
      // commit in the log wrote the value held (this laptop's own, or a
      // colleague's it pulled), which stays; else the copy's value is
      // taken (the hub's word either way) and the row counts as served.
      // Its records are the copy's, and each held one whose write a commit
      // applied here brought: the copy, holding the same winner, cannot
      // have resolved it, so a hub put back from a backup lost its commit,
      // which this laptop skips as held when it comes again (FIELDSYNC_SIM_
      // SEED=13600282762158962425). One an earlier install brought is the
      // copy's to say: its commit, never applied here, still comes in.
      if (!(installed.values[slot] == value)) {
        FS_ASSIGN_OR_RETURN(std::optional<FieldWrite> logged,
                            LoggedWrite(held_field->version, t.name, row, SlotColumn(t, slot)));
        if (!(logged && logged->value == value)) {
          value = installed.values[slot];
          winner = copy_field;  // its base too
        }
      }
      // Not one a write of the copy names as its base, a write this laptop
      // neither holds nor logged (a losing edit over it: at the hub it
      // replaced the record, and its commit, inside the row, is skipped
      // here; attack review 26, MED 1). A losing resolution of it cannot be
      // seen in a copy: the record then stays at this laptop, the safe side.
      // Its value is the one its commit wrote (attack review 26, LOW 1).
      std::vector<InstalledRecord> kept = copy_records;
      for (const InstalledRecord& r : held_field_records) {
        const bool in_copy =
            std::any_of(copy_records.begin(), copy_records.end(),
                        [&](const InstalledRecord& c) { return c.version == r.version; });
        if (in_copy) continue;
        FS_ASSIGN_OR_RETURN(std::optional<FieldWrite> logged,
                            LoggedWrite(r.version, t.name, row, SlotColumn(t, slot)));
        if (!logged) continue;
        bool superseded = false;
        for (const InstalledRecord& c : copy_records) {
          if (!c.base || *c.base != r.version) continue;
          const bool held_too =
              std::any_of(held_field_records.begin(), held_field_records.end(),
                          [&](const InstalledRecord& h) { return h.version == c.version; });
          FS_ASSIGN_OR_RETURN(std::optional<FieldWrite> c_logged,
                              LoggedWrite(c.version, t.name, row, SlotColumn(t, slot)));
          if (!held_too && !c_logged) superseded = true;
        }
        if (superseded) continue;
        InstalledRecord k = r;
        k.value = logged->value;
        kept.push_back(std::move(k));
      }
      field_records = std::move(kept);
    } else {
      // The field held is newer than the copy's (or the copy has none): a
      // hub put back from a backup lost the commit that wrote it, which
      // this laptop skips as held when it comes again. The held field
      // stays; each write of the copy this laptop has not applied is
      // merged in, as its commit would have been (oldest first: a write's
      // base is older than the write).
      std::vector<InstalledRecord> copy_writes = copy_records;
      if (copy_field) {
        copy_writes.push_back(
            {slot, copy_field->version, copy_field->base, installed.values[slot], true});
      }
      std::sort(copy_writes.begin(), copy_writes.end(),
                [](const InstalledRecord& x, const InstalledRecord& y) { return x.version < y.version; });
      std::optional<FieldHistory> history;  // walked when first needed
      for (const InstalledRecord& w : copy_writes) {
        // This laptop's own writes are all in its log: one that is not is
        // no write of this laptop, and is left out.
        if (w.version.device == self) continue;
        if (!history) {
          FS_ASSIGN_OR_RETURN(history,
                              HistoryOf(t.name, row, SlotColumn(t, slot), winner, field_records));
        }
        // A version older than the newest of the chain an earlier install
        // brought, where that chain stops, was inside that install: for the
        // copy's winner only (the hub's winner then was newer). Not one
        // based on a version of the held field's line, where every base is
        // known, and not on it: it branched off, concurrent (an offline
        // write pushed late, which the earlier install never held; session
        // 22, FIELDSYNC_SIM_SEED=6219099193868288868). A conflict record
        // not held is such a write too: kept, never taken as held (review
        // 21, MED 2). Nor one newer than the oldest version of that line
        // (a base is older than its write, so nothing of the line below
        // where it stops can have superseded it by its base) and not on it:
        // the head of an offline line of several writes, whose base this
        // laptop never held (FIELDSYNC_SIM_SEED=12696364027395367963). A
        // held version that resolved it, its resolved versions unknown,
        // shows it as a record again: the safe side.
        const bool branched = (w.base && history->line.count(*w.base) > 0) ||
                              (!history->line.empty() && *history->line.begin() < w.version);
        bool known = history->seen.count(w.version) > 0 || history->line.count(w.version) > 0 ||
                     (w.winner && installed_before && history->unlogged &&
                      w.version < *history->unlogged && !branched);
        if (!known) {
          FS_ASSIGN_OR_RETURN(std::optional<FieldWrite> logged,
                              LoggedWrite(w.version, t.name, row, SlotColumn(t, slot)));
          known = logged.has_value();
        }
        if (known) continue;  // applied here: the held field has its effect
        static const std::vector<Version> kNoResolves;
        const MergeDecision d =
            DecideField(winner, IncomingWrite{w.version, &w.base, &kNoResolves});
        if (w.base) {
          field_records.erase(std::remove_if(field_records.begin(), field_records.end(),
                                             [&](const InstalledRecord& r) {
                                               return r.version == *w.base;
                                             }),
                              field_records.end());
        }
        if (d.incoming_wins) {
          if (d.conflict == ConflictAction::kKeepCurrent && winner) {
            field_records.push_back({slot, winner->version, winner->base, value});
          }
          winner = FieldVersion{w.version, w.base};
          value = w.value;
        } else if (d.conflict == ConflictAction::kKeepIncoming) {
          field_records.push_back(w);
        }
      }
      // A field that stays the held one: the batch vouches for it only if
      // the held row was vouched for (docs/MERGE.md, rule (1)). A commit in
      // the log writing that value is not enough: on a row served as the
      // hub chose, a device of any office may sign a write keeping the
      // owner held (keyring_seal.cc, CheckOwnerMoves), so a hub plants an
      // owner with an unvouched copy, has a colluding office keep it, then
      // serves the true row vouched for (review 21, HIGH).
      if (winner && winner->version == held_field->version) held_stays = true;
    }
    if (winner) {
      field_records.erase(std::remove_if(field_records.begin(), field_records.end(),
                                         [&](const InstalledRecord& r) {
                                           return r.version == winner->version;
                                         }),
                          field_records.end());
    }
    // Whether the row now differs from the one held, in this field.
    auto versions = [](const std::vector<InstalledRecord>& rs) {
      std::set<Version> out;
      for (const InstalledRecord& r : rs) out.insert(r.version);
      return out;
    };
    const bool same_winner = winner.has_value() == held_field.has_value() &&
                             (!winner || (winner->version == held_field->version &&
                                          value == held.values[slot]));
    if (!same_winner || versions(field_records) != versions(held_field_records)) {
      from_copy = true;
    }
    for (InstalledRecord& r : field_records) merged_records.push_back(std::move(r));
    SlotMeta& m = installed.slots[slot];
    m = SlotMeta{};
    installed.values[slot] = Value::Null();
    if (!winner) continue;
    FS_ASSIGN_OR_RETURN(const uint32_t dev, DeviceIndex(winner->version.device, /*create=*/true));
    m.set = true;
    m.hlc = winner->version.hlc.packed();
    m.device = dev;
    if (winner->base) {
      FS_ASSIGN_OR_RETURN(const uint32_t bdev, DeviceIndex(winner->base->device, /*create=*/true));
      m.has_base = true;
      m.base_hlc = winner->base->hlc.packed();
      m.base_device = bdev;
    }
    installed.values[slot] = value;
  }
  records = std::move(merged_records);
  FS_ASSIGN_OR_RETURN(auto mark_of, db->Prepared("SELECT (SELECT count(*) FROM _fs_verified WHERE "
                                                 "tbl = ?1 AND row = ?2), (SELECT count(*) FROM "
                                                 "_fs_witnessed WHERE tbl = ?1 AND row = ?2)"));
  mark_of->BindText(1, t.name);
  mark_of->BindBlob(2, row.view());
  FS_ASSIGN_OR_RETURN(bool got, mark_of->Step());
  const bool held_verified = got && mark_of->ColumnInt(0) > 0;
  const bool held_witnessed = got && mark_of->ColumnInt(1) > 0;
  InstallMarks out;
  const bool keep_batch = held_vouched || !held_stays;
  if (from_copy) {
    out.verified = batch.verified && keep_batch;
    out.witnessed = batch.witnessed && keep_batch;
  } else {
    // Nothing of the copy went in: the row is what it was, and stays
    // vouched for as it was; every version of a row never installed came in
    // a commit applied here, which witnesses it now it is recorded as
    // installed.
    out.verified = held_verified || (batch.verified && keep_batch);
    out.witnessed = held_witnessed || provenance == 0 || (batch.witnessed && keep_batch);
  }
  return out;
}

}  // namespace fieldsync
