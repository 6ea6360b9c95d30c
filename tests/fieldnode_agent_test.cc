// The key agent of `fieldnode unlock` (node/agent.h, protocol version 3):
// it signs and opens itself and never hands out the device's secret keys;
// it serves signing, opening and the public keys only to the fieldnode
// program that started it; a command that loses it mid-way stops with one
// line and changes nothing. Real processes, a real Unix socket, libsodium:
// the agent is the one `fieldnode unlock` leaves running, or (for the
// protocol's own checks) one this test program starts with StartAgent, so
// that this program is "the program" the agent serves.
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
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

constexpr char kPass[] = "một câu dài làm mật khẩu";

std::string ReadAllFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The first UUID in `s` (a record id in a command's output); "" if none.
std::string FirstUuid(const std::string& s) {
  for (size_t i = 0; i + 36 <= s.size(); ++i) {
    const std::string c = s.substr(i, 36);
    if (c[8] == '-' && c[13] == '-' && c[18] == '-' && c[23] == '-' &&
        Id16::Parse(c, "id").ok()) {
      return c;
    }
  }
  return "";
}

// A raw client of the agent's socket: connect, send bytes, read what comes
// back until the agent closes the connection or is quiet for `quiet_ms`.
int RawConnect(const std::string& data_dir) {
  const std::string path = node::AgentSocketPath(data_dir);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

struct Answer {
  std::string bytes;
  bool closed = false;  // the agent closed the connection
};

// With `want`, returns as soon as that many bytes came.
Answer Exchange(int fd, const std::string& request, int quiet_ms = 300, size_t want = 0) {
  Answer a;
  if (!request.empty() && send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    a.closed = true;
    return a;
  }
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, quiet_ms) <= 0) return a;
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
      a.closed = true;
      return a;
    }
    a.bytes.append(buf, static_cast<size_t>(n));
    if (want > 0 && a.bytes.size() >= want) return a;
  }
}

std::string U32(uint32_t v) {
  std::string s;
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}

std::string SignRequest(std::string_view domain, std::string_view message) {
  std::string r = "G";
  r.push_back(static_cast<char>(domain.size()));
  r.append(domain);
  r += U32(static_cast<uint32_t>(message.size()));
  r.append(message);
  return r;
}

std::string OpenRequest(std::string_view sealed) {
  std::string r = "O";
  r.push_back(static_cast<char>(sealed.size() >> 8));
  r.push_back(static_cast<char>(sealed.size()));
  r.append(sealed);
  return r;
}

std::string SealTo(std::string_view box_pk, std::string_view plain) {
  std::string out(plain.size() + crypto_box_SEALBYTES, '\0');
  crypto_box_seal(reinterpret_cast<unsigned char*>(out.data()),
                  reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                  reinterpret_cast<const unsigned char*>(box_pk.data()));
  return out;
}

// The secrets no answer may ever contain: the Ed25519 seed (the first half
// of its secret key; the second half is the public key) and the X25519
// secret key.
struct Secrets {
  std::string sign_seed;
  std::string box_sk;
  crypto::DevicePublic pub;
};

Secrets SecretsOf(const crypto::DeviceIdentity& id) {
  Secrets s;
  s.sign_seed = std::string(Must(id.sign_secret()).substr(0, 32));
  s.box_sk = std::string(Must(id.box_secret()));
  s.pub = id.public_keys();
  return s;
}

void ExpectNoSecret(const std::string& answer, const Secrets& s, const std::string& what) {
  EXPECT_EQ(answer.find(s.sign_seed), std::string::npos)
      << what << ": the answer holds the Ed25519 secret key";
  EXPECT_EQ(answer.find(s.box_sk), std::string::npos)
      << what << ": the answer holds the X25519 secret key";
}

