// The key agent's protocol (node/agent.h, protocol version 3), spoken to an
// agent this test program starts with StartAgent, so that this program is
// "the program" the agent serves: it signs and opens itself and never hands
// out the device's secret keys, refuses what is malformed, bounds its search
// index, and no peer -- silent, stalled or flooding -- holds up another.
// Real Unix sockets, real processes (a copy of this program knocks as
// another program), libsodium. The agent of `fieldnode unlock` and the
// commands over it: fieldnode_agent_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/commit_signature.h"
#include "crypto/identity.h"
#include "crypto/keystore.h"
#include "node/agent.h"
#include "node/agent_index.h"
#include "store/data_dir.h"
#include "support/agent_peer.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

using namespace agent_peer;  // NOLINT: the peer the tests play

// Whether the agent closed its end of `fd` within `ms` (POLLHUP: seen
// without reading what it sent before).
bool WaitHangUp(int fd, int ms) {
  pollfd p{fd, 0, 0};
  return poll(&p, 1, ms) == 1 && (p.revents & POLLHUP) != 0;
}

// A peer stopped in the middle of a request: a G, its domain length, and no
// more.
int StalledPeer(const std::string& data_dir) {
  const int fd = RawConnect(data_dir);
  if (fd >= 0 && send(fd, "G\x10", 2, MSG_NOSIGNAL) != 2) {
    close(fd);
    return -1;
  }
  return fd;
}

// Another program of the same user: a copy of this test program (another
// file, so not the program the agent runs). With FIELDSYNC_AGENT_TEST_KNOCK
// set to "N DIR" it opens N connections to DIR's agent one after another,
// asks S on each and keeps them all, prints how many were answered and how
// many the agent closed unanswered, and exits before any test runs.
int KnockAsAnotherProgram() {
  const char* knock = getenv("FIELDSYNC_AGENT_TEST_KNOCK");
  if (knock == nullptr) return 0;
  std::istringstream in(knock);
  int n = 0;
  std::string data_dir;
  in >> n >> data_dir;
  int answered = 0, refused = 0, other = 0;
  std::vector<int> kept;
  for (int i = 0; i < n; ++i) {
    const int fd = RawConnect(data_dir);
    if (fd < 0) {
      ++other;
      continue;
    }
    kept.push_back(fd);
    const Answer a = Exchange(fd, "S", 3000, 10);
    if (a.bytes.size() == 10) {
      ++answered;
    } else if (a.closed && a.bytes.empty()) {
      ++refused;
    } else {
      ++other;
    }
  }
  std::printf("answered %d refused %d", answered, refused);
  if (other > 0) std::printf(" other %d", other);
  std::printf("\n");
  std::fflush(stdout);
  _exit(0);
}
[[maybe_unused]] const int kKnocked = KnockAsAnotherProgram();

// Runs the other program (copied into `scratch` at its first use): `n`
// connections to the agent of `data_dir`; what it printed.
std::string KnockFromAnotherProgram(const std::string& scratch, const std::string& data_dir,
                                    int n) {
  const std::string copy = scratch + "/another-program";
  if (access(copy.c_str(), X_OK) != 0) {
    std::filesystem::copy_file(std::filesystem::read_symlink("/proc/self/exe"), copy);
  }
  harness::CommandResult r = harness::Run(
      {"/usr/bin/env", absl::StrCat("FIELDSYNC_AGENT_TEST_KNOCK=", n, " ", data_dir), copy});
  return r.out + r.err;
}

// ---------------------------------------------------------------------------
// An agent this test program starts: the protocol, answered to its own
// program.

class AgentProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::EnsureSodium();
    data_dir_ = dir_.File("node");
    ASSERT_EQ(mkdir(data_dir_.c_str(), 0700), 0);
    crypto::DeviceIdentity id = crypto::DeviceIdentity::Generate(Id16::NewRandom());
    secrets_ = SecretsOf(id);
    const int64_t until = SystemClock::Get()->NowMillis() + 600'000;
    ASSERT_TRUE(node::StartAgent(data_dir_, std::move(id), until).ok());
  }
  void TearDown() override { node::StopAgent(data_dir_); }

  TempDir dir_;
  std::string data_dir_;
  Secrets secrets_;
};

