// `fieldnode unlock` / `fieldnode lock`: a small key agent, as ssh-agent is
// for SSH keys. Unlocking runs Argon2id once (about a second) and leaves a
// background process holding the device's keys in memory it allocates and
// locks itself (sodium_malloc; the unlocking process's copies are wiped),
// with core dumps and ptrace by others off (PR_SET_DUMPABLE 0), no inherited
// descriptors, listening on the Unix socket DIR/agent.sock (mode 0600, in
// the private data directory; bound under a temporary name and renamed once
// listening). The agent signs and opens sealed boxes itself: the secret
// keys never leave it, whoever asks. Later fieldnode commands of the same
// user get a delegated crypto::DeviceIdentity whose Sign and OpenSealed ask
// the agent. Starting is serialised by a lock on DIR/agent.lock. The agent
// exits, wiping the keys, at `fieldnode lock`, at the end of the period given
// to unlock (default 8h), within 2 s of its socket being removed or replaced
// (its data directory deleted, another agent), on SIGTERM, or when the
// machine shuts down: nothing of it is ever written to disk.
//
// Protocol (version 3, local only; docs/FORMATS.md, "Key agent socket").
// The agent serves only peers of its own uid (SO_PEERCRED). At accept it
// also notes whether the peer runs the very program the agent runs (the
// peer's /proc/PID/exe and the agent's own, as captured at its start, are
// one file: same st_dev and st_ino): P, G, O, X, U and Q are served only to such a
// peer ("the fieldnode program"); S and L to any peer of the uid, so that
// `fieldnode lock` still works after an upgrade replaced the program. The
// check is made when the connection is taken, and connections are taken
// first: every pass of the agent's loop takes all that wait, and again
// before each step it serves, so a new connection waits for its check at
// most one step of another peer's (docs/CRYPTO.md, "The key agent", says
// what the check does not defend against).
//
// A connection carries any number of requests, one at a time: a command
// byte and its arguments. The agent never waits on a peer: it serves
// connections with poll, a bounded step at a time (what has come of a
// request is kept for the connection until the request is whole; an
// answer the socket does not take at once is written as the peer reads).
// A request must arrive whole, and its answer be taken, within
// kAgentRequestMillis of its first byte, else the connection is dropped: a
// silent, trickling or deaf peer holds up neither the agent nor its other
// clients. Idle connections stay open (a fieldnode command keeps one for
// its whole run: after its first answer the command makes itself
// non-dumpable, and the agent could no longer check it on a new
// connection); at most kAgentMaxConnections. A newcomer beyond that takes
// the place of a connection its peer closed, else of one that is not the
// fieldnode program's (idle ones first, the longest idle first); a
// connection of the fieldnode program is never closed for a newcomer: if
// all are, the newcomer is closed.
// Every reply begins with a status byte: 0 done, then the answer; else a
// refusal, and for refusals 1, 2 and 4 the agent closes the connection:
//   1 P, G, O, X, U or Q from a peer that is not the fieldnode program
//   2 a malformed request (a length out of bounds, a NUL in a domain)
//   3 O: the box does not open with the device's key (connection kept)
//   4 an unknown command (there is no other: v1's K, which answered the
//     secret keys, is gone)
//   5 U: the index's key is not the update's base (connection kept)
//   6 U: the index would hold more than kAgentMaxIndexBytes of text or
//     kAgentMaxIndexEntries cases (agent_index.h); the index is dropped
//     (connection kept). Added in session 25 within version 3: an older
//     client reads it as any refusal.
// Numbers are big-endian.
//   'S'  status:  -> 0, u8 protocol version (3), u64 expiry (Unix ms)
//   'P'  public:  -> 0, u64 expiry, device id (16), Ed25519 public key (32),
//                    X25519 public key (32)
//   'G'  sign:    u8 domain length (1..64), domain, u32 message length
//                 (0..kAgentMaxMessage), message
//                 -> 0, Ed25519 signature (64) over domain || 0x00 || message
//                    (as crypto::DeviceIdentity::Sign)
//   'O'  open:    u16 length (48..kAgentMaxSealed), sealed box
//                 -> 0, u16 length, plaintext (crypto_box_seal_open with the
//                    device's X25519 key pair); or 3
//   'L'  lock:    -> 0, then the agent wipes its keys, removes the socket
//                    and exits
// Version 3 adds the search index of case names (agent_index.h); a key is
// u64 log head, u64 cases' row slot, u64 persons' row slot (NameIndexKey):
//   'X'  index state: -> 0, u8 ready (0/1), key, u32 entries
//   'U'  update:  u8 flags (1 reset, 2 final), key base, key new, u32 body
//                 length (0..kAgentMaxIndexUpdate), body: entries, each
//                 case id (16), u32 length (0..kAgentMaxIndexText, or
//                 0xFFFFFFFF: remove the case), folded text
//                 -> 0; or 5 (the index's key is not `base`, reset unset);
//                    or 6 (the index would pass its bound: dropped)
//   'Q'  query:   u16 length (1..kAgentMaxIndexQuery), folded query
//                 -> 0, u8 ready; if 1: u32 n, n case ids (16 each) holding
//                    every word of the query, in id order
#ifndef FIELDSYNC_NODE_AGENT_H_
#define FIELDSYNC_NODE_AGENT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "base/tuning.h"
#include "crypto/identity.h"

