// The key agent started by exec (agent_exec.h): the unlocking side, which
// forks and execs, and the executed side, `fieldnode __agent`.
#include "node/agent_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crypto/secret.h"
#include "node/agent_serve.h"
#include "node/agent_wire.h"

namespace fieldsync::node {
namespace {

using agent_wire::GetU64;
using agent_wire::kHeldBytes;
using agent_wire::PutU64;
using agent_wire::Ticks;

// until, st_dev, st_ino, the held keys, the two public keys, the path's length.
constexpr size_t kHead = 24 + kHeldBytes + 32 + 32 + 2;
constexpr size_t kMaxPath = 107;  // sockaddr_un's sun_path, its NUL aside
constexpr int kListenFd = 3;
constexpr int kPairFd = 4;
constexpr int kKeysFd = 5;
constexpr int64_t kReadMillis = 10000;

// Reads exactly `n` bytes from `fd` by `deadline` (Ticks).
bool ReadAll(int fd, unsigned char* p, size_t n, int64_t deadline) {
  size_t got = 0;
  while (got < n) {
    const int64_t left = deadline - Ticks();
    if (left <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t r = read(fd, p + got, n - got);
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
      return false;
    }
  }
  return true;
}

bool IsStreamSocket(int fd, bool listening) {
  int v = 0;
  socklen_t len = sizeof(v);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) != 0 || v != SOCK_STREAM) return false;
  if (!listening) return true;
  len = sizeof(v);
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v == 1;
}

}  // namespace

absl::Status ExecAgent(int listen_fd, int pair_fd, const std::string& path,
                       const struct stat& socket_stat, crypto::DeviceIdentity identity,
                       int64_t until_millis) {
  absl::StatusOr<std::string_view> sign_sk = identity.sign_secret();
  absl::StatusOr<std::string_view> box_sk = identity.box_secret();
  if (!sign_sk.ok()) return sign_sk.status();
  if (!box_sk.ok()) return box_sk.status();
  if (path.empty() || path.size() > kMaxPath) {
    return absl::InvalidArgumentError(absl::StrCat("the agent's socket path is too long: ", path));
  }
  int keys[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, keys) != 0) {
    return absl::InternalError(absl::StrCat("socketpair: ", std::strerror(errno)));
  }
  {
    // What the agent serves, written whole now: a few hundred bytes, held
    // by the socket until the agent reads them.
    crypto::SecretBytes blob(kHead + path.size());
    unsigned char* p = blob.data();
    PutU64(p, static_cast<uint64_t>(until_millis));
    PutU64(p + 8, static_cast<uint64_t>(socket_stat.st_dev));
    PutU64(p + 16, static_cast<uint64_t>(socket_stat.st_ino));
    std::memcpy(p + 24, identity.device().view().data(), 16);
    std::memcpy(p + 40, sign_sk->data(), 64);
    std::memcpy(p + 104, box_sk->data(), 32);
    std::memcpy(p + 24 + kHeldBytes, identity.public_keys().sign_pk.data(), 32);
    std::memcpy(p + 24 + kHeldBytes + 32, identity.public_keys().box_pk.data(), 32);
    p[kHead - 2] = static_cast<unsigned char>(path.size() >> 8);
    p[kHead - 1] = static_cast<unsigned char>(path.size() & 0xff);
    std::memcpy(p + kHead, path.data(), path.size());
    size_t put = 0;
    while (put < blob.size()) {
      const ssize_t w = write(keys[0], p + put, blob.size() - put);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        const int e = errno;
        close(keys[0]);
        close(keys[1]);
        return absl::InternalError(absl::StrCat("writing to the agent: ", std::strerror(e)));
      }
      put += static_cast<size_t>(w);
    }
  }  // the blob wiped
  { crypto::DeviceIdentity dropped = std::move(identity); }  // its secrets wiped
  close(keys[0]);  // what was written stays readable at keys[1]
  // Everything the child uses, made before the fork: after it, this
  // process's other threads may hold any lock (the allocator's among them).
  char arg0[] = "fieldnode";
  char arg1[sizeof(kAgentExecWord)];
  std::memcpy(arg1, kAgentExecWord, sizeof(kAgentExecWord));
  char* argv[] = {arg0, arg1, nullptr};
  char* envp[] = {nullptr};
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    close(keys[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(e)));
  }
  if (pid == 0) {
    // Async-signal-safe calls only, up to the exec.
    const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) != 0 || dup2(null, 1) != 1 || dup2(null, 2) != 2) _exit(126);
    // Moved above 5 first, so that no dup2 overwrites another's source.
    const int l = fcntl(listen_fd, F_DUPFD, 6);
    const int q = fcntl(pair_fd, F_DUPFD, 6);
    const int k = fcntl(keys[1], F_DUPFD, 6);
    if (l < 0 || q < 0 || k < 0 || dup2(l, kListenFd) != kListenFd ||
        dup2(q, kPairFd) != kPairFd || dup2(k, kKeysFd) != kKeysFd) {
      _exit(126);
    }
    close_range(6, ~0U, 0);
    execve("/proc/self/exe", argv, envp);
    _exit(127);
  }
  close(keys[1]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(
        "the key agent did not start (fieldnode ", kAgentExecWord, " ended with ",
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
        "); nothing is unlocked"));
  }
  return absl::OkStatus();
}

