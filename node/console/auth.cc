#include "node/console/auth.h"

#include <sodium.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace fieldsync::node::console {

bool Gate::HostAllowed(std::string_view host) const {
  const std::string port = std::to_string(port_);
  return host == absl::StrCat("127.0.0.1:", port) || host == absl::StrCat("localhost:", port);
}

bool Gate::OriginAllowed(std::string_view origin) const {
  const std::string port = std::to_string(port_);
  return origin == absl::StrCat("http://127.0.0.1:", port) ||
         origin == absl::StrCat("http://localhost:", port);
}

std::optional<std::string> Gate::Exchange(std::string_view token) {
  std::lock_guard<std::mutex> l(mu_);
  if (token_.empty() || token.size() != token_.size() ||
      sodium_memcmp(token.data(), token_.data(), token_.size()) != 0) {
    return std::nullopt;
  }
  sodium_memzero(token_.data(), token_.size());
  token_.clear();
  std::string session = RandomHex(32);
  sessions_.push_back(session);
  return session;
}

bool Gate::Valid(std::string_view session) const {
  if (session.empty()) return false;
  std::lock_guard<std::mutex> l(mu_);
  bool found = false;
  for (const std::string& s : sessions_) {
    if (s.size() == session.size() && sodium_memcmp(s.data(), session.data(), s.size()) == 0) {
      found = true;
    }
  }
  return found;
}

std::string Gate::RandomHex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  hex.pop_back();
  return hex;
}

}  // namespace fieldsync::node::console
