#include "tools/lib/cutting_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fieldsync::testing {

struct CuttingProxy::Conn {
  int client = -1;
  int target = -1;
  std::string recorded[2];  // by Direction, guarded by the proxy's mutex
  uint64_t passed = 0;       // both directions, guarded by the proxy's mutex
  // Guarded by the proxy's mutex: what passed (Connections), and where the
  // client's stream is among its TLS records.
  ConnectionBytes counted;
  std::string record_header;  // the part read of the next record's header
  uint64_t record_left = 0;   // of the record under way's body
  bool handshake_done = false;
  std::atomic<bool> stale{false};  // DropOpenOnNextWrite
};

namespace {

constexpr int kPollMillis = 50;
// A rate-limited link forwards what it holds this often, and holds at most
// this much each way (more waits at the sender).
constexpr int kRateTickMillis = 10;
constexpr size_t kLinkBuffer = 256 << 10;

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

CuttingProxy::CuttingProxy(std::string target_host, int target_port)
    : target_host_(std::move(target_host)), target_port_(target_port) {}

CuttingProxy::~CuttingProxy() { Stop(); }

absl::Status CuttingProxy::Start() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    return absl::InternalError(absl::StrCat("bind/listen on 127.0.0.1: ", strerror(errno)));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

void CuttingProxy::AcceptLoop() {
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMillis) <= 0) continue;
    const int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    ++accepted_;
    if (refuse_new_.load()) {
      ::close(client);
      continue;
    }
    const int target = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(target_port_));
    ::inet_pton(AF_INET, target_host_.c_str(), &addr.sin_addr);
    if (!source_host_.empty() && target >= 0) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      ::inet_pton(AF_INET, source_host_.c_str(), &from.sin_addr);
      if (::bind(target, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
        ::close(target);
        ::close(client);
        continue;
      }
    }
    if (target < 0 || ::connect(target, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (target >= 0) ::close(target);
      ::close(client);  // the target is down: so is the link
      continue;
    }
    auto c = std::make_shared<Conn>();
    c->client = client;
    c->target = target;
    absl::MutexLock lock(&mu_);
    conns_.push_back(c);
    pumps_.emplace_back([this, c] { Pump(c); });
  }
}

uint64_t CuttingProxy::Admit(Conn& c, Direction dir, uint64_t n, bool* cut_all,
                             bool* cut_one) {
  absl::MutexLock lock(&mu_);
  uint64_t allowed = n;
  *cut_all = false;
  *cut_one = false;
  if (silent_.load()) return 0;  // what was read is lost
  if (armed_ && armed_dir_ == dir) {
    if (n >= armed_left_) {
      allowed = armed_left_;
      armed_ = false;
      *cut_all = true;
    } else {
      armed_left_ -= n;
    }
  }
  if (connection_limit_ > 0) {
    const uint64_t left = connection_limit_ > c.passed ? connection_limit_ - c.passed : 0;
    if (allowed >= left) {
      allowed = left;
      *cut_one = true;
    }
  }
  if (silence_armed_ && silence_dir_ == dir) {
    if (allowed >= silence_left_) {
      allowed = silence_left_;
      silence_armed_ = false;
      silent_.store(true);
    } else {
      silence_left_ -= allowed;
    }
  }
  c.passed += allowed;
  bytes_[static_cast<int>(dir)] += allowed;
  return allowed;
}

