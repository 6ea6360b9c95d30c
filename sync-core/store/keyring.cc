// The key ring's life: opening (its tables in the replica file), unlocking and
// locking; the records the hub relays (AddRecords); pulls counted and the
// cut-offs they fix; what is pushed, set aside when refused, and sent again.
// The other concepts are in keyring_*.cc, over store/keyring_impl.h.
#include "store/keyring_impl.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "store/replica_internal.h"

namespace fieldsync {

namespace {

const std::vector<const char*> kTables = {
    "CREATE TABLE IF NOT EXISTS _fs_registry(device BLOB PRIMARY KEY, province TEXT NOT NULL, "
    "name TEXT NOT NULL, sign_pk BLOB NOT NULL, box_pk BLOB NOT NULL, "
    "revoked_position INTEGER NOT NULL, revoked_at INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS _fs_keys(id BLOB PRIMARY KEY, kind INTEGER NOT NULL, "
    "province TEXT, keyring BLOB, version INTEGER, office_key BLOB, recipient BLOB, "
    "generation INTEGER, signer BLOB NOT NULL, created INTEGER NOT NULL, bytes BLOB NOT NULL, "
    "pushed INTEGER NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS _fs_keys_ring ON _fs_keys(keyring, version)",
    "CREATE INDEX IF NOT EXISTS _fs_keys_office ON _fs_keys(kind, province, generation)",
    "CREATE INDEX IF NOT EXISTS _fs_keys_unpushed ON _fs_keys(pushed, seq)",
    "CREATE TABLE IF NOT EXISTS _fs_erased(keyring BLOB PRIMARY KEY, record BLOB NOT NULL) "
    "WITHOUT ROWID",
    // The first device of each office, pinned on this laptop (its own office's
    // when it made or first saw it; another office's on first sight).
    "CREATE TABLE IF NOT EXISTS _fs_roots(province TEXT PRIMARY KEY, device BLOB NOT NULL, "
    "sign_pk BLOB NOT NULL, box_pk BLOB NOT NULL, how TEXT NOT NULL, at INTEGER NOT NULL) "
    "WITHOUT ROWID",
    // What the hub served that this laptop did not take (changed keys for a
    // known device, a revocation undone, a second first device): reported,
    // one row a subject, until an officer acknowledges it. (subject, seen,
    // last_at, acked_at were added later: Open adds them to an older table.)
    "CREATE TABLE IF NOT EXISTS _fs_trust_alerts(text TEXT PRIMARY KEY, at INTEGER NOT NULL, "
    "seq INTEGER NOT NULL, subject TEXT, seen INTEGER NOT NULL DEFAULT 1, "
    "last_at INTEGER NOT NULL DEFAULT 0, acked_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
    // Why the hub refused records of this laptop's, set aside (pushed = 2).
    "CREATE TABLE IF NOT EXISTS _fs_key_refusals(id BLOB PRIMARY KEY, reason TEXT NOT NULL, "
    "at INTEGER NOT NULL, refusals INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS _fs_trust(key TEXT PRIMARY KEY, value TEXT NOT NULL) "
    "WITHOUT ROWID",
    // Referrals this laptop has seen declined, completed or deleted by a
    // signed write: final here for good, whatever is written or shown later.
    "CREATE TABLE IF NOT EXISTS _fs_referral_final(referral BLOB PRIMARY KEY) WITHOUT ROWID",
    // Referrals deleted in a signed commit, with the case and office the
    // deletion clears from the row, and when: a version made before is not
    // sealed under again (KeyRing::Impl::EndedSince).
    "CREATE TABLE IF NOT EXISTS _fs_referral_deleted(referral BLOB PRIMARY KEY, case_id BLOB, "
    "to_office TEXT, hlc INTEGER NOT NULL) WITHOUT ROWID",
    // Devices removed from their office or revoked, and the number of the
    // pull (counted in _fs_trust 'pulls') after which this laptop takes
    // nothing more of theirs (KeyRing::EndPull).
    "CREATE TABLE IF NOT EXISTS _fs_cutoffs(device BLOB PRIMARY KEY, pull INTEGER NOT NULL, "
    "why TEXT NOT NULL) WITHOUT ROWID",
};

}  // namespace

KeyRing::KeyRing(Replica* replica, std::string province)
    : replica_(replica), province_(std::move(province)), impl_(std::make_unique<Impl>()) {}

KeyRing::~KeyRing() { Lock(); }

ClockSource& KeyRing::clock() const { return *impl_->clock; }

absl::StatusOr<std::unique_ptr<KeyRing>> KeyRing::Open(Replica* replica, std::string province,
                                                       ClockSource* clock) {
  crypto::EnsureSodium();
  if (province.empty()) {
    return absl::InvalidArgumentError("a key ring needs the node's province");
  }
  std::unique_ptr<KeyRing> k(new KeyRing(replica, std::move(province)));
  k->impl_->db = &ReplicaInternal::Db(*replica);
  if (clock != nullptr) k->impl_->clock = clock;
  // Deleted keys are overwritten in the file, not merely unlinked.
  FS_RETURN_IF_ERROR(k->impl_->db->Exec("PRAGMA secure_delete = ON"));
  FS_RETURN_IF_ERROR(k->impl_->InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    // The index on subject is made last, after the columns below: a file
    // that has it has the current _fs_trust_alerts.
    FS_ASSIGN_OR_RETURN(auto has_index, k->impl_->db->Prepared(
                                            "SELECT 1 FROM sqlite_master WHERE type = 'index' "
                                            "AND name = '_fs_trust_alerts_subject'"));
    FS_ASSIGN_OR_RETURN(const bool alerts_current, has_index->Step());
    has_index->Reset();
    FS_RETURN_IF_ERROR(k->impl_->db->CreateMissing(kTables));
    if (alerts_current) return absl::OkStatus();
    // _fs_trust_alerts of a replica made before alerts were acknowledged.
    FS_ASSIGN_OR_RETURN(auto cols, k->impl_->db->Prepared("SELECT 1 FROM "
                                                          "pragma_table_info('_fs_trust_alerts') "
                                                          "WHERE name = 'acked_at'"));
    FS_ASSIGN_OR_RETURN(bool current, cols->Step());
    cols->Reset();
    if (!current) {
      for (const char* sql :
           {"ALTER TABLE _fs_trust_alerts ADD COLUMN subject TEXT",
            "ALTER TABLE _fs_trust_alerts ADD COLUMN seen INTEGER NOT NULL DEFAULT 1",
            "ALTER TABLE _fs_trust_alerts ADD COLUMN last_at INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE _fs_trust_alerts ADD COLUMN acked_at INTEGER NOT NULL DEFAULT 0",
            "UPDATE _fs_trust_alerts SET last_at = at"}) {
        FS_RETURN_IF_ERROR(k->impl_->db->Exec(sql));
      }
    }
    return k->impl_->db->Exec("CREATE UNIQUE INDEX IF NOT EXISTS _fs_trust_alerts_subject ON "
                              "_fs_trust_alerts(subject)");
  }));
  FS_RETURN_IF_ERROR(k->impl_->LoadRegistry());
  if (!k->impl_->pulls_known) {
    // First opened by a build that counts pulls: the removals and
    // revocations already held were seen in earlier pulls. The count and
    // those cut-offs are written in one transaction: a file left with the
    // count and without the cut-offs would never get them.
    k->impl_->pulls = 0;
    FS_ASSIGN_OR_RETURN(auto due, k->CutOffsDue());
    FS_RETURN_IF_ERROR(k->impl_->InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
      FS_ASSIGN_OR_RETURN(auto st, k->impl_->db->Prepared("INSERT OR REPLACE INTO "
                                                          "_fs_trust(key, value) VALUES "
                                                          "('pulls', '0')"));
      FS_RETURN_IF_ERROR(st->Run());
      return k->impl_->WriteCutOffs(txn, due);
    }));
    k->impl_->pulls_known = true;
  }
  return k;
}

