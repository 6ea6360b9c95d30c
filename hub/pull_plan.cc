#include "hub/pull_plan.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "change/commit_codec.h"
#include "crypto/commit_header.h"
#include "crypto/commit_signature.h"
#include "crypto/key_record.h"
#include "hub/checkpoints.h"
#include "hub/key_mark.h"
#include "hub/log_chain.h"
#include "hub/scope.h"
#include "hub/statements.h"
#include "schema/relations.h"
#include "store/keyring.h"

namespace fieldsync::hub {
namespace {

// The rows of a bootstrap read from the store at once (HubReadTxn::
// ExportRows): a few queries a page on PostgreSQL instead of three a row.
constexpr size_t kBootstrapReadPage = 256;

// A rough size of a row on the wire, to keep messages well under the limit.
// A collected row in a message, besides its table's name: its id and the
// protobuf framing (PullResponse.purged, a RowRef).
constexpr size_t kPurgedRowBytes = 24;

size_t ApproxSize(const RowSnapshot& r) {
  size_t n = 32 + r.table.size();
  for (const FieldState& f : r.fields) n += 48 + f.column.size() + f.value.str().size();
  for (const ConflictRecord& c : r.conflicts) n += 64 + c.column.size() + c.value.str().size();
  return n;
}

// Key records every office's nodes receive: office keys, grants (filtered
// by sight below), erasures, membership records (a laptop checks another
// office's chain before granting to it). The rest go to their office only.
bool ForEveryOffice(int kind) {
  return kind == static_cast<int>(crypto::KeyRecordKind::kOfficeKey) ||
         kind == static_cast<int>(crypto::KeyRecordKind::kDataKey) ||
         kind == static_cast<int>(crypto::KeyRecordKind::kErasure) ||
         kind == static_cast<int>(crypto::KeyRecordKind::kMembership);
}

// The commits behind every version `snap` holds (fields and open conflict
// records), each trimmed to the rows in `installed` with the digests of
// the changes left out, by (author, HLC). A version whose commit the hub
// lacks or holds unsigned has none: the node then installs the row as
// served, vouched for by nothing.
absl::StatusOr<std::vector<std::pair<std::pair<DeviceId, uint64_t>, PulledEntry>>> Witnesses(
    HubReadTxn& hub, const RowSnapshot& snap,
    const std::set<std::pair<std::string, RowId>>& installed) {
  std::set<std::pair<DeviceId, uint64_t>> versions;
  for (const FieldState& f : snap.fields) {
    versions.emplace(f.version.version.device, f.version.version.hlc.packed());
  }
  for (const ConflictRecord& c : snap.conflicts) {
    versions.emplace(c.version.device, c.version.hlc.packed());
  }
  // For a row whose owner is a column of its own, the commits of the
  // versions its owner and its `_live` replaced, back to its creation: the
  // node checks each owner was written by the office owning the row then.
  absl::StatusOr<OwnerRelation> own = OwnerOf(hub.schema(), snap.table);
  if (own.ok() && own->link == OwnerLink::kColumn) {
    for (const FieldState& f : snap.fields) {
      if (f.column != own->column && f.column != kLiveColumn) continue;
      std::optional<Version> base = f.version.base;
      for (int depth = 0; base && depth < 64; ++depth) {
        versions.emplace(base->device, base->hlc.packed());
        FS_ASSIGN_OR_RETURN(std::optional<LogEntry> e, hub.CommitOfVersion(*base));
        if (!e) break;
        FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(e->body));
        base.reset();
        for (const RowChange& rc : c.changes) {
          if (rc.table != snap.table || rc.row != snap.row) continue;
          for (const FieldWrite& w : rc.fields) {
            if (w.column == f.column) base = w.base;
          }
        }
      }
    }
  }
  std::vector<std::pair<std::pair<DeviceId, uint64_t>, PulledEntry>> out;
  for (const auto& [device, hlc] : versions) {
    FS_ASSIGN_OR_RETURN(std::optional<LogEntry> e,
                        hub.CommitOfVersion(Version{Hlc::FromPacked(hlc), device}));
    if (!e || e->signature.empty()) continue;
    FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(e->body));
    PulledEntry w;
    w.position = e->position;
    std::vector<RowChange> kept;
    for (size_t i = 0; i < c.changes.size(); ++i) {
      RowChange& rc = c.changes[i];
      if (installed.count({rc.table, rc.row}) > 0) {
        kept.push_back(std::move(rc));
      } else {
        w.omitted.emplace_back(static_cast<uint32_t>(i), crypto::ChangeDigest(rc));
      }
    }
    if (kept.size() == c.changes.size()) {
      w.canonical = std::move(e->body);
    } else {
      c.changes = std::move(kept);
      w.canonical = EncodeCommit(c);
    }
    w.signature = std::move(e->signature);
    out.emplace_back(std::make_pair(device, hlc), std::move(w));
  }
  return out;
}

