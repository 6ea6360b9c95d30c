// What a node pulls from its hub (ApplyPulled): a reset for a fresh
// bootstrap, rows installed whole, tombstones the hub collected, pulled
// commits; and ExportRow, the snapshot a hub sends of one row.
#include "store/replica_impl.h"

#include "absl/strings/str_join.h"

namespace fieldsync {

absl::Status Replica::Impl::ReplayUnpushed(sqlite::Transaction&, const std::string& pushed_cursor,
                                           const std::set<std::pair<size_t, RowId>>* only,
                                           std::optional<uint64_t> own_upto,
                                           const std::set<std::pair<size_t, RowId>>& collected) {
  uint64_t pushed = 0;
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT value FROM _fs_cursors WHERE name = ?1"));
    st->BindText(1, pushed_cursor);
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (found) pushed = static_cast<uint64_t>(st->ColumnInt(0));
  }
  // Rows of a checkpoint older than what the hub acknowledged: its sent
  // work after the checkpoint's head too, which the hub's log after the
  // checkpoint does not send back (never what the hub refused).
  // Nor, of what it refused, the work an officer has not resolved yet
  // (docs/MERGE.md, rule (2)): it stays, as work not at the hub does, and
  // one stamped ahead is re-dated later only in the rows that hold it.
  // Not a commit this laptop set aside as damaged on its disk (code 9), nor
  // one refused as writing a row the hub collected (code 1): it can never
  // go there, and the reset names no collected row that would drop what it
  // brought back (attack review 25, MED 1).
  const uint64_t after = own_upto ? std::min(pushed, *own_upto) : pushed;
  bool open_refused = false;
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT 1 FROM _fs_set_aside WHERE discarded_at "
                                              "= 0 AND code NOT IN (1, 9) LIMIT 1"));
    FS_ASSIGN_OR_RETURN(open_refused, st->Step());
  }
  if (after >= devices[self_idx].max_seq && !open_refused) return absl::OkStatus();
  std::vector<Commit> mine;
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT body FROM _fs_log WHERE device = ?1 AND "
                                              "((seq > ?2 AND (seq > ?3 OR seq NOT IN (SELECT "
                                              "seq FROM _fs_set_aside))) OR seq IN (SELECT seq "
                                              "FROM _fs_set_aside WHERE discarded_at = 0 AND "
                                              "code NOT IN (1, 9))) ORDER BY seq"));
    st->BindInt(1, self_idx);
    st->BindInt(2, static_cast<int64_t>(after));
    st->BindInt(3, static_cast<int64_t>(pushed));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(st->ColumnBlob(0)));
      mine.push_back(std::move(c));
    }
  }
  for (const Commit& c : mine) {
    for (const RowChange& rc : c.changes) {
      const auto tidx = static_cast<size_t>(schema->TableIndex(rc.table));
      if (only != nullptr && only->count({tidx, rc.row}) == 0) continue;
      // Deleted and collected for good at the hub (the batch's `purged`):
      // no commit of this laptop brings it back, live or as a tombstone.
      if (collected.count({tidx, rc.row}) > 0) continue;
      FS_ASSIGN_OR_RETURN(RowState rs, LoadRow(tidx, rc.row, /*all_values=*/false));
      // A row the hub's state no longer has (collected, or out of scope)
      // is not brought back by an edit; only a change that creates it is.
      // Nor by a refused delete (at or under the acknowledged seq): a
      // tombstone of a row the hub no longer holds keeps nothing, and no
      // purged list would drop it (attack review 25, MED 1).
      if (!rs.exists) {
        bool creates = false;
        for (const FieldWrite& f : rc.fields) {
          creates |= f.column == kLiveColumn && (c.seq > pushed || f.value == Value::Int(1));
        }
        if (!creates) continue;
      }
      FS_RETURN_IF_ERROR(MergeRowChange(c, self_idx, tidx, rc, rs));
      FS_RETURN_IF_ERROR(StoreRow(tidx, rc.row, rs));
    }
  }
  return absl::OkStatus();
}

