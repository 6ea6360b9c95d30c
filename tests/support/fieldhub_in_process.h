// fieldhub's command line run in the test's process (hub/cli.h), its
// stdout and stderr caught in memory: the CLI tests' one way to run it.
#ifndef FIELDSYNC_TESTS_SUPPORT_FIELDHUB_IN_PROCESS_H_
#define FIELDSYNC_TESTS_SUPPORT_FIELDHUB_IN_PROCESS_H_

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "hub/cli.h"

namespace fieldsync::hub {

struct CliResult {
  int exit = -1;
  std::string out;
  std::string err;
};

// Runs fieldhub ARGS... (without the program's name).
inline CliResult RunFieldhub(const std::vector<std::string>& args,
                             const ServeExtension& serve = {}) {
  char* out_buf = nullptr;
  char* err_buf = nullptr;
  size_t out_len = 0, err_len = 0;
  std::FILE* out = open_memstream(&out_buf, &out_len);
  std::FILE* err = open_memstream(&err_buf, &err_len);
  CliResult r;
  r.exit = RunCli(args, Io{out, err}, serve);
  std::fclose(out);
  std::fclose(err);
  r.out.assign(out_buf, out_len);
  r.err.assign(err_buf, err_len);
  std::free(out_buf);
  std::free(err_buf);
  return r;
}

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_TESTS_SUPPORT_FIELDHUB_IN_PROCESS_H_