// Every command byte, each on a connection of its own, with arguments a
// G or an O would take; then L. No answer holds a secret key.
void ProbeEveryCommand(const std::string& data_dir, const Secrets& s,
                       std::vector<Answer>* answers) {
  answers->assign(256, Answer());
  const std::string commit_like(100, 'c');
  const std::string sealed = SealTo(s.pub.box_pk, std::string(48, 'k'));
  for (int b = 0; b < 256; ++b) {
    if (b == 'L') continue;
    const int fd = RawConnect(data_dir);
    ASSERT_GE(fd, 0) << "command " << b << ": the agent is gone";
    std::string req(1, static_cast<char>(b));
    if (b == 'G') req = SignRequest(crypto::kCommitSignDomain, commit_like);
    if (b == 'O') req = OpenRequest(sealed);
    // The search index (version 3): a query, and an empty build.
    if (b == 'Q') req = std::string("Q\0\4hang", 7);
    if (b == 'U') req = std::string("U\3", 2) + std::string(48, '\0') + U32(0);
    (*answers)[static_cast<size_t>(b)] = Exchange(fd, req);
    close(fd);
    ExpectNoSecret((*answers)[static_cast<size_t>(b)].bytes, s,
                   absl::StrCat("command byte ", b));
  }
  const int fd = RawConnect(data_dir);
  ASSERT_GE(fd, 0);
  (*answers)['L'] = Exchange(fd, "L");
  close(fd);
  ExpectNoSecret((*answers)['L'].bytes, s, "command byte L");
}

bool WaitGone(const std::string& path, int ms) {
  for (int i = 0; i < ms / 20; ++i) {
    if (access(path.c_str(), F_OK) != 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return access(path.c_str(), F_OK) != 0;
}

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

// ---------------------------------------------------------------------------
// The agent of `fieldnode unlock`, and fieldnode commands against a real hub.

class AgentTest : public SyncProcessTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    node_ = dir_.File("officer");
    ASSERT_EQ(Fieldnode({"init"}, kPass).exit_code, 0);
  }
  void TearDown() override {
    Fieldnode({"lock"}, "");
    SyncTest::TearDown();
  }

  void Enroll() {
    auto token = hub_->Token("LC");
    ASSERT_TRUE(token.ok());
    auto enrolled = Fieldnode(
        {"enroll", "--hub", hub_->address(), "--ca", pki_->ca(), "--token", *token}, kPass);
    ASSERT_EQ(enrolled.exit_code, 0) << enrolled.err;
  }

  // fieldnode (`bin`, else the built one) with FIELDSYNC_PASSPHRASE=`pass`
  // (none if empty), no terminal.
  harness::CommandResult Fieldnode(std::vector<std::string> args, const std::string& pass,
                                   const std::string& bin = "") {
    std::vector<std::string> argv = Argv(args, pass, bin);
    return harness::Run(argv);
  }
  std::vector<std::string> Argv(std::vector<std::string> args, const std::string& pass,
                                const std::string& bin = "") {
    std::vector<std::string> argv = {"/usr/bin/setsid", "-w", "/usr/bin/env", "-u",
                                     "FIELDSYNC_PASSPHRASE", "-u", "FIELDSYNC_PASSPHRASE_FILE"};
    if (!pass.empty()) argv.push_back(std::string("FIELDSYNC_PASSPHRASE=") + pass);
    argv.push_back(bin.empty() ? harness::BinDir() + "/fieldnode" : bin);
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data-dir", node_});
    return argv;
  }

  Secrets KeystoreSecrets() {
    auto id = crypto::UnlockKeystoreFile(node_ + "/keystore", kPass);
    EXPECT_TRUE(id.ok()) << id.status();
    return SecretsOf(*id);
  }

  int64_t LocalCommits() {
    DataDir d{node_, "replica.db", "fieldnode init", "FIELDSYNC_NODE_DIR"};
    auto r = OpenReplicaIn(d);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return -1;
    auto c = (*r)->LocalCommitsAfter(0, 100000);
    EXPECT_TRUE(c.ok());
    return c.ok() ? static_cast<int64_t>(c->size()) : -1;
  }

  // Opens a case with sealed fields; its id.
  std::string NewCase(const std::string& name) {
    auto made = Fieldnode({"case", "new", "--name", name, "--sex", "female", "--narrative",
                           "Bị lừa sang biên giới"},
                          "");
    EXPECT_EQ(made.exit_code, 0) << made.err;
    std::string id = FirstUuid(made.out);
    EXPECT_FALSE(id.empty()) << "no case id in: " << made.out;
    return id;
  }

  std::string node_;
};