absl::Status KeyRing::Unlock(crypto::DeviceIdentity identity) {
  if (identity.device() != replica_->device_id()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the keystore belongs to device ", identity.device().ToString(), " but this replica is "
        "device ", replica_->device_id().ToString(), "; use the keystore of this data directory"));
  }
  const RegisteredDevice* me = FindDevice(identity.device());
  if (me != nullptr && (me->keys.sign_pk != identity.public_keys().sign_pk ||
                        me->keys.box_pk != identity.public_keys().box_pk)) {
    return absl::FailedPreconditionError(
        "the keystore's keys are not the ones the hub registered for this device; the keystore "
        "was replaced: re-enrol this device");
  }
  Lock();
  identity_ = std::make_unique<crypto::DeviceIdentity>(std::move(identity));
  return absl::OkStatus();
}

void KeyRing::Lock() {
  impl_->Wipe();
  identity_.reset();
}

absl::StatusOr<KeyRecordsReport> KeyRing::AddRecords(const std::vector<std::string>& records) {
  KeyRecordsReport report;
  auto refuse = [&](const std::string& why) {
    ++report.refused;
    if (report.first_refusal.empty()) report.first_refusal = why;
  };
  FS_RETURN_IF_ERROR(impl_->InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    for (const std::string& bytes : records) {
      absl::StatusOr<KeyRecord> r = crypto::ParseKeyRecord(bytes);
      if (!r.ok()) {
        refuse(std::string(r.status().message()));
        continue;
      }
      // Who may send which record: crypto/key_policy.h.
      const RegisteredDevice* signer = FindDevice(r->signer);
      if (std::optional<std::string> why = crypto::RecordRefusal(
              *r, signer != nullptr ? &signer->keys : nullptr,
              signer != nullptr ? std::string_view(signer->province) : std::string_view(),
              impl_->CutOff(r->signer), replica_->device_id(), province_)) {
        refuse(*why);
        continue;
      }
      if (r->kind == KeyRecordKind::kMembership &&
          r->action == crypto::MembershipAction::kFirstDevice) {
        // The first first device seen of an office is pinned; another is
        // stored (it proves what the hub relayed) but never trusted.
        FS_ASSIGN_OR_RETURN(std::optional<crypto::DevicePublic> root, impl_->Root(r->province));
        if (!root && r->province != province_) {
          // Another office's: pinned on first sight (what a grant to that
          // office is checked against). This laptop's own office's first
          // device is pinned only by an officer here (Join, ApproveFirst).
          FS_RETURN_IF_ERROR(impl_->PinRoot(txn, r->province, r->subject, "first seen"));
        } else if (root && (root->device != r->subject.device ||
                            root->sign_pk != r->subject.sign_pk)) {
          FS_RETURN_IF_ERROR(impl_->Alert(
              txn, absl::StrCat("first:", r->province, ":", r->subject.device.ToString()),
              absl::StrCat(
              "device ", r->subject.device.ToString(), " claims to be the first device of office ",
              Printable(r->province), ", whose first device here is ", root->device.ToString(),
              "; not trusted (if the office really started again, see docs/CRYPTO.md)")));
        }
      }
      if (r->kind == KeyRecordKind::kDataKey || r->kind == KeyRecordKind::kOfficeDataKey) {
        FS_ASSIGN_OR_RETURN(bool erased, impl_->Erased(r->keyring));
        if (erased) {
          refuse(absl::StrCat(r->Describe(), ": its key ring was erased"));
          continue;
        }
      }
      FS_ASSIGN_OR_RETURN(auto exists, impl_->db->Prepared("SELECT 1 FROM _fs_keys WHERE id = ?1"));
      exists->BindBlob(1, r->Id());
      FS_ASSIGN_OR_RETURN(bool dup, exists->Step());
      if (dup) {
        ++report.duplicates;
        continue;
      }
      FS_RETURN_IF_ERROR(impl_->Store(txn, *r, /*pushed=*/true));
      if (r->kind == KeyRecordKind::kErasure) {
        FS_RETURN_IF_ERROR(impl_->DestroyRing(txn, *r));
        ++report.erased;
      }
      ++report.added;
    }
    return absl::OkStatus();
  }));
  if (report.erased > 0) {
    impl_->db->Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError();
  }
  return report;
}

