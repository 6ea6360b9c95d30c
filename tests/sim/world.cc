#include "sim/world.h"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "change/commit_codec.h"
#include "crypto/pairing_code.h"
#include "schema/schema.h"
#include "sim/sim_random.h"
#include "sync/protocol.h"
#include "sync/report.h"
#include "sync/retry.h"

namespace fieldsync::sim {
namespace {

// Passes of every laptop in the liveness phase: rows, answers, grants.
constexpr int kLivenessRounds = 6;
constexpr int64_t kStartMillis = int64_t{1'780'000'000'000};  // 2026-05-28
const char* const kProvinces[] = {"LC", "HG", "AG"};
const char* const kProvinceNames[] = {"Lào Cai", "Hà Giang", "An Giang"};
const char* const kStatuses[] = {"intake", "verifying", "assisting", "referred", "closed"};
const char* const kOfficers[] = {"Trần Văn Nam", "Nguyễn Thị Hoa", "Lê Văn Tú", "Vàng A Dình"};

template <typename T, size_t N>
const T& Pick(std::mt19937_64& rng, const T (&options)[N]) {
  return options[rng() % N];
}

// A probability in [0, 1) from 53 random bits: the same on every platform.
double Unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Conditions the default run leaves out (FIELDSYNC_SIM_WITHOUT's words):
// the product fails them, and the seeds that show it are in
// docs/ARCHITECTURE.md, "The simulation".
constexpr char kHeldBack[] = "gc";

}  // namespace

std::string ConditionsLeftOut() {
  const char* without = std::getenv("FIELDSYNC_SIM_WITHOUT");
  return without == nullptr ? kHeldBack : without;
}

ScheduleShape DrawShape(uint64_t seed) { return DrawShape(seed, ConditionsLeftOut()); }

ScheduleShape DrawShape(uint64_t seed, const std::string& off) {
  std::mt19937_64 rng(seed ^ 0x5eed5eed5eed5eedULL);
  ScheduleShape s;
  s.offices = 2 + static_cast<int>(rng() % 2);
  s.laptops_per_office = 1 + static_cast<int>(rng() % 3);
  s.steps = 40 + static_cast<int>(rng() % 80);
  const double rates[] = {0, 0, 0.02, 0.1, 0.3};
  s.faults.drop_request = Pick(rng, rates);
  s.faults.drop_reply = Pick(rng, rates);
  s.faults.cut_pull = Pick(rng, rates);
  s.faults.duplicate_push = Pick(rng, rates);
  s.faults.replay_push = Pick(rng, rates);
  const double crashes[] = {0, 0.02, 0.05};
  s.crash_laptop = Pick(rng, crashes);
  s.crash_hub = Pick(rng, crashes) / 2;
  const double in_call[] = {0, 0, 0.01, 0.03};
  s.crash_hub_in_call = Pick(rng, in_call);
  // Within the five minutes the replicas tolerate between two clocks; a
  // clock further off is the field issue's (refused and set aside).
  const int64_t offsets[] = {0, 30'000, 120'000};
  s.max_clock_offset_millis = Pick(rng, offsets);
  // Drawn after the others, so that those stay what they were.
  const double in_write[] = {0, 0, 0.03, 0.1};
  s.crash_laptop_in_write = Pick(rng, in_write);
  // One schedule in six has laptops whose clock is beyond the tolerance.
  if (rng() % 6 == 0) {
    s.far_off_laptops = 1 + static_cast<int>(rng() % 2);
    const int64_t far[] = {60'000, 30 * 60'000, 6 * 3'600'000};
    s.far_off_millis = Pick(rng, far);
  }
  const double shares[] = {0, 0.3, 0.6};
  s.decline = Pick(rng, shares);
  s.complete = Pick(rng, shares);
  const double in_pass[] = {0, 0, 0.02, 0.06};
  s.crash_laptop_in_pass = Pick(rng, in_pass);
  // Drawn last, so that the draws above stay what they were. One schedule
  // in three collects tombstones with laptops away; one in four puts the
  // hub back to a backup; pull answers stale or twice in some.
  if (rng() % 3 == 0) {
    const double gc[] = {0.03, 0.1};
    s.gc = Pick(rng, gc);
    const int64_t min_age[] = {0, 60'000, 600'000};
    s.gc_min_age_millis = Pick(rng, min_age);
    const int64_t stale[] = {120'000, 1'200'000};
    s.gc_stale_after_millis = Pick(rng, stale);
    const double away[] = {0.03, 0.08};
    s.away = Pick(rng, away);
    const double extra_delete[] = {0.05, 0.15};
    s.extra_delete = Pick(rng, extra_delete);
  }
  if (rng() % 4 == 0) {
    const double backup[] = {0.03, 0.1};
    s.backup = Pick(rng, backup);
    const double restore[] = {0.02, 0.05};
    s.restore = Pick(rng, restore);
  }
  const double pull_faults[] = {0, 0, 0.02, 0.1};
  s.faults.stale_pull = Pick(rng, pull_faults);
  s.faults.duplicate_pull = Pick(rng, pull_faults);
  // FIELDSYNC_SIM_WITHOUT=gc,pulls,restore: schedules without those (to
  // tell which condition a failing seed needs); by default, without the
  // ones held back while the product fails them (kHeldBack).
  if (absl::StrContains(off, "gc")) s.gc = s.away = s.extra_delete = 0;
  if (absl::StrContains(off, "restore")) s.backup = s.restore = 0;
  if (absl::StrContains(off, "pulls")) s.faults.stale_pull = s.faults.duplicate_pull = 0;
  return s;
}

class World::HubEndpoint final : public sync::Transport {
 public:
  explicit HubEndpoint(World* w) : w_(w) {}
  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& r) override {
    return w_->handler_->Hello(r);
  }
  absl::StatusOr<sync::EnrollReply> Enroll(const sync::EnrollRequest& r) override {
    return w_->handler_->Enroll(r);
  }
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& r) override {
    w_->NotePushed(r);
    const bool armed = w_->ArmHubCrash();
    absl::StatusOr<sync::PushOutcome> out = w_->handler_->Push(r);
    if (absl::Status s = w_->HubCrashedInCall(armed); !s.ok()) return s;
    return out;
  }
  absl::Status Pull(const sync::PullRequest& r,
                    const std::function<absl::Status(sync::PullChunk&)>& f) override {
    const bool armed = w_->ArmHubCrash();
    absl::Status out = w_->handler_->Pull(r, f);
    if (absl::Status s = w_->HubCrashedInCall(armed); !s.ok()) return s;
    return out;
  }

