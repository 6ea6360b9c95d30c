// What every benchmark program does around its measurements: its command
// line (--help, unknown flags, positive integers), the directory its files
// go to (a fresh temp dir removed at exit, or --dir kept), and the lines
// that open its output (command, date, machine, SQLite, dir).
#ifndef FIELDSYNC_TOOLS_BENCH_COMMON_RUN_FRAME_H_
#define FIELDSYNC_TOOLS_BENCH_COMMON_RUN_FRAME_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <string>

#include "base/args.h"

namespace fieldsync::bench {

// The arguments of `program`, read by CLI11: nullopt after printing an error ("PROGRAM:
// ..."), for an unknown flag or a positional argument; prints `usage` to
// stdout and exits 0 for --help.
std::optional<Args> ParseBenchArgs(const char* program, int argc, char** argv,
                                   const std::set<std::string>& valued,
                                   const std::set<std::string>& switches,
                                   void (*usage)(FILE* out));

// Sets `*out` to the value of --`name` if given. False after printing an
// error if it is not an integer from 1 to `max` (with no `max`: "a positive
// integer").
bool PositiveFlag(const char* program, const Args& args, const char* name,
                  std::optional<int64_t> max, int64_t* out);

// Removes the temp dir at exit, whatever the path out.
struct TempDir {
  std::string path;
  ~TempDir();
};

// The directory of the run: `requested` (created if need be; with
// `require_empty`, refused unless empty), or else a fresh
// $TMPDIR/PROGRAM-XXXXXX owned by `temp`. nullopt after printing an error.
std::optional<std::string> RunDir(const char* program, const std::string& requested,
                                  bool require_empty, TempDir& temp);

// The three numbers of /proc/loadavg: "0.52 0.61 0.70".
std::string LoadAverage();

// The directory of the run (RunDir), and the lines that open the output
// about it: "command:", "date:", "machine:", "SQLite:" and "dir:".
// nullopt after printing an error.
std::optional<std::string> BeginRun(const char* program, int argc, char** argv,
                                    const std::string& requested, bool require_empty,
                                    TempDir& temp);

}  // namespace fieldsync::bench

#endif  // FIELDSYNC_TOOLS_BENCH_COMMON_RUN_FRAME_H_
