// The registry of the embedded hub storage (hub/sqlite_storage.h):
// provinces, enrolment tokens, nodes and their sync bookkeeping, the audit
// trail, through the registry's own connection.
#include <sodium.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "crypto/credential_proof.h"
#include "crypto/hash.h"
#include "crypto/identity.h"
#include "hub/audit.h"
#include "hub/sqlite_chain.h"
#include "hub/sqlite_storage.h"

namespace fieldsync::hub {
namespace {

std::string Hash(std::string_view secret) { return crypto::Blake2b256(secret); }

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return crypto::HashHex(raw);
}

}  // namespace

absl::Status SqliteHubStorage::AddProvince(const std::string& code, const std::string& name,
                                         const std::string& actor) {
  absl::MutexLock l(&registry_mu_);
  // The lambda below runs while the lock is held (the analysis does not
  // follow a lock into a lambda).
  sqlite::Db& registry = *registry_;
  const int64_t now = clock_->NowMillis();
  return sqlite::InTransaction(registry, sqlite_storage::kWriteTxn,
                               [&](sqlite::Transaction&) -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, registry.Prepared("INSERT INTO hub_provinces(code, name, "
                                                   "created_at) VALUES (?1, ?2, ?3)"));
    st->BindText(1, code);
    st->BindText(2, name);
    st->BindInt(3, now);
    absl::Status s = st->Run();
    if (s.code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError(absl::StrCat(
          "province ", code, " is already registered; see fieldhub province list"));
    }
    FS_RETURN_IF_ERROR(s);
    return AppendHubAudit(registry, now, actor, kAuditProvinceAdd,
                          absl::StrCat("province ", code, " \"", name, "\""));
  });
}

absl::StatusOr<std::vector<Province>> SqliteHubStorage::Provinces() {
  absl::MutexLock l(&registry_mu_);
  FS_ASSIGN_OR_RETURN(auto st, registry_->Prepared("SELECT code, name, created_at FROM "
                                                   "hub_provinces ORDER BY code"));
  std::vector<Province> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    out.push_back(Province{st->ColumnString(0), st->ColumnString(1), st->ColumnInt(2)});
  }
  return out;
}

absl::StatusOr<EnrollToken> SqliteHubStorage::MakeEnrollToken(const std::string& province,
                                                            int64_t valid_for_millis,
                                                            const std::string& actor) {
  absl::MutexLock l(&registry_mu_);
  // The lambdas below run while the lock is held (the analysis does not
  // follow a lock into a lambda).
  sqlite::Db& registry = *registry_;
  FS_ASSIGN_OR_RETURN(auto p, registry_->Prepared("SELECT 1 FROM hub_provinces WHERE code = ?1"));
  p->BindText(1, province);
  FS_ASSIGN_OR_RETURN(bool known, p->Step());
  if (!known) {
    return absl::NotFoundError(absl::StrCat("unknown province \"", province,
                                            "\"; add it first: fieldhub province add ", province,
                                            " NAME"));
  }
  EnrollToken t;
  t.token = absl::StrCat("fsenroll-", RandomHex(20));
  t.province = province;
  const int64_t now = clock_->NowMillis();
  t.expires_at_millis = now + valid_for_millis;
  p->Reset();
  FS_RETURN_IF_ERROR(sqlite::InTransaction(*registry_, sqlite_storage::kWriteTxn,
                                           [&](sqlite::Transaction&) -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, registry.Prepared("INSERT INTO hub_tokens(hash, province, "
                                                   "created_at, expires_at) VALUES (?1, ?2, "
                                                   "?3, ?4)"));
    st->BindBlob(1, Hash(t.token));
    st->BindText(2, province);
    st->BindInt(3, now);
    st->BindInt(4, t.expires_at_millis);
    FS_RETURN_IF_ERROR(st->Run());
    // Never the token itself: whoever reads the trail must not be able to
    // enrol a device with it.
    return AppendHubAudit(registry, now, actor, kAuditTokenIssue,
                          absl::StrCat("token for province ", province, ", valid for ",
                                       FormatDurationMillis(valid_for_millis), " until ",
                                       FormatTimeMillis(t.expires_at_millis)));
  }));
  return t;
}

