#include "hub/sqlite_store.h"

#include <sodium.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "change/commit_codec.h"
#include "crypto/commit_signature.h"
#include "crypto/envelope.h"
#include "crypto/identity.h"
#include "crypto/key_record.h"
#include "hub/audit.h"
#include "hub/referral_check.h"
#include "hub/scope.h"
#include "store/replica_internal.h"

namespace fieldsync::hub {
namespace {

// Whether a clear value of `col` in commit `c` is a laptop's work from
// before the column was sealed (ColumnDef::sealed_since): taken, since
// refusing it would block that laptop's work; its author rewrites it sealed
// once upgraded (docs/CRYPTO.md, "Fields sealed in schema version 4"). A
// node at that version or later writes it sealed from its first commit at
// that version.
bool LegacyClearAllowed(const ColumnDef& col, const PushOrigin& origin, const Commit& c) {
  if (col.sealed_since == 0) return false;
  if (origin.schema_version < col.sealed_since) return true;
  return origin.schema_since_seq > 0 && c.seq < origin.schema_since_seq;
}

constexpr const char* kRegistry[] = {
    "CREATE TABLE IF NOT EXISTS hub_meta(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS hub_provinces(code TEXT PRIMARY KEY NOT NULL, name TEXT NOT "
    "NULL, created_at INTEGER NOT NULL) WITHOUT ROWID",
    // Enrolment tokens: only a BLAKE2b hash of each is kept.
    "CREATE TABLE IF NOT EXISTS hub_tokens(hash BLOB PRIMARY KEY NOT NULL, province TEXT NOT "
    "NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER, used_by "
    "BLOB) WITHOUT ROWID",
    // Enrolled nodes: the hash of each credential secret, and sync state.
    "CREATE TABLE IF NOT EXISTS hub_nodes(device BLOB PRIMARY KEY NOT NULL, name TEXT NOT NULL, "
    "province TEXT NOT NULL, secret_hash BLOB NOT NULL, enrolled_at INTEGER NOT NULL, "
    "last_seen INTEGER NOT NULL DEFAULT 0, cursor INTEGER NOT NULL DEFAULT 0, protocol INTEGER "
    "NOT NULL DEFAULT 0, clock_skew INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER, "
    "sign_pk BLOB, box_pk BLOB, revoked_position INTEGER NOT NULL DEFAULT 0, delivered INTEGER "
    "NOT NULL DEFAULT 0) WITHOUT ROWID",
    // Key records (docs/CRYPTO.md): stored and relayed, never opened. seq
    // orders them for pulls; AUTOINCREMENT so that the seq of an erased
    // record is never reused.
    "CREATE TABLE IF NOT EXISTS hub_keys(seq INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB NOT "
    "NULL UNIQUE, kind INTEGER NOT NULL, province TEXT, keyring BLOB, signer BLOB NOT NULL, "
    "stored_at INTEGER NOT NULL, bytes BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS hub_keys_ring ON hub_keys(keyring)",
    // An office's membership records, read when its removals are computed
    // (hub/office_removals.h). Added after schema version 2; an index only.
    "CREATE INDEX IF NOT EXISTS hub_keys_office ON hub_keys(kind, province)",
    // Key rings erased (crypto-shredded): their data keys are refused.
    "CREATE TABLE IF NOT EXISTS hub_erased(keyring BLOB PRIMARY KEY, erased_at INTEGER NOT "
    "NULL, by_device BLOB NOT NULL) WITHOUT ROWID",
    // Deleted rows collected for good (their tombstones are gone).
    "CREATE TABLE IF NOT EXISTS hub_purged(tbl TEXT NOT NULL, row BLOB NOT NULL, position "
    "INTEGER NOT NULL, epoch INTEGER NOT NULL, shared INTEGER NOT NULL, provinces TEXT NOT "
    "NULL, PRIMARY KEY(tbl, row)) WITHOUT ROWID",
    // The administrators' audit trail, chained by hash (hub/audit.h).
    kAuditTableSql,
    kReferralStatusTableSql,
};

std::string Hash(std::string_view secret) {
  unsigned char out[32];
  crypto_generichash(out, sizeof(out), reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size(), nullptr, 0);
  return std::string(reinterpret_cast<const char*>(out), sizeof(out));
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string hex(2 * bytes + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                 raw.size());
  hex.pop_back();
  return hex;
}

// A rough size of a row on the wire, to keep messages well under the limit.
size_t ApproxSize(const RowSnapshot& r) {
  size_t n = 32 + r.table.size();
  for (const FieldState& f : r.fields) n += 48 + f.column.size() + f.value.str().size();
  for (const ConflictRecord& c : r.conflicts) n += 64 + c.column.size() + c.value.str().size();
  return n;
}

constexpr size_t kMaxChunkBytes = 4 << 20;
// hub.db schema versions: 1 as the sync, encryption and CLI issues left it
// (no version recorded); 2 adds hub_referral_status (issue 11).
constexpr int64_t kHubSchemaVersion = 2;
constexpr int kMaxConcurrentPulls = 64;

template <typename F>
absl::Status InTxn(sqlite::Db& db, F&& body) {
  FS_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  absl::Status s = body();
  if (!s.ok()) {
    db.Exec("ROLLBACK").IgnoreError();
    return s;
  }
  return db.Exec("COMMIT");
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteHubStore>> SqliteHubStore::Open(const std::string& path,
                                                                     ClockSource* clock) {
  std::unique_ptr<SqliteHubStore> s(
      new SqliteHubStore(path, clock != nullptr ? clock : SystemClock::Get()));
  FS_RETURN_IF_ERROR(s->Init());
  return s;
}

SqliteHubStore::~SqliteHubStore() = default;

absl::Status SqliteHubStore::Init() {
  ReplicaOptions o;
  o.path = path_;
  o.clock = clock_;
  FS_ASSIGN_OR_RETURN(writer_, Replica::Open(o));
  hub_id_ = writer_->device_id();
  FS_RETURN_IF_ERROR(InTxn(ReplicaInternal::HubStorageDb(*writer_), [&]() -> absl::Status {
    // The schema version of hub.db (docs/FORMATS.md, "Hub file"): 1 for a
    // hub made before it was recorded, migrated in place to the current.
    int64_t version = 0;
    {
      FS_RETURN_IF_ERROR(ReplicaInternal::HubStorageDb(*writer_).Exec(kRegistry[0]));  // hub_meta
      FS_ASSIGN_OR_RETURN(auto st, ReplicaInternal::HubStorageDb(*writer_).Prepared(
                                       "SELECT value FROM hub_meta WHERE key = 'schema_version'"));
      FS_ASSIGN_OR_RETURN(bool found, st->Step());
      if (found) version = st->ColumnInt(0);
    }
    bool existing = false;
    {
      FS_ASSIGN_OR_RETURN(auto any, ReplicaInternal::HubStorageDb(*writer_).Prepared(
                                        "SELECT 1 FROM sqlite_master WHERE name = 'hub_nodes'"));
      FS_ASSIGN_OR_RETURN(existing, any->Step());
    }
    if (version == 0) version = existing ? 1 : kHubSchemaVersion;
    if (version > kHubSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          path_, " is a hub database of schema version ", version, ", made by a newer fieldhub; "
          "this one reads up to version ", kHubSchemaVersion, ": upgrade fieldhub (nothing was "
          "changed)"));
    }
    for (const char* sql : kRegistry) FS_RETURN_IF_ERROR(ReplicaInternal::HubStorageDb(*writer_).Exec(sql));
  {
    // Added after the sync issue: hubs made before gain the column.
    FS_ASSIGN_OR_RETURN(auto cols, ReplicaInternal::HubStorageDb(*writer_).Prepared(
                                       "SELECT 1 FROM pragma_table_info('hub_nodes') WHERE name = "
                                       "'delivered'"));
    FS_ASSIGN_OR_RETURN(bool has, cols->Step());
    if (!has) {
      FS_RETURN_IF_ERROR(ReplicaInternal::HubStorageDb(*writer_).Exec(
          "ALTER TABLE hub_nodes ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0"));
    }
  }
    FS_RETURN_IF_ERROR(Scope::CreateTables(ReplicaInternal::HubStorageDb(*writer_)));
    if (version < 2) {
      // Version 2 (issue 11): the status versions of the referrals held,
      // so that the next answer to one is judged against its base.
      FS_ASSIGN_OR_RETURN(std::vector<RowId> refs, writer_->ListRows("referrals", true));
      const TableDef* t = writer_->schema().FindTable("referrals");
      const size_t col = static_cast<size_t>(t->ColumnIndex("status"));
      for (const RowId& ref : refs) {
        FS_ASSIGN_OR_RETURN(std::optional<Row> row, writer_->Get("referrals", ref));
        if (!row || !row->versions[col] || row->values[col].kind() != Value::Kind::kText) {
          continue;
        }
        FS_ASSIGN_OR_RETURN(auto ins, ReplicaInternal::HubStorageDb(*writer_).Prepared(
                                          "INSERT OR IGNORE INTO hub_referral_status(referral, "
                                          "hlc, device, status) VALUES (?1, ?2, ?3, ?4)"));
        ins->BindBlob(1, ref.view());
        ins->BindInt(2, static_cast<int64_t>(row->versions[col]->version.hlc.packed()));
        ins->BindBlob(3, row->versions[col]->version.device.view());
        ins->BindText(4, row->values[col].str());
        FS_RETURN_IF_ERROR(ins->Run());
      }
    }
    FS_ASSIGN_OR_RETURN(auto set, ReplicaInternal::HubStorageDb(*writer_).Prepared(
                                      "INSERT OR REPLACE INTO hub_meta(key, value) VALUES "
                                      "('schema_version', ?1)"));
    set->BindInt(1, kHubSchemaVersion);
    return set->Run();
  }));
  // Deleted key records are overwritten in the file, not merely unlinked.
  FS_RETURN_IF_ERROR(ReplicaInternal::HubStorageDb(*writer_).Exec("PRAGMA secure_delete = ON"));
  FS_ASSIGN_OR_RETURN(registry_, sqlite::Db::Open(path_, ""));
  FS_RETURN_IF_ERROR(
      registry_->Exec(absl::StrCat("PRAGMA busy_timeout = ", tuning::kBusyTimeoutMillis)));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Replica>> SqliteHubStore::TakeReader() {
  {
    std::lock_guard<std::mutex> l(readers_mu_);
    if (!readers_.empty()) {
      auto r = std::move(readers_.back());
      readers_.pop_back();
      return r;
    }
  }
  ReplicaOptions o;
  o.path = path_;
  o.clock = clock_;
  return Replica::Open(o);
}

void SqliteHubStore::ReturnReader(std::unique_ptr<Replica> r) {
  std::lock_guard<std::mutex> l(readers_mu_);
  if (readers_.size() < 16) readers_.push_back(std::move(r));
}

absl::StatusOr<int64_t> SqliteHubStore::LogHead() {
  std::lock_guard<std::mutex> l(write_mu_);
  return writer_->LogHead();
}

// ---------------------------------------------------------------------------
// Registry

absl::Status SqliteHubStore::AddProvince(const std::string& code, const std::string& name,
                                         const std::string& actor) {
  if (code.empty() || code.size() > 16 || code.find_first_of(" \t\n/") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "province code \"", code, "\" is not usable: 1 to 16 characters, no spaces (e.g. LC)"));
  }
  if (name.empty()) return absl::InvalidArgumentError("a province needs a name, e.g. \"Lào Cai\"");
  std::lock_guard<std::mutex> l(registry_mu_);
  const int64_t now = clock_->NowMillis();
  return InTxn(*registry_, [&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, registry_->Prepared("INSERT INTO hub_provinces(code, name, "
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
    return AppendHubAudit(*registry_, now, actor, kAuditProvinceAdd,
                          absl::StrCat("province ", code, " \"", name, "\""));
  });
}

absl::StatusOr<std::vector<Province>> SqliteHubStore::Provinces() {
  std::lock_guard<std::mutex> l(registry_mu_);
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

absl::StatusOr<EnrollToken> SqliteHubStore::MakeEnrollToken(const std::string& province,
                                                            int64_t valid_for_millis,
                                                            const std::string& actor) {
  if (valid_for_millis <= 0) {
    return absl::InvalidArgumentError("an enrolment token must be valid for some time, e.g. 24h");
  }
  std::lock_guard<std::mutex> l(registry_mu_);
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
  FS_RETURN_IF_ERROR(InTxn(*registry_, [&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, registry_->Prepared("INSERT INTO hub_tokens(hash, province, "
                                                     "created_at, expires_at) VALUES (?1, ?2, "
                                                     "?3, ?4)"));
    st->BindBlob(1, Hash(t.token));
    st->BindText(2, province);
    st->BindInt(3, now);
    st->BindInt(4, t.expires_at_millis);
    FS_RETURN_IF_ERROR(st->Run());
    // Never the token itself: whoever reads the trail must not be able to
    // enrol a device with it.
    return AppendHubAudit(*registry_, now, actor, kAuditTokenIssue,
                          absl::StrCat("token for province ", province, ", valid for ",
                                       FormatDurationMillis(valid_for_millis), " until ",
                                       FormatTimeMillis(t.expires_at_millis)));
  }));
  return t;
}

absl::StatusOr<std::vector<NodeInfo>> SqliteHubStore::Nodes() {
  std::lock_guard<std::mutex> l(registry_mu_);
  FS_ASSIGN_OR_RETURN(
      auto st,
      registry_->Prepared("SELECT n.device, n.name, n.province, n.enrolled_at, n.last_seen, "
                          "n.cursor, n.protocol, n.clock_skew, n.revoked_at, "
                          "coalesce(d.max_seq, 0), n.sign_pk, n.box_pk, n.revoked_position, n.delivered "
                          "FROM hub_nodes n LEFT JOIN _fs_devices d ON "
                          "d.id = n.device ORDER BY n.province, n.name, n.device"));
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
    n.acknowledged_seq = static_cast<uint64_t>(st->ColumnInt(9));
    n.keys.device = n.device;
    n.keys.sign_pk = st->ColumnString(10);
    n.keys.box_pk = st->ColumnString(11);
    n.revoked_position = st->ColumnInt(12);
    n.delivered = std::max(n.cursor, st->ColumnInt(13));
    out.push_back(std::move(n));
  }
  // What waits for each node: others' log entries of its province and of
  // the shared directory after its cursor (grants aside).
  FS_ASSIGN_OR_RETURN(auto pending,
                      registry_->Prepared("SELECT count(DISTINCT s.position) FROM hub_log_scope s "
                                          "JOIN _fs_log l ON l.pos = s.position JOIN _fs_devices "
                                          "d ON d.idx = l.device WHERE s.province IN (?1, '*') "
                                          "AND s.position > ?2 AND d.id != ?3"));
  for (NodeInfo& n : out) {
    FS_ASSIGN_OR_RETURN(std::optional<OfficeRemoval> removed,
                        RemovalOf(*registry_, n.province, n.device));
    if (removed) n.removed_by_office_at_millis = std::max<int64_t>(removed->stored_at_millis, 1);
    pending->Reset();
    pending->BindText(1, n.province);
    pending->BindInt(2, n.delivered);
    pending->BindBlob(3, n.device.view());
    FS_ASSIGN_OR_RETURN(bool r, pending->Step());
    n.pending = r ? static_cast<uint64_t>(pending->ColumnInt(0)) : 0;
  }
  return out;
}