 private:
  World* w_;
};

struct World::Template {
  memvfs::Files files;
  struct Member {
    std::string name;
    std::string province;
    std::unique_ptr<crypto::DeviceIdentity> identity;
    sync::Credential cred;
  };
  std::vector<Member> laptops;
};

World::World(uint64_t seed, ScheduleShape shape)
    : seed_(seed),
      shape_(shape),
      rng_(seed),
      clock_(kStartMillis),
      more_rng_(seed ^ 0x0ddba11c0ffee000ULL),
      field_rng_(seed ^ 0x6c0ffee5eed00013ULL) {
  memvfs::Install();
  InstallDeterministicSodium();
}

World::~World() {
  // The world's files go: closing its connections need not checkpoint.
  memvfs::Kill(root_);
  for (auto& l : laptops_) CloseLaptop(*l);
  CloseHub();
  memvfs::RemoveAll(root_);
}

absl::Status World::OpenHub() {
  FS_ASSIGN_OR_RETURN(store_, hub::SqliteHubStore::Open(root_ + "hub.db", &clock_));
  handler_ = std::make_unique<hub::SyncHandler>(store_.get(), &clock_, /*verbose=*/false,
                                                nullptr);
  return absl::OkStatus();
}

void World::CloseHub() {
  handler_.reset();
  store_.reset();
}

absl::Status World::OpenLaptop(Laptop& l) {
  ReplicaOptions o;
  o.path = l.dir + "replica.db";
  o.clock = l.clock.get();
  // A process crash, not a power loss, is what the simulation reopens from.
  o.durability = ReplicaOptions::Durability::kNormal;
  FS_ASSIGN_OR_RETURN(l.replica, Replica::Open(o));
  FS_ASSIGN_OR_RETURN(l.keys, KeyRing::Open(l.replica.get(), l.province, l.clock.get()));
  FS_RETURN_IF_ERROR(l.keys->Unlock(l.identity->Clone()));
  l.replica->SetSecurity(l.keys->Security());
  return absl::OkStatus();
}

void World::CloseLaptop(Laptop& l) {
  l.keys.reset();
  l.replica.reset();
}

absl::Status World::CrashLaptop(Laptop& l) {
  const memvfs::Files left = memvfs::Snapshot(l.dir);
  memvfs::Kill(l.dir);
  CloseLaptop(l);
  memvfs::Restore(l.dir, left);
  return OpenLaptop(l);
}

bool World::ArmHubCrash() {
  if (shape_.crash_hub_in_call == 0 || Unit(rng_) >= shape_.crash_hub_in_call) return false;
  memvfs::CrashAfterWrites(root_ + "hub.db", 1 + static_cast<int>(rng_() % 12));
  return true;
}

absl::Status World::HubCrashedInCall(bool armed) {
  if (!armed) return absl::OkStatus();
  std::optional<memvfs::Files> left = memvfs::TakeCrash(root_ + "hub.db");
  // Fewer writes than armed: it dies after its last commit, its answer
  // not sent.
  if (!left) left = memvfs::Snapshot(root_ + "hub.db");
  memvfs::Kill(root_ + "hub.db");
  CloseHub();
  memvfs::Restore(root_ + "hub.db", *left);
  FS_RETURN_IF_ERROR(OpenHub());
  ++hub_crashes_in_call_;
  return absl::UnavailableError("the hub died during the call");
}

absl::Status World::CrashHub() {
  const std::string files = root_ + "hub.db";
  const memvfs::Files left = memvfs::Snapshot(files);
  memvfs::Kill(files);
  CloseHub();
  memvfs::Restore(files, left);
  return OpenHub();
}

absl::StatusOr<sync::SyncReport> World::Sync(Laptop& l) {
  sync::PassOptions o;
  o.clock = l.clock.get();
  // Small calls, so that faults fall between them too.
  o.push.max_commits = 1 + rng_() % 8;
  o.pull.max_batch = static_cast<uint32_t>(1 + rng_() % 16);
  // Each pull's call id numbered, not drawn: libsodium's stream stays the
  // schedule's (exact replay), and no two calls of a schedule share one.
  o.pull.call_id = [this] { return absl::StrCat("sim-pull-", ++pull_calls_); };
  const sync::LinkCounters before = l.link->counters();
  const bool dies = shape_.crash_laptop_in_pass > 0 && Unit(more_rng_) < shape_.crash_laptop_in_pass;
  if (dies) memvfs::CrashAfterWrites(l.dir, 1 + static_cast<int>(more_rng_() % 60));
  absl::StatusOr<sync::SyncReport> r =
      sync::RunPass(*l.link, *l.replica, *l.keys, l.cred, o);
  if (dies) {
    FS_RETURN_IF_ERROR(LaptopDiedInPass(l));
    // As the daemon sees it at its next start: the pass never ended (a
    // failure that is no bad link's stays for JudgePass to judge).
    if (r.ok() || r.status().code() == absl::StatusCode::kUnavailable ||
        r.status().code() == absl::StatusCode::kAborted) {
      r = absl::UnavailableError(absl::StrCat(l.name, " died during its pass"));
    }
  }
  l.fed_stale = l.link->counters().pulls_stale != before.pulls_stale ||
                l.link->counters().pulls_duplicated != before.pulls_duplicated;
  absl::StrAppend(&trail_, " ", l.name, r.ok() ? "." : "x");
  if (r.ok()) {
    ++l.passes_ok;
    if (r->hub_went_back) ++went_back_;
    if (r->bootstrapped) trail_ += "B";
    if (r->hub_went_back) trail_ += "W";
    if (r->set_aside > 0) absl::StrAppend(&trail_, "S", r->set_aside);
  } else {
    ++l.passes_failed;
  }
  TracePass(l, r);
  return r;
}

namespace {
template <typename T>
std::map<std::pair<int, int>, std::shared_ptr<const T>>& Made() {
  static auto* made = new std::map<std::pair<int, int>, std::shared_ptr<const T>>;
  return *made;
}
}  // namespace

void World::ForgetTemplates() { Made<Template>().clear(); }

absl::StatusOr<std::shared_ptr<const World::Template>> World::TemplateFor(
    const ScheduleShape& shape) {
  auto* made = &Made<Template>();
  const std::pair<int, int> key(shape.offices, shape.laptops_per_office);
  auto it = made->find(key);
  if (it != made->end()) return it->second;
  // The same template whichever schedule first needs it: its own seed.
  const uint64_t seed = 0x7e3a1a7e00000000ULL + static_cast<uint64_t>(key.first * 16 + key.second);
  SeedSodium(seed);
  auto t = std::make_shared<Template>();
  {
    ScheduleShape plain;
    plain.offices = shape.offices;
    plain.laptops_per_office = shape.laptops_per_office;
    World w(seed, plain);
    FS_RETURN_IF_ERROR(w.Build());
    for (auto& l : w.laptops_) {
      t->laptops.push_back(Template::Member{
          l->name, l->province,
          std::make_unique<crypto::DeviceIdentity>(l->identity->Clone()), l->cred});
      w.CloseLaptop(*l);
    }
    w.CloseHub();
    t->files = memvfs::Snapshot(w.root_);
  }
  made->emplace(key, t);
  return std::shared_ptr<const Template>(t);
}

absl::Status World::SetUp() {
  FS_ASSIGN_OR_RETURN(std::shared_ptr<const Template> t, TemplateFor(shape_));
  return Instantiate(*t);
}

absl::Status World::Instantiate(const Template& t) {
  if (memvfs::OpenHandles(root_) != 0) {
    return absl::InternalError("another world's files are still open");
  }
  memvfs::Restore(root_, t.files);
  SeedSodium(seed_);
  for (int p = 0; p < shape_.offices; ++p) provinces_.push_back(kProvinces[p]);
  FS_RETURN_IF_ERROR(OpenHub());
  // Clocks beyond the tolerance: half a minute past it and past the
  // others' own offsets at least, ahead or behind.
  std::map<size_t, int64_t> far_off;
  for (int i = 0; i < shape_.far_off_laptops; ++i) {
    const int64_t beyond =
        tuning::kDefaultMaxClockSkewMillis + shape_.max_clock_offset_millis + 30'000 +
        static_cast<int64_t>(more_rng_() % static_cast<uint64_t>(shape_.far_off_millis));
    far_off[more_rng_() % t.laptops.size()] = more_rng_() % 2 == 0 ? beyond : -beyond;
  }
  for (const Template::Member& m : t.laptops) {
    auto l = std::make_unique<Laptop>();
    l->name = m.name;
    l->dir = absl::StrCat(root_, m.name, "/");
    l->province = m.province;
    const int64_t span = shape_.max_clock_offset_millis;
    const int64_t offset =
        span == 0 ? 0 : static_cast<int64_t>(rng_() % static_cast<uint64_t>(2 * span + 1)) - span;
    auto far = far_off.find(laptops_.size());
    l->far_off = far != far_off.end();
    l->clock = std::make_unique<OffsetClock>(&clock_, l->far_off ? far->second : offset);
    l->link = std::make_unique<sync::LoopbackTransport>(*endpoint(), rng_());
    l->identity = std::make_unique<crypto::DeviceIdentity>(m.identity->Clone());
    l->cred = m.cred;
    FS_RETURN_IF_ERROR(OpenLaptop(*l));
    laptops_.push_back(std::move(l));
  }
  for (auto& l : laptops_) l->link->set_faults(shape_.faults);
  return absl::OkStatus();
}

absl::Status World::Build() {
  FS_RETURN_IF_ERROR(OpenHub());
  for (int p = 0; p < shape_.offices; ++p) {
    provinces_.push_back(kProvinces[p]);
    FS_RETURN_IF_ERROR(store_->AddProvince(kProvinces[p], kProvinceNames[p], "sim"));
  }
  for (const std::string& province : provinces_) {
    Laptop* first = nullptr;
    for (int i = 0; i < shape_.laptops_per_office; ++i) {
      auto l = std::make_unique<Laptop>();
      l->name = absl::StrCat(province, i + 1);
      l->dir = absl::StrCat(root_, l->name, "/");
      l->province = province;
      l->clock = std::make_unique<OffsetClock>(&clock_, 0);
      l->link = std::make_unique<sync::LoopbackTransport>(*endpoint(), rng_());
      {
        ReplicaOptions o;
        o.path = l->dir + "replica.db";
        o.clock = l->clock.get();
        FS_ASSIGN_OR_RETURN(auto fresh, Replica::Open(o));
        l->identity = std::make_unique<crypto::DeviceIdentity>(
            crypto::DeviceIdentity::Generate(fresh->device_id()));
      }
      FS_RETURN_IF_ERROR(OpenLaptop(*l));
      FS_ASSIGN_OR_RETURN(hub::EnrollToken token,
                          store_->MakeEnrollToken(province, 3'600'000, "sim"));
      FS_ASSIGN_OR_RETURN(sync::EnrollReply e,
                          sync::Enrol(*l->link, token.token, *l->identity, l->name, *l->clock));
      l->cred = sync::Credential{l->replica->device_id(), e.secret};
      if (first == nullptr) {
        // The office's first device, confirmed as its officer would with
        // the code the hub administrator reads out.
        FS_RETURN_IF_ERROR(Sync(*l).status());
        const crypto::DevicePublic me = l->identity->public_keys();
        FS_RETURN_IF_ERROR(l->keys->ApproveFirst(crypto::PairingCode(me, me)));
        FS_RETURN_IF_ERROR(Sync(*l).status());
        first = l.get();
      } else {
        // Approved by the first device after comparing codes.
        FS_RETURN_IF_ERROR(Sync(*l).status());
        FS_RETURN_IF_ERROR(Sync(*first).status());
        FS_ASSIGN_OR_RETURN(KeyRing::OfficeView mine, l->keys->Office());
        FS_RETURN_IF_ERROR(first->keys->Approve(l->replica->device_id(), mine.my_code));
        FS_ASSIGN_OR_RETURN(KeyRing::OfficeView theirs, first->keys->Office());
        std::string shown;
        for (const KeyRing::OfficeDevice& d : theirs.devices) {
          if (d.device.keys.device == l->replica->device_id()) shown = d.code;
        }
        FS_RETURN_IF_ERROR(l->keys->Join(shown.empty() ? mine.my_code : shown));
        FS_RETURN_IF_ERROR(Sync(*first).status());
        FS_RETURN_IF_ERROR(Sync(*l).status());
      }
      laptops_.push_back(std::move(l));
    }
  }
  // Every laptop sees its colleagues' shares before the faults begin.
  for (int round = 0; round < 2; ++round) {
    for (auto& l : laptops_) FS_RETURN_IF_ERROR(Sync(*l).status());
  }
  return absl::OkStatus();
}

sync::Transport* World::endpoint() {
  if (!endpoint_) endpoint_ = std::make_unique<HubEndpoint>(this);
  return endpoint_.get();
}

size_t World::IndexOf(const Laptop& l) const {
  for (size_t i = 0; i < laptops_.size(); ++i) {
    if (laptops_[i].get() == &l) return i;
  }
  return laptops_.size();
}

absl::Status World::Write(Laptop& l) {
  const int kind = static_cast<int>(rng_() % 12);
  const size_t me = IndexOf(l);
  // The cases of its office it holds live, in the order they were made.
  std::vector<size_t> held;
  for (size_t i = 0; i < cases_.size(); ++i) {
    if (cases_[i].province != l.province) continue;
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, l.replica->Get("cases", cases_[i].id));
    if (row && row->live) held.push_back(i);
  }
  if (kind == 3) return AnswerReferrals(l, /*all=*/false);
  LocalTxn t;
  // What the write does to the simulation's own count, once it is there
  // (a laptop dying inside its write may roll it back).
  std::optional<SimCase> made;
  std::optional<SimReferral> referral;
  size_t touched = cases_.size();  // the case written to, if not a new one
  bool deletes = false;
  bool narrative = false;
  if (kind < 3 || held.empty()) {
    const RowId person = Id16::NewRandom();
    const RowId kase = Id16::NewRandom();
    t.Create("persons", person, {{"full_name", Value::Text(Pick(rng_, kOfficers))},
                                 {"province", Value::Text(l.province)},
                                 {"sex", Value::Text("female")}});
    t.Create("cases", kase,
             {{"case_code", Value::Text(absl::StrCat(l.province, "-", cases_.size() + 1))},
              {"person_id", Value::Bytes(std::string(person.view()))},
              {"province", Value::Text(l.province)},
              {"status", Value::Text("intake")},
              {"narrative", Value::Text(absl::StrCat("Lời kể ", rng_() % 1000))}});
    made = SimCase{kase, l.province, me, false};
    narrative = true;
  } else {
    touched = held[rng_() % held.size()];
    const SimCase& c = cases_[touched];
    const RowId kase = c.id;
    // Only the laptop that made a case refers or deletes it, and never
    // both: the hub refuses a referral of a deleted case, which is right
    // and not what this simulation is about.
    if (kind == 4 && provinces_.size() > 1 && c.creator == me && !c.referred &&
        deleted_cases_.count(kase) == 0) {
      std::vector<std::string> others;
      for (const std::string& p : provinces_) {
        if (p != l.province) others.push_back(p);
      }
      const std::string to = others[rng_() % others.size()];
      const RowId ref = Id16::NewRandom();
      t.Create("referrals", ref, {{"case_id", Value::Bytes(std::string(kase.view()))},
                                  {"from_office", Value::Text(l.province)},
                                  {"to_office", Value::Text(to)},
                                  {"status", Value::Text("sent")},
                                  {"reason", Value::Text("về quê, cần hỗ trợ tại địa phương")}});
      referral = SimReferral{ref, kase, to, DrawFate(), false};
    } else if (kind == 11 && c.creator == me && !c.referred && rng_() % 2 == 0) {
      t.Delete("cases", kase);
      deletes = true;
    } else if (kind < 7) {
      t.Set("cases", kase, {{"status", Value::Text(Pick(rng_, kStatuses))}});
    } else if (kind < 9) {
      t.Set("cases", kase, {{"assigned_officer", Value::Text(Pick(rng_, kOfficers))}});
    } else {
      t.Set("cases", kase,
            {{"narrative", Value::Text(absl::StrCat("Lời kể, bản ", rng_() % 100000))}});
      narrative = true;
    }
  }
  // Whether this laptop holds the case's referral final as it writes.
  bool after_final = false;
  if (const SimReferral* r = touched < cases_.size() ? ReferralOf(touched) : nullptr) {
    FS_ASSIGN_OR_RETURN(after_final, HoldsFinal(l, *r));
  }
  FS_ASSIGN_OR_RETURN(std::optional<Commit> c, WriteOn(l, t));
  if (!c) return absl::OkStatus();  // rolled back by a crash inside it
  ++writes_;
  if (made) {
    cases_.push_back(*made);
    touched = cases_.size() - 1;
  }
  if (referral) {
    cases_[touched].referred = true;
    referrals_.push_back(*referral);
  }
  if (deletes) deleted_cases_.insert(cases_[touched].id);
  if (narrative) NoteNarrative(touched, *c, after_final);
  return absl::OkStatus();
}