absl::Status KeyRing::BeginPull() {
  Impl& m = *impl_;
  // Counted in the file, and the cut-offs read again: another process of
  // this data directory (the daemon, a sync) may have pulled meanwhile.
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    // Prepared once per connection (a pass begins one pull or more).
    FS_ASSIGN_OR_RETURN(auto count,
                        m.db->Prepared("INSERT OR REPLACE INTO _fs_trust(key, value) SELECT 'pulls', "
                                       "CAST(coalesce((SELECT CAST(value AS INTEGER) FROM _fs_trust "
                                       "WHERE key = 'pulls'), 0) + 1 AS TEXT)"));
    FS_RETURN_IF_ERROR(count->Run());
    return m.LoadCutOffs();
  }));
  m.in_pull = true;
  return absl::OkStatus();
}

void KeyRing::AbandonPull() { impl_->in_pull = false; }

absl::Status KeyRing::EndPull() {
  Impl& m = *impl_;
  m.in_pull = false;
  FS_ASSIGN_OR_RETURN(auto out, CutOffsDue());
  if (out.empty()) return absl::OkStatus();
  return m.InWriteTxn([&](sqlite::Transaction& txn) { return m.WriteCutOffs(txn, out); });
}

absl::StatusOr<std::map<DeviceId, std::string>> KeyRing::CutOffsDue() {
  Impl& m = *impl_;
  const DeviceId self = replica_->device_id();
  std::map<DeviceId, std::string> out;  // newly cut off, and why
  for (const auto& [id, d] : m.registry) {
    if (d.revoked() && id != self && m.cutoffs.count(id) == 0) {
      out[id] = "revoked by the hub administrator";
    }
  }
  // Removed by an office whose first device is pinned here, by a removal
  // the hub holds (relayed by it, or pushed and acknowledged): a removal
  // made here and not yet pushed waits, since the hub may still take the
  // device's work until it has it.
  std::vector<std::string> provinces;
  {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT province FROM _fs_roots"));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      provinces.push_back(st->ColumnString(0));
    }
  }
  for (const std::string& p : provinces) {
    FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office, m.MembershipOf(p));
    if (!office) continue;
    for (const DeviceId& d : office->removed) {
      if (d == self || m.cutoffs.count(d) > 0 || out.count(d) > 0) continue;
      FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> removals,
                          m.Query(absl::StrCat("kind = ",
                                               crypto::KindsSql({KeyRecordKind::kMembership}),
                                               " AND recipient = ?1 AND pushed = 1"),
                                  [&](sqlite::Stmt* s) { s->BindBlob(1, d.view()); }));
      for (const KeyRecord& r : removals) {
        if (r.action == crypto::MembershipAction::kRemove && r.province == p &&
            office->approved.count(r.signer) > 0) {
          out[d] = absl::StrCat("removed from office ", p, " by its office");
          break;
        }
      }
    }
  }
  return out;
}

