// The dispatcher of fieldhub: which command, its options parsed by CLI11,
// its help text, and CLI11's errors turned into fieldhub's one-line
// messages and exit code 2.
#include "hub/cli.h"

#include <algorithm>
#include <exception>
#include <map>
#include <set>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "base/terminal.h"
#include "hub/help_text.h"
#include "proto/wire.h"

namespace fieldsync::hub {
namespace {

// The help text hub/help/NAME.txt ("overview" for the program's); empty if
// there is none.
std::string_view HelpText(std::string_view name) {
  for (const help::Text& t : help::kTexts) {
    if (t.name == name) return t.text;
  }
  return {};
}

// A wrong command line before any command is known.
int ProgramUsage(const Io& io, const std::string& what) {
  std::fprintf(io.err, "fieldhub: %s; run `fieldhub help`\n", what.c_str());
  return kExitUsage;
}

// "--name=value" -> "--name".
std::string OptionName(const std::string& arg) { return arg.substr(0, arg.find('=')); }

// One command as CLI11 sees it: its subcommand, and what the dispatcher
// declares on every command.
struct Entry {
  Command* command = nullptr;  // null for `help`
  CLI::App* app = nullptr;
  std::vector<std::string> operands;
  bool help = false;
};

// The command word moved to the front of `args`: options may come before it
// (`fieldhub --data-dir D status`), as they always could. `valued` are the
// options that take a value: the word after one of them is its value.
void HoistCommand(std::vector<std::string>& args, const std::set<std::string>& valued) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > 1 && a[0] == '-') {
      if (a.find('=') == std::string::npos && valued.count(a) > 0) ++i;
      continue;
    }
    if (i > 0) std::rotate(args.begin(), args.begin() + i, args.begin() + i + 1);
    return;
  }
}

class Dispatcher {
 public:
  explicit Dispatcher(const ServeExtension& serve) {
    commands_.push_back(MakeInitCommand());
    commands_.push_back(MakeServeCommand(serve));
    commands_.push_back(MakeProvinceCommand());
    commands_.push_back(MakeEnrollTokenCommand());
    commands_.push_back(MakeNodeCommand());
    commands_.push_back(MakeGcCommand());
    commands_.push_back(MakeStatusCommand());
    commands_.push_back(MakeAuditCommand());
    commands_.push_back(MakeBackupCommand());
    commands_.push_back(MakeRestoreCommand());
    commands_.push_back(MakeMigrateCommand());
    commands_.push_back(MakeReportCommand());
    commands_.push_back(MakeVersionCommand());

    app_.set_help_flag();  // the help texts are fieldhub's own (hub/help/)
    app_.require_subcommand(0, 1);
    // An option given twice: the last one counts, as it always did.
    app_.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    for (auto& c : commands_) Add(c->name(), c.get());
    // `help` takes the options of every command and ignores them, as it
    // always has (`fieldhub help --json --data-dir DIR`): an option that
    // takes a value is declared, so that its value is not read as a topic.
    CLI::App& help = *Add("help", nullptr);
    for (const std::string& o : Options(/*valued_only=*/true)) help.add_option(o, ignored_);
  }

