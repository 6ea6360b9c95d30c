// The console's keys (docs/CONSOLE.md, "Unlocking and the idle lock"): the
// console unlocks as `fieldnode unlock` does -- the passphrase posted once
// opens the keystore and starts the key agent (node/agent.h,
// UnlockWithPassphrase) -- and every request opens the replica with the
// agent's delegated identity if one runs, else locked: no passphrase from
// a file or the environment, so a locked console has no key. "Khoá" and
// the idle lock stop the agent (as `fieldnode lock`).
//
// The console talks to the agent over one connection it keeps: the one
// made at its unlock (StartKeptAgent), or, for an agent started by
// `fieldnode unlock`, the first one it makes (while it is still dumpable, so
// that the agent can check it is the fieldnode program). Once non-dumpable,
// a console of an ordinary user could not be checked on a new connection
// (only root reads a non-dumpable process's /proc/PID/exe).
#ifndef FIELDSYNC_NODE_CONSOLE_KEYS_H_
#define FIELDSYNC_NODE_CONSOLE_KEYS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "node/agent.h"
#include "node/client.h"
#include "node/ops/office.h"
#include "store/data_dir.h"
#include "store/keyring.h"
#include "store/replica.h"

namespace fieldsync::node::console {

// How long the agent the console starts lives at most (as unlock's --for).
inline constexpr int64_t kUnlockMillis = 8 * 3600 * 1000LL;

class KeyWatch {
 public:
  KeyWatch(DataDir dir, int64_t idle_millis) : dir_(std::move(dir)), idle_millis_(idle_millis) {
    End();
  }

  const DataDir& dir() const { return dir_; }
  int64_t idle_millis() const { return idle_millis_; }

  // A request of the signed-in browser begins, ends: never idle between,
  // the idle time starts again at its end.
  void Begin();
  void End();
  // The agent's expiry if the keys are unlocked.
  std::optional<int64_t> Until() const;
  // Unlocks (the passphrase is wiped); OK at once if already unlocked.
  absl::Status Unlock(std::string passphrase);
  void Lock();
  // Locks if unlocked and idle longer than the idle time; true if it did.
  bool LockIfIdle();
  // The agent's delegated identity over the kept connection (made now if
  // there is none and an agent runs); nullopt if no agent runs.
  // FAILED_PRECONDITION if the agent refuses this console (keys unlocked
  // by `fieldnode unlock` after the console became non-dumpable).
  absl::StatusOr<std::optional<crypto::DeviceIdentity>> Identity();
  // The openings already in the access log since the keys were unlocked
  // (ops::AuditMemo): cleared at every lock, unlock or new agent.
  ops::AuditMemo& audited() { return audited_; }

 private:
  const DataDir dir_;
  const int64_t idle_millis_;
  std::atomic<int64_t> last_activity_{0};
  std::atomic<int> busy_{0};
  std::mutex mu_;
  std::optional<KeptAgent> kept_;  // guarded by mu_
  ops::AuditMemo audited_;
};

// One request's view of the laptop: the replica, its key ring (unlocked
// through the agent if one runs) and the office of the node library.
struct ConsoleOffice {
  std::unique_ptr<Replica> replica;
  std::unique_ptr<KeyRing> keys;
  HubConfig hub;
  std::unique_ptr<ops::Office> office;
};
// The unlock hint of the console's office (ops::Office::unlock_hint).
inline constexpr char kConsoleUnlockHint[] = "unlock the console with the passphrase (Mở khoá)";

absl::StatusOr<std::unique_ptr<ConsoleOffice>> OpenConsoleOffice(KeyWatch& keys,
                                                                 const std::string& officer);

}  // namespace fieldsync::node::console

#endif  // FIELDSYNC_NODE_CONSOLE_KEYS_H_