absl::StatusOr<size_t> KeyRing::ResendOwn(const DeviceId& self) {
  size_t n = 0;
  FS_RETURN_IF_ERROR(impl_->InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("UPDATE _fs_keys SET pushed = 3 WHERE "
                                                     "pushed = 1 AND signer = ?1"));
    st->BindBlob(1, self.view());
    FS_RETURN_IF_ERROR(st->Run());
    n = static_cast<size_t>(impl_->db->Changes());
    return absl::OkStatus();
  }));
  return n;
}

absl::StatusOr<uint64_t> KeyRing::OwnRecordsAcknowledged(const DeviceId& self) {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared(absl::StrCat(
                                   "SELECT COUNT(*) FROM _fs_keys WHERE pushed IN (1, 3) "
                                   "AND signer = ?1 AND kind != ",
                                   crypto::KindsSql({KeyRecordKind::kErasure}))));
  st->BindBlob(1, self.view());
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  return r ? static_cast<uint64_t>(st->ColumnInt(0)) : 0;
}

absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> KeyRing::RecordsSignedBy(
    const DeviceId& signer, int64_t after, size_t limit) {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("SELECT seq, bytes FROM _fs_keys WHERE "
                                                   "signer = ?1 AND seq > ?2 ORDER BY seq "
                                                   "LIMIT ?3"));
  st->BindBlob(1, signer.view());
  st->BindInt(2, after);
  st->BindInt(3, static_cast<int64_t>(limit));
  std::vector<std::pair<int64_t, std::string>> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    out.emplace_back(st->ColumnInt(0), st->ColumnString(1));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> KeyRing::UnpushedRecords(size_t limit) {
  return RecordsIn(0, limit);
}

absl::StatusOr<std::vector<std::string>> KeyRing::RecordsToSendAgain(size_t limit) {
  return RecordsIn(3, limit);
}

absl::StatusOr<std::vector<std::string>> KeyRing::RecordsIn(int pushed, size_t limit) {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("SELECT bytes FROM _fs_keys WHERE pushed = ?2 "
                                                   "ORDER BY seq LIMIT ?1"));
  st->BindInt(1, static_cast<int64_t>(limit));
  st->BindInt(2, pushed);
  std::vector<std::string> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    out.push_back(st->ColumnString(0));
  }
  return out;
}