TEST_F(AgentTest, NoRequestToTheUnlockAgentAnswersTheSecretKeys) {
  // This test fails on the agent of protocol version 1, whose K answered
  // the secret keys to any process of the user.
  const Secrets s = KeystoreSecrets();
  auto unlocked = Fieldnode({"unlock", "--for", "10m"}, kPass);
  ASSERT_EQ(unlocked.exit_code, 0) << unlocked.err;
  std::vector<Answer> a;
  ProbeEveryCommand(node_, s, &a);
  // This program is not fieldnode: S is answered, P, G and O refused (1)
  // and the connection closed.
  ASSERT_EQ(a['S'].bytes.size(), 10u);
  for (char c : {'P', 'G', 'O'}) {
    EXPECT_EQ(a[static_cast<size_t>(c)].bytes, std::string(1, '\1')) << c;
    EXPECT_TRUE(a[static_cast<size_t>(c)].closed) << c;
  }
  EXPECT_EQ(a['L'].bytes.substr(0, 1), std::string(1, '\0'));
  EXPECT_TRUE(WaitGone(node::AgentSocketPath(node_), 3000));
  auto status = Fieldnode({"status"}, "");
  EXPECT_NE(status.out.find("locked"), std::string::npos) << status.out;
}

TEST_F(AgentTest, OnlyFieldnodeSignsThroughTheAgentAndWhatItSignsVerifies) {
  Enroll();
  ASSERT_EQ(Fieldnode({"unlock", "--for", "10m"}, kPass).exit_code, 0);
  // The fieldnode program signs through the agent: cases are written, the
  // hub takes the commits (it verifies every signature), and each verifies.
  NewCase("Lò Thị Hoa");
  NewCase("Vàng Thị Dế");
  auto sync = Fieldnode({"sync"}, "");
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_NE(sync.out.find("synced: pushed"), std::string::npos) << sync.out;
  {
    DataDir d{node_, "replica.db", "fieldnode init", "FIELDSYNC_NODE_DIR"};
    auto r = OpenReplicaIn(d);
    ASSERT_TRUE(r.ok()) << r.status();
    auto commits = (*r)->LocalCommitsAfter(0, 1000);
    ASSERT_TRUE(commits.ok());
    ASSERT_GE(commits->size(), 2u);
    const Secrets s = KeystoreSecrets();
    for (const Commit& c : *commits) {
      EXPECT_TRUE(crypto::VerifyCommitSignature(c, s.pub.sign_pk).ok()) << c.Name();
    }
  }
  // Sealed fields open through the agent (O): the name reads.
  auto list = Fieldnode({"case", "search", "hoa"}, "");
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("Lò Thị Hoa"), std::string::npos) << list.out;

  // Another program (this one) may ask the status, and nothing else.
  int fd = RawConnect(node_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Exchange(fd, "S").bytes.size(), 10u);
  Answer p = Exchange(fd, "P");
  EXPECT_EQ(p.bytes, std::string(1, '\1'));
  EXPECT_TRUE(p.closed);
  close(fd);

  // The fieldnode program replaced (an upgrade): the new one is refused
  // with one line saying what to do; status and lock still work.
  const std::string bin_dir = dir_.File("bin");
  ASSERT_EQ(mkdir(bin_dir.c_str(), 0755), 0);
  const std::string bin = bin_dir + "/fieldnode";
  std::filesystem::copy_file(harness::BinDir() + "/fieldnode", bin);
  ASSERT_EQ(Fieldnode({"lock"}, "", bin).exit_code, 0);
  ASSERT_EQ(Fieldnode({"unlock", "--for", "10m"}, kPass, bin).exit_code, 0);
  ASSERT_EQ(Fieldnode({"case", "list"}, "", bin).exit_code, 0);
  std::filesystem::copy_file(harness::BinDir() + "/fieldnode", bin + ".new");
  std::filesystem::rename(bin + ".new", bin);
  const int64_t before = LocalCommits();
  auto refused = Fieldnode({"case", "new", "--name", "Giàng Thị Mai", "--sex", "female"}, "", bin);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(Lines(refused.out + refused.err).size(), 1u) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("fieldnode: the fieldnode program changed since unlock"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("run fieldnode lock and fieldnode unlock"), std::string::npos)
      << refused.err;
  EXPECT_EQ(LocalCommits(), before);
  auto status = Fieldnode({"status"}, "", bin);
  EXPECT_NE(status.out.find("unlocked until"), std::string::npos) << status.out;
  auto lock = Fieldnode({"lock"}, "", bin);
  EXPECT_EQ(lock.exit_code, 0);
  EXPECT_NE(lock.out.find("locked: the keys are forgotten"), std::string::npos) << lock.out;
  EXPECT_TRUE(WaitGone(node::AgentSocketPath(node_), 3000));
}

