// The key agent's process (agent.h says what it does and its protocol):
// the loop that serves its connections until it locks, expires or loses
// its socket. StartAgent (agent.cc) forks it.
#include "node/agent_serve.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/tuning.h"
#include "clock/clock_source.h"
#include "node/agent.h"
#include "node/agent_index.h"
#include "node/agent_wire.h"

namespace fieldsync::node {
namespace {

using agent_wire::GetU64;
using agent_wire::kPublicReply;
using agent_wire::PutU64;
using agent_wire::Ticks;
using agent_wire::WouldBlock;

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
  Peer() = default;
  Peer(Peer&&) = default;
  Peer& operator=(Peer&&) = default;
  // A request may hold names for the search index: wiped with the peer.
  ~Peer() { sodium_memzero(in.data(), in.size()); }
  uint64_t serial = 0;        // names the connection while others come and go
  int fd = -1;
  bool same_program = false;  // P, G, O, X, U and Q allowed
  int64_t last_used = 0;      // Ticks: accepted, or its last request began
  int64_t deadline = 0;       // Ticks; 0 while idle (between requests)
  std::string in;             // the request under way, as far as it came (wiped once answered)
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

enum class After { kKeep, kClose, kLock };

class Agent {
 public:
  Agent(int listen_fd, int parent_fd, std::string path, const struct stat& socket_stat,
        crypto::SecretBytes held, std::string sign_pk, std::string box_pk,
        int64_t until_millis)
      : listen_fd_(listen_fd),
        parent_fd_(parent_fd),
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
    if (parent_fd_ >= 0) {
      // The connection the unlocking process made before it forked this
      // one: its other end was never anywhere but in that process (which
      // runs this very program: this agent is that program's file executed
      // again, /proc/self/exe, agent_exec.h) and goes at its exec
      // (close-on-exec). It needs no look at /proc/PID/exe, which the
      // unlocking process, non-dumpable, no longer shows to its own user.
      fcntl(parent_fd_, F_SETFL, fcntl(parent_fd_, F_GETFL) | O_NONBLOCK);
      Peer p;
      p.serial = ++last_serial_;
      p.fd = parent_fd_;
      p.same_program = true;
      p.last_used = Ticks();
      peers_.push_back(std::move(p));
    }
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
      // The search index goes after a while unused (agent_index.h).
      if (index_used_ != 0 && Ticks() - index_used_ >= tuning::kAgentIndexIdleMillis) {
        DropIndex();
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
    DropIndex();
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
      // Room for the whole request at once: growing would leave copies of
      // its first part (names, for the index) in memory freed unwiped.
      if (p.in.capacity() < pr.need) {
        std::string room;
        room.reserve(pr.need);
        room.assign(p.in);
        sodium_memzero(p.in.data(), p.in.size());
        p.in = std::move(room);
      }
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
      case 'X':
      case 'U':
      case 'Q':
        // Refused before any argument is read: the connection goes.
        if (!p.same_program) return {0, kAgentNotTheProgram};
        break;
      default:
        return {0, kAgentUnknownCommand};
    }
    if (cmd == 'P' || cmd == 'X') return {1};
    if (cmd == 'U') {
      constexpr size_t head = 1 + 1 + 2 * kNameIndexKeyBytes + 4;
      if (in.size() < head) return {head};
      const auto* m = reinterpret_cast<const unsigned char*>(in.data() + head - 4);
      const uint32_t blen = (uint32_t{m[0]} << 24) | (uint32_t{m[1]} << 16) |
                            (uint32_t{m[2]} << 8) | m[3];
      if (blen > kAgentMaxIndexUpdate) return {0, kAgentMalformed};
      return {head + blen};
    }
    if (cmd == 'Q') {
      if (in.size() < 3) return {3};
      const size_t len = (size_t{static_cast<unsigned char>(in[1])} << 8) |
                         static_cast<unsigned char>(in[2]);
      if (len == 0 || len > kAgentMaxIndexQuery) return {0, kAgentMalformed};
      return {3 + len};
    }
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
      case 'X': {
        std::string out(1, static_cast<char>(kAgentOk));
        out.push_back(index_ready_ ? 1 : 0);
        unsigned char b[kNameIndexKeyBytes + 4];
        PutU64(b, index_key_.log_head);
        PutU64(b + 8, index_key_.cases_slot);
        PutU64(b + 16, index_key_.persons_slot);
        const uint32_t n = static_cast<uint32_t>(index_.size());
        for (int i = 0; i < 4; ++i) b[24 + i] = static_cast<unsigned char>(n >> (8 * (3 - i)));
        out.append(reinterpret_cast<const char*>(b), sizeof(b));
        return Send(p, out);
      }
      case 'U':
        return Update(p);
      case 'Q': {
        if (index_ready_) index_used_ = Ticks();
        if (!index_ready_) {
          const char out[2] = {static_cast<char>(kAgentOk), 0};
          return Send(p, std::string_view(out, 2));
        }
        std::string ids;
        uint32_t n = 0;
        index_.Query(in.substr(3), &ids, &n);
        std::string out(1, static_cast<char>(kAgentOk));
        out.push_back(1);
        for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>(n >> (8 * i)));
        out += ids;
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