absl::Status SqliteHubStore::RevokeNode(const DeviceId& device, const std::string& actor) {
  // Under the writer's lock: no push of the device can be half-way through
  // storing while its revocation position is taken (Push re-checks).
  std::lock_guard<std::mutex> w(write_mu_);
  std::lock_guard<std::mutex> l(registry_mu_);
  const int64_t now = clock_->NowMillis();
  absl::Status s = InTxn(*registry_, [&]() -> absl::Status {
    std::string name, province;
    {
      FS_ASSIGN_OR_RETURN(auto n, registry_->Prepared("SELECT name, province, revoked_at FROM "
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
    // The log head at revocation: commits of the device the hub stored
    // before stay valid for nodes; anything later in the log is refused.
    FS_ASSIGN_OR_RETURN(auto head,
                        registry_->Prepared("SELECT coalesce(max(pos), 0) FROM _fs_log"));
    FS_ASSIGN_OR_RETURN(bool any, head->Step());
    const int64_t position = any ? head->ColumnInt(0) : 0;
    head->Reset();
    FS_ASSIGN_OR_RETURN(auto st, registry_->Prepared("UPDATE hub_nodes SET revoked_at = ?2, "
                                                     "revoked_position = ?3 WHERE device = ?1 "
                                                     "AND revoked_at IS NULL"));
    st->BindBlob(1, device.view());
    st->BindInt(2, now);
    st->BindInt(3, position);
    FS_RETURN_IF_ERROR(st->Run());
    return AppendHubAudit(*registry_, now, actor, kAuditRevoke,
                          absl::StrCat("device ", device.ToString(), " \"", name,
                                       "\" of province ", province,
                                       " revoked at log position ", position));
  });
  // A revocation can change an office's root here (hub/office_removals.h).
  ForgetRemovals("");
  return s;
}

absl::StatusOr<HubAuditTrail> SqliteHubStore::AuditTrail() {
  std::lock_guard<std::mutex> l(registry_mu_);
  return ReadHubAudit(*registry_);
}

absl::StatusOr<Enrolment> SqliteHubStore::Enroll(const std::string& token,
                                                 const DeviceId& device,
                                                 const std::string& name,
                                                 const crypto::DevicePublic& keys,
                                                 bool proven) {
  if (device.is_nil()) return absl::InvalidArgumentError("enrolment names no device id");
  if (keys.device != device) return absl::InvalidArgumentError("keys of another device");
  if (absl::Status s = crypto::CheckDevicePublic(keys); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        s.message(), ": the enrolment must carry the device's public keys (is the node older "
                     "than protocol version 2? upgrade it)"));
  }
  std::lock_guard<std::mutex> l(registry_mu_);
  Enrolment e;
  const int64_t now = clock_->NowMillis();
  FS_RETURN_IF_ERROR(InTxn(*registry_, [&]() -> absl::Status {
    int64_t expires = 0;
    bool used = false;
    bool used_by_this_device = false;
    {
      FS_ASSIGN_OR_RETURN(auto t, registry_->Prepared("SELECT province, expires_at, used_at, "
                                                      "used_by FROM hub_tokens WHERE hash = ?1"));
      t->BindBlob(1, Hash(token));
      FS_ASSIGN_OR_RETURN(bool found, t->Step());
      if (!found) {
        return absl::PermissionDeniedError(
            "this enrolment token is not known to the hub: check it was copied whole, or ask "
            "the hub administrator for a new one (fieldhub enroll-token)");
      }
      e.province = t->ColumnString(0);
      expires = t->ColumnInt(1);
      used = !t->ColumnIsNull(2);
      used_by_this_device = used && t->ColumnBlob(3) == device.view();
    }
    // The same device retrying with its token (the answer was lost on the
    // way, or the node crashed before saving it) is enrolled again below,
    // with a new secret; anyone else is refused.
    if (used && !used_by_this_device) {
      return absl::PermissionDeniedError(
          "this enrolment token was already used (each token enrols one device once): ask the "
          "hub administrator for a new one");
    }
    if (expires <= now) {
      return absl::PermissionDeniedError(
          "this enrolment token has expired: ask the hub administrator for a new one "
          "(fieldhub enroll-token --province CODE --valid-for 24h)");
    }
    bool enrolled = false;
    bool same_keys = false;
    {
      FS_ASSIGN_OR_RETURN(auto d, registry_->Prepared("SELECT revoked_at, province, sign_pk, "
                                                      "box_pk FROM hub_nodes WHERE device = ?1"));
      d->BindBlob(1, device.view());
      FS_ASSIGN_OR_RETURN(enrolled, d->Step());
      if (enrolled && !d->ColumnIsNull(0)) {
        return absl::PermissionDeniedError(absl::StrCat(
            "device ", device.ToString(),
            " was revoked at this hub and stays revoked; a replacement needs a new replica "
            "(fieldnode init) and a new token"));
      }
      if (enrolled && d->ColumnString(1) != e.province) {
        return absl::FailedPreconditionError(absl::StrCat(
            "device ", device.ToString(), " is enrolled for province ", d->ColumnString(1),
            " and this token is for ", e.province,
            "; a replica belongs to one province: use a token of its province"));
      }
      // A device's keys are registered once (issue 11: a device id is public
      // and a used token stays valid for its device's retries, so a retry
      // with other keys would be a takeover). NULL keys (enrolled before
      // protocol version 2) match nothing.
      same_keys = enrolled && !d->ColumnIsNull(2) && !d->ColumnIsNull(3) &&
                  d->ColumnString(2) == keys.sign_pk && d->ColumnString(3) == keys.box_pk;
    }
    if (enrolled && !same_keys) {
      return absl::PermissionDeniedError(absl::StrCat(
          "device ", device.ToString(),
          " is enrolled at this hub with other public keys, and a device's keys never change; "
          "nothing was changed. A lost answer is retried from the same keystore; a new "
          "keystore needs a new replica (fieldnode init) and a new token"));
    }
    // Only the retry of this token by this device re-enrols an enrolled
    // device: anyone else holding a token could otherwise take over a
    // colleague's device id (ids are in every commit), and a replica
    // restored from a backup would reuse sequence numbers the hub holds.
    if (enrolled && !used_by_this_device) {
      return absl::AlreadyExistsError(absl::StrCat(
          "device ", device.ToString(),
          " is already enrolled at this hub; its credential is in its data directory. If that "
          "was lost, or the replica was restored from a backup, make a new replica (fieldnode "
          "init) and enrol it with a new token"));
    }
    // The retry replaces the credential, so it must come from the device's
    // own keystore: its id, its keys and (often) its used token are no
    // secret, and anyone holding them would otherwise lock it out.
    if (enrolled && !proven) {
      return absl::PermissionDeniedError(absl::StrCat(
          "device ", device.ToString(), " is enrolled at this hub already; enrolling it again "
          "(an answer that was lost) needs proof that the request comes from its own keystore, "
          "which fieldnode enroll of this version sends: run it again from the device's data "
          "directory (upgrade fieldnode if it is older). Nothing was changed"));
    }
    // The retry gets a new secret: the old credential stops working.
    e.secret.resize(32);
    randombytes_buf(e.secret.data(), e.secret.size());
    FS_ASSIGN_OR_RETURN(auto ins, registry_->Prepared(
                                      "INSERT INTO hub_nodes(device, name, province, "
                                      "secret_hash, enrolled_at, sign_pk, box_pk) VALUES (?1, ?2, "
                                      "?3, ?4, ?5, ?6, ?7) ON CONFLICT(device) DO UPDATE SET "
                                      "secret_hash = excluded.secret_hash, name = excluded.name"));
    ins->BindBlob(1, device.view());
    ins->BindText(2, name);
    ins->BindText(3, e.province);
    ins->BindBlob(4, Hash(e.secret));
    ins->BindInt(5, now);
    ins->BindBlob(6, keys.sign_pk);
    ins->BindBlob(7, keys.box_pk);
    FS_RETURN_IF_ERROR(ins->Run());
    FS_RETURN_IF_ERROR(AppendHubAudit(
        *registry_, now, device.ToString(), kAuditEnrol,
        absl::StrCat(enrolled ? "re-enrolled (a retry with its token, new credential): " : "",
                     "device ", device.ToString(), " \"", name, "\" for province ",
                     e.province, ", key fingerprint ", crypto::Fingerprint(keys))));
    FS_ASSIGN_OR_RETURN(auto use, registry_->Prepared("UPDATE hub_tokens SET used_at = ?2, "
                                                      "used_by = ?3 WHERE hash = ?1"));
    use->BindBlob(1, Hash(token));
    use->BindInt(2, now);
    use->BindBlob(3, device.view());
    return use->Run();
  }));
  return e;
}

absl::StatusOr<NodeInfo> SqliteHubStore::LoadNode(const DeviceId& device) {
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

namespace {

// Every enrolled device with its public keys, as nodes verify against it.
absl::StatusOr<std::vector<RegisteredDevice>> ReadRegistry(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared(
                                   "SELECT device, name, province, sign_pk, box_pk, revoked_at, "
                                   "revoked_position FROM hub_nodes WHERE sign_pk IS NOT NULL "
                                   "ORDER BY device"));
  std::vector<RegisteredDevice> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    RegisteredDevice d;
    FS_ASSIGN_OR_RETURN(d.keys.device, Id16::FromBytes(st->ColumnBlob(0), "node device"));
    d.name = st->ColumnString(1);
    d.province = st->ColumnString(2);
    d.keys.sign_pk = st->ColumnString(3);
    d.keys.box_pk = st->ColumnString(4);
    if (!st->ColumnIsNull(5)) {
      d.revoked_at_millis = st->ColumnInt(5);
      d.revoked_position = st->ColumnInt(6);
    }
    out.push_back(std::move(d));
  }
  return out;
}

// For the audit trail: "cases row", "persons row", ... of a key ring.
absl::StatusOr<std::string> RingTable(sqlite::Db& db, const RowId& ring) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT tbl FROM hub_row_scope WHERE row = ?1 AND "
                                           "tbl IN ('cases', 'persons', 'contacts', "
                                           "'services')"));
  st->BindBlob(1, ring.view());
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  return found ? absl::StrCat(st->ColumnString(0), " row") : std::string("key ring");
}

}  // namespace

