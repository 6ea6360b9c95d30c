#include "hub/sqlite_store.h"

#include "base/status_macros.h"

namespace fieldsync::hub {

absl::StatusOr<std::unique_ptr<SqliteHubStore>> SqliteHubStore::Open(const std::string& path,
                                                                     ClockSource* clock) {
  if (clock == nullptr) clock = SystemClock::Get();
  FS_ASSIGN_OR_RETURN(std::unique_ptr<SqliteHubStorage> storage,
                      SqliteHubStorage::Open(path, clock));
  std::unique_ptr<SqliteHubStore> store(new SqliteHubStore(std::move(storage), clock));
  FS_RETURN_IF_ERROR(store->BringUpToDate());
  return store;
}

}  // namespace fieldsync::hub
