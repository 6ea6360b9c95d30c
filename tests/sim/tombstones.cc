// Tombstone collection in the simulation (ScheduleShape::gc): the hub
// collects what fieldhub gc collects, through its own store, while laptops
// are away with their links down, the clock passing the stale limit in
// some absences. A laptop back from one may hold edits of a case its maker
// deleted and the hub then forgot: the hub refuses them for good
// (ROW_COLLECTED, DEPENDS_ON_REFUSED for later edits needing them, and
// COLLEAGUE_REFUSED for a colleague's edit over one the restored hub lost), the
// laptop sets them aside, and the rest of its work goes on; a laptop gc
// named stale is rebuilt from the hub's state at its next pull.
//
// Safety (CheckSetAside, and CheckSafety's accounting of every seq):
// every commit is on the hub or set aside on its author with a code and a
// reason, and where every clock is within the tolerance each set-aside
// commit is one gc explains. Liveness: the simulated officer discards
// what is set aside (fieldnode set-aside discard); every laptop of an office
// then holds the same state, a collected case nowhere live.
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "sim/world.h"
#include "sync/messages.h"

namespace fieldsync::sim {
namespace {

double Unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

bool ExplainedByGc(int code) {
  const auto c = static_cast<sync::RefusalCode>(code);
  return c == sync::RefusalCode::kRowCollected || c == sync::RefusalCode::kDependsOnRefused ||
         c == sync::RefusalCode::kColleagueRefused;
}

absl::Status World::TombstoneStep() {
  if (shape_.gc == 0) return absl::OkStatus();
  ++step_;
  for (auto it = away_until_.begin(); it != away_until_.end();) {
    if (it->second > step_) {
      ++it;
      continue;
    }
    laptops_[it->first]->link->set_down(false);
    absl::StrAppend(&trail_, " back ", laptops_[it->first]->name);
    it = away_until_.erase(it);
  }
  if (Unit(field_rng_) < shape_.away && away_until_.size() + 1 < laptops_.size()) {
    const size_t i = field_rng_() % laptops_.size();
    if (away_until_.count(i) == 0) {
      away_until_[i] = step_ + 5 + static_cast<int>(field_rng_() % 26);
      laptops_[i]->link->set_down(true);
      ++aways_;
      absl::StrAppend(&trail_, " away ", laptops_[i]->name);
      if (field_rng_() % 2 == 0) clock_.Advance(shape_.gc_stale_after_millis + 1000);
    }
  }
  if (Unit(field_rng_) < shape_.extra_delete && !cases_.empty()) {
    const size_t k = field_rng_() % cases_.size();
    const SimCase c = cases_[k];
    Laptop& maker = *laptops_[c.creator];
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, maker.replica->Get("cases", c.id));
    if (!c.referred && deleted_cases_.count(c.id) == 0 && row && row->live) {
      LocalTxn t;
      t.Delete("cases", c.id);
      FS_ASSIGN_OR_RETURN(std::optional<Commit> done, WriteOn(maker, t));
      if (done) {
        ++writes_;
        deleted_cases_.insert(c.id);
        absl::StrAppend(&trail_, " del ", maker.name);
      }
    }
  }
  if (Unit(field_rng_) < shape_.gc) return Collect("gc").status();
  return absl::OkStatus();
}

absl::StatusOr<hub::GcReport> World::Collect(const char* label) {
  FS_ASSIGN_OR_RETURN(hub::GcReport r,
                      store_->CollectTombstones(shape_.gc_min_age_millis,
                                                shape_.gc_stale_after_millis, "sim"));
  ++gc_runs_;
  collected_ += r.tombstones;
  if (restores_ > 0) collected_after_restore_ += r.tombstones;
  rebuilt_ += r.rebuilt.size();
  absl::StrAppend(&trail_, " ", label, " ", r.tombstones, "/", r.rebuilt.size());
  return r;
}

void World::AllBack() {
  for (const auto& [i, until] : away_until_) laptops_[i]->link->set_down(false);
  away_until_.clear();
}

// A hub put back from a backup older than a collection holds the
// collected tombstones again, and serves them (the log after a laptop's
// cursor, its colleagues' commits sent again); a laptop that took the
// collection holds nothing, and the author of the delete, never served its
// own commits, holds nothing either: both mean deleted, nothing live differs,
// and no pull can tell them apart (seeds 2335194217080472173,
// 7554867878081003056, 11568654795900326756). The hub's next collection
// settles it: its collection ids do not hold the one a laptop recorded, so
// every laptop of the office gets the whole list of collected rows
// (docs/PROTOCOL.md, "A collection a restore cannot give again"). So where
// a restore followed a collection, the administrator runs gc once more
// after the liveness rounds, the schedule's own --min-age later, and the
// laptops sync twice; the invariants then check the office's states equal
// and every collected case live nowhere.
absl::Status World::CollectAgainAfterRestore() {
  if (restores_ == 0 || collected_ == 0) return absl::OkStatus();
  auto round = [&](const char* what) -> absl::Status {
    for (auto& l : laptops_) {
      clock_.Advance(1000);
      absl::Status s = JudgePass(*l, Sync(*l), /*liveness=*/true);
      if (!s.ok()) return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
    }
    return absl::OkStatus();
  };
  // Every laptop's cursor at the log's head acknowledged, then gc.
  FS_RETURN_IF_ERROR(round("before the collection after the restore"));
  clock_.Advance(shape_.gc_min_age_millis);
  FS_ASSIGN_OR_RETURN(hub::GcReport r, Collect("gc-after-restore"));
  if (!r.rebuilt.empty()) {
    return absl::InternalError(absl::StrCat("the collection after the liveness rounds would "
                                            "rebuild ", r.rebuilt.size(), " laptops, every one "
                                            "of which had pulled the log's head"));
  }
  FS_RETURN_IF_ERROR(round("the first pass after the collection after the restore"));
  return round("the second pass after the collection after the restore");
}

absl::Status World::ResolveSetAside() {
  for (auto& l : laptops_) {
    FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> rows, l->replica->SetAsideList());
    for (const SetAsideRow& r : rows) {
      // Work gc explains; a clock's refusals are re-dated by the laptop.
      if (r.discarded_at_millis != 0 || !ExplainedByGc(r.code)) continue;
      absl::StatusOr<size_t> left = l->replica->DiscardSetAside(r.seq, l->clock->NowMillis());
      if (!left.ok()) {
        return absl::Status(left.status().code(),
                            absl::StrCat("the officer of ", l->name, " could not discard its "
                                         "set-aside commit ", r.seq, ": ",
                                         left.status().message()));
      }
      ++discarded_;
    }
  }
  return absl::OkStatus();
}

absl::Status World::CheckSetAside() {
  for (auto& l : laptops_) {
    FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> rows, l->replica->SetAsideList());
    for (const SetAsideRow& r : rows) {
      const auto code = static_cast<sync::RefusalCode>(r.code);
      if (code == sync::RefusalCode::kUnspecified || r.reason.empty()) {
        return absl::InternalError(absl::StrCat(l->name, "'s commit ", r.seq,
                                                " is set aside without a code or a reason"));
      }
      if (shape_.far_off_laptops > 0) continue;  // CLOCK_AHEAD and what needs it
      if (!ExplainedByGc(r.code)) {
        return absl::InternalError(absl::StrCat(
            l->name, "'s commit ", r.seq, " was refused for good (",
            sync::RefusalCodeName(code), ": ", r.reason, "), not for a collected row"));
      }
      if (code == sync::RefusalCode::kRowCollected && collected_ == 0) {
        return absl::InternalError(absl::StrCat(l->name, "'s commit ", r.seq,
                                                " was refused as writing a collected row, but "
                                                "the hub never collected one: ", r.reason));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace fieldsync::sim
