// Whether the hub's sync calls may reach its store now. `fieldhub serve`
// closes the gate while its store health check fails (hub/store_health.h:
// hub.db deleted, moved or replaced under the running hub; a store that
// cannot answer a read) and opens it again once the check passes (attack
// review 22, MED 3). Health checks alone only tell a load balancer: a
// laptop reaching the hub directly went on pushing into a file a restart
// would not open, and a device revoked in the file now at the path went on
// syncing against the one the process still held.
//
// While closed, every sync call (Hello, Enroll, Push, Pull) is answered
// UNAVAILABLE before it reads the store: a laptop retries at its next pass,
// or moves to its next hub address (`--hub A,B`). The laptop is told that
// the hub's store is not available, not why: the reason (a path on the hub
// machine) is the administrator's, in serve's log.
#ifndef FIELDSYNC_HUB_STORE_GATE_H_
#define FIELDSYNC_HUB_STORE_GATE_H_

#include <atomic>

#include "absl/status/status.h"

namespace fieldsync::hub {

class StoreGate {
 public:
  void Close() { closed_.store(true, std::memory_order_release); }
  void Open() { closed_.store(false, std::memory_order_release); }
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // OK while open; UNAVAILABLE, in words for the laptop, while closed.
  absl::Status Admit() const {
    if (!closed()) return absl::OkStatus();
    return absl::UnavailableError(
        "the hub cannot reach its store now (its administrator is told): nothing was "
        "received; the next pass tries again");
  }

 private:
  std::atomic<bool> closed_{false};
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_STORE_GATE_H_
