#include "hub/cli.h"

#include "fieldsync/v1/protocol.pb.h"
#include "store/data_dir.h"

namespace fieldsync::hub {
namespace {

constexpr char kUsage[] = R"(fieldhub -- the central hub of fieldsync

Usage: fieldhub COMMAND [options]

Commands:
  init       create the hub's replica (the embedded SQLite store)
  status     show the replica: device, commits, conflicts, rows
  version    show program, schema, commit-format and protocol versions
  help       show this text

Options:
  --data-dir DIR   where the replica lives (default: $FIELDSYNC_HUB_DIR,
                   else ~/.local/share/fieldsync/hub)
  --json           print data as JSON (status, version)

Examples:
  fieldhub init --data-dir /srv/fieldsync/hub
  fieldhub status --json

Exit codes: 0 done; 1 failed (the message says why and what to do);
2 the command line was wrong.
)";

}  // namespace

int Main(int argc, char** argv) {
  const ReplicaProgram program{"fieldhub", kUsage, "hub", "hub.db", "FIELDSYNC_HUB_DIR",
                               fieldsync::v1::PROTOCOL_VERSION_1};
  return RunReplicaProgram(program, argc, argv);
}

}  // namespace fieldsync::hub
