// A TCP proxy on loopback that tests control: it forwards every connection
// to a target address and can cut connections at an exact byte count, on
// demand, refuse new ones, go silent (forward nothing more, sockets left
// open), or forward slowly and late -- the "bad link" between a node and the hub
// (the kernel's netem is not available here; see TOOLCHAIN.md).
//
//   CuttingProxy proxy("127.0.0.1", hub_port);
//   ASSERT_TRUE(proxy.Start().ok());            // listens on 127.0.0.1:<proxy.port()>
//   proxy.CutAfterBytes(Direction::kUpstream, 4096);  // mid-push
//   ... the node talks to 127.0.0.1:proxy.port() ...
//   proxy.Stop();
//
// One thread accepts, one thread pumps each connection (poll()); all state is
// guarded by a mutex. Traffic goes only to the target given (a loopback
// address in tests).
#ifndef FIELDSYNC_TOOLS_LIB_CUTTING_PROXY_H_
#define FIELDSYNC_TOOLS_LIB_CUTTING_PROXY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace fieldsync::testing {

enum class Direction {
  kUpstream,    // client -> target (a node's push)
  kDownstream,  // target -> client (a pull's stream)
};

// What one connection carried through the proxy.
struct ConnectionBytes {
  uint64_t up = 0;    // client -> target
  uint64_t down = 0;  // target -> client
  // Its TLS handshake, as the plain-text record headers show it: what
  // passed each way until the end of the client's first encrypted record
  // (TLS 1.3: the client's Finished), the server's flight with its
  // certificate (or without: a resumed session) included. The session
  // tickets the server sends after it are not counted. Both 0 until that
  // record has passed.
  uint64_t handshake_up = 0;
  uint64_t handshake_down = 0;
};

class CuttingProxy {
 public:
  CuttingProxy(std::string target_host, int target_port);
  ~CuttingProxy();  // Stop()
  CuttingProxy(const CuttingProxy&) = delete;
  CuttingProxy& operator=(const CuttingProxy&) = delete;

  // Listens on 127.0.0.1 on a free port and starts accepting.
  absl::Status Start();
  // Connects to the target from `host` (an IPv4 address of this machine,
  // e.g. 127.0.0.2: every 127/8 address is loopback on Linux), so that the
  // target sees its clients as another peer. Call before Start().
  void SetSourceAddress(std::string host) { source_host_ = std::move(host); }
  // Closes every connection and the listener; joins the threads.
  void Stop();
  int port() const { return port_; }

  // Cuts every open connection once `bytes` more bytes have passed in
  // `dir` (counted over all connections from this call on), after
  // forwarding exactly that many. The cut fires once.
  void CutAfterBytes(Direction dir, uint64_t bytes);
  // From now on, cuts each connection once `bytes` have passed through it,
  // both directions together, after forwarding exactly that many: a link
  // that drops every connection after so much (TLS handshake included).
  // 0: no limit. Independent of CutAfterBytes.
  void SetConnectionLimit(uint64_t bytes);
  // Cuts every open connection now.
  void CutNow();
  // Once `bytes` more bytes have passed in `dir` (counted over all
  // connections from this call on), after forwarding exactly that many,
  // the link goes silent: nothing more is forwarded either way, on any
  // connection, new ones included, and no socket is closed (packets lost
  // on a dead link: no reset, no FIN). Silence lasts until Stop() or
  // CutNow() (which also closes the connections silenced).
  void GoSilentAfterBytes(Direction dir, uint64_t bytes);
  bool silent() const { return silent_.load(); }
  // From now on, each connection forwards at most about `bytes_per_second`
  // each way: a slow link that works. What is sent on it is taken at once
  // and held (up to 256 KiB each way, as a router's buffer) until the rate
  // lets it pass. 0: no limit.
  void SetRate(uint64_t bytes_per_second);
  // From now on, what a connection reads in either direction is forwarded
  // no earlier than `millis` after it arrived: a link's one-way delay (a
  // round trip takes twice as long). Data read before the call is not
  // delayed. 0: none. Combines with SetRate (the delay first).
  void SetDelay(int millis);
  // While set, new connections are accepted and closed at once (the hub
  // "unreachable" although something listens).
  void SetRefuseNew(bool refuse);
  // Each connection open now is cut as soon as its client sends anything
  // more, what it sent lost (nothing forwarded): a connection the far end
  // lost (a hub restarted, a router's table cleared) that the client only
  // learns of when it next writes. New connections are not concerned.
  void DropOpenOnNextWrite();

  uint64_t bytes(Direction dir) const;
  // From now on, keeps every byte that passes (per connection and
  // direction), for tests that search the traffic.
  void StartRecording();
  // What passed in `dir`, each connection's stream whole, streams separated
  // by a newline.
  std::string Recorded(Direction dir) const;
  int connections_accepted() const { return accepted_.load(); }
  // Each connection forwarded so far, in the order accepted (those the
  // proxy refused or could not forward are not in it).
  std::vector<ConnectionBytes> Connections() const;
  int cuts() const { return cuts_.load(); }

 private:
  struct Conn;
  void AcceptLoop();
  void Pump(std::shared_ptr<Conn> c);
  // How many of `n` bytes in `dir` may pass before the armed cut fires;
  // records what passes. Returns n when no cut is armed in that direction.
  // `*cut_all` for the armed cut, `*cut_one` for the connection's limit.
  uint64_t Admit(Conn& c, Direction dir, uint64_t n, bool* cut_all, bool* cut_one);
  // Counts `n` bytes forwarded in `dir` on `c` (and reads the TLS record
  // headers the client sends, for ConnectionBytes' handshake).
  void Count(Conn& c, Direction dir, const char* p, size_t n);
  void CloseAll();

  const std::string target_host_;
  const int target_port_;
  std::string source_host_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> refuse_new_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> cuts_{0};
  std::atomic<bool> recording_{false};
  std::atomic<bool> silent_{false};
  std::atomic<uint64_t> rate_{0};
  std::atomic<int> delay_millis_{0};
  std::thread acceptor_;

  mutable absl::Mutex mu_;
  uint64_t bytes_[2] ABSL_GUARDED_BY(mu_) = {0, 0};
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  Direction armed_dir_ ABSL_GUARDED_BY(mu_) = Direction::kUpstream;
  uint64_t armed_left_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t connection_limit_ ABSL_GUARDED_BY(mu_) = 0;
  bool silence_armed_ ABSL_GUARDED_BY(mu_) = false;
  Direction silence_dir_ ABSL_GUARDED_BY(mu_) = Direction::kUpstream;
  uint64_t silence_left_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<Conn>> conns_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TOOLS_LIB_CUTTING_PROXY_H_