absl::StatusOr<std::vector<NodeInfo>> SqliteHubStorage::Nodes() {
  absl::MutexLock l(&registry_mu_);
  // The lambdas below run while the lock is held (the analysis does not
  // follow a lock into a lambda).
  sqlite::Db& registry = *registry_;
  FS_ASSIGN_OR_RETURN(
      auto st,
      registry_->Prepared("SELECT n.device, n.name, n.province, n.enrolled_at, n.last_seen, "
                          "n.cursor, n.protocol, n.clock_skew, n.revoked_at, "
                          "n.sign_pk, n.box_pk, n.revoked_position, n.delivered, n.link_pk "
                          "FROM hub_nodes n ORDER BY n.province, n.name, n.device"));
  std::vector<NodeInfo> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    NodeInfo n;
    FS_ASSIGN_OR_RETURN(n.device, Id16::FromBytes(st->ColumnBlob(0), "node device"));
    n.name = st->ColumnString(1);
    n.province = st->ColumnString(2);
    n.enrolled_at_millis = st->ColumnInt(3);
    n.last_seen_millis = st->ColumnInt(4);
    n.cursor = st->ColumnInt(5);
    n.protocol_version = static_cast<int>(st->ColumnInt(6));
    n.clock_skew_millis = st->ColumnInt(7);
    n.revoked = !st->ColumnIsNull(8);
    n.revoked_at_millis = n.revoked ? st->ColumnInt(8) : 0;
    n.keys.device = n.device;
    n.keys.sign_pk = st->ColumnString(9);
    n.keys.box_pk = st->ColumnString(10);
    n.revoked_position = st->ColumnInt(11);
    n.delivered = std::max(n.cursor, st->ColumnInt(12));
    n.link_key = LinkKeyStateOf(st->ColumnIsNull(13) ? std::string() : st->ColumnString(13));
    out.push_back(std::move(n));
  }
  // What waits for each node: others' log entries of its province and of
  // the shared directory after its cursor (from hub schema version 7 with
  // those of the cases granted to it; entries before, grants aside): all
  // of them, less its own (their authors are the replica's to say:
  // store/replica.h).
  FS_ASSIGN_OR_RETURN(auto pending,
                      registry_->Prepared("SELECT count(DISTINCT position) FROM hub_log_scope "
                                          "WHERE province IN (?1, '*') AND position > ?2"));
  FS_ASSIGN_OR_RETURN(auto own,
                      registry_->Prepared("SELECT count(DISTINCT position) FROM hub_log_scope "
                                          "WHERE province IN (?1, '*') AND position IN (SELECT "
                                          "value FROM json_each(?2))"));
  FS_ASSIGN_OR_RETURN(std::unique_ptr<Replica> reader, TakeReader());
  FS_RETURN_IF_ERROR(reader->ReadTransaction([&]() -> absl::Status {
    for (NodeInfo& n : out) {
      FS_ASSIGN_OR_RETURN(n.acknowledged_seq, reader->SeqHeld(n.device));
      pending->Reset();
      pending->BindText(1, n.province);
      pending->BindInt(2, n.delivered);
      FS_ASSIGN_OR_RETURN(bool r, pending->Step());
      const int64_t all = r ? pending->ColumnInt(0) : 0;
      FS_ASSIGN_OR_RETURN(const std::vector<int64_t> mine,
                          reader->LogPositionsOf(n.device, n.delivered));
      int64_t of_its_own = 0;
      if (!mine.empty()) {
        own->Reset();
        own->BindText(1, n.province);
        own->BindText(2, JsonStored(Json(mine)));
        FS_ASSIGN_OR_RETURN(bool o, own->Step());
        of_its_own = o ? own->ColumnInt(0) : 0;
      }
      n.pending = static_cast<uint64_t>(std::max<int64_t>(0, all - of_its_own));
      FS_ASSIGN_OR_RETURN(n.set_aside, sqlite_chain::SetAside(registry, n.device));
    }
    return absl::OkStatus();
  }));
  ReturnReader(std::move(reader));
  return out;
}