TEST_F(AgentProtocolTest, NoRequestAnswersTheSecretKeysEvenToItsOwnProgram) {
  std::vector<Answer> a;
  ProbeEveryCommand(data_dir_, secrets_, &a);
  // What was served: S, P, G and O, each with the documented answer.
  ASSERT_EQ(a['S'].bytes.size(), 10u);
  EXPECT_EQ(a['S'].bytes[0], 0);
  EXPECT_EQ(a['S'].bytes[1], 3) << "protocol version";
  ASSERT_EQ(a['P'].bytes.size(), 1u + 8 + 16 + 32 + 32);
  EXPECT_EQ(a['P'].bytes.substr(9, 16), std::string(secrets_.pub.device.view()));
  EXPECT_EQ(a['P'].bytes.substr(25, 32), secrets_.pub.sign_pk);
  EXPECT_EQ(a['P'].bytes.substr(57, 32), secrets_.pub.box_pk);
  ASSERT_EQ(a['G'].bytes.size(), 65u);
  EXPECT_TRUE(crypto::VerifySignature(secrets_.pub.sign_pk, crypto::kCommitSignDomain,
                                      std::string(100, 'c'), a['G'].bytes.substr(1), "G")
                  .ok());
  ASSERT_EQ(a['O'].bytes.size(), 3u + 48);
  EXPECT_EQ(a['O'].bytes.substr(3), std::string(48, 'k'));
  // The search index: no index at the query (Q comes before U), an empty
  // one built, then its state: ready, key 0, no entry.
  EXPECT_EQ(a['Q'].bytes, std::string("\0\0", 2));
  EXPECT_EQ(a['U'].bytes, std::string(1, '\0'));
  EXPECT_EQ(a['X'].bytes, std::string("\0\1", 2) + std::string(28, '\0'));
  // Every other byte is an unknown command: refusal 4, connection closed.
  for (int b = 0; b < 256; ++b) {
    if (b == 'S' || b == 'P' || b == 'G' || b == 'O' || b == 'L' || b == 'Q' || b == 'U' ||
        b == 'X') {
      continue;
    }
    EXPECT_EQ(a[static_cast<size_t>(b)].bytes, std::string(1, '\4')) << "command byte " << b;
    EXPECT_TRUE(a[static_cast<size_t>(b)].closed) << "command byte " << b;
  }
  // L: done, and the agent is gone with its socket.
  EXPECT_EQ(a['L'].bytes, std::string(1, '\0'));
  EXPECT_TRUE(WaitGone(node::AgentSocketPath(data_dir_), 3000));
}

// Attack review 24, LOW 4: a peer of the program sending index updates
// of fresh cases without end grew the agent's locked memory until it
// failed, and with it every console's keys. Past kAgentMaxIndexBytes of
// text, or kAgentMaxIndexEntries cases, an update is refused with status 6
// on a connection kept, the index is dropped, and the agent serves on.
// Red before: every update was taken.
TEST_F(AgentProtocolTest, AnIndexPastItsBoundIsRefusedAndTheAgentLives) {
  const int fd = RawConnect(data_dir_);
  ASSERT_GE(fd, 0);
  uint64_t next_id = 0;
  // Updates of `per` fresh cases, each with a text of `len` bytes, until
  // one is refused; how many were taken, and the refusal.
  auto flood = [&](size_t per, uint32_t len, int at_most) {
    std::pair<int, Answer> out;
    const std::string text(len, 'a');
    for (int i = 0; i < at_most; ++i) {
      std::string body;
      for (size_t e = 0; e < per; ++e) {
        std::string id(16, '\0');
        ++next_id;
        for (int b = 0; b < 8; ++b) {
          id[static_cast<size_t>(8 + b)] = static_cast<char>(next_id >> (8 * (7 - b)));
        }
        body += id + U32(len) + text;
      }
      EXPECT_LE(body.size(), node::kAgentMaxIndexUpdate);
      const std::string req = std::string(1, 'U') + std::string(1, i == 0 ? '\1' : '\0') +
                              std::string(48, '\0') + U32(static_cast<uint32_t>(body.size())) +
                              body;
      Answer a = Exchange(fd, req, 5000, 1);
      if (a.bytes != std::string(1, '\0')) {
        out.second = a;
        return out;
      }
      ++out.first;
    }
    return out;
  };
  auto state = [&] {
    Answer x = Exchange(fd, "X", 2000, 30);
    EXPECT_EQ(x.bytes.size(), 30u);
    return x;
  };
  // Bytes: texts of 64 KiB, 15 to an update.
  const size_t per = 15;
  const uint32_t len = static_cast<uint32_t>(node::kAgentMaxIndexText);
  const int fit = static_cast<int>(node::kAgentMaxIndexBytes / (per * len));
  auto [taken, refused] = flood(per, len, fit + 5);
  EXPECT_EQ(taken, fit);
  EXPECT_EQ(refused.bytes, std::string(1, '\6'));
  EXPECT_FALSE(refused.closed) << "the connection is kept";
  // Dropped: not ready, no entry.
  Answer x = state();
  EXPECT_EQ(x.bytes.substr(0, 2), std::string(2, '\0'));
  EXPECT_EQ(x.bytes.substr(26), U32(0));
  // Entries: empty texts, as many as an update holds.
  const size_t many = node::kAgentMaxIndexUpdate / 20;
  const int fit_entries = static_cast<int>(node::kAgentMaxIndexEntries / many);
  auto [taken_entries, refused_entries] = flood(many, 0, fit_entries + 5);
  EXPECT_EQ(taken_entries, fit_entries);
  EXPECT_EQ(refused_entries.bytes, std::string(1, '\6'));
  EXPECT_EQ(state().bytes.substr(26), U32(0));
  close(fd);
  // The agent serves on: its status, and a signature that verifies.
  const int c = RawConnect(data_dir_);
  ASSERT_GE(c, 0);
  EXPECT_EQ(Exchange(c, "S").bytes.size(), 10u);
  Answer g = Exchange(c, SignRequest(crypto::kKeyRecordSignDomain, "after"), 1000, 65);
  ASSERT_EQ(g.bytes.size(), 65u);
  EXPECT_TRUE(crypto::VerifySignature(secrets_.pub.sign_pk, crypto::kKeyRecordSignDomain, "after",
                                      g.bytes.substr(1), "G")
                  .ok());
  close(c);
}

