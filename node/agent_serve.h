// The key agent's own process (agent.h: what it does, its protocol), as
// StartAgent (agent.cc) runs it after forking, or `fieldnode __agent`
// (agent_exec.h) once executed. Internal to node/agent*.cc.
#ifndef FIELDSYNC_NODE_AGENT_SERVE_H_
#define FIELDSYNC_NODE_AGENT_SERVE_H_

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "crypto/secret.h"

namespace fieldsync::node {

struct AgentServe {
  int listen_fd = -1;       // listening on `path`
  // The agent's end of a socket pair made by the unlocking process before
  // it forked the agent, or -1: served as the fieldnode program's, without
  // a look at /proc/PID/exe (agent.h, "The connection made at unlock").
  int parent_fd = -1;
  std::string path;         // the socket, as it was bound
  struct stat socket_stat {};
  crypto::SecretBytes held;  // device id (16), Ed25519 secret (64), X25519 secret (32)
  std::string sign_pk, box_pk;
  int64_t until_millis = 0;  // Unix ms
};

// Serves until the deadline, a lock, or the socket gone; then wipes the
// keys and exits the process.
[[noreturn]] void ServeAgent(AgentServe a);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_AGENT_SERVE_H_
