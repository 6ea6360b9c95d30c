#include "sync/pusher.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "change/commit_codec.h"
#include "clock/clock_source.h"
#include "crypto/commit_header.h"
#include "store/migrations.h"
#include "sync/chain.h"
#include "sync/compact_header.h"
#include "sync/retry.h"
#include "sync/set_aside.h"

namespace fieldsync::sync {

PushRequest Pusher::NewRequest() const {
  PushRequest req;
  req.protocol_version = protocol_version_;
  req.credential = cred_;
  return req;
}

size_t Pusher::Limit() const {
  return budget_ == nullptr ? options_.max_bytes : std::min(options_.max_bytes, budget_->bytes());
}

absl::Status Pusher::Account(const absl::Status& call) {
  if (budget_ == nullptr) return absl::OkStatus();
  if (call.ok()) return budget_->Record(CallOutcome::kSucceeded);
  // This laptop's own stop cancelled the call: nothing of the link.
  if (call.code() == absl::StatusCode::kCancelled && stop_ != nullptr && stop_->load()) {
    return absl::OkStatus();
  }
  if (Retryable(call)) return budget_->Record(CallOutcome::kFailedEmpty);
  return absl::OkStatus();
}

absl::Status Pusher::Backfill(Replica& replica, int64_t pushed) {
  FS_ASSIGN_OR_RETURN(int64_t accounted, replica.GetCursor(kChainAccountedCursor));
  while (accounted < pushed) {
    FS_ASSIGN_OR_RETURN(std::vector<ChainRow> rows,
                        replica.OwnChainAfter(static_cast<uint64_t>(accounted),
                                              static_cast<size_t>(std::min<int64_t>(
                                                  pushed - accounted, kMaxPushCommits))));
    // None: the chain has not begun (nothing written since the upgrade);
    // the hub takes this node's commits without headers until it does.
    if (rows.empty()) return absl::OkStatus();
    PushRequest req = NewRequest();
    size_t bytes = 0;
    for (ChainRow& r : rows) {
      if (static_cast<int64_t>(r.seq) > pushed) break;
      const size_t size = r.header.size() + r.signature.size();
      if (!req.backfill_headers.empty() && bytes + size > Limit()) break;
      FS_RETURN_IF_ERROR(
          OwnHeaderSound(r.header, r.signature, absl::StrCat("the header of commit ", r.seq)));
      bytes += size;
      req.backfill_headers.push_back(ChainEntryBytes{std::move(r.header), std::move(r.signature)});
    }
    if (req.backfill_headers.empty()) return absl::OkStatus();
    absl::StatusOr<PushOutcome> resp = transport_.Push(req);
    FS_RETURN_IF_ERROR(Account(resp.status()));
    if (!resp.ok()) return RefusedOwn("the push of this laptop's commit headers", resp.status());
    // No further than the headers this call carried (attack review 66,
    // LOW 5): a hub accounting more must not make this laptop skip them.
    const auto now = std::min<int64_t>(static_cast<int64_t>(resp->accounted_seq),
                                       static_cast<int64_t>(rows[req.backfill_headers.size() - 1].seq));
    if (now <= accounted) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the hub accounted none of this laptop's commit headers after ", accounted,
          ". Ask the hub administrator"));
    }
    accounted = now;
    FS_RETURN_IF_ERROR(replica.SetCursor(kChainAccountedCursor, accounted));
    progressed_ = true;
  }
  return absl::OkStatus();
}