// Attack review 25, LOW 4: an update naming a held case many times had
// that case's old length taken off once per naming, so one update could
// take the index past its bound (to about twice it). Each case of an update
// now counts once, as the update leaves it. Red before: the update past the
// bound below was taken.
TEST_F(AgentProtocolTest, ACaseNamedManyTimesInOneUpdateCountsOnceAgainstTheBound) {
  const int fd = RawConnect(data_dir_);
  ASSERT_GE(fd, 0);
  auto id_of = [](uint64_t n) {
    std::string id(16, '\0');
    for (int b = 0; b < 8; ++b) id[static_cast<size_t>(8 + b)] = static_cast<char>(n >> (8 * (7 - b)));
    return id;
  };
  auto update = [&](const std::string& body, bool first) {
    const std::string req = std::string(1, 'U') + std::string(1, first ? '\1' : '\0') +
                            std::string(48, '\0') + U32(static_cast<uint32_t>(body.size())) + body;
    return Exchange(fd, req, 5000, 1);
  };
  // The index filled short of its bound with texts of 64 KiB.
  const size_t per = 15;
  const size_t len = node::kAgentMaxIndexText;
  const std::string text(len, 'a');
  const size_t fit = node::kAgentMaxIndexBytes / (per * len);
  uint64_t next = 0;
  for (size_t i = 0; i < fit; ++i) {
    std::string body;
    for (size_t e = 0; e < per; ++e) body += id_of(++next) + U32(static_cast<uint32_t>(len)) + text;
    ASSERT_EQ(update(body, i == 0).bytes, std::string(1, '\0')) << "update " << i;
  }
  const size_t room = node::kAgentMaxIndexBytes - fit * per * len;
  // Case 1 (held, 64 KiB) named `per` times with an empty text, and fresh
  // cases of more than the room its shrinking leaves.
  std::string body;
  for (size_t e = 0; e < per; ++e) body += id_of(1) + U32(0);
  const size_t fresh = (room + len) / len + 1;
  for (size_t e = 0; e < fresh; ++e) body += id_of(++next) + U32(static_cast<uint32_t>(len)) + text;
  ASSERT_LE(body.size(), node::kAgentMaxIndexUpdate);
  ASSERT_GT(fit * per * len - len + fresh * len, node::kAgentMaxIndexBytes) << "past the bound";
  const Answer a = update(body, false);
  EXPECT_EQ(a.bytes, std::string(1, '\6')) << "an update past the bound is refused";
  EXPECT_FALSE(a.closed);
  // Dropped: no entry.
  const Answer x = Exchange(fd, "X", 2000, 30);
  ASSERT_EQ(x.bytes.size(), 30u);
  EXPECT_EQ(x.bytes.substr(26), U32(0));
  // The same naming that fits is taken: case 1 named many times, ending
  // with a text, over an index of one update.
  std::string small;
  for (size_t e = 0; e < per; ++e) small += id_of(1) + U32(3) + "abc";
  EXPECT_EQ(update(small, true).bytes, std::string(1, '\0'));
  const Answer y = Exchange(fd, "X", 2000, 30);
  ASSERT_EQ(y.bytes.size(), 30u);
  EXPECT_EQ(y.bytes.substr(26), U32(1)) << "one case, however often named";
  close(fd);
}

