// A private PostgreSQL cluster for a test binary (tools/lib/postgres.sh,
// docs/POSTGRES.md, "A private cluster"), and a fresh database in it per
// test.
//
// Under ctest, the tests labelled `postgres` share one cluster started by
// the ctest fixture `postgres_cluster` (FIXTURES_SETUP / CLEANUP): its
// socket directory is in the file $FIELDSYNC_PG_CLUSTER_FILE. Run directly
// (no such file), the binary starts its own cluster and stops it at exit;
// a watchdog of postgres.sh stops it if the binary is killed.
#ifndef FIELDSYNC_TESTS_SUPPORT_PG_CLUSTER_H_
#define FIELDSYNC_TESTS_SUPPORT_PG_CLUSTER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fieldsync::hub::pg {
class Connection;
}  // namespace fieldsync::hub::pg

namespace fieldsync::testing {

class PgCluster {
 public:
  // The binary's cluster: ctest's, or one started now (once; stopped at
  // exit). An error says why in one line (postgres.sh's message).
  static absl::StatusOr<PgCluster*> Shared();
  ~PgCluster();

  // The directory of its Unix socket (DIR/cluster of postgres.sh).
  std::string socket_dir() const { return dir_ + "/cluster"; }
  // A new, empty database; its postgresql:// URI. Dropped by DropDatabase.
  absl::StatusOr<std::string> CreateDatabase();
  void DropDatabase(const std::string& uri);

 private:
  PgCluster(std::string dir, bool owned) : dir_(std::move(dir)), owned_(owned) {}
  std::string dir_;  // postgres.sh's DIR
  bool owned_;  // started here: stopped by the destructor
};

// A fresh database for one test, dropped when it dies.
class PgDatabase {
 public:
  PgDatabase() = default;
  ~PgDatabase();
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;
  absl::Status Create();
  const std::string& uri() const { return uri_; }
  // A new connection to it (hub/pg/connection.h); nullptr, the test failed
  // and saying why, if it cannot be opened.
  std::unique_ptr<hub::pg::Connection> Connect() const;

 private:
  std::string uri_;
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_PG_CLUSTER_H_