absl::Status World::Step() {
  clock_.Advance(static_cast<int64_t>(rng_() % 3000));
  Laptop& l = *laptops_[rng_() % laptops_.size()];
  const int what = static_cast<int>(rng_() % 100);
  if (what < 40) {
    TraceWrite(l);
    FS_RETURN_IF_ERROR(Write(l));
  } else if (what < 90) {
    FS_RETURN_IF_ERROR(JudgePass(l, Sync(l), /*liveness=*/false));
  } else {
    clock_.Advance(static_cast<int64_t>(rng_() % 600'000));
  }
  if (Unit(rng_) < shape_.crash_laptop) {
    Laptop& crashed = *laptops_[rng_() % laptops_.size()];
    TraceCrash(crashed);
    FS_RETURN_IF_ERROR(CrashLaptop(crashed));
    ++laptop_crashes_;
  }
  if (Unit(rng_) < shape_.crash_hub) {
    FS_RETURN_IF_ERROR(CrashHub());
    ++hub_crashes_;
  }
  FS_RETURN_IF_ERROR(TombstoneStep());
  FS_RETURN_IF_ERROR(BackupStep());
  if (!pushed_violation_.empty()) return absl::InternalError(pushed_violation_);
  return absl::OkStatus();
}

absl::Status World::RunSafety() {
  for (int i = 0; i < shape_.steps; ++i) {
    absl::Status s = Step();
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("step ", i + 1, ": ", s.message()));
    }
  }
  peak_bytes_ = std::max(peak_bytes_, memvfs::Bytes(root_));
  return absl::OkStatus();
}

