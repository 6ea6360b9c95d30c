#include "support/in_process_hub.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "clock/clock_source.h"
#include "hub/commands/command.h"
#include "hub/commands/hub_file.h"
#include "hub/sync_handler.h"
#include "store/data_dir.h"

namespace fieldsync::testing {

InProcessHub::InProcessHub() = default;

InProcessHub::~InProcessHub() { Stop(); }

absl::Status InProcessHub::Start(const std::string& data_dir, const std::string& store_uri) {
  if (handler_) return absl::FailedPreconditionError("the hub in process is already running");
  FS_ASSIGN_OR_RETURN(lock_, hub::ServeLock::Take(
                                 data_dir, "another fieldhub serve or a fieldhub restore is "
                                           "running on " + data_dir + "; nothing was started"));
  const DataDir dir{data_dir, "hub.db", "fieldhub init", "FIELDSYNC_HUB_DIR"};
  absl::StatusOr<std::unique_ptr<hub::HubEngine>> store =
      hub::OpenHubStoreAt(dir, store_uri, hub::FileCheck::kWhole, hub::SchemaUpgrade::kMigrate);
  if (!store.ok()) {
    lock_.reset();
    return store.status();
  }
  store_ = *std::move(store);
  {
    absl::MutexLock l(&log_mu_);
    log_ = std::fopen((data_dir + "/serve.log").c_str(), "a");
  }
  handler_ = std::make_unique<hub::SyncHandler>(
      store_.get(), SystemClock::Get(), /*verbose=*/true, [this](const std::string& line, bool) {
        absl::MutexLock l(&log_mu_);
        if (log_ == nullptr) return;
        std::fprintf(log_, "fieldhub: %s\n", line.c_str());
        std::fflush(log_);
      });
  return absl::OkStatus();
}

void InProcessHub::Stop() {
  handler_.reset();
  store_.reset();
  lock_.reset();
  absl::MutexLock l(&log_mu_);
  if (log_ != nullptr) std::fclose(log_);
  log_ = nullptr;
}

sync::Transport* InProcessHub::transport() { return handler_.get(); }

}  // namespace fieldsync::testing
