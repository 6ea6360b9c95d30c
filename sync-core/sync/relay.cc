#include "sync/relay.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "change/commit_codec.h"
#include "crypto/commit_header.h"
#include "sync/pusher.h"
#include "sync/retry.h"

namespace fieldsync::sync {

namespace {

// A relay note, once a pass: the rounds of a pass try an author again, and a
// hub that fails it the same way each time (its own error, for good) would
// otherwise leave the same words once a round (attack review 66, LOW 9).
void NoteRelay(SyncReport* report, std::string note) {
  for (const std::string& n : report->relay_notes) {
    if (n == note) return;
  }
  report->relay_notes.push_back(std::move(note));
}

}  // namespace

std::string RelayCursor(const DeviceId& author) {
  return absl::StrCat(kRelayCursorPrefix, author.ToString());
}

std::string RelayKeysCursor(const DeviceId& author) {
  return absl::StrCat(kRelayKeysCursorPrefix, author.ToString());
}

absl::Status Pusher::RelayKeys(Replica& replica, KeyRing& keys, SyncReport* report) {
  FS_ASSIGN_OR_RETURN(auto cursors, replica.CursorsNamed(kRelayKeysCursorPrefix));
  for (const auto& [name, value] : cursors) {
    if (value < 0) continue;
    absl::StatusOr<DeviceId> author =
        Id16::Parse(std::string_view(name).substr(sizeof(kRelayKeysCursorPrefix) - 1), "relay");
    if (!author.ok()) {
      FS_RETURN_IF_ERROR(replica.SetCursor(name, -1));
      continue;
    }
    int64_t after = value;
    while (true) {
      FS_ASSIGN_OR_RETURN(auto records, keys.RecordsSignedBy(*author, after, 256));
      if (records.empty()) {
        FS_RETURN_IF_ERROR(replica.SetCursor(name, -1));
        break;
      }
      // Up to the budget, at least one (each at most 512 bytes).
      size_t bytes = 0;
      size_t fit = 0;
      while (fit < records.size() && (fit == 0 || bytes + records[fit].second.size() <= Limit())) {
        bytes += records[fit].second.size();
        ++fit;
      }
      records.resize(fit);
      PushRequest req = NewRequest();
      req.relayed_author = *author;
      for (const auto& r : records) req.key_records.push_back(r.second);
      absl::StatusOr<PushOutcome> resp = transport_.Push(req);
      FS_RETURN_IF_ERROR(Account(resp.status()));
      if (!resp.ok()) {
        absl::Status s = Refused("the relay of another laptop's key records", resp.status());
        if (!PermanentRefusal(s)) return s;
        // One the hub will not take (its own rules): each alone, the
        // others still go; those refused are not this laptop's to insist on.
        for (const auto& r : records) {
          PushRequest one = NewRequest();
          one.relayed_author = *author;
          one.key_records.push_back(r.second);
          absl::StatusOr<PushOutcome> r1 = transport_.Push(one);
          if (!r1.ok()) {
            absl::Status s1 = Refused("the relay of another laptop's key record", r1.status());
            if (!PermanentRefusal(s1)) return s1;
          } else {
            ++report->relayed_key_records;
          }
        }
      } else {
        report->relayed_key_records += records.size();
      }
      progressed_ = true;
      after = records.back().first;
      FS_RETURN_IF_ERROR(replica.SetCursor(name, after));
    }
  }
  return absl::OkStatus();
}

absl::Status Pusher::Relay(Replica& replica, KeyRing& keys, const std::atomic<bool>* stop,
                           SyncReport* report) {
  // In rounds over the authors, until a round moves nothing: one author's
  // commit may wait for another's (a case edited by one, created by the
  // other), which a later round of this pass delivers first.
  for (bool moved = true; moved;) {
    moved = false;
    FS_ASSIGN_OR_RETURN(auto cursors, replica.CursorsNamed(kRelayCursorPrefix));
    for (const auto& [name, value] : cursors) {
      if (value < 0) continue;
      FS_ASSIGN_OR_RETURN(const bool author_moved, RelayAuthor(replica, name, value, stop, report));
      moved = moved || author_moved;
    }
  }
  // Their key records after their commits (a record may be checked against
  // the row it is for).
  return RelayKeys(replica, keys, report);
}

absl::StatusOr<bool> Pusher::RelayAuthor(Replica& replica, const std::string& name,
                                         int64_t held, const std::atomic<bool>* stop,
                                         SyncReport* report) {
  absl::StatusOr<DeviceId> author =
      Id16::Parse(std::string_view(name).substr(sizeof(kRelayCursorPrefix) - 1), "relay");
  if (!author.ok()) {
    FS_RETURN_IF_ERROR(replica.SetCursor(name, -1));
    return false;
  }
  bool moved = false;
  while (true) {
    if (stop != nullptr && stop->load()) return absl::CancelledError("stopped while relaying");
    const size_t want = std::min(options_.max_commits, Limit() / 128 + 1);
    FS_ASSIGN_OR_RETURN(std::vector<Commit> commits,
                        replica.AuthorCommitsAfter(*author, static_cast<uint64_t>(held), want));
    PushRequest req = NewRequest();
    req.relayed_author = *author;
    size_t bytes = 0;
    uint64_t next = static_cast<uint64_t>(held) + 1;
    for (const Commit& c : commits) {
      // In seq order with no gap, whole and signed, with its header.
      if (c.seq != next || c.signature.empty() || c.header.empty()) break;
      std::string encoded = EncodeCommit(c);
      const size_t size =
          encoded.size() + c.signature.size() + c.header.size() + c.header_signature.size();
      if (!req.commits.empty() && bytes + size > Limit()) break;
      bytes += size;
      req.commits.push_back(
          PushedCommit{std::move(encoded), c.signature, c.header, c.header_signature, {}});
      ++next;
    }
    if (req.commits.empty()) {
      // Not held whole: a withdrawal entry of the author, or its refused
      // headers a withdrawal passes over, go as the hub had them.
      FS_ASSIGN_OR_RETURN(std::optional<int64_t> acked, RelayWithdrawn(replica, *author, next, report));
      if (!acked) {
        FS_RETURN_IF_ERROR(replica.SetCursor(name, -1));  // nothing more this laptop can give
        return moved;
      }
      if (*acked <= held) return moved;  // waits, as a commit would
      progressed_ = true;
      moved = true;
      held = *acked;
      FS_RETURN_IF_ERROR(replica.SetCursor(name, held));
      continue;
    }
    absl::StatusOr<PushOutcome> resp = transport_.Push(req);
    FS_RETURN_IF_ERROR(Account(resp.status()));
    if (!resp.ok()) {
      absl::Status s = Refused("the relay of another laptop's commits", resp.status());
      if (!PermanentRefusal(s)) return s;
      // Refused for good (the author revoked, unknown to the hub): not
      // this laptop's to insist on.
      NoteRelay(report, std::string(s.message()));
      FS_RETURN_IF_ERROR(replica.SetCursor(name, -1));
      return moved;
    }
    // No further than what this call carried (attack review 66, LOW 5):
    // the author's commits after them go in the next call.
    const auto acked = std::min<int64_t>(static_cast<int64_t>(resp->acknowledged_seq),
                                         static_cast<int64_t>(next) - 1);
    report->relayed += resp->applied;
    if (acked <= held) {
      // The hub took none: the first waits for something it does not hold
      // (another author's, relayed later, or its author's own): tried again
      // in the next round or pass.
      return moved;
    }
    progressed_ = true;
    moved = true;
    held = acked;
    FS_RETURN_IF_ERROR(replica.SetCursor(name, held));
  }
}

absl::StatusOr<std::optional<int64_t>> Pusher::RelayWithdrawn(Replica& replica,
                                                               const DeviceId& author,
                                                               uint64_t next, SyncReport* report) {
  FS_ASSIGN_OR_RETURN(std::optional<ChainRow> e, replica.ChainEntryAt(author, next));
  if (!e || e->state == ChainRow::State::kAnchor || e->header.empty()) return std::nullopt;
  absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(e->header);
  if (!h.ok()) return std::nullopt;
  PushRequest req = NewRequest();
  req.relayed_author = author;
  if (h->withdrawal) {
    req.withdrawals.push_back(ChainEntryBytes{e->header, e->signature});
  } else {
    // A header held alone may be a commit outside this laptop's scope as
    // well as a refused one: only the author's withdrawal passing over it
    // says it was refused (and the hub requires it).
    FS_ASSIGN_OR_RETURN(std::vector<ChainRow> ws, replica.ChainWithdrawalsAfter(author, next));
    const ChainRow* by = nullptr;
    uint64_t last = 0;
    for (const ChainRow& w : ws) {
      absl::StatusOr<crypto::CommitHeader> wh = crypto::DecodeCommitHeader(w.header);
      if (!wh.ok()) continue;
      for (const crypto::WithdrawnRange& r : wh->withdrawn) {
        if (r.first <= next && next <= r.last) {
          by = &w;
          last = r.last;
        }
      }
      if (by != nullptr) break;
    }
    if (by == nullptr) return std::nullopt;
    for (uint64_t seq = next; seq <= last && req.refused.size() < kMaxPushWithdrawals * 32;
         ++seq) {
      FS_ASSIGN_OR_RETURN(std::optional<ChainRow> r, replica.ChainEntryAt(author, seq));
      if (!r || r->header.empty() || r->state != ChainRow::State::kHeaderOnly) break;
      req.refused.push_back(RefusedEntryBytes{ChainEntryBytes{r->header, r->signature},
                                              RefusalCode::kRelayed,
                                              ChainEntryBytes{by->header, by->signature}});
    }
    if (req.refused.empty()) return std::nullopt;
  }
  absl::StatusOr<PushOutcome> resp = transport_.Push(req);
  FS_RETURN_IF_ERROR(Account(resp.status()));
  if (!resp.ok()) {
    absl::Status s = Refused("the relay of another laptop's withdrawn work", resp.status());
    if (Retryable(s)) return s;
    NoteRelay(report, std::string(s.message()));
    // Refused for good (its author unknown to the hub or revoked, an entry
    // the hub will never take as it is): not this laptop's to insist on;
    // the author sends it.
    if (PermanentRefusal(s)) return std::nullopt;
    // Anything else is not a verdict on this entry (the hub's own error,
    // its chain of that author not yet where this entry continues it, a
    // stale answer): said, the relay cursor kept, tried again in the next
    // round or pass. Before, one such answer ended the author's relay for
    // good (attack review 59, MEDIUM 3).
    return static_cast<int64_t>(next) - 1;
  }
  for (const CommitRefusal& f : resp->refusals) {
    // Taken, over a commit the hub stored (which stays stored): its author
    // is told when it pushes it; the relay goes on.
    if (f.code == RefusalCode::kWithdrawnStored && f.depends_on != 0) continue;
    NoteRelay(report, absl::StrCat("the hub did not take withdrawal ", f.seq,
                                   " of another laptop: ", f.reason));
    return std::nullopt;
  }
  report->relayed_withdrawn += req.refused.size() + req.withdrawals.size();
  // No further than the entries this call carried (attack review 66, LOW 5).
  const uint64_t carried = h->withdrawal ? next : next + req.refused.size() - 1;
  return std::min<int64_t>(static_cast<int64_t>(resp->acknowledged_seq),
                           static_cast<int64_t>(carried));
}

}  // namespace fieldsync::sync
