// A deterministic simulation of the sync protocol in one process, in the
// manner of FoundationDB's: one hub (its real store and its side of the
// protocol, hub/sync_handler.h) and laptops of several offices (real
// replicas and key rings, crypto on), joined by loopback links
// (sync/loopback.h) whose faults are drawn from the schedule's seed. One
// seed decides every step: who writes what, who syncs, which link drops
// or cuts what, which laptop or the hub crashes and reopens its files (a
// laptop also inside its own write), how far each laptop's clock is off
// (beyond the tolerance, in some schedules), how each referral ends, when
// the hub collects tombstones while laptops are away (sim/tombstones.cc),
// when pull answers of an earlier call or twice arrive (sync/loopback.h),
// when the hub is put back to a backup of its files (sim/hub_restore.cc).
// docs/ARCHITECTURE.md, "The simulation", lists the faults and invariants.
//
// Speed: the files are real SQLite files held in memory (sim/mem_vfs.h);
// the hub, the offices and their enrolled, approved laptops are made once
// per shape (offices x laptops) and each schedule starts from a copy of
// their bytes (device identities made once, see Template); a schedule is
// 2-3 offices of 1-3 laptops, 40-120 steps, about 1-2 MB of files.
//
// Exact replay: the seed drives the world's random choices, libsodium's
// randomness (sim/sim_random.h: every key, nonce and row id) and every
// clock (the laptops' replicas and key rings, the hub); nothing the
// simulation drives depends on the order of a hash map. Digest() sums up
// the world a schedule ended with, to prove it.
//
// A schedule runs in two phases: safety (faults on: every pass may fail,
// but only as a bad link or a clock beyond the tolerance fails it, and
// nothing is lost), then liveness (faults off: every pass succeeds and
// everything converges, unless a clock is beyond the tolerance). Check()
// then tests the invariants (sim/invariants.cc).
#ifndef FIELDSYNC_TESTS_SIM_WORLD_H_
#define FIELDSYNC_TESTS_SIM_WORLD_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "clock/clock_source.h"
#include "crypto/identity.h"
#include "hub/sqlite_store.h"
#include "hub/sync_handler.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sim/mem_vfs.h"
#include "sync/loopback.h"
#include "sync/messages.h"
#include "sync/pass.h"

namespace fieldsync::sim {

// The shared clock of the world, as one machine reads it: off by a fixed
// amount (a laptop whose clock is wrong).
class OffsetClock final : public ClockSource {
 public:
  OffsetClock(ClockSource* base, int64_t offset) : base_(base), offset_(offset) {}
  int64_t NowMillis() override { return base_->NowMillis() + offset_; }

 private:
  ClockSource* base_;
  int64_t offset_;
};

// What a schedule is made of, drawn from its seed (swarm testing: each
// seed its own mix).
struct ScheduleShape {
  int offices = 2;
  int laptops_per_office = 2;
  int steps = 60;
  sync::LinkFaults faults;
  double crash_laptop = 0;  // per step
  double crash_hub = 0;     // per step
  // Per call: the hub dies inside it, at one of its first writes to its
  // files or, if it wrote fewer, after its last commit and before its
  // answer left.
  double crash_hub_in_call = 0;
  int64_t max_clock_offset_millis = 0;
  // Per local write: the laptop dies inside it, just before one of its
  // writes to its files (or after its commit, if it wrote fewer), and
  // reopens them: the write is then wholly there or wholly absent.
  double crash_laptop_in_write = 0;
  // Per pass (safety phase): the laptop dies inside its sync pass, at one
  // of its writes to its files, and reopens them; the pass fails as a
  // connection that died.
  double crash_laptop_in_pass = 0;
  // Laptops whose clock is off by more than the replicas tolerate
  // (tuning::kDefaultMaxClockSkewMillis), ahead or behind, by up to
  // `far_off_millis` more. Until the field issue lands, such a schedule is
  // checked for safety only: commits refused for the clock are allowed,
  // nothing lost silently (CheckSafety).
  int far_off_laptops = 0;
  int64_t far_off_millis = 0;
  // Shares of the referrals the receiving office declines, and of those it
  // accepts, of the ones it completes later (sim/referrals.cc).
  double decline = 0;
  double complete = 0;
  // Tombstone collection (sim/tombstones.cc). Per step: the hub collects
  // the tombstones deleted `gc_min_age_millis` ago or more, laptops not
  // seen for `gc_stale_after_millis` not holding it back (what fieldhub gc
  // does, through the hub's store); a laptop goes away, its link down for
  // 5-30 steps (in half of them the clock jumps past the stale limit at
  // once); the maker of a case deletes it.
  double gc = 0;
  int64_t gc_min_age_millis = 0;
  int64_t gc_stale_after_millis = 0;
  double away = 0;
  double extra_delete = 0;
  // A hub put back from a backup (sim/hub_restore.cc). Per step: a copy
  // of the hub's files is taken (the backup, in place of the last one);
  // the hub's files are put back to the backup and it reopens from them.
  double backup = 0;
  double restore = 0;
};

ScheduleShape DrawShape(uint64_t seed);
// The shape of `seed` with the conditions `left_out` names left out,
// whatever FIELDSYNC_SIM_WITHOUT says (the regression seeds).
ScheduleShape DrawShape(uint64_t seed, const std::string& left_out);
// The conditions DrawShape leaves out ("gc", "pulls", "restore", comma
// separated): FIELDSYNC_SIM_WITHOUT, else those held back by default.
std::string ConditionsLeftOut();
// A set-aside code (sync::RefusalCode) gc explains: a collected row, work
// needing such a commit, or (since session 26) an edit over a colleague's
// version the hub refused so (after a restore, which lost that version)
// (sim/tombstones.cc).
bool ExplainedByGc(int code);

struct Laptop {
  std::string name;
  std::string dir;  // its files' prefix in the memory VFS, "/sim/LC1/"
  std::string province;
  std::unique_ptr<OffsetClock> clock;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<crypto::DeviceIdentity> identity;
  std::unique_ptr<KeyRing> keys;
  sync::Credential cred;
  std::unique_ptr<sync::LoopbackTransport> link;
  uint64_t passes_ok = 0;
  uint64_t passes_failed = 0;
  bool far_off = false;  // its clock beyond the tolerance
  bool fed_stale = false;  // its last pass received a pull answer stale or twice
};

class World {
 public:
  World(uint64_t seed, ScheduleShape shape);
  ~World();