absl::Status Pusher::PushCommits(Replica& replica, const std::atomic<bool>* stop,
                                 SyncReport* report) {
  FS_ASSIGN_OR_RETURN(int64_t pushed, replica.GetCursor(kPushedCursor));
  FS_ASSIGN_OR_RETURN(int64_t since_seq, replica.GetCursor(kSchemaSinceSeqCursor));
  if (protocol_version_ >= 3) {
    // A chain not begun is begun now, so that a commit the hub refuses is
    // refused alone (a commit without a header is refused with its batch:
    // the hub has no record of it to answer a repeated push with). Locked,
    // the commits go without headers, as before.
    absl::StatusOr<uint64_t> begun = replica.BeginOwnChain();
    if (!begun.ok() && begun.status().code() != absl::StatusCode::kFailedPrecondition) {
      return begun.status();
    }
    FS_RETURN_IF_ERROR(Backfill(replica, pushed));
  }
  // Set-aside work: never pushed as commits again. Only a hub that went
  // back (pushed moved back under it), or a pass cut between the set-aside
  // and the cursor, gets it again: as the hub had it, header only.
  std::map<uint64_t, SetAsideRow> aside;
  if (protocol_version_ >= 3) {
    FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> rows, replica.SetAsideList());
    for (SetAsideRow& r : rows) {
      if (static_cast<int64_t>(r.seq) > pushed) aside.emplace(r.seq, std::move(r));
    }
  }
  // Refusals of commits the hub once acknowledged stored are not believed
  // (a hub that claims it lost them, then refuses them).
  FS_ASSIGN_OR_RETURN(const int64_t acked_high, replica.GetCursor(kHubAckedHighCursor));
  while (true) {
    if (stop != nullptr && stop->load()) return absl::CancelledError("stopped before pushing all");
    // Version 3: a withdrawal of set-aside work next in this laptop's
    // chain goes in a call of its own (it has no commit in the log).
    if (protocol_version_ >= 3) {
      FS_ASSIGN_OR_RETURN(const bool sent, PushWithdrawal(replica, &pushed, report));
      if (sent) continue;
      FS_ASSIGN_OR_RETURN(const bool again, PushRefusedAgain(replica, aside, &pushed, report));
      if (again) continue;
    }
    // No more read than the budget may carry (a commit is rarely under
    // 128 bytes): a small budget is not a reason to decode 500 commits.
    const size_t want = std::min(options_.max_commits, Limit() / 128 + 1);
    FS_ASSIGN_OR_RETURN(std::vector<Commit> commits,
                        replica.LocalCommitsAfter(static_cast<uint64_t>(pushed), want));
    if (commits.empty()) {
      // Everything pushed: set-aside work not withdrawn yet is withdrawn
      // now (sync/set_aside.h), and the withdrawal pushed.
      if (protocol_version_ < 3) return absl::OkStatus();
      FS_ASSIGN_OR_RETURN(const bool made, WithdrawSetAside(replica, report));
      if (made) continue;
      return absl::OkStatus();
    }
    PushRequest req = NewRequest();
    req.schema_version = static_cast<uint32_t>(replica.schema().version());
    req.schema_since_seq = static_cast<uint64_t>(since_seq);
    // At most the budget a call (the hub takes 16 MiB), at least one
    // commit; a lone commit over the message limit can never travel, and
    // says so.
    const size_t limit = Limit();
    size_t bytes = 0;
    HeaderCompactor compactor;  // along this request
    std::optional<OwnCheck> damaged;  // of the commit after those in the request
    for (const Commit& c : commits) {
      // A seq missing from the log is a withdrawal: it goes alone, next;
      // so does a commit set aside (its header only).
      if (!req.commits.empty() && c.seq != commits[req.commits.size() - 1].seq + 1) break;
      if (!req.commits.empty() && aside.count(c.seq) > 0) break;
      // Checked against this laptop's own key before it goes: a commit
      // damaged on its disk would have the hub refuse the whole push at
      // every pass (process attack 80, HIGH 1). Those before it go first.
      if (!own_sign_pk_.empty()) {
        OwnCheck own = CheckOwnCommit(c, own_sign_pk_);
        if (own.kind != OwnCheck::Kind::kSound) {
          damaged = std::move(own);
          break;
        }
      }
      std::string encoded = EncodeCommit(c);
      if (encoded.size() > static_cast<size_t>(kMaxMessageBytes) - 4096) {
        return absl::FailedPreconditionError(absl::StrCat(
            "commit ", c.Name(), " is ", encoded.size(),
            " bytes, more than a sync message may carry (16 MiB); it cannot be pushed. Split "
            "such changes into smaller transactions"));
      }
      const size_t size = encoded.size() + c.signature.size() +
                          (protocol_version_ >= 3 ? c.header.size() + c.header_signature.size() : 0);
      if (!req.commits.empty() && bytes + size > limit) break;
      bytes += size;
      PushedCommit pc{std::move(encoded), c.signature, {}, {}, {}};
      if (protocol_version_ >= 3) {
        pc.header = c.header;
        pc.header_signature = c.header_signature;
        // Only to a hub that said it reads them: an older one refuses them.
        if (compact_headers_) {
          compactor.Offer(&c, {}, &pc.header, pc.header_signature, &pc.header_prev_link);
        }
      }
      req.commits.push_back(std::move(pc));
    }
    if (req.commits.empty()) {
      // The first is damaged: set aside here, its header alone next.
      FS_RETURN_IF_ERROR(SetAsideDamaged(replica, commits[0], *damaged, &aside, report));
      continue;
    }
    const uint64_t last_sent = commits[req.commits.size() - 1].seq;
    absl::StatusOr<PushOutcome> resp = transport_.Push(req);
    FS_RETURN_IF_ERROR(Account(resp.status()));
    if (!resp.ok()) return RefusedOwn("the push", resp.status());
    const auto acked = static_cast<int64_t>(resp->acknowledged_seq);
    if (acked <= pushed) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the hub acknowledged none of commits ", pushed + 1, "..", last_sent,
          " of this node; it holds this node's commits up to ", acked,
          ". Ask the hub administrator"));
    }
    // Refused one by one (version 3): set aside, never sent again. Before
    // the cursor moves past them: a crash between the two then sends them
    // again, and the hub names them again (its answer is the only record).
    // Only a commit of this request the hub acknowledges: a reply naming
    // another seq (replayed, or a hub making this laptop withdraw a commit
    // it stored) is not believed.
    std::vector<CommitRefusal> named;
    std::set<uint64_t> refused;  // of this request, named by the hub
    uint64_t once_stored = 0;  // the first refused that the hub had acknowledged
    for (CommitRefusal f : resp->refusals) {
      if (f.seq < commits[0].seq || f.seq > last_sent || f.seq > static_cast<uint64_t>(acked)) {
        continue;
      }
      refused.insert(f.seq);
      if (static_cast<int64_t>(f.seq) <= acked_high) {
        // Believed only at the third pass in a row (sync/set_aside.h):
        // never at once on the word of a hub that says it lost it, never
        // held back for good by an honest hub put back from a backup.
        // Every such seq of this answer is counted, each on its own, also
        // after one not believed yet: refused alike, they are believed at
        // the same pass (before, each cost three passes of its own).
        bool believed = false;
        if (counted_acked_.insert(f.seq).second) {
          const Commit& c = commits[f.seq - commits[0].seq];
          FS_ASSIGN_OR_RETURN(believed, BelieveRefusalOfAcknowledged(replica, hub_, c, acked_high,
                                                                     &f, report));
        } else {
          believed = believed_acked_.count(f.seq) > 0;
        }
        if (believed) believed_acked_.insert(f.seq);
        if (once_stored != 0) continue;
        if (!believed) {
          once_stored = f.seq;
          ++report->refused_below_acknowledged;
          report->chain.problems.push_back(absl::StrCat(
              "the hub refused commit ", f.seq, " of this laptop (", RefusalCodeName(f.code),
              ": ", f.reason, "), which it had acknowledged stored before it said it lost "
              "this laptop's commits: it is not set aside on the hub's word yet, and is sent "
              "again at the next sync; tell the hub administrator"));
          continue;
        }
      }
      // After a commit the hub once stored and now refuses: judged again
      // once that one is (the pusher stops before it).
      if (once_stored != 0) continue;
      KeepWhatTheCommitNames(commits[f.seq - commits[0].seq], &f);
      named.push_back(std::move(f));
    }
    // A dependency the hub names that this laptop's data does not bear out
    // is not believed: that commit goes again (sync/set_aside.h).
    std::string doubt;
    FS_ASSIGN_OR_RETURN(const uint64_t doubted,
                        CheckDependencies(replica, commits, &named, &doubt));
    FS_RETURN_IF_ERROR(SetAsideRefused(replica, named, report));
    // Past what this request carried, the hub names no refusal: those seqs
    // go again in the next request, and it names them (duplicates). Any
    // version: a hub acknowledging seqs not sent (one that downgraded the
    // protocol too) must not make this laptop skip them (attack review 66,
    // LOW 5).
    int64_t moved = std::min<int64_t>(acked, static_cast<int64_t>(last_sent));
    if (doubted > 0) moved = std::min<int64_t>(moved, static_cast<int64_t>(doubted) - 1);
    if (once_stored > 0) moved = std::min<int64_t>(moved, static_cast<int64_t>(once_stored) - 1);
    // Acknowledged means durably stored at the hub: never sent again; a
    // count of its refusals in a row starts again.
    if (acked_high >= static_cast<int64_t>(commits[0].seq)) {
      FS_RETURN_IF_ERROR(ForgetRefusalsOfAcknowledged(replica, commits[0].seq,
                                                      static_cast<uint64_t>(moved), refused));
    }
    FS_RETURN_IF_ERROR(replica.SetCursor(kPushedCursor, moved));
    progressed_ = true;
    if (protocol_version_ >= 3 && resp->accounted_seq > 0) {
      FS_RETURN_IF_ERROR(replica.SetCursor(
          kChainAccountedCursor,
          std::min<int64_t>(static_cast<int64_t>(resp->accounted_seq), moved)));
    }
    report->pushed += resp->applied;
    report->push_duplicates += resp->duplicates;
    pushed = moved;
    // Not sent again in this pass: a hub that repeats the claim would have
    // it sent for ever. A refusal that still lets the pass pull.
    if (doubted > 0) return absl::PermissionDeniedError(doubt);
    if (once_stored > 0) {
      return absl::PermissionDeniedError(absl::StrCat(
          "the hub refused commit ", once_stored, " of this laptop, which it had acknowledged "
          "stored: not set aside on its word; sent again at the next sync"));
    }
  }
}

