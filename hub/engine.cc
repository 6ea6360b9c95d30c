#include "hub/engine.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/strings.h"
#include "base/terminal.h"
#include "base/tuning.h"
#include "base/utf8.h"
#include "base/status_macros.h"
#include "crypto/identity.h"
#include "crypto/key_record.h"
#include "crypto/statement.h"
#include "hub/admission.h"
#include "hub/chain_admission.h"
#include "hub/commit_refusals.h"
#include "hub/checkpoints.h"
#include "hub/enrolment.h"
#include "hub/log_chain.h"
#include "hub/pull_plan.h"
#include "hub/scope.h"
#include "hub/statements.h"
#include "hub/tombstones.h"
#include "schema/province_code.h"

namespace fieldsync::hub {
namespace {

constexpr size_t kMaxProvinceNameChars = 100;

}  // namespace

// ---------------------------------------------------------------------------
// Registry: what is asked is checked here, the rest is the storage's.

absl::Status CheckProvince(const std::string& code, const std::string& name) {
  if (!IsProvinceCode(code)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "province code \"", Printable(code), "\" is not usable: a code is ",
        AV(kProvinceCodeRule), ", as laptops write it"));
  }
  size_t bad = 0;
  if (!IsValidUtf8(name, &bad)) {
    return absl::InvalidArgumentError(absl::StrCat("the province name is not valid UTF-8 (byte ",
                                                   bad, ")"));
  }
  size_t chars = 0;
  for (size_t i = 0; i < name.size(); ++chars) {
    char32_t c = 0;
    i += DecodeUtf8(name, i, &c);
    if (IsUnsafeForTerminal(c) || c == U'\n' || c == U'\t') {
      return absl::InvalidArgumentError(absl::StrFormat(
          "the province name holds the control or text-direction character U+%04X, which is "
          "not part of a name: type it again without it",
          static_cast<uint32_t>(c)));
    }
  }
  if (chars == 0 || chars > kMaxProvinceNameChars) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a province name has 1 to ", kMaxProvinceNameChars, " characters, e.g. \"Lào Cai\" (",
        chars, " given)"));
  }
  return absl::OkStatus();
}

absl::Status HubEngine::AddProvince(const std::string& code, const std::string& name,
                                    const std::string& actor) {
  FS_RETURN_IF_ERROR(CheckProvince(code, name));
  return storage_->AddProvince(code, name, actor);
}

absl::StatusOr<EnrollToken> HubEngine::MakeEnrollToken(const std::string& province,
                                                       int64_t valid_for_millis,
                                                       const std::string& actor) {
  if (valid_for_millis <= 0) {
    return absl::InvalidArgumentError("an enrolment token must be valid for some time, e.g. 24h");
  }
  return storage_->MakeEnrollToken(province, valid_for_millis, actor);
}

