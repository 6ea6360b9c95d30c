#include "hub/pg/storage.h"

#include <utility>

#include "base/status_macros.h"
#include "base/tuning.h"
#include "hub/pg/transaction.h"
#include "hub/pg/views.h"
#include "hub/pg/schema.h"
#include "schema/schema.h"

namespace fieldsync::hub {

absl::StatusOr<std::unique_ptr<PostgresHubStorage>> PostgresHubStorage::Open(
    const std::string& target, ClockSource* clock) {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn, pg::Connection::Open(target));
  std::unique_ptr<PostgresHubStorage> s(new PostgresHubStorage(target, std::move(conn), clock));
  FS_RETURN_IF_ERROR(s->Init());
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

absl::Status PostgresHubStorage::Init() {
  absl::MutexLock l(&mu_);
  FS_RETURN_IF_ERROR(pg::Migrate(*conn_, clock_->NowMillis()));
  FS_ASSIGN_OR_RETURN(pg::Result r,
                      conn_->Exec("SELECT value FROM hub_meta WHERE key = 'hub_id'"));
  if (r.rows() != 1) {
    return absl::DataLossError("the PostgreSQL hub database has no hub id (hub_meta 'hub_id'): "
                               "it was changed outside fieldhub; restore it from a backup");
  }
  FS_ASSIGN_OR_RETURN(hub_id_, Id16::FromBytes(r.Bytes(0, 0), "hub id"));
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

absl::Status PostgresHubStorage::Write(const std::function<absl::Status(HubWriteTxn&)>& body) {
  absl::MutexLock l(&write_mu_);
  if (writer_ == nullptr) {
    FS_ASSIGN_OR_RETURN(writer_, Connect());
  }
  pg::PgView view(*writer_, schema(), hlc_, hub_id_, /*writer=*/true);
  absl::Status s = body(view);
  // A connection lost (or left inside a transaction) is not used again.
  if (writer_->InTransaction() || s.code() == absl::StatusCode::kUnavailable) writer_.reset();
  return s;
}

absl::Status PostgresHubStorage::Read(const std::function<absl::Status(HubReadTxn&)>& body) {
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
    pg::PgView view(*conn, schema(), hlc_, hub_id_, /*writer=*/false);
    return body(view);
  });
  if (!conn->InTransaction() && s.code() != absl::StatusCode::kUnavailable) {
    absl::MutexLock l(&readers_mu_);
    if (readers_.size() < 16) readers_.push_back(std::move(conn));
  }
  return s;
}

}  // namespace fieldsync::hub
