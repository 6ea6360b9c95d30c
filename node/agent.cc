#include "node/agent.h"

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "clock/clock_source.h"
#include "crypto/secret.h"
#include "node/agent_client.h"
#include "node/agent_exec.h"
#include "node/agent_serve.h"
#include "node/agent_wire.h"

namespace fieldsync::node {
namespace {

using agent_wire::GetU64;
using agent_wire::kHeldBytes;
using agent_wire::kPublicReply;
using agent_wire::Ticks;
using agent_client::AgentKeys;
using agent_client::Ask;
using agent_client::ProgramChanged;
using agent_client::ReadFull;

bool FillAddr(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// ---------------------------------------------------------------------------
// The client

// A connection to the agent; -1 if nothing listens (a socket left by an
// agent that was killed is removed).
absl::StatusOr<int> Connect(const std::string& data_dir) {
  const std::string path = AgentSocketPath(data_dir);
  sockaddr_un addr;
  if (!FillAddr(path, &addr)) return -1;
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  // A Unix stream connect does not wait (EAGAIN when the backlog is full).
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    close(fd);
    if (e == ECONNREFUSED) unlink(path.c_str());
    if (e == EAGAIN) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the key agent at ", path, " is too busy to accept a connection; try again"));
    }
    return -1;
  }
  // The agent must be this user's (the data directory is private, but the
  // socket is checked rather than trusted).
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != getuid()) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "the key agent at ", path, " belongs to another user; remove it and run fieldnode unlock"));
  }
  return fd;
}

// A kept connection to the agent for the device `pub`.
KeptAgent Kept(int fd, crypto::DevicePublic pub, std::string path) {
  auto keys = std::make_shared<AgentKeys>(fd, pub.sign_pk, std::move(path));
  return KeptAgent{crypto::DeviceIdentity::Delegated(std::move(pub), keys),
                   [keys] { return keys->Alive(); }};
}

}  // namespace

std::string AgentSocketPath(const std::string& data_dir) { return data_dir + "/agent.sock"; }

namespace {


// StartAgent, and with `kept` a socket pair made before the fork: the
// agent serves its end as the fieldnode program's; *kept is this process's
// end (close-on-exec, non-blocking). With `kept` (the console, a process
// with threads) the agent is this program executed anew (agent_exec.h);
// without (fieldnode unlock, one thread), a fork of this process.
absl::Status Start(const std::string& data_dir, crypto::DeviceIdentity identity,
                   int64_t until_millis, int* kept) {
  absl::StatusOr<std::string_view> sign_sk = identity.sign_secret();
  absl::StatusOr<std::string_view> box_sk = identity.box_secret();
  if (!sign_sk.ok()) return sign_sk.status();
  if (!box_sk.ok()) return box_sk.status();
  // Absolute: the agent leaves the working directory (chdir "/").
  char* real = realpath(data_dir.c_str(), nullptr);
  if (real == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("cannot resolve ", data_dir, ": ",
                                                      std::strerror(errno)));
  }
  const std::string path = AgentSocketPath(real);
  std::free(real);
  // One unlock at a time per data directory: two would each start an agent.
  const int lock_fd = open((data_dir + "/agent.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
    if (lock_fd >= 0) close(lock_fd);
    return absl::FailedPreconditionError(absl::StrCat("cannot lock ", data_dir, "/agent.lock"));
  }
  struct LockGuard {
    int fd;
    ~LockGuard() { close(fd); }
  } guard{lock_fd};
  if (AgentExpiry(data_dir)) {
    return absl::FailedPreconditionError(
        "the keystore is already unlocked (fieldnode status says until when); run fieldnode "
        "lock first to unlock it for another period");
  }
  // Bound and listening under a temporary name, then renamed into place:
  // a client never finds the socket before the agent answers on it.
  const std::string tmp = absl::StrCat(path, ".", getpid());
  sockaddr_un tmp_addr;
  if (!FillAddr(tmp, &tmp_addr)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the data directory path is too long for the agent's socket (", tmp,
        "); use a shorter --data-dir"));
  }
  unlink(tmp.c_str());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  const mode_t old = umask(0177);  // the socket: 0600
  const int b = bind(fd, reinterpret_cast<sockaddr*>(&tmp_addr), sizeof(tmp_addr));
  umask(old);
  struct stat mine {};
  if (b != 0 || listen(fd, tuning::kAgentListenBacklog) != 0 || rename(tmp.c_str(), path.c_str()) != 0 ||
      stat(path.c_str(), &mine) != 0) {
    const int e = errno;
    close(fd);
    unlink(tmp.c_str());
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", path, ": ", std::strerror(e)));
  }
  int pair[2] = {-1, -1};
  if (kept != nullptr &&
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) != 0) {
    const int e = errno;
    close(fd);
    unlink(path.c_str());
    return absl::InternalError(absl::StrCat("socketpair: ", std::strerror(e)));
  }
  if (kept != nullptr) {
    // The console (threads of its own): the agent is executed afresh, not
    // a bare fork of this process (agent_exec.h).
    absl::Status started = ExecAgent(fd, pair[1], path, mine, std::move(identity), until_millis);
    close(fd);
    close(pair[1]);
    if (!started.ok()) {
      close(pair[0]);
      unlink(path.c_str());
      return started;
    }
    *kept = pair[0];
    return absl::OkStatus();
  }
  // `fieldnode unlock` (and tests): one thread, so a fork without exec.
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    close(fd);
    unlink(path.c_str());
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(e)));
  }
  if (pid == 0) {
    // The agent: a session of its own, no terminal, no inherited output,
    // no other inherited descriptor, no core dumps or ptrace by others.
    setsid();
    if (fork() > 0) _exit(0);  // not a session leader: never gets a terminal
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    const int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    // The listening socket as 3 (moved above it first).
    const int listen_high = fcntl(fd, F_DUPFD, 4);
    if (listen_high < 0 || dup2(listen_high, 3) != 3) _exit(1);
    close_range(4, ~0U, 0);
    if (chdir("/") != 0) _exit(1);
    // Page locks do not survive fork: the keys go into memory this process
    // allocates (and locks; 112 bytes, so not from a slab inherited from the
    // unlocking process), and the inherited copies are wiped (dropping the
    // identity wipes its secrets).
    crypto::SecretBytes held(kHeldBytes);
    std::memcpy(held.data(), identity.device().view().data(), 16);
    std::memcpy(held.data() + 16, sign_sk->data(), crypto::kSignSecretBytes);
    std::memcpy(held.data() + 80, box_sk->data(), crypto::kBoxSecretBytes);
    std::string sign_pk = identity.public_keys().sign_pk;
    std::string box_pk = identity.public_keys().box_pk;
    { crypto::DeviceIdentity inherited = std::move(identity); }
    ServeAgent(AgentServe{3, -1, path, mine, std::move(held),
                          std::move(sign_pk), std::move(box_pk), until_millis});
  }
  close(fd);
  int status = 0;
  waitpid(pid, &status, 0);  // the first child exits at once
  return absl::OkStatus();
}

}  // namespace

