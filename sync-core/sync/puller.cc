#include "sync/puller.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "change/commit_codec.h"
#include "sync/chain_keeper.h"
#include "sync/compact_header.h"
#include "sync/retry.h"
#include "sync/statement_keeper.h"

namespace fieldsync::sync {
namespace {

// Why a pull stopped on the node's side (the stream is then cancelled).
struct Stopped {
  absl::Status status;
  bool set = false;
};

}  // namespace

absl::Status Puller::PullAll(Replica& replica, KeyRing& keys, const std::atomic<bool>* stop,
                             const std::function<void(const SyncReport&)>& progress,
                             SyncReport* report) {
  FS_ASSIGN_OR_RETURN(int64_t cursor, replica.GetCursor(kPulledCursor));
  FS_ASSIGN_OR_RETURN(int64_t bootstrapped, replica.GetCursor(kBootstrappedCursor));
  // A removed or revoked device's work is taken up to the end of the first
  // pull, caught up, that began after the hub held its removal (KeyRing).
  FS_RETURN_IF_ERROR(keys.BeginPull());
  struct Abandon {
    KeyRing& keys;
    bool ended = false;
    ~Abandon() {
      if (!ended) keys.AbandonPull();
    }
  } abandon{keys};
  PullRequest req;
  req.protocol_version = protocol_version_;
  req.credential = cred_;
  const bool chains = protocol_version_ >= 3;
  ChainKeeper keeper(replica, keys, keys.clock());
  StatementKeeper statements(replica, keys, keys.clock());
  if (chains) {
    req.params.chains = true;
    FS_ASSIGN_OR_RETURN(req.params.chain_heads, keeper.Heads());
    req.params.chain_wants = chain_wants_;
    if (compact_headers_) req.params.compact_headers = kCompactHeaderForm;
    FS_ASSIGN_OR_RETURN(req.params.statement_cursor, replica.GetCursor(kStatementCursor));
  }
  req.params.cursor = cursor;
  req.params.bootstrapped = bootstrapped == 1;
  FS_ASSIGN_OR_RETURN(int64_t gc_epoch, replica.GetCursor(kGcEpochCursor));
  req.params.gc_epoch = static_cast<uint64_t>(gc_epoch);
  req.params.max_batch = options_.max_batch;
  FS_ASSIGN_OR_RETURN(int64_t key_cursor, replica.GetCursor(kKeyCursor));
  req.params.key_cursor = key_cursor;
  req.params.registry_digest = keys.RegistryDigest();
  req.schema_version = static_cast<uint32_t>(replica.schema().version());
  bool caught_up = false;
  report->cursor = cursor;
  Stopped stopped;
  auto on_chunk = [&](PullChunk& msg) -> absl::Status {
    if (stopped.set) return stopped.status;  // a transport that calls again
    // The registry and key records come first: pulled commits are verified
    // against the registry.
    absl::Status keys_bad;
    if (msg.registry_included) keys_bad = keys.SetRegistry(msg.registry);
    if (keys_bad.ok() && !msg.key_records.empty()) {
      absl::StatusOr<KeyRecordsReport> kr = keys.AddRecords(msg.key_records);
      if (!kr.ok()) {
        keys_bad = kr.status();
      } else {
        report->key_records_received += kr->added;
        report->key_records_refused += kr->refused;
        if (report->key_refusal.empty()) report->key_refusal = kr->first_refusal;
        if (msg.key_cursor > 0) keys_bad = replica.SetCursor(kKeyCursor, msg.key_cursor);
      }
    }
    if (!keys_bad.ok()) {
      stopped.set = true;
      return stopped.status = absl::Status(
                 keys_bad.code(), absl::StrCat("the hub's registry or key records could not be "
                                               "taken in: ", keys_bad.message()));
    }
    PulledBatch batch;
    batch.reset = msg.reset;
    batch.pushed_cursor = kPushedCursor;  // guards resets and installed rows
    if (msg.reset) report->bootstrapped = true;
    if (!msg.notice.empty()) report->notice = msg.notice;
    batch.rows_position = msg.rows_position;
    batch.rows = std::move(msg.rows);
    batch.purged = std::move(msg.purged);
    absl::Status bad;
    // Compact headers rebuilt from their bodies first: from here on an
    // entry is as if its header had come whole (its signature decides).
    if (chains && compact_headers_) bad = ExpandPulled(msg.commits);
    if (bad.ok() && (chains || downgraded_)) {
      bad = keeper.Sort(msg.commits, &batch, &report->chain);
      statements.Take(msg.statements, &batch, &report->chain);
      if (msg.statement_cursor > 0) {
        batch.cursors.emplace_back(kStatementCursor, msg.statement_cursor);
      }
    } else if (bad.ok()) {
      for (PulledEntry& c : msg.commits) {
        absl::StatusOr<Commit> commit = DecodeCommit(c.canonical);
        if (!commit.ok()) {
          bad = commit.status();
          break;
        }
        commit->signature = std::move(c.signature);
        commit->omitted = std::move(c.omitted);
        batch.commits.emplace_back(c.position, *std::move(commit));
      }
    }
    if (!bad.ok()) {
      stopped.set = true;
      return stopped.status = absl::DataLossError(absl::StrCat(
                 "the hub sent a malformed pull batch (nothing of it was applied): ",
                 bad.message()));
    }
    // A bootstrap starts by forgetting the last one, and is complete only
    // with its last message: a cut in between starts it over.
    if (msg.reset) batch.cursors.emplace_back(kBootstrappedCursor, 0);
    if (msg.cursor > 0 || msg.caught_up) {
      batch.cursors.emplace_back(kPulledCursor, msg.cursor);
      batch.cursors.emplace_back(kBootstrappedCursor, 1);
      batch.cursors.emplace_back(kGcEpochCursor, static_cast<int64_t>(msg.gc_epoch));
    }
    absl::StatusOr<PullResult> r = replica.ApplyPulled(batch);
    if (!r.ok()) {
      stopped.set = true;
      if (r.status().code() == absl::StatusCode::kUnauthenticated ||
          r.status().code() == absl::StatusCode::kPermissionDenied) {
        // Another device's commit failed verification here: not this node's
        // credential. Nothing of the batch was applied; the pass fails and
        // is retried, and the administrator must look.
        return stopped.status = absl::DataLossError(absl::StrCat(
                   "the hub relayed a commit that does not verify, so nothing of that batch "
                   "was applied (tell the hub administrator): ",
                   r.status().message()));
      }
      return stopped.status = r.status();
    }
    if (r->deferred > 0) {
      stopped.set = true;
      return stopped.status = absl::AbortedError(absl::StrCat(
                 r->deferred, " pulled commits depend on commits this node does not hold; the "
                              "batch was applied without moving the cursor, sync again"));
    }
    report->pulled += r->applied;
    report->rows_installed += r->rows_installed;
    report->tombstones_purged += r->tombstones_purged;
    report->pull_messages += 1;
    report->log_head = msg.log_head;
    if (msg.cursor > 0) report->cursor = msg.cursor;
    if (progress) progress(*report);
    if (msg.caught_up) caught_up = true;
    if (stop != nullptr && stop->load() && !caught_up) {
      stopped.set = true;
      return stopped.status =
                 absl::CancelledError("stopped during the pull; what was applied is kept");
    }
    return absl::OkStatus();
  };
  absl::Status s = transport_.Pull(req, on_chunk);
  if (stopped.set) return stopped.status;
  if (!s.ok()) return Refused("the pull", s);
  if (!caught_up) {
    return absl::UnavailableError("the pull ended before the hub said it was complete; sync again");
  }
  abandon.ended = true;
  if (chains || downgraded_) {
    FS_ASSIGN_OR_RETURN(std::vector<HeldEntry> held, replica.Held(std::nullopt));
    report->chain.held = held.size();
  }
  // Evidence not yet marked read keeps fieldnode sync at exit 5, whatever
  // version this pass spoke.
  FS_RETURN_IF_ERROR(CountEvidence(replica, &report->chain));
  return keys.EndPull();
}

}  // namespace fieldsync::sync