absl::Status Pusher::RefusedOwn(std::string_view call, const absl::Status& s) {
  absl::Status out = Refused(call, s);
  if (s.code() != absl::StatusCode::kUnauthenticated) return out;
  // Never signed again nor re-keyed on the hub's word: what this laptop
  // sent goes again as it is at the next pass; the pull runs meanwhile.
  if (own_sign_pk_.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        out.message(), ". This laptop could not check its own signatures (its keystore is "
        "locked): unlock it, and the next sync tells whether its own data is damaged or the hub "
        "holds another key for it"));
  }
  hub_other_key_ = true;
  return absl::PermissionDeniedError(absl::StrCat(
      "the hub holds another key for this laptop: tell the hub administrator. It refused ", AV(call),
      " as not signed by this laptop, and this laptop's own key verifies what it sent; nothing "
      "is signed again, it goes again at the next sync (the hub said: ", s.message(), ")"));
}

absl::Status Pusher::OwnHeaderSound(const std::string& header, const std::string& signature,
                                    std::string_view what) const {
  if (own_sign_pk_.empty()) return absl::OkStatus();
  absl::Status v = crypto::VerifyCommitHeader(header, signature, own_sign_pk_);
  if (v.ok()) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      AV(what), " of this laptop is damaged on its disk (", v.message(), "): it is not sent, and "
      "nothing after it is pushed. This laptop's copy needs repair: tell the administrator"));
}