absl::Status SqliteHubStorage::RevokeNode(const DeviceId& device, const std::string& actor,
                                         const std::function<void()>& then) {
  // Under the writer's lock: no push of the device can be half-way through
  // storing while its revocation position is taken (Push re-checks).
  absl::MutexLock w(&write_mu_);
  absl::MutexLock l(&registry_mu_);
  // The lambdas below run while the lock is held (the analysis does not
  // follow a lock into a lambda).
  sqlite::Db& registry = *registry_;
  const int64_t now = clock_->NowMillis();
  // The log head at revocation: commits of the device the hub stored
  // before stay valid for nodes; anything later in the log is refused. No
  // push stores anything while the writer's lock is held.
  FS_ASSIGN_OR_RETURN(const int64_t position, writer_->LogHead());
  absl::Status s = sqlite::InTransaction(*registry_, sqlite_storage::kWriteTxn,
                                         [&](sqlite::Transaction&) -> absl::Status {
    std::string name, province;
    {
      FS_ASSIGN_OR_RETURN(auto n, registry.Prepared("SELECT name, province, revoked_at FROM "
                                                    "hub_nodes WHERE device = ?1"));
      n->BindBlob(1, device.view());
      FS_ASSIGN_OR_RETURN(bool found, n->Step());
      if (!found) {
        return absl::NotFoundError(absl::StrCat("no enrolled node ", device.ToString(),
                                                "; see fieldhub node list"));
      }
      if (!n->ColumnIsNull(2)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "node ", device.ToString(), " was already revoked on ",
            FormatTimeMillis(n->ColumnInt(2)), "; nothing changed (see fieldhub node list)"));
      }
      name = n->ColumnString(0);
      province = n->ColumnString(1);
    }
    FS_ASSIGN_OR_RETURN(auto st, registry.Prepared("UPDATE hub_nodes SET revoked_at = ?2, "
                                                   "revoked_position = ?3 WHERE device = ?1 "
                                                   "AND revoked_at IS NULL"));
    st->BindBlob(1, device.view());
    st->BindInt(2, now);
    st->BindInt(3, position);
    FS_RETURN_IF_ERROR(st->Run());
    return AppendHubAudit(registry, now, actor, kAuditRevoke,
                          absl::StrCat("device ", device.ToString(), " \"", name,
                                       "\" of province ", province,
                                       " revoked at log position ", position));
  });
  then();
  return s;
}

absl::StatusOr<HubAuditTrail> SqliteHubStorage::AuditTrail() {
  absl::MutexLock l(&registry_mu_);
  return ReadHubAudit(*registry_);
}

namespace {

// The registry's rows an enrolment reads and writes (hub/enrolment.h holds
// its rules), through the registry's connection inside its transaction.
class SqliteEnrolTxn : public HubEnrolTxn {
 public:
  explicit SqliteEnrolTxn(sqlite::Db& db) : db_(db) {}

  absl::StatusOr<std::optional<StoredToken>> Token(const std::string& token) override {
    FS_ASSIGN_OR_RETURN(auto t, db_.Prepared("SELECT province, expires_at, used_at, used_by "
                                             "FROM hub_tokens WHERE hash = ?1"));
    t->BindBlob(1, Hash(token));
    FS_ASSIGN_OR_RETURN(bool found, t->Step());
    if (!found) return std::optional<StoredToken>();
    StoredToken out;
    out.province = t->ColumnString(0);
    out.expires_at_millis = t->ColumnInt(1);
    out.used = !t->ColumnIsNull(2);
    if (out.used) out.used_by = std::string(t->ColumnBlob(3));
    return std::optional<StoredToken>(std::move(out));
  }

  absl::StatusOr<std::optional<StoredNode>> Node(const DeviceId& device) override {
    FS_ASSIGN_OR_RETURN(auto d, db_.Prepared("SELECT revoked_at, province, sign_pk, box_pk "
                                             "FROM hub_nodes WHERE device = ?1"));
    d->BindBlob(1, device.view());
    FS_ASSIGN_OR_RETURN(bool found, d->Step());
    if (!found) return std::optional<StoredNode>();
    StoredNode out;
    out.revoked = !d->ColumnIsNull(0);
    out.province = d->ColumnString(1);
    if (!d->ColumnIsNull(2)) out.sign_pk = d->ColumnString(2);
    if (!d->ColumnIsNull(3)) out.box_pk = d->ColumnString(3);
    return std::optional<StoredNode>(std::move(out));
  }

