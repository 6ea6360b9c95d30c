#include "node/agent.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "clock/clock_source.h"
#include "crypto/secret.h"

namespace fieldsync::node {
namespace {

constexpr size_t kKeysReply = 8 + 16 + 64 + 32;

void PutU64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * (7 - i)));
}
uint64_t GetU64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// A peer that connects and then says nothing (a process stopped with
// Ctrl-Z) must hold up neither the agent nor a client for long.
// The agent gives a peer 1 s; a client waits 3 s, so that it is served
// after a silent peer was dropped.
void SetTimeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool FillAddr(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// Connects, sends `cmd`, reads exactly `want` bytes into `out`. -1: no
// agent (nothing listens); 0: a short or refused answer; 1: done.
int Ask(const std::string& data_dir, char cmd, unsigned char* out, size_t want) {
  const std::string path = AgentSocketPath(data_dir);
  sockaddr_un addr;
  if (!FillAddr(path, &addr)) return -1;
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  SetTimeouts(fd, 3);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    close(fd);
    // Nothing listens: a socket left by an agent that was killed.
    if (e == ECONNREFUSED) unlink(path.c_str());
    return -1;
  }
  int result = 0;
  if (send(fd, &cmd, 1, MSG_NOSIGNAL) == 1) {
    size_t got = 0;
    while (got < want) {
      const ssize_t n = read(fd, out + got, want - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    result = got == want ? 1 : 0;
  }
  close(fd);
  return result;
}

// The agent's life: serve until the deadline or a lock.
[[noreturn]] void Serve(int listen_fd, const std::string& path, const struct stat& mine,
                        crypto::SecretBytes keys, int64_t until_millis) {
  // SIGTERM and the like end the agent by their default action: the keys
  // live only in this process's memory, which goes with it. (A socket left
  // behind is removed by the next client that finds nothing listening.)
  signal(SIGPIPE, SIG_IGN);
  const uid_t me = getuid();
  while (true) {
    const int64_t now = SystemClock::Get()->NowMillis();
    if (now >= until_millis) break;
    // The data directory removed, or the socket replaced by another
    // agent's: nobody can reach these keys any more, so they go at once.
    struct stat st {};
    if (stat(path.c_str(), &st) != 0 || st.st_ino != mine.st_ino || st.st_dev != mine.st_dev) {
      close(listen_fd);
      keys = crypto::SecretBytes();
      _exit(0);
    }
    pollfd p{listen_fd, POLLIN, 0};
    const int64_t wait = std::min<int64_t>(until_millis - now, 2'000);
    const int r = poll(&p, 1, static_cast<int>(wait));
    if (r <= 0) continue;
    const int c = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    SetTimeouts(c, 1);
    ucred cred{};
    socklen_t len = sizeof(cred);
    char cmd = 0;
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != me ||
        read(c, &cmd, 1) != 1) {
      close(c);
      continue;
    }
    if (cmd == 'S') {
      unsigned char out[8];
      PutU64(out, static_cast<uint64_t>(until_millis));
      (void)!send(c, out, sizeof(out), MSG_NOSIGNAL);
    } else if (cmd == 'K') {
      crypto::SecretBytes out(kKeysReply);
      PutU64(out.data(), static_cast<uint64_t>(until_millis));
      std::memcpy(out.data() + 8, keys.data(), keys.size());
      (void)!send(c, out.data(), out.size(), MSG_NOSIGNAL);
    } else if (cmd == 'L') {
      unsigned char out[8] = {0};
      (void)!send(c, out, sizeof(out), MSG_NOSIGNAL);
      close(c);
      break;
    }
    close(c);
  }
  unlink(path.c_str());
  close(listen_fd);
  keys = crypto::SecretBytes();  // wiped
  _exit(0);
}

}  // namespace

std::string AgentSocketPath(const std::string& data_dir) { return data_dir + "/agent.sock"; }

absl::Status StartAgent(const std::string& data_dir, const crypto::DeviceIdentity& identity,
                        int64_t until_millis) {
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
  if (b != 0 || listen(fd, 16) != 0 || rename(tmp.c_str(), path.c_str()) != 0 ||
      stat(path.c_str(), &mine) != 0) {
    const int e = errno;
    close(fd);
    unlink(tmp.c_str());
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", path, ": ", std::strerror(e)));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    unlink(path.c_str());
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
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
    if (dup2(fd, 3) != 3) _exit(1);
    close_range(4, ~0U, 0);
    if (chdir("/") != 0) _exit(1);
    // Page locks do not survive fork: the keys go into memory this process
    // allocates (and locks), and the copies inherited from the unlocking
    // process are wiped.
    crypto::SecretBytes keys(16 + 64 + 32);
    std::memcpy(keys.data(), identity.device().view().data(), 16);
    std::memcpy(keys.data() + 16, identity.sign_secret().data(), 64);
    std::memcpy(keys.data() + 80, identity.box_secret().data(), 32);
    auto& inherited = const_cast<crypto::DeviceIdentity&>(identity);
    sodium_memzero(const_cast<uint8_t*>(inherited.sign_secret().data()),
                   inherited.sign_secret().size());
    sodium_memzero(const_cast<uint8_t*>(inherited.box_secret().data()),
                   inherited.box_secret().size());
    Serve(3, path, mine, std::move(keys), until_millis);
  }
  close(fd);
  int status = 0;
  waitpid(pid, &status, 0);  // the first child exits at once
  return absl::OkStatus();
}

absl::StatusOr<std::optional<crypto::DeviceIdentity>> AgentIdentity(const std::string& data_dir) {
  crypto::SecretBytes reply(kKeysReply);
  const int r = Ask(data_dir, 'K', reply.data(), reply.size());
  if (r < 0) return std::optional<crypto::DeviceIdentity>();
  if (r == 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the key agent at ", AgentSocketPath(data_dir),
        " did not answer (another user's?); run fieldnode lock, then fieldnode unlock"));
  }
  auto device = Id16::FromBytes(reply.view().substr(8, 16), "agent device id");
  if (!device.ok()) return device.status();
  auto id = crypto::DeviceIdentity::FromSecrets(*device, reply.view().substr(24, 64),
                                                reply.view().substr(88, 32));
  if (!id.ok()) return id.status();
  return std::optional<crypto::DeviceIdentity>(*std::move(id));
}

std::optional<int64_t> AgentExpiry(const std::string& data_dir) {
  unsigned char out[8];
  if (Ask(data_dir, 'S', out, sizeof(out)) != 1) return std::nullopt;
  return static_cast<int64_t>(GetU64(out));
}

bool StopAgent(const std::string& data_dir) {
  unsigned char out[8];
  return Ask(data_dir, 'L', out, sizeof(out)) == 1;
}

}  // namespace fieldsync::node
