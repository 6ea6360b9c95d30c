// The hub store on PostgreSQL: the hub's engine (hub/engine.h) over
// PostgresHubStorage (hub/pg/storage.h), as SqliteHubStore is the engine
// over hub.db. What `fieldhub --store postgresql://...` serves and
// administers (docs/POSTGRES.md, "fieldhub on PostgreSQL").
#ifndef FIELDSYNC_HUB_PG_STORE_H_
#define FIELDSYNC_HUB_PG_STORE_H_

#include <memory>
#include <string>
#include <string_view>

#include "clock/clock_source.h"
#include "hub/engine.h"
#include "hub/pg/storage.h"

namespace fieldsync::hub {

class PostgresHubStore : public HubEngine {
 public:
  // What opening may find, and whether it may change the schema (attack
  // review 22, MED 5). kNew (`fieldhub init`): a database without hub
  // tables, given its schema and a new hub id; ALREADY_EXISTS if it holds
  // a hub. kExisting (`serve`, `migrate --store`): a hub's database,
  // migrated if of an older schema. kCurrent (every other command): a
  // hub's database of this fieldhub's schema version, opened as it is; an
  // older one is refused (FAILED_PRECONDITION saying to run `fieldhub
  // migrate --store URI`), unchanged. Both kExisting and kCurrent:
  // FAILED_PRECONDITION saying to run `fieldhub init --store` if it holds
  // no hub (nothing is created).
  enum class Expect { kNew, kExisting, kCurrent };

  // `target`: a postgresql:// URI or a socket directory (pg::Connection).
  // Errors are one line naming the database and host, never the password;
  // a database of a newer schema is refused, changing nothing.
  static absl::StatusOr<std::unique_ptr<PostgresHubStore>> Open(const std::string& target,
                                                                Expect expect,
                                                                ClockSource* clock = nullptr);

  // The storage's CheckSchema (PostgresHubStorage): UNAVAILABLE, for good,
  // once another fieldhub changed the schema under this process.
  absl::Status CheckSchema() override { return storage_->CheckSchema(); }

  // `target` without what must not be printed: a URI's password and its
  // query parameters (which may hold one); a socket directory as it is.
  static std::string Printable(const std::string& target);

 private:
  PostgresHubStore(std::unique_ptr<PostgresHubStorage> storage, ClockSource* clock)
      : HubEngine(storage.get(), clock), storage_(std::move(storage)) {}
  std::unique_ptr<PostgresHubStorage> storage_;
};

// OK, or INVALID_ARGUMENT in one line (the password not in it) if `target`
// carries a password (a `user:password@` userinfo or a `password=`
// parameter, pg::HoldsPassword): a command line is read by every local
// user (`ps`), and so is a systemd unit's Environment= (`systemctl show`).
// The line says where the password goes instead (docs/POSTGRES.md,
// "Passwords"). `option` names where the target came from ("--store (or
// $FIELDSYNC_HUB_STORE)", "--to").
absl::Status RefusePasswordIn(const std::string& target, std::string_view option);

// Whether `target` names a PostgreSQL store (a postgresql:// or
// postgres:// URI) rather than a hub.db.
bool IsPostgresTarget(const std::string& target);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_PG_STORE_H_