absl::Status Replica::Impl::ResetReplicated(sqlite::Transaction&) {
  for (const TableDef& t : schema->tables()) {
    FS_RETURN_IF_ERROR(db->Exec(absl::StrCat("DELETE FROM ", Quote(t.name))));
  }
  FS_RETURN_IF_ERROR(db->Exec("DELETE FROM _fs_conflicts"));
  FS_RETURN_IF_ERROR(db->Exec("DELETE FROM _fs_verified"));
  FS_RETURN_IF_ERROR(db->Exec("DELETE FROM _fs_witnessed"));
  FS_RETURN_IF_ERROR(db->Exec("DELETE FROM _fs_bootstrap"));
  FS_RETURN_IF_ERROR(db->Exec("DELETE FROM _fs_bootstrap_proof"));
  FS_RETURN_IF_ERROR(db->Exec("DELETE FROM _fs_bootstrap_cut"));
  FS_RETURN_IF_ERROR(db->Exec("DELETE FROM _fs_purged_cut"));
  return db->Exec("DELETE FROM _fs_installed");
}

absl::Status Replica::Impl::InstallRow(sqlite::Transaction&, const RowSnapshot& snap,
                                       int64_t position, bool absent, bool verified,
                                       bool witnessed, const ClockLead& lead) {
  const int ti = schema->TableIndex(snap.table);
  if (ti < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("installed row of unknown table \"", snap.table, "\""));
  }
  const auto tidx = static_cast<size_t>(ti);
  const TableDef& t = schema->tables()[tidx];
  if (snap.row.is_nil()) {
    return absl::InvalidArgumentError(absl::StrCat("installed ", AV(t.name), " row has the nil id"));
  }
  RowState rs = NewRow(t.columns.size() + 1);
  bool has_live = false;
  for (const FieldState& f : snap.fields) {
    size_t slot = 0;
    if (f.column == kLiveColumn) {
      FS_RETURN_IF_ERROR(ValidateLiveValue(t, f.value));
      has_live = true;
    } else {
      const int ci = t.ColumnIndex(f.column);
      if (ci < 0) {
        return absl::InvalidArgumentError(absl::StrCat("installed ", AV(t.name),
                                                       " row has unknown column \"", f.column,
                                                       "\""));
      }
      FS_RETURN_IF_ERROR(ValidateValue(t, t.columns[static_cast<size_t>(ci)], f.value));
      slot = static_cast<size_t>(ci) + 1;
    }
    if (rs.slots[slot].set) {
      return absl::InvalidArgumentError(absl::StrCat("installed ", AV(t.name), " row ",
                                                     snap.row.ToString(), " names field ",
                                                     f.column, " twice"));
    }
    if (hlc.TooFarAhead(f.version.version.hlc, lead)) {
      return hlc.Check(f.version.version.hlc,
                       absl::StrCat("device ", f.version.version.device.ToString()), lead);
    }
    if (f.version.base && hlc.TooFarAhead(f.version.base->hlc, lead)) {
      return hlc.Check(f.version.base->hlc,
                       absl::StrCat("device ", f.version.base->device.ToString()), lead);
    }
    FS_ASSIGN_OR_RETURN(uint32_t dev, DeviceIndex(f.version.version.device, /*create=*/true));
    SlotMeta& m = rs.slots[slot];
    m.set = true;
    m.hlc = f.version.version.hlc.packed();
    m.device = dev;
    if (f.version.base) {
      FS_ASSIGN_OR_RETURN(uint32_t bdev, DeviceIndex(f.version.base->device, /*create=*/true));
      m.has_base = true;
      m.base_hlc = f.version.base->hlc.packed();
      m.base_device = bdev;
      FS_RETURN_IF_ERROR(Learn(*f.version.base));
    }
    FS_RETURN_IF_ERROR(Learn(f.version.version));
    rs.values[slot] = f.value;
  }
  if (!has_live) {
    return absl::InvalidArgumentError(absl::StrCat("installed ", AV(t.name), " row ",
                                                   snap.row.ToString(), " has no _live field"));
  }
  std::vector<InstalledRecord> records;
  for (const ConflictRecord& c : snap.conflicts) {
    size_t slot = 0;
    if (c.table != t.name || c.row != snap.row) {
      return absl::InvalidArgumentError(absl::StrCat("installed ", AV(t.name), " row ",
                                                     snap.row.ToString(),
                                                     " carries a conflict record of another row"));
    }
    if (c.column != kLiveColumn) {
      const int ci = t.ColumnIndex(c.column);
      if (ci < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("conflict record of unknown column \"", c.column, "\""));
      }
      FS_RETURN_IF_ERROR(ValidateValue(t, t.columns[static_cast<size_t>(ci)], c.value));
      slot = static_cast<size_t>(ci) + 1;
    }
    // Checked as the fields are: a conflict record's stamp far ahead would
    // pin the field (review 21, MED 3); and one newer than its field's
    // value is in no replica's row (the value is the newest write).
    for (const Version* v : {&c.version, c.base ? &*c.base : nullptr}) {
      if (v != nullptr && hlc.TooFarAhead(v->hlc, lead)) {
        return hlc.Check(v->hlc, absl::StrCat("device ", v->device.ToString()), lead);
      }
    }
    const std::optional<FieldVersion> value_version = ToFieldVersion(rs.slots[slot]);
    if (!value_version || !(c.version < value_version->version)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "installed ", AV(t.name), " row ", snap.row.ToString(), " carries a conflict record of ",
          c.column, " not older than the field's value"));
    }
    if (c.base) FS_RETURN_IF_ERROR(Learn(*c.base));
    FS_RETURN_IF_ERROR(Learn(c.version));
    records.push_back({slot, c.version, c.base, c.value});
  }
  InstallMarks marks{verified, witnessed};
  if (!absent) {
    // A row held here is merged with the copy (MergeInstalled), never
    // replaced by it: a copy older than the row held (a hub put back from
    // a backup, or one that lies) takes back no field held newer.
    FS_ASSIGN_OR_RETURN(RowState held, LoadRow(tidx, snap.row, /*all_values=*/true));
    if (held.exists) {
      FS_ASSIGN_OR_RETURN(marks, MergeInstalled(tidx, snap.row, held, rs, records, marks));
    }
    FS_ASSIGN_OR_RETURN(auto del, db->Prepared(absl::StrCat("DELETE FROM ", Quote(t.name),
                                                            " WHERE id = ?1")));
    del->BindBlob(1, snap.row.view());
    FS_RETURN_IF_ERROR(del->Run());
    FS_ASSIGN_OR_RETURN(auto delc,
                        db->Prepared("DELETE FROM _fs_conflicts WHERE tbl = ?1 AND row = ?2"));
    delc->BindText(1, t.name);
    delc->BindBlob(2, snap.row.view());
    FS_RETURN_IF_ERROR(delc->Run());
  }
  for (const InstalledRecord& c : records) {
    sqlite::Stmt* st = insert_conflict_;
    st->Reset();
    st->BindText(1, t.name);
    st->BindBlob(2, snap.row.view());
    st->BindText(3, SlotColumn(t, c.slot));
    st->BindInt(4, static_cast<int64_t>(c.version.hlc.packed()));
    st->BindBlob(5, c.version.device.view());
    if (c.base) {
      st->BindInt(6, static_cast<int64_t>(c.base->hlc.packed()));
      st->BindBlob(7, c.base->device.view());
    }
    st->BindValue(8, c.value);
    FS_RETURN_IF_ERROR(st->Run());
    rs.slots[c.slot].conflicts += static_cast<uint32_t>(db->Changes());
  }
  FS_RETURN_IF_ERROR(StoreRow(tidx, snap.row, rs));
  // Recorded as received whole, a bootstrap's rows too (position 0: no
  // commit of the log is inside them): only such a row lets a pulled
  // commit name a version this replica never held (ApplyInTxn).
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("INSERT INTO _fs_installed(tbl, row, position) "
                                              "VALUES (?1, ?2, ?3) ON CONFLICT(tbl, row) DO "
                                              "UPDATE SET position = excluded.position"));
    st->BindText(1, t.name);
    st->BindBlob(2, snap.row.view());
    st->BindInt(3, position);
    FS_RETURN_IF_ERROR(st->Run());
  }
  // Verified or witnessed, or no longer (installed again as the hub
  // served it).
  const std::pair<const char*, bool> kept[] = {{"_fs_verified", marks.verified},
                                               {"_fs_witnessed", marks.witnessed}};
  for (const auto& [mark, set] : kept) {
    if (!set && absent) continue;
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared(
                                     set ? absl::StrCat("INSERT OR IGNORE INTO ", mark,
                                                        "(tbl, row) VALUES (?1, ?2)")
                                         : absl::StrCat("DELETE FROM ", mark,
                                                        " WHERE tbl = ?1 AND row = ?2")));
    st->BindText(1, t.name);
    st->BindBlob(2, snap.row.view());
    FS_RETURN_IF_ERROR(st->Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<PullResult> Replica::ApplyPulled(const PulledBatch& batch) {
  Impl& m = *impl_;
  PullResult result;
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    if (batch.went_back_to) FS_RETURN_IF_ERROR(m.GoBack(txn, batch));
    if (batch.reset) FS_RETURN_IF_ERROR(m.ResetReplicated(txn));
    std::set<std::pair<size_t, RowId>> collected;
    for (const auto& [table, row] : batch.purged) {
      const TableDef* t = m.schema->FindTable(table);
      if (t == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("purged row of unknown table \"", table,
                                                       "\""));
      }
      collected.emplace(static_cast<size_t>(m.schema->TableIndex(table)), row);
      FS_ASSIGN_OR_RETURN(auto del, m.db->Prepared(absl::StrCat(
                                        "DELETE FROM ", Quote(t->name), " WHERE id = ?1 AND "
                                        "_live = 0")));
      del->BindBlob(1, row.view());
      FS_RETURN_IF_ERROR(del->Run());
      if (m.db->Changes() == 0) continue;
      ++result.tombstones_purged;
      for (const char* sql : {"DELETE FROM _fs_conflicts WHERE tbl = ?1 AND row = ?2",
                              "DELETE FROM _fs_installed WHERE tbl = ?1 AND row = ?2",
                              "DELETE FROM _fs_verified WHERE tbl = ?1 AND row = ?2",
                              "DELETE FROM _fs_witnessed WHERE tbl = ?1 AND row = ?2"}) {
        FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(sql));
        st->BindText(1, table);
        st->BindBlob(2, row.view());
        FS_RETURN_IF_ERROR(st->Run());
      }
    }
    if (batch.purged_done) {
      FS_RETURN_IF_ERROR(m.db->Exec("DELETE FROM _fs_purged_cut"));
    } else if (batch.purged_cut) {
      const PurgedCut& cut = *batch.purged_cut;
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("INSERT OR REPLACE INTO _fs_purged_cut(one, "
                                                  "asked, epoch, tbl, row, epoch_id) VALUES (1, "
                                                  "?1, ?2, ?3, ?4, ?5)"));
      st->BindInt(1, static_cast<int64_t>(cut.asked));
      st->BindInt(2, static_cast<int64_t>(cut.epoch));
      st->BindText(3, cut.table);
      st->BindBlob(4, cut.row.view());
      st->BindInt(5, static_cast<int64_t>(cut.epoch_id));
      FS_RETURN_IF_ERROR(st->Run());
    }
    std::set<std::pair<size_t, RowId>> installed;
    for (const RowSnapshot& r : batch.rows) {
      // After a reset in this transaction the tables hold only rows
      // installed by it, each once: no need to remove an old version.
      FS_RETURN_IF_ERROR(m.InstallRow(txn, r, batch.rows_position, /*absent=*/batch.reset,
                                      batch.rows_verified,
                                      batch.witnessed.count({r.table, r.row}) > 0,
                                      batch.clock_lead));
      installed.emplace(static_cast<size_t>(m.schema->TableIndex(r.table)), r.row);
      ++result.rows_installed;
    }
    if (!batch.rows.empty() && batch.rows_mark) FS_RETURN_IF_ERROR(m.KeepMark(*batch.rows_mark));
    if (batch.bootstrap) {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("INSERT OR REPLACE INTO _fs_bootstrap(one, "
                                                  "checkpoint, statement, next_index, "
                                                  "confirmed) VALUES (1, ?1, ?2, ?3, ?4)"));
      st->BindBlob(1, batch.bootstrap->checkpoint);
      st->BindBlob(2, batch.bootstrap->statement);
      st->BindInt(3, batch.bootstrap->next_index);
      st->BindInt(4, batch.bootstrap->confirmed);
      FS_RETURN_IF_ERROR(st->Run());
      FS_RETURN_IF_ERROR(m.db->Exec("DELETE FROM _fs_bootstrap_proof"));
      if (const std::optional<crypto::KeptProof>& kept = batch.bootstrap->proof; kept) {
        FS_ASSIGN_OR_RETURN(auto pst, m.db->Prepared("INSERT INTO _fs_bootstrap_proof(one, "
                                                     "next_index, left, right) VALUES (1, ?1, "
                                                     "?2, ?3)"));
        pst->BindInt(1, static_cast<int64_t>(kept->next));
        pst->BindBlob(2, absl::StrJoin(kept->left, ""));
        pst->BindBlob(3, absl::StrJoin(kept->right, ""));
        FS_RETURN_IF_ERROR(pst->Run());
      }
    }
    if (batch.bootstrap_done) {
      FS_RETURN_IF_ERROR(m.db->Exec("DELETE FROM _fs_bootstrap_cut"));
    } else if (batch.bootstrap_cut) {
      const BootstrapCut& cut = *batch.bootstrap_cut;
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("INSERT OR REPLACE INTO _fs_bootstrap_cut(one, "
                                                  "position, position_hash, gc_epoch, tbl, row) "
                                                  "VALUES (1, ?1, ?2, ?3, ?4, ?5)"));
      st->BindInt(1, cut.position);
      st->BindBlob(2, cut.position_hash);
      st->BindInt(3, static_cast<int64_t>(cut.gc_epoch));
      st->BindText(4, cut.table);
      st->BindBlob(5, cut.row.view());
      FS_RETURN_IF_ERROR(st->Run());
    }
    // Other authors' work the hub lost, merged again first (this laptop's
    // own may build on it: an edit of a colleague's case skips a row that
    // is not there).
    if (batch.reset || !installed.empty()) {
      FS_RETURN_IF_ERROR(
          m.ReplayBeyondHub(txn, batch, batch.reset ? nullptr : &installed, collected));
    }
    // The hub's state holds every commit of this device it acknowledged, and
    // none written since: those are merged again on top of what was reset or
    // installed, so that installing never hides local work.
    if ((batch.reset || !installed.empty()) && !batch.pushed_cursor.empty()) {
      FS_RETURN_IF_ERROR(
          m.ReplayUnpushed(txn, batch.pushed_cursor, batch.reset ? nullptr : &installed,
                           batch.own_rows_upto, collected));
    }
    // Row changes already contained in an installed row are dropped.
    if (m.security.verify) {
      for (const auto& [position, c] : batch.commits) {
        absl::Status s = m.security.verify(c, position);
        if (s.ok() && m.security.taken) s = m.security.taken(txn, c);
        if (!s.ok()) {
          return absl::Status(s.code(), absl::StrCat("pulled batch refused, nothing applied: ",
                                                     "commit at hub position ", position, ": ",
                                                     s.message()));
        }
      }
    }
    std::vector<Commit> trimmed;
    std::vector<const Commit*> ptrs;
    trimmed.reserve(batch.commits.size());
    {
      // Bootstrapped rows (position 0) contain no commit of the log.
      FS_ASSIGN_OR_RETURN(auto any, m.db->Prepared("SELECT 1 FROM _fs_installed WHERE "
                                                   "position > 0 LIMIT 1"));
      FS_ASSIGN_OR_RETURN(bool have_installed, any->Step());
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT position FROM _fs_installed WHERE "
                                                  "tbl = ?1 AND row = ?2"));
      for (const auto& [position, c] : batch.commits) {
        if (!have_installed) {
          ptrs.push_back(&c);
          continue;
        }
        Commit kept = c;
        kept.changes.clear();
        kept.signature.clear();  // no longer the signed whole
        kept.omitted.clear();
        for (const RowChange& rc : c.changes) {
          st->Reset();
          st->BindText(1, rc.table);
          st->BindBlob(2, rc.row.view());
          FS_ASSIGN_OR_RETURN(bool found, st->Step());
          if (found && st->ColumnInt(0) >= position) {
            ++result.changes_skipped;
            continue;
          }
          kept.changes.push_back(rc);
        }
        if (kept.changes.empty()) {
          // Entirely contained in installed rows: its versions are known.
          FS_RETURN_IF_ERROR(m.Learn(c.version()));
          continue;
        }
        trimmed.push_back(std::move(kept));
      }
      for (const Commit& c : trimmed) ptrs.push_back(&c);
    }
    FS_RETURN_IF_ERROR(ValidateBatch(*m.schema, m.hlc, ptrs, nullptr, /*check_clock=*/true,
                                     batch.clock_lead));
    std::vector<ApplyOutcome> outcomes;
    FS_ASSIGN_OR_RETURN(bool deferred, m.ApplyInTxn(txn, ptrs, /*allow_gaps=*/true, nullptr, &outcomes));
    for (ApplyOutcome o : outcomes) {
      if (o == ApplyOutcome::kApplied) ++result.applied;
      if (o == ApplyOutcome::kDuplicate) ++result.duplicates;
      if (o == ApplyOutcome::kDeferred) ++result.deferred;
    }
    FS_RETURN_IF_ERROR(m.StoreChainWrites(batch.chain));
    if (!batch.cursors.empty() && !deferred) {
      for (const auto& [name, value] : batch.cursors) {
        FS_RETURN_IF_ERROR(m.SetCursorInTxn(txn, name, value));
      }
      if (batch.mark) FS_RETURN_IF_ERROR(m.KeepMark(*batch.mark));
      result.cursor_set = true;
    }
    return absl::OkStatus();
  }));
  return result;
}

