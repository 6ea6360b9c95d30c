// The embedded hub store: the hub's engine (hub/engine.h) over the SQLite
// storage of one file, hub.db (hub/sqlite_storage.h). What `fieldhub`
// serves by default; a PostgreSQL store would be the same engine over
// another HubStorage.
#ifndef FIELDSYNC_HUB_SQLITE_STORE_H_
#define FIELDSYNC_HUB_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "clock/clock_source.h"
#include "hub/engine.h"
#include "hub/sqlite_storage.h"

namespace fieldsync::hub {

class SqliteHubStore : public HubEngine {
 public:
  // Opens the hub's file (created by `fieldhub init` or CreateReplicaIn).
  static absl::StatusOr<std::unique_ptr<SqliteHubStore>> Open(const std::string& path,
                                                              ClockSource* clock = nullptr);

  // `PRAGMA quick_check` of hub.db (SqliteHubStorage::QuickCheck).
  absl::Status CheckFile() { return storage_->QuickCheck(); }

  // The replica itself (tests and `fieldhub status`); callers serialise.
  Replica& replica() { return storage_->replica(); }

 private:
  SqliteHubStore(std::unique_ptr<SqliteHubStorage> storage, ClockSource* clock)
      : HubEngine(storage.get(), clock), storage_(std::move(storage)) {}
  std::unique_ptr<SqliteHubStorage> storage_;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_SQLITE_STORE_H_
