// fieldhub gc: collects the tombstones every node has acknowledged, and
// names the nodes away past the stale limit it causes to be rebuilt; with
// --dry-run, says so without collecting (hub/help/gc.txt).
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
    DeclareStore(app);
    DeclareActor(app);
    app.add_option("--min-age", min_age_);
    app.add_option("--stale-after", stale_after_);
    app.add_flag("--dry-run", dry_run_);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (!operands.empty()) return Usage(io, "gc takes no operands");
    auto min_age = ParseDuration(min_age_);
    if (!min_age.ok()) return Usage(io, min_age.status());
    auto stale = ParseDuration(stale_after_);
    if (!stale.ok()) return Usage(io, stale.status());
    auto actor = Actor();
    if (!actor.ok()) return Usage(io, actor.status());
    auto store = OpenHubStore(FileCheck::kWhole);
    if (!store.ok()) return Fail(io, store.status());
    auto r = (*store)->CollectTombstones(absl::ToInt64Milliseconds(*min_age),
                                         absl::ToInt64Milliseconds(*stale), *actor, dry_run_);
    if (!r.ok()) return Fail(io, r.status());
    if (dry_run_) {
      std::fprintf(io.out,
                   "dry run, nothing changed: gc now would collect %llu tombstones%s\n",
                   static_cast<unsigned long long>(r->tombstones),
                   r->rebuilt.empty() ? "" : " and cause the nodes below to be rebuilt");
    } else {
      std::fprintf(io.out, "collected %llu tombstones (collection epoch %llu)%s\n",
                   static_cast<unsigned long long>(r->tombstones),
                   static_cast<unsigned long long>(r->epoch),
                   r->tombstones > 0
                       ? "; nodes drop them at their next sync, and a node that never received "
                         "one of those deletes is rebuilt from the current state"
                       : "");
    }
    // Away past --stale-after and behind a delete collected now: its next
    // sync installs the current state (its own unpushed work is kept and
    // pushed; what it held of the collected rows goes).
    for (const std::string& n : r->rebuilt) {
      std::fprintf(io.out, "%s: %s (away past --stale-after; it never received a delete %s)\n",
                   dry_run_ ? "would be rebuilt" : "will be rebuilt at its next sync", n.c_str(),
                   dry_run_ ? "gc would collect" : "collected now");
    }
    for (const std::string& w : r->waiting_for) {
      std::fprintf(io.out, "kept: not yet acknowledged by %s\n", w.c_str());
    }
    return kExitOk;
  }

 private:
  std::string min_age_ = "30d";
  std::string stale_after_ = "90d";
  bool dry_run_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeGcCommand() { return std::make_unique<Gc>(); }

}  // namespace fieldsync::hub