// Why an unverified bootstrap cut at `cut` cannot be continued from this
// hub's current rows; empty if it can. Its rows hold the hub's state at
// `cut.position` and take the log after it: the tombstones of that log
// must all still be here (the same collection epoch), and the log there
// the one it began from (a hub put back from an older backup has another,
// or none).
absl::StatusOr<std::string> WhyNotContinued(HubReadTxn& hub, const DeviceId& hub_id,
                                            const BootstrapCut& cut, int64_t head,
                                            uint64_t epoch) {
  if (cut.gc_epoch != epoch) {
    return std::string("deleted records were collected on the hub since it began");
  }
  if (cut.position < 0 || cut.position > head) {
    return absl::StrCat("the hub's log ends at position ", head, ", before position ",
                        cut.position, " where it began (a hub put back from an older backup)");
  }
  FS_ASSIGN_OR_RETURN(std::optional<std::string> hash, LogHashAt(hub, hub_id, cut.position));
  if (!hash || *hash != cut.position_hash) {
    return absl::StrCat("the hub's log at position ", cut.position,
                        " is not the one it began from (a hub put back from a backup)");
  }
  if (!cut.table.empty() && hub.schema().FindTable(cut.table) == nullptr) {
    return std::string("it stopped at a table this hub does not know");
  }
  return std::string();
}

}  // namespace

size_t PullMessageBytes(const PullParams& params) {
  if (params.max_message_bytes == 0) return tuning::kPullChunkBytes;
  return std::min(params.max_message_bytes, tuning::kPullChunkBytes);
}

size_t PullMessageBytes(const PullParams& params, size_t sent) {
  const size_t budget = PullMessageBytes(params);
  if (params.max_message_bytes == 0) return budget;  // a node without budgets: as before
  if (budget <= kPullRampUpToBytes) return budget;     // a link's measure: no ramp
  const size_t shift = std::min<size_t>(sent, 32);
  return std::min(budget, kPullRampFirstBytes << shift);
}

