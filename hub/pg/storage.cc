#include "hub/pg/storage.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "hub/pg/transaction.h"
#include "hub/pg/views.h"
#include "hub/pg/schema.h"
#include "schema/schema.h"

namespace fieldsync::hub {

absl::StatusOr<std::unique_ptr<PostgresHubStorage>> PostgresHubStorage::Open(
    const std::string& target, ClockSource* clock, SchemaUse schema) {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn, pg::Connection::Open(target));
  return Open(target, std::move(conn), clock, schema);
}

absl::StatusOr<std::unique_ptr<PostgresHubStorage>> PostgresHubStorage::Open(
    const std::string& target, std::unique_ptr<pg::Connection> conn, ClockSource* clock,
    SchemaUse schema) {
  std::unique_ptr<PostgresHubStorage> s(new PostgresHubStorage(target, std::move(conn), clock));
  FS_RETURN_IF_ERROR(s->Init(schema));
  return s;
}

PostgresHubStorage::PostgresHubStorage(std::string target, std::unique_ptr<pg::Connection> conn,
                                       ClockSource* clock)
    : target_(std::move(target)),
      clock_(clock),
      conn_(std::move(conn)),
      hlc_(clock, tuning::kDefaultMaxClockSkewMillis) {}

PostgresHubStorage::~PostgresHubStorage() = default;

absl::StatusOr<std::unique_ptr<pg::Connection>> PostgresHubStorage::Connect() {
  return pg::Connection::Open(target_);
}

absl::Status PostgresHubStorage::Init(SchemaUse schema) {
  absl::MutexLock l(&mu_);
  if (schema == SchemaUse::kMigrate) FS_RETURN_IF_ERROR(pg::Migrate(*conn_, clock_->NowMillis()));
  FS_ASSIGN_OR_RETURN(schema_version_, pg::SchemaVersion(*conn_));
  if (schema_version_ != pg::kPgSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the PostgreSQL hub database is of schema version ", schema_version_, ", not ",
        pg::kPgSchemaVersion, " as this fieldhub's: run `fieldhub migrate --store URI` "
        "(or start `fieldhub serve`) with the fieldhub of the newer version; nothing was "
        "changed"));
  }
  FS_ASSIGN_OR_RETURN(pg::Result r,
                      conn_->Exec("SELECT value FROM hub_meta WHERE key = 'hub_id'"));
  if (r.rows() != 1) {
    return absl::DataLossError("the PostgreSQL hub database has no hub id (hub_meta 'hub_id'): "
                               "it was changed outside fieldhub; restore it from a backup");
  }
  FS_ASSIGN_OR_RETURN(hub_id_, Id16::FromBytes(r.Bytes(0, 0), "hub id"));
  FS_ASSIGN_OR_RETURN(log_scope_from_, pg::ReadLogScopeFrom(*conn_));
  // The hub's clock from the stamps it holds, as a replica's is at open
  // (its own stamps always, another device's within the skew limit): a
  // hub restarted with its machine's clock set back still stamps after
  // what it merged.
  FS_ASSIGN_OR_RETURN(pg::Result authors, conn_->Exec("SELECT device, max_hlc FROM hub_authors"));
  for (int i = 0; i < authors.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(const int64_t packed, authors.Int(i, 1));
    const Hlc stamp = Hlc::FromPacked(static_cast<uint64_t>(packed));
    if (authors.Bytes(i, 0) == hub_id_.view()) {
      hlc_.Restore(stamp);
    } else {
      hlc_.Follow(stamp);
    }
  }
  return absl::OkStatus();
}

// The hub's schema: the field-office schema, as the SQLite storage's
// replica opens with by default.
const Schema& PostgresHubStorage::schema() const { return FieldOfficeSchema(); }

absl::StatusOr<int64_t> PostgresHubStorage::LogHead() {
  absl::MutexLock l(&mu_);
  FS_ASSIGN_OR_RETURN(pg::Result r, conn_->Exec("SELECT position FROM hub_log_head"));
  if (r.rows() != 1) {
    return absl::DataLossError("the PostgreSQL hub database has lost its log head "
                               "(hub_log_head): restore it from a backup");
  }
  return r.Int(0, 0);
}

absl::Status PostgresHubStorage::CheckSchema() {
  FS_RETURN_IF_ERROR(Stale());
  int64_t now = 0;
  {
    absl::MutexLock l(&mu_);
    FS_ASSIGN_OR_RETURN(now, pg::SchemaVersion(*conn_));
  }
  if (now == schema_version_) return absl::OkStatus();
  {
    absl::MutexLock l(&stale_mu_);
    if (stale_line_.empty()) {
      stale_line_ = absl::StrCat(
          "the PostgreSQL hub database's schema is now version ", now, ", not version ",
          schema_version_, " as this hub process opened it (another fieldhub changed it): this "
          "process stores and serves nothing more; restart it with the fieldhub of version ",
          now);
    }
  }
  stale_.store(true);
  return Stale();
}

absl::Status PostgresHubStorage::Stale() const {
  if (!stale_.load()) return absl::OkStatus();
  absl::MutexLock l(const_cast<absl::Mutex*>(&stale_mu_));
  return absl::UnavailableError(stale_line_);
}

absl::Status PostgresHubStorage::Write(const std::function<absl::Status(HubWriteTxn&)>& body) {
  FS_RETURN_IF_ERROR(Stale());
  absl::MutexLock l(&write_mu_);
  if (writer_ == nullptr) {
    FS_ASSIGN_OR_RETURN(writer_, Connect());
  }
  pg::PgView view(*writer_, schema(), hlc_, hub_id_, /*writer=*/true, log_scope_from_);
  absl::Status s = body(view);
  // A connection lost (or left inside a transaction) is not used again.
  if (writer_->InTransaction() || s.code() == absl::StatusCode::kUnavailable) writer_.reset();
  return s;
}

absl::Status PostgresHubStorage::Read(const std::function<absl::Status(HubReadTxn&)>& body) {
  FS_RETURN_IF_ERROR(Stale());
  std::unique_ptr<pg::Connection> conn;
  {
    absl::MutexLock l(&readers_mu_);
    if (!readers_.empty()) {
      conn = std::move(readers_.back());
      readers_.pop_back();
    }
  }
  if (conn == nullptr) {
    FS_ASSIGN_OR_RETURN(conn, Connect());
  }
  // One snapshot: every read of the body sees the same committed state (a
  // prefix of the log: positions are assigned at commit, under the head's
  // row lock).
  absl::Status s = pg::InTransaction(*conn, pg::Isolation::kRepeatableReadOnly,
                                     [&](pg::Transaction&) -> absl::Status {
    pg::PgView view(*conn, schema(), hlc_, hub_id_, /*writer=*/false, log_scope_from_);
    return body(view);
  });
  if (!conn->InTransaction() && s.code() != absl::StatusCode::kUnavailable) {
    absl::MutexLock l(&readers_mu_);
    if (readers_.size() < 16) readers_.push_back(std::move(conn));
  }
  return s;
}

}  // namespace fieldsync::hub
