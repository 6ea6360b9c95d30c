#include "node/cli.h"

#include <cstdio>
#include <string>

#include "base/args.h"
#include "change/commit_codec.h"
#include "fieldsync/v1/protocol.pb.h"
#include "store/data_dir.h"

namespace fieldsync::node {
namespace {

constexpr char kUsage[] = R"(fieldnode -- a provincial field office's replica of fieldsync

Usage: fieldnode COMMAND [options]

Commands:
  init       create this office's replica and device identity
  status     show the replica: device, commits, conflicts, rows
  version    show program, schema, commit-format and protocol versions
  help       show this text

Options:
  --data-dir DIR   where the replica lives (default: $FIELDSYNC_NODE_DIR,
                   else ~/.local/share/fieldsync/node)
  --json           print data as JSON (status, version)

Examples:
  fieldnode init --data-dir /srv/fieldsync/lao-cai
  fieldnode status --json

Exit codes: 0 done; 1 failed (the message says why and what to do);
2 the command line was wrong.
)";

DataDir DefaultDir(const Args& args) {
  return DataDir{ResolveDataDir(args.Flag("data-dir"), "FIELDSYNC_NODE_DIR", "node"),
                 "replica.db", "fieldnode init", "FIELDSYNC_NODE_DIR"};
}

}  // namespace

int Main(int argc, char** argv) {
  auto parsed = ParseArgs(argc, argv, {"data-dir"}, {"json", "help"});
  if (!parsed.ok()) {
    std::fprintf(stderr, "fieldnode: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  const Args& args = *parsed;
  const std::string cmd = args.positional.empty() ? "help" : args.positional[0];
  if (cmd == "help" || args.Has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const DataDir dir = DefaultDir(args);
  if (cmd == "init") return RunInitCommand("fieldnode", dir);
  if (cmd == "status") return RunStatusCommand("fieldnode", dir, args.Has("json"));
  if (cmd == "version") {
    const int schema = FieldOfficeSchema().version();
    const int protocol = fieldsync::v1::PROTOCOL_VERSION_1;
    if (args.Has("json")) {
      std::printf("{\"program\": \"fieldnode\", \"schema_version\": %d, "
                  "\"commit_format\": %d, \"protocol_version\": %d}\n",
                  schema, kCommitFormatVersion, protocol);
    } else {
      std::printf("fieldnode: schema version %d, commit format %d, protocol version %d\n",
                  schema, kCommitFormatVersion, protocol);
    }
    return 0;
  }
  std::fprintf(stderr, "fieldnode: unknown command \"%s\"; run `fieldnode help`\n", cmd.c_str());
  return 2;
}

}  // namespace fieldsync::node
