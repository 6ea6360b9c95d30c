#include "hub/pg/storage.h"

#include <utility>

#include "base/status_macros.h"
#include "hub/pg/schema.h"
#include "schema/schema.h"

namespace fieldsync::hub {

absl::StatusOr<std::unique_ptr<PostgresHubStorage>> PostgresHubStorage::Open(
    const std::string& target, ClockSource* clock) {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn, pg::Connection::Open(target));
  std::unique_ptr<PostgresHubStorage> s(new PostgresHubStorage(std::move(conn), clock));
  FS_RETURN_IF_ERROR(s->Init());
  return s;
}

PostgresHubStorage::~PostgresHubStorage() = default;

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

absl::Status PostgresHubStorage::Write(const std::function<absl::Status(HubWriteTxn&)>&) {
  return absl::UnimplementedError(
      "the PostgreSQL hub store does not store pushes yet (issue 15); use the SQLite store");
}

absl::Status PostgresHubStorage::Read(const std::function<absl::Status(HubReadTxn&)>&) {
  return absl::UnimplementedError(
      "the PostgreSQL hub store does not serve pulls yet (issue 15); use the SQLite store");
}

}  // namespace fieldsync::hub
