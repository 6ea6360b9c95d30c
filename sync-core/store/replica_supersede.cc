// A set-aside commit the hub kept stored, written over (docs/PROTOCOL.md, "A
// withdrawal over a commit the hub stored"): the officer resolved it here,
// this device withdrew it, and the hub holds it stored all the same (a hub
// put back from a backup, then from a newer one), so every colleague holds
// it. Nothing of the officer's resolution is undone on the hub's word: this
// device writes what the resolution left as a new commit, which wins over
// the stored one at every replica of the office.
#include <algorithm>
#include <map>
#include <string>
#include <tuple>

#include "crypto/identity.h"
#include "schema/relations.h"
#include "store/replica_impl.h"

namespace fieldsync {
namespace {

// A row the stored commit wrote, as the officer's resolution left it, and
// its fields' values opened then (a row the stored commit deleted no longer
// names the case whose key ring seals them).
struct Resolved {
  size_t tidx;
  RowId row;
  RowState state;
  std::vector<std::optional<absl::StatusOr<Value>>> opened;  // by column
};

// A refusal of the write itself, which every later pass would meet again:
// the rules' (the referral rules as the commit is signed, a sealing they
// refuse, a value the schema refuses). Not the keys going away while it was
// written (the key agent locked or ended, the keystore locked: marked by
// crypto::KeysUnreachableError, FAILED_PRECONDITION too), nor the database
// failing: those leave nothing recorded, and the next pass writes it.
bool Refused(const absl::Status& s) {
  if (crypto::IsKeysUnreachable(s)) return false;
  switch (s.code()) {
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::StatusOr<std::optional<Replica::Superseded>> Replica::SupersedeSetAside(
    uint64_t seq, uint64_t withdrawal, const OpenStored& open) {
  Impl& m = *impl_;
  std::optional<Superseded> out;
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction& db_txn) -> absl::Status {
    {
      FS_ASSIGN_OR_RETURN(auto done, m.db->Prepared("SELECT 1 FROM _fs_superseded WHERE seq = "
                                                    "?1"));
      done->BindInt(1, static_cast<int64_t>(seq));
      FS_ASSIGN_OR_RETURN(bool superseded, done->Step());
      if (superseded) return absl::OkStatus();
    }
    {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT withdrawal, discarded_at FROM "
                                                  "_fs_set_aside WHERE seq = ?1"));
      st->BindInt(1, static_cast<int64_t>(seq));
      FS_ASSIGN_OR_RETURN(bool found, st->Step());
      if (!found) {
        return absl::NotFoundError(absl::StrCat("change ", seq, " of this laptop was not set "
                                                "aside; nothing was changed"));
      }
      if (static_cast<uint64_t>(st->ColumnInt(0)) != withdrawal || st->ColumnInt(1) == 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "set-aside change ", seq, " of this laptop is not resolved and passed over by its "
            "withdrawal ", withdrawal, "; nothing was changed"));
      }
    }
    if (!m.security.sign_header) {
      return absl::FailedPreconditionError("this laptop's keystore is locked");
    }
    std::optional<Commit> stored;
    {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT body FROM _fs_log WHERE device = ?1 "
                                                  "AND seq = ?2"));
      st->BindInt(1, static_cast<int64_t>(m.self_idx));
      st->BindInt(2, static_cast<int64_t>(seq));
      FS_ASSIGN_OR_RETURN(bool found, st->Step());
      if (found) {
        FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(st->ColumnBlob(0)));
        stored = std::move(c);
      }
    }
    Superseded done;
    if (stored) {
      const Commit& x = *stored;
      const uint64_t x_hlc = x.hlc.packed();
      const auto self_idx = static_cast<uint32_t>(m.self_idx);
      auto of_x = [&](const SlotMeta& s) {
        return s.set && s.device == self_idx && s.hlc == x_hlc;
      };
      // Each row as the resolution left it, its fields opened; then the
      // stored commit merged again by the per-field rule, as colleagues
      // merged the hub's copy (its conflict records included).
      std::vector<Resolved> rows;
      for (const RowChange& rc : x.changes) {
        const int ti = m.schema->TableIndex(rc.table);
        if (ti < 0) continue;
        const auto tidx = static_cast<size_t>(ti);
        FS_ASSIGN_OR_RETURN(RowState before, m.LoadRow(tidx, rc.row, /*all_values=*/true));
        const TableDef& t = m.schema->tables()[tidx];
        std::vector<std::optional<absl::StatusOr<Value>>> opened(t.columns.size());
        for (size_t ci = 0; ci < t.columns.size() && before.exists; ++ci) {
          const SlotMeta& was = before.slots[ci + 1];
          if (!was.set || !t.columns[ci].derived_from.empty() || of_x(was)) continue;
          opened[ci] = open(std::string(t.name), rc.row, std::string(t.columns[ci].name),
                            before.values[ci + 1], m.ToVersion(was.hlc, was.device));
        }
        rows.push_back(Resolved{tidx, rc.row, std::move(before), std::move(opened)});
      }
      for (const RowChange& rc : x.changes) {
        const int ti = m.schema->TableIndex(rc.table);
        if (ti < 0) continue;
        const auto tidx = static_cast<size_t>(ti);
        FS_ASSIGN_OR_RETURN(RowState rs, m.LoadRow(tidx, rc.row, /*all_values=*/false));
        FS_RETURN_IF_ERROR(m.MergeRowChange(x, self_idx, tidx, rc, rs));
        FS_RETURN_IF_ERROR(m.StoreRow(tidx, rc.row, rs));
      }
      // The new commit: over every field the stored commit wins now, the
      // value the resolution left (bases: the stored commit's versions).
      LocalTxn txn;
      for (const Resolved& r : rows) {
        const TableDef& t = m.schema->tables()[r.tidx];
        absl::StatusOr<OwnerRelation> own = OwnerOf(*m.schema, t.name);
        const std::string_view owner_column =
            own.ok() && own->link == OwnerLink::kColumn ? own->column : std::string_view();
        FS_ASSIGN_OR_RETURN(RowState now, m.LoadRow(r.tidx, r.row, /*all_values=*/false));
        if (!now.exists) continue;
        const bool live_now = now.values[0] == Value::Int(1);
        const bool live_before = r.state.exists && r.state.values[0] == Value::Int(1);
        if (live_now && !live_before) {
          // Created (or restored) by it: the resolution has no such row.
          txn.Delete(std::string(t.name), r.row);
          continue;
        }
        if (!live_before) continue;
        LocalTxn::Fields fields;
        for (size_t ci = 0; ci < t.columns.size(); ++ci) {
          const ColumnDef& col = t.columns[ci];
          if (!col.derived_from.empty()) continue;  // written with its source
          const SlotMeta& was = r.state.slots[ci + 1];
          // A field it does not win, or one the resolution could not put
          // back (it held the stored commit's version already).
          if (!of_x(now.slots[ci + 1]) || of_x(was)) continue;
          Value value = Value::Null();
          if (was.set) {
            if (!r.opened[ci]) return absl::InternalError("a field not opened before the merge");
            FS_ASSIGN_OR_RETURN(value, *r.opened[ci]);
          }
          if (col.name == owner_column && done.not_written.empty()) {
            // The stored commit moved the row to another office: only a
            // device of that office moves it back (the hub refuses this
            // laptop's move, and would set it aside again).
            done.not_written = absl::StrCat("it moved ", AV(t.name), " row ", r.row.ToString(),
                                            " to another office, and only that office can move "
                                            "it back");
          }
          fields.emplace_back(std::string(col.name), std::move(value));
        }
        if (!live_now) {
          // Deleted by it: the resolution keeps the row.
          txn.Restore(std::string(t.name), r.row, std::move(fields));
        } else if (!fields.empty()) {
          txn.Set(std::string(t.name), r.row, std::move(fields));
        }
      }
      if (!txn.empty()) {
        // Each write also settles the version the resolution had left
        // there (held by the hub and every colleague): a colleague that
        // never applied the stored commit (it received it header only
        // while the hub was put back) then keeps no conflict record of its
        // own value, and ends as every other replica of the office.
        std::map<std::tuple<std::string, RowId, std::string>, Version> left;
        for (const Resolved& r : rows) {
          const TableDef& t = m.schema->tables()[r.tidx];
          for (size_t si = 0; si < r.state.slots.size(); ++si) {
            const SlotMeta& was = r.state.slots[si];
            if (!r.state.exists || !was.set || of_x(was)) continue;
            const std::string column =
                si == 0 ? std::string(kLiveColumn) : std::string(t.columns[si - 1].name);
            left.emplace(std::make_tuple(std::string(t.name), r.row, column),
                         m.ToVersion(was.hlc, was.device));
          }
        }
        auto settle = [&left](Commit& c) {
          for (RowChange& rc : c.changes) {
            for (FieldWrite& f : rc.fields) {
              auto it = left.find(std::make_tuple(rc.table, rc.row, f.column));
              if (it == left.end() || (f.base && *f.base == it->second)) continue;
              if (std::find(f.resolves.begin(), f.resolves.end(), it->second) ==
                  f.resolves.end()) {
                f.resolves.push_back(it->second);
              }
            }
          }
        };
        if (done.not_written.empty()) {
          // A write the rules refuse (the referral rules, checked as the
          // commit is signed; a referral's letter the sealing will not
          // write again) is undone alone: the stored commit stays merged,
          // as at every colleague.
          FS_RETURN_IF_ERROR(m.db->Exec("SAVEPOINT fs_supersede"));
          std::vector<RowState> states;
          absl::StatusOr<Commit> c = m.WriteOne(db_txn, txn, &states, settle);
          if (c.ok()) {
            done.written = c->seq;
            FS_RETURN_IF_ERROR(m.db->Exec("RELEASE fs_supersede"));
          } else if (Refused(c.status())) {
            done.not_written = std::string(c.status().message());
            FS_RETURN_IF_ERROR(m.db->Exec("ROLLBACK TO fs_supersede"));
            FS_RETURN_IF_ERROR(m.db->Exec("RELEASE fs_supersede"));
            // The in-memory device table must match the database again.
            FS_RETURN_IF_ERROR(m.ReloadDevices());
          } else {
            return c.status();
          }
        }
      }
    }
    FS_ASSIGN_OR_RETURN(auto ins, m.db->Prepared("INSERT INTO _fs_superseded(seq, written, at) "
                                                 "VALUES (?1, ?2, ?3)"));
    ins->BindInt(1, static_cast<int64_t>(seq));
    ins->BindInt(2, static_cast<int64_t>(done.written));
    ins->BindInt(3, m.hlc.WallMillis());
    FS_RETURN_IF_ERROR(ins->Run());
    out = std::move(done);
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace fieldsync