TEST_F(AgentProtocolTest, OneConnectionServesManyRequestsAndBadOnesAreRefused) {
  const int fd = RawConnect(data_dir_);
  ASSERT_GE(fd, 0);
  // Several requests in turn on one connection.
  for (int i = 0; i < 50; ++i) {
    const std::string msg = absl::StrCat("message ", i);
    Answer g = Exchange(fd, SignRequest(crypto::kKeyRecordSignDomain, msg), 1000, 65);
    ASSERT_EQ(g.bytes.size(), 65u) << i;
    EXPECT_TRUE(crypto::VerifySignature(secrets_.pub.sign_pk, crypto::kKeyRecordSignDomain, msg,
                                        g.bytes.substr(1), "G")
                    .ok());
  }
  // A box that does not open: refusal 3, the connection stays.
  std::string sealed = SealTo(secrets_.pub.box_pk, "sixteen bytes!!!");
  sealed[sealed.size() - 1] ^= 1;
  Answer o = Exchange(fd, OpenRequest(sealed));
  EXPECT_EQ(o.bytes, std::string(1, '\3'));
  EXPECT_FALSE(o.closed);
  Answer s = Exchange(fd, "S");
  EXPECT_EQ(s.bytes.size(), 10u);
  close(fd);

  // Malformed requests: refusal 2, connection closed.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"an empty domain", SignRequest("", "m")},
      {"a domain of 65 bytes", SignRequest(std::string(65, 'd'), "m")},
      {"a NUL in the domain", SignRequest(std::string("a\0b", 3), "m")},
      {"a message over the bound",
       std::string("G\x03") + "dom" + U32(static_cast<uint32_t>(node::kAgentMaxMessage + 1))},
      {"a sealed box too short", OpenRequest(std::string(47, 's'))},
      {"a sealed box too long", OpenRequest(std::string(node::kAgentMaxSealed + 1, 's'))},
      {"an index update over the bound",
       std::string("U\1", 2) + std::string(48, '\0') +
           U32(static_cast<uint32_t>(node::kAgentMaxIndexUpdate + 1))},
      {"an index entry longer than its update",
       std::string("U\3", 2) + std::string(48, '\0') + U32(20) + std::string(16, 'i') +
           U32(5)},
      {"an empty query", std::string("Q\0\0", 3)},
      {"a query over the bound", std::string("Q\x10\x01", 3)},
  };
  for (const auto& [what, req] : bad) {
    const int c = RawConnect(data_dir_);
    ASSERT_GE(c, 0);
    Answer a = Exchange(c, req);
    EXPECT_EQ(a.bytes, std::string(1, '\2')) << what;
    EXPECT_TRUE(a.closed) << what;
    close(c);
  }
}

TEST_F(AgentProtocolTest, ASilentPeerIsDroppedAndHoldsUpNobody) {
  // An idle connection (between requests), opened first: it must outlive
  // the bound that drops the silent one below.
  const int idle = RawConnect(data_dir_);
  ASSERT_GE(idle, 0);
  // A peer that sends a command byte and no more (stopped with Ctrl-Z).
  const int silent = RawConnect(data_dir_);
  ASSERT_GE(silent, 0);
  ASSERT_EQ(send(silent, "G\x10", 2, MSG_NOSIGNAL), 2);
  // Another client is answered meanwhile, within the agent's 1 s bound.
  const auto start = std::chrono::steady_clock::now();
  std::optional<int64_t> expiry = node::AgentExpiry(data_dir_);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(expiry.has_value());
  EXPECT_LT(waited, std::chrono::milliseconds(1500));
  // The silent one is dropped after about 1 s.
  Answer a = Exchange(silent, "", 3000);
  EXPECT_TRUE(a.closed);
  EXPECT_TRUE(a.bytes.empty());
  close(silent);
  // The idle one, older than the silent one, stays: no sleep, the silent
  // one's drop is the event that shows the bound has passed for it too.
  EXPECT_EQ(Exchange(idle, "S").bytes.size(), 10u);
  close(idle);
}