absl::Status StartAgent(const std::string& data_dir, crypto::DeviceIdentity identity,
                        int64_t until_millis) {
  return Start(data_dir, std::move(identity), until_millis, nullptr);
}

absl::StatusOr<KeptAgent> StartKeptAgent(const std::string& data_dir,
                                         crypto::DeviceIdentity identity, int64_t until_millis) {
  crypto::DevicePublic pub = identity.public_keys();
  int fd = -1;
  FS_RETURN_IF_ERROR(Start(data_dir, std::move(identity), until_millis, &fd));
  return Kept(fd, std::move(pub), AgentSocketPath(data_dir));
}

absl::StatusOr<std::optional<KeptAgent>> KeepAgent(const std::string& data_dir) {
  absl::StatusOr<int> fd = Connect(data_dir);
  if (!fd.ok()) return fd.status();
  if (*fd < 0) return std::optional<KeptAgent>();
  const std::string path = AgentSocketPath(data_dir);
  std::optional<uint8_t> status = Ask(*fd, "P");
  unsigned char reply[kPublicReply];
  if (status && *status == kAgentOk &&
      !ReadFull(*fd, reply, sizeof(reply), Ticks() + kAgentClientMillis)) {
    status.reset();
  }
  if (!status || *status != kAgentOk) {
    close(*fd);
    if (status && *status == kAgentNotTheProgram) {
      return absl::FailedPreconditionError(ProgramChanged());
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "the key agent at ", path, " did not answer as expected (an agent of an older "
        "fieldnode?): run fieldnode lock, then fieldnode unlock"));
  }
  // From here on this process holds what opens the office's data: no core
  // dump, no ptrace by the user's other processes.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  crypto::DevicePublic pub;
  auto device = Id16::FromBytes(
      std::string_view(reinterpret_cast<const char*>(reply) + 8, 16), "agent device id");
  if (!device.ok()) {
    close(*fd);
    return device.status();
  }
  pub.device = *device;
  pub.sign_pk.assign(reinterpret_cast<const char*>(reply) + 24, 32);
  pub.box_pk.assign(reinterpret_cast<const char*>(reply) + 56, 32);
  if (absl::Status s = crypto::CheckDevicePublic(pub); !s.ok()) {
    close(*fd);
    return s;
  }
  return std::optional<KeptAgent>(Kept(*fd, std::move(pub), path));
}

absl::StatusOr<std::optional<crypto::DeviceIdentity>> AgentIdentity(const std::string& data_dir) {
  auto kept = KeepAgent(data_dir);
  if (!kept.ok()) return kept.status();
  if (!*kept) return std::optional<crypto::DeviceIdentity>();
  return std::optional<crypto::DeviceIdentity>(std::move((*kept)->identity));
}

std::optional<int64_t> AgentExpiry(const std::string& data_dir) {
  absl::StatusOr<int> fd = Connect(data_dir);
  if (!fd.ok() || *fd < 0) return std::nullopt;
  std::optional<uint8_t> status = Ask(*fd, "S");
  unsigned char rest[9];
  const bool ok = status && *status == kAgentOk &&
                  ReadFull(*fd, rest, sizeof(rest), Ticks() + kAgentClientMillis) &&
                  rest[0] == kAgentProtocolVersion;
  close(*fd);
  if (!ok) return std::nullopt;
  return static_cast<int64_t>(GetU64(rest + 1));
}

bool StopAgent(const std::string& data_dir) {
  absl::StatusOr<int> fd = Connect(data_dir);
  if (!fd.ok() || *fd < 0) return false;
  // Version 1 agents answered 'L' with eight zero bytes: the first is ours.
  std::optional<uint8_t> status = Ask(*fd, "L");
  close(*fd);
  return status && *status == kAgentOk;
}

}  // namespace fieldsync::node
