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

// The hub tables of the connection's schema that hold rows and have no
// statistics for the planner (no pg_stats entry: never analyzed since they
// were filled), as one list ordered by name; "" when there is none. What a
// hub whose rows arrived at once (`fieldhub migrate --to`, `restore`) must
// not be left with (docs/POSTGRES.md, "Statistics").
inline constexpr char kUnanalyzedHubTablesSql[] = R"sql(
WITH t AS MATERIALIZED (
  SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = current_schema() AND c.relkind = 'r'
    AND (c.relname = 'schema_version' OR c.relname LIKE 'hub\_%'))
SELECT coalesce(string_agg(t.relname::text, ',' ORDER BY t.relname), '') FROM t
WHERE (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I',
                                                  t.nspname, t.relname), false, true, '')))[1]
        ::text::bigint > 0
  AND NOT EXISTS (SELECT 1 FROM pg_stats s WHERE s.schemaname = t.nspname
                  AND s.tablename = t.relname)
)sql";

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_PG_CLUSTER_H_
