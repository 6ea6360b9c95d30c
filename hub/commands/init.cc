// fieldhub init: creates the hub's store (hub/help/init.txt).
#include "hub/commands/command.h"

namespace fieldsync::hub {
namespace {

class Init final : public Command {
 public:
  Init() : Command("init") {}
  void Declare(CLI::App& app) override { DeclareDataDir(app); }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (!operands.empty()) return Usage(io, "init takes no operands");
    const DataDir dir = HubDir();
    auto replica = CreateReplicaIn(dir);
    if (!replica.ok()) return Fail(io, replica.status());
    std::fprintf(io.out, "fieldhub: initialised %s\ndevice %s\n", dir.ReplicaPath().c_str(),
                 (*replica)->device_id().ToString().c_str());
    return kExitOk;
  }
};

}  // namespace

std::unique_ptr<Command> MakeInitCommand() { return std::make_unique<Init>(); }

}  // namespace fieldsync::hub