int RunExecutedAgent() {
  // Before anything is read: no core dump, no ptrace, no /proc/PID/fd or
  // mem by the user's other processes (an exec made this process dumpable).
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // The unlocking process's signal mask and ignored signals would pass
  // through the exec: SIGTERM and the like must end the agent (agent.h).
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) signal(sig, SIG_DFL);
  if (!IsStreamSocket(kListenFd, true) || !IsStreamSocket(kPairFd, false) ||
      !IsStreamSocket(kKeysFd, false)) {
    return 1;
  }
  unsigned char head[kHead];
  char path[kMaxPath + 1] = {};
  const int64_t deadline = Ticks() + kReadMillis;
  bool ok = ReadAll(kKeysFd, head, kHead, deadline);
  const size_t path_len = ok ? (size_t{head[kHead - 2]} << 8) | head[kHead - 1] : 0;
  ok = ok && path_len >= 1 && path_len <= kMaxPath &&
       ReadAll(kKeysFd, reinterpret_cast<unsigned char*>(path), path_len, deadline);
  close(kKeysFd);
  if (!ok) {
    sodium_memzero(head, sizeof(head));
    return 1;
  }
  // A session of its own; then not its leader, so it never gets a terminal.
  setsid();
  const pid_t pid = fork();
  if (pid != 0) {
    sodium_memzero(head, sizeof(head));
    _exit(pid > 0 ? 0 : 1);
  }
  if (chdir("/") != 0) _exit(1);
  // The keys in memory of the agent's own (locked; page locks do not
  // survive fork, so allocated after it), the stack's copy wiped.
  crypto::SecretBytes held(kHeldBytes);
  std::memcpy(held.data(), head + 24, kHeldBytes);
  struct stat socket_stat {};
  socket_stat.st_dev = static_cast<dev_t>(GetU64(head + 8));
  socket_stat.st_ino = static_cast<ino_t>(GetU64(head + 16));
  const int64_t until = static_cast<int64_t>(GetU64(head));
  std::string sign_pk(reinterpret_cast<const char*>(head) + 24 + kHeldBytes, 32);
  std::string box_pk(reinterpret_cast<const char*>(head) + 24 + kHeldBytes + 32, 32);
  sodium_memzero(head, sizeof(head));
  ServeAgent(AgentServe{kListenFd, kPairFd, std::string(path, path_len), socket_stat,
                        std::move(held), std::move(sign_pk), std::move(box_pk), until});
}

}  // namespace fieldsync::node
