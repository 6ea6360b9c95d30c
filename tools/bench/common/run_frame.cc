#include "tools/bench/common/run_frame.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "tools/bench/common/report.h"

namespace fieldsync::bench {

namespace fs = std::filesystem;

std::optional<Args> ParseBenchArgs(const char* program, int argc, char** argv,
                                   const std::set<std::string>& valued,
                                   const std::set<std::string>& switches,
                                   void (*usage)(FILE* out)) {
  CLI::App app{program};
  app.set_help_flag();  // the benchmark's own --help text (`usage`)
  // An option given twice: the last one counts, as it always did.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::map<std::string, std::string> values;
  std::map<std::string, bool> on;
  for (const std::string& v : valued) app.add_option("--" + v, values[v]);
  for (const std::string& s : switches) app.add_flag("--" + s, on[s]);
  for (int i = 1; i < argc; ++i) {  // CLI11 would take `--switch=1`
    const std::string w = argv[i];
    const size_t eq = w.find('=');
    if (w.rfind("--", 0) == 0 && eq != std::string::npos && switches.count(w.substr(2, eq - 2))) {
      std::fprintf(stderr, "%s: %s takes no value; see --help\n", program, w.substr(0, eq).c_str());
      return std::nullopt;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    std::string what = error.what();
    // "--cases: 1 required TEXT missing": an option without its value.
    if (dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr &&
        what.rfind("--", 0) == 0) {
      what = what.substr(0, what.find(':')) + " needs a value";
    }
    std::replace(what.begin(), what.end(), '\n', ' ');
    std::fprintf(stderr, "%s: %s; see --help\n", program, what.c_str());
    return std::nullopt;
  }
  Args args;
  for (const std::string& v : valued) {
    if (app.get_option("--" + v)->count() > 0) args.flags[v] = values[v];
  }
  for (const auto& [name, set] : on) {
    if (set) args.switches.insert(name);
  }
  if (args.Has("help")) {
    usage(stdout);
    std::exit(0);
  }
  return args;
}

bool PositiveFlag(const char* program, const Args& args, const char* name,
                  std::optional<int64_t> max, int64_t* out) {
  auto it = args.flags.find(name);
  if (it == args.flags.end()) return true;
  const std::string& value = it->second;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(value.c_str(), &end, 10);
  if (errno != 0 || end == value.c_str() || *end != '\0' || v <= 0 || (max && v > *max)) {
    if (max) {
      std::fprintf(stderr, "%s: --%s takes an integer from 1 to %lld, got \"%s\"\n", program,
                   name, static_cast<long long>(*max), value.c_str());
    } else {
      std::fprintf(stderr, "%s: --%s takes a positive integer, got \"%s\"\n", program, name,
                   value.c_str());
    }
    return false;
  }
  *out = v;
  return true;
}

TempDir::~TempDir() {
  if (path.empty()) return;
  std::error_code ec;
  fs::remove_all(path, ec);
}

std::optional<std::string> RunDir(const char* program, const std::string& requested,
                                  bool require_empty, TempDir& temp) {
  if (requested.empty()) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = absl::StrCat(base && *base ? base : "/tmp", "/", program, "-XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::fprintf(stderr, "%s: cannot make a temp dir from %s: %s\n", program, tmpl.c_str(),
                   std::strerror(errno));
      return std::nullopt;
    }
    return temp.path = tmpl;
  }
  std::error_code ec;
  fs::create_directories(requested, ec);
  if (ec) {
    std::fprintf(stderr, "%s: cannot create %s: %s\n", program, requested.c_str(),
                 ec.message().c_str());
    return std::nullopt;
  }
  if (require_empty && !fs::is_empty(requested, ec)) {
    std::fprintf(stderr, "%s: %s is not empty; give a new directory\n", program,
                 requested.c_str());
    return std::nullopt;
  }
  return requested;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}

std::optional<std::string> BeginRun(const char* program, int argc, char** argv,
                                    const std::string& requested, bool require_empty,
                                    TempDir& temp) {
  const std::optional<std::string> dir = RunDir(program, requested, require_empty, temp);
  if (!dir) return std::nullopt;
  std::string cmd = program;
  for (int i = 1; i < argc; ++i) absl::StrAppend(&cmd, " ", argv[i]);
  char when[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", std::localtime(&now));
  std::printf("command:  %s\n", cmd.c_str());
  std::printf("date:     %s\n", when);
  std::printf("machine:  nproc %ld, %s, load average %s\n", sysconf(_SC_NPROCESSORS_ONLN),
              ReadFirstLine("/proc/cpuinfo", "model name").c_str(), LoadAverage().c_str());
  std::printf("SQLite:   %s\n", sqlite3_libversion());
  std::printf("dir:      %s (%s)%s\n", dir->c_str(), FsType(*dir).c_str(),
              temp.path.empty() ? ", kept" : ", removed at exit");
  return dir;
}

}  // namespace fieldsync::bench
