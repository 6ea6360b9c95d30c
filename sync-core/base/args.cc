#include "base/args.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace fieldsync {

std::string Args::Flag(const std::string& name, const std::string& fallback) const {
  auto it = flags.find(name);
  return it == flags.end() ? fallback : it->second;
}

absl::StatusOr<Args> ParseArgs(int argc, char** argv, const std::set<std::string>& valued,
                               const std::set<std::string>& switches) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      a.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    const size_t eq = name.find('=');
    const bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (valued.count(name)) {
      if (!has_value) {
        if (i + 1 >= argc) {
          return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
        }
        value = argv[++i];
      }
      a.flags[name] = value;
    } else if (switches.count(name) && !has_value) {
      a.switches.insert(name);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option --", name, "; see --help"));
    }
  }
  return a;
}

std::string ResolveDataDir(const std::string& flag, const char* env_var, const std::string& leaf) {
  if (!flag.empty()) return flag;
  if (const char* v = std::getenv(env_var); v != nullptr && *v != '\0') return v;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x != nullptr && *x != '\0') {
    return absl::StrCat(x, "/fieldsync/", leaf);
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home && *home ? home : ".", "/.local/share/fieldsync/", leaf);
}

}  // namespace fieldsync