// A fieldnode process started in the background, its output in files.
struct Background {
  pid_t pid = -1;
  std::string out, err;
  int Wait(harness::CommandResult* r) {
    int status = 0;
    waitpid(pid, &status, 0);
    r->out = ReadAllFile(out);
    r->err = ReadAllFile(err);
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r->exit_code;
  }
};

Background Start(const std::vector<std::string>& argv, const std::string& dir) {
  Background b;
  b.out = dir + "/bg.out";
  b.err = dir + "/bg.err";
  b.pid = fork();
  if (b.pid == 0) {
    const int o = open(b.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = open(b.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return b;
}

// Whether some process waits for a flock on the file with inode `ino`
// (/proc/locks lists a waiter as "N: -> FLOCK ... MAJ:MIN:INODE ...").
bool SomeoneWaitsForLock(ino_t ino) {
  std::ifstream in("/proc/locks");
  const std::string tail = absl::StrCat(":", ino, " ");
  for (std::string line; std::getline(in, line);) {
    if (line.find("-> FLOCK") != std::string::npos && line.find(tail) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Holds the access log's lock, so that a command that opened a case's
// sealed fields (through the agent) stops just before it records that
// (a signed commit) and shows them.
class AccessLogHeld {
 public:
  explicit AccessLogHeld(const std::string& node) {
    path_ = node + "/replica.db-access.lock";
    fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(flock(fd_, LOCK_EX), 0);
  }
  ~AccessLogHeld() { Release(); }
  bool WaitForWaiter() {
    struct stat st {};
    if (fstat(fd_, &st) != 0) return false;
    for (int i = 0; i < 500; ++i) {
      if (SomeoneWaitsForLock(st.st_ino)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  void Release() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST_F(AgentTest, LockingWhileACommandRunsStopsItWithOneLineAndChangesNothing) {
  Enroll();
  ASSERT_EQ(Fieldnode({"unlock", "--for", "10m"}, kPass).exit_code, 0);
  const std::string id = NewCase("Sùng Thị Pà");
  ASSERT_FALSE(id.empty());
  const int64_t before = LocalCommits();
  // `show` connects to the agent, opens the case's sealed fields through it
  // (O), then waits for the access log...
  AccessLogHeld held(node_);
  Background show = Start(Argv({"show", "cases", id}, ""), dir_.path());
  ASSERT_TRUE(held.WaitForWaiter()) << "show never reached the access log";
  // ...while the officer locks.
  auto lock = Fieldnode({"lock"}, "");
  ASSERT_EQ(lock.exit_code, 0) << lock.err;
  held.Release();
  harness::CommandResult r;
  show.Wait(&r);
  // The access-log entry cannot be signed: one line, exit 1, nothing shown,
  // nothing written.
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out, "") << "the sealed fields were shown without being recorded";
  ASSERT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("fieldnode: the key agent stopped answering while this command ran"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("run fieldnode unlock, then the command again"), std::string::npos)
      << r.err;
  EXPECT_EQ(LocalCommits(), before);
  // Unlocked again, the same command works.
  ASSERT_EQ(Fieldnode({"unlock", "--for", "10m"}, kPass).exit_code, 0);
  auto again = Fieldnode({"show", "cases", id}, "");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("narrative: Bị lừa sang biên giới"), std::string::npos) << again.out;
  EXPECT_EQ(LocalCommits(), before + 1);
}

// The pid of the agent serving `node` (its command line is the unlock's).
pid_t AgentPid(const std::string& node) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = ReadAllFile(e.path().string() + "/cmdline");
    for (char& c : cmd) {
      if (c == '\0') c = ' ';
    }
    if (cmd.find(" unlock ") != std::string::npos && cmd.find(node + " ") != std::string::npos &&
        cmd.find("setsid") == std::string::npos) {
      return static_cast<pid_t>(std::stol(name));
    }
  }
  return -1;
}

// As root, the agent could read /proc/PID/exe of any process. An ordinary
// user's agent can only read it for a dumpable peer: this runs the whole
// path as an unprivileged user, and checks that the agent and a fieldnode
// command holding keys cannot be read by the user's other processes.
TEST_F(AgentTest, AnUnprivilegedUsersCommandsSignThroughTheAgentAndAreNotReadable) {
  if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) {
    GTEST_SKIP() << "needs root (to become nobody) and setpriv";
  }
  // A directory of its own for nobody, with the program and the CA in it.
  char tmpl[] = "/tmp/fieldsync-agent-nobody-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string home = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{home};
  ASSERT_EQ(chmod(home.c_str(), 0755), 0);
  ASSERT_EQ(chown(home.c_str(), 65534, 65534), 0);
  const std::string bin = home + "/fieldnode";
  std::filesystem::copy_file(harness::BinDir() + "/fieldnode", bin);
  std::filesystem::copy_file(pki_->ca(), home + "/ca.crt");
  const std::string node = home + "/node";
  auto as_nobody = [&](std::vector<std::string> args, bool with_dir = true) {
    std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                     "--clear-groups", "/usr/bin/env", "-u",
                                     "FIELDSYNC_PASSPHRASE_FILE", "HOME=" + home,
                                     std::string("FIELDSYNC_PASSPHRASE=") + kPass};
    argv.insert(argv.end(), args.begin(), args.end());
    if (with_dir) argv.insert(argv.end(), {"--data-dir", node});
    return argv;
  };
  auto run = [&](std::vector<std::string> args) { return harness::Run(as_nobody(args)); };
  ASSERT_EQ(run({bin, "init"}).exit_code, 0);
  auto token = hub_->Token("LC");
  ASSERT_TRUE(token.ok());
  auto enrolled = run({bin, "enroll", "--hub", hub_->address(), "--ca", home + "/ca.crt",
                       "--token", *token});
  ASSERT_EQ(enrolled.exit_code, 0) << enrolled.err;
  ASSERT_EQ(run({bin, "unlock", "--for", "10m"}).exit_code, 0);
  struct Locker {
    std::function<void()> f;
    ~Locker() { f(); }
  } locker{[&] { run({bin, "lock"}); }};
  // Signing and opening through the agent, as nobody (no passphrase given:
  // FIELDSYNC_PASSPHRASE is only read when no agent runs, and an agent
  // runs; a wrong one would make no difference).
  auto made = harness::Run(as_nobody({"/usr/bin/env", "-u", "FIELDSYNC_PASSPHRASE", bin, "case",
                                      "new", "--name", "Thào Thị Say", "--sex", "female",
                                      "--narrative", "Bị bán"}));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto sync = harness::Run(as_nobody({"/usr/bin/env", "-u", "FIELDSYNC_PASSPHRASE", bin, "sync"}));
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_NE(sync.out.find("synced: pushed"), std::string::npos) << sync.out;

  // The agent: not readable by the user's other processes.
  const pid_t agent = AgentPid(node);
  ASSERT_GT(agent, 0);
  auto peek = harness::Run(as_nobody({"/bin/cat", absl::StrCat("/proc/", agent, "/environ")},
                                     false));
  EXPECT_NE(peek.exit_code, 0) << "the agent's memory is readable by the user's processes";
  // A command holding the keys (stopped on the access log's lock after
  // opening a case): not readable either; and it finishes once let go.
  const std::string id = FirstUuid(made.out);
  ASSERT_FALSE(id.empty()) << made.out;
  AccessLogHeld held(node);
  ASSERT_EQ(chown((node + "/replica.db-access.lock").c_str(), 65534, 65534), 0);
  Background show = Start(as_nobody({"/usr/bin/env", "-u", "FIELDSYNC_PASSPHRASE", bin, "show",
                                     "cases", id}),
                          home);
  ASSERT_TRUE(held.WaitForWaiter());
  // The fieldnode process is the setpriv's, then env's, exec'd in place.
  auto peek_cmd = harness::Run(as_nobody({"/bin/cat", absl::StrCat("/proc/", show.pid,
                                                                    "/environ")},
                                         false));
  EXPECT_NE(peek_cmd.exit_code, 0) << "a fieldnode command holding keys is readable";
  auto peek_own = harness::Run(as_nobody({"/bin/sh", "-c", "cat /proc/$$/environ >/dev/null"},
                                         false));
  EXPECT_EQ(peek_own.exit_code, 0) << "the check itself does not work: " << peek_own.err;
  held.Release();
  harness::CommandResult r;
  show.Wait(&r);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("narrative: Bị bán"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace fieldsync::testing
