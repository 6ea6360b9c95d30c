#include "node/console/keys.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "clock/clock_source.h"
#include "node/agent.h"
#include "node/ops/messages.h"
#include "node/passphrase.h"
#include "node/session.h"

namespace fieldsync::node::console {

void KeyWatch::Begin() { busy_.fetch_add(1); }

void KeyWatch::End() {
  last_activity_.store(SystemClock::Get()->NowMillis());
  if (busy_.load() > 0) busy_.fetch_sub(1);
}

std::optional<int64_t> KeyWatch::Until() const { return AgentExpiry(dir_.path); }

absl::Status KeyWatch::Unlock(std::string passphrase) {
  if (Until()) {
    Wipe(passphrase);
    return absl::OkStatus();
  }
  auto kept = UnlockWithPassphrase(dir_, std::move(passphrase),
                                   SystemClock::Get()->NowMillis() + kUnlockMillis);
  if (!kept.ok()) return kept.status();
  std::lock_guard<std::mutex> l(mu_);
  kept_.emplace(*std::move(kept));
  audited_.Clear();
  return absl::OkStatus();
}

void KeyWatch::Lock() {
  std::lock_guard<std::mutex> l(mu_);
  kept_.reset();
  audited_.Clear();
  StopAgent(dir_.path);
}

bool KeyWatch::LockIfIdle() {
  if (busy_.load() > 0 ||
      SystemClock::Get()->NowMillis() - last_activity_.load() < idle_millis_) {
    return false;
  }
  std::lock_guard<std::mutex> l(mu_);
  kept_.reset();
  audited_.Clear();
  return StopAgent(dir_.path);
}

absl::StatusOr<std::optional<crypto::DeviceIdentity>> KeyWatch::Identity() {
  std::lock_guard<std::mutex> l(mu_);
  if (kept_ && kept_->alive()) return std::optional<crypto::DeviceIdentity>(kept_->identity.Clone());
  kept_.reset();
  audited_.Clear();  // another agent: another unlock
  auto kept = KeepAgent(dir_.path);
  if (!kept.ok()) {
    return ops::Coded(
        absl::FailedPreconditionError(absl::StrCat(
            "the key agent does not serve this console (", kept.status().message(), "); if the "
            "keys were unlocked outside the console while it ran, lock them (Khoá) and unlock "
            "here")),
        ops::Msg::kAgentNotServing);
  }
  if (!*kept) return std::optional<crypto::DeviceIdentity>();
  kept_.emplace(*std::move(*kept));
  return std::optional<crypto::DeviceIdentity>(kept_->identity.Clone());
}

absl::StatusOr<std::unique_ptr<ConsoleOffice>> OpenConsoleOffice(KeyWatch& watch,
                                                                 const std::string& officer) {
  const DataDir& dir = watch.dir();
  auto out = std::make_unique<ConsoleOffice>();
  auto r = OpenReplicaIn(dir);
  if (!r.ok()) return r.status();
  out->replica = *std::move(r);
  auto hub = LoadHubConfig(dir.path);
  if (!hub.ok()) return hub.status();
  out->hub = *hub;
  auto keys = KeyRing::Open(out->replica.get(), out->hub.province);
  if (!keys.ok()) return keys.status();
  out->keys = *std::move(keys);
  // The agent only: never a passphrase from a file or the environment.
  auto id = watch.Identity();
  if (!id.ok()) return id.status();
  if (*id) FS_RETURN_IF_ERROR(out->keys->Unlock(*std::move(*id)));
  out->replica->SetSecurity(out->keys->Security());
  out->office.reset(new ops::Office{*out->replica, *out->keys, out->hub.province, officer,
                                    kConsoleUnlockHint});
  out->office->audited = &watch.audited();
  return out;
}

}  // namespace fieldsync::node::console