absl::StatusOr<Enrolment> HubEngine::Enroll(const std::string& token, const DeviceId& device,
                                            const std::string& name,
                                            const crypto::DevicePublic& keys, bool proven) {
  if (device.is_nil()) return absl::InvalidArgumentError("enrolment names no device id");
  if (keys.device != device) return absl::InvalidArgumentError("keys of another device");
  if (absl::Status s = crypto::CheckDevicePublic(keys); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        s.message(), ": the enrolment must carry the device's public keys (is the node older "
                     "than protocol version 2? upgrade it)"));
  }
  const int64_t now = clock_->NowMillis();
  Enrolment out;
  FS_RETURN_IF_ERROR(storage_->EnrolTransaction([&](HubEnrolTxn& txn) -> absl::Status {
    FS_ASSIGN_OR_RETURN(out, EnrolNode(txn, token, device, name, keys, proven, now));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<NodeInfo>> HubEngine::Nodes() {
  FS_ASSIGN_OR_RETURN(std::vector<NodeInfo> nodes, storage_->Nodes());
  const OfficeLoader load = [&](const std::string& p) { return storage_->OfficeRecordsOf(p); };
  for (NodeInfo& n : nodes) {
    FS_ASSIGN_OR_RETURN(std::optional<OfficeRemoval> removed,
                        RemovalOf(n.province, n.device, load));
    if (removed) n.removed_by_office_at_millis = std::max<int64_t>(removed->stored_at_millis, 1);
  }
  return nodes;
}

absl::StatusOr<std::optional<NodeInfo>> HubEngine::NodeOf(const DeviceId& device) {
  return storage_->NodeOf(device);
}

absl::Status HubEngine::RevokeNode(const DeviceId& device, const std::string& actor) {
  // A revocation can change an office's root here (hub/office_removals.h):
  // the removals are computed again, before any push is judged.
  return storage_->RevokeNode(device, actor, [&] { ForgetRemovals(""); });
}

absl::StatusOr<NodeInfo> HubEngine::Authenticate(const DeviceId& device,
                                                 const CredentialCheck& check) {
  FS_ASSIGN_OR_RETURN(NodeInfo n, storage_->CheckCredential(device, check));
  if (n.revoked) {
    return absl::PermissionDeniedError(absl::StrCat(
        "device ", device.ToString(),
        " was revoked by the hub administrator; it can no longer sync. If this is a mistake, "
        "ask the administrator; a replacement device needs a new enrolment token"));
  }
  // Removed by its office's signed records: refused as a revocation is,
  // without waiting for the administrator.
  FS_ASSIGN_OR_RETURN(
      std::optional<OfficeRemoval> removed,
      RemovalOf(n.province, device,
                [&](const std::string& p) { return storage_->OfficeRecordsOf(p); }));
  if (removed) return absl::PermissionDeniedError(RemovedMessage(device, n.province, *removed));
  return n;
}

absl::StatusOr<std::optional<OfficeRemoval>> HubEngine::RemovalOf(const std::string& province,
                                                                  const DeviceId& device,
                                                                  const OfficeLoader& load) {
  FS_ASSIGN_OR_RETURN(std::shared_ptr<const OfficeRemovals> office, OfficeOf(province, load));
  auto it = office->removed.find(device);
  if (it == office->removed.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::shared_ptr<const OfficeRemovals>> HubEngine::OfficeOf(
    const std::string& province, const OfficeLoader& load) {
  // The office's records are read every time: another hub process on the
  // same store may have stored a removal or a revocation since (attack
  // review 22, HIGH 1: a removal through one process left the removed
  // laptop syncing through the others). Only the computation, which checks
  // every record's signature, is kept, for records equal to those read.
  FS_ASSIGN_OR_RETURN(OfficeRecords records, load(province));
  {
    absl::MutexLock l(&removals_mu_);
    auto it = removals_.find(province);
    if (it != removals_.end() && it->second.records.membership == records.membership &&
        it->second.records.revoked == records.revoked) {
      return it->second.removals;
    }
  }
  auto office = std::make_shared<const OfficeRemovals>(ComputeOfficeRemovals(records));
  absl::MutexLock l(&removals_mu_);
  removals_[province] = CachedOffice{std::move(records), office};
  return office;
}

void HubEngine::ForgetRemovals(const std::string& province) {
  absl::MutexLock l(&removals_mu_);
  if (province.empty()) {
    removals_.clear();
  } else {
    removals_.erase(province);
  }
}

// ---------------------------------------------------------------------------
// Sync

namespace {

// What a push's merge and scope bookkeeping read (HubWriteTxn::Prefetch).
PushReads ReadsOf(const std::vector<Commit>& commits,
                  const std::vector<crypto::KeyRecord>& records) {
  PushReads out;
  for (const Commit& c : commits) {
    for (const RowChange& rc : c.changes) {
      out.rows.emplace(rc.table, rc.row);
      out.ids.insert(rc.row);
      for (const FieldWrite& f : rc.fields) {
        if (f.value.kind() != Value::Kind::kBytes || f.value.str().size() != 16) continue;
        auto id = Id16::FromBytes(f.value.str(), "named row");
        if (id.ok()) out.ids.insert(*id);
      }
    }
  }
  for (const crypto::KeyRecord& k : records) {
    if (!k.keyring.is_nil()) out.ids.insert(k.keyring);
    out.key_ids.insert(k.Id());
  }
  return out;
}

}  // namespace

absl::StatusOr<PushOutcome> HubEngine::Push(const NodeInfo& node, const PushOrigin& origin,
                                            const std::vector<PushedCommit>& encoded,
                                            const std::vector<std::string>& key_records) {
  FS_ASSIGN_OR_RETURN(
      const std::vector<Commit> commits,
      AdmitCommits(node, origin, encoded, storage_->schema(), crypto_checks_));
  FS_ASSIGN_OR_RETURN(const std::vector<crypto::KeyRecord> records,
                      AdmitKeyRecords(node, key_records));
  // An approval (or a first device) names its subject's keys: counted here
  // only with the keys the subject enrolled with, as laptops count it
  // (their TrustedSigner). Stored with others, it made the hub count its
  // subject approved and store moves every laptop of the office refuses
  // (attack review 66, LOW 6).
  for (const crypto::KeyRecord& k : records) {
    if (k.kind != crypto::KeyRecordKind::kMembership ||
        k.action == crypto::MembershipAction::kRemove) {
      continue;
    }
    FS_ASSIGN_OR_RETURN(std::optional<NodeInfo> subject, storage_->NodeOf(k.subject.device));
    if (!subject) continue;  // not a device of the office: refused in the transaction
    if (subject->keys.sign_pk != k.subject.sign_pk || subject->keys.box_pk != k.subject.box_pk) {
      return absl::PermissionDeniedError(absl::StrCat(
          k.Describe(), ": it names other keys for device ", k.subject.device.ToString(),
          " than those it enrolled with; nothing of the push was stored"));
    }
  }
  PushOutcome out;
  FS_RETURN_IF_ERROR(storage_->Write([&](HubWriteTxn& hub) -> absl::Status {
    // Revoked since the call was authenticated: nothing of it may land
    // after the revocation's position in the log.
    FS_ASSIGN_OR_RETURN(bool active, hub.NodeActive(node.device));
    if (!active) {
      return absl::PermissionDeniedError(absl::StrCat(
          "device ", node.device.ToString(), " was revoked by the hub administrator; "
          "nothing of the push was stored"));
    }
    {
      // Removed by its office since the call was authenticated: nothing of
      // it is stored either, its membership records least of all (a
      // removed laptop must not remove others).
      FS_ASSIGN_OR_RETURN(
          std::optional<OfficeRemoval> removed,
          RemovalOf(node.province, node.device,
                    [&](const std::string& p) { return hub.OfficeRecordsOf(p); }));
      if (removed) {
        return absl::PermissionDeniedError(RemovedMessage(node.device, node.province, *removed));
      }
    }
    // Enrolled and never approved by its office: it moves none of the
    // office's records (Scope::CheckMoveByUnapproved).
    FS_ASSIGN_OR_RETURN(std::shared_ptr<const OfficeRemovals> office,
                        OfficeOf(node.province,
                                 [&](const std::string& p) { return hub.OfficeRecordsOf(p); }));
    bool approved = office->approved.count(node.device) > 0;
    if (!approved) {
      // The set kept may predate an approval another push stored and has
      // not dropped yet, and this push may carry one (stored after its
      // commits): read again in this transaction, with this push's
      // membership records as if stored, before a move is refused (attack
      // review 66, LOW 7). Only for a device not approved: the rare case.
      FS_ASSIGN_OR_RETURN(OfficeRecords fresh, hub.OfficeRecordsOf(node.province));
      for (size_t i = 0; i < records.size() && i < key_records.size(); ++i) {
        if (records[i].kind == crypto::KeyRecordKind::kMembership) {
          fresh.membership.emplace_back(key_records[i], clock_->NowMillis());
        }
      }
      approved = ComputeOfficeRemovals(fresh).approved.count(node.device) > 0;
    }
    FS_ASSIGN_OR_RETURN(const GcState gc, hub.Gc());
    Scope scope(hub);
    // The device's commit chain (version 3): headers of commits stored
    // without one first, then each commit's against the head.
    FS_ASSIGN_OR_RETURN(ChainAdmission chain, ChainAdmission::Begin(hub, node));
    if (crypto_checks_) {
      FS_RETURN_IF_ERROR(chain.Backfill(hub, origin.backfill_headers));
      FS_RETURN_IF_ERROR(chain.BackfillStored(hub, commits));
    }
    // Version 3: a commit refused for good is refused alone
    // (hub/commit_refusals.h); version 2 refuses the batch.
    std::optional<CommitRefusals> refusals;
    if (origin.per_commit && crypto_checks_) {
      FS_ASSIGN_OR_RETURN(refusals, CommitRefusals::Begin(hub, node.device));
    } else if (!origin.withdrawals.empty() || !origin.refused.empty()) {
      return absl::InvalidArgumentError(
          "withdrawals and refused headers travel in version 3 pushes only; nothing of the push "
          "was stored");
    }
    sync::RefusalCode code = sync::RefusalCode::kUnspecified;
    std::optional<sync::CommitRefusal> needs_refused;
    MergeStore* merging = nullptr;
    ColleagueVersions colleagues;
    ApplyHooks hooks;
    hooks.before = [&](const Commit& c) -> absl::Status {
      code = sync::RefusalCode::kUnspecified;
      needs_refused.reset();
      if (crypto_checks_) FS_RETURN_IF_ERROR(chain.Check(c));
      if (refusals) {
        needs_refused = ClockAhead(merging->clock(), c);
        if (!needs_refused) needs_refused = refusals->DependsOnRefused(c, /*waiting=*/false);
        if (needs_refused) return absl::FailedPreconditionError(needs_refused->reason);
      }
      FS_RETURN_IF_ERROR(
          CheckBeforeMerge(hub, scope, node, origin, c, gc.horizon, crypto_checks_, &code));
      if (approved || !crypto_checks_) return absl::OkStatus();
      absl::Status move = scope.CheckMoveByUnapproved(c);
      if (!move.ok() && move.code() == absl::StatusCode::kPermissionDenied) {
        code = sync::RefusalCode::kOutOfScope;
      }
      return move;
    };
    hooks.refuse = [&](const Commit& c, const absl::Status& why) -> absl::StatusOr<bool> {
      // A commit without a header (its author's chain has not begun) leaves
      // no record of a refusal to answer a repeated push with, nor one its
      // author could withdraw: refused with its batch, as in version 2.
      if (!refusals || c.header.empty()) return false;
      sync::CommitRefusal r;
      if (why.ok()) {
        // Next in sequence but waiting for something the hub does not hold:
        // a row it collected, or the work of a refused commit.
        FS_RETURN_IF_ERROR(chain.Check(c));
        std::optional<sync::CommitRefusal> d = ClockAhead(merging->clock(), c);
        for (const RowChange& rc : c.changes) {
          if (d || gc.horizon == 0) break;
          FS_ASSIGN_OR_RETURN(bool purged, hub.IsPurged(rc.table, rc.row));
          if (!purged) continue;
          d = RefusalOf(c, sync::RefusalCode::kRowCollected,
                        absl::PermissionDeniedError(absl::StrCat(
                            "commit ", c.Name(), " writes ", rc.table, " row ", rc.row.ToString(),
                            ", which was deleted and then collected by the hub: it may no "
                            "longer be written")));
          break;
        }
        // A relayed commit waits for what its relayer or author sends later.
        // Waiting for a colleague's version that will never come: refused,
        // not left to stop this laptop's chain for good.
        if (!d && !origin.relayed) {
          auto held = [&](const Version& v) { return merging->Knows(v); };
          d = refusals->DependsOnRefused(c, /*waiting=*/true, held);
          if (!d) {
            FS_ASSIGN_OR_RETURN(d, colleagues.NeverComing(hub, c, held));
          }
        }
        if (!d) return false;
        r = *std::move(d);
      } else if (needs_refused) {
        r = *std::move(needs_refused);
      } else if (code != sync::RefusalCode::kUnspecified) {
        r = RefusalOf(c, code, why);
      } else {
        return false;
      }
      FS_RETURN_IF_ERROR(chain.RecordRefused(hub, c, r.code));
      FS_RETURN_IF_ERROR(merging->PassOver(c.author, c.seq));
      refusals->Add(c, std::move(r));
      return true;
    };
    // A commit stamped ahead is refused alone too (CLOCK_AHEAD), above.
    hooks.clock_per_commit = refusals.has_value();
    hooks.after = [&](const Commit& c, int64_t position) -> absl::Status {
      if (crypto_checks_) FS_RETURN_IF_ERROR(chain.Record(hub, c, position));
      return RecordAfterMerge(hub, scope, c, position);
    };
    bool erased_any = false;
    hooks.at_end = [&]() -> absl::Status {
      FS_ASSIGN_OR_RETURN(erased_any, StoreKeyRecords(hub, scope, node, records, *clock_));
      return absl::OkStatus();
    };
    // The node's merge (merge/commit_merge.h) over the storage's rows.
    ApplyResult r;
    FS_RETURN_IF_ERROR(hub.MergeTransaction([&](MergeStore& rows) -> absl::Status {
      merging = &rows;
      // Refused headers a hub that went back lost, sent again as it had
      // them (a call of their own, oldest first): kept refused, never
      // judged as commits.
      if (crypto_checks_) {
        for (const sync::RefusedEntryBytes& e : origin.refused) {
          FS_RETURN_IF_ERROR(chain.ResendRefused(hub, rows, e, origin.relayed));
        }
      }
      // Withdrawals of refused commits (a call of their own), oldest first;
      // one not taken ends them (a refusal naming no stored commit).
      if (crypto_checks_) {
        for (const sync::ChainEntryBytes& w : origin.withdrawals) {
          FS_ASSIGN_OR_RETURN(std::vector<sync::CommitRefusal> no, chain.Withdraw(hub, rows, w));
          const bool taken = no.empty() || no.front().depends_on != 0;
          for (sync::CommitRefusal& f : no) out.refusals.push_back(std::move(f));
          if (!taken) break;
        }
      }
      // A commit refused COLLEAGUE_REFUSED before, pushed again (its answer
      // lost, or acknowledged work a restore lost and the laptop doubts):
      // the versions that will never come are named again.
      if (refusals && !origin.relayed) {
        auto held = [&](const Version& v) { return rows.Knows(v); };
        for (const Commit& c : commits) {
          if (!refusals->EarlierColleagueRefused(c.seq)) continue;
          FS_ASSIGN_OR_RETURN(std::optional<sync::CommitRefusal> d,
                              colleagues.NeverComing(hub, c, held));
          if (d) refusals->NameAgain(*d);
        }
      }
      FS_RETURN_IF_ERROR(hub.Prefetch(ReadsOf(commits, records)));
      FS_ASSIGN_OR_RETURN(r, MergeCommits(rows, commits, &hooks));
      // The log chain, in the same transaction as the entries it hashes.
      if (r.applied > 0) FS_RETURN_IF_ERROR(ExtendLogChain(hub, hub_id()));
      return absl::OkStatus();
    }));
    if (refusals) {
      refusals->Repeat(commits, r.outcomes);
      for (sync::CommitRefusal& f : refusals->Take()) out.refusals.push_back(std::move(f));
    }
    // Stored (or held already): the office's removals are computed again.
    for (const crypto::KeyRecord& k : records) {
      if (k.kind == crypto::KeyRecordKind::kMembership) {
        ForgetRemovals(node.province);
        break;
      }
    }
    if (erased_any) hub.Scrub();
    out.applied = static_cast<uint32_t>(r.applied);
    out.duplicates = static_cast<uint32_t>(r.duplicates);
    FS_ASSIGN_OR_RETURN(out.log_head, hub.LogHead());
    FS_ASSIGN_OR_RETURN(out.acknowledged_seq, hub.AcknowledgedSeq(node.device));
    out.accounted_seq = chain.head().seq;
    out.accounted_link = chain.head().link;
    if (r.deferred > 0 && r.applied == 0 && r.refused == 0 && !origin.relayed) {
      // Nothing could be stored: the first commit depends on one the hub
      // does not hold. Sending it again would not help.
      return sync::WaitsForLostCommitsError(absl::StrCat(
          "the hub cannot store commit ", commits.front().Name(),
          ": it depends on commits the hub does not hold (the hub holds this node's commits up "
          "to ", out.acknowledged_seq,
          "). Was the hub restored from an older backup? Ask the hub administrator"));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<sync::OwnCommitsHeld> HubEngine::OwnCommitsHeld(const DeviceId& device) {
  sync::OwnCommitsHeld out;
  FS_RETURN_IF_ERROR(storage_->Read([&](HubReadTxn& hub) -> absl::Status {
    FS_ASSIGN_OR_RETURN(out.acknowledged_seq, hub.AcknowledgedSeq(device));
    FS_ASSIGN_OR_RETURN(const ChainPoint head, hub.ChainHead(device));
    out.accounted_seq = head.seq;
    FS_ASSIGN_OR_RETURN(out.key_records, hub.KeyRecordsSignedBy(device));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status HubEngine::BringUpToDate() {
  // Nothing to hash (every open of a current file, read-only commands
  // included): no write transaction.
  bool behind = true;
  FS_RETURN_IF_ERROR(storage_->Read([&](HubReadTxn& hub) -> absl::Status {
    FS_ASSIGN_OR_RETURN(const int64_t head, hub.LogHead());
    FS_ASSIGN_OR_RETURN(const LogPoint hashed, hub.LogHashHead());
    behind = hashed.position < head;
    return absl::OkStatus();
  }));
  if (!behind) return absl::OkStatus();
  return storage_->Write([&](HubWriteTxn& hub) -> absl::Status {
    return hub.Atomically([&]() { return ExtendLogChain(hub, hub_id()); });
  });
}

absl::Status HubEngine::Pull(const NodeInfo& node, const PullParams& params,
                             const std::function<bool(PullChunk&)>& emit) {
  if (params.cursor < 0) {
    return absl::InvalidArgumentError(absl::StrCat("cursor ", params.cursor, " is negative"));
  }
  // Each pull holds a snapshot (a connection and a read transaction): bounded.
  struct Slot {
    std::atomic<int>& n;
    ~Slot() { --n; }
  };
  if (++active_pulls_ > tuning::kHubMaxConcurrentPulls) {
    --active_pulls_;
    return absl::UnavailableError(absl::StrCat("the hub is serving ",
                                               tuning::kHubMaxConcurrentPulls,
                                               " pulls at once; the node tries again shortly"));
  }
  Slot slot{active_pulls_};
  return storage_->Read(
      [&](HubReadTxn& hub) -> absl::Status { return StreamPull(hub, hub_id(), node, params, emit); });
}

absl::StatusOr<StatementKept> HubEngine::PutStatement(const NodeInfo& node,
                                                      const std::string& bytes) {
  const int64_t now = clock_->NowMillis();
  FS_ASSIGN_OR_RETURN(StoredStatement s, CheckPushedStatement(node, hub_id(), bytes, now));
  FS_ASSIGN_OR_RETURN(crypto::Statement said, crypto::DecodeStatement(bytes));
  StatementKept out;
  FS_RETURN_IF_ERROR(storage_->Write([&](HubWriteTxn& txn) -> absl::Status {
    return txn.Atomically([&]() -> absl::Status {
      FS_RETURN_IF_ERROR(txn.PutStatement(s).status());
      if (said.kind != crypto::StatementKind::kSeenAndCheckpoint) return absl::OkStatus();
      out.checkpoint = true;
      {
        absl::MutexLock l(&checkpoint_mu_);
        auto failed = checkpoint_failed_.find(node.device);
        if (failed != checkpoint_failed_.end() && now >= failed->second &&
            now - failed->second < tuning::kCheckpointFailedRetryMillis) {
          out.checkpoint_note = "this laptop's last checkpoint was not adopted a moment ago: a "
                                "later pass tries again";
          return absl::OkStatus();
        }
      }
      FS_ASSIGN_OR_RETURN(AdoptAnswer a, TryAdoptCheckpoint(txn, node, said, bytes, now));
      out.checkpoint_note = std::move(a.note);
      out.checkpoint_adopted = out.checkpoint_note.empty();
      absl::MutexLock l(&checkpoint_mu_);
      if (a.scanned) {
        checkpoint_failed_[node.device] = now;
      } else {
        checkpoint_failed_.erase(node.device);
      }
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<GcReport> HubEngine::CollectTombstones(int64_t min_age_millis,
                                                      int64_t stale_after_millis,
                                                      const std::string& actor, bool dry_run) {
  FS_ASSIGN_OR_RETURN(const std::vector<NodeInfo> nodes, Nodes());
  const int64_t now = clock_->NowMillis();
  GcReport report;
  FS_RETURN_IF_ERROR(storage_->Write([&](HubWriteTxn& hub) -> absl::Status {
    FS_ASSIGN_OR_RETURN(report, CollectTombstonesIn(hub, nodes, now, min_age_millis,
                                                    stale_after_millis, actor, dry_run));
    return absl::OkStatus();
  }));
  return report;
}

}  // namespace fieldsync::hub
