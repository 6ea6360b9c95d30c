// A hub served in the test's own process (harness::InProcessServer): the
// store `fieldhub serve` opens, checked the same way, under the same serve
// lock, and the hub's side of the protocol (hub/sync_handler.h) answering
// nodes without gRPC, TLS or a socket. Its log lines go to serve.log in the
// data directory, as a served hub's do (--verbose: one line per call).
#ifndef FIELDSYNC_TESTS_SUPPORT_IN_PROCESS_HUB_H_
#define FIELDSYNC_TESTS_SUPPORT_IN_PROCESS_HUB_H_

#include <cstdio>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "tools/lib/sync_harness.h"

namespace fieldsync::hub {
class HubEngine;
class SyncHandler;
class ServeLock;
}  // namespace fieldsync::hub

namespace fieldsync::testing {

class InProcessHub final : public harness::InProcessServer {
 public:
  InProcessHub();
  ~InProcessHub() override;
  absl::Status Start(const std::string& data_dir, const std::string& store) override;
  void Stop() override;
  sync::Transport* transport() override;

 private:
  std::unique_ptr<hub::ServeLock> lock_;
  std::unique_ptr<hub::HubEngine> store_;
  std::unique_ptr<hub::SyncHandler> handler_;
  absl::Mutex log_mu_;
  std::FILE* log_ ABSL_GUARDED_BY(log_mu_) = nullptr;
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_IN_PROCESS_HUB_H_
