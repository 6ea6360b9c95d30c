#include "hub/sqlite_hub_files.h"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "hub/audit.h"
#include "hub/sqlite_storage.h"
#include "hub/sqlite_store.h"
#include "store/replica_file.h"
#include "store/sqlite.h"

namespace fieldsync::hub {
namespace {

namespace fs = std::filesystem;

// What SQLite keeps beside a database file.
constexpr const char* kSidecars[] = {"-journal", "-wal", "-shm"};

// One connection of the raw SQLite API, closed when it goes: these files
// are not replicas (a backup being written, a file being checked), so no
// replica opens them.
class Conn {
 public:
  ~Conn() {
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }
  // Opens an existing file, read and write (a WAL file's -shm needs it).
  absl::Status Open(const std::string& path) {
    const int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr);
    if (rc != SQLITE_OK) return Error(absl::StrCat("cannot open ", path));
    sqlite3_busy_timeout(db_, tuning::kBusyTimeoutMillis);
    return absl::OkStatus();
  }
  sqlite3* db() const { return db_; }

  // The first column of the first row of `sql`, as text; none if no row.
  absl::StatusOr<std::optional<std::string>> One(const char* sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) return Error("");
    const int rc = sqlite3_step(st);
    std::optional<std::string> out;
    if (rc == SQLITE_ROW) {
      const void* b = sqlite3_column_blob(st, 0);
      out = std::string(static_cast<const char*>(b == nullptr ? "" : b),
                        static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error("");
    return out;
  }

  absl::Status Error(const std::string& doing) const {
    const char* m = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    return absl::InvalidArgumentError(doing.empty() ? m : absl::StrCat(doing, ": ", m));
  }

 private:
  sqlite3* db_ = nullptr;
};

// PRAGMA wal_checkpoint(TRUNCATE) of the file at `path`: its write-ahead
// log folded into it.
absl::Status Checkpoint(const std::string& path) {
  Conn c;
  FS_RETURN_IF_ERROR(c.Open(path));
  if (sqlite3_exec(c.db(), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    return c.Error(absl::StrCat("cannot checkpoint ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HubFileFacts> SqliteHubFiles::Read(const std::string& path, bool check) const {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a file"));
  }
  {
    Conn c;
    FS_RETURN_IF_ERROR(c.Open(path));
    if (check) {
      auto ok = c.One("PRAGMA quick_check");
      if (!ok.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("its integrity check fails (", ok.status().message(), ")"));
      }
      if (!*ok || **ok != "ok") {
        std::string found = *ok ? **ok : "no answer";
        std::replace(found.begin(), found.end(), '\n', ' ');
        return absl::InvalidArgumentError(absl::StrCat("its integrity check fails (", found, ")"));
      }
    }
    FS_ASSIGN_OR_RETURN(auto hub, c.One("SELECT 1 FROM sqlite_master WHERE name = 'hub_nodes'"));
    FS_ASSIGN_OR_RETURN(const ReplicaFileFacts replica, ReadReplicaFile(path));
    const bool log = replica.has_log;
    // (A hub's own tables are made when the store is first opened: a file
    // fieldhub init made and nothing opened since has only the replica's.)
    if ((check && !hub) || !log) {
      return absl::InvalidArgumentError("it has no hub tables (a laptop's replica?)");
    }
  }
  // A newer schema is said as opening it would say it.
  if (absl::Status s = RefuseNewer(path); !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  HubFileFacts f;
  FS_ASSIGN_OR_RETURN(const ReplicaFileFacts replica, ReadReplicaFile(path));
  if (!replica.device_id) return absl::InvalidArgumentError("it names no hub device");
  f.hub_id = *replica.device_id;
  f.log_head = replica.log_head;
  return f;
}

absl::StatusOr<std::vector<DeviceId>> SqliteHubFiles::RevokedDevices(
    const std::string& path) const {
  Conn c;
  FS_RETURN_IF_ERROR(c.Open(path));
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(c.db(), "SELECT device FROM hub_nodes WHERE revoked_at IS NOT NULL "
                                 "ORDER BY device", -1, &st, nullptr) != SQLITE_OK) {
    return c.Error("");
  }
  std::vector<DeviceId> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const std::string raw(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                          static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    auto d = Id16::FromBytes(raw, "node device");
    if (d.ok()) out.push_back(*d);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return c.Error("");
  return out;
}

absl::StatusOr<std::vector<std::pair<DeviceId, std::string>>> SqliteHubFiles::LinkKeys(
    const std::string& path) const {
  Conn c;
  FS_RETURN_IF_ERROR(c.Open(path));
  std::vector<std::pair<DeviceId, std::string>> out;
  sqlite3_stmt* st = nullptr;
  // A hub of schema version 7 or older has no link_pk column: none.
  if (sqlite3_prepare_v2(c.db(), "SELECT count(*) FROM pragma_table_info('hub_nodes') WHERE "
                                 "name = 'link_pk'", -1, &st, nullptr) != SQLITE_OK) {
    return c.Error("");
  }
  const bool has = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
  sqlite3_finalize(st);
  if (!has) return out;
  if (sqlite3_prepare_v2(c.db(), "SELECT device, link_pk FROM hub_nodes WHERE link_pk IS NOT "
                                 "NULL ORDER BY device", -1, &st, nullptr) != SQLITE_OK) {
    return c.Error("");
  }
  auto blob = [&](int col) {
    return std::string(static_cast<const char*>(sqlite3_column_blob(st, col)),
                       static_cast<size_t>(sqlite3_column_bytes(st, col)));
  };
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    auto d = Id16::FromBytes(blob(0), "node device");
    if (d.ok()) out.emplace_back(*d, blob(1));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return c.Error("");
  return out;
}

absl::Status SqliteHubFiles::RefuseNewer(const std::string& path) const {
  return sqlite_storage::RefuseNewerFile(path);
}

absl::Status SqliteHubFiles::OnlineCopy(const std::string& source,
                                        const std::string& dest) const {
  Conn src, dst;
  FS_RETURN_IF_ERROR(src.Open(source));
  FS_RETURN_IF_ERROR(dst.Open(dest));
  sqlite3_backup* b = sqlite3_backup_init(dst.db(), "main", src.db(), "main");
  if (b == nullptr) return dst.Error(absl::StrCat("cannot copy ", source));
  // Every page in one step: one read transaction of the source, so a push
  // the server commits meanwhile is either wholly in the copy or not at
  // all. A writer holding a lock the read needs: wait and try again.
  int rc;
  for (int tries = 0;; ++tries) {
    rc = sqlite3_backup_step(b, -1);
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || tries >= tuning::kHubBackupBusyTries) break;
    sqlite3_sleep(tuning::kHubBackupBusyWaitMillis);
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot copy ", source, ": ", sqlite3_errstr(rc)));
  }
  return absl::OkStatus();
}

absl::Status SqliteHubFiles::AppendAudit(const std::string& path, const std::string& actor,
                                         const std::string& action,
                                         const std::string& detail) const {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Db> d, sqlite::Db::Open(path, ""));
  FS_RETURN_IF_ERROR(d->Exec(absl::StrCat("PRAGMA busy_timeout = ", tuning::kBusyTimeoutMillis)));
  return sqlite::InTransaction(*d, sqlite_storage::kWriteTxn, [&](sqlite::Transaction&) {
    return AppendHubAudit(*d, absl::ToUnixMillis(absl::Now()), actor, action, detail);
  });
}

absl::StatusOr<std::unique_ptr<HubStore>> SqliteHubFiles::Open(const std::string& path) const {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<SqliteHubStore> store, SqliteHubStore::Open(path));
  return std::unique_ptr<HubStore>(std::move(store));
}

