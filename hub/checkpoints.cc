#include "hub/checkpoints.h"

#include <algorithm>
#include <cstddef>
#include <deque>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "crypto/merkle.h"
#include "hub/pull_plan.h"
#include "hub/scope.h"
#include "store/row_state.h"

namespace fieldsync::hub {

absl::StatusOr<std::vector<CheckpointRow>> ScopeState(HubReadTxn& hub,
                                                      const std::string& province) {
  Scope scope(hub);
  std::vector<CheckpointRow> out;
  // The rows' states a page at a time (ExportRows: a store a round trip
  // away reads a page in a few queries; ExportRow each was 3 a row).
  constexpr size_t kRowsExported = 512;
  for (const TableDef& t : hub.schema().tables()) {
    const std::string table(t.name);
    FS_ASSIGN_OR_RETURN(std::vector<RowId> rows, scope.VisibleRows(province, table));
    std::sort(rows.begin(), rows.end());
    for (size_t from = 0; from < rows.size(); from += kRowsExported) {
      const std::vector<RowId> page(
          rows.begin() + static_cast<std::ptrdiff_t>(from),
          rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), from + kRowsExported)));
      FS_ASSIGN_OR_RETURN(std::vector<std::optional<RowSnapshot>> snaps,
                          hub.ExportRows(table, page));
      for (size_t i = 0; i < page.size(); ++i) {
        if (!snaps[i]) continue;
        CheckpointRow r;
        r.index = static_cast<uint32_t>(out.size());
        r.table = table;
        r.row = page[i];
        FS_ASSIGN_OR_RETURN(r.state, EncodeRowState(*snaps[i]));
        r.leaf = crypto::RowLeafHash(r.state);
        out.push_back(std::move(r));
      }
    }
  }
  return out;
}

absl::StatusOr<AdoptAnswer> TryAdoptCheckpoint(HubWriteTxn& hub, const NodeInfo& node,
                                               const crypto::Statement& s,
                                               const std::string& bytes, int64_t now_millis) {
  const std::string id = crypto::StatementId(bytes);
  FS_ASSIGN_OR_RETURN(std::optional<StoredCheckpoint> held, hub.CheckpointById(id));
  if (held) return AdoptAnswer{};
  FS_ASSIGN_OR_RETURN(const int64_t head, hub.LogHead());
  const auto position = static_cast<int64_t>(s.position);
  if (position > head) {
    return AdoptAnswer{absl::StrCat("the checkpoint names position ", position,
                                    ", past this hub's log (", head, ")")};
  }
  // Its heads become anchors on every laptop bootstrapped from it: each
  // must be an entry this hub holds, with that link.
  for (const crypto::StatedHead& h : s.heads) {
    FS_ASSIGN_OR_RETURN(std::vector<StoredChainEntry> at,
                        hub.ChainEntries(h.author, h.seq, h.seq, 1));
    if (at.empty() || at.front().seq != h.seq || at.front().link != h.link) {
      return AdoptAnswer{absl::StrCat("the checkpoint states entry ", h.seq, " of device ",
                                      h.author.ToString(), " with a link this hub does not hold")};
    }
  }
  Scope scope(hub);
  FS_ASSIGN_OR_RETURN(std::vector<LogEntry> later,
                      scope.LogEntries(node.province, position, head, 1));
  if (!later.empty()) {
    return AdoptAnswer{absl::StrCat("the office's records changed after position ", position,
                                    " (at ", later.front().position,
                                    "): a later pass tries again")};
  }
  // The office's newest checkpoint is current and says the same: no scan.
  FS_ASSIGN_OR_RETURN(std::optional<StoredCheckpoint> newest, hub.NewestCheckpoint(node.province));
  if (newest) {
    FS_ASSIGN_OR_RETURN(std::vector<LogEntry> since,
                        scope.LogEntries(node.province, newest->position, head, 1));
    absl::StatusOr<crypto::Statement> its = crypto::DecodeStatement(newest->statement);
    if (since.empty() && its.ok() && its->root == s.root && its->leaf_count == s.leaf_count) {
      return AdoptAnswer{};
    }
  }
  FS_ASSIGN_OR_RETURN(std::vector<CheckpointRow> rows, ScopeState(hub, node.province));
  std::vector<std::string> leaves;
  leaves.reserve(rows.size());
  for (const CheckpointRow& r : rows) leaves.push_back(r.leaf);
  if (rows.size() != s.leaf_count || crypto::MerkleRoot(leaves) != s.root) {
    return AdoptAnswer{absl::StrCat("this hub's ", rows.size(), " rows of ", node.province,
                                    " do not give the root the laptop signed over ",
                                    s.leaf_count,
                                    " (it may have collected deleted records since the "
                                    "laptop's pull)"),
                       true};
  }
  StoredCheckpoint c;
  c.id = id;
  c.province = node.province;
  c.position = position;
  c.leaf_count = s.leaf_count;
  c.adopted_at_millis = now_millis;
  FS_ASSIGN_OR_RETURN(const GcState gc, hub.Gc());
  c.gc_epoch = gc.epoch;
  c.statement = bytes;
  FS_RETURN_IF_ERROR(hub.AdoptCheckpoint(c, rows, kCheckpointsKept));
  return AdoptAnswer{};
}

