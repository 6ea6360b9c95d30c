// Re-dating this device's commits the hub refused as stamped by a clock
// ahead (docs/PROTOCOL.md, "Work stamped by a clock ahead"; issue 13, story
// 1): in one transaction, the clock lowered, a signed withdrawal of the
// refused seqs, the same changes under new seqs with the corrected clock
// (re-sealed: an envelope binds its version), and the refused versions
// replaced by the new ones in the rows that hold them.
#include <algorithm>
#include <map>

#include "change/commit_codec.h"
#include "store/replica_impl.h"

namespace fieldsync {
namespace {

constexpr char kSkipLoCursor[] = "clock:skip_lo";
constexpr char kSkipHiCursor[] = "clock:skip_hi";

}  // namespace

absl::Status Replica::Impl::LoadClockSkip() {
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT name, value FROM _fs_cursors WHERE name IN "
                                            "(?1, ?2)"));
  st->BindText(1, kSkipLoCursor);
  st->BindText(2, kSkipHiCursor);
  uint64_t lo = 1, hi = 0;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    (st->ColumnString(0) == kSkipLoCursor ? lo : hi) = static_cast<uint64_t>(st->ColumnInt(1));
  }
  hlc.SetSkip(Hlc::FromPacked(lo), Hlc::FromPacked(hi));
  return absl::OkStatus();
}

int64_t Replica::ClockMillis() const { return impl_->hlc.WallMillis(); }

