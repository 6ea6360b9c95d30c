// fieldsync-bench-hubstore's parts (docs/PERFORMANCE.md, "The hub's two
// stores"): one hub -- the engine (hub/engine.h) and its protocol handler
// (hub/sync_handler.h) in this process -- over the SQLite storage or the
// PostgreSQL one, the time the hub itself spends in each call, and nodes
// (real replicas, key rings, signatures and sealing) syncing with it
// in-process.
#ifndef FIELDSYNC_TOOLS_BENCH_HUBSTORE_HUB_SIDE_H_
#define FIELDSYNC_TOOLS_BENCH_HUBSTORE_HUB_SIDE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "crypto/identity.h"
#include "hub/engine.h"
#include "hub/storage.h"
#include "hub/sync_handler.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sync/report.h"
#include "sync/transport.h"

namespace fieldsync::bench_hubstore {

// The hub's side of the protocol, timed: the nanoseconds spent inside Push
// and inside Pull minus the node's handling of each message (the callback
// runs inside the hub's Pull). Thread-safe, as the handler is.
class TimedHub final : public sync::Transport {
 public:
  // Takes the storage; the engine and handler are made over it.
  TimedHub(std::unique_ptr<hub::HubStorage> storage, ClockSource* clock);
  ~TimedHub() override;

  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& r) override {
    return handler_->Hello(r);
  }
  absl::StatusOr<sync::EnrollReply> Enroll(const sync::EnrollRequest& r) override {
    return handler_->Enroll(r);
  }
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& r) override;
  absl::Status Pull(const sync::PullRequest& r,
                    const std::function<absl::Status(sync::PullChunk&)>& f) override;

  hub::HubEngine& engine() { return *engine_; }
  int64_t push_nanos() const { return push_nanos_.load(); }
  int64_t pull_nanos() const { return pull_nanos_.load(); }
  // The first error the hub answered a push or pull with ("none").
  std::string first_error();

 private:
  std::unique_ptr<hub::HubStorage> storage_;
  std::unique_ptr<hub::HubEngine> engine_;
  std::unique_ptr<hub::SyncHandler> handler_;
  std::atomic<int64_t> push_nanos_{0};
  std::atomic<int64_t> pull_nanos_{0};
  absl::Mutex mu_;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

// A laptop: its replica in `dir`, its identity, its key ring once enrolled.
class Node {
 public:
  static absl::StatusOr<std::unique_ptr<Node>> Create(const std::string& dir);
  // Enrolled in `province` with a token of the hub's, then its office's
  // first device (a pass before, so that the registry lists it, and after).
  absl::Status EnrolFirst(TimedHub& hub, const std::string& province);
  // Enrolled in `province` only (no office keys: it pulls sealed fields).
  absl::Status Enrol(TimedHub& hub, const std::string& province);
  // Cases number first .. first + count - 1, one commit each, written
  // `batch` commits a transaction (not timed by the hub).
  absl::Status WriteCases(int64_t first, int64_t count, size_t batch = 1000);
  // One sync pass with the hub.
  absl::StatusOr<sync::SyncReport> Pass(TimedHub& hub);
  Replica& replica() { return *replica_; }

 private:
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<crypto::DeviceIdentity> identity_;
  std::unique_ptr<KeyRing> keys_;
  sync::Credential cred_;
  std::string province_;
};

}  // namespace fieldsync::bench_hubstore

#endif  // FIELDSYNC_TOOLS_BENCH_HUBSTORE_HUB_SIDE_H_
