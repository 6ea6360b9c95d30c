// A laptop that dies inside its own write (ScheduleShape::crash_laptop_in_write):
// the memory VFS copies the laptop's files just before one of the write's
// writes to them (a WAL frame, the commit frame, a checkpoint after it) or,
// if it wrote fewer, after its commit; the laptop's connections are then
// closed and its files put back as the copy holds them, and SQLite reopens
// from that (sim/mem_vfs.h). Nothing is faked: what survives is what SQLite
// made durable before the moment of death.
//
// The invariant, checked at once: the write is wholly there (the state the
// write left, its commit at the next seq with its chain entry) or wholly
// absent (the state before, no commit, no chain entry past the last one);
// the file is sound; the hub's acknowledgement never runs past what the
// laptop holds. A seq rolled back is written again with another body: the
// hub must never have been offered the first (World::NotePushed).
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "change/commit_codec.h"
#include "sim/world.h"
#include "sync/report.h"

namespace fieldsync::sim {
namespace {

// What is wrong, after a crash, with a laptop's own chain and the hub's
// acknowledgement of it ("" if nothing): its chain must end at its last
// commit (`local_seq`), and the acknowledgement must not pass it.
absl::StatusOr<std::string> ChainOrAckProblem(Replica& r, uint64_t local_seq) {
  const DeviceId self = r.device_id();
  FS_ASSIGN_OR_RETURN(std::optional<ChainRow> head, r.ChainEntryAt(self, local_seq));
  FS_ASSIGN_OR_RETURN(std::optional<ChainRow> past, r.ChainEntryAt(self, local_seq + 1));
  if ((local_seq > 0 && !head) || past) {
    return absl::StrCat("a chain that does not end at its last commit, seq ", local_seq);
  }
  FS_ASSIGN_OR_RETURN(int64_t pushed, r.GetCursor(sync::kPushedCursor));
  if (pushed < 0 || static_cast<uint64_t>(pushed) > local_seq) {
    return absl::StrCat("the hub's acknowledgement of seq ", pushed, " past its commits");
  }
  return std::string();
}

}  // namespace

namespace {

// A local write's writes to its files: a WAL frame per page it changes (a
// handful of tables and indexes), the commit frame, sometimes a checkpoint.
// Drawn up to this, so that some crashes fall after the commit.
constexpr uint64_t kMaxWritesBeforeCrash = 40;

double Unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

absl::StatusOr<std::optional<Commit>> World::WriteOn(Laptop& l, const LocalTxn& t) {
  auto refused = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(l.name, " could not write: ", s.message()));
  };
  if (shape_.crash_laptop_in_write == 0 || Unit(more_rng_) >= shape_.crash_laptop_in_write) {
    absl::StatusOr<Commit> c = l.replica->Write(t);
    if (!c.ok()) return refused(c.status());
    return std::optional<Commit>(*std::move(c));
  }
  FS_ASSIGN_OR_RETURN(ReplicaStats before, l.replica->Stats());
  FS_ASSIGN_OR_RETURN(std::string state_before, l.replica->StateDigest());
  memvfs::CrashAfterWrites(l.dir, 1 + static_cast<int>(more_rng_() % kMaxWritesBeforeCrash));
  absl::StatusOr<Commit> c = l.replica->Write(t);
  std::optional<memvfs::Files> left = memvfs::TakeCrash(l.dir);
  if (!c.ok()) return refused(c.status());
  FS_ASSIGN_OR_RETURN(std::string state_after, l.replica->StateDigest());
  if (!left) left = memvfs::Snapshot(l.dir);
  memvfs::Kill(l.dir);
  CloseLaptop(l);
  memvfs::Restore(l.dir, *left);
  auto broken = [&](const std::string& what) {
    return absl::InternalError(absl::StrCat(l.name, " died inside its write of commit ",
                                            c->Name(), " and reopened with ", what));
  };
  if (absl::Status s = OpenLaptop(l); !s.ok()) return broken(s.ToString());
  if (absl::Status s = l.replica->CheckIntegrity(); !s.ok()) return broken(s.ToString());
  FS_ASSIGN_OR_RETURN(ReplicaStats now, l.replica->Stats());
  FS_ASSIGN_OR_RETURN(std::string state, l.replica->StateDigest());
  bool kept;
  if (now.local_seq == before.local_seq + 1 && state == state_after) {
    kept = true;
  } else if (now.local_seq == before.local_seq && state == state_before) {
    kept = false;
  } else {
    return broken(absl::StrCat("its last seq ", now.local_seq, " (", before.local_seq,
                               " before the write)",
                               state == state_before  ? ", its rows as before the write"
                               : state == state_after ? ", its rows as the write left them"
                                                      : ", its rows neither as before nor after"));
  }
  FS_ASSIGN_OR_RETURN(std::vector<Commit> logged, l.replica->LocalCommitsAfter(before.local_seq, 2));
  if (logged.size() != (kept ? 1u : 0u) ||
      (kept && EncodeCommit(logged.front()) != EncodeCommit(*c))) {
    return broken(absl::StrCat(logged.size(), " commits of its own after seq ", before.local_seq,
                               kept ? ", not the one written" : ""));
  }
  FS_ASSIGN_OR_RETURN(std::string wrong, ChainOrAckProblem(*l.replica, now.local_seq));
  if (!wrong.empty()) return broken(wrong);
  ++(kept ? write_crashes_kept_ : write_crashes_lost_);
  if (!kept) return std::optional<Commit>();
  return std::optional<Commit>(*std::move(c));
}

absl::Status World::LaptopDiedInPass(Laptop& l) {
  std::optional<memvfs::Files> left = memvfs::TakeCrash(l.dir);
  // Fewer writes than armed: it dies after the pass's last one.
  if (!left) left = memvfs::Snapshot(l.dir);
  memvfs::Kill(l.dir);
  CloseLaptop(l);
  memvfs::Restore(l.dir, *left);
  ++pass_crashes_;
  auto broken = [&](const std::string& what) {
    return absl::InternalError(absl::StrCat(l.name, " died inside its pass and reopened with ",
                                            what));
  };
  if (absl::Status s = OpenLaptop(l); !s.ok()) return broken(s.ToString());
  if (absl::Status s = l.replica->CheckIntegrity(); !s.ok()) return broken(s.ToString());
  FS_ASSIGN_OR_RETURN(ReplicaStats now, l.replica->Stats());
  FS_ASSIGN_OR_RETURN(std::string wrong, ChainOrAckProblem(*l.replica, now.local_seq));
  if (!wrong.empty()) return broken(wrong);
  return absl::OkStatus();
}

}  // namespace fieldsync::sim
