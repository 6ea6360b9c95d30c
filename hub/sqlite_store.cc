#include "hub/sqlite_store.h"

#include "base/status_macros.h"

namespace fieldsync::hub {

absl::StatusOr<std::unique_ptr<SqliteHubStore>> SqliteHubStore::Open(const std::string& path,
                                                                     ClockSource* clock) {
  if (clock == nullptr) clock = SystemClock::Get();
  FS_ASSIGN_OR_RETURN(std::unique_ptr<SqliteHubStorage> storage,
                      SqliteHubStorage::Open(path, clock));
  return std::unique_ptr<SqliteHubStore>(new SqliteHubStore(std::move(storage), clock));
}

}  // namespace fieldsync::hub