absl::StatusOr<std::vector<RegisteredDevice>> SqliteHubStore::Registry() {
  std::lock_guard<std::mutex> l(registry_mu_);
  return ReadRegistry(*registry_);
}

absl::StatusOr<NodeInfo> SqliteHubStore::Authenticate(const DeviceId& device,
                                                      const std::string& secret) {
  std::lock_guard<std::mutex> l(registry_mu_);
  FS_ASSIGN_OR_RETURN(NodeInfo n, LoadNode(device));
  FS_ASSIGN_OR_RETURN(auto st, registry_->Prepared("SELECT secret_hash FROM hub_nodes WHERE "
                                                   "device = ?1"));
  st->BindBlob(1, device.view());
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  const std::string want = found ? st->ColumnString(0) : std::string();
  const std::string got = Hash(secret);
  if (want.size() != got.size() ||
      sodium_memcmp(want.data(), got.data(), got.size()) != 0) {
    return absl::UnauthenticatedError(
        "the node's credential was not accepted by the hub: its credential file is damaged or "
        "belongs to another hub; enrol again with a new token");
  }
  if (n.revoked) {
    return absl::PermissionDeniedError(absl::StrCat(
        "device ", device.ToString(),
        " was revoked by the hub administrator; it can no longer sync. If this is a mistake, "
        "ask the administrator; a replacement device needs a new enrolment token"));
  }
  // Removed by its office's signed records: refused as a revocation is,
  // without waiting for the administrator.
  FS_ASSIGN_OR_RETURN(std::optional<OfficeRemoval> removed,
                      RemovalOf(*registry_, n.province, device));
  if (removed) return absl::PermissionDeniedError(RemovedMessage(device, n.province, *removed));
  return n;
}

