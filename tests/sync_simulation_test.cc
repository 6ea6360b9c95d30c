// The deterministic simulation (tests/sim/world.h): many schedules, each
// from its own seed, each a hub and laptops of several offices in this
// process over loopback links that drop, cut and duplicate; laptops and
// the hub crash and reopen their files. After the faults, a phase without
// them: everything must converge, and the invariants hold.
//
// FIELDSYNC_SIM_SCHEDULES=N runs N schedules (default below);
// FIELDSYNC_SIM_SEED=S replays the one schedule of seed S; a failure prints
// the seed that replays it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>

#include "sim/world.h"

namespace fieldsync::sim {
namespace {

constexpr int kDefaultSchedules = 250;

absl::Status RunSchedule(uint64_t seed, std::string* summary, World::Totals* sum) {
  World w(seed, DrawShape(seed));
  absl::Status s = w.SetUp();
  if (s.ok()) s = w.RunSafety();
  if (s.ok()) s = w.RunLiveness();
  if (s.ok()) s = w.Check();
  *summary = w.Summary();
  const World::Totals t = w.totals();
  sum->referrals += t.referrals;
  sum->deletes += t.deletes;
  sum->failed_passes += t.failed_passes;
  sum->pulls_cut += t.pulls_cut;
  sum->replies_dropped += t.replies_dropped;
  sum->pushes_replayed += t.pushes_replayed;
  sum->laptop_crashes += t.laptop_crashes;
  sum->hub_crashes += t.hub_crashes;
  sum->offices_of_several += t.offices_of_several;
  return s;
}

TEST(SimulationTest, EverySchedulesLaptopsConvergeWithNothingLostOrDuplicated) {
  std::vector<uint64_t> seeds;
  if (const char* one = std::getenv("FIELDSYNC_SIM_SEED")) {
    seeds.push_back(std::strtoull(one, nullptr, 10));
  } else {
    int n = kDefaultSchedules;
    if (const char* k = std::getenv("FIELDSYNC_SIM_SCHEDULES")) n = std::atoi(k);
    uint64_t base = std::random_device{}();
    if (const char* b = std::getenv("FIELDSYNC_SEED")) base = std::strtoull(b, nullptr, 10);
    std::cout << "FIELDSYNC_SEED=" << base << " (" << n << " schedules)\n";
    std::mt19937_64 rng(base);
    for (int i = 0; i < n; ++i) seeds.push_back(rng());
  }
  const auto start = std::chrono::steady_clock::now();
  int failed = 0;
  World::Totals sum;
  for (uint64_t seed : seeds) {
    std::string summary;
    absl::Status s = RunSchedule(seed, &summary, &sum);
    if (!s.ok()) {
      ++failed;
      ADD_FAILURE() << "schedule FIELDSYNC_SIM_SEED=" << seed << " (" << summary
                    << "): " << s;
      if (failed >= 3) break;
    } else if (seeds.size() == 1) {
      std::cout << "FIELDSYNC_SIM_SEED=" << seed << ": " << summary << "\n";
    }
  }
  const auto secs = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count() / 1000.0;
  std::cout << seeds.size() << " schedules in " << secs << " s: " << sum.referrals
            << " referrals, " << sum.deletes << " deletes, " << sum.failed_passes
            << " failed passes, " << sum.pulls_cut << " pulls cut, " << sum.replies_dropped
            << " answers lost, " << sum.pushes_replayed << " pushes replayed, crashes "
            << sum.laptop_crashes << " laptops / " << sum.hub_crashes << " hub\n";
  // Over enough schedules every kind of fault and work happened: a change
  // that stops one (a fault rate never drawn, writes never referred) would
  // leave the invariants checking nothing.
  if (seeds.size() >= 50) {
    EXPECT_GT(sum.referrals, 0u);
    EXPECT_GT(sum.deletes, 0u);
    EXPECT_GT(sum.pulls_cut, 0u);
    EXPECT_GT(sum.replies_dropped, 0u);
    EXPECT_GT(sum.pushes_replayed, 0u);
    EXPECT_GT(sum.laptop_crashes, 0u);
    EXPECT_GT(sum.hub_crashes, 0u);
    EXPECT_GT(sum.offices_of_several, 0u);
  }
}

}  // namespace
}  // namespace fieldsync::sim
