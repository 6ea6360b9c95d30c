#include "node/cli.h"

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

}  // namespace

int Main(int argc, char** argv) {
  const ReplicaProgram program{"fieldnode", kUsage, "node", "replica.db", "FIELDSYNC_NODE_DIR",
                               fieldsync::v1::PROTOCOL_VERSION_1};
  return RunReplicaProgram(program, argc, argv);
}

}  // namespace fieldsync::node