absl::StatusOr<std::optional<OfficeRemoval>> SqliteHubStore::RemovalOf(
    sqlite::Db& db, const std::string& province, const DeviceId& device) {
  std::shared_ptr<const OfficeRemovals> office;
  uint64_t version = 0;
  {
    std::lock_guard<std::mutex> l(removals_mu_);
    auto it = removals_.find(province);
    if (it != removals_.end()) office = it->second;
    version = removals_version_;
  }
  if (!office) {
    FS_ASSIGN_OR_RETURN(OfficeRemovals computed, ComputeOfficeRemovals(db, province));
    office = std::make_shared<const OfficeRemovals>(std::move(computed));
    std::lock_guard<std::mutex> l(removals_mu_);
    // Kept only if nothing was dropped meanwhile: the records read may
    // predate a membership record stored since.
    if (removals_version_ == version) removals_[province] = office;
  }
  auto it = office->removed.find(device);
  if (it == office->removed.end()) return std::nullopt;
  return it->second;
}

void SqliteHubStore::ForgetRemovals(const std::string& province) {
  std::lock_guard<std::mutex> l(removals_mu_);
  ++removals_version_;
  if (province.empty()) {
    removals_.clear();
  } else {
    removals_.erase(province);
  }
}

absl::Status SqliteHubStore::RecordDelivered(const DeviceId& device, int64_t position) {
  std::lock_guard<std::mutex> l(registry_mu_);
  FS_ASSIGN_OR_RETURN(auto st, registry_->Prepared("UPDATE hub_nodes SET delivered = max(delivered, "
                                                   "?2) WHERE device = ?1"));
  st->BindBlob(1, device.view());
  st->BindInt(2, position);
  return st->Run();
}

absl::Status SqliteHubStore::RecordCall(const DeviceId& device, int protocol_version,
                                        std::optional<int64_t> clock_skew_millis,
                                        std::optional<int64_t> cursor) {
  std::lock_guard<std::mutex> l(registry_mu_);
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

// ---------------------------------------------------------------------------
// Sync

absl::StatusOr<bool> SqliteHubStore::StoreKeyRecords(
    const NodeInfo& node, const std::vector<crypto::KeyRecord>& records) {
  sqlite::Db& db = ReplicaInternal::HubStorageDb(*writer_);
  bool erased_any = false;
  for (const crypto::KeyRecord& r : records) {
    bool erased_now = false;
    const bool ringed = r.kind == crypto::KeyRecordKind::kDataKey ||
                        r.kind == crypto::KeyRecordKind::kOfficeDataKey;
    if (r.kind == crypto::KeyRecordKind::kOfficeShare) {
      FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT 1 FROM hub_nodes WHERE device = ?1 AND "
                                               "province = ?2 AND revoked_at IS NULL"));
      st->BindBlob(1, r.recipient.view());
      st->BindText(2, r.province);
      FS_ASSIGN_OR_RETURN(bool member, st->Step());
      if (!member) {
        return absl::PermissionDeniedError(absl::StrCat(
            r.Describe(), ": shared with device ", r.recipient.ToString(),
            ", which is not an active device of that office; nothing of the push was stored"));
      }
    }
    if (r.kind == crypto::KeyRecordKind::kMembership) {
      // The subject must be a device of the office (the laptops decide
      // membership from the signatures; the hub only keeps nonsense out).
      FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT 1 FROM hub_nodes WHERE device = ?1 AND "
                                               "province = ?2"));
      st->BindBlob(1, r.subject.device.view());
      st->BindText(2, r.province);
      FS_ASSIGN_OR_RETURN(bool known, st->Step());
      if (!known) {
        return absl::PermissionDeniedError(absl::StrCat(
            r.Describe(), ": device ", r.subject.device.ToString(), " is not a device of office ",
            r.province, "; nothing of the push was stored"));
      }
    }
    if (r.kind == crypto::KeyRecordKind::kDataKey) {
      // A grant only from an office that sees the record it is for (its
      // owner, or an office it was referred to): no other office may choose
      // the keys of someone else's case.
      // (A referral is its own key ring for its letter: schema version 4.)
      FS_ASSIGN_OR_RETURN(auto row, db.Prepared("SELECT tbl FROM hub_row_scope WHERE row = ?1 AND "
                                                "tbl IN ('cases', 'persons', 'contacts', "
                                                "'services', 'referrals')"));
      row->BindBlob(1, r.keyring.view());
      FS_ASSIGN_OR_RETURN(bool known, row->Step());
      const std::string table = known ? row->ColumnString(0) : std::string();
      row->Reset();
      bool visible = false;
      if (known) {
        Scope scope(db);
        FS_ASSIGN_OR_RETURN(visible, scope.Visible(node.province, table, r.keyring));
      }
      if (!visible) {
        return absl::PermissionDeniedError(absl::StrCat(
            r.Describe(), ": office ", node.province, " does not see the record it is for",
            known ? "" : " (the hub does not hold it)", "; nothing of the push was stored"));
      }
      FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT 1 FROM hub_provinces WHERE code = ?1"));
      st->BindText(1, r.province);
      FS_ASSIGN_OR_RETURN(bool office_known, st->Step());
      if (!office_known) {
        return absl::PermissionDeniedError(absl::StrCat(
            r.Describe(), ": no such office; nothing of the push was stored"));
      }
    }
    if (ringed || r.kind == crypto::KeyRecordKind::kErasure) {
      FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT 1 FROM hub_erased WHERE keyring = ?1"));
      st->BindBlob(1, r.keyring.view());
      FS_ASSIGN_OR_RETURN(bool erased, st->Step());
      if (erased && ringed) {
        return absl::PermissionDeniedError(absl::StrCat(
            r.Describe(), ": the keys of this case were erased and may not be made again; "
            "nothing of the push was stored"));
      }
      if (erased) continue;  // erased already: the order is held
    }
    if (r.kind == crypto::KeyRecordKind::kErasure) {
      // A referral's letter ring (schema version 4) is its case's owner's.
      FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT CASE WHEN s.tbl = 'referrals' THEN c.owner "
                                               "ELSE s.owner END FROM hub_row_scope s LEFT JOIN "
                                               "hub_row_scope c ON c.tbl = 'cases' AND c.row = "
                                               "s.case_id WHERE s.row = ?1 AND s.tbl IN ('cases', "
                                               "'persons', 'contacts', 'services', 'referrals')"));
      st->BindBlob(1, r.keyring.view());
      FS_ASSIGN_OR_RETURN(bool found, st->Step());
      if (!found || st->ColumnString(0) != node.province) {
        return absl::PermissionDeniedError(absl::StrCat(
            "erasure of ", r.keyring.ToString(), ": only a device of the office that owns the "
            "record may erase it", found ? "" : " (the hub does not hold it: sync it first)",
            "; nothing of the push was stored"));
      }
      st->Reset();
      FS_ASSIGN_OR_RETURN(auto del, db.Prepared("DELETE FROM hub_keys WHERE keyring = ?1 AND "
                                                "kind IN (3, 5)"));
      del->BindBlob(1, r.keyring.view());
      FS_RETURN_IF_ERROR(del->Run());
      FS_ASSIGN_OR_RETURN(auto ins, db.Prepared("INSERT INTO hub_erased(keyring, erased_at, "
                                                "by_device) VALUES (?1, ?2, ?3)"));
      ins->BindBlob(1, r.keyring.view());
      ins->BindInt(2, clock_->NowMillis());
      ins->BindBlob(3, node.device.view());
      FS_RETURN_IF_ERROR(ins->Run());
      erased_any = true;
      erased_now = true;
    }
    FS_ASSIGN_OR_RETURN(auto ins, db.Prepared("INSERT OR IGNORE INTO hub_keys(id, kind, province, "
                                              "keyring, signer, stored_at, bytes) VALUES (?1, "
                                              "?2, ?3, ?4, ?5, ?6, ?7)"));
    ins->BindBlob(1, r.Id());
    ins->BindInt(2, static_cast<int64_t>(r.kind));
    if (!r.province.empty()) ins->BindText(3, r.province);
    if (ringed || r.kind == crypto::KeyRecordKind::kErasure) ins->BindBlob(4, r.keyring.view());
    ins->BindBlob(5, r.signer.view());
    ins->BindInt(6, clock_->NowMillis());
    ins->BindBlob(7, r.bytes);
    FS_RETURN_IF_ERROR(ins->Run());
    const bool stored = db.Changes() > 0;
    // Audited once, when first stored (a push sent again is not a new act).
    if (stored && r.kind == crypto::KeyRecordKind::kDataKey) {
      FS_ASSIGN_OR_RETURN(std::string table, RingTable(db, r.keyring));
      FS_RETURN_IF_ERROR(AppendHubAudit(
          db, clock_->NowMillis(), node.device.ToString(), kAuditGrant,
          absl::StrCat("data key of ", table, " ", r.keyring.ToString(), " version ",
                       r.key_version, " granted from office ", node.province, " to office ",
                       r.province, " (",
                       r.purpose == crypto::DataKeyPurpose::kReferral ? "referral" : "owner",
                       "), by device \"", node.name, "\"")));
    }
    if (stored && r.kind == crypto::KeyRecordKind::kMembership) {
      FS_RETURN_IF_ERROR(AppendHubAudit(
          db, clock_->NowMillis(), node.device.ToString(), kAuditMembership,
          absl::StrCat(std::string(crypto::MembershipActionName(r.action)), " of device ",
                       r.subject.device.ToString(), " in office ", r.province,
                       ", signed by device \"", node.name, "\"")));
    }
    if (erased_now) {
      FS_ASSIGN_OR_RETURN(std::string table, RingTable(db, r.keyring));
      FS_RETURN_IF_ERROR(AppendHubAudit(
          db, clock_->NowMillis(), node.device.ToString(), kAuditErasure,
          absl::StrCat("every key of ", table, " ", r.keyring.ToString(), " of office ",
                       node.province, " erased, by device \"", node.name, "\"")));
    }
  }
  return erased_any;
}

