// fieldhub gc: collects the tombstones every node has acknowledged
// (hub/help/gc.txt).
#include "CLI/CLI.hpp"
#include "hub/commands/command.h"
#include "hub/commands/time_args.h"

namespace fieldsync::hub {
namespace {

class Gc final : public Command {
 public:
  Gc() : Command("gc") {}
  void Declare(CLI::App& app) override {
    DeclareDataDir(app);
    DeclareActor(app);
    app.add_option("--min-age", min_age_);
    app.add_option("--stale-after", stale_after_);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (!operands.empty()) return Usage(io, "gc takes no operands");
    auto min_age = ParseDuration(min_age_);
    if (!min_age.ok()) return Usage(io, min_age.status());
    auto stale = ParseDuration(stale_after_);
    if (!stale.ok()) return Usage(io, stale.status());
    auto actor = Actor();
    if (!actor.ok()) return Usage(io, actor.status());
    auto store = OpenStore(HubDir(), FileCheck::kWhole);
    if (!store.ok()) return Fail(io, store.status());
    auto r = (*store)->CollectTombstones(absl::ToInt64Milliseconds(*min_age),
                                         absl::ToInt64Milliseconds(*stale), *actor);
    if (!r.ok()) return Fail(io, r.status());
    std::fprintf(io.out, "collected %llu tombstones (collection epoch %llu)%s\n",
                 static_cast<unsigned long long>(r->tombstones),
                 static_cast<unsigned long long>(r->epoch),
                 r->tombstones > 0
                     ? "; nodes drop them at their next sync, and a node that never received "
                       "one of those deletes is rebuilt from the current state"
                     : "");
    for (const std::string& w : r->waiting_for) {
      std::fprintf(io.out, "kept: not yet acknowledged by %s\n", w.c_str());
    }
    return kExitOk;
  }

 private:
  std::string min_age_ = "30d";
  std::string stale_after_ = "90d";
};

}  // namespace

std::unique_ptr<Command> MakeGcCommand() { return std::make_unique<Gc>(); }

}  // namespace fieldsync::hub
