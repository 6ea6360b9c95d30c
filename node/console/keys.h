// The console's keys (docs/CONSOLE.md, "Unlocking and the idle lock"): the
// console unlocks as `fieldnode unlock` does -- the passphrase posted once
// opens the keystore and starts the key agent (node/agent.h,
// UnlockWithPassphrase) -- and every request opens the replica with the
// agent's delegated identity if one runs, else locked: no passphrase from
// a file or the environment, so a locked console has no key. "Khoá" and
// the idle lock stop the agent (as `fieldnode lock`).
#ifndef FIELDSYNC_NODE_CONSOLE_KEYS_H_
#define FIELDSYNC_NODE_CONSOLE_KEYS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
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

 private:
  const DataDir dir_;
  const int64_t idle_millis_;
  std::atomic<int64_t> last_activity_{0};
  std::atomic<int> busy_{0};
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

absl::StatusOr<std::unique_ptr<ConsoleOffice>> OpenConsoleOffice(const DataDir& dir,
                                                                 const std::string& officer);

}  // namespace fieldsync::node::console

#endif  // FIELDSYNC_NODE_CONSOLE_KEYS_H_