absl::StatusOr<PushOutcome> SqliteHubStore::Push(const NodeInfo& node, const PushOrigin& origin,
                                                 const std::vector<PushedCommit>& encoded,
                                                 const std::vector<std::string>& key_records) {
  std::vector<Commit> commits;
  commits.reserve(encoded.size());
  const Schema& schema = writer_->schema();
  for (size_t i = 0; i < encoded.size(); ++i) {
    absl::StatusOr<Commit> c = DecodeCommit(encoded[i].canonical);
    if (!c.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("commit ", i, " of ", encoded.size(),
                                                     " is malformed, nothing of the batch was "
                                                     "stored: ", c.status().message()));
    }
    if (c->author != node.device) {
      return absl::PermissionDeniedError(absl::StrCat(
          "commit ", i, " of ", encoded.size(), " (", c->Name(),
          ") was not written by this node (", node.device.ToString(),
          "): a node pushes only its own commits; nothing of the batch was stored"));
    }
    c->signature = encoded[i].signature;
    if (!crypto_checks_) {
      commits.push_back(*std::move(c));
      continue;
    }
    if (absl::Status v = crypto::VerifyCommitSignature(*c, node.keys.sign_pk); !v.ok()) {
      return absl::UnauthenticatedError(absl::StrCat(
          "commit ", i, " of ", encoded.size(), ": ", v.message(),
          "; nothing of the batch was stored"));
    }
    // Sensitive fields travel sealed: a clear value is refused without
    // being repeated in the message (it would land in the hub's log).
    for (const RowChange& rc : c->changes) {
      const TableDef* t = schema.FindTable(rc.table);
      if (t == nullptr) continue;  // ValidateCommit names it
      for (const FieldWrite& f : rc.fields) {
        const ColumnDef* col = t->FindColumn(f.column);
        if (col == nullptr || col->sensitivity != Sensitivity::kSensitive || f.value.is_null() ||
            LegacyClearAllowed(*col, origin, *c)) {
          continue;
        }
        if (f.value.kind() != Value::Kind::kBytes || !crypto::LooksSealed(f.value.str())) {
          return absl::InvalidArgumentError(absl::StrCat(
              "commit ", c->Name(), " writes ", rc.table, ".", f.column,
              " in clear; sensitive fields must be sealed on the node before they are sent "
              "(unlock the node's keystore; upgrade an old node). Nothing of the batch was "
              "stored"));
        }
      }
    }
    commits.push_back(*std::move(c));
  }
  std::vector<crypto::KeyRecord> records;
  records.reserve(key_records.size());
  for (size_t i = 0; i < key_records.size(); ++i) {
    absl::StatusOr<crypto::KeyRecord> r = crypto::ParseKeyRecord(key_records[i]);
    if (!r.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("key record ", i, " of ", key_records.size(),
                                                     ": ", r.status().message(),
                                                     "; nothing of the push was stored"));
    }
    if (r->signer != node.device) {
      return absl::PermissionDeniedError(absl::StrCat(
          "key record ", i, " (", r->Describe(), ") was not made by this node; nothing of the "
          "push was stored"));
    }
    if (absl::Status v = crypto::VerifyKeyRecord(*r, node.keys); !v.ok()) {
      return absl::UnauthenticatedError(absl::StrCat(v.message(), "; nothing of the push was "
                                                                  "stored"));
    }
    const bool office_bound = r->kind == crypto::KeyRecordKind::kOfficeKey ||
                              r->kind == crypto::KeyRecordKind::kOfficeShare ||
                              r->kind == crypto::KeyRecordKind::kOfficeDataKey ||
                              r->kind == crypto::KeyRecordKind::kMembership;
    if (office_bound && r->province != node.province) {
      return absl::PermissionDeniedError(absl::StrCat(
          r->Describe(), ": a node of office ", node.province, " may make keys of its own office "
          "only; nothing of the push was stored"));
    }
    records.push_back(*std::move(r));
  }
  PushOutcome out;
  {
    std::lock_guard<std::mutex> l(write_mu_);
    {
      // Revoked since the call was authenticated: nothing of it may land
      // after the revocation's position in the log.
      FS_ASSIGN_OR_RETURN(auto st, ReplicaInternal::HubStorageDb(*writer_).Prepared(
                                       "SELECT revoked_at FROM hub_nodes WHERE device = ?1"));
      st->BindBlob(1, node.device.view());
      FS_ASSIGN_OR_RETURN(bool found, st->Step());
      if (!found || !st->ColumnIsNull(0)) {
        return absl::PermissionDeniedError(absl::StrCat(
            "device ", node.device.ToString(), " was revoked by the hub administrator; "
            "nothing of the push was stored"));
      }
    }
    {
      // Removed by its office since the call was authenticated: nothing of
      // it is stored either, its membership records least of all (a
      // removed laptop must not remove others).
      FS_ASSIGN_OR_RETURN(std::optional<OfficeRemoval> removed,
                          RemovalOf(ReplicaInternal::HubStorageDb(*writer_), node.province, node.device));
      if (removed) {
        return absl::PermissionDeniedError(RemovedMessage(node.device, node.province, *removed));
      }
    }
    Scope scope(ReplicaInternal::HubStorageDb(*writer_));
    FS_ASSIGN_OR_RETURN(int64_t horizon, GcHorizon(ReplicaInternal::HubStorageDb(*writer_)));
    ApplyHooks hooks;
    hooks.before = [&](const Commit& c) -> absl::Status {
      if (horizon > 0) {
        for (const RowChange& rc : c.changes) {
          FS_ASSIGN_OR_RETURN(auto st, ReplicaInternal::HubStorageDb(*writer_).Prepared(
                                           "SELECT 1 FROM hub_purged WHERE tbl = ?1 AND row = ?2"));
          st->BindText(1, rc.table);
          st->BindBlob(2, rc.row.view());
          FS_ASSIGN_OR_RETURN(bool purged, st->Step());
          if (purged) {
            return absl::PermissionDeniedError(absl::StrCat(
                "commit ", c.Name(), " writes ", rc.table, " row ", rc.row.ToString(),
                ", which was deleted and then collected by the hub: it may no longer be "
                "written. Nothing of the batch was stored"));
          }
        }
      }
      // A field sealed only when its row is restricted must be sealed if
      // the row is restricted once this commit is applied (a concurrent
      // write from a device that had not seen the restriction yet).
      if (crypto_checks_) {
        for (const RowChange& rc : c.changes) {
          const TableDef* t = schema.FindTable(rc.table);
          if (t == nullptr || t->FindColumn("restriction") == nullptr) continue;
          const FieldWrite* clear = nullptr;
          std::optional<bool> restricted;
          for (const FieldWrite& f : rc.fields) {
            if (f.column == "restriction") {
              restricted = f.value.kind() == Value::Kind::kText && f.value.str() == "restricted";
            }
            const ColumnDef* col = t->FindColumn(f.column);
            if (col != nullptr && col->sensitivity == Sensitivity::kSensitiveWhenRestricted &&
                !LegacyClearAllowed(*col, origin, c) && !f.value.is_null() &&
                !(f.value.kind() == Value::Kind::kBytes && crypto::LooksSealed(f.value.str()))) {
              clear = &f;
            }
          }
          if (clear == nullptr) continue;
          if (!restricted) {
            FS_ASSIGN_OR_RETURN(auto st, ReplicaInternal::HubStorageDb(*writer_).Prepared(
                                             "SELECT restricted FROM hub_row_scope WHERE tbl = ?1 "
                                             "AND row = ?2"));
            st->BindText(1, rc.table);
            st->BindBlob(2, rc.row.view());
            FS_ASSIGN_OR_RETURN(bool found, st->Step());
            restricted = found && st->ColumnInt(0) != 0;
          }
          if (*restricted) {
            return absl::InvalidArgumentError(absl::StrCat(
                "commit ", c.Name(), " writes ", rc.table, ".", clear->column, " in clear, but ",
                rc.table, " row ", rc.row.ToString(), " is restricted: that field must be "
                "sealed (write it again now that the restriction is known). Nothing of the "
                "batch was stored"));
          }
        }
      }
      FS_RETURN_IF_ERROR(scope.CheckWritable(node.province, c));
      return CheckReferralChanges(*writer_, node.province, c);
    };
    hooks.after = [&](const Commit& c, int64_t position) -> absl::Status {
      FS_RETURN_IF_ERROR(scope.Record(c, position));
      return RecordReferralStatus(*writer_, c);
    };
    bool erased_any = false;
    hooks.at_end = [&]() -> absl::Status {
      FS_ASSIGN_OR_RETURN(erased_any, StoreKeyRecords(node, records));
      return absl::OkStatus();
    };
    FS_ASSIGN_OR_RETURN(ApplyResult r, writer_->Apply(commits, std::nullopt, &hooks));
    // Stored (or held already): the office's removals are computed again.
    for (const crypto::KeyRecord& k : records) {
      if (k.kind == crypto::KeyRecordKind::kMembership) {
        ForgetRemovals(node.province);
        break;
      }
    }
    if (erased_any) ReplicaInternal::HubStorageDb(*writer_).Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError();
    out.applied = static_cast<uint32_t>(r.applied);
    out.duplicates = static_cast<uint32_t>(r.duplicates);
    FS_ASSIGN_OR_RETURN(out.log_head, writer_->LogHead());
    FS_ASSIGN_OR_RETURN(auto st,
                        ReplicaInternal::HubStorageDb(*writer_).Prepared("SELECT max_seq FROM _fs_devices WHERE id = ?1"));
    st->BindBlob(1, node.device.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    out.acknowledged_seq = found ? static_cast<uint64_t>(st->ColumnInt(0)) : 0;
    if (r.deferred > 0 && r.applied == 0) {
      // Nothing could be stored: the first commit depends on one the hub
      // does not hold. Sending it again would not help.
      return absl::FailedPreconditionError(absl::StrCat(
          "the hub cannot store commit ", commits.front().Name(),
          ": it depends on commits the hub does not hold (the hub holds this node's commits up "
          "to ", out.acknowledged_seq,
          "). Was the hub restored from an older backup? Ask the hub administrator"));
    }
  }
  return out;
}