absl::Status SqliteHubFiles::Seal(const std::string& path) const {
  FS_RETURN_IF_ERROR(Checkpoint(path));
  std::error_code ec;
  for (const char* tail : {"-wal", "-shm"}) fs::remove(path + tail, ec);
  return absl::OkStatus();
}

absl::Status SqliteHubFiles::MoveAside(const std::string& from, const std::string& to) const {
  // The write-ahead log folded in first; if that fails (a damaged file)
  // the log goes beside it under its new name.
  (void)Checkpoint(from);
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat("cannot rename ", from, ": ",
                                                      ec.message(), "; nothing was changed"));
  }
  if (fs::exists(from + "-wal", ec) && fs::file_size(from + "-wal", ec) > 0) {
    fs::rename(from + "-wal", to + "-wal", ec);
  }
  fs::remove(from + "-wal", ec);
  fs::remove(from + "-shm", ec);
  return absl::OkStatus();
}

void SqliteHubFiles::Remove(const std::string& path) const {
  std::error_code ec;
  fs::remove(path, ec);
  for (const char* tail : kSidecars) fs::remove(path + tail, ec);
}

const HubFiles& TheHubFiles() {
  static const SqliteHubFiles files;
  return files;
}

absl::StatusOr<std::shared_ptr<void>> SqliteHubFiles::HoldWrites(const std::string& path) const {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Db> db, sqlite::Db::Open(path, ""));
  FS_RETURN_IF_ERROR(db->Exec("PRAGMA busy_timeout = 5000"));
  if (!db->Exec("BEGIN IMMEDIATE").ok()) {
    return absl::FailedPreconditionError(absl::StrCat("another command is writing ", path));
  }
  // Dropped: the transaction rolled back (nothing was written), the
  // connection closed.
  return std::shared_ptr<void>(db.release(), [](void* p) {
    auto* d = static_cast<sqlite::Db*>(p);
    (void)d->Exec("ROLLBACK");
    delete d;
  });
}

}  // namespace fieldsync::hub