absl::Status StreamPull(HubReadTxn& hub, const DeviceId& hub_id, const NodeInfo& node,
                        const PullParams& params, const std::function<bool(PullChunk&)>& emit) {
  int64_t cursor = params.cursor;
  bool bootstrapped = params.bootstrapped;
  uint64_t gc_epoch = params.gc_epoch;
  const size_t max_batch = params.max_batch;
  if (cursor < 0) {
    return absl::InvalidArgumentError(absl::StrCat("cursor ", cursor, " is negative"));
  }
  Scope scope(hub);
  // The tables whose rows a grant (kind 3) can be for.
  const std::vector<std::string> ring_tables = KeyRingTables(hub.schema());
  FS_ASSIGN_OR_RETURN(const int64_t head, hub.LogHead());
  // The hub's log chain (hub/log_chain.h): under a node that follows it, a
  // log that went back past its cursor (a hub restored from an older
  // backup) is pulled again from where the two still agree, and key
  // records and statements from their start (their cursors were given by
  // the log that was lost); duplicates are the node's to skip.
  int64_t key_cursor = params.key_cursor;
  int64_t statement_cursor = params.statement_cursor;
  std::optional<sync::LogWentBack> went_back;
  bool went_back_now = false;  // `went_back` is reset once said
  // With it, the authors the node tracks of whom the hub now holds less than
  // the node does: the node relays the rest to the hub.
  std::vector<std::pair<DeviceId, uint64_t>> held_heads;
  if (params.log_chain) {
    FS_ASSIGN_OR_RETURN(went_back, FindWentBack(hub, hub_id, cursor, params.marks, head));
    if (went_back) {
      went_back_now = true;
      cursor = went_back->to;
      key_cursor = 0;
      statement_cursor = 0;
      for (const auto& [author, seq] : params.chain_heads) {
        if (author == node.device) continue;
        FS_ASSIGN_OR_RETURN(const uint64_t held, hub.AcknowledgedSeq(author));
        if (held < seq) held_heads.emplace_back(author, held);
      }
    }
    FS_ASSIGN_OR_RETURN(const int64_t key_head, hub.KeyHead());
    if (key_cursor > key_head) key_cursor = 0;
  }
  // A key cursor whose record the hub holds with another mark, or not at
  // all: the hub went back and gave that seq again (hub/key_mark.h), or a
  // build that kept no mark of an erased record erased it (an erasure keeps
  // the marks: hub_keys_erased); its key records from the start.
  FS_ASSIGN_OR_RETURN(key_cursor, KeysFrom(hub, hub_id, key_cursor, params.key_mark));
  FS_ASSIGN_OR_RETURN(const GcState gc, hub.Gc());
  const int64_t horizon = gc.horizon;
  const uint64_t epoch = gc.epoch;
  // The collection that made the node's epoch: a number alone does not say
  // which (a hub put back from an older backup that collected to it again
  // made another list). A node that kept the id of its epoch, and whose
  // id this hub does not hold at that number (another, or none: it went
  // back past it, or an earlier build made it), is listed every row
  // collected, as a node asking with 0 (docs/PROTOCOL.md, "A collection a
  // restore cannot give again"). Without an id, the number as before.
  if (gc_epoch > 0 && params.gc_id != 0 && gc.IdOf(gc_epoch) != params.gc_id) gc_epoch = 0;
  // The collection epoch the node records from each message (its next
  // pull's gc_epoch) is the hub's, except in the last message of a pull
  // that served a checkpoint and caught up (below).
  bool checkpoint_served = false;
  // Every message: at most max_batch items and about `limit()` bytes (the
  // node's budget, the first messages of the call smaller), at least one
  // item.
  size_t sent = 0;  // messages sent so far
  auto limit = [&]() { return PullMessageBytes(params, sent); };
  size_t bytes = 0;
  // An unverified bootstrap under way: where it began, said in each of its
  // messages (docs/PROTOCOL.md, "A bootstrap resumed after a cut").
  std::optional<BootstrapCut> boot_mark;
  auto send = [&](PullChunk& chunk) -> absl::Status {
    chunk.log_head = head;
    chunk.bootstrap = boot_mark;
    if (params.log_chain) {
      if (chunk.cursor > 0) {
        FS_ASSIGN_OR_RETURN(std::optional<std::string> h, LogHashAt(hub, hub_id, chunk.cursor));
        if (h) chunk.cursor_hash = *std::move(h);
      }
      if (went_back) chunk.held_heads = std::move(held_heads);
      chunk.went_back = went_back;
      went_back.reset();  // said in the first message only
    }
    chunk.gc_epoch = checkpoint_served && chunk.caught_up ? 0 : epoch;
    chunk.gc_id = chunk.gc_epoch == epoch ? gc.id() : 0;
    if (!emit(chunk)) {
      return absl::CancelledError("the node went away during the pull");
    }
    ++sent;
    chunk = PullChunk{};
    bytes = 0;
    return absl::OkStatus();
  };
  PullChunk chunk;
  auto full = [&]() {
    return chunk.rows.size() + chunk.commits.size() >= max_batch || bytes >= limit();
  };
  // Sends what the chunk holds first if `more` bytes would take it past
  // the size a message should have (a message must stay under 16 MiB).
  auto make_room = [&](size_t more, int64_t cursor_so_far) -> absl::Status {
    if (chunk.rows.empty() && chunk.commits.empty() && chunk.key_records.empty() &&
        chunk.purged.empty()) {
      return absl::OkStatus();
    }
    if (bytes + more <= limit()) return absl::OkStatus();
    chunk.cursor = cursor_so_far;
    bytes = 0;
    return send(chunk);
  };

  // Key records the node may hold, after its key cursor: office keys,
  // erasures and membership records (a laptop checks another office's
  // chain before granting to it) for all; shares and office data keys of
  // its office; grants to its office, and grants to others of a record its
  // office sees (a laptop needs them to know when to rotate) -- only to
  // the offices concerned.
  {
    // The registry, in the same snapshot as the key records: every signer
    // of a record sent is in it. Sent when the node's copy differs.
    FS_ASSIGN_OR_RETURN(std::vector<RegisteredDevice> registry, hub.Registry());
    if (RegistryDigest(registry) != params.registry_digest) {
      chunk.registry_included = true;
      chunk.registry = registry;
      bytes += 256 * registry.size();  // about (keys, name, office, state)
    }
    // Key records count among the message's items and bytes.
    const size_t records_per_message =
        std::min(tuning::kPullKeyRecordsPerMessage, std::max<size_t>(max_batch, 1));
    FS_RETURN_IF_ERROR(hub.ForEachKeyRecordAfter(
        key_cursor, [&](const StoredKeyRecord& k) -> absl::Status {
          // Cut before a record the message has no room for (it may be one
          // the node does not get): the key cursor sent is the last
          // record looked at before it.
          if (!chunk.key_records.empty() && bytes + k.bytes.size() > limit()) {
            FS_RETURN_IF_ERROR(send(chunk));
          }
          if (!ForEveryOffice(k.kind) && k.province != node.province) return absl::OkStatus();
          chunk.key_cursor = k.seq;
          chunk.key_mark = KeyMark(hub_id, k);
          if (k.kind == static_cast<int>(crypto::KeyRecordKind::kDataKey) &&
              k.province != node.province) {
            if (!k.keyring) return absl::OkStatus();
            FS_ASSIGN_OR_RETURN(std::optional<std::string> table,
                                hub.TableOf(*k.keyring, ring_tables));
            if (!table) return absl::OkStatus();
            FS_ASSIGN_OR_RETURN(bool sees, scope.Visible(node.province, *table, *k.keyring));
            if (!sees) return absl::OkStatus();
          }
          bytes += k.bytes.size();
          chunk.key_records.push_back(k.bytes);
          if (chunk.key_records.size() >= records_per_message) {
            FS_RETURN_IF_ERROR(send(chunk));
          }
          return absl::OkStatus();
        }));
  }
  // Version 3: statements of the node's colleagues and referral partners
  // after its statement cursor (hub/statements.h), a page a message.
  if (params.chains) {
    while (true) {
      FS_ASSIGN_OR_RETURN(bool more, AddStatements(hub, node, statement_cursor, &chunk));
      if (chunk.statement_cursor != 0) statement_cursor = chunk.statement_cursor;
      if (!more) break;
      FS_RETURN_IF_ERROR(send(chunk));
    }
  }
  if (cursor > head) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the node's cursor ", cursor, " is past the end of the hub's log (", head,
        "): this replica synced with another hub, or the hub was restored from an older "
        "backup. Ask the hub administrator before syncing this node again"));
  }
  // Tombstones collected since the node last pulled: it drops them too,
  // if it holds every one of those deletes; if it missed one (it was away
  // past the stale limit), it is rebuilt, so that the row does not live on.
  bool missed_a_delete = false;
  bool list_purged = false;  // the node is sent the list (purged_done at its end)
  std::vector<std::pair<std::string, RowId>> purged;
  // Version 3: a node that takes verified pages is bootstrapped from its
  // office's newest checkpoint (hub/checkpoints.h), then pulls the log
  // after its position like any node; the heads it states anchor the
  // chains the node tracks.
  std::vector<crypto::StatedHead> anchors;
  if (!bootstrapped && params.chains && params.checkpoint_pages) {
    // A node bootstrapped from a checkpoint replays its own commits after
    // the checkpoint's head (acknowledged ones included: the log after it
    // does not send a node its own), and such a replay can bring back the
    // tombstone of a row the hub collected since (a case it created and
    // deleted). Once caught up it is told epoch 0, so that its next pull
    // names every row collected for its office (each at or before its
    // cursor: no rebuild), and it drops those it holds deleted (simulation,
    // FIELDSYNC_SEED 67's 5863666393646991858; docs/PROTOCOL.md, "Tombstone
    // collection"). A pull cut before it caught up leaves the epoch as it
    // was: a cut never makes a node rebuilt.
    FS_ASSIGN_OR_RETURN(std::optional<CheckpointServed> served,
                        SendCheckpoint(hub, node, params, epoch, chunk, send, limit));
    checkpoint_served = served.has_value();
    if (served) {
      cursor = served->position;
      bootstrapped = true;
      anchors = std::move(served->heads);
    }
  }
  if (bootstrapped && gc_epoch < epoch && anchors.empty()) {
    FS_ASSIGN_OR_RETURN(std::vector<PurgedRow> rows, hub.PurgedSince(gc_epoch, node.province));
    for (PurgedRow& p : rows) {
      if (p.position > cursor) missed_a_delete = true;
      purged.emplace_back(std::move(p.table), p.row);
    }
    list_purged = !missed_a_delete;
    // Ordered by table name, then row id, so that a node cut part way
    // through continues after the last row it applied: a list asked with
    // the same epoch, at the same epoch of the hub made by the same
    // collection (its id, when the node kept one), is the same list (a
    // collection makes a new epoch); else it comes from its first row, and
    // so in a pull whose log went back (a hub put back from a backup may
    // have collected to that number again; the node forgets its cut only
    // as it applies this pull's first message: attack review 25, LOW 1).
    std::sort(purged.begin(), purged.end());
    if (const std::optional<PurgedCut>& after = params.purged_after;
        after && !went_back_now && after->asked == params.gc_epoch && after->epoch == epoch &&
        (after->epoch_id == 0 || after->epoch_id == gc.id())) {
      const std::pair<std::string, RowId> last(after->table, after->row);
      purged.erase(purged.begin(), std::upper_bound(purged.begin(), purged.end(), last));
    }
  }
  // A node cut in an unverified bootstrap: continued after the last row it
  // installed, from the hub's current rows, when the hub can (its rows
  // then take the log after where the bootstrap began); else started over,
  // saying why.
  std::optional<BootstrapCut> continued;
  std::string restart_why;
  if (!bootstrapped && params.bootstrap_cut) {
    FS_ASSIGN_OR_RETURN(restart_why,
                        WhyNotContinued(hub, hub_id, *params.bootstrap_cut, head, epoch));
    if (restart_why.empty()) continued = params.bootstrap_cut;
  }
  // Whether a row comes after the cut in the bootstrap's order (tables in
  // schema order, rows by id): sent whole at `head` in this pull.
  const int cut_table =
      continued && !continued->table.empty() ? hub.schema().TableIndex(continued->table) : -1;
  auto after_cut = [&](const std::string& table, const RowId& row) {
    if (!continued) return false;
    const int ti = hub.schema().TableIndex(table);
    return ti > cut_table || (ti == cut_table && continued->row < row);
  };
  if (!bootstrapped || missed_a_delete) {
    // Bootstrap: the current state of the node's scope, not its history.
    if (continued) {
      boot_mark = *continued;
      boot_mark->table.clear();
      boot_mark->row = RowId();
    } else {
      FS_ASSIGN_OR_RETURN(std::optional<std::string> at_head, LogHashAt(hub, hub_id, head));
      boot_mark = BootstrapCut{head, at_head.value_or(std::string()), epoch, {}, RowId()};
      chunk.reset = true;
    }
    if (bootstrapped) {
      chunk.notice = absl::StrCat(
          "the hub collected deleted records (up to position ", horizon,
          ") whose deletes this node, last synced at position ", cursor,
          ", had not received: the replica is rebuilt from the hub's current state; nothing "
          "of this node's own work is lost");
    } else if (!restart_why.empty()) {
      chunk.notice = absl::StrCat(
          "the bootstrap this laptop was cut in cannot be continued (", restart_why,
          "): it starts again from the hub's current records; nothing of this laptop's own "
          "work is lost");
    }
    const std::vector<TableDef>& tables = hub.schema().tables();
    for (size_t ti = cut_table < 0 ? 0 : static_cast<size_t>(cut_table); ti < tables.size();
         ++ti) {
      const std::string table(tables[ti].name);
      FS_ASSIGN_OR_RETURN(std::vector<RowId> rows, scope.VisibleRows(node.province, table));
      if (continued) {
        rows.erase(std::remove_if(rows.begin(), rows.end(),
                                  [&](const RowId& row) { return !after_cut(table, row); }),
                   rows.end());
      }
      // Read a page at a time (a store a round trip away reads a page in a
      // few queries), sent as before, a row at a time.
      for (size_t first = 0; first < rows.size(); first += kBootstrapReadPage) {
        const std::vector<RowId> page(
            rows.begin() + static_cast<std::ptrdiff_t>(first),
            rows.begin() + static_cast<std::ptrdiff_t>(
                               std::min(rows.size(), first + kBootstrapReadPage)));
        FS_ASSIGN_OR_RETURN(std::vector<std::optional<RowSnapshot>> snaps,
                            hub.ExportRows(table, page));
        for (std::optional<RowSnapshot>& snap : snaps) {
          if (!snap) continue;
          FS_RETURN_IF_ERROR(make_room(ApproxSize(*snap), 0));
          bytes += ApproxSize(*snap);
          chunk.rows.push_back(*std::move(snap));
          if (full()) {
            FS_RETURN_IF_ERROR(send(chunk));
            bytes = 0;
          }
        }
      }
    }
    if (!continued) {
      chunk.cursor = head;
      chunk.caught_up = true;
      return send(chunk);
    }
    // Continued: the rows it installed before the cut are the hub's state
    // at the position it began at; they take the log after it, as a node's
    // would (what was sent whole now is left out of it), and the records
    // newly visible since.
    if (!chunk.rows.empty()) FS_RETURN_IF_ERROR(send(chunk));
    boot_mark.reset();
    cursor = continued->position;
  }

  // Collected rows to drop, counted in the message's bytes like any other
  // record (the first messages of a call small, then the node's budget),
  // at most tuning::kPullPurgedRowsPerMessage a message; the message with
  // the last one says the list is complete (attack review 24, MED 2).
  if (list_purged) {
    for (std::pair<std::string, RowId>& p : purged) {
      const size_t more = p.first.size() + kPurgedRowBytes;
      if ((bytes > 0 && bytes + more > limit()) ||
          chunk.purged.size() >= tuning::kPullPurgedRowsPerMessage) {
        FS_RETURN_IF_ERROR(send(chunk));
      }
      bytes += more;
      chunk.purged.push_back(std::move(p));
    }
    chunk.purged_done = true;
  }
  // Records newly visible through grants since the cursor: their current
  // state, then the log without them.
  FS_ASSIGN_OR_RETURN(auto fresh, scope.NewlyVisible(node.province, cursor, head));
  // With them, the grants to other offices of those records stored before
  // the node's key cursor: skipped then (its office did not see the
  // record), needed now to know who holds which version (a laptop that
  // lacks them grants again, or rotates for nothing).
  if (key_cursor > 0 && !fresh.empty()) {
    for (const auto& [table, row] : fresh) {
      FS_ASSIGN_OR_RETURN(
          std::vector<std::string> earlier,
          hub.KeyRecordsOfRing(row, static_cast<int>(crypto::KeyRecordKind::kDataKey),
                               node.province, key_cursor));
      for (std::string& bytes : earlier) chunk.key_records.push_back(std::move(bytes));
    }
  }
  // Those a continued bootstrap sent whole already are not sent again.
  if (continued) {
    std::vector<std::pair<std::string, RowId>> before_cut;
    for (auto& [table, row] : fresh) {
      if (!after_cut(table, row)) before_cut.emplace_back(std::move(table), row);
    }
    fresh = std::move(before_cut);
  }
  std::set<std::pair<std::string, RowId>> installed;
  for (const auto& [table, row] : fresh) installed.emplace(table, row);
  // Version 3: with each row, the commit behind every version it holds
  // (its witnesses, sync/row_witness.h), trimmed to the rows installed,
  // each once a message.
  std::set<std::pair<DeviceId, uint64_t>> witnessed;
  std::string rows_hash;  // the log chain's hash at `head`, once
  for (auto& [table, row] : fresh) {
    FS_ASSIGN_OR_RETURN(std::optional<RowSnapshot> snap, hub.ExportRow(table, row));
    if (!snap) continue;
    std::vector<std::pair<std::pair<DeviceId, uint64_t>, PulledEntry>> witnesses;
    size_t witness_bytes = 0;
    if (params.chains) {
      FS_ASSIGN_OR_RETURN(witnesses, Witnesses(hub, *snap, installed));
      for (const auto& [key, w] : witnesses) witness_bytes += w.canonical.size() + 96;
    }
    FS_RETURN_IF_ERROR(make_room(ApproxSize(*snap) + witness_bytes, 0));
    if (chunk.rows.empty()) witnessed.clear();
    bytes += ApproxSize(*snap);
    for (auto& [key, w] : witnesses) {
      if (!witnessed.insert(key).second) continue;
      bytes += w.canonical.size() + 96;
      chunk.witnesses.push_back(std::move(w));
    }
    chunk.rows.push_back(*std::move(snap));
    chunk.rows_position = head;
    if (params.log_chain && head > 0 && rows_hash.empty()) {
      FS_ASSIGN_OR_RETURN(std::optional<std::string> h, LogHashAt(hub, hub_id, head));
      if (h) rows_hash = *std::move(h);
    }
    chunk.rows_hash = rows_hash;
    if (full()) {
      FS_RETURN_IF_ERROR(send(chunk));
      bytes = 0;
    }
  }
  // Only the log entries kept under the node's province (what it owns or
  // was granted when they were written or since) and the shared directory
  // (hub_log_scope; Scope::LogEntries); each is still checked row by row.
  // A log entry as the node may see it, added to the chunk: trimmed to
  // the rows it sees; false if it sees none of them. Defined below.
  std::function<absl::StatusOr<bool>(LogEntry&, int64_t)> add_entry;
  // Version 3: how far the node holds each author's chain. Before a commit
  // of an author it tracks come the entries it lacks: with their body if
  // it may see them (a commit the hub withheld and now sends), else as a
  // header alone.
  std::map<DeviceId, uint64_t> chain_heads;
  for (const auto& [device, seq] : params.chain_heads) chain_heads[device] = seq;
  for (const crypto::StatedHead& h : anchors) chain_heads.try_emplace(h.author, h.seq);
  // The author and seq a stored entry's header names, if its body names
  // the same: else the hub's own store is inconsistent (a body under
  // another commit's header), and the entry bridges nothing and is never
  // a bridge's body; the node holds it back against its header.
  auto header_of = [](const LogEntry& e,
                      const Commit& body) -> std::optional<std::pair<DeviceId, uint64_t>> {
    absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(e.header);
    if (!h.ok() || h->author != body.author || h->seq != body.seq || h->author != e.author) {
      return std::nullopt;
    }
    return std::make_pair(h->author, h->seq);
  };
  auto bridge = [&](const DeviceId& author, uint64_t seq, int64_t before) -> absl::Status {
    auto [it, fresh] = chain_heads.try_emplace(author, seq);
    if (fresh) return absl::OkStatus();  // not tracked: the node anchors here
    uint64_t from = it->second + 1;
    it->second = std::max(it->second, seq);
    while (from < seq) {
      FS_ASSIGN_OR_RETURN(std::vector<StoredChainEntry> gap,
                          hub.ChainEntries(author, from, seq - 1, 1000));
      if (gap.empty()) break;
      for (StoredChainEntry& g : gap) {
        from = g.seq + 1;
        FS_ASSIGN_OR_RETURN(std::vector<LogEntry> seen,
                            scope.LogEntries(node.province, g.position - 1, g.position, 1));
        if (!seen.empty() && seen.front().position == g.position &&
            seen.front().author == author) {
          FS_ASSIGN_OR_RETURN(Commit body, DecodeCommit(seen.front().body));
          const auto named = header_of(seen.front(), body);
          if (!named || named->first != author || named->second != g.seq) continue;
          FS_ASSIGN_OR_RETURN(bool added, add_entry(seen.front(), before));
          if (added) continue;
        }
        FS_RETURN_IF_ERROR(make_room(g.header.size() + g.signature.size() + 16, before));
        bytes += g.header.size() + g.signature.size() + 16;
        PulledEntry pe;
        pe.position = g.position;
        pe.header = std::move(g.header);
        pe.header_signature = std::move(g.signature);
        chunk.commits.push_back(std::move(pe));
      }
    }
    return absl::OkStatus();
  };
  // Whether an entry added since the last message writes a row's owner.
  bool moves_owner = false;
  add_entry = [&](LogEntry& e, int64_t before) -> absl::StatusOr<bool> {
    FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(e.body));
    size_t kept = 0;
    std::vector<RowChange> visible;
    std::vector<std::pair<uint32_t, std::string>> omitted;
    std::vector<std::string> omitted_tags;
    for (size_t ci = 0; ci < c.changes.size(); ++ci) {
      RowChange& rc = c.changes[ci];
      auto omit = [&]() -> absl::Status {
        omitted.emplace_back(static_cast<uint32_t>(ci), crypto::ChangeDigest(rc));
        if (params.chains) {
          FS_ASSIGN_OR_RETURN(std::string tag, crypto::RowTag(rc.table, rc.row));
          omitted_tags.push_back(std::move(tag));
        }
        return absl::OkStatus();
      };
      // Shared directory rows are visible to all, even once collected:
      // a write to one after its delete must not bring it back.
      if (epoch > 0 && IsShared(hub.schema(), rc.table)) {
        FS_ASSIGN_OR_RETURN(bool gone, hub.IsPurged(rc.table, rc.row));
        if (gone) {
          FS_RETURN_IF_ERROR(omit());
          continue;
        }
      }
      FS_ASSIGN_OR_RETURN(bool v, scope.Visible(node.province, rc.table, rc.row));
      if (v && installed.count({rc.table, rc.row}) == 0 && !after_cut(rc.table, rc.row)) {
        ++kept;
        visible.push_back(std::move(rc));
      } else {
        FS_RETURN_IF_ERROR(omit());
      }
    }
    if (kept == 0) return false;
    for (const RowChange& rc : visible) {
      absl::StatusOr<OwnerRelation> own = OwnerOf(hub.schema(), rc.table);
      if (!own.ok() || own->link != OwnerLink::kColumn) continue;
      // Over a version it overwrote (a row created names its owner
      // without moving it: no reason to end a message).
      for (const FieldWrite& f : rc.fields) {
        if (f.column == own->column && !f.value.is_null() && f.base) moves_owner = true;
      }
    }
    if (params.chains && !e.header.empty()) {
      if (const auto named = header_of(e, c)) {
        FS_RETURN_IF_ERROR(bridge(named->first, named->second, before));
      }
    }
    std::string body;
    if (kept == c.changes.size()) {
      body = std::move(e.body);
    } else {
      c.changes = std::move(visible);
      body = EncodeCommit(c);
    }
    const size_t size =
        body.size() + e.signature.size() + e.header.size() + e.header_signature.size();
    FS_RETURN_IF_ERROR(make_room(size, before));
    bytes += size;
    PulledEntry pe;
    pe.position = e.position;
    pe.canonical = std::move(body);
    pe.signature = std::move(e.signature);
    pe.omitted = std::move(omitted);
    if (params.chains) {
      pe.header = std::move(e.header);
      pe.header_signature = std::move(e.header_signature);
      pe.omitted_tags = std::move(omitted_tags);
    }
    chunk.commits.push_back(std::move(pe));
    return true;
  };
  // Entries the node asks for (a colleague's statement names them): each
  // tracked author's after its head up to the seq wanted, before the log.
  if (params.chains) {
    for (const auto& [author, upto] : params.chain_wants) {
      if (chain_heads.count(author) == 0 || upto == 0) continue;
      FS_RETURN_IF_ERROR(bridge(author, upto + 1, cursor));
    }
  }
  int64_t after = cursor;
  while (after < head) {
    FS_ASSIGN_OR_RETURN(std::vector<LogEntry> entries,
                        scope.LogEntries(node.province, after, head, max_batch));
    if (entries.empty()) break;
    for (LogEntry& e : entries) {
      const int64_t before = after;
      after = e.position;
      if (e.author == node.device) continue;  // the node holds its own commits
      FS_ASSIGN_OR_RETURN(bool added, add_entry(e, before));
      // A message ends after an entry that writes a row's owner: a laptop
      // checks a move against the owner it holds (KeyRing::CheckOwnerMoves)
      // and verifies a message's entries before it applies them, so the
      // owner's next move, by the office it moved to, must come in a later
      // message (a case moved twice since a laptop's last pull).
      // (A move bridged in before an entry not added ends it too.)
      if ((added && full()) || moves_owner) {
        chunk.cursor = after;
        FS_RETURN_IF_ERROR(send(chunk));
        bytes = 0;
      }
      moves_owner = false;
    }
  }
  chunk.cursor = head;
  chunk.caught_up = true;
  return send(chunk);
}

}  // namespace fieldsync::hub
