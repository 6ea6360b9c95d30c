#include "hub/commands/hub_file.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "hub/audit.h"
#include "hub/sqlite_storage.h"
#include "store/replica_file.h"
#include "store/sqlite.h"

namespace fieldsync::hub {
namespace {

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

absl::Status Errno(const std::string& doing) {
  return absl::FailedPreconditionError(absl::StrCat(doing, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<HubFileFacts> ReadHubFile(const std::string& path, bool check) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
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
  if (absl::Status s = sqlite_storage::RefuseNewerFile(path); !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  HubFileFacts f;
  FS_ASSIGN_OR_RETURN(const ReplicaFileFacts replica, ReadReplicaFile(path));
  if (!replica.device_id) return absl::InvalidArgumentError("it names no hub device");
  f.hub_id = *replica.device_id;
  f.log_head = replica.log_head;
  return f;
}

absl::StatusOr<std::vector<DeviceId>> RevokedDevices(const std::string& path) {
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

absl::Status OnlineCopy(const std::string& source, const std::string& dest) {
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

absl::Status Checkpoint(const std::string& path) {
  Conn c;
  FS_RETURN_IF_ERROR(c.Open(path));
  if (sqlite3_exec(c.db(), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    return c.Error(absl::StrCat("cannot checkpoint ", path));
  }
  return absl::OkStatus();
}

absl::Status AppendAuditTo(const std::string& path, const std::string& actor,
                           const std::string& action, const std::string& detail) {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Db> d, sqlite::Db::Open(path, ""));
  FS_RETURN_IF_ERROR(d->Exec(absl::StrCat("PRAGMA busy_timeout = ", tuning::kBusyTimeoutMillis)));
  return sqlite::InTransaction(*d, sqlite_storage::kWriteTxn, [&](sqlite::Transaction&) {
    return AppendHubAudit(*d, absl::ToUnixMillis(absl::Now()), actor, action, detail);
  });
}

absl::Status SyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("cannot open ", path));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno(absl::StrCat("cannot write ", path, " to disk"));
  return absl::OkStatus();
}

absl::Status SyncDirectoryOf(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return SyncFile(parent.empty() ? std::filesystem::path(".") : parent);
}

absl::StatusOr<std::unique_ptr<ServeLock>> ServeLock::Take(const std::string& dir,
                                                           const std::string& holder_says) {
  const std::string path = dir + "/serve.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("cannot open ", path));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const bool held = errno == EWOULDBLOCK;
    absl::Status s = held ? absl::FailedPreconditionError(holder_says)
                          : Errno(absl::StrCat("cannot lock ", path));
    ::close(fd);
    return s;
  }
  return std::unique_ptr<ServeLock>(new ServeLock(fd));
}

ServeLock::~ServeLock() { ::close(fd_); }

}  // namespace fieldsync::hub
