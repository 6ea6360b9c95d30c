// Others' work the hub lost, merged again on a rebuild (ApplyPulled;
// docs/PROTOCOL.md, "Others' lost work kept through a rebuild"): of each
// author whose relay is not done, the commits this laptop holds after what
// the hub said it holds -- exactly what the relay would send the hub --
// read from the log once per rebuild.
#include <algorithm>
#include <utility>

#include "schema/validate_commit.h"
#include "store/relay_cursor.h"
#include "store/replica_impl.h"

namespace fieldsync {
namespace {

// Reads what ReplayBeyondHub merges again: of each (author, held), the
// author's logged commits held+1, held+2, ... as the relay sends them
// (sync/relay.cc: no gap, whole and signed, with their chain header), up
// to the first that is not, or that does not decode, is invalid under the
// schema or is refused by the key ring (revoked or cut off: it would not go
// to the hub, nor should it come back here); then, of the rows they
// create, those a logged write outside them shows the hub held. `pushed`:
// this laptop's own commits the hub acknowledged (its own held there).
absl::StatusOr<Replica::Impl::BeyondHub> ReadBeyondHub(
    Replica::Impl& m, const std::vector<std::pair<uint32_t, uint64_t>>& held, uint64_t pushed,
    size_t* skipped) {
  Replica::Impl::BeyondHub out;
  out.held = held;
  for (const auto& [author, after] : held) {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT l.pos, l.seq, l.body, s.sig, "
                                                "coalesce(length(ch.header), 0) FROM _fs_log l "
                                                "LEFT JOIN _fs_signatures s ON s.pos = l.pos "
                                                "LEFT JOIN _fs_chain ch ON ch.device = ?3 AND "
                                                "ch.seq = l.seq WHERE l.device = ?1 AND l.seq > "
                                                "?2 ORDER BY l.seq"));
    st->BindInt(1, author);
    st->BindInt(2, static_cast<int64_t>(after));
    st->BindBlob(3, m.devices[author].id.view());
    uint64_t next = after + 1;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      if (static_cast<uint64_t>(st->ColumnInt(1)) != next || st->ColumnIsNull(3) ||
          st->ColumnBlob(3).empty() || st->ColumnInt(4) == 0) {
        break;  // a gap, or held only in part: the relay stops there too
      }
      absl::StatusOr<Commit> c = DecodeCommit(st->ColumnBlob(2));
      if (c.ok()) c->signature = st->ColumnString(3);
      absl::Status bad = c.ok() ? ValidateCommit(*m.schema, *c) : c.status();
      if (bad.ok() && m.security.verify) bad = m.security.verify(*c, /*position=*/0);
      if (!bad.ok() || c->author != m.devices[author].id || c->seq != next) {
        ++*skipped;
        break;
      }
      out.entries.push_back({st->ColumnInt(0), author, *std::move(c)});
      ++next;
    }
  }
  std::sort(out.entries.begin(), out.entries.end(),
            [](const auto& a, const auto& b) { return a.pos < b.pos; });
  std::set<std::pair<uint32_t, uint64_t>> merged;  // (author, seq) merged again
  for (const Replica::Impl::BeyondEntry& e : out.entries) merged.emplace(e.author, e.commit.seq);
  // The rows they would create.
  std::set<std::pair<size_t, RowId>> creates;
  for (const Replica::Impl::BeyondEntry& e : out.entries) {
    for (const RowChange& rc : e.commit.changes) {
      for (const FieldWrite& f : rc.fields) {
        const int ti = m.schema->TableIndex(rc.table);
        if (ti >= 0 && f.column == kLiveColumn && f.value == Value::Int(1)) {
          creates.emplace(static_cast<size_t>(ti), rc.row);
        }
      }
    }
  }
  if (creates.empty()) return out;
  // A write of such a row by a commit not merged again -- another author's
  // (one without a relay cursor, or at or below it: the hub held it), this
  // laptop's own it acknowledged, or one of a named author after its run
  // stopped (a gap, a commit held in part or refused: attack review 30, R1)
  // -- leaves the row to what the hub and the rest of the log say: absent
  // from the hub's rows, it was deleted and collected there, or left this
  // office's scope (attack review 29, S1), and a delete after a stop is
  // never merged. The whole log: such a write may come before the
  // creation (a row created again).
  FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT device, seq, body FROM _fs_log"));
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    const auto device = static_cast<uint32_t>(st->ColumnInt(0));
    const auto seq = static_cast<uint64_t>(st->ColumnInt(1));
    if (device == m.self_idx && seq > pushed) continue;  // not at the hub
    if (merged.count({device, seq}) > 0) continue;       // merged again here
    absl::StatusOr<Commit> c = DecodeCommit(st->ColumnBlob(2));
    if (!c.ok()) continue;
    for (const RowChange& rc : c->changes) {
      const int ti = m.schema->TableIndex(rc.table);
      if (ti < 0) continue;
      const std::pair<size_t, RowId> key(static_cast<size_t>(ti), rc.row);
      if (creates.count(key) > 0) out.held_rows.insert(key);
    }
  }
  return out;
}

}  // namespace

