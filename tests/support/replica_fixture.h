// Helpers for tests that run several replicas side by side in temp files.
#ifndef FIELDSYNC_TESTS_SUPPORT_REPLICA_FIXTURE_H_
#define FIELDSYNC_TESTS_SUPPORT_REPLICA_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "clock/clock_source.h"
#include "store/replica.h"
#include "support/temp_dir.h"

namespace fieldsync {

// Readable values in test failure messages.
inline void PrintTo(const Value& v, std::ostream* os) { *os << v.DebugString(); }

}  // namespace fieldsync

namespace fieldsync::testing {

inline constexpr int64_t kTestEpochMillis = 1'764'000'000'000;  // 2025-11-24

// Opens a replica at `path` with `clock`, failing the test on error.
inline std::unique_ptr<Replica> OpenReplica(const std::string& path, ClockSource* clock,
                                            ReplicaOptions::Durability d =
                                                ReplicaOptions::Durability::kNormal) {
  ReplicaOptions o;
  o.path = path;
  o.clock = clock;
  o.durability = d;
  auto r = Replica::Open(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

inline Value T(const char* s) { return Value::Text(s); }

// Every commit `from` holds that `to` lacks, applied in one batch.
inline ApplyResult Deliver(Replica& from, Replica& to) {
  auto log = from.LogAfter(0, 1'000'000);
  EXPECT_TRUE(log.ok()) << log.status();
  std::vector<Commit> commits;
  for (auto& [pos, c] : *log) commits.push_back(std::move(c));
  auto r = to.Apply(commits);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : ApplyResult{};
}

inline std::string Digest(Replica& r) {
  auto d = r.StateDigest();
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : "";
}

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_REPLICA_FIXTURE_H_