absl::Status Pusher::SetAsideDamaged(Replica& replica, const Commit& c, const OwnCheck& own,
                                     std::map<uint64_t, SetAsideRow>* aside,
                                     SyncReport* report) {
  if (own.kind != OwnCheck::Kind::kBodyDamaged || protocol_version_ < 3) {
    // A refusal that still lets the pass pull: nothing of it leaves.
    return absl::PermissionDeniedError(absl::StrCat(
        "commit ", c.seq, " of this laptop is damaged on its disk (", own.why, "): it is not "
        "sent, and without a sound signed header of it the hub cannot be told to pass over it, "
        "so nothing after it is pushed. This laptop's copy needs repair: tell the "
        "administrator"));
  }
  SetAsideRow r;
  r.seq = c.seq;
  r.code = static_cast<int>(RefusalCode::kDamaged);
  r.reason = absl::StrCat("damaged on this laptop's disk, never sent: ", own.why);
  r.at_millis = SystemClock::Get()->NowMillis();
  FS_RETURN_IF_ERROR(replica.SetAside({r}));
  report->chain.problems.push_back(absl::StrCat(
      "commit ", c.seq, " of this laptop is damaged on its disk (", own.why, "): it was not "
      "sent; it is set aside (fieldnode set-aside list; discard it, then write the values "
      "again: keep is refused, it would sign the damaged values anew) and its signed header "
      "alone goes, so every later change is pushed. The disk may be "
      "failing, or someone altered this laptop's data: tell the administrator"));
  progressed_ = true;
  aside->emplace(r.seq, std::move(r));
  return absl::OkStatus();
}

