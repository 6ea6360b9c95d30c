// The dispatcher of fieldnode: which command, its options parsed by CLI11,
// its help text (node/help/), and a wrong command line -- CLI11's errors
// included -- said in one line, exit 2. Each command is a file of
// node/commands/ over the node library.
#include "node/cli.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/terminal.h"
#include "node/agent_exec.h"
#include "node/commands/command.h"
#include "node/console/console.h"
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
    (*m)["import"] = Entry{with(keys, {"encoding", "map", "key-column"}),
                           {"json", "help", "dry-run"}, RunImportCommand};
    (*m)["version"] = Entry{{"data-dir"}, {"json", "help"}, RunVersionCommand};
    (*m)["console"] = Entry{{"data-dir", "officer", "port", "idle-lock"}, {"help", "no-browser"},
                            RunConsoleCommand};
    return m;
  }();
  return *commands;
}

// The words after the command name, as CLI11 reads them, into Args; a wrong
// command line as INVALID_ARGUMENT in one line.
//
// As fieldnode always read them: the word after an option that takes a
// value is its value, whatever it begins with (`--narrative "-- no"`,
// `--value -5`), and every word that is not an option ("--NAME") is an
// operand, "-" and "-5" included. So each option is handed to CLI11 with its
// value as `--name=value`, and the operands are kept out of its way.
absl::StatusOr<Args> Parse(const std::string& cmd, const Entry& e,
                           const std::vector<std::string>& words) {
  std::vector<std::string> options, operands;
  // Where the last value of each option was given, counted in `options`:
  // an empty one (`--notes ""`, `--notes=`, which clears a field) is kept
  // here, as CLI11 would take the next word for it.
  std::map<std::string, size_t> given, empty;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.size() < 3 || w.compare(0, 2, "--") != 0) {
      operands.push_back(w);
      continue;
    }
    const size_t eq = w.find('=');
    const std::string name = w.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (e.valued.count(name) == 0) {
      if (eq != std::string::npos && e.switches.count(name) > 0) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      }
      options.push_back(w);  // a switch, or unknown: CLI11 tells
      continue;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = w.substr(eq + 1);
    } else if (i + 1 < words.size()) {
      value = words[++i];
    } else {
      options.push_back(w);  // without its value: CLI11 tells
      continue;
    }
    if (value.empty()) {
      empty[name] = options.size();
    } else {
      given[name] = options.size();
      options.push_back(absl::StrCat("--", name, "=", value));
    }
  }
  CLI::App app{"fieldnode " + cmd};
  app.set_help_flag();  // the help texts are fieldnode's own (node/help/)
  app.allow_extras();   // unknown options: said below, in fieldnode's words
  // An option given twice: the last one counts, as it always did.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::map<std::string, std::string> values;
  std::map<std::string, bool> switches;
  for (const std::string& v : e.valued) app.add_option("--" + v, values[v]);
  for (const std::string& s : e.switches) app.add_flag("--" + s, switches[s]);
  std::vector<std::string> args(options.rbegin(), options.rend());  // CLI11 takes them last first
  try {
    app.parse(args);
  } catch (const CLI::ParseError& error) {
    std::string what = error.what();
    // "--status: 1 required TEXT missing": an option without its value.
    if (dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr &&
        what.rfind("--", 0) == 0) {
      what = absl::StrCat(what.substr(0, what.find(':')), " needs a value");
    }
    std::replace(what.begin(), what.end(), '\n', ' ');
    return absl::InvalidArgumentError(what);
  }
  if (std::vector<std::string> unknown = app.remaining(); !unknown.empty()) {
    const std::string& u = unknown.front();
    return absl::InvalidArgumentError(absl::StrCat("unknown option ", u.substr(0, u.find('='))));
  }
  Args a;
  a.positional.push_back(cmd);
  a.positional.insert(a.positional.end(), operands.begin(), operands.end());
  for (const std::string& v : e.valued) {
    auto blank = empty.find(v);
    auto last = given.find(v);
    if (blank != empty.end() && (last == given.end() || blank->second >= last->second)) {
      a.flags[v] = "";
    } else if (app.get_option("--" + v)->count() > 0) {
      a.flags[v] = values[v];
    }
  }
  for (const auto& [name, on] : switches) {
    if (on) a.switches.insert(name);
  }
  return a;
}

int Dispatch(std::vector<std::string> words);

int PrintHelp(const std::string& name) {
  std::fputs(HelpText(name).c_str(), stdout);
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  // The key agent the console executes (node/agent_exec.h): nothing else.
  if (argc == 2 && std::string_view(argv[1]) == kAgentExecWord) return RunExecutedAgent();
  MakeOutputTerminalSafe();
  wire::QuietGrpcLogs();
  return Run(std::vector<std::string>(argv + 1, argv + argc));
}

int Run(std::vector<std::string> words) {
  try {
    return Dispatch(std::move(words));
  } catch (const std::exception& e) {
    // Nothing should throw; if something does, one line and a failure,
    // never an abort.
    std::fprintf(stderr, "fieldnode: internal error: %s\n", e.what());
    return kExitFailed;
  }
}

namespace {

int Dispatch(std::vector<std::string> words) {
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
    // not an option's value names no command, or an option no command has.
    std::set<std::string> valued, known = {"--help", "-h"};
    for (const auto& [name, e] : Commands()) {
      for (const std::string& v : e.valued) valued.insert("--" + v);
      for (const std::string& v : e.switches) known.insert("--" + v);
    }
    known.insert(valued.begin(), valued.end());
    for (size_t i = 0; i < words.size(); ++i) {
      if (words[i][0] != '-') return Usage(absl::StrCat("unknown command \"", words[i], "\""));
      const std::string name = words[i].substr(0, words[i].find('='));
      if (known.count(name) == 0) {
        return Usage(absl::StrCat("unknown option ", name));
      }
      if (words[i].find('=') == std::string::npos && valued.count(words[i]) > 0) ++i;
    }
    return PrintHelp("overview");
  }
  const std::string cmd = words[0];
  auto it = Commands().find(cmd);
  if (it == Commands().end()) return Usage(absl::StrCat("unknown command \"", cmd, "\""));
  SetHelpCommand(cmd);
  const Entry& e = it->second;
  auto parsed = Parse(cmd, e, std::vector<std::string>(words.begin() + 1, words.end()));
  if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
  if (parsed->Has("help")) return PrintHelp(cmd);
  return e.run(*parsed);
}

}  // namespace

}  // namespace fieldsync::node