absl::StatusOr<int64_t> SqliteHubStore::GcHorizon(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT value FROM hub_meta WHERE key = 'gc_horizon'"));
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  return r ? st->ColumnInt(0) : int64_t{0};
}

absl::StatusOr<uint64_t> SqliteHubStore::GcEpoch(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT value FROM hub_meta WHERE key = 'gc_epoch'"));
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  return r ? static_cast<uint64_t>(st->ColumnInt(0)) : uint64_t{0};
}

absl::Status SqliteHubStore::Pull(const NodeInfo& node, const PullParams& params,
                                  const std::function<bool(PullChunk&)>& emit) {
  const int64_t cursor = params.cursor;
  const bool bootstrapped = params.bootstrapped;
  const uint64_t gc_epoch = params.gc_epoch;
  const size_t max_batch = params.max_batch;
  if (cursor < 0) {
    return absl::InvalidArgumentError(absl::StrCat("cursor ", cursor, " is negative"));
  }
  // Each pull holds a connection and a read transaction: bounded.
  struct Slot {
    std::atomic<int>& n;
    ~Slot() { --n; }
  };
  if (++active_pulls_ > kMaxConcurrentPulls) {
    --active_pulls_;
    return absl::UnavailableError(absl::StrCat("the hub is serving ", kMaxConcurrentPulls,
                                               " pulls at once; the node tries again shortly"));
  }
  Slot slot{active_pulls_};
  FS_ASSIGN_OR_RETURN(std::unique_ptr<Replica> reader, TakeReader());
  Replica& rep = *reader;
  bool cancelled = false;
  absl::Status s = rep.ReadTransaction([&]() -> absl::Status {
    Scope scope(ReplicaInternal::HubStorageDb(rep));
    FS_ASSIGN_OR_RETURN(const int64_t head, rep.LogHead());
    FS_ASSIGN_OR_RETURN(const int64_t horizon, GcHorizon(ReplicaInternal::HubStorageDb(rep)));
    FS_ASSIGN_OR_RETURN(const uint64_t epoch, GcEpoch(ReplicaInternal::HubStorageDb(rep)));
    auto send = [&](PullChunk& chunk) -> absl::Status {
      chunk.log_head = head;
      chunk.gc_epoch = epoch;
      if (!emit(chunk)) {
        cancelled = true;
        return absl::CancelledError("the node went away during the pull");
      }
      chunk = PullChunk{};
      return absl::OkStatus();
    };
    PullChunk chunk;
    size_t bytes = 0;
    auto full = [&]() {
      return chunk.rows.size() + chunk.commits.size() >= max_batch || bytes >= kMaxChunkBytes;
    };
    // Sends what the chunk holds first if `more` bytes would take it past
    // the size a message should have (a message must stay under 16 MiB).
    auto make_room = [&](size_t more, int64_t cursor_so_far) -> absl::Status {
      if (chunk.rows.empty() && chunk.commits.empty()) return absl::OkStatus();
      if (bytes + more <= kMaxChunkBytes) return absl::OkStatus();
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
      FS_ASSIGN_OR_RETURN(auto keys, ReplicaInternal::HubStorageDb(rep).Prepared(
                                         "SELECT k.seq, k.bytes, k.kind, k.province, s.tbl, "
                                         "k.keyring FROM hub_keys k LEFT JOIN hub_row_scope s ON "
                                         "k.kind = 3 AND s.row = k.keyring AND s.tbl IN ('cases', "
                                         "'persons', 'contacts', 'services', 'referrals') WHERE "
                                         "k.seq > ?1 AND (k.kind IN (1, 3, 4, 6) OR k.province = "
                                         "?2) ORDER BY k.seq"));
      keys->BindInt(1, params.key_cursor);
      keys->BindText(2, node.province);
      // The registry, in the same snapshot as the key records: every signer
      // of a record sent is in it. Sent when the node's copy differs.
      FS_ASSIGN_OR_RETURN(std::vector<RegisteredDevice> registry, ReadRegistry(ReplicaInternal::HubStorageDb(rep)));
      if (RegistryDigest(registry) != params.registry_digest) {
        chunk.registry_included = true;
        chunk.registry = registry;
      }
      constexpr size_t kKeysPerMessage = 5000;
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, keys->Step());
        if (!r) break;
        chunk.key_cursor = keys->ColumnInt(0);
        if (keys->ColumnInt(2) == static_cast<int>(crypto::KeyRecordKind::kDataKey) &&
            keys->ColumnString(3) != node.province) {
          if (keys->ColumnIsNull(4)) continue;
          FS_ASSIGN_OR_RETURN(RowId ring, Id16::FromBytes(keys->ColumnBlob(5), "key ring"));
          FS_ASSIGN_OR_RETURN(bool sees, scope.Visible(node.province, keys->ColumnString(4), ring));
          if (!sees) continue;
        }
        chunk.key_records.push_back(keys->ColumnString(1));
        if (chunk.key_records.size() >= kKeysPerMessage) FS_RETURN_IF_ERROR(send(chunk));
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
    std::vector<std::pair<std::string, RowId>> purged;
    if (bootstrapped && gc_epoch < epoch) {
      FS_ASSIGN_OR_RETURN(
          auto st, ReplicaInternal::HubStorageDb(rep).Prepared(
                       "SELECT tbl, row, position FROM hub_purged p WHERE epoch > ?1 AND "
                       "(shared = 1 OR EXISTS (SELECT 1 FROM json_each(p.provinces) WHERE "
                       "value = ?2)) ORDER BY tbl, row"));
      st->BindInt(1, static_cast<int64_t>(gc_epoch));
      st->BindText(2, node.province);
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(1), "purged row"));
        purged.emplace_back(st->ColumnString(0), id);
        if (st->ColumnInt(2) > cursor) missed_a_delete = true;
      }
    }
    if (!bootstrapped || missed_a_delete) {
      // Bootstrap: the current state of the node's scope, not its history.
      chunk.reset = true;
      if (bootstrapped) {
        chunk.notice = absl::StrCat(
            "the hub collected deleted records (up to position ", horizon,
            ") whose deletes this node, last synced at position ", cursor,
            ", had not received: the replica is rebuilt from the hub's current state; nothing "
            "of this node's own work is lost");
      }
      for (const TableDef& t : rep.schema().tables()) {
        const std::string table(t.name);
        FS_ASSIGN_OR_RETURN(std::vector<RowId> rows, scope.VisibleRows(node.province, table));
        for (const RowId& row : rows) {
          FS_ASSIGN_OR_RETURN(std::optional<RowSnapshot> snap, rep.ExportRow(table, row));
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
      chunk.cursor = head;
      chunk.caught_up = true;
      return send(chunk);
    }

    // Collected rows to drop, at most 20,000 a message (a few hundred KB).
    constexpr size_t kPurgedPerMessage = 20000;
    for (size_t i = 0; i < purged.size(); i += kPurgedPerMessage) {
      const size_t end = std::min(purged.size(), i + kPurgedPerMessage);
      chunk.purged.assign(purged.begin() + static_cast<std::ptrdiff_t>(i),
                          purged.begin() + static_cast<std::ptrdiff_t>(end));
      if (end < purged.size()) FS_RETURN_IF_ERROR(send(chunk));
    }
    // Records newly visible through grants since the cursor: their current
    // state, then the log without them.
    FS_ASSIGN_OR_RETURN(auto fresh, scope.NewlyVisible(node.province, cursor, head));
    // With them, the grants to other offices of those records stored before
    // the node's key cursor: skipped then (its office did not see the
    // record), needed now to know who holds which version (a laptop that
    // lacks them grants again, or rotates for nothing).
    if (params.key_cursor > 0 && !fresh.empty()) {
      FS_ASSIGN_OR_RETURN(auto earlier, ReplicaInternal::HubStorageDb(rep).Prepared(
                                            "SELECT bytes FROM hub_keys WHERE keyring = ?1 AND "
                                            "kind = 3 AND province != ?2 AND seq <= ?3 ORDER "
                                            "BY seq"));
      for (const auto& [table, row] : fresh) {
        earlier->Reset();
        earlier->BindBlob(1, row.view());
        earlier->BindText(2, node.province);
        earlier->BindInt(3, params.key_cursor);
        while (true) {
          FS_ASSIGN_OR_RETURN(bool r, earlier->Step());
          if (!r) break;
          chunk.key_records.push_back(earlier->ColumnString(0));
        }
      }
    }
    std::set<std::pair<std::string, RowId>> installed;
    for (auto& [table, row] : fresh) {
      FS_ASSIGN_OR_RETURN(std::optional<RowSnapshot> snap, rep.ExportRow(table, row));
      installed.emplace(table, row);
      if (!snap) continue;
      FS_RETURN_IF_ERROR(make_room(ApproxSize(*snap), 0));
      bytes += ApproxSize(*snap);
      chunk.rows.push_back(*std::move(snap));
      chunk.rows_position = head;
      if (full()) {
        FS_RETURN_IF_ERROR(send(chunk));
        bytes = 0;
      }
    }
    // Only the log entries that touched the node's province, the shared
    // directory, or provinces whose cases it was granted (hub_log_scope);
    // each is still checked row by row.
    FS_ASSIGN_OR_RETURN(std::vector<std::string> keys, scope.LogKeys(node.province));
    std::string keys_json = "[";
    for (size_t i = 0; i < keys.size(); ++i) {
      absl::StrAppend(&keys_json, i ? "," : "", JsonString(keys[i]));
    }
    keys_json += "]";
    FS_ASSIGN_OR_RETURN(
        auto candidates,
        ReplicaInternal::HubStorageDb(rep).Prepared("SELECT l.pos, d.id, l.body, s.sig FROM (SELECT DISTINCT position AS "
                          "p FROM hub_log_scope WHERE province IN (SELECT value FROM "
                          "json_each(?1)) AND position > ?2 AND position <= ?3 ORDER BY "
                          "position LIMIT ?4) c JOIN _fs_log l ON l.pos = c.p JOIN _fs_devices "
                          "d ON d.idx = l.device LEFT JOIN _fs_signatures s ON s.pos = l.pos "
                          "ORDER BY l.pos"));
    FS_ASSIGN_OR_RETURN(auto is_purged,
                        ReplicaInternal::HubStorageDb(rep).Prepared("SELECT 1 FROM hub_purged WHERE tbl = ?1 AND row = ?2"));
    int64_t after = cursor;
    while (after < head) {
      std::vector<Replica::RawEntry> entries;
      candidates->Reset();
      candidates->BindText(1, keys_json);
      candidates->BindInt(2, after);
      candidates->BindInt(3, head);
      candidates->BindInt(4, static_cast<int64_t>(max_batch));
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, candidates->Step());
        if (!r) break;
        FS_ASSIGN_OR_RETURN(DeviceId author, Id16::FromBytes(candidates->ColumnBlob(1), "author"));
        entries.push_back(Replica::RawEntry{
            candidates->ColumnInt(0), author, candidates->ColumnString(2),
            candidates->ColumnIsNull(3) ? std::string() : candidates->ColumnString(3)});
      }
      if (entries.empty()) break;
      for (Replica::RawEntry& e : entries) {
        const int64_t before = after;
        after = e.position;
        if (e.author == node.device) continue;  // the node holds its own commits
        FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(e.body));
        size_t kept = 0;
        std::vector<RowChange> visible;
        std::vector<std::pair<uint32_t, std::string>> omitted;
        for (size_t ci = 0; ci < c.changes.size(); ++ci) {
          RowChange& rc = c.changes[ci];
          auto omit = [&]() {
            omitted.emplace_back(static_cast<uint32_t>(ci), crypto::ChangeDigest(rc));
          };
          // Shared directory rows are visible to all, even once collected:
          // a write to one after its delete must not bring it back.
          if (epoch > 0 && (rc.table == "organisations" || rc.table == "services")) {
            is_purged->Reset();
            is_purged->BindText(1, rc.table);
            is_purged->BindBlob(2, rc.row.view());
            FS_ASSIGN_OR_RETURN(bool gone, is_purged->Step());
            if (gone) {
              omit();
              continue;
            }
          }
          FS_ASSIGN_OR_RETURN(bool v, scope.Visible(node.province, rc.table, rc.row));
          if (v && installed.count({rc.table, rc.row}) == 0) {
            ++kept;
            visible.push_back(std::move(rc));
          } else {
            omit();
          }
        }
        if (kept == 0) continue;
        std::string body;
        if (kept == c.changes.size()) {
          body = std::move(e.body);
        } else {
          c.changes = std::move(visible);
          body = EncodeCommit(c);
        }
        FS_RETURN_IF_ERROR(make_room(body.size(), before));
        bytes += body.size();
        PulledEntry pe;
        pe.position = e.position;
        pe.canonical = std::move(body);
        pe.signature = std::move(e.signature);
        pe.omitted = std::move(omitted);
        chunk.commits.push_back(std::move(pe));
        if (full()) {
          chunk.cursor = after;
          FS_RETURN_IF_ERROR(send(chunk));
          bytes = 0;
        }
      }
    }
    chunk.cursor = head;
    chunk.caught_up = true;
    return send(chunk);
  });
  if (s.ok() || !cancelled) ReturnReader(std::move(reader));
  return s;
}

