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

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/tuning.h"
#include "clock/clock_source.h"
#include "crypto/secret.h"

namespace fieldsync::node {
namespace {

// The keys the agent holds, in one allocation of its own: device id (16),
// Ed25519 secret key (64), X25519 secret key (32).
constexpr size_t kHeldBytes = 16 + 64 + 32;
// 'P': expiry, device id, two public keys.
constexpr size_t kPublicReply = 8 + 16 + 32 + 32;

void PutU64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * (7 - i)));
}
uint64_t GetU64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// Monotonic milliseconds, for deadlines.
int64_t Ticks() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool FillAddr(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// Reads exactly `n` bytes from the non-blocking `fd` by `deadline` (Ticks).
// False on end of file, error or time out.
bool ReadFull(int fd, void* buf, size_t n, int64_t deadline) {
  auto* p = static_cast<unsigned char*>(buf);
  size_t got = 0;
  while (got < n) {
    const ssize_t r = read(fd, p + got, n - got);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) return false;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    const int64_t left = deadline - Ticks();
    if (left <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) < 0 && errno != EINTR) return false;
  }
  return true;
}

// Writes all of `data` to the non-blocking `fd` by `deadline`.
bool WriteFull(int fd, std::string_view data, int64_t deadline) {
  size_t put = 0;
  while (put < data.size()) {
    const ssize_t w = send(fd, data.data() + put, data.size() - put, MSG_NOSIGNAL);
    if (w > 0) {
      put += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    const int64_t left = deadline - Ticks();
    if (left <= 0) return false;
    pollfd pfd{fd, POLLOUT, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) < 0 && errno != EINTR) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// The agent

// The socket's listen backlog (base/tuning.h).
constexpr int kListenBacklog = tuning::kAgentListenBacklog;
// The most bytes taken from one connection in one step: a message to sign
// (up to kAgentMaxMessage) comes in several steps, other peers served in
// between.
constexpr size_t kReadStep = 64 * 1024;

// One connection. The agent never waits on a peer: the request under way is
// read into `in` as far as its bytes have come, and an answer the socket did
// not take whole waits in `out` until the peer reads. Both must be done by
// `deadline`, kAgentRequestMillis after the request's first byte, or the
// connection is dropped.
struct Peer {
  uint64_t serial = 0;        // names the connection while others come and go
  int fd = -1;
  bool same_program = false;  // P, G and O allowed
  int64_t last_used = 0;      // Ticks: accepted, or its last request began
  int64_t deadline = 0;       // Ticks; 0 while idle (between requests)
  std::string in;             // the request under way, as far as it came
  crypto::SecretBytes out;    // the rest of an answer (it may hold an office key)
  size_t out_at = 0;          // how much of `out` is written
};

// Whether process `pid` runs the file `exe` (st_dev, st_ino). Reading
// /proc/PID/exe needs the peer to be dumpable (or this process to have
// CAP_SYS_PTRACE): a fieldnode command connects before it makes itself
// non-dumpable (AgentIdentity).
bool RunsProgram(pid_t pid, const struct stat& exe) {
  struct stat st {};
  if (pid <= 0 || stat(absl::StrCat("/proc/", pid, "/exe").c_str(), &st) != 0) return false;
  return st.st_dev == exe.st_dev && st.st_ino == exe.st_ino;
}

bool WouldBlock(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

enum class After { kKeep, kClose, kLock };

class Agent {
 public:
  Agent(int listen_fd, std::string path, const struct stat& socket_stat,
        crypto::SecretBytes held, std::string sign_pk, std::string box_pk,
        int64_t until_millis)
      : listen_fd_(listen_fd),
        path_(std::move(path)),
        socket_stat_(socket_stat),
        held_(std::move(held)),
        sign_pk_(std::move(sign_pk)),
        box_pk_(std::move(box_pk)),
        until_millis_(until_millis) {}

  // Serves until the deadline, a lock, or the socket gone; then wipes the
  // keys and exits.
  [[noreturn]] void Run() {
    // SIGTERM and the like end the agent by their default action: the keys
    // live only in this process's memory, which goes with it. (A socket left
    // behind is removed by the next client that finds nothing listening.)
    signal(SIGPIPE, SIG_IGN);
    fcntl(listen_fd_, F_SETFL, fcntl(listen_fd_, F_GETFL) | O_NONBLOCK);
    have_exe_ = stat("/proc/self/exe", &exe_) == 0;
    bool remove_socket = true;
    bool lock = false;
    while (!lock) {
      const int64_t now = SystemClock::Get()->NowMillis();
      if (now >= until_millis_) break;
      // The data directory removed, or the socket replaced by another
      // agent's: nobody can reach these keys any more, so they go at once.
      struct stat st {};
      if (stat(path_.c_str(), &st) != 0 || st.st_ino != socket_stat_.st_ino ||
          st.st_dev != socket_stat_.st_dev) {
        remove_socket = false;
        break;
      }
      // New connections first, each checked the moment it is taken.
      AcceptWaiting();
      DropLate();
      std::vector<pollfd> fds;
      std::vector<uint64_t> serials;
      fds.push_back(pollfd{listen_fd_, POLLIN, 0});
      int64_t wait = std::min<int64_t>(until_millis_ - now, 2'000);
      const int64_t ticks = Ticks();
      for (const Peer& p : peers_) {
        fds.push_back(pollfd{p.fd, static_cast<short>(p.out.empty() ? POLLIN : POLLOUT), 0});
        serials.push_back(p.serial);
        if (p.deadline != 0) wait = std::min(wait, std::max<int64_t>(p.deadline - ticks, 0));
      }
      if (poll(fds.data(), fds.size(), static_cast<int>(wait)) <= 0) continue;
      // One bounded step (no waiting) for each connection that has
      // something, and before each step whatever connected meanwhile: a
      // connection waits for its check at most one step of another's.
      for (size_t i = 1; i < fds.size() && !lock; ++i) {
        if (fds[i].revents == 0) continue;
        AcceptWaiting();
        Peer* p = Find(serials[i - 1]);
        if (p == nullptr) continue;  // made room for a newcomer meanwhile
        const After a = Step(*p);
        if (a == After::kLock) lock = true;
        if (a != After::kKeep) Drop(p->serial);
      }
    }
    for (const Peer& p : peers_) close(p.fd);
    peers_.clear();  // answers not taken are wiped
    if (remove_socket) unlink(path_.c_str());
    close(listen_fd_);
    held_ = crypto::SecretBytes();  // wiped
    _exit(0);
  }

 private:
  // Takes the connections waiting (up to twice the backlog).
  void AcceptWaiting() {
    for (int i = 0; i < 2 * kListenBacklog; ++i) {
      const int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c < 0) return;  // none waiting (an error is tried again at the next pass)
      Admit(c);
    }
  }

  void Admit(int c) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != getuid()) {
      close(c);
      return;
    }
    // Checked at once, while the process that connected most likely still
    // runs what it ran when it connected (docs/CRYPTO.md, "The key agent",
    // says what this does not defend against).
    const bool same_program = have_exe_ && RunsProgram(cred.pid, exe_);
    if (peers_.size() >= kAgentMaxConnections && !MakeRoom()) {
      close(c);  // every connection is the fieldnode program's
      return;
    }
    Peer p;
    p.serial = ++last_serial_;
    p.fd = c;
    p.same_program = same_program;
    p.last_used = Ticks();
    peers_.push_back(std::move(p));
  }

  // Room for one more connection: one its peer closed goes; else the
  // longest idle of those not of the fieldnode program (else the one of
  // theirs whose request began first). A connection of the fieldnode
  // program is never closed for a newcomer: false if all are.
  bool MakeRoom() {
    for (const Peer& p : peers_) {
      if (p.deadline != 0) continue;
      char b = 0;
      const ssize_t r = recv(p.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
      if (r == 0 || (r < 0 && !WouldBlock(errno))) {
        Drop(p.serial);
        return true;
      }
    }
    const Peer* victim = nullptr;
    for (const Peer& p : peers_) {
      if (p.same_program) continue;
      if (victim == nullptr || std::pair(p.deadline != 0, p.last_used) <
                                   std::pair(victim->deadline != 0, victim->last_used)) {
        victim = &p;
      }
    }
    if (victim == nullptr) return false;
    Drop(victim->serial);
    return true;
  }

  Peer* Find(uint64_t serial) {
    for (Peer& p : peers_) {
      if (p.serial == serial) return &p;
    }
    return nullptr;
  }

  void Drop(uint64_t serial) {
    for (auto it = peers_.begin(); it != peers_.end(); ++it) {
      if (it->serial == serial) {
        close(it->fd);
        peers_.erase(it);
        return;
      }
    }
  }

  // Drops the connections whose request is not answered by its deadline.
  void DropLate() {
    const int64_t now = Ticks();
    for (auto it = peers_.begin(); it != peers_.end();) {
      if (it->deadline != 0 && now >= it->deadline) {
        close(it->fd);
        it = peers_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // One step of `p`, which poll says is ready: writes more of its answer,
  // or reads what has come of its request (at most kReadStep bytes) and, if
  // it is whole, answers it. Never waits.
  After Step(Peer& p) {
    if (p.deadline != 0 && Ticks() >= p.deadline) return After::kClose;
    if (!p.out.empty()) return Flush(p);
    size_t taken = 0;
    while (true) {
      const Progress pr = Examine(p);
      if (pr.refusal != kAgentOk) return Refuse(p, pr.refusal);
      if (p.in.size() == pr.need) return Answer(p);
      if (taken >= kReadStep) return After::kKeep;
      const size_t had = p.in.size();
      const size_t want = std::min(pr.need - had, kReadStep - taken);
      p.in.resize(had + want);
      const ssize_t r = read(p.fd, p.in.data() + had, want);
      p.in.resize(had + static_cast<size_t>(std::max<ssize_t>(r, 0)));
      if (r == 0) return After::kClose;  // the peer is done (a request cut short is not answered)
      if (r < 0) return WouldBlock(errno) ? After::kKeep : After::kClose;
      if (had == 0) {
        p.last_used = Ticks();
        p.deadline = p.last_used + kAgentRequestMillis;
      }
      taken += static_cast<size_t>(r);
    }
  }

  // How far the request in `p.in` is: `need`, the bytes it has in all as
  // far as that is known yet (more than it has: read on; as many: whole);
  // or a refusal, as soon as what came shows one.
  struct Progress {
    size_t need = 0;
    AgentReply refusal = kAgentOk;
  };
  Progress Examine(const Peer& p) const {
    const std::string_view in = p.in;
    if (in.empty()) return {1};
    const char cmd = in[0];
    switch (cmd) {
      case 'S':
      case 'L':
        return {1};
      case 'P':
      case 'G':
      case 'O':
        // Refused before any argument is read: the connection goes.
        if (!p.same_program) return {0, kAgentNotTheProgram};
        break;
      default:
        return {0, kAgentUnknownCommand};
    }
    if (cmd == 'P') return {1};
    if (cmd == 'G') {
      if (in.size() < 2) return {2};
      const size_t dlen = static_cast<unsigned char>(in[1]);
      if (dlen == 0 || dlen > kAgentMaxDomain) return {0, kAgentMalformed};
      const size_t head = 2 + dlen + 4;
      if (in.size() < head) return {head};
      if (in.substr(2, dlen).find('\0') != std::string_view::npos) return {0, kAgentMalformed};
      const auto* m = reinterpret_cast<const unsigned char*>(in.data() + 2 + dlen);
      const uint32_t mlen = (uint32_t{m[0]} << 24) | (uint32_t{m[1]} << 16) |
                            (uint32_t{m[2]} << 8) | m[3];
      if (mlen > kAgentMaxMessage) return {0, kAgentMalformed};
      return {head + mlen};
    }
    // 'O'
    if (in.size() < 3) return {3};
    const size_t len = (size_t{static_cast<unsigned char>(in[1])} << 8) |
                       static_cast<unsigned char>(in[2]);
    if (len < crypto_box_SEALBYTES || len > kAgentMaxSealed) return {0, kAgentMalformed};
    return {3 + len};
  }

  // Answers the whole request in `p.in`.
  After Answer(Peer& p) {
    const std::string_view in = p.in;
    switch (in[0]) {
      case 'S': {
        unsigned char out[10] = {kAgentOk, kAgentProtocolVersion};
        PutU64(out + 2, static_cast<uint64_t>(until_millis_));
        return Send(p, std::string_view(reinterpret_cast<const char*>(out), sizeof(out)));
      }
      case 'L': {
        const char ok = kAgentOk;
        (void)send(p.fd, &ok, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        return After::kLock;
      }
      case 'P': {
        unsigned char out[1 + kPublicReply] = {kAgentOk};
        PutU64(out + 1, static_cast<uint64_t>(until_millis_));
        std::memcpy(out + 9, held_.data(), 16);
        std::memcpy(out + 25, sign_pk_.data(), 32);
        std::memcpy(out + 57, box_pk_.data(), 32);
        return Send(p, std::string_view(reinterpret_cast<const char*>(out), sizeof(out)));
      }
      case 'G': {
        const size_t dlen = static_cast<unsigned char>(in[1]);
        absl::StatusOr<std::string> sig = crypto::SignWithSecret(
            held_.view().substr(16, crypto::kSignSecretBytes), in.substr(2, dlen),
            in.substr(2 + dlen + 4));
        if (!sig.ok()) return Refuse(p, kAgentMalformed);
        std::string out(1, static_cast<char>(kAgentOk));
        out += *sig;
        return Send(p, out);
      }
      default: {  // 'O'
        absl::StatusOr<crypto::SecretBytes> plain = crypto::OpenSealedWithSecret(
            box_pk_, held_.view().substr(80, crypto::kBoxSecretBytes), in.substr(3));
        if (!plain.ok()) return Refuse(p, kAgentDoesNotOpen);
        // The answer holds a secret (an office key): built in guarded memory.
        crypto::SecretBytes out(3 + plain->size());
        out.data()[0] = kAgentOk;
        out.data()[1] = static_cast<uint8_t>(plain->size() >> 8);
        out.data()[2] = static_cast<uint8_t>(plain->size());
        if (!plain->empty()) std::memcpy(out.data() + 3, plain->data(), plain->size());
        return Send(p, out.view());
      }
    }
  }

  // Refusal 3 keeps the connection; the others close it, once the status
  // byte is sent (if the socket takes it).
  After Refuse(Peer& p, AgentReply why) {
    const char b = static_cast<char>(why);
    if (why == kAgentDoesNotOpen) return Send(p, std::string_view(&b, 1));
    (void)send(p.fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    return After::kClose;
  }

  // Writes as much of `answer` as the socket takes now; the rest waits in
  // `p.out` for the peer to read it, by the request's deadline.
  After Send(Peer& p, std::string_view answer) {
    const ssize_t w = send(p.fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && !WouldBlock(errno)) return After::kClose;
    const size_t put = w > 0 ? static_cast<size_t>(w) : 0;
    if (put < answer.size()) {
      p.out = crypto::SecretBytes::Copy(answer.substr(put));
      p.out_at = 0;
      return After::kKeep;
    }
    Answered(p);
    return After::kKeep;
  }

  After Flush(Peer& p) {
    const std::string_view rest = p.out.view().substr(p.out_at);
    const ssize_t w = send(p.fd, rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) return WouldBlock(errno) ? After::kKeep : After::kClose;
    p.out_at += static_cast<size_t>(w);
    if (p.out_at == p.out.size()) Answered(p);
    return After::kKeep;
  }

  // The request is answered: the connection is idle until the next.
  void Answered(Peer& p) {
    p.out = crypto::SecretBytes();
    p.out_at = 0;
    p.deadline = 0;
    p.in.clear();
    if (p.in.capacity() > 4096) p.in.shrink_to_fit();  // a message signed
  }

  const int listen_fd_;
  const std::string path_;
  const struct stat socket_stat_;
  crypto::SecretBytes held_;
  const std::string sign_pk_;
  const std::string box_pk_;
  const int64_t until_millis_;
  struct stat exe_ {};
  bool have_exe_ = false;
  std::vector<Peer> peers_;
  uint64_t last_serial_ = 0;
};

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

// Sends `request` and reads the status byte. nullopt: no answer (the agent
// closed the connection, or was silent for kAgentClientMillis).
std::optional<uint8_t> Ask(int fd, std::string_view request) {
  const int64_t deadline = Ticks() + kAgentClientMillis;
  unsigned char status = 0;
  if (!WriteFull(fd, request, deadline) || !ReadFull(fd, &status, 1, deadline)) {
    return std::nullopt;
  }
  return status;
}

std::string ProgramChanged() {
  return "the fieldnode program changed since unlock (an upgrade?), and the key agent serves "
         "only the one that started it: run fieldnode lock and fieldnode unlock";
}

// The delegated identity's operations: requests on one connection.
class AgentKeys : public crypto::KeyOperations {
 public:
  AgentKeys(int fd, std::string sign_pk, std::string path)
      : fd_(fd), sign_pk_(std::move(sign_pk)), path_(std::move(path)) {}
  ~AgentKeys() override {
    if (fd_ >= 0) close(fd_);
  }

  absl::StatusOr<std::string> Sign(std::string_view domain, std::string_view message) override {
    if (domain.empty() || domain.size() > kAgentMaxDomain ||
        domain.find('\0') != std::string_view::npos || message.size() > kAgentMaxMessage) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the key agent signs a domain of 1 to ", kAgentMaxDomain, " bytes and a message of ",
          kAgentMaxMessage, " bytes at most (", domain.size(), " and ", message.size(), ")"));
    }
    std::string req;
    req.reserve(6 + domain.size() + message.size());
    req.push_back('G');
    req.push_back(static_cast<char>(domain.size()));
    req.append(domain.data(), domain.size());
    for (int i = 3; i >= 0; --i) req.push_back(static_cast<char>(message.size() >> (8 * i)));
    req.append(message.data(), message.size());
    absl::MutexLock l(&mu_);
    if (fd_ < 0) return Gone();
    std::optional<uint8_t> status = Ask(fd_, req);
    std::string sig(crypto::kSignatureBytes, '\0');
    if (!status) return Gone();
    if (*status != kAgentOk) return Refused(*status);
    if (!ReadFull(fd_, sig.data(), sig.size(), Ticks() + kAgentClientMillis)) return Gone();
    // What comes back is checked, so that a fault can only ever be an
    // error, never a commit with a signature that others refuse.
    absl::Status good = crypto::VerifySignature(sign_pk_, domain, message, sig, "key agent");
    if (!good.ok()) {
      Close();
      return absl::InternalError(absl::StrCat(
          "the key agent at ", path_, " answered a signature that does not verify: run "
          "fieldnode lock and fieldnode unlock"));
    }
    return sig;
  }

  absl::StatusOr<crypto::SecretBytes> OpenSealed(std::string_view sealed) override {
    if (sealed.size() < crypto_box_SEALBYTES || sealed.size() > kAgentMaxSealed) {
      return absl::UnauthenticatedError(absl::StrCat(
          "a sealed box of ", sealed.size(), " bytes is not one the key agent opens (",
          crypto_box_SEALBYTES, " to ", kAgentMaxSealed, ")"));
    }
    std::string req;
    req.push_back('O');
    req.push_back(static_cast<char>(sealed.size() >> 8));
    req.push_back(static_cast<char>(sealed.size()));
    req.append(sealed.data(), sealed.size());
    absl::MutexLock l(&mu_);
    if (fd_ < 0) return Gone();
    std::optional<uint8_t> status = Ask(fd_, req);
    if (!status) return Gone();
    if (*status == kAgentDoesNotOpen) {
      return absl::UnauthenticatedError(
          "the sealed box does not open with this device's key (altered, or sealed to another)");
    }
    if (*status != kAgentOk) return Refused(*status);
    const int64_t deadline = Ticks() + kAgentClientMillis;
    unsigned char len_be[2];
    if (!ReadFull(fd_, len_be, 2, deadline)) return Gone();
    const size_t len = (size_t{len_be[0]} << 8) | len_be[1];
    if (len + crypto_box_SEALBYTES != sealed.size()) {
      Close();
      return absl::InternalError(absl::StrCat("the key agent at ", path_,
                                              " answered a plaintext of the wrong length"));
    }
    crypto::SecretBytes plain(len);
    if (len > 0 && !ReadFull(fd_, plain.data(), len, deadline)) return Gone();
    return plain;
  }

 private:
  // The connection went (lock, the end of the period, the agent killed):
  // nothing more can be signed or opened by this identity.
  absl::Status Gone() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Close();
    return crypto::KeysUnreachableError(
        "the key agent stopped answering while this command ran (fieldnode lock, or the end "
        "of the period of fieldnode unlock): run fieldnode unlock, then the command again");
  }
  absl::Status Refused(uint8_t status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Close();
    if (status == kAgentNotTheProgram) return crypto::KeysUnreachableError(ProgramChanged());
    return absl::InternalError(absl::StrCat("the key agent at ", path_, " refused a request (",
                                            static_cast<int>(status),
                                            "): run fieldnode lock and fieldnode unlock"));
  }
  void Close() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
  const std::string sign_pk_;
  const std::string path_;
};

}  // namespace

std::string AgentSocketPath(const std::string& data_dir) { return data_dir + "/agent.sock"; }

absl::Status StartAgent(const std::string& data_dir, crypto::DeviceIdentity identity,
                        int64_t until_millis) {
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
  if (b != 0 || listen(fd, kListenBacklog) != 0 || rename(tmp.c_str(), path.c_str()) != 0 ||
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
    Agent agent(3, path, mine, std::move(held), std::move(sign_pk), std::move(box_pk),
                until_millis);
    agent.Run();
  }
  close(fd);
  int status = 0;
  waitpid(pid, &status, 0);  // the first child exits at once
  return absl::OkStatus();
}

absl::StatusOr<std::optional<crypto::DeviceIdentity>> AgentIdentity(const std::string& data_dir) {
  absl::StatusOr<int> fd = Connect(data_dir);
  if (!fd.ok()) return fd.status();
  if (*fd < 0) return std::optional<crypto::DeviceIdentity>();
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
  auto keys = std::make_shared<AgentKeys>(*fd, pub.sign_pk, path);
  return std::optional<crypto::DeviceIdentity>(
      crypto::DeviceIdentity::Delegated(std::move(pub), std::move(keys)));
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
