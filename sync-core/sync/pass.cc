#include "sync/pass.h"

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "crypto/credential_proof.h"
#include "crypto/enrolment_proof.h"
#include "store/legacy_seal.h"
#include "sync/budget.h"
#include "sync/chain_keeper.h"
#include "sync/compact_header.h"
#include "sync/downgrade.h"
#include "sync/restamp.h"
#include "sync/set_aside.h"
#include "sync/retry.h"
#include "sync/checkpoint_keeper.h"
#include "sync/protocol.h"
#include "sync/refused_gaps.h"
#include "sync/statement_keeper.h"

namespace fieldsync::sync {

absl::StatusOr<HelloInfo> SayHello(Transport& transport, const Credential* cred,
                                   ClockSource& clock) {
  HelloRequest req;
  const int64_t sent = clock.NowMillis();
  req.node_time_millis = sent;
  if (cred != nullptr) req.credential = *cred;
  absl::StatusOr<HelloReply> resp = transport.Hello(req);
  if (!resp.ok()) return Refused("hello", resp.status());
  FS_RETURN_IF_ERROR(CheckProtocol(resp->protocol_version, "hub"));
  const int64_t received = clock.NowMillis();
  HelloInfo h;
  h.hub_id = resp->hub_id;
  h.hub_time_millis = resp->hub_time_millis;
  h.skew_millis = (sent + received) / 2 - resp->hub_time_millis;
  h.province = resp->province;
  h.log_head = resp->log_head;
  h.enrol_challenge = resp->enrol_challenge;
  h.protocol_version = resp->protocol_version;
  h.compact_headers = resp->compact_headers;
  h.credential_proof = resp->credential_proof;
  h.certificate_digest = resp->certificate_digest;
  if (resp->own) {
    h.held_known = true;
    h.held_acknowledged = resp->own->acknowledged_seq;
    h.held_accounted = resp->own->accounted_seq;
    h.held_key_records = resp->own->key_records;
  }
  return h;
}

absl::StatusOr<EnrollReply> Enrol(Transport& transport, const std::string& token,
                                  const crypto::DeviceIdentity& id,
                                  const std::string& device_name, ClockSource& clock) {
  const crypto::DevicePublic& keys = id.public_keys();
  // The hub's challenge, for the proof that this request comes from the
  // device's keystore (what lets a lost answer be retried, by it alone).
  FS_ASSIGN_OR_RETURN(HelloInfo hello, SayHello(transport, nullptr, clock));
  EnrollRequest req;
  req.token = token;
  req.device = keys.device;
  req.device_name = device_name;
  req.sign_public_key = keys.sign_pk;
  req.box_public_key = keys.box_pk;
  // Over a link that shows a certificate, the proof is bound to it
  // (version 2): a party answering with its own certificate that relays
  // this enrolment to the hub has it refused there and never reads the
  // secret. A hub that checks no credential proof (older than this
  // laptop) would take the older proof, which such a relay can pass on:
  // no enrolment there (attack review 23, MED 1).
  if (!hello.certificate_digest.empty() &&
      hello.credential_proof < crypto::kCredentialProofVersion) {
    return absl::UnavailableError(
        "the hub does not bind enrolments to its certificate (a hub older than this laptop's "
        "fieldnode, or not a fieldsync hub): nothing was sent. Ask the hub administrator to "
        "upgrade the hub, then enrol again");
  }
  if (!hello.enrol_challenge.empty()) {
    FS_ASSIGN_OR_RETURN(std::string proof,
                        crypto::SignEnrolment(id, hello.hub_id, hello.enrol_challenge, token,
                                              hello.certificate_digest));
    req.challenge = hello.enrol_challenge;
    req.proof = proof;
  }
  absl::StatusOr<EnrollReply> resp = transport.Enroll(req);
  if (!resp.ok()) return Refused("the enrolment", resp.status());
  if (resp->secret.size() != 32) {
    return absl::InternalError("the hub returned a credential of the wrong size");
  }
  return resp;
}

// A hub that holds less of this laptop's commits than it acknowledged went
// back (restored from an older backup, docs/PROTOCOL.md "A hub put back
// from a backup"): the push cursors move back to what it holds, so that the
// rest is pushed again (same commits, same headers: the hub stores each
// once; work set aside as the hub had it, headers refused and withdrawals,
// never judged anew: Pusher::PushRefusedAgain), and this laptop's key
// records are sent again. The hub's word: a hub that claims less than it
// holds gets duplicates; the highest seq it ever acknowledged is kept
// (kHubAckedHighCursor): a commit under it the hub then refuses is not set
// aside on its word.
//
// Key records lost alone (pushed after the backup with no commit: a key
// for a new case whose commit had gone before, an approval, a grant) show
// neither in the commits held nor in the log chain: the hub says how many
// records this laptop signed it holds, and fewer than it acknowledged has
// them all sent again. The same signed records, to the same recipients:
// a hub that claims fewer than it holds gets duplicates, never a new grant.
// They go after every record never acknowledged, a few a pass
// (Pusher::PushKeys); while the hub's count stays short they are marked
// again with a backoff (kKeysResentCursor, as refused gaps are asked for:
// 1, 2, 4 ... 32 passes after the first time, then every 64th), so a hub
// that always says 0 costs a bounded number of re-sent records.
static absl::Status ResendKeysTheHubLost(Replica& replica, KeyRing& keys, const DeviceId& self,
                                         const HelloInfo& hello, SyncReport* report) {
  if (!hello.held_key_records) return absl::OkStatus();
  FS_ASSIGN_OR_RETURN(const uint64_t sent, keys.OwnRecordsAcknowledged(self));
  FS_ASSIGN_OR_RETURN(const int64_t since, replica.GetCursor(kKeysResentCursor));
  if (*hello.held_key_records >= sent) {
    return since == 0 ? absl::OkStatus() : replica.DropCursor(kKeysResentCursor);
  }
  if (since > 0) {
    FS_RETURN_IF_ERROR(replica.SetCursor(kKeysResentCursor, since + 1));
    // Those marked before still going (a few a pass), or not due yet.
    FS_ASSIGN_OR_RETURN(std::vector<std::string> pending, keys.RecordsToSendAgain(1));
    if (!pending.empty() || !RefusedGapAskDue(since)) return absl::OkStatus();
  } else {
    FS_RETURN_IF_ERROR(replica.SetCursor(kKeysResentCursor, 1));
  }
  FS_ASSIGN_OR_RETURN(const size_t again, keys.ResendOwn(self));
  report->key_notes.push_back(absl::StrCat(
      "the hub held ", *hello.held_key_records, " of the ", sent, " key records this laptop "
      "had sent (put back from an older backup?): ", again, " sent again",
      again > tuning::kOwnKeyRecordsSentAgainPerPass
          ? absl::StrCat(", ", tuning::kOwnKeyRecordsSentAgainPerPass, " a sync")
          : std::string(),
      since > 0 ? "; it said so after the last time too: sent again less and less often while "
                  "it does"
                : ""));
  return absl::OkStatus();
}

static absl::Status ResendWhatTheHubLost(Replica& replica, KeyRing& keys, const HelloInfo& hello,
                                         SyncReport* report) {
  if (!hello.held_known) return absl::OkStatus();
  FS_RETURN_IF_ERROR(ResendKeysTheHubLost(replica, keys, replica.device_id(), hello, report));
  FS_ASSIGN_OR_RETURN(const int64_t pushed, replica.GetCursor(kPushedCursor));
  if (static_cast<int64_t>(hello.held_acknowledged) >= pushed) return absl::OkStatus();
  FS_ASSIGN_OR_RETURN(const int64_t high, replica.GetCursor(kHubAckedHighCursor));
  if (pushed > high) FS_RETURN_IF_ERROR(replica.SetCursor(kHubAckedHighCursor, pushed));
  // Key records first: a pass cut after the cursors moved would not know.
  FS_RETURN_IF_ERROR(keys.ResendOwn(replica.device_id()).status());
  FS_ASSIGN_OR_RETURN(const int64_t accounted, replica.GetCursor(kChainAccountedCursor));
  if (static_cast<int64_t>(hello.held_accounted) < accounted) {
    FS_RETURN_IF_ERROR(
        replica.SetCursor(kChainAccountedCursor, static_cast<int64_t>(hello.held_accounted)));
  }
  FS_RETURN_IF_ERROR(
      replica.SetCursor(kPushedCursor, static_cast<int64_t>(hello.held_acknowledged)));
  report->own_resent = true;
  report->own_held_seq = hello.held_acknowledged;
  report->own_sent_seq = static_cast<uint64_t>(pushed);
  return absl::OkStatus();
}

// Keeps the newest time a hub gave (kHubTimeSeenCursor).
static absl::Status NoteHubTime(Replica& replica, int64_t hub_time_millis) {
  FS_ASSIGN_OR_RETURN(int64_t seen, replica.GetCursor(kHubTimeSeenCursor));
  if (hub_time_millis <= seen) return absl::OkStatus();
  return replica.SetCursor(kHubTimeSeenCursor, hub_time_millis);
}

absl::StatusOr<SyncReport> RunPass(Transport& transport, Replica& replica, KeyRing& keys,
                                   const Credential& cred, const PassOptions& options,
                                   const std::atomic<bool>* stop,
                                   const std::function<void(const SyncReport&)>& progress,
                                   bool* progressed) {
  if (progressed != nullptr) *progressed = false;
  if (cred.device != replica.device_id()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the credential belongs to device ", cred.device.ToString(), " but this replica is device ",
        replica.device_id().ToString(), "; enrol this replica (fieldnode enroll)"));
  }
  ClockSource& clock = options.clock != nullptr ? *options.clock : *SystemClock::Get();
  Pusher pusher(transport, cred, options.push);
  Puller puller(transport, cred, options.pull);
  // How much one call carries over this link, as the last calls found it
  // (sync/budget.h).
  FS_ASSIGN_OR_RETURN(CallBudget push_budget, CallBudget::Load(replica, CallBudget::Kind::kPush));
  FS_ASSIGN_OR_RETURN(CallBudget pull_budget, CallBudget::Load(replica, CallBudget::Kind::kPull));
  pusher.set_budget(&push_budget);
  pusher.set_stop(stop);
  pusher.set_open(StoredOpener(keys));
  // Its own commits checked against its own key before they go, never
  // against one the hub names (sync/own_check.h).
  if (keys.unlocked()) pusher.set_own_sign_pk(keys.identity()->public_keys().sign_pk);
  puller.set_budget(&pull_budget);
  auto pass = [&]() -> absl::StatusOr<SyncReport> {
    // The key ring stamps refusals with its own clock: the resend horizon
    // is read from the same one.
    const int64_t pass_start = keys.clock().NowMillis();
    FS_ASSIGN_OR_RETURN(HelloInfo hello, SayHello(transport, &cred, clock));
    FS_RETURN_IF_ERROR(NoteHubTime(replica, hello.hub_time_millis));
    SyncReport report;
    report.skew_millis = hello.skew_millis;
    report.protocol_version = hello.protocol_version;
    pusher.set_protocol_version(hello.protocol_version);
    pusher.set_hub(hello.hub_id);
    puller.set_protocol_version(hello.protocol_version);
    // A laptop whose clock is behind the hub's still takes colleagues'
    // work stamped by the hub's time (up to a bound); a hub's time behind
    // this clock changes nothing (docs/PROTOCOL.md, "Clocks behind").
    puller.set_clock_lead(ClockLead::Of(-hello.skew_millis));
    // Compact headers both ways only with a hub that said it reads and
    // sends them: an older hub refuses them in a push.
    const bool compact = options.compact_headers && hello.protocol_version >= 3 &&
                         hello.compact_headers >= kCompactHeaderForm;
    pusher.set_compact_headers(compact);
    puller.set_compact_headers(compact);
    // A hub that agreed version 3 before and less now: said, kept as
    // evidence once, and no chain check silently off (sync/downgrade.h).
    FS_ASSIGN_OR_RETURN(bool downgraded, NoteAgreedVersion(replica, clock, hello, &report));
    puller.set_downgraded(downgraded);
    FS_RETURN_IF_ERROR(ResendWhatTheHubLost(replica, keys, hello, &report));
    // Everything of ours first: a bootstrap never discards unpushed work.
    // Commits, then key records (the hub checks some records against the
    // rows they are for: those must be there first).
    bool push_waits = false;
    if (absl::Status pushed = pusher.PushCommits(replica, stop, &report); !pushed.ok()) {
      // A commit the hub will never take as it is must not stop the node
      // from receiving the others' work; nor one waiting for commits a hub
      // that went back lost (colleagues relay them after the pull).
      push_waits = WaitsForLostCommits(pushed);
      if (!PermanentRefusal(pushed) && !push_waits) return pushed;
      report.push_refused = pushed;
    }
    // Work the hub refused as stamped by a clock ahead: re-dated and sent
    // once the clock is right (sync/restamp.h). It never ends the pass
    // before the pull, but for a hub out of reach.
    if (hello.protocol_version >= 3) {
      FS_RETURN_IF_ERROR(RedateRefused(replica, keys, hello, clock, pusher, stop, &report));
    }
    // Key records refused for good are set aside inside; only a failure to
    // reach the hub stops the pass. Then those the hub refused at earlier
    // passes, a few, approvals and removals first: it may have been fixed
    // since, and an approval it never relays leaves the office as it was
    // on every other laptop (KeyRing::MarkRefused). Never twice a pass.
    // A hub that holds another key for this laptop takes nothing it signs:
    // its key records wait (process attack 80, MEDIUM 2), the pull runs.
    if (!pusher.hub_holds_other_key()) {
      FS_RETURN_IF_ERROR(pusher.PushKeys(keys, &report, pass_start));
    }
    FS_RETURN_IF_ERROR(puller.PullAll(replica, keys, stop, progress, &report));
    // Version 3: what a hub that went back lost of other laptops' work and
    // this laptop holds, relayed to it (sync/relay.h).
    if (hello.protocol_version >= 3) {
      FS_RETURN_IF_ERROR(pusher.Relay(replica, keys, stop, &report));
      if (push_waits) {
        SyncReport again = report;
        absl::Status pushed = pusher.PushCommits(replica, stop, &again);
        if (pushed.ok()) {
          again.push_refused = absl::OkStatus();
          report = again;
        } else if (!WaitsForLostCommits(pushed) && !PermanentRefusal(pushed)) {
          return pushed;
        }
      }
    }
    // Version 3: colleagues' and partners' statements against this laptop's
    // chains; entries they name that it lacks are asked for at once, and
    // still missing after that, are evidence (sync/statement_keeper.h).
    StatementKeeper statements(replica, keys, keys.clock());
    if (hello.protocol_version >= 3) {
      FS_ASSIGN_OR_RETURN(StatementKeeper::Comparison cmp,
                          statements.Compare(report.cursor, nullptr, &report.chain));
      // With them, commits refused here that their authors signed, asked
      // for again with a backoff (sync/refused_gaps.h): a one-off fault, or
      // a move this laptop could check only once the pull applied what came
      // before it, heals without the author writing again.
      FS_ASSIGN_OR_RETURN(auto all, ChainWantsThisPass(replica, cmp.wants, kMaxChainHeads));
      if (!all.empty()) {
        const std::vector<std::pair<DeviceId, uint64_t>> asked = cmp.wants;
        puller.set_chain_wants(std::move(all));
        FS_RETURN_IF_ERROR(puller.PullAll(replica, keys, stop, progress, &report));
        puller.set_chain_wants({});
        if (!asked.empty()) {
          FS_ASSIGN_OR_RETURN(cmp, statements.Compare(report.cursor, &asked, &report.chain));
        }
        FS_RETURN_IF_ERROR(ForgetClosedRefusedGaps(replica));
      }
      // A bootstrap from a checkpoint whose signer this laptop could not
      // yet judge (it had not joined): judged once it can.
      CheckpointKeeper checkpoints(replica, keys, keys.clock());
      FS_RETURN_IF_ERROR(checkpoints.Confirm(&report.chain.problems));
      FS_RETURN_IF_ERROR(CountEvidence(replica, &report.chain));
      // A colleague silent for a week: said at every pass while it lasts.
      FS_ASSIGN_OR_RETURN(std::vector<std::string> stale,
                          StatementWarnings(replica, keys, clock.NowMillis(), /*lone=*/false));
      for (std::string& line : stale) report.chain.problems.push_back(std::move(line));
    }
    // Values this laptop wrote clear before their column was sealed
    // (schema version 4), rewritten sealed once the pull brought what
    // colleagues wrote since (a rewrite never undoes an edit it has not
    // seen), then pushed. A failure here is reported, never stops the pass.
    if (keys.unlocked()) {
      absl::StatusOr<int64_t> resealed =
          SealLegacyValues(replica, keys, tuning::kLegacySealRowsPerPass);
      if (!resealed.ok()) {
        report.key_notes.push_back(absl::StrCat("values written in clear before schema version 4 "
                                                "were not sealed: ", resealed.status().message()));
      } else if (*resealed > 0) {
        report.key_notes.push_back(absl::StrCat(
            "sealed ", *resealed, " values this laptop wrote in clear before schema version 4"));
        SyncReport again = report;
        if (pusher.PushCommits(replica, stop, &again).ok()) report = again;
      }
    }
    // Now that the registry and the office's records are current: office
    // keys, shares for new devices, a new generation after a revocation,
    // grants for referrals; sent at once.
    if (keys.unlocked()) {
      FS_ASSIGN_OR_RETURN(MaintainReport mr, keys.Maintain());
      report.key_notes.insert(report.key_notes.end(), mr.notes.begin(), mr.notes.end());
      if (!pusher.hub_holds_other_key()) FS_RETURN_IF_ERROR(pusher.PushKeys(keys, &report));
    }
    // Last, what this laptop has now seen, signed, for its colleagues and
    // partners to compare with theirs (at most once an interval).
    // With it, at most daily, the root of every row it holds (a checkpoint
    // new laptops of the office are bootstrapped from, verified).
    if (hello.protocol_version >= 3 && keys.unlocked() && !pusher.hub_holds_other_key()) {
      const int64_t now = keys.clock().NowMillis();
      FS_ASSIGN_OR_RETURN(bool checkpoint,
                          CheckpointDue(replica, keys, report, now,
                                        options.checkpoint_interval_millis));
      FS_ASSIGN_OR_RETURN(
          std::optional<std::string> mine,
          statements.MakeIfDue(hello.hub_id, options.statement_interval_millis, checkpoint));
      if (mine) {
        FS_ASSIGN_OR_RETURN(PushOutcome said, pusher.PushStatement(*mine));
        if (said.statement_refusal.empty()) {
          FS_RETURN_IF_ERROR(statements.Made());
          report.chain.statement_made = true;
        } else {
          report.chain.problems.push_back(absl::StrCat(
              "the hub did not keep this laptop's statement: ", said.statement_refusal));
        }
        if (checkpoint) {
          report.chain.checkpoint_adopted = said.checkpoint_adopted;
          FS_RETURN_IF_ERROR(replica.SetCursor(
              said.checkpoint_adopted ? kCheckpointMadeCursor : kCheckpointTriedCursor, now));
          if (said.checkpoint_adopted) {
            FS_RETURN_IF_ERROR(replica.SetCursor(kCheckpointPositionCursor, report.cursor));
          }
          if (!said.checkpoint_adopted && said.statement_refusal.empty()) {
            report.key_notes.push_back(absl::StrCat(
                "the hub did not adopt this laptop's checkpoint: ", said.checkpoint_note));
          }
        }
      }
    }
    return report;
  };
  absl::StatusOr<SyncReport> r = pass();
  if (!r.ok() && Retryable(r.status())) transport.Reset();
  if (progressed != nullptr) *progressed = pusher.progressed() || puller.progressed();
  return r;
}

}  // namespace fieldsync::sync
