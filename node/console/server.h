// `fieldnode console`'s HTTP server (docs/CONSOLE.md): bound to 127.0.0.1
// only, the pages built into the program (assets/), the JSON API under
// /api/ (api.h) behind the gate of auth.h, and the idle lock of keys.h.
#ifndef FIELDSYNC_NODE_CONSOLE_SERVER_H_
#define FIELDSYNC_NODE_CONSOLE_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "store/data_dir.h"

namespace fieldsync::node::console {

struct ServerOptions {
  DataDir dir;
  std::string officer;
  int port = 0;  // 0: one the system chooses
  int64_t idle_millis = 15 * 60 * 1000;
};

class Server {
 public:
  // Binds 127.0.0.1:port and starts serving (threads of its own).
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();  // stops

  int port() const;
  // http://127.0.0.1:PORT/?token=TOKEN: the one-time address.
  std::string Address() const;
  // Writes DIR/console-open.html (mode 0600, replacing one left by a console
  // that was killed): a page that sends the browser on to Address(). The
  // browser is given this file's path, never the address: a command line
  // is visible to every local user (/proc/PID/cmdline), the file only to
  // this one. Removed once the token is exchanged, and when the console
  // stops. Its path.
  absl::StatusOr<std::string> WriteLaunchFile();
  void Stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldsync::node::console

#endif  // FIELDSYNC_NODE_CONSOLE_SERVER_H_