absl::Status World::RunLiveness() {
  shape_.crash_hub_in_call = 0;
  shape_.crash_laptop_in_write = 0;
  shape_.crash_laptop_in_pass = 0;
  AllBack();
  for (auto& l : laptops_) {
    l->link->set_faults({});
    l->link->set_down(false);
  }
  // Rows need a pass, keys a pass more (a laptop shares or grants what it
  // saw in its last pull); the receiving offices answer what reached them
  // after the second round. Where a referral ends (declined, completed),
  // two rounds more: the completion after the answer, then, once the
  // referring office holds the end, a write there the former partner must
  // not read (WriteAfterFinal).
  bool ends = false;
  for (const SimReferral& r : referrals_) ends |= r.fate != Fate::kAccept;
  // A hub put back heals in rounds (went back noticed, own work sent
  // again, colleagues' relayed), set-aside work once the officer
  // discarded it (a withdrawal, then its colleagues see it).
  // The answers wait for the healing: a referral written offline may reach
  // the hub only once its laptop's own work is sent again, a round or two
  // after the hub went back (seed 695247995106269019: answered before the
  // receiving office held it, the referral stayed "sent" and the model
  // expected the case's key granted).
  const bool healing = restores_ > 0 || shape_.gc > 0;
  const int heal = healing ? 3 : 0;
  const int rounds = kLivenessRounds + (ends ? 2 : 0) + heal;
  for (int round = 0; round < rounds; ++round) {
    if (shape_.gc > 0 && round >= 1 && round + 2 < rounds) FS_RETURN_IF_ERROR(ResolveSetAside());
    if (round == 2 + heal || (ends && round == 3 + heal)) {
      for (auto& l : laptops_) FS_RETURN_IF_ERROR(AnswerReferrals(*l, /*all=*/true));
    }
    if (ends && round == 5 + heal) FS_RETURN_IF_ERROR(WriteAfterFinal());
    for (auto& l : laptops_) {
      clock_.Advance(1000);
      absl::Status s = JudgePass(*l, Sync(*l), /*liveness=*/true);
      if (!s.ok()) {
        return absl::Status(s.code(), absl::StrCat("liveness round ", round + 1, ": ", s.message()));
      }
    }
  }
  FS_RETURN_IF_ERROR(CollectAgainAfterRestore());
  if (!pushed_violation_.empty()) return absl::InternalError(pushed_violation_);
  return absl::OkStatus();
}

