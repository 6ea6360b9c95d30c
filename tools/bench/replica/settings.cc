#include "tools/bench/replica/settings.h"

#include <algorithm>
#include <cstdio>

#include "tools/bench/common/run_frame.h"

namespace fieldsync::bench_replica {
namespace {

void PrintUsage(FILE* out) {
  std::fprintf(
      out,
      "usage: fieldsync-bench [--cases N] [--batch N] [--dir PATH] [--sync MODE]\n"
      "                       [--profile P] [--crypto MODE] [--repeat N] [--quick]\n"
      "                       [--help]\n"
      "\n"
      "Measures the fieldsync replica beside plain SQLite doing the same work:\n"
      "local writes (cases created per second, 15 fields each, change tracking on)\n"
      "and remote apply (field changes merged per second, new rows and edits).\n"
      "\n"
      "  --cases N    cases written and merged (default 100000)\n"
      "  --batch N    commits per SQLite transaction: per WriteMany / Apply call,\n"
      "               and rows per transaction for plain SQLite (default 1000)\n"
      "  --dir PATH   where the database files go; kept afterwards (default: a\n"
      "               fresh directory under $TMPDIR or /tmp, removed at exit)\n"
      "  --sync MODE  full | normal | both: replica durability kFull (fsync at every\n"
      "               commit, the default) and/or kNormal; plain SQLite uses the\n"
      "               matching PRAGMA synchronous (default both)\n"
      "  --repeat N   run every measurement N times, report the median (default 1)\n"
      "  --profile P  full | intake: the case rows written. full: long narrative and\n"
      "               notes (~1.1 KB of values a case); intake: the same 15 fields\n"
      "               with short texts, as first recorded (~0.3 KB) (default full)\n"
      "  --crypto M   both | off: with both, the local writes are measured a second\n"
      "               time in the same run with encryption and signatures on (every\n"
      "               commit signed, the 4 sensitive fields of each case sealed)\n"
      "               and the cost is printed against the 30%% target (default both)\n"
      "  --quick      tiny defaults (500 cases, batch 50, --sync full), for smoke\n"
      "               tests; flags given explicitly still apply\n"
      "  --help       this text\n"
      "\n"
      "Exits 0 whether or not the targets are met; 1 if anything fails, 2 on bad usage.\n");
}

}  // namespace

std::optional<Settings> ParseSettings(int argc, char** argv) {
  std::optional<Args> args =
      bench::ParseBenchArgs(kProgram, argc, argv,
                            {"cases", "batch", "dir", "sync", "repeat", "profile", "crypto"},
                            {"quick", "help"}, PrintUsage);
  if (!args) return std::nullopt;
  Settings s;
  s.quick = args->Has("quick");
  if (s.quick) {  // tiny defaults; explicit flags still win
    s.cases = 500;
    s.batch = 50;
    s.sync_normal = false;
  }
  int64_t repeat = 1;
  if (!bench::PositiveFlag(kProgram, *args, "cases", std::nullopt, &s.cases) ||
      !bench::PositiveFlag(kProgram, *args, "batch", std::nullopt, &s.batch) ||
      !bench::PositiveFlag(kProgram, *args, "repeat", std::nullopt, &repeat)) {
    return std::nullopt;
  }
  s.repeat = static_cast<int>(std::min<int64_t>(repeat, 100));
  s.dir = args->Flag("dir");
  if (args->flags.count("profile")) {
    const std::string p = args->Flag("profile");
    if (p != "full" && p != "intake") {
      std::fprintf(stderr, "fieldsync-bench: --profile takes full or intake, got \"%s\"\n",
                   p.c_str());
      return std::nullopt;
    }
    s.profile = p == "intake" ? bench::CaseProfile::kIntake : bench::CaseProfile::kFull;
  }
  if (args->flags.count("crypto")) {
    const std::string c = args->Flag("crypto");
    if (c != "both" && c != "off") {
      std::fprintf(stderr,
                   "fieldsync-bench: --crypto takes both or off, got \"%s\" (the writes "
                   "without crypto are always measured: they are the baseline)\n",
                   c.c_str());
      return std::nullopt;
    }
    s.crypto = c == "both";
  }
  if (args->flags.count("sync")) {
    const std::string mode = args->Flag("sync");
    if (mode != "full" && mode != "normal" && mode != "both") {
      std::fprintf(stderr, "fieldsync-bench: --sync takes full, normal or both, got \"%s\"\n",
                   mode.c_str());
      return std::nullopt;
    }
    s.sync_full = mode != "normal";
    s.sync_normal = mode != "full";
  }
  return s;
}

}  // namespace fieldsync::bench_replica