absl::StatusOr<bool> Pusher::PushRefusedAgain(Replica& replica,
                                              const std::map<uint64_t, SetAsideRow>& aside,
                                              int64_t* pushed, SyncReport* report) {
  uint64_t seq = static_cast<uint64_t>(*pushed) + 1;
  if (aside.count(seq) == 0) return false;
  PushRequest req = NewRequest();
  size_t bytes = 0;
  for (auto a = aside.find(seq); a != aside.end() && a->first == seq; ++a, ++seq) {
    FS_ASSIGN_OR_RETURN(std::optional<ChainRow> e, replica.ChainEntryAt(replica.device_id(), seq));
    if (!e || e->header.empty()) break;
    FS_RETURN_IF_ERROR(
        OwnHeaderSound(e->header, e->signature, absl::StrCat("the header of commit ", seq)));
    RefusedEntryBytes r;
    r.entry = ChainEntryBytes{e->header, e->signature};
    r.code = static_cast<RefusalCode>(a->second.code);
    if (a->second.withdrawal != 0) {
      FS_ASSIGN_OR_RETURN(std::optional<ChainRow> w,
                          replica.ChainEntryAt(replica.device_id(), a->second.withdrawal));
      if (w) r.withdrawn_by = ChainEntryBytes{w->header, w->signature};
    }
    const size_t size = e->header.size() + e->signature.size() + r.withdrawn_by.header.size();
    if (!req.refused.empty() &&
        (bytes + size > Limit() || req.refused.size() >= static_cast<size_t>(kMaxPushCommits))) {
      break;
    }
    bytes += size;
    req.refused.push_back(std::move(r));
  }
  if (req.refused.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this laptop's set-aside commit ", *pushed + 1, " has no signed header: the hub that "
        "lost it cannot be sent it again (unlock the keystore)"));
  }
  const uint64_t last = static_cast<uint64_t>(*pushed) + req.refused.size();
  absl::StatusOr<PushOutcome> resp = transport_.Push(req);
  FS_RETURN_IF_ERROR(Account(resp.status()));
  if (!resp.ok()) return RefusedOwn("the push of this laptop's refused headers", resp.status());
  if (resp->acknowledged_seq < last) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the hub did not account this laptop's refused headers up to ", last, " (it holds "
        "this laptop's chain up to ", resp->acknowledged_seq, "). Ask the hub administrator"));
  }
  FS_RETURN_IF_ERROR(replica.SetCursor(kPushedCursor, static_cast<int64_t>(last)));
  if (resp->accounted_seq > 0) {
    FS_RETURN_IF_ERROR(replica.SetCursor(
        kChainAccountedCursor,
        std::min<int64_t>(static_cast<int64_t>(resp->accounted_seq), static_cast<int64_t>(last))));
  }
  progressed_ = true;
  report->own_refused_resent += req.refused.size();
  *pushed = static_cast<int64_t>(last);
  return true;
}