  absl::Status StoreNode(const DeviceId& device, const std::string& name,
                         const std::string& province, const std::string& secret,
                         const crypto::DevicePublic& keys, int64_t at_millis) override {
    FS_ASSIGN_OR_RETURN(auto ins, db_.Prepared(
                                      "INSERT INTO hub_nodes(device, name, province, "
                                      "secret_hash, enrolled_at, sign_pk, box_pk) VALUES (?1, ?2, "
                                      "?3, ?4, ?5, ?6, ?7) ON CONFLICT(device) DO UPDATE SET "
                                      "secret_hash = excluded.secret_hash, name = excluded.name, "
                                      "link_pk = NULL"));
    ins->BindBlob(1, device.view());
    ins->BindText(2, name);
    ins->BindText(3, province);
    ins->BindBlob(4, crypto::SecretHash(secret));
    ins->BindInt(5, at_millis);
    ins->BindBlob(6, keys.sign_pk);
    ins->BindBlob(7, keys.box_pk);
    return ins->Run();
  }

  absl::Status UseToken(const std::string& token, const DeviceId& device,
                        int64_t at_millis) override {
    FS_ASSIGN_OR_RETURN(auto use, db_.Prepared("UPDATE hub_tokens SET used_at = ?2, "
                                               "used_by = ?3 WHERE hash = ?1"));
    use->BindBlob(1, Hash(token));
    use->BindInt(2, at_millis);
    use->BindBlob(3, device.view());
    return use->Run();
  }

  absl::Status AppendAudit(int64_t at_millis, const std::string& actor,
                           const std::string& action, const std::string& detail) override {
    return AppendHubAudit(db_, at_millis, actor, action, detail);
  }

 private:
  sqlite::Db& db_;
};

}  // namespace

absl::Status SqliteHubStorage::EnrolTransaction(
    const std::function<absl::Status(HubEnrolTxn&)>& body) {
  absl::MutexLock l(&registry_mu_);
  // The lambdas below run while the lock is held (the analysis does not
  // follow a lock into a lambda).
  sqlite::Db& registry = *registry_;
  return sqlite::InTransaction(*registry_, sqlite_storage::kWriteTxn,
                               [&](sqlite::Transaction&) -> absl::Status {
    SqliteEnrolTxn txn(registry);
    return body(txn);
  });
}

absl::StatusOr<std::optional<NodeInfo>> SqliteHubStorage::NodeOf(const DeviceId& device) {
  absl::MutexLock l(&registry_mu_);
  absl::StatusOr<NodeInfo> n = LoadNode(device);
  if (n.status().code() == absl::StatusCode::kUnauthenticated) return std::optional<NodeInfo>();
  if (!n.ok()) return n.status();
  return std::optional<NodeInfo>(*std::move(n));
}

absl::StatusOr<NodeInfo> SqliteHubStorage::LoadNode(const DeviceId& device) {
  FS_ASSIGN_OR_RETURN(
      auto st,
      registry_->Prepared("SELECT name, province, enrolled_at, last_seen, cursor, protocol, "
                          "clock_skew, revoked_at, secret_hash, sign_pk, box_pk, "
                          "revoked_position FROM hub_nodes WHERE device = ?1"));
  st->BindBlob(1, device.view());
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) {
    return absl::UnauthenticatedError(absl::StrCat(
        "device ", device.ToString(),
        " is not enrolled at this hub: enrol it with a token from the hub administrator "
        "(fieldnode enroll --token ...)"));
  }
  NodeInfo n;
  n.device = device;
  n.name = st->ColumnString(0);
  n.province = st->ColumnString(1);
  n.enrolled_at_millis = st->ColumnInt(2);
  n.last_seen_millis = st->ColumnInt(3);
  n.cursor = st->ColumnInt(4);
  n.protocol_version = static_cast<int>(st->ColumnInt(5));
  n.clock_skew_millis = st->ColumnInt(6);
  n.revoked = !st->ColumnIsNull(7);
  n.revoked_at_millis = n.revoked ? st->ColumnInt(7) : 0;
  n.keys.device = device;
  n.keys.sign_pk = st->ColumnString(9);
  n.keys.box_pk = st->ColumnString(10);
  n.revoked_position = st->ColumnInt(11);
  return n;
}


