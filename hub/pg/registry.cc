// The registry of the PostgreSQL hub storage (hub/pg/storage.h): provinces,
// enrolment tokens, nodes and their sync bookkeeping, the audit trail. The
// same rows, hashes and messages as the SQLite storage's
// (hub/sqlite_registry.cc); what differs is how concurrent hub processes
// are kept apart (docs/POSTGRES.md, "Several hub processes").
#include <sodium.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "crypto/credential_proof.h"
#include "crypto/hash.h"
#include "crypto/identity.h"
#include "crypto/key_record.h"
#include "hub/audit.h"
#include "hub/pg/audit.h"
#include "hub/pg/registry_reads.h"
#include "hub/pg/revoke.h"
#include "hub/pg/storage.h"
#include "hub/pg/transaction.h"

namespace fieldsync::hub {
namespace {

using pg::Connection;
using pg::Isolation;
using pg::Param;
using pg::Result;

std::string Hash(std::string_view secret) { return crypto::Blake2b256(secret); }

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return crypto::HashHex(raw);
}

// Enrolments of all hub processes take this transaction advisory lock
// ("fsenrol!") first: they run one at a time, as on SQLite, so two first
// enrolments of one device (or two uses of one token) cannot both pass
// the rules' checks. Enrolments are rare; nothing else waits on it.
constexpr int64_t kEnrolLock = 0x6673656e726f6c21;

// The columns of hub_nodes a NodeInfo is read from, in this order.
constexpr char kNodeColumns[] =
    "device, name, province, enrolled_at, last_seen, cursor, protocol, clock_skew, revoked_at, "
    "sign_pk, box_pk, revoked_position, delivered";

absl::StatusOr<NodeInfo> NodeAt(const Result& r, int i) {
  NodeInfo n;
  FS_ASSIGN_OR_RETURN(n.device, Id16::FromBytes(r.Bytes(i, 0), "node device"));
  n.name = r.Bytes(i, 1);
  n.province = r.Bytes(i, 2);
  FS_ASSIGN_OR_RETURN(n.enrolled_at_millis, r.Int(i, 3));
  FS_ASSIGN_OR_RETURN(n.last_seen_millis, r.Int(i, 4));
  FS_ASSIGN_OR_RETURN(n.cursor, r.Int(i, 5));
  FS_ASSIGN_OR_RETURN(const int64_t protocol, r.Int(i, 6));
  n.protocol_version = static_cast<int>(protocol);
  FS_ASSIGN_OR_RETURN(n.clock_skew_millis, r.Int(i, 7));
  n.revoked = !r.IsNull(i, 8);
  FS_ASSIGN_OR_RETURN(n.revoked_at_millis, r.Int(i, 8));
  n.keys.device = n.device;
  n.keys.sign_pk = r.Bytes(i, 9);
  n.keys.box_pk = r.Bytes(i, 10);
  FS_ASSIGN_OR_RETURN(n.revoked_position, r.Int(i, 11));
  FS_ASSIGN_OR_RETURN(const int64_t delivered, r.Int(i, 12));
  n.delivered = std::max(n.cursor, delivered);
  return n;
}

// The registry's rows an enrolment reads and writes (hub/enrolment.h holds
// its rules), inside its transaction.
class PgEnrolTxn : public HubEnrolTxn {
 public:
  explicit PgEnrolTxn(Connection& conn) : conn_(conn) {}

  absl::StatusOr<std::optional<StoredToken>> Token(const std::string& token) override {
    FS_ASSIGN_OR_RETURN(Result t, conn_.Exec("SELECT province, expires_at, used_at, used_by FROM "
                                             "hub_tokens WHERE hash = $1",
                                             {Param::Bytes(Hash(token))}));
    if (t.rows() == 0) return std::optional<StoredToken>();
    StoredToken out;
    out.province = t.Bytes(0, 0);
    FS_ASSIGN_OR_RETURN(out.expires_at_millis, t.Int(0, 1));
    out.used = !t.IsNull(0, 2);
    if (out.used) out.used_by = t.Bytes(0, 3);
    return std::optional<StoredToken>(std::move(out));
  }