absl::StatusOr<bool> Pusher::PushWithdrawal(Replica& replica, int64_t* pushed,
                                            SyncReport* report) {
  FS_ASSIGN_OR_RETURN(std::optional<ChainRow> w,
                      replica.ChainEntryAt(replica.device_id(), static_cast<uint64_t>(*pushed) + 1));
  if (!w || w->state != ChainRow::State::kWithdrawal) return false;
  FS_RETURN_IF_ERROR(OwnHeaderSound(w->header, w->signature, absl::StrCat("withdrawal ", w->seq)));
  PushRequest req = NewRequest();
  req.withdrawals.push_back(ChainEntryBytes{w->header, w->signature});
  absl::StatusOr<PushOutcome> resp = transport_.Push(req);
  FS_RETURN_IF_ERROR(Account(resp.status()));
  if (!resp.ok()) return RefusedOwn("the push of this laptop's withdrawal", resp.status());
  // Kept over commits the hub holds stored (session 17): a WITHDRAWN_STORED
  // refusal names each (depends_on), and only a set-aside commit this very
  // withdrawal passes over (so an officer resolved it) is believed; those
  // are written over below, nothing of the officer's resolution undone.
  // Anything else: the hub says it stored a commit it had said it refused
  // and kept nothing (a hub before session 17), or fieldsync is at fault.
  // This laptop signed the withdrawal and cannot take it back, so nothing
  // after it is pushed; a refusal for good, which still lets the pass pull
  // (colleagues' work keeps arriving).
  std::vector<uint64_t> stored;
  std::set<uint64_t> passed_over;
  if (!resp->refusals.empty()) {
    FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> rows, replica.SetAsideList());
    for (const SetAsideRow& r : rows) {
      if (r.withdrawal == w->seq && r.discarded_at_millis > 0) passed_over.insert(r.seq);
    }
  }
  for (const CommitRefusal& f : resp->refusals) {
    if (f.code == RefusalCode::kWithdrawnStored && f.seq == w->seq &&
        passed_over.count(f.depends_on) > 0) {
      if (std::find(stored.begin(), stored.end(), f.depends_on) == stored.end()) {
        stored.push_back(f.depends_on);
      }
      continue;
    }
    return absl::PermissionDeniedError(absl::StrCat(
        "the hub did not take this laptop's withdrawal ", w->seq, " (",
        RefusalCodeName(f.code), "): ", f.reason, ". The hub had said it refused what this "
        "laptop withdrew: a fault of fieldsync or of the hub; tell the hub administrator. "
        "Nothing after it is pushed meanwhile"));
  }
  const auto acked = static_cast<int64_t>(resp->acknowledged_seq);
  if (acked < static_cast<int64_t>(w->seq)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the hub did not account this laptop's withdrawal ", w->seq, " (it holds this laptop's "
        "chain up to ", acked, "). Ask the hub administrator"));
  }
  // The stored commits written over before the cursor moves: a pass cut
  // between gets the same answer again, and finds them done
  // (_fs_superseded).
  if (!stored.empty()) FS_RETURN_IF_ERROR(SupersedeStored(replica, w->seq, stored, report));
  // No further than what this call carried: a hub acknowledging more (seqs
  // this laptop has not sent) must not make it skip them; held already,
  // they go again as duplicates.
  const int64_t moved = std::min<int64_t>(acked, static_cast<int64_t>(w->seq));
  FS_RETURN_IF_ERROR(replica.SetCursor(kPushedCursor, moved));
  if (resp->accounted_seq > 0) {
    FS_RETURN_IF_ERROR(replica.SetCursor(
        kChainAccountedCursor,
        std::min<int64_t>(static_cast<int64_t>(resp->accounted_seq), moved)));
  }
  progressed_ = true;
  ++report->withdrawals_pushed;
  *pushed = moved;
  return true;
}

absl::Status Pusher::SupersedeStored(Replica& replica, uint64_t w,
                                     const std::vector<uint64_t>& stored, SyncReport* report) {
  // A refusal that still lets the pass pull: the next pass pushes the
  // withdrawal again and gets the same answer.
  if (!open_) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the hub keeps this laptop's set-aside change ", stored.front(), " stored: this laptop "
        "writes it over once its keystore is unlocked. Nothing after it is pushed meanwhile"));
  }
  // Whether the hub had acknowledged each, then refused it after it said
  // it lost this laptop's work (trust evidence kHubRefusedAcknowledged):
  // a hub put back from a backup, then from a newer one. Otherwise it
  // holds what it said it refused: said, and the work goes on all the same
  // (nothing here depends on the hub's word but a write of this laptop's
  // own rows as they are).
  FS_ASSIGN_OR_RETURN(std::vector<TrustEvidence> evidence, replica.Evidence());
  std::set<uint64_t> restored;
  for (const TrustEvidence& e : evidence) {
    if (e.kind == static_cast<int>(ChainEvidence::Kind::kHubRefusedAcknowledged)) {
      restored.insert(e.seq);
    }
  }
  for (uint64_t seq : stored) {
    absl::StatusOr<std::optional<Replica::Superseded>> done =
        replica.SupersedeSetAside(seq, w, open_);
    if (!done.ok()) {
      // A locked keystore, a value it cannot open: a refusal that still
      // lets the pass pull (and is tried again at the next pass).
      absl::StatusCode code = done.status().code();
      if (code == absl::StatusCode::kFailedPrecondition || code == absl::StatusCode::kNotFound) {
        code = absl::StatusCode::kPermissionDenied;
      }
      return absl::Status(code, absl::StrCat("the hub keeps this laptop's set-aside change ",
                                             seq, " stored, and this laptop could not write it "
                                             "over yet (", done.status().message(), "). Nothing "
                                             "after it is pushed meanwhile"));
    }
    if (!done->has_value()) continue;  // written over at a pass cut before
    ++report->withdrawals_superseded;
    const Replica::Superseded& sup = **done;
    const std::string wrote =
        !sup.not_written.empty()
            ? absl::StrCat("the officer's decision cannot be written back (", sup.not_written,
                           "), so this laptop now shows that change too, as the office's other "
                           "laptops do: if it should not stand, an officer changes those "
                           "fields again")
        : sup.written == 0
            ? std::string("no field of it needed writing back")
            : absl::StrCat("this laptop wrote change ", sup.written, " putting back what the "
                           "officer's decision left, so that every laptop of the office shows "
                           "that decision");
    report->chain.problems.push_back(absl::StrCat(
        "the hub keeps change ", seq, " of this laptop stored, which this laptop set aside and "
        "an officer resolved (withdrawal ", w, "): the office's other laptops hold it; ", wrote,
        restored.count(seq) > 0
            ? ". The hub had acknowledged it, then refused it after it said it lost this "
              "laptop's work (a hub put back from a backup, then from a newer one)"
            : ". The hub had said it refused it and never said it lost it: tell the hub "
              "administrator"));
  }
  return absl::OkStatus();
}

