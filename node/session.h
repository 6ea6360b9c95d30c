// What every fieldnode command shares: the data directory, the replica with
// its key ring (unlocked from the key agent, a passphrase, or not at all),
// error reporting with the documented exit codes, and value formatting.
#ifndef FIELDSYNC_NODE_SESSION_H_
#define FIELDSYNC_NODE_SESSION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/args.h"
#include "crypto/identity.h"
#include "node/agent.h"
#include "node/client.h"
#include "store/data_dir.h"
#include "store/keyring.h"
#include "store/replica.h"

namespace fieldsync::node {

// Exit codes (README, `fieldnode help`).
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

DataDir NodeDir(const Args& args);
std::string KeystorePath(const DataDir& dir);

// The device's keys: from the key agent if one runs (fieldnode unlock; a
// delegated identity: the agent signs and opens), else from a passphrase if
// one is at hand (asked on the terminal only if `ask`); nullopt if neither.
// A passphrase that opens the keystore but breaks the rule
// (node/passphrase_rule.h) must be replaced at once: by
// --new-passphrase-file, else asked twice if standard input is a terminal;
// else FAILED_PRECONDITION saying to run `fieldnode passphrase`, nothing
// changed. The process is made non-dumpable before it holds any secret.
absl::StatusOr<std::optional<crypto::DeviceIdentity>> MaybeUnlock(const Args& args,
                                                                  const DataDir& dir, bool ask);
// The keystore opened with `pass` (Argon2id, about a second); `*rule` says
// whether `pass` meets the passphrase rule (node/passphrase_rule.h).
absl::StatusOr<crypto::DeviceIdentity> OpenKeystoreWith(const DataDir& dir,
                                                        const std::string& pass,
                                                        absl::Status* rule);
// What `fieldnode unlock` does with a passphrase in hand (the console's
// unlock: node/console/): opens the keystore and starts the key agent
// (node/agent.h) until `until_millis`, keeping the connection made at
// unlock (StartKeptAgent: this process is non-dumpable from here on, so it
// could not be checked on a later connection); `pass` is wiped. A
// passphrase that breaks the rule is refused (FAILED_PRECONDITION: change it
// on a terminal with `fieldnode passphrase`), nothing started.
absl::StatusOr<KeptAgent> UnlockWithPassphrase(const DataDir& dir, std::string pass,
                                               int64_t until_millis);
// As MaybeUnlock, asking on the terminal; FAILED_PRECONDITION saying how to
// unlock if there is no way.
absl::StatusOr<crypto::DeviceIdentity> MustUnlock(const Args& args, const DataDir& dir,
                                                  std::string_view why);
// PR_SET_DUMPABLE 0: no core dump, and no ptrace or /proc/PID/mem by the
// user's other processes, for a process holding keys or a passphrase.
void KeepSecretsFromOtherProcesses();
// Replaces the keystore's passphrase `current` by a new one that meets the
// rule: from --new-passphrase-file, else asked twice on the terminal. The
// error says why and that nothing was changed.
absl::Status ReplacePassphrase(const Args& args, const DataDir& dir, std::string_view current);
// The one line saying how to unlock.
std::string UnlockHint();

struct Session {
  std::unique_ptr<Replica> replica;
  std::unique_ptr<KeyRing> keys;
  HubConfig hub;
  Credential cred;
  std::unique_ptr<SyncClient> client;
};

// The replica's key ring, unlocked if possible, with signing, verification
// and sealing installed. `s->replica` must be open.
absl::Status OpenKeys(const Args& args, const DataDir& dir, bool ask, Session* s);
// The replica and its key ring, no hub connection.
absl::StatusOr<Session> OpenLocal(const Args& args, bool ask);

// The replica, its key ring, the credential and a sync client for its hub
// (`pull_batch` records per pull message; 0: the hub's default).
absl::StatusOr<Session> OpenSyncSession(const Args& args, uint32_t pull_batch, bool ask);

// The officer using the laptop, for the access log and new cases:
// --officer, else $FIELDSYNC_OFFICER, else the login name.
std::string Officer(const Args& args);

// Prints "fieldnode: MESSAGE" and returns 1.
int Fail(const absl::Status& s);
// The same for what came back from the hub: 3 if it could not be reached
// (retrying later may work), else 1.
int FailHub(const absl::Status& s);
// Prints "fieldnode: WHAT; run `fieldnode help`" (or `fieldnode CMD --help`
// once SetHelpCommand(CMD) was called) and returns 2.
int Usage(const std::string& what);
void SetHelpCommand(const std::string& cmd);

// A field's value as a person reads it.
std::string ShowValue(const Value& v);

std::string Now();

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_SESSION_H_