  absl::StatusOr<std::optional<StoredNode>> Node(const DeviceId& device) override {
    FS_ASSIGN_OR_RETURN(Result d, conn_.Exec("SELECT revoked_at, province, sign_pk, box_pk FROM "
                                             "hub_nodes WHERE device = $1",
                                             {Param::Bytes(device.view())}));
    if (d.rows() == 0) return std::optional<StoredNode>();
    StoredNode out;
    out.revoked = !d.IsNull(0, 0);
    out.province = d.Bytes(0, 1);
    if (!d.IsNull(0, 2)) out.sign_pk = d.Bytes(0, 2);
    if (!d.IsNull(0, 3)) out.box_pk = d.Bytes(0, 3);
    return std::optional<StoredNode>(std::move(out));
  }

  absl::Status StoreNode(const DeviceId& device, const std::string& name,
                         const std::string& province, const std::string& secret,
                         const crypto::DevicePublic& keys, int64_t at_millis) override {
    return conn_
        .Exec("INSERT INTO hub_nodes(device, name, province, secret_hash, enrolled_at, sign_pk, "
              "box_pk) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (device) DO UPDATE SET "
              "secret_hash = excluded.secret_hash, name = excluded.name, link_pk = NULL",
              {Param::Bytes(device.view()), Param::Text(name), Param::Text(province),
               Param::Bytes(crypto::SecretHash(secret)), Param::Int(at_millis),
               Param::Bytes(keys.sign_pk),
               Param::Bytes(keys.box_pk)})
        .status();
  }

  absl::Status UseToken(const std::string& token, const DeviceId& device,
                        int64_t at_millis) override {
    return conn_
        .Exec("UPDATE hub_tokens SET used_at = $2, used_by = $3 WHERE hash = $1",
              {Param::Bytes(Hash(token)), Param::Int(at_millis), Param::Bytes(device.view())})
        .status();
  }

  absl::Status AppendAudit(int64_t at_millis, const std::string& actor,
                           const std::string& action, const std::string& detail) override {
    return pg::AppendAudit(conn_, at_millis, actor, action, detail);
  }

 private:
  Connection& conn_;
};

}  // namespace

absl::Status PostgresHubStorage::AddProvince(const std::string& code, const std::string& name,
                                             const std::string& actor) {
  FS_RETURN_IF_ERROR(Stale());
  absl::MutexLock l(&mu_);
  Connection& conn = *conn_;
  const int64_t now = clock_->NowMillis();
  return pg::InTransaction(conn, Isolation::kReadCommitted, [&](pg::Transaction&) -> absl::Status {
    absl::StatusOr<Result> ins = conn.Exec("INSERT INTO hub_provinces(code, name, created_at) "
                                           "VALUES ($1, $2, $3)",
                                           {Param::Text(code), Param::Text(name), Param::Int(now)});
    if (ins.status().code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError(absl::StrCat(
          "province ", code, " is already registered; see fieldhub province list"));
    }
    FS_RETURN_IF_ERROR(ins.status());
    return pg::AppendAudit(conn, now, actor, kAuditProvinceAdd,
                           absl::StrCat("province ", code, " \"", name, "\""));
  });
}

