#include "node/console/keys.h"

#include <utility>

#include "base/status_macros.h"
#include "clock/clock_source.h"
#include "node/agent.h"
#include "node/session.h"

namespace fieldsync::node::console {

void KeyWatch::Begin() { busy_.fetch_add(1); }

void KeyWatch::End() {
  last_activity_.store(SystemClock::Get()->NowMillis());
  if (busy_.load() > 0) busy_.fetch_sub(1);
}

std::optional<int64_t> KeyWatch::Until() const { return AgentExpiry(dir_.path); }

absl::Status KeyWatch::Unlock(std::string passphrase) {
  if (Until()) return absl::OkStatus();
  return UnlockWithPassphrase(dir_, std::move(passphrase),
                              SystemClock::Get()->NowMillis() + kUnlockMillis);
}

void KeyWatch::Lock() { StopAgent(dir_.path); }

bool KeyWatch::LockIfIdle() {
  if (busy_.load() > 0 ||
      SystemClock::Get()->NowMillis() - last_activity_.load() < idle_millis_) {
    return false;
  }
  return StopAgent(dir_.path);
}

absl::StatusOr<std::unique_ptr<ConsoleOffice>> OpenConsoleOffice(const DataDir& dir,
                                                                 const std::string& officer) {
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
  auto id = AgentIdentity(dir.path);
  if (!id.ok()) return id.status();
  if (*id) FS_RETURN_IF_ERROR(out->keys->Unlock(*std::move(*id)));
  out->replica->SetSecurity(out->keys->Security());
  out->office.reset(new ops::Office{*out->replica, *out->keys, out->hub.province, officer,
                                    kConsoleUnlockHint});
  return out;
}

}  // namespace fieldsync::node::console
