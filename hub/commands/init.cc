// fieldhub init: creates the hub's store (hub/help/init.txt).
#include "hub/commands/command.h"

namespace fieldsync::hub {
namespace {

class Init final : public Command {
 public:
  Init() : Command("init") {}
  void Declare(CLI::App& app) override {
    DeclareDataDir(app);
    DeclareStore(app);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (!operands.empty()) return Usage(io, "init takes no operands");
    if (OnPostgres()) {
      // The schema and the hub's id; the data directory keeps only what
      // `serve` reads from it (tls/).
      auto store = CreatePostgresStore();
      if (!store.ok()) return Fail(io, store.status());
      std::fprintf(io.out, "fieldhub: initialised %s\ndevice %s\n", StoreLabel().c_str(),
                   (*store)->hub_id().ToString().c_str());
      return kExitOk;
    }
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
