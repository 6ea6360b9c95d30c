// The hub store on PostgreSQL: the hub's engine (hub/engine.h) over
// PostgresHubStorage (hub/pg/storage.h), as SqliteHubStore is the engine
// over hub.db. What `fieldhub --store postgresql://...` serves and
// administers (docs/POSTGRES.md, "fieldhub on PostgreSQL").
#ifndef FIELDSYNC_HUB_PG_STORE_H_
#define FIELDSYNC_HUB_PG_STORE_H_

#include <memory>
#include <string>

#include "clock/clock_source.h"
#include "hub/engine.h"
#include "hub/pg/storage.h"

namespace fieldsync::hub {

class PostgresHubStore : public HubEngine {
 public:
  // What opening may find. kNew (`fieldhub init`): a database without hub
  // tables, given its schema and a new hub id; ALREADY_EXISTS if it holds
  // a hub. kExisting (every other command): a hub's database, migrated if
  // of an older schema; FAILED_PRECONDITION saying to run `fieldhub init
  // --store` if it holds none (nothing is created).
  enum class Expect { kNew, kExisting };

  // `target`: a postgresql:// URI or a socket directory (pg::Connection).
  // Errors are one line naming the database and host, never the password;
  // a database of a newer schema is refused, changing nothing.
  static absl::StatusOr<std::unique_ptr<PostgresHubStore>> Open(const std::string& target,
                                                                Expect expect,
                                                                ClockSource* clock = nullptr);

  // `target` without what must not be printed: a URI's password and its
  // query parameters (which may hold one); a socket directory as it is.
  static std::string Printable(const std::string& target);

 private:
  PostgresHubStore(std::unique_ptr<PostgresHubStorage> storage, ClockSource* clock)
      : HubEngine(storage.get(), clock), storage_(std::move(storage)) {}
  std::unique_ptr<PostgresHubStorage> storage_;
};

// Whether `target` names a PostgreSQL store (a postgresql:// or
// postgres:// URI) rather than a hub.db.
bool IsPostgresTarget(const std::string& target);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_PG_STORE_H_