// A connection of the fieldnode program (a command running) is never closed
// to admit another: with every place taken by the program's connections, a
// flood of connections from another program of the user is refused, and
// every command can still sign. (Before, each newcomer closed the longest
// idle connection, whichever it was.)
TEST_F(AgentProtocolTest, AFloodOfConnectionsNeverClosesOneOfTheProgram) {
  std::vector<int> mine;
  for (size_t i = 0; i < node::kAgentMaxConnections; ++i) {
    const int fd = RawConnect(data_dir_);
    ASSERT_GE(fd, 0);
    mine.push_back(fd);
    // P answered: taken, and checked as the program.
    ASSERT_EQ(Exchange(fd, "P", 3000, 89).bytes.size(), 89u) << i;
  }
  EXPECT_EQ(KnockFromAnotherProgram(dir_.path(), data_dir_, 200), "answered 0 refused 200\n");
  int closed = 0;
  for (size_t i = 0; i < mine.size(); ++i) {
    const std::string msg = absl::StrCat("still here ", i);
    Answer g = Exchange(mine[i], SignRequest(crypto::kKeyRecordSignDomain, msg), 3000, 65);
    if (g.bytes.size() != 65) {
      ++closed;
      continue;
    }
    EXPECT_TRUE(crypto::VerifySignature(secrets_.pub.sign_pk, crypto::kKeyRecordSignDomain, msg,
                                        g.bytes.substr(1), "G")
                    .ok());
  }
  EXPECT_EQ(closed, 0) << "connections of the program closed for newcomers";
  // A command ends: the next newcomer takes its place.
  close(mine.back());
  mine.pop_back();
  EXPECT_EQ(KnockFromAnotherProgram(dir_.path(), data_dir_, 1), "answered 1 refused 0\n");
  for (int fd : mine) close(fd);
}