absl::StatusOr<std::vector<Province>> PostgresHubStorage::Provinces() {
  absl::MutexLock l(&mu_);
  FS_ASSIGN_OR_RETURN(Result r, conn_->Exec("SELECT code, name, created_at FROM hub_provinces "
                                            "ORDER BY code"));
  std::vector<Province> out;
  for (int i = 0; i < r.rows(); ++i) {
    Province p{r.Bytes(i, 0), r.Bytes(i, 1), 0};
    FS_ASSIGN_OR_RETURN(p.created_at_millis, r.Int(i, 2));
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<EnrollToken> PostgresHubStorage::MakeEnrollToken(const std::string& province,
                                                                int64_t valid_for_millis,
                                                                const std::string& actor) {
  FS_RETURN_IF_ERROR(Stale());
  absl::MutexLock l(&mu_);
  Connection& conn = *conn_;
  EnrollToken t;
  const int64_t now = clock_->NowMillis();
  FS_RETURN_IF_ERROR(pg::InTransaction(conn, Isolation::kReadCommitted,
                                       [&](pg::Transaction&) -> absl::Status {
    // The province row is locked until the token is stored (no province is
    // ever removed today; this keeps it so if one is).
    FS_ASSIGN_OR_RETURN(Result p, conn.Exec("SELECT 1 FROM hub_provinces WHERE code = $1 FOR "
                                            "SHARE",
                                            {Param::Text(province)}));
    if (p.rows() == 0) {
      return absl::NotFoundError(absl::StrCat("unknown province \"", province,
                                              "\"; add it first: fieldhub province add ",
                                              province, " NAME"));
    }
    t.token = absl::StrCat("fsenroll-", RandomHex(20));
    t.province = province;
    t.expires_at_millis = now + valid_for_millis;
    FS_RETURN_IF_ERROR(conn.Exec("INSERT INTO hub_tokens(hash, province, created_at, expires_at) "
                                 "VALUES ($1, $2, $3, $4)",
                                 {Param::Bytes(Hash(t.token)), Param::Text(province),
                                  Param::Int(now), Param::Int(t.expires_at_millis)})
                           .status());
    // Never the token itself: whoever reads the trail must not be able to
    // enrol a device with it.
    return pg::AppendAudit(conn, now, actor, kAuditTokenIssue,
                           absl::StrCat("token for province ", province, ", valid for ",
                                        FormatDurationMillis(valid_for_millis), " until ",
                                        FormatTimeMillis(t.expires_at_millis)));
  }));
  return t;
}

absl::StatusOr<std::vector<NodeInfo>> PostgresHubStorage::Nodes() {
  absl::MutexLock l(&mu_);
  Connection& conn = *conn_;
  std::vector<NodeInfo> out;
  // One snapshot: the nodes and what waits for each. Pending: others' log
  // entries of its province and of the shared directory after what it was
  // delivered (grants aside), less its own; as the SQLite storage counts.
  FS_RETURN_IF_ERROR(pg::InTransaction(conn, Isolation::kRepeatableReadOnly,
                                       [&](pg::Transaction&) -> absl::Status {
    FS_ASSIGN_OR_RETURN(
        Result r,
        conn.Exec(absl::StrCat(
            "SELECT ", kNodeColumns, ", "
            // Held up to: passed-over commits included, as SqliteHubStorage's
            // SeqHeld (schema version 2).
            "(SELECT coalesce(max(held_seq), 0) FROM hub_authors WHERE device = n.device), "
            "(SELECT count(DISTINCT s.position) FROM hub_log_scope s WHERE s.province IN "
            "(n.province, '*') AND s.position > greatest(n.cursor, n.delivered) AND NOT EXISTS "
            "(SELECT 1 FROM hub_log g WHERE g.position = s.position AND g.author = n.device)), "
            "(SELECT count(*) FROM hub_chain c WHERE c.device = n.device AND c.position < 0 AND "
            "c.position > $1), n.link_pk "
            "FROM hub_nodes n ORDER BY n.province, n.name, n.device"),
                  {Param::Int(-kWithdrawnRefusalOffset)}));
    for (int i = 0; i < r.rows(); ++i) {
      FS_ASSIGN_OR_RETURN(NodeInfo n, NodeAt(r, i));
      FS_ASSIGN_OR_RETURN(const int64_t seq, r.Int(i, 13));
      FS_ASSIGN_OR_RETURN(const int64_t pending, r.Int(i, 14));
      FS_ASSIGN_OR_RETURN(const int64_t set_aside, r.Int(i, 15));
      n.acknowledged_seq = static_cast<uint64_t>(seq);
      n.pending = static_cast<uint64_t>(pending);
      n.set_aside = static_cast<uint64_t>(set_aside);
      n.link_key = LinkKeyStateOf(r.IsNull(i, 16) ? std::string() : r.Bytes(i, 16));
      out.push_back(std::move(n));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::optional<NodeInfo>> PostgresHubStorage::LoadNode(const DeviceId& device) {
  FS_ASSIGN_OR_RETURN(Result r, conn_->Exec(absl::StrCat("SELECT ", kNodeColumns,
                                                         " FROM hub_nodes WHERE device = $1"),
                                            {Param::Bytes(device.view())}));
  if (r.rows() == 0) return std::optional<NodeInfo>();
  FS_ASSIGN_OR_RETURN(NodeInfo n, NodeAt(r, 0));
  // As the SQLite storage's one-node lookup: what it was delivered is
  // Nodes()'s to say.
  n.delivered = 0;
  return std::optional<NodeInfo>(std::move(n));
}

absl::StatusOr<std::optional<NodeInfo>> PostgresHubStorage::NodeOf(const DeviceId& device) {
  absl::MutexLock l(&mu_);
  return LoadNode(device);
}

namespace pg {

absl::Status RevokeInTransaction(Connection& conn, const DeviceId& device,
                                 const std::string& actor, int64_t now) {
  // The log head at revocation, its row locked until the revocation is
  // committed: a push of any hub process that holds it stores before (and
  // its commits stay valid), one that takes it after reads the
  // revocation (docs/POSTGRES.md, "Several hub processes").
  FS_ASSIGN_OR_RETURN(Result head, conn.Exec("SELECT position FROM hub_log_head FOR UPDATE"));
  FS_ASSIGN_OR_RETURN(const int64_t position, head.Int(0, 0));
  FS_ASSIGN_OR_RETURN(Result n, conn.Exec("SELECT name, province, revoked_at FROM hub_nodes "
                                          "WHERE device = $1 FOR UPDATE",
                                          {Param::Bytes(device.view())}));
  if (n.rows() == 0) {
    return absl::NotFoundError(absl::StrCat("no enrolled node ", device.ToString(),
                                            "; see fieldhub node list"));
  }
  if (!n.IsNull(0, 2)) {
    FS_ASSIGN_OR_RETURN(const int64_t at, n.Int(0, 2));
    return absl::FailedPreconditionError(absl::StrCat(
        "node ", device.ToString(), " was already revoked on ", FormatTimeMillis(at),
        "; nothing changed (see fieldhub node list)"));
  }
  const std::string name = n.Bytes(0, 0), province = n.Bytes(0, 1);
  FS_RETURN_IF_ERROR(conn.Exec("UPDATE hub_nodes SET revoked_at = $2, revoked_position = $3 "
                               "WHERE device = $1 AND revoked_at IS NULL",
                               {Param::Bytes(device.view()), Param::Int(now),
                                Param::Int(position)})
                         .status());
  return pg::AppendAudit(conn, now, actor, kAuditRevoke,
                         absl::StrCat("device ", device.ToString(), " \"", name,
                                      "\" of province ", province,
                                      " revoked at log position ", position));
}

}  // namespace pg

absl::Status PostgresHubStorage::RevokeNode(const DeviceId& device, const std::string& actor,
                                            const std::function<void()>& then) {
  FS_RETURN_IF_ERROR(Stale());
  absl::MutexLock w(&write_mu_);
  absl::MutexLock l(&mu_);
  Connection& conn = *conn_;
  const int64_t now = clock_->NowMillis();
  absl::Status s = pg::InTransaction(conn, Isolation::kReadCommitted,
                                     [&](pg::Transaction&) -> absl::Status {
    return pg::RevokeInTransaction(conn, device, actor, now);
  });
  then();
  return s;
}

absl::StatusOr<HubAuditTrail> PostgresHubStorage::AuditTrail() {
  absl::MutexLock l(&mu_);
  return pg::ReadAudit(*conn_);
}

absl::Status PostgresHubStorage::EnrolTransaction(
    const std::function<absl::Status(HubEnrolTxn&)>& body) {
  FS_RETURN_IF_ERROR(Stale());
  absl::MutexLock l(&mu_);
  Connection& conn = *conn_;
  return pg::InTransaction(conn, Isolation::kReadCommitted,
                           [&](pg::Transaction&) -> absl::Status {
    FS_RETURN_IF_ERROR(
        conn.Exec("SELECT pg_advisory_xact_lock($1)", {Param::Int(kEnrolLock)}).status());
    PgEnrolTxn txn(conn);
    return body(txn);
  });
}

absl::StatusOr<std::vector<RegisteredDevice>> PostgresHubStorage::Registry() {
  absl::MutexLock l(&mu_);
  return pg::ReadRegistry(*conn_);
}

absl::StatusOr<NodeInfo> PostgresHubStorage::CheckCredential(const DeviceId& device,
                                                             const CredentialCheck& check) {
  absl::MutexLock l(&mu_);
  // The node and its secrets in one query (every call of every node
  // authenticates: one round trip, not two).
  FS_ASSIGN_OR_RETURN(Result r, conn_->Exec(absl::StrCat("SELECT ", kNodeColumns,
                                                         ", secret_hash, link_pk FROM hub_nodes "
                                                         "WHERE device = $1"),
                                            {Param::Bytes(device.view())}));
  if (r.rows() == 0) {
    return absl::UnauthenticatedError(absl::StrCat(
        "device ", device.ToString(),
        " is not enrolled at this hub: enrol it with a token from the hub administrator "
        "(fieldnode enroll --token ...)"));
  }
  FS_ASSIGN_OR_RETURN(NodeInfo n, NodeAt(r, 0));
  n.delivered = 0;  // as LoadNode: what it was delivered is Nodes()'s to say
  constexpr int kSecret = 13;  // after kNodeColumns
  FS_RETURN_IF_ERROR(check.Verify(r.Bytes(0, kSecret),
                                  r.IsNull(0, kSecret + 1) ? std::string()
                                                           : r.Bytes(0, kSecret + 1)));
  return n;
}

absl::StatusOr<bool> PostgresHubStorage::SwapLinkKey(const DeviceId& device,
                                                     std::string_view from, std::string_view to,
                                                     const std::string& actor,
                                                     const std::string& action,
                                                     const std::string& detail) {
  absl::MutexLock l(&mu_);
  Connection& conn = *conn_;
  const int64_t now = clock_->NowMillis();
  bool changed = false;
  FS_RETURN_IF_ERROR(pg::InTransaction(conn, Isolation::kReadCommitted,
                                       [&](pg::Transaction&) -> absl::Status {
    FS_ASSIGN_OR_RETURN(
        Result r, conn.Exec("UPDATE hub_nodes SET link_pk = $3 WHERE device = $1 AND link_pk IS "
                            "NOT DISTINCT FROM $2",
                            {Param::Bytes(device.view()),
                             from.empty() ? Param::NullBytes() : Param::Bytes(from),
                             Param::Bytes(to)}));
    changed = r.Affected() > 0;
    if (!changed) return absl::OkStatus();
    return pg::AppendAudit(conn, now, actor, action, detail);
  }));
  return changed;
}

absl::Status PostgresHubStorage::RecordDelivered(const DeviceId& device, int64_t position) {
  absl::MutexLock l(&mu_);
  return conn_
      ->Exec("UPDATE hub_nodes SET delivered = greatest(delivered, $2) WHERE device = $1",
             {Param::Bytes(device.view()), Param::Int(position)})
      .status();
}

absl::Status PostgresHubStorage::RecordCall(const DeviceId& device, int protocol_version,
                                            std::optional<int64_t> clock_skew_millis,
                                            std::optional<int64_t> cursor) {
  absl::MutexLock l(&mu_);
  return conn_
      ->Exec("UPDATE hub_nodes SET last_seen = $2, protocol = $3, clock_skew = "
             "coalesce($4, clock_skew), cursor = coalesce($5, cursor) WHERE device = $1",
             {Param::Bytes(device.view()), Param::Int(clock_->NowMillis()),
              Param::Int(protocol_version), Param::OptInt(clock_skew_millis),
              Param::OptInt(cursor)})
      .status();
}

absl::StatusOr<OfficeRecords> PostgresHubStorage::OfficeRecordsOf(const std::string& province) {
  absl::MutexLock l(&mu_);
  // One statement: one snapshot without a transaction around it.
  return pg::ReadOfficeRecords(*conn_, province);
}

}  // namespace fieldsync::hub
