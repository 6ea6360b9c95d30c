// The loopback proxy the sync fault tests cut links with: it forwards both
// ways, cuts at an exact byte count or on demand, and refuses connections.
#include "tools/lib/cutting_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace fieldsync::testing {
namespace {

// An echo server on 127.0.0.1: sends back whatever each connection sends.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        workers_.emplace_back([c] {
          char buf[4096];
          ssize_t n;
          while ((n = ::recv(c, buf, sizeof(buf), 0)) > 0) {
            if (::send(c, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
          }
          ::close(c);
        });
      }
    });
  }
  ~EchoServer() {
    stop_ = true;
    thread_.join();
    for (auto& w : workers_) w.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> workers_;
};

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{5, 0};  // a test never hangs for long
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// Reads until the peer closes (or `max` bytes, or the 5 s timeout).
std::string ReadUntilClosed(int fd, size_t max) {
  std::string out;
  char buf[4096];
  while (out.size() < max) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(CuttingProxyTest, ForwardsBothWaysAndCounts) {
  EchoServer echo;
  CuttingProxy proxy("127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.Start().ok());
  const int fd = Connect(proxy.port());
  const std::string msg = "Nguyễn Thị Hằng, Lào Cai";
  ASSERT_EQ(::send(fd, msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
  EXPECT_EQ(ReadUntilClosed(fd, msg.size()), msg);
  EXPECT_EQ(proxy.bytes(Direction::kUpstream), msg.size());
  EXPECT_EQ(proxy.bytes(Direction::kDownstream), msg.size());
  EXPECT_EQ(proxy.connections_accepted(), 1);
  ::close(fd);
}

TEST(CuttingProxyTest, CutsUpstreamAfterExactlyNBytes) {
  EchoServer echo;
  CuttingProxy proxy("127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.CutAfterBytes(Direction::kUpstream, 1000);
  const int fd = Connect(proxy.port());
  const std::string msg(5000, 'x');
  ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
  // At most the 1,000 bytes that passed come back, then the link is gone.
  const std::string got = ReadUntilClosed(fd, msg.size());
  EXPECT_LE(got.size(), 1000u);
  EXPECT_EQ(proxy.bytes(Direction::kUpstream), 1000u);
  EXPECT_EQ(proxy.cuts(), 1);
  ::close(fd);
  // The proxy still takes new connections after a cut, and forwards them.
  const int fd2 = Connect(proxy.port());
  ::send(fd2, "again", 5, 0);
  EXPECT_EQ(ReadUntilClosed(fd2, 5), "again");
  ::close(fd2);
}

TEST(CuttingProxyTest, CutsDownstreamAfterExactlyNBytes) {
  EchoServer echo;
  CuttingProxy proxy("127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.CutAfterBytes(Direction::kDownstream, 300);
  const int fd = Connect(proxy.port());
  const std::string msg(2000, 'y');
  ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
  EXPECT_EQ(ReadUntilClosed(fd, msg.size()).size(), 300u);
  ::close(fd);
}

TEST(CuttingProxyTest, ALimitPerConnectionCutsEachConnectionAfterItsOwnBytes) {
  EchoServer echo;
  CuttingProxy proxy("127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.SetConnectionLimit(1000);
  const std::string msg(5000, 'z');
  for (int i = 1; i <= 2; ++i) {
    // Both directions together: what comes back plus what went up is 1,000.
    const int fd = Connect(proxy.port());
    ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
    const std::string got = ReadUntilClosed(fd, msg.size());
    EXPECT_LT(got.size(), 1000u);
    EXPECT_EQ(proxy.bytes(Direction::kUpstream) + proxy.bytes(Direction::kDownstream),
              1000u * static_cast<uint64_t>(i));
    EXPECT_EQ(proxy.cuts(), i);
    ::close(fd);
  }
  // Without a limit, a connection passes whole again.
  proxy.SetConnectionLimit(0);
  const int fd = Connect(proxy.port());
  ::send(fd, "Lào Cai", 8, 0);
  EXPECT_EQ(ReadUntilClosed(fd, 8), "Lào Cai");
  ::close(fd);
}

TEST(CuttingProxyTest, CutNowClosesOpenConnections) {
  EchoServer echo;
  CuttingProxy proxy("127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.Start().ok());
  const int fd = Connect(proxy.port());
  ::send(fd, "a", 1, 0);
  EXPECT_EQ(ReadUntilClosed(fd, 1), "a");
  proxy.CutNow();
  EXPECT_EQ(ReadUntilClosed(fd, 10), "");
  ::close(fd);
}

TEST(CuttingProxyTest, RefusingNewConnectionsClosesThemAtOnce) {
  EchoServer echo;
  CuttingProxy proxy("127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.SetRefuseNew(true);
  const int fd = Connect(proxy.port());
  ::send(fd, "hello", 5, MSG_NOSIGNAL);
  EXPECT_EQ(ReadUntilClosed(fd, 5), "");
  ::close(fd);
  proxy.SetRefuseNew(false);
  const int fd2 = Connect(proxy.port());
  ::send(fd2, "hello", 5, 0);
  EXPECT_EQ(ReadUntilClosed(fd2, 5), "hello");
  ::close(fd2);
}

TEST(CuttingProxyTest, ASilentLinkForwardsNothingMoreAndKeepsItsSocketsOpen) {
  EchoServer echo;
  CuttingProxy proxy("127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.GoSilentAfterBytes(Direction::kDownstream, 300);
  const int fd = Connect(proxy.port());
  const std::string msg(2000, 'q');
  ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
  EXPECT_EQ(ReadUntilClosed(fd, 300).size(), 300u);
  EXPECT_TRUE(proxy.silent());
  // Still open: more can be sent (nothing passes).
  EXPECT_EQ(::send(fd, "more", 4, MSG_NOSIGNAL), 4);
  // Only a cut ends it, and nothing came after the 300 bytes.
  proxy.CutNow();
  EXPECT_EQ(ReadUntilClosed(fd, 10000), "");
  EXPECT_EQ(proxy.bytes(Direction::kDownstream), 300u);
  EXPECT_EQ(proxy.bytes(Direction::kUpstream), 2000u);
  ::close(fd);
}

TEST(CuttingProxyTest, ARateLimitSlowsTheLinkButCarriesEverything) {
  EchoServer echo;
  CuttingProxy proxy("127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.SetRate(100'000);
  const auto start = std::chrono::steady_clock::now();
  const int fd = Connect(proxy.port());
  const std::string msg(30000, 'r');
  ASSERT_EQ(::send(fd, msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
  EXPECT_EQ(ReadUntilClosed(fd, msg.size()), msg);
  // 30,000 bytes each way at 100,000 a second, a tenth of a second's worth
  // at once: at least 0.2 s.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(190));
  ::close(fd);
}

TEST(CuttingProxyTest, ADelayHoldsEachWayAndCarriesEverythingInOrder) {
  EchoServer echo;
  CuttingProxy proxy("127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.SetDelay(150);
  const int fd = Connect(proxy.port());
  std::string msg;
  for (int i = 0; i < 2000; ++i) msg += "Lào Cai " + std::to_string(i) + "\n";
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(::send(fd, msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
  EXPECT_EQ(ReadUntilClosed(fd, msg.size()), msg);
  // To the echo server and back: the delay twice.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_EQ(proxy.bytes(Direction::kUpstream), msg.size());
  EXPECT_EQ(proxy.bytes(Direction::kDownstream), msg.size());
  ::close(fd);
}

}  // namespace
}  // namespace fieldsync::testing