absl::Status KeyRing::MarkRefused(const std::vector<std::string>& records,
                                  std::string_view reason) {
  return impl_->InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    for (const std::string& bytes : records) {
      FS_ASSIGN_OR_RETURN(KeyRecord r, crypto::ParseKeyRecord(bytes));
      FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("UPDATE _fs_keys SET pushed = 2 WHERE "
                                                       "id = ?1"));
      st->BindBlob(1, r.Id());
      FS_RETURN_IF_ERROR(st->Run());
      FS_ASSIGN_OR_RETURN(auto why, impl_->db->Prepared(
                                        "INSERT INTO _fs_key_refusals(id, reason, at, refusals) "
                                        "VALUES (?1, ?2, ?3, 1) ON CONFLICT(id) DO UPDATE SET "
                                        "reason = ?2, at = ?3, refusals = refusals + 1"));
      why->BindBlob(1, r.Id());
      why->BindText(2, Printable(reason));
      why->BindInt(3, impl_->clock->NowMillis());
      FS_RETURN_IF_ERROR(why->Run());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<size_t> KeyRing::ResendRefused(size_t limit, int64_t refused_before_millis) {
  Impl& m = *impl_;
  size_t n = 0;
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office, m.MembershipOf(province_));
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(absl::StrCat(
                                     "SELECT k.id, k.kind, k.province, k.signer, k.recipient "
                                     "FROM _fs_keys k LEFT JOIN _fs_key_refusals r ON r.id = k.id "
                                     "WHERE k.pushed = 2 AND coalesce(r.at, 0) < ?1 ORDER BY "
                                     "k.kind = ", crypto::KindsSql({KeyRecordKind::kMembership}),
                                     " DESC, coalesce(r.at, 0), k.seq")));
    st->BindInt(1, refused_before_millis);
    std::vector<std::string> ids;
    while (ids.size() < limit) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      const auto kind = static_cast<KeyRecordKind>(st->ColumnInt(1));
      if (IdOf(st->ColumnBlob(3)) != replica_->device_id()) continue;
      if (crypto::OfficeBound(kind) && st->ColumnString(2) != province_) continue;
      if (kind == KeyRecordKind::kOfficeShare &&
          !(office && office->IsMember(IdOf(st->ColumnBlob(4))))) {
        continue;
      }
      ids.push_back(st->ColumnString(0));
    }
    st->Reset();
    FS_ASSIGN_OR_RETURN(auto up, m.db->Prepared("UPDATE _fs_keys SET pushed = 0 WHERE id = ?1 "
                                                "AND pushed = 2"));
    for (const std::string& id : ids) {
      up->BindBlob(1, id);
      FS_RETURN_IF_ERROR(up->Run());
      n += static_cast<size_t>(m.db->Changes());
      up->Reset();
    }
    return absl::OkStatus();
  }));
  return n;
}

absl::StatusOr<std::vector<KeyRing::RefusedRecord>> KeyRing::RefusedRecords() {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared(
                                   "SELECT k.bytes, r.reason, r.at, r.refusals FROM _fs_keys k "
                                   "JOIN _fs_key_refusals r ON r.id = k.id WHERE k.pushed = 2 "
                                   "ORDER BY k.seq"));
  std::vector<RefusedRecord> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    absl::StatusOr<KeyRecord> rec = crypto::ParseKeyRecord(st->ColumnBlob(0));
    if (!rec.ok()) continue;
    out.push_back({*std::move(rec), st->ColumnString(1), st->ColumnInt(2), st->ColumnInt(3)});
  }
  return out;
}

absl::Status KeyRing::MarkPushed(const std::vector<std::string>& records) {
  return impl_->InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    for (const std::string& bytes : records) {
      FS_ASSIGN_OR_RETURN(KeyRecord r, crypto::ParseKeyRecord(bytes));
      FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("UPDATE _fs_keys SET pushed = 1 WHERE "
                                                       "id = ?1"));
      st->BindBlob(1, r.Id());
      FS_RETURN_IF_ERROR(st->Run());
      FS_ASSIGN_OR_RETURN(auto why, impl_->db->Prepared("DELETE FROM _fs_key_refusals WHERE id "
                                                        "= ?1"));
      why->BindBlob(1, r.Id());
      FS_RETURN_IF_ERROR(why->Run());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::map<crypto::KeyRecordKind, int64_t>> KeyRing::CountRecords() {
  FS_ASSIGN_OR_RETURN(auto st,
                      impl_->db->Prepared("SELECT kind, count(*) FROM _fs_keys GROUP BY kind"));
  std::map<crypto::KeyRecordKind, int64_t> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    out[static_cast<KeyRecordKind>(st->ColumnInt(0))] = st->ColumnInt(1);
  }
  return out;
}

}  // namespace fieldsync
