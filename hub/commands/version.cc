// fieldhub version: the versions this program speaks (hub/help/version.txt).
#include "base/json.h"
#include "change/commit_codec.h"
#include "hub/commands/command.h"
#include "schema/schema.h"
#include "sync/protocol.h"

namespace fieldsync::hub {
namespace {

class Version final : public Command {
 public:
  Version() : Command("version") {}
  void Declare(CLI::App& app) override {
    DeclareDataDir(app);  // accepted, as by every command; not read
    DeclareJson(app);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (!operands.empty()) return Usage(io, "version takes no operands");
    const int schema = FieldOfficeSchema().version();
    const int protocol = sync::kMaxProtocolVersion;  // the highest it speaks
    if (json()) {
      Put(io.out, JsonLine(Json{{"program", "fieldhub"},
                                {"schema_version", schema},
                                {"commit_format", kCommitFormatVersion},
                                {"protocol_version", protocol}}));
    } else {
      std::fprintf(io.out, "fieldhub: schema version %d, commit format %d, protocol version %d\n",
                   schema, kCommitFormatVersion, protocol);
    }
    return kExitOk;
  }
};

}  // namespace

std::unique_ptr<Command> MakeVersionCommand() { return std::make_unique<Version>(); }

}  // namespace fieldsync::hub
