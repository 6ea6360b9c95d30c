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
  sessions_.insert(session);
  return session;
}

bool Gate::Valid(std::string_view cookie_header) const {
  const std::string id = CookieValue(cookie_header, kCookieName);
  if (id.empty()) return false;
  std::lock_guard<std::mutex> l(mu_);
  return sessions_.count(id) > 0;
}

std::string Gate::SetCookie(const std::string& session) {
  return absl::StrCat(kCookieName, "=", session, "; Path=/; HttpOnly; SameSite=Strict");
}

std::string Gate::RandomHex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  hex.pop_back();
  return hex;
}

std::string Gate::CookieValue(std::string_view header, std::string_view name) {
  size_t at = 0;
  while (at < header.size()) {
    size_t end = header.find(';', at);
    if (end == std::string_view::npos) end = header.size();
    std::string_view part = header.substr(at, end - at);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const size_t eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) {
      return std::string(part.substr(eq + 1));
    }
    at = end + 1;
  }
  return "";
}

}  // namespace fieldsync::node::console
