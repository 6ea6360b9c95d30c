// fieldnode version (node/help/version.txt): program, schema, commit-format
// and protocol versions.
#include <cstdio>

#include "change/commit_codec.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "schema/schema.h"
#include "sync/protocol.h"

namespace fieldsync::node {

int RunVersionCommand(const Args& args) {
  if (args.positional.size() > 1) return Usage("version takes no operands");
  const int schema = FieldOfficeSchema().version();
  if (args.Has("json")) {
    Json j;
    j["program"] = "fieldnode";
    j["schema_version"] = schema;
    j["commit_format"] = kCommitFormatVersion;
    j["protocol_version"] = sync::kMaxProtocolVersion;
    Print(JsonLine(j));
    return 0;
  }
  std::printf("fieldnode: schema version %d, commit format %d, protocol version %d\n", schema,
              kCommitFormatVersion, sync::kMaxProtocolVersion);
  return 0;
}

}  // namespace fieldsync::node