absl::StatusOr<std::vector<RegisteredDevice>> SqliteHubStorage::Registry() {
  absl::MutexLock l(&registry_mu_);
  return sqlite_storage::ReadRegistry(*registry_);
}

absl::StatusOr<NodeInfo> SqliteHubStorage::CheckCredential(const DeviceId& device,
                                                           const CredentialCheck& check) {
  absl::MutexLock l(&registry_mu_);
  FS_ASSIGN_OR_RETURN(NodeInfo n, LoadNode(device));
  FS_ASSIGN_OR_RETURN(auto st, registry_->Prepared("SELECT secret_hash, link_pk FROM hub_nodes "
                                                   "WHERE device = ?1"));
  st->BindBlob(1, device.view());
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  FS_RETURN_IF_ERROR(check.Verify(found ? st->ColumnString(0) : std::string(),
                                  found && !st->ColumnIsNull(1) ? st->ColumnString(1)
                                                                : std::string()));
  return n;
}

absl::StatusOr<bool> SqliteHubStorage::SwapLinkKey(const DeviceId& device, std::string_view from,
                                                   std::string_view to, const std::string& actor,
                                                   const std::string& action,
                                                   const std::string& detail) {
  absl::MutexLock l(&registry_mu_);
  // The lambda runs while the lock is held.
  sqlite::Db& registry = *registry_;
  bool changed = false;
  FS_RETURN_IF_ERROR(sqlite::InTransaction(*registry_, sqlite_storage::kWriteTxn,
                                           [&](sqlite::Transaction&) -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, registry.Prepared("UPDATE hub_nodes SET link_pk = ?3 WHERE "
                                                   "device = ?1 AND link_pk IS ?2"));
    st->BindBlob(1, device.view());
    if (from.empty()) {
      st->BindNull(2);
    } else {
      st->BindBlob(2, from);
    }
    st->BindBlob(3, to);
    FS_RETURN_IF_ERROR(st->Run());
    changed = registry.Changes() > 0;
    if (!changed) return absl::OkStatus();
    return AppendHubAudit(registry, clock_->NowMillis(), actor, action, detail);
  }));
  return changed;
}

absl::Status SqliteHubStorage::RecordDelivered(const DeviceId& device, int64_t position) {
  absl::MutexLock l(&registry_mu_);
  FS_ASSIGN_OR_RETURN(auto st, registry_->Prepared("UPDATE hub_nodes SET delivered = max(delivered, "
                                                   "?2) WHERE device = ?1"));
  st->BindBlob(1, device.view());
  st->BindInt(2, position);
  return st->Run();
}

absl::Status SqliteHubStorage::RecordCall(const DeviceId& device, int protocol_version,
                                        std::optional<int64_t> clock_skew_millis,
                                        std::optional<int64_t> cursor) {
  absl::MutexLock l(&registry_mu_);
  FS_ASSIGN_OR_RETURN(auto st, registry_->Prepared(
                                   "UPDATE hub_nodes SET last_seen = ?2, protocol = ?3, "
                                   "clock_skew = coalesce(?4, clock_skew), cursor = "
                                   "coalesce(?5, cursor) WHERE device = ?1"));
  st->BindBlob(1, device.view());
  st->BindInt(2, clock_->NowMillis());
  st->BindInt(3, protocol_version);
  if (clock_skew_millis) st->BindInt(4, *clock_skew_millis);
  if (cursor) st->BindInt(5, *cursor);
  return st->Run();
}

absl::StatusOr<OfficeRecords> SqliteHubStorage::OfficeRecordsOf(const std::string& province) {
  absl::MutexLock l(&registry_mu_);
  return sqlite_storage::ReadOfficeRecords(*registry_, province);
}

}  // namespace fieldsync::hub