namespace fieldsync::node {

inline constexpr uint8_t kAgentProtocolVersion = 3;
// Its timeouts and the most connections it holds: base/tuning.h.
using tuning::kAgentClientMillis;
using tuning::kAgentMaxConnections;
using tuning::kAgentRequestMillis;
inline constexpr size_t kAgentMaxDomain = 64;
// The largest message signed: a commit of the most row changes allowed
// (36 bytes and a 32-byte digest per change), with room to spare.
inline constexpr size_t kAgentMaxMessage = 512 * 1024;
static_assert(36 + 32 * tuning::kMaxRowChangesPerCommit <= kAgentMaxMessage);
// The largest sealed box opened (an office key share is 96 bytes).
inline constexpr size_t kAgentMaxSealed = 1024;

// Status bytes of the replies.
enum AgentReply : uint8_t {
  kAgentOk = 0,
  kAgentNotTheProgram = 1,
  kAgentMalformed = 2,
  kAgentDoesNotOpen = 3,
  kAgentUnknownCommand = 4,
  kAgentIndexMoved = 5,
  // U: the index would pass kAgentMaxIndexBytes or kAgentMaxIndexEntries;
  // dropped (session 25; an older client reads it as a refusal).
  kAgentIndexFull = 6,
};

std::string AgentSocketPath(const std::string& data_dir);

// Forks the agent holding `identity` (a local one: its secret keys are
// copied into the agent's own locked memory, and the copy the agent
// inherited is wiped) until `until_millis` (Unix ms); returns once it
// listens. The agent serves the program that runs this function.
// FAILED_PRECONDITION if an agent already runs for `data_dir`, or if
// `identity` is delegated.
absl::Status StartAgent(const std::string& data_dir, crypto::DeviceIdentity identity,
                        int64_t until_millis);

// A connection to the agent that a long-lived process keeps (the console):
// the delegated identity over it (Clone it for each use: the clones share
// the connection), and whether the agent still holds the connection (false
// once it locked, expired or was killed; then ask for a new one).
struct KeptAgent {
  crypto::DeviceIdentity identity;
  std::function<bool()> alive;
};

// As StartAgent, and keeps a connection made before the fork ("The
// connection made at unlock" above): it serves this process even once it
// is non-dumpable, which a connection through the socket would not for an
// ordinary user. For a process with threads (the console): the agent is
// this program executed anew as `fieldnode __agent` (node/agent_exec.h),
// not a fork that goes on running this process's code, so this is only
// for the fieldnode program itself.
absl::StatusOr<KeptAgent> StartKeptAgent(const std::string& data_dir,
                                         crypto::DeviceIdentity identity, int64_t until_millis);

// AgentIdentity's connection with its liveness (same errors, same
// non-dumpable process after the agent answered).
absl::StatusOr<std::optional<KeptAgent>> KeepAgent(const std::string& data_dir);

// A delegated identity whose Sign and OpenSealed ask the running agent over
// one connection kept for the life of the identity (and its clones); nullopt
// if no agent runs (a stale socket is removed). Once the agent answered,
// this process is made non-dumpable (PR_SET_DUMPABLE 0: no core dump, no
// ptrace or /proc/PID/mem by other processes of the user): the office keys
// it will open must not be readable from outside. FAILED_PRECONDITION with
// one line saying what to do if the agent refuses (the fieldnode program
// changed since unlock), belongs to another user, or does not answer.
absl::StatusOr<std::optional<crypto::DeviceIdentity>> AgentIdentity(const std::string& data_dir);

// The running agent's expiry (Unix ms); nullopt if none runs (or it does
// not speak this protocol version).
std::optional<int64_t> AgentExpiry(const std::string& data_dir);

// Asks the agent to wipe its keys and exit. False if none was running.
bool StopAgent(const std::string& data_dir);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_AGENT_H_