  // Hub, offices and laptops enrolled and approved (copied from the
  // shape's template, made at the first schedule of that shape), links
  // without faults.
  absl::Status SetUp();
  // The safety phase: `shape.steps` steps with faults on. A failed pass is
  // allowed only as a bad link fails (retryable); anything else fails the
  // schedule.
  absl::Status RunSafety();
  // The liveness phase: faults off, every laptop syncs until nothing
  // moves; every pass must succeed.
  absl::Status RunLiveness();
  // The invariants; the first broken one, in words (sim/invariants.cc).
  // A schedule with a clock beyond the tolerance is checked for safety
  // only (CheckSafety); any other for safety and convergence.
  absl::Status Check();

  // What the receiving office of a referral will answer: accept (and keep
  // it), accept then complete, or decline (sim/referrals.cc).
  enum class Fate { kAccept, kComplete, kDecline };

  // Drops the templates made so far: the next schedule of each shape
  // builds its own again (for the replay test).
  static void ForgetTemplates();

  // One line of what the schedule did, for the log of a failure.
  std::string Summary() const;
  // The schedule's passes and hub events in order, for the log of a
  // failure: "LC1." a pass that succeeded (B bootstrapped, W saw the hub
  // gone back, S<n> set work aside), "LC1x" one that failed; "away LC1",
  // "back LC1", "gc <collected>/<rebuilt>", "backup", "restore", "del".
  const std::string& Trail() const { return trail_; }
  // BLAKE2b (hex) of everything the schedule ended with: the hub's log,
  // every replica's state digest, the summary. The same seed, the same
  // digest, in any process.
  absl::StatusOr<std::string> Digest();

  // What the schedule exercised, summed by the test over its schedules so
  // that a run whose faults never happen (a simulation that passes
  // vacuously) fails.
  struct Totals {
    uint64_t referrals = 0;
    uint64_t deletes = 0;
    uint64_t failed_passes = 0;
    uint64_t pulls_cut = 0;
    uint64_t replies_dropped = 0;
    uint64_t pushes_replayed = 0;
    uint64_t laptop_crashes = 0;
    uint64_t hub_crashes = 0;
    uint64_t hub_crashes_in_call = 0;
    uint64_t offices_of_several = 0;  // offices with more than one laptop
    uint64_t write_crashes_kept = 0;  // the laptop died inside a write that survived
    uint64_t write_crashes_lost = 0;  // ... that was rolled back
    uint64_t pass_crashes = 0;        // a laptop died inside its sync pass
    uint64_t declined = 0;            // referrals the receiving office declines
    uint64_t completed = 0;           // ... accepts, then completes
    uint64_t reads_refused = 0;       // sealed values the former partner could not open
    uint64_t far_off_schedules = 0;   // schedules with a clock beyond the tolerance
    uint64_t clock_refusals = 0;      // passes stopped for a clock beyond it
    uint64_t gc_runs = 0;             // collections run by the hub
    uint64_t collected = 0;           // tombstones they collected
    uint64_t rebuilt = 0;             // laptops gc said would be rebuilt
    uint64_t aways = 0;               // laptops away (link down) for a while
    uint64_t set_aside = 0;           // commits set aside (hub refused for good)
    uint64_t discarded = 0;           // ... resolved by the simulated officer
    uint64_t pulls_stale = 0;         // pull answers of an earlier call delivered
    uint64_t pulls_duplicated = 0;    // pull answers delivered twice
    uint64_t stale_pull_refusals = 0; // passes that stopped on such an answer
    uint64_t backups = 0;             // copies of the hub's files taken
    uint64_t restores = 0;            // the hub put back to one
    uint64_t went_back = 0;           // passes that saw the hub had gone back
    uint64_t pulls = 0;               // pull calls that reached the hub
    uint64_t pull_messages = 0;       // messages of their answers delivered
  };
  Totals totals() const;