// ---------------------------------------------------------------------------
// Tombstone collection

absl::StatusOr<GcReport> SqliteHubStore::CollectTombstones(int64_t min_age_millis,
                                                           int64_t stale_after_millis,
                                                           const std::string& actor) {
  FS_ASSIGN_OR_RETURN(std::vector<NodeInfo> nodes, Nodes());
  const int64_t now = clock_->NowMillis();
  std::lock_guard<std::mutex> l(write_mu_);
  sqlite::Db& db = ReplicaInternal::HubStorageDb(*writer_);
  GcReport report;
  std::set<std::string> waiting;
  FS_RETURN_IF_ERROR(InTxn(db, [&]() -> absl::Status {
    Scope scope(db);
    FS_ASSIGN_OR_RETURN(const int64_t head, writer_->LogHead());
    std::vector<std::tuple<std::string, RowId, int64_t>> candidates;
    {
      FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT tbl, row, deleted_pos FROM hub_row_scope "
                                               "WHERE deleted_pos IS NOT NULL AND deleted_at <= "
                                               "?1 ORDER BY deleted_pos"));
      st->BindInt(1, now - min_age_millis);
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(1), "row"));
        candidates.emplace_back(st->ColumnString(0), id, st->ColumnInt(2));
      }
    }
    FS_ASSIGN_OR_RETURN(const uint64_t epoch, GcEpoch(db));
    // Every province that has a node or is registered.
    std::set<std::string> provinces;
    for (const NodeInfo& n : nodes) provinces.insert(n.province);
    {
      FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT code FROM hub_provinces"));
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        provinces.insert(st->ColumnString(0));
      }
    }
    for (const auto& [table, row, deleted_pos] : candidates) {
      bool acknowledged = true;
      for (const NodeInfo& n : nodes) {
        if (n.revoked || n.removed_by_office_at_millis != 0) continue;  // never pulls again
        if (n.last_seen_millis < now - stale_after_millis) continue;  // stale: re-bootstraps
        FS_ASSIGN_OR_RETURN(bool v, scope.Visible(n.province, table, row));
        if (v && n.cursor < deleted_pos) {
          acknowledged = false;
          waiting.insert(absl::StrCat(n.name, " (", n.device.ToString(), ", ", n.province, ")"));
        }
      }
      if (!acknowledged) continue;
      FS_ASSIGN_OR_RETURN(auto del, db.Prepared(absl::StrCat("DELETE FROM \"", AV(table),
                                                             "\" WHERE id = ?1 AND _live = 0")));
      del->BindBlob(1, row.view());
      FS_RETURN_IF_ERROR(del->Run());
      if (db.Changes() == 0) continue;
      // Remembered with the provinces that could see it (asked before its
      // scope goes): their nodes are told to drop it too, or rebuilt if they
      // never received the delete.
      FS_ASSIGN_OR_RETURN(bool shared, scope.Visible("*", table, row));
      std::string seen_by = "[";
      for (const std::string& p : provinces) {
        FS_ASSIGN_OR_RETURN(bool v, scope.Visible(p, table, row));
        if (v) absl::StrAppend(&seen_by, seen_by.size() > 1 ? "," : "", JsonString(p));
      }
      seen_by += "]";
      FS_ASSIGN_OR_RETURN(auto rec, db.Prepared("INSERT OR REPLACE INTO hub_purged(tbl, row, "
                                                "position, epoch, shared, provinces) VALUES "
                                                "(?1, ?2, ?3, ?4, ?5, ?6)"));
      rec->BindText(1, table);
      rec->BindBlob(2, row.view());
      rec->BindInt(3, deleted_pos);
      rec->BindInt(4, static_cast<int64_t>(epoch + 1));
      rec->BindInt(5, shared ? 1 : 0);
      rec->BindText(6, seen_by);
      FS_RETURN_IF_ERROR(rec->Run());
      for (const char* sql : {"DELETE FROM _fs_conflicts WHERE tbl = ?1 AND row = ?2",
                              "DELETE FROM hub_row_scope WHERE tbl = ?1 AND row = ?2"}) {
        FS_ASSIGN_OR_RETURN(auto st, db.Prepared(sql));
        st->BindText(1, table);
        st->BindBlob(2, row.view());
        FS_RETURN_IF_ERROR(st->Run());
      }
      ++report.tombstones;
    }
    if (report.tombstones > 0) {
      // Every pull from before this point would replay history that no
      // longer has its rows: such nodes re-bootstrap instead.
      FS_ASSIGN_OR_RETURN(auto st, db.Prepared("INSERT INTO hub_meta(key, value) VALUES "
                                               "('gc_horizon', ?1) ON CONFLICT(key) DO UPDATE "
                                               "SET value = excluded.value"));
      st->BindInt(1, head);
      FS_RETURN_IF_ERROR(st->Run());
      // Nodes that pulled before now may hold what was collected: their
      // next pull drops it, or rebuilds them if they never saw the delete.
      // The log stays: up-to-date nodes resume from it (a pull leaves out
      // the row changes of collected rows, which no longer have a scope).
      FS_RETURN_IF_ERROR(db.Exec("INSERT INTO hub_meta(key, value) VALUES ('gc_epoch', 1) ON "
                                 "CONFLICT(key) DO UPDATE SET value = value + 1"));
    }
    FS_ASSIGN_OR_RETURN(report.horizon, GcHorizon(db));
    FS_ASSIGN_OR_RETURN(report.epoch, GcEpoch(db));
    return AppendHubAudit(
        db, now, actor, kAuditGc,
        absl::StrCat("collected ", report.tombstones, " tombstones (min-age ",
                     FormatDurationMillis(min_age_millis), ", stale-after ",
                     FormatDurationMillis(stale_after_millis), "; epoch ", report.epoch,
                     ", horizon ", report.horizon, ")",
                     waiting.empty() ? std::string()
                                     : absl::StrCat("; kept some for ", waiting.size(),
                                                    " node(s) not yet up to date")));
  }));
  report.waiting_for.assign(waiting.begin(), waiting.end());
  return report;
}

}  // namespace fieldsync::hub