absl::StatusOr<std::optional<CheckpointServed>> SendCheckpoint(
    HubReadTxn& hub, const NodeInfo& node, const PullParams& params, uint64_t gc_epoch,
    PullChunk& chunk, const std::function<absl::Status(PullChunk&)>& send,
    const std::function<size_t()>& limit) {
  std::optional<StoredCheckpoint> ck;
  uint32_t next = 0;
  if (!params.resume_checkpoint.empty()) {
    FS_ASSIGN_OR_RETURN(ck, hub.CheckpointById(params.resume_checkpoint));
    if (ck && (ck->province != node.province || ck->gc_epoch != gc_epoch)) ck.reset();
    if (ck) next = std::min(params.resume_index, ck->leaf_count);
  }
  if (!ck) {
    FS_ASSIGN_OR_RETURN(ck, hub.NewestCheckpoint(node.province));
    if (!ck || ck->gc_epoch != gc_epoch) return std::optional<CheckpointServed>();
  }
  FS_ASSIGN_OR_RETURN(crypto::Statement s, crypto::DecodeStatement(ck->statement));
  FS_ASSIGN_OR_RETURN(std::vector<std::string> leaves, hub.CheckpointLeaves(ck->id));
  if (leaves.size() != ck->leaf_count) {
    return absl::DataLossError(absl::StrCat("checkpoint of ", ck->province, " holds ",
                                            leaves.size(), " rows of ", ck->leaf_count));
  }
  FS_ASSIGN_OR_RETURN(const crypto::MerkleTree tree, crypto::MerkleTree::Build(leaves));
  const size_t per_page = std::max<size_t>(params.max_batch, 1);
  chunk.checkpoint = ck->statement;
  chunk.reset = next == 0;  // a fresh start drops what an older one installed
  // Proofs as deltas (crypto/merkle.h) once the node holds the state at
  // `next`: at a fresh start it holds the empty one; resumed, it says so;
  // after each page of this call, the state that page left.
  bool node_holds_state = params.proof_deltas && (next == 0 || params.proof_kept);
  if (ck->leaf_count == 0) {
    chunk.cursor = ck->position;
    FS_RETURN_IF_ERROR(send(chunk));
  }
  // The rows read and not sent yet, from `next` on: each message is made
  // from the per_page rows from `next`, as before, but a row is read once:
  // what a message left (it takes what fits its bytes, the first ones of a
  // call small) is kept for the next, and only the rows after it are read
  // (a store a round trip away read each row about 18 times in a
  // 10,000-row bootstrap). Once fewer than per_page rows are held, up to
  // kRowsAhead more are read in the same query: a message's bytes hold
  // about 120 rows, and topping up only what each took made 85 round trips
  // for 10,300 rows.
  constexpr size_t kRowsAhead = 1024;
  std::deque<CheckpointRow> rows;
  while (next < ck->leaf_count) {
    const uint32_t held_to = next + static_cast<uint32_t>(rows.size());
    if (rows.size() < per_page && held_to < ck->leaf_count) {
      FS_ASSIGN_OR_RETURN(std::vector<CheckpointRow> more,
                          hub.CheckpointRows(ck->id, held_to,
                                             per_page + kRowsAhead - rows.size()));
      for (CheckpointRow& r : more) rows.push_back(std::move(r));
    }
    if (rows.empty() || rows.front().index != next) {
      return absl::DataLossError(absl::StrCat("checkpoint of ", ck->province, " lacks row ",
                                              next));
    }
    sync::CheckpointPage page;
    page.checkpoint = ck->id;
    page.first = next;
    size_t bytes = 0;
    while (!rows.empty() && page.states.size() < per_page) {
      CheckpointRow& r = rows.front();
      // Rows run on by index (a store lacking one names it, as above, not
      // a page its proof does not cover: attack review 28, LOW 2).
      if (r.index != next + page.states.size()) {
        return absl::DataLossError(absl::StrCat("checkpoint of ", ck->province, " lacks row ",
                                                next + page.states.size()));
      }
      if (!page.states.empty() && bytes + r.state.size() > limit()) break;
      bytes += r.state.size();
      page.states.push_back(std::move(r.state));
      rows.pop_front();
    }
    const auto end = next + static_cast<uint32_t>(page.states.size());
    FS_ASSIGN_OR_RETURN(page.proof, tree.RangeProof(next, end));
    if (node_holds_state) {
      std::vector<std::string> delta;
      for (size_t i : crypto::ProofDeltaPositions(ck->leaf_count, next, end)) {
        delta.push_back(std::move(page.proof[i]));
      }
      page.proof = std::move(delta);
      page.proof_delta = true;
    }
    node_holds_state = params.proof_deltas;
    next = end;
    chunk.page = std::move(page);
    if (next == ck->leaf_count) chunk.cursor = ck->position;
    FS_RETURN_IF_ERROR(send(chunk));
  }
  CheckpointServed out;
  out.position = ck->position;
  out.heads = std::move(s.heads);
  return std::optional<CheckpointServed>(std::move(out));
}

}  // namespace fieldsync::hub
