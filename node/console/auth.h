// Who may talk to the console (docs/CONSOLE.md, "Sessions"): the one-time
// token printed by `fieldnode console` is exchanged, once, for a random
// session id set as an HttpOnly, SameSite=Strict cookie and kept here (the
// server's memory only); the Host header must name the console itself
// (127.0.0.1:PORT or localhost:PORT: no DNS rebinding), and every change
// (POST) must come from the console's own Origin.
#ifndef FIELDSYNC_NODE_CONSOLE_AUTH_H_
#define FIELDSYNC_NODE_CONSOLE_AUTH_H_

#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace fieldsync::node::console {

inline constexpr char kCookieName[] = "fieldsync_console";

class Gate {
 public:
  explicit Gate(std::string token) : token_(std::move(token)) {}
  // The port the console listens on, set once it is bound, before serving.
  void SetPort(int port) { port_ = port; }

  // 127.0.0.1:PORT or localhost:PORT, exactly.
  bool HostAllowed(std::string_view host) const;
  // http://127.0.0.1:PORT or http://localhost:PORT, exactly (none: refused).
  bool OriginAllowed(std::string_view origin) const;

  // A new session id for the token, the first time only (compared in
  // constant time); nullopt for a wrong or used token.
  std::optional<std::string> Exchange(std::string_view token);
  // The session named by the cookie header exists.
  bool Valid(std::string_view cookie_header) const;
  // The Set-Cookie header value for `session`.
  static std::string SetCookie(const std::string& session);

  // `bytes` random bytes (libsodium) as hex.
  static std::string RandomHex(size_t bytes);
  // The value of cookie `name` in a Cookie header; "" if absent.
  static std::string CookieValue(std::string_view header, std::string_view name);

 private:
  int port_ = 0;
  mutable std::mutex mu_;
  std::string token_;  // "" once used
  std::set<std::string> sessions_;
};

}  // namespace fieldsync::node::console

#endif  // FIELDSYNC_NODE_CONSOLE_AUTH_H_