// A peer stopped in the middle of a request, one trickling a request, and
// one asking S after S without reading the answers: none holds up another
// peer's request (each is served a step at a time, never waited for), and
// each is dropped once its request is over the bound, reads and answer
// together. (Before, the agent waited up to the bound on each in turn.)
TEST_F(AgentProtocolTest, NoPeerHoldsUpAnothersRequest) {
  std::vector<int> stalled;
  for (int i = 0; i < 3; ++i) {
    stalled.push_back(StalledPeer(data_dir_));
    ASSERT_GE(stalled.back(), 0);
  }
  std::vector<int> deaf;
  for (int i = 0; i < 3; ++i) {
    const int fd = RawConnect(data_dir_);
    ASSERT_GE(fd, 0);
    deaf.push_back(fd);
    const std::string asks(64 * 1024, 'S');
    ASSERT_GT(send(fd, asks.data(), asks.size(), MSG_NOSIGNAL | MSG_DONTWAIT), 0);
  }
  // A G of 50 bytes, one byte every 100 ms: whole after 5 s.
  const int trickle = RawConnect(data_dir_);
  ASSERT_GE(trickle, 0);
  std::thread trickler([trickle] {
    const std::string req = SignRequest("trickle", std::string(40, 'm'));
    for (char c : req) {
      if (send(trickle, &c, 1, MSG_NOSIGNAL) != 1) return;  // dropped
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // Another client is answered at once, well within the bound of one
  // request (its connection comes last, behind all of them).
  const auto start = std::chrono::steady_clock::now();
  std::optional<int64_t> expiry = node::AgentExpiry(data_dir_);
  const int64_t waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count();
  EXPECT_TRUE(expiry.has_value());
  EXPECT_LT(waited_ms, node::kAgentRequestMillis) << "ms waited for an answer";
  // Each is dropped once its request is over the bound: the stalled and the
  // trickling one unanswered, the deaf ones after the answers their socket
  // took.
  const int bound = 3 * node::kAgentRequestMillis;
  for (int fd : stalled) {
    EXPECT_TRUE(WaitHangUp(fd, bound));
    EXPECT_EQ(Exchange(fd, "", 100).bytes, "");
    close(fd);
  }
  EXPECT_TRUE(WaitHangUp(trickle, bound));
  EXPECT_EQ(Exchange(trickle, "", 100).bytes, "");
  trickler.join();
  close(trickle);
  for (int fd : deaf) {
    EXPECT_TRUE(WaitHangUp(fd, bound));
    Answer a = Exchange(fd, "", 100);
    EXPECT_TRUE(a.closed);
    EXPECT_GT(a.bytes.size(), 0u);
    EXPECT_EQ(a.bytes.size() % 10, 0u) << "only whole answers";
    close(fd);
  }
}

// A new connection is checked when it comes, whatever other peers do: while
// some flood S and others stall mid-request, a child of this program
// connects and exits half a second later. Its connection is the program's
// only if the agent checked it while the child still ran (a process gone
// has no /proc/PID/exe): asked P after the child is gone, it is answered.
// (Before, the agent took new connections only after serving the others,
// each up to the bound.)
TEST_F(AgentProtocolTest, ANewConnectionIsCheckedAtOnceWhileOthersFloodAndStall) {
  std::vector<int> flood;
  for (int i = 0; i < 8; ++i) {
    flood.push_back(RawConnect(data_dir_));
    ASSERT_GE(flood.back(), 0);
  }
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::thread flooder([&] {
    while (!stop) {
      for (int fd : flood) {
        if (Exchange(fd, "S", 1000, 10).bytes.size() == 10) ++answered;
      }
    }
  });
  std::vector<int> stalled;
  for (int i = 0; i < 3; ++i) {
    stalled.push_back(StalledPeer(data_dir_));
    ASSERT_GE(stalled.back(), 0);
  }
  // The child connects the socket (SO_PEERCRED names the process that
  // connects) and exits; this process keeps the connection.
  const std::string path = node::AgentSocketPath(data_dir_);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only async-signal-safe calls: this process has threads.
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(1);
    poll(nullptr, 0, 500);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child did not connect";
  Answer p = Exchange(fd, "P", 3000, 89);
  EXPECT_EQ(p.bytes.size(), 89u) << "checked only after the child had gone (answer "
                                 << (p.bytes.empty() ? -1 : p.bytes[0]) << ")";
  stop = true;
  flooder.join();
  EXPECT_GT(answered.load(), 0);
  close(fd);
  for (int s : stalled) close(s);
  for (int f : flood) close(f);
}

TEST_F(AgentProtocolTest, TheDelegatedIdentitySignsAndOpensAndFailsWithAnErrorOnceLocked) {
  auto id = node::AgentIdentity(data_dir_);
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(id->has_value());
  const crypto::DeviceIdentity& d = **id;
  EXPECT_TRUE(d.delegated());
  EXPECT_EQ(d.public_keys().sign_pk, secrets_.pub.sign_pk);
  // No secret key in this process.
  EXPECT_EQ(d.sign_secret().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(d.box_secret().status().code(), absl::StatusCode::kFailedPrecondition);
  // A commit signed through the agent verifies.
  Commit c;
  c.author = d.device();
  c.seq = 1;
  c.hlc = Hlc::FromParts(SystemClock::Get()->NowMillis(), 0);
  absl::StatusOr<std::string> sig = crypto::SignCommit(d, c);
  ASSERT_TRUE(sig.ok()) << sig.status();
  c.signature = *sig;
  EXPECT_TRUE(crypto::VerifyCommitSignature(c, d.public_keys().sign_pk).ok());
  // A box sealed to the device opens through it; a tampered one does not.
  std::string sealed = SealTo(d.public_keys().box_pk, "an office key, say");
  absl::StatusOr<crypto::SecretBytes> plain = d.OpenSealed(sealed);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->view(), "an office key, say");
  sealed[0] ^= 1;
  EXPECT_EQ(d.OpenSealed(sealed).status().code(), absl::StatusCode::kUnauthenticated);
  // Locked: signing is an error saying what to do, never a signature.
  ASSERT_TRUE(node::StopAgent(data_dir_));
  absl::StatusOr<std::string> after = crypto::SignCommit(d, c);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(after.status().message().find("run fieldnode unlock"), std::string::npos)
      << after.status();
  // Marked as keys out of reach, not a rule's refusal (attack review 84,
  // MED 5): work cut by it is done again, never given up.
  EXPECT_TRUE(crypto::IsKeysUnreachable(after.status())) << after.status();
  absl::Status open_after = d.OpenSealed(SealTo(d.public_keys().box_pk, "x")).status();
  EXPECT_EQ(open_after.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(crypto::IsKeysUnreachable(open_after)) << open_after;
}

}  // namespace
}  // namespace fieldsync::testing