absl::StatusOr<RestampResult> Replica::Restamp(int code, const OpenStored& open,
                                               const std::function<bool(const Commit&)>& sound) {
  Impl& m = *impl_;
  RestampResult out;
  const Hlc before = m.hlc.last();
  absl::Status done = m.InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    std::vector<uint64_t> seqs;
    {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT seq FROM _fs_set_aside WHERE code = ?1 "
                                                  "AND withdrawal = 0 ORDER BY seq"));
      st->BindInt(1, code);
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        seqs.push_back(static_cast<uint64_t>(st->ColumnInt(0)));
      }
    }
    if (seqs.empty()) return absl::OkStatus();
    if (!m.security.sign || !m.security.sign_header) {
      return absl::FailedPreconditionError("this laptop's keystore is locked");
    }
    // Each as logged, put to this laptop's own check first: none is signed
    // anew while one of them no longer verifies.
    std::map<uint64_t, Commit> logged;
    for (uint64_t s : seqs) {
      FS_ASSIGN_OR_RETURN(std::vector<Commit> c, LocalCommitsAfter(s - 1, 1));
      if (c.empty() || c.front().seq != s) {
        return absl::DataLossError(absl::StrCat("this laptop's commit ", s,
                                                " is set aside but not in its log"));
      }
      if (!sound(c.front())) out.unsound.push_back(s);
      logged.emplace(s, std::move(c.front()));
    }
    if (!out.unsound.empty()) return absl::OkStatus();
    const int64_t wall = m.hlc.WallMillis();
    // Where the clock goes back to: past every version this replica holds
    // that is not one of the refused (own commits the hub took, others'),
    // so that a re-dated write still follows what it overwrote; never a
    // time the hub would refuse.
    const uint64_t limit =
        Hlc::FromParts(static_cast<uint64_t>(std::max<int64_t>(
                           0, wall + m.hlc.max_skew_millis())),
                       Hlc::kMaxCounter)
            .packed();
    uint64_t floor = 0;
    for (uint32_t i = 1; i < m.devices.size(); ++i) {
      if (i != m.self_idx && m.devices[i].max_hlc <= limit) {
        floor = std::max(floor, m.devices[i].max_hlc);
      }
    }
    {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(
                                       "SELECT MAX(hlc) FROM _fs_log WHERE device = ?1 AND "
                                       "hlc <= ?3 AND seq NOT IN (SELECT seq FROM _fs_set_aside "
                                       "WHERE code = ?2)"));
      st->BindInt(1, m.self_idx);
      st->BindInt(2, code);
      st->BindInt(3, static_cast<int64_t>(limit));
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (r) floor = std::max(floor, static_cast<uint64_t>(st->ColumnInt(0)));
    }
    // The refused commits, as logged; only those stamped past this laptop's
    // own clock now. The refusal is the hub's word: a commit it calls ahead
    // that is not ahead of this clock is not withdrawn on that word (a hub
    // that stored and relayed it would have colleagues hold the withdrawal
    // against its delivered body); it waits, and the pass says so.
    std::vector<Commit> old;
    std::vector<uint64_t> ahead;
    for (uint64_t s : seqs) {
      Commit& c = logged.at(s);
      if (static_cast<int64_t>(c.hlc.wall_millis()) <= wall) continue;
      ahead.push_back(s);
      old.push_back(std::move(c));
    }
    if (old.empty()) return absl::OkStatus();
    seqs = std::move(ahead);
    // The refused stamps past the floor are never issued again.
    uint64_t lo = 0, hi = m.hlc.last().packed();
    for (const Commit& c : old) {
      if (c.hlc.packed() > floor && (lo == 0 || c.hlc.packed() < lo)) lo = c.hlc.packed();
      hi = std::max(hi, c.hlc.packed());
    }
    // A range skipped at an earlier re-dating and still ahead of the floor
    // stays skipped: its stamps are those of commits withdrawn then, whose
    // headers the hub and colleagues hold (no version is issued twice).
    if (lo != 0) {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT name, value FROM _fs_cursors WHERE "
                                                  "name IN (?1, ?2)"));
      st->BindText(1, kSkipLoCursor);
      st->BindText(2, kSkipHiCursor);
      uint64_t old_lo = 1, old_hi = 0;
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        (st->ColumnString(0) == kSkipLoCursor ? old_lo : old_hi) =
            static_cast<uint64_t>(st->ColumnInt(1));
      }
      if (old_hi > floor && old_lo <= old_hi) {
        lo = std::min(lo, std::max(old_lo, floor + 1));
        hi = std::max(hi, old_hi);
      }
    }
    if (lo != 0) {
      FS_RETURN_IF_ERROR(m.SetCursorInTxn(txn, kSkipLoCursor, static_cast<int64_t>(lo)));
      FS_RETURN_IF_ERROR(m.SetCursorInTxn(txn, kSkipHiCursor, static_cast<int64_t>(hi)));
      out.ahead_millis = static_cast<int64_t>(Hlc::FromPacked(hi).wall_millis()) - wall;
    }
    m.hlc.Reset(Hlc::FromPacked(floor));
    if (lo != 0) m.hlc.SetSkip(Hlc::FromPacked(lo), Hlc::FromPacked(hi));
    Impl::DeviceEntry& me = m.devices[m.self_idx];
    me.max_hlc = floor;
    me.dirty = true;

    std::vector<uint64_t> covered;
    FS_ASSIGN_OR_RETURN(const uint64_t w, m.MakeWithdrawal(seqs, &covered));
    out.withdrawal = w;
    {
      FS_ASSIGN_OR_RETURN(auto up, m.db->Prepared("UPDATE _fs_set_aside SET discarded_at = ?2 "
                                                  "WHERE withdrawal = ?1"));
      up->BindInt(1, static_cast<int64_t>(w));
      up->BindInt(2, std::max<int64_t>(wall, 1));
      FS_RETURN_IF_ERROR(up->Run());
    }
    std::map<Version, Version> moved;
    auto remap = [&](Version& v) {
      auto it = moved.find(v);
      if (it != moved.end()) v = it->second;
    };
    std::vector<Commit> made;
    made.reserve(old.size());
    ReplicaMergeStore store(m);
    for (const Commit& a : old) {
      if (std::find(covered.begin(), covered.end(), a.seq) == covered.end()) continue;
      Commit n;
      n.author = m.self;
      n.seq = m.devices[m.self_idx].max_seq + 1;
      n.hlc = m.hlc.Now();
      n.changes = a.changes;
      for (RowChange& rc : n.changes) {
        const int ti = m.schema->TableIndex(rc.table);
        if (ti < 0) return absl::DataLossError(absl::StrCat("unknown table ", AV(rc.table)));
        const auto tidx = static_cast<size_t>(ti);
        const TableDef& t = m.schema->tables()[tidx];
        bool tombstone = false;
        for (const FieldWrite& f : rc.fields) {
          tombstone |= f.column == kLiveColumn && f.value == Value::Int(0);
        }
        // Bases and settled versions that were refused name their re-dated
        // writes; sealed values are opened, to be sealed again below.
        std::vector<bool> sealed(rc.fields.size(), false);
        for (size_t k = 0; k < rc.fields.size(); ++k) {
          FieldWrite& f = rc.fields[k];
          if (f.base) remap(*f.base);
          for (Version& v : f.resolves) remap(v);
          if (f.column == kLiveColumn || (tombstone && f.value.is_null())) continue;
          const ColumnDef* col = t.FindColumn(f.column);
          if (col == nullptr || col->sensitivity == Sensitivity::kClear || !m.security.seal) {
            continue;
          }
          FS_ASSIGN_OR_RETURN(f.value, open(rc.table, rc.row, f.column, f.value, a.version()));
          sealed[k] = true;
        }
        FS_ASSIGN_OR_RETURN(RowState rs, m.LoadRow(tidx, rc.row, /*all_values=*/false));
        const std::vector<FieldWrite> clear = rc.fields;
        auto row_value = [&](std::string_view column) -> absl::StatusOr<Value> {
          for (const FieldWrite& f : clear) {
            if (f.column == column) return f.value;
          }
          const int ci = t.ColumnIndex(column);
          if (ci < 0) return absl::InternalError(absl::StrCat("no column ", AV(column)));
          return m.StoredValue(tidx, rc.row, static_cast<size_t>(ci) + 1, rs);
        };
        for (size_t k = 0; k < rc.fields.size(); ++k) {
          if (!sealed[k]) continue;
          FieldWrite& f = rc.fields[k];
          SealRequest req;
          req.table = &t;
          req.column = t.FindColumn(f.column);
          req.row = rc.row;
          req.version = n.version();
          req.value = &clear[k].value;
          req.row_value = row_value;
          FS_ASSIGN_OR_RETURN(std::optional<Value> s, m.security.seal(txn, req));
          if (s) f.value = std::move(*s);
        }
      }
      FS_ASSIGN_OR_RETURN(n.signature, m.security.sign(n));
      if (m.security.taken) FS_RETURN_IF_ERROR(m.security.taken(txn, n));
      FS_RETURN_IF_ERROR(m.ChainOwn(n));
      FS_RETURN_IF_ERROR(store.AppendLog(n).status());
      moved[a.version()] = n.version();
      made.push_back(std::move(n));
      const Commit& nn = made.back();
      // The refused version, where a row holds it, becomes the new one:
      // as winner (value, version, base) or as a conflict record.
      for (size_t i = 0; i < nn.changes.size(); ++i) {
        const RowChange& rc = nn.changes[i];
        const auto tidx = static_cast<size_t>(m.schema->TableIndex(rc.table));
        const TableDef& t = m.schema->tables()[tidx];
        FS_ASSIGN_OR_RETURN(RowState rs, m.LoadRow(tidx, rc.row, /*all_values=*/false));
        bool changed = false;
        for (const FieldWrite& f : rc.fields) {
          const int ci = f.column == kLiveColumn ? -1 : t.ColumnIndex(f.column);
          if (f.column != kLiveColumn && ci < 0) continue;
          const size_t slot = f.column == kLiveColumn ? 0 : static_cast<size_t>(ci) + 1;
          SlotMeta& meta = rs.slots[slot];
          if (rs.exists && meta.set && meta.device == m.self_idx &&
              meta.hlc == a.hlc.packed()) {
            meta.hlc = nn.hlc.packed();
            meta.has_base = f.base.has_value();
            meta.base_hlc = 0;
            meta.base_device = 0;
            if (f.base) {
              FS_ASSIGN_OR_RETURN(meta.base_device, m.DeviceIndex(f.base->device, true));
              meta.base_hlc = f.base->hlc.packed();
            }
            rs.written[slot] = &f.value;
            changed = true;
          }
          FS_ASSIGN_OR_RETURN(auto up, m.db->Prepared(
                                           "UPDATE _fs_conflicts SET hlc = ?1, value = ?2 WHERE "
                                           "tbl = ?3 AND row = ?4 AND col = ?5 AND device = ?6 "
                                           "AND hlc = ?7"));
          up->BindInt(1, static_cast<int64_t>(nn.hlc.packed()));
          up->BindValue(2, f.value);
          up->BindText(3, rc.table);
          up->BindBlob(4, rc.row.view());
          up->BindText(5, f.column);
          up->BindBlob(6, m.self.view());
          up->BindInt(7, static_cast<int64_t>(a.hlc.packed()));
          FS_RETURN_IF_ERROR(up->Run());
        }
        if (changed) FS_RETURN_IF_ERROR(m.StoreRow(tidx, rc.row, rs));
      }
      {
        FS_ASSIGN_OR_RETURN(auto up, m.db->Prepared("UPDATE _fs_conflicts SET base_hlc = ?1 "
                                                    "WHERE base_device = ?2 AND base_hlc = ?3"));
        up->BindInt(1, static_cast<int64_t>(nn.hlc.packed()));
        up->BindBlob(2, m.self.view());
        up->BindInt(3, static_cast<int64_t>(a.hlc.packed()));
        FS_RETURN_IF_ERROR(up->Run());
      }
      out.redated.push_back(Redated{a.seq, nn.seq, a.hlc, nn.hlc});
    }
    return absl::OkStatus();
  });
  if (!done.ok()) {
    // Rolled back: so are the clock and its skip.
    m.hlc.Reset(before);
    (void)m.LoadClockSkip();
    return done;
  }
  return out;
}

}  // namespace fieldsync