absl::Status Replica::Impl::GoBack(sqlite::Transaction& txn, const PulledBatch& batch) {
  const int64_t to = *batch.went_back_to;
  FS_RETURN_IF_ERROR(SetCursorInTxn(txn, batch.pulled_cursor, to));
  {
    // What this laptop's log held when the hub went back: a version logged
    // before may be lost at the hub, one logged after it holds.
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT coalesce(max(pos), 0) FROM _fs_log"));
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    FS_RETURN_IF_ERROR(SetCursorInTxn(txn, kWentBackLogPosCursor, r ? st->ColumnInt(0) : 0));
  }
  for (const char* sql : {"DELETE FROM _fs_hub_marks WHERE position > ?1",
                          // Never 0: a row served newly visible stays
                          // one (position 0 is a bootstrap's).
                          "UPDATE _fs_installed SET position = max(?1, 1) WHERE position > "
                          "max(?1, 1)"}) {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared(sql));
    st->BindInt(1, to);
    FS_RETURN_IF_ERROR(st->Run());
  }
  // A hub put back may have collected other rows under the same epoch
  // since: its list is asked for from its start.
  return db->Exec("DELETE FROM _fs_purged_cut");
}

absl::Status Replica::Impl::KeepMark(const HubLogMark& mark) {
  FS_ASSIGN_OR_RETURN(auto put, db->Prepared("INSERT OR REPLACE INTO _fs_hub_marks(position, "
                                             "hash, at) VALUES (?1, ?2, ?3)"));
  put->BindInt(1, mark.position);
  put->BindBlob(2, mark.hash);
  put->BindInt(3, mark.at_millis);
  FS_RETURN_IF_ERROR(put->Run());
  // The newest 16, and of the older ones the newest of each day: 32 in all.
  FS_ASSIGN_OR_RETURN(auto thin, db->Prepared(
                                     "DELETE FROM _fs_hub_marks WHERE position NOT IN (SELECT "
                                     "position FROM _fs_hub_marks ORDER BY position DESC LIMIT "
                                     "16) AND position NOT IN (SELECT max(position) FROM "
                                     "_fs_hub_marks GROUP BY at / 86400000)"));
  FS_RETURN_IF_ERROR(thin->Run());
  FS_ASSIGN_OR_RETURN(auto cap, db->Prepared(
                                    "DELETE FROM _fs_hub_marks WHERE position NOT IN (SELECT "
                                    "position FROM _fs_hub_marks ORDER BY position DESC LIMIT 32)"));
  return cap->Run();
}

