// `fieldnode unlock` / `fieldnode lock`: a small key agent, as ssh-agent is
// for SSH keys. Unlocking runs Argon2id once (about a second) and leaves a
// background process holding the device's keys in memory it allocates and
// locks itself (sodium_malloc; the unlocking process's copies are wiped),
// with core dumps and ptrace by others off (PR_SET_DUMPABLE 0), no inherited
// descriptors, listening on the Unix socket DIR/agent.sock (mode 0600, in
// the private data directory; bound under a temporary name and renamed once
// listening). Later fieldnode commands of the same user ask it for the keys
// instead of a passphrase. A peer that connects and stays silent is dropped
// after 1 s. Starting is serialised by a lock on DIR/agent.lock. The agent
// exits, wiping the keys, at `fieldnode lock`, at the end of the period given
// to unlock (default 8h), within 2 s of its socket being removed or replaced
// (its data directory deleted, another agent), on SIGTERM, or when the
// machine shuts down: nothing of it is ever written to disk.
//
// Protocol (version 1, local only): the client sends one byte; the agent
// checks the peer's uid (SO_PEERCRED) is its own and answers:
//   'S'  status:  u64be expiry (Unix ms)
//   'K'  keys:    u64be expiry || device id (16) || Ed25519 secret (64)
//                 || X25519 secret (32)
//   'L'  lock:    u64be 0, then the agent wipes its keys and exits
#ifndef FIELDSYNC_NODE_AGENT_H_
#define FIELDSYNC_NODE_AGENT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "crypto/identity.h"

namespace fieldsync::node {

std::string AgentSocketPath(const std::string& data_dir);

// Forks the agent holding `identity` until `until_millis` (Unix ms); returns
// once it listens. FAILED_PRECONDITION if an agent already runs for `data_dir`.
absl::Status StartAgent(const std::string& data_dir, const crypto::DeviceIdentity& identity,
                        int64_t until_millis);

// The keys from a running agent; nullopt if none runs (a stale socket is removed).
absl::StatusOr<std::optional<crypto::DeviceIdentity>> AgentIdentity(const std::string& data_dir);

// The running agent's expiry (Unix ms); nullopt if none runs.
std::optional<int64_t> AgentExpiry(const std::string& data_dir);

// Asks the agent to wipe its keys and exit. False if none was running.
bool StopAgent(const std::string& data_dir);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_AGENT_H_
