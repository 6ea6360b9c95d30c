// `fieldhub`: the hub administrator's program, a thin command line over the
// hub library. One file a command (hub/commands/), their help texts in
// hub/help/ (embedded at build time), CLI11 for the parsing.
#ifndef FIELDSYNC_HUB_CLI_H_
#define FIELDSYNC_HUB_CLI_H_

#include <string>
#include <vector>

#include "hub/commands/command.h"

namespace fieldsync::hub {

// Runs one command line, `args` without the program's name, writing on
// `io`. Exit codes: 0 done, 1 failed (the message says why and what to do),
// 2 the command line was wrong (one line on io.err; nothing changed), 4
// `audit` found a chain changed outside fieldsync. No exception escapes.
// `serve` adds the extension's options and step (empty for fieldhub).
int RunCli(const std::vector<std::string>& args, const Io& io, const ServeExtension& serve = {});

// The program: output made terminal-safe, gRPC's own logging quiet, then
// RunCli on stdout and stderr.
int Main(int argc, char** argv, const ServeExtension& serve = {});

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_CLI_H_