void CuttingProxy::Pump(std::shared_ptr<Conn> c) {
  using Clock = std::chrono::steady_clock;
  char buf[16 * 1024];
  // Read at once, forwarded as the rate allows: a slow link buffers what
  // was sent on it (as a router does) rather than leaving it unacknowledged
  // at the sender. By Direction (0: from the client).
  std::string queued[2];
  // With a delay: when each piece read arrives at the far end, and how many
  // of the queued bytes have arrived there (may be forwarded).
  std::deque<std::pair<Clock::time_point, size_t>> arriving[2];
  size_t arrived[2] = {0, 0};
  double credit[2] = {0, 0};
  bool closed[2] = {false, false};
  auto last = Clock::now();
  while (!stopping_.load()) {
    if (silent_.load()) {
      // Nothing is read or forwarded; only a cut (our own shutdown, or a
      // reset) ends the connection.
      pollfd p[2] = {{c->client, 0, 0}, {c->target, 0, 0}};
      if (::poll(p, 2, kPollMillis) > 0 &&
          ((p[0].revents | p[1].revents) & (POLLHUP | POLLERR | POLLNVAL))) {
        break;
      }
      continue;
    }
    const uint64_t rate = rate_.load();
    const int delay = delay_millis_.load();
    const bool waiting = !queued[0].empty() || !queued[1].empty();
    pollfd p[2] = {
        {c->client, static_cast<short>(!closed[0] && queued[0].size() < kLinkBuffer ? POLLIN : 0), 0},
        {c->target, static_cast<short>(!closed[1] && queued[1].size() < kLinkBuffer ? POLLIN : 0), 0}};
    const int r = ::poll(p, 2, waiting ? kRateTickMillis : kPollMillis);
    if (r < 0 && errno != EINTR) break;
    bool stale_cut = false;
    for (int i = 0; i < 2 && r > 0; ++i) {
      if (closed[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::recv(i == 0 ? c->client : c->target, buf, sizeof(buf), 0);
      if (n <= 0) {
        closed[i] = true;  // shut both ways once what it sent is forwarded
      } else if (i == 0 && c->stale.load()) {
        stale_cut = true;  // lost with the connection
      } else {
        queued[i].append(buf, static_cast<size_t>(n));
        if (delay > 0) {
          arriving[i].emplace_back(Clock::now() + std::chrono::milliseconds(delay),
                                   static_cast<size_t>(n));
        } else {
          arrived[i] += static_cast<size_t>(n);
        }
      }
    }
    if (stale_cut) {
      ++cuts_;
      break;
    }
    const auto now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - last).count();
    last = now;
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      while (!arriving[i].empty() && arriving[i].front().first <= now) {
        arrived[i] += arriving[i].front().second;
        arriving[i].pop_front();
      }
      size_t m = std::min(queued[i].size(), arrived[i]);
      if (rate > 0) {
        // At most a tenth of a second's worth saved up while idle.
        credit[i] = std::min(credit[i] + elapsed * static_cast<double>(rate),
                             std::max(static_cast<double>(rate) / 10, 1500.0));
        m = std::min(m, static_cast<size_t>(credit[i]));
      }
      if (m == 0) {
        if (closed[i] && queued[i].empty()) done = true;
        continue;
      }
      // The bytes leaving the queue (beyond a cut: lost) leave what arrived.
      const auto leave = [&](size_t k) { arrived[i] -= std::min(arrived[i], k); };
      bool cut = false;
      bool cut_one = false;
      const uint64_t allowed =
          Admit(*c, i == 0 ? Direction::kUpstream : Direction::kDownstream, m, &cut, &cut_one);
      if (allowed > 0) {
        Count(*c, i == 0 ? Direction::kUpstream : Direction::kDownstream, queued[i].data(),
              static_cast<size_t>(allowed));
      }
      if (allowed > 0 && recording_.load()) {
        absl::MutexLock lock(&mu_);
        c->recorded[i].append(queued[i], 0, static_cast<size_t>(allowed));
      }
      if (allowed > 0 &&
          !WriteAll(i == 0 ? c->target : c->client, queued[i].data(), static_cast<size_t>(allowed))) {
        done = true;
      }
      const size_t gone = allowed < m ? m : static_cast<size_t>(allowed);  // beyond a cut: lost
      queued[i].erase(0, gone);
      leave(gone);
      credit[i] -= static_cast<double>(allowed);
      if (cut) {
        CutNow();
        done = true;
      }
      if (cut_one) {
        ++cuts_;
        done = true;  // this connection only: shut below
      }
    }
    if (done) break;
  }
  ::shutdown(c->client, SHUT_RDWR);
  ::shutdown(c->target, SHUT_RDWR);
}

