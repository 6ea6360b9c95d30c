// The dispatcher of fieldnode: which command, its options parsed, its help
// text (node/help/), and a wrong command line said in one line, exit 2.
// Each command is a file of node/commands/ over the node library.
#include "node/cli.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/terminal.h"
#include "node/commands/command.h"
#include "node/office.h"
#include "node/session.h"
#include "proto/wire.h"

namespace fieldsync::node {
namespace {

// One command of fieldnode: the options it takes (with a value, and
// switches) and what runs it.
struct Entry {
  std::set<std::string> valued;
  std::set<std::string> switches;
  int (*run)(const Args&) = nullptr;
};

// Every command but `help`, by name.
const std::map<std::string, Entry>& Commands() {
  static const auto* commands = [] {
    auto* m = new std::map<std::string, Entry>;
    const std::set<std::string> keys = {"data-dir", "passphrase-file", "new-passphrase-file",
                                        "officer"};
    for (const char* office : {"case", "consent", "referral", "org", "contact", "service",
                               "conflict", "report", "unlock", "lock", "status"}) {
      (*m)[office] = Entry{OfficeValuedFlags(), OfficeSwitches(), RunOfficeCommand};
    }
    auto with = [](std::set<std::string> a, std::initializer_list<std::string> b) {
      a.insert(b);
      return a;
    };
    (*m)["device"] = Entry{with(keys, {"code", "first-device", "ack"}),
                           {"json", "help", "first", "yes", "all"}, RunDeviceCommand};
    const std::set<std::string> trust = {"data-dir", "passphrase-file", "officer"};
    (*m)["trust"] = Entry{trust, {"json", "help", "all"}, RunTrustCommand};
    (*m)["set-aside"] = Entry{trust, {"json", "help", "all"}, RunSetAsideCommand};
    // The setting-up and syncing commands take the options of each other,
    // as they always did.
    const std::set<std::string> setup = with(keys, {"hub", "ca", "token", "name", "every",
                                                    "max-backoff", "pull-batch", "case"});
    const std::set<std::string> setup_switches = {"json", "help", "insecure", "yes"};
    (*m)["init"] = Entry{setup, setup_switches, RunInitCommand};
    (*m)["enroll"] = Entry{setup, setup_switches, RunEnrollCommand};
    (*m)["passphrase"] = Entry{setup, setup_switches, RunPassphraseCommand};
    (*m)["show"] = Entry{setup, setup_switches, RunShowCommand};
    (*m)["erase"] = Entry{setup, setup_switches, RunEraseCommand};
    (*m)["sync"] = Entry{setup, setup_switches, RunSyncCommand};
    (*m)["daemon"] = Entry{setup, setup_switches, RunDaemonCommand};
    (*m)["version"] = Entry{{"data-dir"}, {"json", "help"}, RunVersionCommand};
    return m;
  }();
  return *commands;
}

int PrintHelp(const std::string& name) {
  std::fputs(HelpText(name).c_str(), stdout);
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  MakeOutputTerminalSafe();
  wire::QuietGrpcLogs();
  return Run(std::vector<std::string>(argv + 1, argv + argc));
}

int Run(std::vector<std::string> words) {
  // Options may come before the command (fieldnode --data-dir DIR status):
  // the first word that names a command is moved to the front.
  if (!words.empty() && words[0][0] == '-') {
    for (size_t i = 1; i < words.size(); ++i) {
      if (words[i] == "help" || Commands().count(words[i]) > 0) {
        std::rotate(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(i),
                    words.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        break;
      }
    }
  }
  // `fieldnode`, options without a command (`fieldnode --help`) and
  // `fieldnode help` (whatever options follow) print the overview;
  // `fieldnode help case` is `fieldnode case --help`.
  if (words.empty() || words[0] == "help" || words[0][0] == '-') {
    if (words.size() >= 2 && words[0] == "help" && words[1] == "--help") {
      return PrintHelp("help");
    }
    if (words.size() >= 2 && words[0] == "help" && words[1][0] != '-') {
      if (HelpText(words[1]).empty() || words[1] == "overview") {
        return Usage(absl::StrCat("unknown command \"", words[1], "\""));
      }
      return PrintHelp(words[1]);
    }
    if (words.empty() || words[0] == "help") return PrintHelp("overview");
    // Options without a command word: the overview, unless a word that is
    // not an option's value names no command.
    std::set<std::string> valued;
    for (const auto& [name, e] : Commands()) {
      for (const std::string& v : e.valued) valued.insert("--" + v);
    }
    for (size_t i = 0; i < words.size(); ++i) {
      if (words[i][0] != '-') return Usage(absl::StrCat("unknown command \"", words[i], "\""));
      if (words[i].find('=') == std::string::npos && valued.count(words[i]) > 0) ++i;
    }
    return PrintHelp("overview");
  }
  const std::string cmd = words[0];
  auto it = Commands().find(cmd);
  if (it == Commands().end()) return Usage(absl::StrCat("unknown command \"", cmd, "\""));
  SetHelpCommand(cmd);
  const Entry& e = it->second;
  words.insert(words.begin(), "fieldnode");
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  auto parsed = ParseArgs(static_cast<int>(words.size()), argv.data(), e.valued, e.switches);
  if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
  if (parsed->Has("help")) return PrintHelp(cmd);
  return e.run(*parsed);
}

}  // namespace fieldsync::node
