// Which store a hub behaviour suite runs its hub on (issue 15: the same
// behaviour on both). ctest registers such a suite twice
// (fieldsync_sync_test_both_stores in tests/CMakeLists.txt): as it is, on
// hub.db, and with FIELDSYNC_TEST_HUB_STORE=postgresql, labelled postgres,
// where each test's hub gets a fresh database of the private cluster
// (support/pg_cluster.h) through `fieldhub --store`.
#ifndef FIELDSYNC_TESTS_SUPPORT_HUB_STORE_CHOICE_H_
#define FIELDSYNC_TESTS_SUPPORT_HUB_STORE_CHOICE_H_

#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "support/pg_cluster.h"
#include "tools/lib/sync_harness.h"

namespace fieldsync::testing {

// Whether this run's hubs are on PostgreSQL ($FIELDSYNC_TEST_HUB_STORE).
inline bool HubOnPostgres() {
  const char* v = std::getenv("FIELDSYNC_TEST_HUB_STORE");
  return v != nullptr && std::string(v) == "postgresql";
}

// A test's hub store: a fresh PostgreSQL database when HubOnPostgres(),
// dropped with this object; nothing otherwise (hub.db).
class HubStoreChoice {
 public:
  // Before `hub`'s first Start().
  absl::Status Apply(harness::HubProcess& hub) {
    if (!HubOnPostgres()) return absl::OkStatus();
    if (db_.uri().empty()) {
      if (absl::Status s = db_.Create(); !s.ok()) return s;
    }
    hub.set_store(db_.uri());
    return absl::OkStatus();
  }

 private:
  PgDatabase db_;
};

}  // namespace fieldsync::testing

// In a test that needs hub.db itself (edits it, copies it, backs it up):
// skipped, saying why, when the suite runs on PostgreSQL.
#define FS_SKIP_ON_POSTGRES(why)                                       \
  do {                                                                 \
    if (::fieldsync::testing::HubOnPostgres()) GTEST_SKIP() << (why);  \
  } while (0)

#endif  // FIELDSYNC_TESTS_SUPPORT_HUB_STORE_CHOICE_H_