absl::StatusOr<std::string> World::Digest() {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  auto add = [&](std::string_view part) {
    const uint64_t n = part.size();
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&n), sizeof n);
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(part.data()), n);
  };
  int64_t after = 0;
  while (true) {
    FS_ASSIGN_OR_RETURN(std::vector<Replica::RawEntry> entries,
                        store_->replica().RawLogAfter(after, 1000));
    if (entries.empty()) break;
    for (const Replica::RawEntry& e : entries) {
      after = e.position;
      add(absl::StrCat(e.position));
      add(e.body);
    }
  }
  FS_ASSIGN_OR_RETURN(std::string hub_state, store_->replica().StateDigest());
  add(hub_state);
  for (auto& l : laptops_) {
    FS_ASSIGN_OR_RETURN(std::string d, l->replica->StateDigest());
    add(l->name);
    add(l->replica->device_id().ToString());
    add(d);
  }
  add(Summary());
  unsigned char out[32];
  crypto_generichash_final(&st, out, sizeof out);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : out) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return hex;
}

World::Totals World::totals() const {
  Totals t;
  t.referrals = referrals_.size();
  t.deletes = deleted_cases_.size();
  for (const auto& l : laptops_) {
    t.failed_passes += l->passes_failed;
    t.pulls_cut += l->link->counters().pulls_cut;
    t.replies_dropped += l->link->counters().replies_dropped;
    t.pushes_replayed += l->link->counters().pushes_replayed;
  }
  t.laptop_crashes = laptop_crashes_;
  t.hub_crashes = hub_crashes_;
  t.hub_crashes_in_call = hub_crashes_in_call_;
  t.offices_of_several = shape_.laptops_per_office > 1 ? provinces_.size() : 0;
  t.write_crashes_kept = write_crashes_kept_;
  t.write_crashes_lost = write_crashes_lost_;
  t.pass_crashes = pass_crashes_;
  for (const SimReferral& r : referrals_) {
    t.declined += r.fate == Fate::kDecline;
    t.completed += r.fate == Fate::kComplete;
  }
  t.reads_refused = reads_refused_;
  t.far_off_schedules = shape_.far_off_laptops > 0 ? 1 : 0;
  t.clock_refusals = clock_refusals_;
  t.gc_runs = gc_runs_;
  t.collected = collected_;
  t.rebuilt = rebuilt_;
  t.aways = aways_;
  t.discarded = discarded_;
  for (const auto& l : laptops_) {
    t.pulls_stale += l->link->counters().pulls_stale;
    t.pulls_duplicated += l->link->counters().pulls_duplicated;
    t.pulls += l->link->counters().pulls;
    t.pull_messages += l->link->counters().pull_messages;
    absl::StatusOr<std::vector<SetAsideRow>> aside = l->replica->SetAsideList();
    if (aside.ok()) t.set_aside += aside->size();
  }
  t.stale_pull_refusals = stale_pull_refusals_;
  t.backups = backups_;
  t.restores = restores_;
  t.went_back = went_back_;
  return t;
}

