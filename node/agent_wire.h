// What the key agent (agent_serve.cc) and its clients (agent.cc) share
// beyond agent.h: the layout of the keys it holds and of its answer to P,
// big-endian numbers, monotonic deadlines. Internal to node/agent*.cc.
#ifndef FIELDSYNC_NODE_AGENT_WIRE_H_
#define FIELDSYNC_NODE_AGENT_WIRE_H_

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace fieldsync::node::agent_wire {

// The keys the agent holds, in one allocation of its own: device id (16),
// Ed25519 secret key (64), X25519 secret key (32).
constexpr size_t kHeldBytes = 16 + 64 + 32;
// 'P': expiry, device id, two public keys.
constexpr size_t kPublicReply = 8 + 16 + 32 + 32;

inline void PutU64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * (7 - i)));
}
inline uint64_t GetU64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// Monotonic milliseconds, for deadlines.
inline int64_t Ticks() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline bool WouldBlock(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

}  // namespace fieldsync::node::agent_wire

#endif  // FIELDSYNC_NODE_AGENT_WIRE_H_
