#include "tools/lib/cutting_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fieldsync::testing {

struct CuttingProxy::Conn {
  int client = -1;
  int target = -1;
  std::string recorded[2];  // by Direction, guarded by the proxy's mutex
  uint64_t passed = 0;       // both directions, guarded by the proxy's mutex
};

namespace {

constexpr int kPollMillis = 50;

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
  c.passed += allowed;
  bytes_[static_cast<int>(dir)] += allowed;
  return allowed;
}

void CuttingProxy::Pump(std::shared_ptr<Conn> c) {
  char buf[16 * 1024];
  while (!stopping_.load()) {
    pollfd p[2] = {{c->client, POLLIN, 0}, {c->target, POLLIN, 0}};
    const int r = ::poll(p, 2, kPollMillis);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const int from = i == 0 ? c->client : c->target;
      const int to = i == 0 ? c->target : c->client;
      const ssize_t n = ::recv(from, buf, sizeof(buf), 0);
      if (n <= 0) {
        done = true;
        break;
      }
      bool cut = false;
      bool cut_one = false;
      const uint64_t allowed =
          Admit(*c, i == 0 ? Direction::kUpstream : Direction::kDownstream,
                static_cast<uint64_t>(n), &cut, &cut_one);
      if (allowed > 0 && recording_.load()) {
        absl::MutexLock lock(&mu_);
        c->recorded[i].append(buf, static_cast<size_t>(allowed));
      }
      if (allowed > 0 && !WriteAll(to, buf, static_cast<size_t>(allowed))) done = true;
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

void CuttingProxy::SetRefuseNew(bool refuse) { refuse_new_.store(refuse); }

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