absl::StatusOr<PushOutcome> Pusher::PushStatement(const std::string& statement) {
  PushRequest req = NewRequest();
  req.statements.push_back(statement);
  absl::StatusOr<PushOutcome> resp = transport_.Push(req);
  if (!resp.ok()) {
    absl::Status s = Refused("the push of this laptop's statement", resp.status());
    if (!PermanentRefusal(s)) return s;
    PushOutcome out;
    out.statement_refusal = std::string(s.message());
    return out;
  }
  return resp;
}

absl::Status Pusher::PushKeys(KeyRing& keys, SyncReport* report,
                              std::optional<int64_t> resend_before) {
  bool resent = !resend_before.has_value();
  const size_t per_call = static_cast<size_t>(kMaxPushKeyRecords) / 2;
  while (true) {
    FS_ASSIGN_OR_RETURN(std::vector<std::string> records, keys.UnpushedRecords(per_call));
    // Records never acknowledged first; then those a hub said it lost
    // (KeyRing::ResendOwn), a few a pass: a hub that says so at every pass
    // neither starves new records on a small link nor makes this laptop
    // send everything it ever signed each time.
    bool sent_again = false;
    if (records.empty() && own_resent_ < tuning::kOwnKeyRecordsSentAgainPerPass) {
      FS_ASSIGN_OR_RETURN(records, keys.RecordsToSendAgain(std::min(
                                       per_call, tuning::kOwnKeyRecordsSentAgainPerPass -
                                                     own_resent_)));
      sent_again = !records.empty();
    }
    if (records.empty() && !resent) {
      resent = true;
      FS_ASSIGN_OR_RETURN(size_t again,
                          keys.ResendRefused(tuning::kKeyRecordsResentPerPass, *resend_before));
      if (again > 0) continue;
    }
    if (records.empty()) return absl::OkStatus();
    // Up to the budget, at least one (each is at most 512 bytes); the
    // rest at the next call.
    size_t bytes = 0;
    size_t fit = 0;
    while (fit < records.size() && (fit == 0 || bytes + records[fit].size() <= Limit())) {
      bytes += records[fit].size();
      ++fit;
    }
    records.resize(fit);
    if (sent_again) own_resent_ += fit;
    PushRequest req = NewRequest();
    req.key_records = records;
    absl::StatusOr<PushOutcome> resp = transport_.Push(req);
    FS_RETURN_IF_ERROR(Account(resp.status()));
    if (!resp.ok()) {
      absl::Status s = Refused("the push of key records", resp.status());
      if (!PermanentRefusal(s)) return s;
      // Refused for good: find which records, one by one; those are kept
      // aside (never sent again) and reported, the others go.
      for (const std::string& r : records) {
        PushRequest one = NewRequest();
        one.key_records.push_back(r);
        absl::StatusOr<PushOutcome> r1 = transport_.Push(one);
        if (r1.ok()) {
          FS_RETURN_IF_ERROR(keys.MarkPushed({r}));
          progressed_ = true;
          report->key_records_pushed += 1;
          continue;
        }
        absl::Status s1 = Refused("the push of a key record", r1.status());
        if (!PermanentRefusal(s1)) return s1;
        FS_RETURN_IF_ERROR(keys.MarkRefused({r}, std::string(s1.message())));
        progressed_ = true;
        report->key_records_refused_by_hub += 1;
        if (report->key_push_refusal.empty()) report->key_push_refusal = std::string(s1.message());
      }
      continue;
    }
    FS_RETURN_IF_ERROR(keys.MarkPushed(records));
    progressed_ = true;
    report->key_records_pushed += records.size();
  }
}

}  // namespace fieldsync::sync
