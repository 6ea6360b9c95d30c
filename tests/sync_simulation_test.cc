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
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>

#include "sim/world.h"

namespace fieldsync::sim {
namespace {

constexpr int kDefaultSchedules = 250;

absl::Status RunSchedule(uint64_t seed, std::string* summary) {
  World w(seed, DrawShape(seed));
  absl::Status s = w.SetUp();
  if (s.ok()) s = w.RunSafety();
  if (s.ok()) s = w.RunLiveness();
  if (s.ok()) s = w.Check();
  *summary = w.Summary();
  return s;
}

// The schedules' files in memory when the machine has room there (their
// fsyncs are most of a schedule's time on a disk).
void FilesInMemory() {
  if (std::getenv("TMPDIR") != nullptr) return;
  struct statvfs fs;
  if (statvfs("/dev/shm", &fs) != 0 || access("/dev/shm", W_OK) != 0) return;
  if (static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < (uint64_t{256} << 20)) return;
  setenv("TMPDIR", "/dev/shm", 0);
}

TEST(SimulationTest, EverySchedulesLaptopsConvergeWithNothingLostOrDuplicated) {
  FilesInMemory();
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
  for (uint64_t seed : seeds) {
    std::string summary;
    absl::Status s = RunSchedule(seed, &summary);
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
  std::cout << seeds.size() << " schedules in " << secs << " s\n";
}

}  // namespace
}  // namespace fieldsync::sim
