#include "node/agent_client.h"

#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/tuning.h"
#include "node/agent.h"
#include "node/agent_wire.h"

namespace fieldsync::node::agent_client {

using agent_wire::Ticks;

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


AgentKeys::~AgentKeys() {
  absl::MutexLock l(&mu_);
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::string> AgentKeys::Sign(std::string_view domain, std::string_view message) {
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

// The agent still holds the connection: an idle connection has nothing
// to read (the agent speaks only when asked) unless the agent closed it.
bool AgentKeys::Alive() {
  absl::MutexLock l(&mu_);
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, 0) != 0) Close();
  return fd_ >= 0;
}

absl::StatusOr<crypto::SecretBytes> AgentKeys::OpenSealed(std::string_view sealed) {
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

// The connection went (lock, the end of the period, the agent killed):
// nothing more can be signed or opened by this identity.
absl::Status AgentKeys::Gone() {
  Close();
  return crypto::KeysUnreachableError(
      "the key agent stopped answering while this command ran (fieldnode lock, or the end "
      "of the period of fieldnode unlock): run fieldnode unlock, then the command again");
}
absl::Status AgentKeys::Refused(uint8_t status) {
  Close();
  if (status == kAgentNotTheProgram) return crypto::KeysUnreachableError(ProgramChanged());
  return absl::InternalError(absl::StrCat("the key agent at ", path_, " refused a request (",
                                          static_cast<int>(status),
                                          "): run fieldnode lock and fieldnode unlock"));
}
void AgentKeys::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}


}  // namespace fieldsync::node::agent_client