void CuttingProxy::Count(Conn& c, Direction dir, const char* p, size_t n) {
  // A TLS record: type (1 byte), version (2), length (2), then the body.
  constexpr size_t kHeader = 5;
  constexpr unsigned char kApplicationData = 23;
  absl::MutexLock lock(&mu_);
  if (dir == Direction::kDownstream) {
    c.counted.down += n;
    return;
  }
  c.counted.up += n;
  while (n > 0 && !c.handshake_done) {
    if (c.record_left > 0) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(c.record_left, n));
      c.record_left -= k;
      p += k;
      n -= k;
      continue;
    }
    const size_t k = std::min(kHeader - c.record_header.size(), n);
    c.record_header.append(p, k);
    p += k;
    n -= k;
    if (c.record_header.size() < kHeader) break;
    const auto* h = reinterpret_cast<const unsigned char*>(c.record_header.data());
    const unsigned char type = h[0];
    c.record_left = (static_cast<uint64_t>(h[3]) << 8) | h[4];
    c.record_header.clear();
    if (type == kApplicationData) {
      // The handshake ends with this record: what came before it, and it.
      c.handshake_done = true;
      c.counted.handshake_up = c.counted.up - n + c.record_left;
      c.counted.handshake_down = c.counted.down;
    }
  }
}

std::vector<ConnectionBytes> CuttingProxy::Connections() const {
  absl::MutexLock lock(&mu_);
  std::vector<ConnectionBytes> out;
  for (const auto& c : conns_) out.push_back(c->counted);
  return out;
}

void CuttingProxy::CutAfterBytes(Direction dir, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  armed_ = true;
  armed_dir_ = dir;
  armed_left_ = bytes;
}

void CuttingProxy::SetConnectionLimit(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  connection_limit_ = bytes;
}

void CuttingProxy::CutNow() {
  absl::MutexLock lock(&mu_);
  for (const auto& c : conns_) {
    ::shutdown(c->client, SHUT_RDWR);
    ::shutdown(c->target, SHUT_RDWR);
  }
  ++cuts_;
}

void CuttingProxy::GoSilentAfterBytes(Direction dir, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  if (bytes == 0) {
    silent_.store(true);
    return;
  }
  silence_armed_ = true;
  silence_dir_ = dir;
  silence_left_ = bytes;
}

void CuttingProxy::SetRate(uint64_t bytes_per_second) { rate_.store(bytes_per_second); }

void CuttingProxy::SetDelay(int millis) { delay_millis_.store(millis < 0 ? 0 : millis); }

void CuttingProxy::SetRefuseNew(bool refuse) { refuse_new_.store(refuse); }

void CuttingProxy::DropOpenOnNextWrite() {
  absl::MutexLock lock(&mu_);
  for (const auto& c : conns_) c->stale.store(true);
}

void CuttingProxy::StartRecording() { recording_.store(true); }

std::string CuttingProxy::Recorded(Direction dir) const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& c : conns_) {
    out += c->recorded[static_cast<int>(dir)];
    out.push_back('\n');
  }
  return out;
}

uint64_t CuttingProxy::bytes(Direction dir) const {
  absl::MutexLock lock(&mu_);
  return bytes_[static_cast<int>(dir)];
}

void CuttingProxy::Stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> pumps;
  std::vector<std::shared_ptr<Conn>> conns;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& c : conns_) {
      ::shutdown(c->client, SHUT_RDWR);
      ::shutdown(c->target, SHUT_RDWR);
    }
    pumps.swap(pumps_);
    conns.swap(conns_);
  }
  for (std::thread& t : pumps) t.join();
  for (const auto& c : conns) {
    ::close(c->client);
    ::close(c->target);
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

}  // namespace fieldsync::testing
