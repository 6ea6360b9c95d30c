// A hub put back from a backup in the simulation (ScheduleShape::backup,
// restore): at some steps a copy of the hub's files is taken as they are
// between two calls (what `fieldhub backup` or a copy of a stopped hub
// holds: consistent), at later ones the hub is stopped, its files put back
// to that copy, and it reopens from them, having lost every commit, key
// record, cursor and collection since. Nothing tells the laptops: each
// notices from the hub's log chain at its cursor that the hub went back
// and re-delivers what it lost (its own commits, its colleagues' it holds,
// its key records) (docs/PROTOCOL.md, "A hub put back from a backup").
//
// Liveness, checked by the ordinary invariants after the liveness phase:
// every laptop heals without anyone's action, every commit is on the hub
// once, the laptops of an office hold one state.
#include "sim/world.h"

namespace fieldsync::sim {
namespace {

double Unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

absl::Status World::BackupStep() {
  const std::string files = root_ + "hub.db";
  if (shape_.backup > 0 && Unit(field_rng_) < shape_.backup) {
    backup_ = memvfs::Snapshot(files);
    ++backups_;
    trail_ += " backup";
  }
  if (backup_ && shape_.restore > 0 && Unit(field_rng_) < shape_.restore) {
    memvfs::Kill(files);
    CloseHub();
    memvfs::Restore(files, *backup_);
    // No push sent to the hub that is gone arrives at the one put back.
    for (auto& l : laptops_) l->link->ForgetSentPushes();
    ++restores_;
    trail_ += " restore";
    return OpenHub();
  }
  return absl::OkStatus();
}

}  // namespace fieldsync::sim
