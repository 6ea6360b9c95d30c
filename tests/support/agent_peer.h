// A raw peer of the key agent's socket (node/agent.h): connect, send a
// request's bytes, read the answer; the requests the protocol's tests send
// and the secrets no answer may hold. Shared by agent_protocol_test.cc (an
// agent this test program starts) and fieldnode_agent_test.cc (the agent of
// `fieldnode unlock`).
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/commit_signature.h"
#include "crypto/identity.h"
#include "node/agent.h"
#include "support/must.h"

namespace fieldsync::testing::agent_peer {

// A raw client of the agent's socket: connect, send bytes, read what comes
// back until the agent closes the connection or is quiet for `quiet_ms`.
inline int RawConnect(const std::string& data_dir) {
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
inline Answer Exchange(int fd, const std::string& request, int quiet_ms = 300, size_t want = 0) {
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

inline std::string U32(uint32_t v) {
  std::string s;
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}

inline std::string SignRequest(std::string_view domain, std::string_view message) {
  std::string r = "G";
  r.push_back(static_cast<char>(domain.size()));
  r.append(domain);
  r += U32(static_cast<uint32_t>(message.size()));
  r.append(message);
  return r;
}

inline std::string OpenRequest(std::string_view sealed) {
  std::string r = "O";
  r.push_back(static_cast<char>(sealed.size() >> 8));
  r.push_back(static_cast<char>(sealed.size()));
  r.append(sealed);
  return r;
}

inline std::string SealTo(std::string_view box_pk, std::string_view plain) {
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

inline Secrets SecretsOf(const crypto::DeviceIdentity& id) {
  Secrets s;
  s.sign_seed = std::string(Must(id.sign_secret()).substr(0, 32));
  s.box_sk = std::string(Must(id.box_secret()));
  s.pub = id.public_keys();
  return s;
}

inline void ExpectNoSecret(const std::string& answer, const Secrets& s, const std::string& what) {
  EXPECT_EQ(answer.find(s.sign_seed), std::string::npos)
      << what << ": the answer holds the Ed25519 secret key";
  EXPECT_EQ(answer.find(s.box_sk), std::string::npos)
      << what << ": the answer holds the X25519 secret key";
}

// Every command byte, each on a connection of its own, with arguments a
// G or an O would take; then L. No answer holds a secret key.
inline void ProbeEveryCommand(const std::string& data_dir, const Secrets& s,
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

inline bool WaitGone(const std::string& path, int ms) {
  for (int i = 0; i < ms / 20; ++i) {
    if (access(path.c_str(), F_OK) != 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return access(path.c_str(), F_OK) != 0;
}

}  // namespace fieldsync::testing::agent_peer
