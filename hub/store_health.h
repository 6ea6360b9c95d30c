// Whether the hub's store can serve, as `fieldhub serve` looks at it every
// few seconds to say so in its health checks (docs/OPERATING.md, "Health
// checks"; attack review 21, LOW 5). The store fails when
// - its file is no longer at its path as the file opened (deleted, moved or
//   replaced under the running hub: what it writes would be lost, or would
//   part from what a restart opens), or cannot be looked at there; or
// - it cannot answer a read (the log head: an I/O error, a damaged page; a
//   PostgreSQL connection lost, for a store of that kind); or
// - its schema changed under the process (HubStore::CheckSchema: a
//   PostgreSQL database migrated by another fieldhub), for good.
#ifndef FIELDSYNC_HUB_STORE_HEALTH_H_
#define FIELDSYNC_HUB_STORE_HEALTH_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "hub/store.h"

namespace fieldsync::hub {

class StoreHealth {
 public:
  // `path`: the store's file as opened (empty for a store with none).
  StoreHealth(HubStore* store, std::string path);

  // OK, or one line saying why the store fails now: FAILED_PRECONDITION
  // when its file is gone or is another file (this process will not serve
  // the file at the path again: serve stops after a while so that a
  // restart does), UNAVAILABLE otherwise (it may answer again).
  absl::Status Check();

 private:
  HubStore* store_;
  std::string path_;
  bool have_file_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_STORE_HEALTH_H_