 private:
  // The hub as the links reach it: its handler of the moment (a crashed
  // hub is reopened with a new one).
  class HubEndpoint;
  // What SetUp makes for a shape, kept for the next schedules of it: the
  // bytes of every file and what each laptop keeps outside them.
  struct Template;
  static absl::StatusOr<std::shared_ptr<const Template>> TemplateFor(const ScheduleShape& shape);
  // Builds the world of `SetUp` from nothing (enrolment, approvals).
  absl::Status Build();
  absl::Status Instantiate(const Template& t);
  // Kills a laptop or the hub (its files as they are now) and reopens it.
  absl::Status CrashLaptop(Laptop& l);
  absl::Status CrashHub();
  // Around a call to the hub: arms a crash inside it, or not (false).
  bool ArmHubCrash();
  // After the call: the hub dies if armed; UNAVAILABLE then, as the node
  // sees a connection that died.
  absl::Status HubCrashedInCall(bool armed);

  absl::Status OpenHub();
  void CloseHub();
  absl::Status OpenLaptop(Laptop& l);
  void CloseLaptop(Laptop& l);
  absl::StatusOr<sync::SyncReport> Sync(Laptop& l);
  // A pass's failure or refusal that a bad link or a far-off clock
  // explains (OK), or the defect it shows.
  absl::Status JudgePass(const Laptop& l, const absl::StatusOr<sync::SyncReport>& r,
                         bool liveness);
  absl::Status Write(Laptop& l);
  // Writes `t` on `l`, which may die inside the write (crash_laptop_in_write)
  // and reopen its files (sim/laptop_crash.cc): the commit if it is there
  // afterwards, nothing if it was rolled back; an error if the write is
  // there in part, or the laptop's chain is inconsistent.
  absl::StatusOr<std::optional<Commit>> WriteOn(Laptop& l, const LocalTxn& t);
  // After a pass armed to die inside (crash_laptop_in_pass): the laptop
  // reopens from its files as they were at that moment; an error if they
  // are unsound or its chain or acknowledged seq inconsistent.
  absl::Status LaptopDiedInPass(Laptop& l);
  // Every commit that reaches the hub in a push, by author and seq: the
  // hub must never be offered two bodies for one (author, seq).
  void NotePushed(const sync::PushRequest& r);
  // Tombstone collection and laptops away (sim/tombstones.cc), once a
  // step: laptops back, one away, a case deleted by its maker, the hub's
  // gc, as the shape draws them.
  absl::Status TombstoneStep();
  // The hub's gc at the shape's limits, counted and said in the trail.
  absl::StatusOr<hub::GcReport> Collect(const char* label);
  // Liveness: every laptop back; the officer discards the work set aside
  // on each laptop.
  void AllBack();
  absl::Status ResolveSetAside();
  // After the liveness rounds, where the hub was put back to before one of
  // its collections: its next collection, and the passes that take it.
  absl::Status CollectAgainAfterRestore();
  // The set-aside work of every laptop: each with a code and a reason, and
  // (every clock within the tolerance) one that gc explains.
  absl::Status CheckSetAside();
  // A backup of the hub's files, and the hub put back to it (sim/hub_restore.cc),
  // once a step, as the shape draws them.
  absl::Status BackupStep();
  // The first row two laptops hold differently, in words.
  absl::StatusOr<std::string> FirstDifference(Laptop& a, Laptop& b);
  absl::Status CheckSafety();
  absl::Status CheckConvergence();
  absl::Status Step();
  sync::Transport* endpoint();
  // FIELDSYNC_SIM_TRACE=1: what each pass reported, each write's laptop
  // and time, each crash, in the trail of a failed schedule;
  // FIELDSYNC_SIM_DUMP=DIR: the hub's and the laptop's files after each
  // pass, in DIR/<pull call>/, to read with sqlite3 (sim/trace.cc).
  void TracePass(const Laptop& l, const absl::StatusOr<sync::SyncReport>& r);
  void TraceWrite(const Laptop& l);
  void TraceCrash(const Laptop& l);

