// Who may talk to the console (docs/CONSOLE.md, "Sessions"): the one-time
// token printed by `fieldnode console` is exchanged, once, for a random
// session secret (POST /api/session) kept here (the server's memory only)
// and, in the browser, in the page's sessionStorage; the page sends it in
// the X-Fieldsync-Session header of every API request. Not a cookie:
// cookies ignore ports, so a cookie of 127.0.0.1 would also go to any other
// server on 127.0.0.1 (another local user's) that the browser visits. The
// Host header must name the console itself (127.0.0.1:PORT or
// localhost:PORT: no DNS rebinding), and every change (POST) must come from
// the console's own Origin.
#ifndef FIELDSYNC_NODE_CONSOLE_AUTH_H_
#define FIELDSYNC_NODE_CONSOLE_AUTH_H_

#include <mutex>
#include <optional>
#include <vector>
#include <string>
#include <string_view>

namespace fieldsync::node::console {

inline constexpr char kSessionHeader[] = "X-Fieldsync-Session";

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
  // The session named by the X-Fieldsync-Session header exists (compared
  // in constant time).
  bool Valid(std::string_view session) const;

  // `bytes` random bytes (libsodium) as hex.
  static std::string RandomHex(size_t bytes);

 private:
  int port_ = 0;
  mutable std::mutex mu_;
  std::string token_;  // "" once used
  std::vector<std::string> sessions_;
};

}  // namespace fieldsync::node::console

#endif  // FIELDSYNC_NODE_CONSOLE_AUTH_H_
