// The key agent started by exec rather than by a bare fork (agent.h,
// StartKeptAgent; docs/CONSOLE.md, "Known defects", attack review 86 LOW 8):
// a process with threads (the console, httplib's) forks a child that does
// nothing but place descriptors and exec this very program (/proc/self/exe)
// as `fieldnode __agent`; the new program, one thread and its own heap,
// reads the keys from a socket and serves them (agent_serve.h). Internal to
// node/agent*.cc and the program's main.
//
// Descriptors of the executed agent: 3 the listening socket (bound and
// renamed into place by the unlocking process), 4 the agent's end of the
// socket pair made at unlock, 5 the agent's end of a socket pair carrying
// what it serves, written whole by the unlocking process before the fork
// (a socket, not a pipe: /proc/PID/fd/5 of the new process, dumpable for
// the instant before it calls prctl, cannot be opened by another process):
//   u64 until (Unix ms), u64 socket st_dev, u64 socket st_ino,
//   held keys (agent_wire::kHeldBytes), Ed25519 public key (32),
//   X25519 public key (32), u16 path length (1..107), the socket's path.
#ifndef FIELDSYNC_NODE_AGENT_EXEC_H_
#define FIELDSYNC_NODE_AGENT_EXEC_H_

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "crypto/identity.h"

namespace fieldsync::node {

// The word that makes the fieldnode program the agent (not a command: never
// in help, refused without the descriptors above).
inline constexpr char kAgentExecWord[] = "__agent";

// Forks a child that execs this program as the agent with `listen_fd`,
// `pair_fd` and the keys of `identity` (wiped here once written); returns
// once the agent has read them and detached (the child it waits for exits
// 0), else INTERNAL. Between the fork and the exec the child calls only
// async-signal-safe functions (no allocation).
absl::Status ExecAgent(int listen_fd, int pair_fd, const std::string& path,
                       const struct stat& socket_stat, crypto::DeviceIdentity identity,
                       int64_t until_millis);

// `fieldnode __agent`: the executed agent (never returns if it serves); 1
// if the descriptors or what came on 5 are not as above.
int RunExecutedAgent();

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_AGENT_EXEC_H_
