// fieldnode console [--port N] [--idle-lock 15m] [--no-browser]: starts the
// server (server.h), prints its one-time address (the terminal is the
// user's own), opens the browser when the machine has one, on a 0600 file
// that leads to the address (never the address on a command line), and
// serves until SIGINT or SIGTERM.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "node/agent.h"
#include "node/commands/command.h"
#include "node/console/console.h"
#include "node/console/server.h"
#include "node/session.h"
#include "store/data_dir.h"

extern char** environ;

namespace fieldsync::node {
namespace {

// The browser opened on `file` (the launch file, never the address: see
// Server::WriteLaunchFile): FIELDSYNC_BROWSER if set (a command, run with
// the file's file:// URL as its one argument), else xdg-open when there is
// a display and xdg-open. False if none was started.
bool OpenBrowser(const std::string& file) {
  const std::string url = "file://" + file;
  const char* chosen = std::getenv("FIELDSYNC_BROWSER");
  std::string program;
  if (chosen != nullptr && *chosen != '\0') {
    program = chosen;
  } else {
    const char* x = std::getenv("DISPLAY");
    const char* w = std::getenv("WAYLAND_DISPLAY");
    if ((x == nullptr || *x == '\0') && (w == nullptr || *w == '\0')) return false;
    if (access("/usr/bin/xdg-open", X_OK) != 0) return false;
    program = "/usr/bin/xdg-open";
  }
  pid_t pid = 0;
  char* argv[] = {program.data(), const_cast<char*>(url.c_str()), nullptr};
  if (posix_spawnp(&pid, program.c_str(), nullptr, nullptr, argv, environ) != 0) return false;
  std::thread([pid] { waitpid(pid, nullptr, 0); }).detach();
  return true;
}

}  // namespace

int RunConsoleCommand(const Args& args) {
  SetHelpCommand("console");
  if (args.positional.size() != 1) return Usage("console takes no operands, only flags");
  console::ServerOptions o{NodeDir(args), Officer(args)};
  {
    auto r = OpenReplicaIn(o.dir);  // a node's data directory, said at once if not
    if (!r.ok()) return Fail(r.status());
  }
  if (const std::string p = args.Flag("port"); !p.empty()) {
    if (!absl::SimpleAtoi(p, &o.port) || o.port < 1 || o.port > 65535) {
      return Usage("--port takes a port number, 1 to 65535");
    }
  }
  auto idle = ParseDurationMillis(args.Flag("idle-lock", "15m"));
  if (!idle.ok()) return Usage(std::string(idle.status().message()));
  if (*idle < 1000 || *idle > 8 * 3600 * 1000LL) {
    return Usage("--idle-lock must be between 1s and 8h");
  }
  o.idle_millis = *idle;
  StopOnSignals();
  auto server = console::Server::Start(o);
  if (!server.ok()) return Fail(server.status());
  const std::string address = (*server)->Address();
  Print(absl::StrCat("fieldnode console: open ", address,
                     "\n(the address works once, in one browser; the console locks after ",
                     args.Flag("idle-lock", "15m"), " idle; Ctrl-C stops it)\n"));
  std::fflush(stdout);
  if (!args.Has("no-browser")) {
    auto file = (*server)->WriteLaunchFile();
    if (!file.ok()) {
      std::fprintf(stderr, "fieldnode: %s; open the address above by hand\n",
                   std::string(file.status().message()).c_str());
    } else if (OpenBrowser(*file)) {
      Print("opened in the browser\n");
    }
  }
  std::fflush(stdout);
  while (!StopFlag().load()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  (*server)->Stop();
  // A shared laptop: the keys go with the console.
  if (StopAgent(o.dir.path)) Print("locked: the keys are forgotten\n");
  return 0;
}

}  // namespace fieldsync::node