std::string World::Summary() const {
  uint64_t ok = 0;
  uint64_t failed = 0;
  sync::LinkCounters links;
  for (const auto& l : laptops_) {
    ok += l->passes_ok;
    failed += l->passes_failed;
    const sync::LinkCounters& c = l->link->counters();
    links.calls += c.calls;
    links.requests_dropped += c.requests_dropped;
    links.replies_dropped += c.replies_dropped;
    links.pulls_cut += c.pulls_cut;
    links.pushes_duplicated += c.pushes_duplicated;
    links.pushes_replayed += c.pushes_replayed;
    links.pulls_stale += c.pulls_stale;
    links.pulls_duplicated += c.pulls_duplicated;
  }
  return absl::StrCat(provinces_.size(), " offices x ", shape_.laptops_per_office, " laptops, ",
                      shape_.steps, " steps: ", writes_, " writes (", cases_.size(), " cases, ",
                      deleted_cases_.size(), " deleted, ", referrals_.size(),
                      " referred), passes ", ok, " ok / ", failed,
                      " failed; calls ", links.calls, ", dropped ", links.requests_dropped, "+",
                      links.replies_dropped, ", pulls cut ", links.pulls_cut,
                      ", pushes twice ", links.pushes_duplicated, ", replayed ",
                      links.pushes_replayed, "; crashes: laptops ",
                      laptop_crashes_, ", hub ", hub_crashes_, " (+", hub_crashes_in_call_,
                      " inside a call), inside a write ", write_crashes_kept_, " kept / ",
                      write_crashes_lost_, " lost, inside a pass ", pass_crashes_, "; clocks beyond the tolerance ",
                      shape_.far_off_laptops, " (", clock_refusals_, " refusals); pulls stale ",
                      links.pulls_stale, ", twice ", links.pulls_duplicated, " (",
                      stale_pull_refusals_, " refused); gc ", gc_runs_, " (", collected_,
                      " collected, ", rebuilt_, " rebuilt), away ", aways_, ", set aside ",
                      discarded_, " discarded; backups ", backups_, ", restores ", restores_,
                      " (", went_back_, " passes saw it); files ", peak_bytes_ / 1024, " KiB",
                      stale_refusal_.empty() ? "" : "; first pull answer refused: ",
                      stale_refusal_);
}

}  // namespace fieldsync::sim
