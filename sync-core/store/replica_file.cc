#include "store/replica_file.h"

#include "base/status_macros.h"
#include "store/sqlite.h"

namespace fieldsync {

absl::StatusOr<ReplicaFileFacts> ReadReplicaFile(const std::string& path) {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Db> db, sqlite::Db::Open(path, ""));
  ReplicaFileFacts f;
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT 1 FROM sqlite_master WHERE name = "
                                              "'_fs_log'"));
    FS_ASSIGN_OR_RETURN(f.has_log, st->Step());
  }
  if (!f.has_log) return f;
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT value FROM _fs_meta WHERE key = "
                                              "'device_id'"));
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (found && !st->ColumnIsNull(0)) {
      FS_ASSIGN_OR_RETURN(f.device_id, Id16::FromBytes(st->ColumnBlob(0), "the device id"));
    }
  }
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT coalesce(max(pos), 0) FROM _fs_log"));
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  if (r) f.log_head = st->ColumnInt(0);
  return f;
}

}  // namespace fieldsync