absl::Status Replica::Impl::ReplayBeyondHub(sqlite::Transaction& txn, const PulledBatch& batch,
                                            const std::set<std::pair<size_t, RowId>>* only,
                                            const std::set<std::pair<size_t, RowId>>& collected) {
  auto cursor = [&](const std::string& name) -> absl::StatusOr<int64_t> {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT value FROM _fs_cursors WHERE name = ?1"));
    st->BindText(1, name);
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    return found ? st->ColumnInt(0) : 0;
  };
  // The hub's word is current in the batch that says it, and for rows of
  // a bootstrap served at the collection it was said at; a collection
  // since may have taken a row a commit after a cursor creates, which the
  // hub held since (a relay cut, the author sending it itself, a colleague
  // deleting it: attack review 29, S1).
  if (!batch.went_back_to) {
    if (!batch.bootstrap_cut) return absl::OkStatus();
    FS_ASSIGN_OR_RETURN(const int64_t word_epoch, cursor(kRelayGcEpochCursor));
    if (static_cast<int64_t>(batch.bootstrap_cut->gc_epoch) != word_epoch) {
      return absl::OkStatus();
    }
  }
  std::vector<std::pair<uint32_t, uint64_t>> held;  // (author, seq the hub holds)
  {
    const std::string prefix = kRelayCursorPrefix;
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT name, value FROM _fs_cursors WHERE "
                                              "substr(name, 1, ?2) = ?1 AND value >= 0 ORDER BY "
                                              "name"));
    st->BindText(1, prefix);
    st->BindInt(2, static_cast<int64_t>(prefix.size()));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      const std::string name = st->ColumnString(0);
      absl::StatusOr<DeviceId> author = Id16::Parse(name.substr(prefix.size()), "relay");
      if (!author.ok() || *author == self) continue;
      const auto it = device_index.find(*author);
      const auto h = static_cast<uint64_t>(st->ColumnInt(1));
      if (it != device_index.end() && devices[it->second].max_seq > h) {
        held.emplace_back(it->second, h);
      }
    }
  }
  if (held.empty()) return absl::OkStatus();
  // Read again at a reset (the only batch that creates rows: the log's
  // writes since are evidence too) and at the hub's word.
  if (!beyond || batch.reset || batch.went_back_to || beyond->held != held) {
    uint64_t pushed = 0;
    if (!batch.pushed_cursor.empty()) {
      FS_ASSIGN_OR_RETURN(const int64_t p, cursor(batch.pushed_cursor));
      pushed = static_cast<uint64_t>(std::max<int64_t>(p, 0));
    }
    beyond.reset();
    size_t skipped = 0;
    FS_ASSIGN_OR_RETURN(BeyondHub read, ReadBeyondHub(*this, held, pushed, &skipped));
    beyond = std::move(read);
    if (skipped > 0) {
      FS_RETURN_IF_ERROR(SetCursorInTxn(txn, kRelayUnmergedCursor, static_cast<int64_t>(skipped)));
    }
  }
  for (const BeyondEntry& e : beyond->entries) {
    for (const RowChange& rc : e.commit.changes) {
      const int ti = schema->TableIndex(rc.table);
      if (ti < 0) continue;
      const std::pair<size_t, RowId> key(static_cast<size_t>(ti), rc.row);
      if (only != nullptr && only->count(key) == 0) continue;
      if (collected.count(key) > 0) continue;
      FS_ASSIGN_OR_RETURN(RowState rs, LoadRow(key.first, rc.row, /*all_values=*/false));
      if (!rs.exists) {
        // Not held: only the change that creates it brings it (never an
        // edit or a delete), and not a row the hub held.
        bool creates = false;
        for (const FieldWrite& f : rc.fields) {
          creates |= f.column == kLiveColumn && f.value == Value::Int(1);
        }
        if (!creates || beyond->held_rows.count(key) > 0) continue;
      }
      FS_RETURN_IF_ERROR(MergeRowChange(e.commit, e.author, key.first, rc, rs));
      FS_RETURN_IF_ERROR(StoreRow(key.first, rc.row, rs));
    }
  }
  return absl::OkStatus();
}

}  // namespace fieldsync