  // Calls `f(id, text)` for each entry of a checked update's body (no
  // text: remove the case).
  template <typename F>
  static void EachEntry(std::string_view body, F f) {
    for (size_t at = 0; at < body.size();) {
      const std::string_view id = body.substr(at, 16);
      const auto* m = reinterpret_cast<const unsigned char*>(body.data() + at + 16);
      const uint32_t len = (uint32_t{m[0]} << 24) | (uint32_t{m[1]} << 16) |
                           (uint32_t{m[2]} << 8) | m[3];
      at += 20;
      if (len == kAgentIndexRemove) {
        f(id, std::nullopt);
        continue;
      }
      f(id, body.substr(at, len));
      at += len;
    }
  }

  // 'U': the entries checked whole before any is applied.
  After Update(Peer& p) {
    const std::string_view in = p.in;
    const auto* u = reinterpret_cast<const unsigned char*>(in.data());
    const bool reset = (u[1] & 1) != 0;
    const bool final = (u[1] & 2) != 0;
    const NameIndexKey base{GetU64(u + 2), GetU64(u + 10), GetU64(u + 18)};
    const NameIndexKey key{GetU64(u + 26), GetU64(u + 34), GetU64(u + 42)};
    const std::string_view body = in.substr(2 + 2 * kNameIndexKeyBytes + 4);
    for (size_t at = 0; at < body.size();) {
      if (body.size() - at < 20) return Refuse(p, kAgentMalformed);
      const auto* m = reinterpret_cast<const unsigned char*>(body.data() + at + 16);
      const uint32_t len = (uint32_t{m[0]} << 24) | (uint32_t{m[1]} << 16) |
                           (uint32_t{m[2]} << 8) | m[3];
      at += 20;
      if (len == kAgentIndexRemove) continue;
      if (len > kAgentMaxIndexText || body.size() - at < len) return Refuse(p, kAgentMalformed);
      at += len;
    }
    if (!reset && !(index_key_ == base && (index_ready_ || index_building_))) {
      const char b = static_cast<char>(kAgentIndexMoved);
      return Send(p, std::string_view(&b, 1));
    }
    // The index's bound (attack review 24, LOW 4): what it would hold once
    // the update is applied, the index dropped past it, so that no peer
    // grows the agent's locked memory without end. Each case counts once,
    // as the update leaves it (its last entry): a case named many times had
    // its old length taken off at each naming (attack review 25, LOW 4).
    std::map<std::string_view, std::optional<size_t>> last;
    EachEntry(body, [&](std::string_view id, std::optional<std::string_view> text) {
      last[id] = text ? std::optional<size_t>(text->size()) : std::nullopt;
    });
    size_t bytes = reset ? 0 : index_.bytes();
    size_t entries = reset ? 0 : index_.size();
    for (const auto& [id, len] : last) {
      if (!reset && index_.Holds(id)) {
        bytes -= index_.LengthOf(id);
        --entries;
      }
      if (len) {
        bytes += *len;
        ++entries;
      }
    }
    if (bytes > kAgentMaxIndexBytes || entries > kAgentMaxIndexEntries) {
      DropIndex();
      const char b = static_cast<char>(kAgentIndexFull);
      return Send(p, std::string_view(&b, 1));
    }
    if (reset) index_.Clear();
    EachEntry(body, [&](std::string_view id, std::optional<std::string_view> text) {
      if (text) {
        index_.Put(id, *text);
      } else {
        index_.Remove(id);
      }
    });
    index_key_ = key;
    index_ready_ = final;
    index_building_ = !final;
    index_used_ = Ticks();
    const char ok = static_cast<char>(kAgentOk);
    return Send(p, std::string_view(&ok, 1));
  }

  void DropIndex() {
    index_.Clear();
    index_key_ = NameIndexKey{};
    index_ready_ = false;
    index_building_ = false;
    index_used_ = 0;
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
    sodium_memzero(p.in.data(), p.in.size());
    p.in.clear();
    if (p.in.capacity() > 4096) p.in.shrink_to_fit();  // a message signed
  }

  const int listen_fd_;
  const int parent_fd_;
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
  // The search index of case names (agent_index.h).
  HeldNameIndex index_;
  NameIndexKey index_key_;
  bool index_ready_ = false;     // whole: queries answered
  bool index_building_ = false;  // a build sent in parts is under way
  int64_t index_used_ = 0;       // Ticks of its last update or query; 0: none held
};


}  // namespace

void ServeAgent(AgentServe a) {
  Agent agent(a.listen_fd, a.parent_fd, std::move(a.path), a.socket_stat, std::move(a.held),
              std::move(a.sign_pk), std::move(a.box_pk), a.until_millis);
  agent.Run();
}

}  // namespace fieldsync::node