absl::StatusOr<std::optional<RowSnapshot>> Replica::Impl::ExportRowInTxn(size_t tidx,
                                                                        const RowId& row) {
  const TableDef& t = schema->tables()[tidx];
  FS_ASSIGN_OR_RETURN(RowState rs, LoadRow(tidx, row, /*all_values=*/true));
  if (!rs.exists) return std::optional<RowSnapshot>();
  RowSnapshot snap;
  snap.table = std::string(t.name);
  snap.row = row;
  bool any_conflicts = false;
  for (size_t i = 0; i < rs.slots.size(); ++i) {
    const std::optional<FieldVersion> fv = ToFieldVersion(rs.slots[i]);
    any_conflicts |= rs.slots[i].conflicts > 0;
    if (!fv) continue;
    snap.fields.push_back(FieldState{i == 0 ? std::string(kLiveColumn)
                                            : std::string(t.columns[i - 1].name),
                                     std::move(rs.values[i]), *fv});
  }
  if (any_conflicts) {
    FS_ASSIGN_OR_RETURN(
        auto st, db->Prepared("SELECT col, hlc, device, base_hlc, base_device, value FROM "
                              "_fs_conflicts WHERE tbl = ?1 AND row = ?2 ORDER BY col, hlc, "
                              "device"));
    st->BindText(1, t.name);
    st->BindBlob(2, row.view());
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      ConflictRecord c;
      c.table = snap.table;
      c.row = row;
      c.column = st->ColumnString(0);
      c.version.hlc = Hlc::FromPacked(static_cast<uint64_t>(st->ColumnInt(1)));
      FS_ASSIGN_OR_RETURN(c.version.device, Id16::FromBytes(st->ColumnBlob(2), "conflict device"));
      if (!st->ColumnIsNull(3)) {
        Version b;
        b.hlc = Hlc::FromPacked(static_cast<uint64_t>(st->ColumnInt(3)));
        FS_ASSIGN_OR_RETURN(b.device, Id16::FromBytes(st->ColumnBlob(4), "conflict base device"));
        c.base = b;
      }
      c.value = st->ColumnValue(5);
      snap.conflicts.push_back(std::move(c));
    }
  }
  return std::optional<RowSnapshot>(std::move(snap));
}

absl::StatusOr<std::optional<RowSnapshot>> Replica::ExportRow(const std::string& table,
                                                              const RowId& row) {
  Impl& m = *impl_;
  const int ti = m.schema->TableIndex(table);
  if (ti < 0) return absl::InvalidArgumentError(absl::StrCat("unknown table \"", table, "\""));
  std::optional<RowSnapshot> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(out, m.ExportRowInTxn(static_cast<size_t>(ti), row));
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace fieldsync