  int Run(std::vector<std::string> args, const Io& io) {
    HoistCommand(args, Options(/*valued_only=*/true));
    if (args.empty()) return Print(io, HelpText("overview"));
    if (args[0][0] == '-') {
      // No command: `fieldhub --help` is the overview; other options are
      // read as `help` would read them.
      if (std::find(args.begin(), args.end(), "--help") != args.end()) {
        return Print(io, HelpText("overview"));
      }
      args.insert(args.begin(), "help");
    }
    const std::string name = args[0];
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      return ProgramUsage(io, absl::StrCat("unknown command \"", name, "\""));
    }
    Entry& e = it->second;
    std::reverse(args.begin(), args.end());  // CLI11 takes them last first
    const bool marker = std::find(args.begin(), args.end(), "--") != args.end();
    try {
      app_.parse(args);
    } catch (const CLI::ExtrasError& error) {
      // Only words after "--" reach the program's own level, where nothing
      // is expected.
      if (marker) {
        return CommandUsage(io, name, "\"--\" is not used by fieldhub: give the operands and "
                                      "options without it");
      }
      return ParseFailure(io, name, error);
    } catch (const CLI::ParseError& error) {
      return ParseFailure(io, name, error);
    }
    if (e.command == nullptr) return Help(e, io);
    if (e.help) return Print(io, HelpText(name));
    if (std::vector<std::string> unknown = e.app->remaining(); !unknown.empty()) {
      return CommandUsage(io, name, absl::StrCat("unknown option ", OptionName(unknown[0])));
    }
    if (absl::Status s = e.command->CheckArguments(); !s.ok()) {
      return CommandUsage(io, name, std::string(s.message()));
    }
    return e.command->Run(e.operands, io);
  }

 private:
  CLI::App* Add(const std::string& name, Command* command) {
    Entry& e = entries_[name];
    e.command = command;
    e.app = app_.add_subcommand(name);
    e.app->set_help_flag();
    e.app->allow_extras();  // unknown options: reported by Run, in fieldhub's words
    e.app->add_flag("--help", e.help);
    e.app->add_option("operands", e.operands);
    if (command != nullptr) command->Declare(*e.app);
    return e.app;
  }

  // Every option of every command as typed ("--since"), or only those that
  // take a value.
  std::set<std::string> Options(bool valued_only) const {
    std::set<std::string> out;
    for (const auto& [name, e] : entries_) {
      if (e.command == nullptr) continue;
      for (const CLI::Option* o : e.app->get_options()) {
        if (o->get_positional() || (valued_only && o->get_expected_max() == 0)) continue;
        for (const std::string& l : o->get_lnames()) out.insert("--" + l);
      }
    }
    return out;
  }

  // `fieldhub help [COMMAND]`, `fieldhub help --help`.
  int Help(const Entry& e, const Io& io) {
    const std::set<std::string> known = Options(/*valued_only=*/false);
    for (const std::string& arg : e.app->remaining()) {
      if (known.count(OptionName(arg)) == 0) {
        return CommandUsage(io, "help", absl::StrCat("unknown option ", OptionName(arg)));
      }
    }
    if (e.operands.empty()) return Print(io, HelpText(e.help ? "help" : "overview"));
    const std::string& topic = e.operands[0];
    const std::string_view text = topic == "overview" ? std::string_view() : HelpText(topic);
    if (text.empty()) {
      std::fprintf(io.err, "fieldhub: no command \"%s\"; see `fieldhub help`\n", topic.c_str());
      return kExitUsage;
    }
    return Print(io, text);
  }

  static int Print(const Io& io, std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), io.out);
    return kExitOk;
  }

  static int CommandUsage(const Io& io, const std::string& name, const std::string& what) {
    std::fprintf(io.err, "fieldhub: %s; see `fieldhub %s --help`\n", what.c_str(), name.c_str());
    return kExitUsage;
  }

  // CLI11's own errors, in one line; exit 2 whatever CLI11's code.
  static int ParseFailure(const Io& io, const std::string& name, const CLI::ParseError& error) {
    std::string what = error.what();
    // "--since: 1 required TEXT missing": an option without its value.
    if (dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr &&
        what.find(" required ") != std::string::npos && what.rfind("--", 0) == 0) {
      what = absl::StrCat(what.substr(0, what.find(':')), " needs a value");
    }
    std::replace(what.begin(), what.end(), '\n', ' ');
    return CommandUsage(io, name, what);
  }

  std::vector<std::unique_ptr<Command>> commands_;
  CLI::App app_{"fieldhub"};
  std::map<std::string, Entry> entries_;
  std::string ignored_;  // what `help` ignores
};

}  // namespace

int RunCli(const std::vector<std::string>& args, const Io& io, const ServeExtension& serve) {
  try {
    Dispatcher dispatcher(serve);
    return dispatcher.Run(args, io);
  } catch (const std::exception& e) {
    // Nothing should throw; if something does, one line and a failure,
    // never an abort.
    std::fprintf(io.err, "fieldhub: internal error: %s\n", e.what());
    return kExitFailed;
  }
}

int Main(int argc, char** argv, const ServeExtension& serve) {
  MakeOutputTerminalSafe();
  wire::QuietGrpcLogs();
  return RunCli(std::vector<std::string>(argv + 1, argv + argc), Io{stdout, stderr}, serve);
}

}  // namespace fieldsync::hub
