// fieldsync-bench-sync's command line: the sizes of its three phases, the
// modes measured (crypto on, off) and how often.
#ifndef FIELDSYNC_TOOLS_BENCH_SYNC_SETTINGS_H_
#define FIELDSYNC_TOOLS_BENCH_SYNC_SETTINGS_H_

#include <cstdint>
#include <optional>
#include <string>

namespace fieldsync::bench_sync {

inline constexpr char kProgram[] = "fieldsync-bench-sync";

struct Settings {
  int64_t cases = 100000;
  int64_t edits = 1000;
  int64_t nodes = 63;
  int64_t node_commits = 1000;
  int repeat = 1;
  // The bad-link phase (links.h): cases bootstrapped, cases pushed; and
  // whether to run that phase alone.
  int64_t link_cases = 1000;
  int64_t link_commits = 500;
  bool links_only = false;
  std::string dir;  // empty: a fresh temp dir, removed at exit
  bool quick = false;
  // The modes measured (--crypto): with encryption and signatures, and
  // without them (the baseline of their cost).
  bool crypto_on = true;
  bool crypto_off = true;
};

// Returns nullopt after printing an error; exits for --help.
std::optional<Settings> ParseSettings(int argc, char** argv);

}  // namespace fieldsync::bench_sync

#endif  // FIELDSYNC_TOOLS_BENCH_SYNC_SETTINGS_H_