  uint64_t seed_;
  ScheduleShape shape_;
  std::mt19937_64 rng_;
  std::string root_ = "/sim/";  // the world's files in the memory VFS
  FakeClock clock_;
  std::unique_ptr<hub::SqliteHubStore> store_;
  std::unique_ptr<hub::SyncHandler> handler_;
  std::unique_ptr<HubEndpoint> endpoint_;
  std::vector<std::unique_ptr<Laptop>> laptops_;
  std::vector<std::string> provinces_;
  // What the schedule did, by the simulation's own count.
  struct SimCase {
    RowId id;
    std::string province;
    size_t creator = 0;  // index in laptops_: the one laptop that refers or deletes it
    bool referred = false;
  };
  struct SimReferral {
    RowId id;
    RowId kase;
    std::string to;
    Fate fate = Fate::kAccept;
    bool accepted = false;  // some laptop of `to` wrote "accepted" (it survived)
  };
  // A sealed narrative as written, and whether its writer then held the
  // case's referral final (declined, completed): the former partner must
  // never open it (docs/CRYPTO.md, "Referrals, revocation, erasure").
  struct SimNarrative {
    size_t kase = 0;  // index in cases_
    Value sealed;
    Version version;
    bool after_final = false;
  };
  std::vector<SimCase> cases_;  // in the order made
  std::vector<SimReferral> referrals_;
  std::vector<SimNarrative> narratives_;
  // The receiving offices answer what reached them as the referral's fate
  // says, and complete what they accepted (sim/referrals.cc).
  absl::Status AnswerReferrals(Laptop& l, bool all);
  Fate DrawFate();
  // The referral of case `kase` (index in cases_), or null.
  const SimReferral* ReferralOf(size_t kase) const;
  // Whether `l` holds the referral final (declined or completed).
  absl::StatusOr<bool> HoldsFinal(Laptop& l, const SimReferral& r);
  // The narrative `c` wrote to `kase`, noted for the read check.
  void NoteNarrative(size_t kase, const Commit& c, bool after_final);
  // Liveness: each referring laptop writes to its referred cases whose
  // referral it holds final, so that the former partner's check has
  // something written after the end to not read.
  absl::Status WriteAfterFinal();
  // The receiving office opens a case's sealed narrative only where the
  // rules allow; with `converged`, each referral ended as its fate says.
  absl::Status CheckReferrals(bool converged);
  size_t IndexOf(const Laptop& l) const;
  std::set<RowId> deleted_cases_;
  uint64_t writes_ = 0;
  uint64_t hub_crashes_ = 0;
  uint64_t laptop_crashes_ = 0;
  uint64_t hub_crashes_in_call_ = 0;
  uint64_t peak_bytes_ = 0;
  // The new faults' own stream, so that a schedule without them draws
  // what it drew before they existed (the replayed regression seeds).
  std::mt19937_64 more_rng_;
  std::map<std::pair<DeviceId, uint64_t>, std::string> pushed_bodies_;
  std::string pushed_violation_;
  uint64_t write_crashes_kept_ = 0;
  uint64_t write_crashes_lost_ = 0;
  uint64_t pass_crashes_ = 0;
  uint64_t clock_refusals_ = 0;
  uint64_t reads_refused_ = 0;
  // The newest conditions' own stream (gc, laptops away, backups), for
  // the same reason as more_rng_.
  std::mt19937_64 field_rng_;
  int step_ = 0;
  std::map<size_t, int> away_until_;  // laptop index -> the step it is back at
  uint64_t gc_runs_ = 0, collected_ = 0, rebuilt_ = 0, aways_ = 0, discarded_ = 0;
  uint64_t stale_pull_refusals_ = 0, went_back_ = 0;
  uint64_t pull_calls_ = 0;  // numbers each pull's call id (PullOptions.call_id)
  uint64_t grants_lost_to_rebuilds_ = 0;  // CheckConvergence, sim/invariants.cc
  std::string stale_refusal_;  // the first refusal of such an answer, in words
  std::string trail_;
  std::optional<memvfs::Files> backup_;
  uint64_t backups_ = 0, restores_ = 0;
  uint64_t collected_after_restore_ = 0;  // tombstones collected with restores_ > 0
};

}  // namespace fieldsync::sim

#endif  // FIELDSYNC_TESTS_SIM_WORLD_H_
