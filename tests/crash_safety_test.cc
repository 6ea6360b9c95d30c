// Crash safety of the replica: a write or an apply interrupted at any point --
// by a disk error, by a power cut, or by the process being killed -- leaves
// the file passing `PRAGMA integrity_check` and at the state before or after
// the call, never between.
//
// Faults are injected through tests/support/faulty_vfs.h, which fails the
// n-th mutating file operation (xWrite/xSync/xTruncate). Each test first runs
// the call once unfaulted on a copy of a prepared database to learn the state
// after it and how many mutating operations it takes (N), then interrupts it
// at every n in 1..N+2, each time on a fresh copy.
//
// FIELDSYNC_SEED=<n> replays the killed-child test's random delays.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clock/clock_source.h"
#include "store/replica.h"
#include "support/faulty_vfs.h"
#include "support/temp_dir.h"

namespace fieldsync {
namespace {

using ::fieldsync::testing::FaultInjector;
using ::fieldsync::testing::FaultMode;
using ::fieldsync::testing::RegisterFaultyVfs;
using ::fieldsync::testing::TempDir;

#define FS_ASSERT_OK(expr)                             \
  do {                                                 \
    const ::absl::Status fs_s_ = (expr);               \
    ASSERT_TRUE(fs_s_.ok()) << #expr << ": " << fs_s_; \
  } while (0)
#define FS_EXPECT_OK(expr)                             \
  do {                                                 \
    const ::absl::Status fs_s_ = (expr);               \
    EXPECT_TRUE(fs_s_.ok()) << #expr << ": " << fs_s_; \
  } while (0)

constexpr int64_t kT0 = 1'790'000'000'000;  // 2026-09-22, any fixed instant
constexpr char kCursor[] = "pull";
constexpr int64_t kCursorBefore = 7;
constexpr int64_t kCursorAfter = 42;

// What a test compares: the replicated state, the sync cursor and the
// bookkeeping that must move with it.
struct Snapshot {
  std::string digest;
  int64_t cursor = 0;
  uint64_t local_seq = 0;
  uint64_t log_commits = 0;
  uint64_t open_conflicts = 0;

  friend bool operator==(const Snapshot& a, const Snapshot& b) {
    return a.digest == b.digest && a.cursor == b.cursor && a.local_seq == b.local_seq &&
           a.log_commits == b.log_commits && a.open_conflicts == b.open_conflicts;
  }
  friend bool operator!=(const Snapshot& a, const Snapshot& b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& os, const Snapshot& s) {
    return os << "{digest " << s.digest.substr(0, 12) << "..., cursor " << s.cursor
              << ", local_seq " << s.local_seq << ", log_commits " << s.log_commits
              << ", conflicts " << s.open_conflicts << "}";
  }
};

absl::StatusOr<Snapshot> Observe(Replica& r) {
  Snapshot s;
  absl::StatusOr<std::string> d = r.StateDigest();
  if (!d.ok()) return d.status();
  s.digest = *d;
  absl::StatusOr<int64_t> c = r.GetCursor(kCursor);
  if (!c.ok()) return c.status();
  s.cursor = *c;
  absl::StatusOr<ReplicaStats> st = r.Stats();
  if (!st.ok()) return st.status();
  s.local_seq = st->local_seq;
  s.log_commits = st->log_commits;
  s.open_conflicts = st->open_conflicts;
  return s;
}

// "before", "after" or a description of something else.
std::string Classify(const Snapshot& s, const Snapshot& before, const Snapshot& after) {
  if (s == before) return "before";
  if (s == after) return "after";
  std::ostringstream os;
  os << "NEITHER: " << s << " (before " << before << ", after " << after << ")";
  return os.str();
}

void RemoveDb(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::error_code ec;
    std::filesystem::remove(path + suffix, ec);
  }
}

// Copies a database and its WAL, if it has one, to `dst`. The source must be
// closed or idle (no transaction running); SQLite rebuilds the -shm.
void CopyDb(const std::string& src, const std::string& dst) {
  RemoveDb(dst);
  std::filesystem::copy_file(src, dst);
  if (std::filesystem::exists(src + "-wal")) std::filesystem::copy_file(src + "-wal", dst + "-wal");
}

// A field of a row read with Replica::Get.
Value FieldValue(const Row& row, const Schema& schema, const char* table, const char* column) {
  const int ci = schema.FindTable(table)->ColumnIndex(column);
  return row.values[static_cast<size_t>(ci)];
}

class CrashSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override { vfs_ = RegisterFaultyVfs(); }
  void TearDown() override { FaultInjector::Get().Disarm(); }

  // Opens `path` through the faulty VFS or the default one.
  absl::StatusOr<std::unique_ptr<Replica>> Open(const std::string& path, bool faulty,
                                                ClockSource* clock = nullptr) {
    ReplicaOptions o;
    o.path = path;
    o.clock = clock ? clock : &clock_;
    o.durability = ReplicaOptions::Durability::kFull;
    if (faulty) o.vfs = vfs_;
    return Replica::Open(o);
  }

  // Opens `path` through the default VFS and checks it: integrity, then the
  // snapshot.
  std::optional<Snapshot> Reopen(const std::string& path) {
    absl::StatusOr<std::unique_ptr<Replica>> r = Open(path, /*faulty=*/false);
    EXPECT_TRUE(r.ok()) << "reopening " << path << ": " << r.status();
    if (!r.ok()) return std::nullopt;
    FS_EXPECT_OK((*r)->CheckIntegrity());
    absl::StatusOr<Snapshot> s = Observe(**r);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return std::nullopt;
    return *s;
  }

  // The operation under test, run on an open replica. Returns the call's
  // status.
  using Call = std::function<absl::Status(Replica&)>;

  struct Probe {
    Snapshot before;
    Snapshot after;
    uint64_t ops = 0;  // N: mutating operations the call performs
  };

  // Runs `call` unfaulted on a copy of `prepared` (through the faulty VFS,
  // counting) and returns the states before and after, and N.
  std::optional<Probe> RunProbe(const std::string& prepared, const Call& call) {
    Probe p;
    const std::string work = dir_.File("probe.sqlite");
    // Opened on a copy: closing would checkpoint a prepared WAL away.
    CopyDb(prepared, work);
    const std::optional<Snapshot> before = Reopen(work);
    if (!before) return std::nullopt;
    p.before = *before;
    CopyDb(prepared, work);
    absl::StatusOr<std::unique_ptr<Replica>> r = Open(work, /*faulty=*/true);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return std::nullopt;
    FaultInjector::Get().StartCounting();
    const absl::Status s = call(**r);
    p.ops = FaultInjector::Get().ops_since_arm();
    EXPECT_TRUE(s.ok()) << "unfaulted call failed: " << s;
    absl::StatusOr<Snapshot> after = Observe(**r);
    EXPECT_TRUE(after.ok()) << after.status();
    if (!s.ok() || !after.ok()) return std::nullopt;
    p.after = *after;
    EXPECT_NE(p.before, p.after) << "the call under test changes nothing";
    EXPECT_GT(p.ops, 0u) << "the call wrote nothing through the faulty VFS";
    r->reset();
    // The state after is also what a reopen sees.
    const std::optional<Snapshot> reopened = Reopen(work);
    if (reopened) {
      EXPECT_EQ(*reopened, p.after);
    }
    return p;
  }

  // A disk error at mutating operation n of `call`, on three fresh copies of
  // `prepared`:
  //  1. the same replica, disarmed, must be at before/after (matching the
  //     status), pass integrity, accept `retry` (if the call failed) and
  //     `more`, and a reopen must see exactly what it saw;
  //  2. closing right after the error and reopening must give before/after;
  //  3. a crash right after the error (nothing more reaches the disk) must
  //     give before or after. Returns true if the crash case came back
  //     "after" although the call had failed (an ambiguous failure).
  // `check_retry` runs on the same replica after a successful retry.
  bool RunDiskError(const std::string& prepared, const Probe& p, uint64_t n, const Call& call,
                    const Call& retry, const std::function<void(Replica&)>& check_retry,
                    const Call& more) {
    SCOPED_TRACE(::testing::Message() << "disk error at mutating op " << n << " of " << p.ops);
    const std::string work = dir_.File("work.sqlite");
    FaultInjector& fi = FaultInjector::Get();
    bool call_ok = false;

    // 1. Recover in place.
    {
      CopyDb(prepared, work);
      absl::StatusOr<std::unique_ptr<Replica>> r = Open(work, /*faulty=*/true);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return false;
      Replica& rep = **r;
      fi.ArmFailAt(n, FaultMode::kError);
      const absl::Status s = call(rep);
      const std::string fault = fi.first_fault();
      const uint64_t faulted = fi.faulted_ops();
      fi.Disarm();
      SCOPED_TRACE(::testing::Message() << "first fault: " << (fault.empty() ? "none" : fault)
                                        << ", call returned " << s);
      call_ok = s.ok();
      // Every op from n on fails, so the call fails iff n is one of its ops.
      EXPECT_EQ(call_ok, n > p.ops);
      EXPECT_EQ(faulted > 0, n <= p.ops);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable)
            << "a disk I/O error must map to UNAVAILABLE (retry)";
      }
      FS_EXPECT_OK(rep.CheckIntegrity());
      absl::StatusOr<Snapshot> now = Observe(rep);
      EXPECT_TRUE(now.ok()) << now.status();
      if (now.ok()) {
        EXPECT_EQ(Classify(*now, p.before, p.after), call_ok ? "after" : "before")
            << "state of the same replica after the fault";
      }
      if (!call_ok) {
        const absl::Status rs = retry(rep);
        EXPECT_TRUE(rs.ok()) << "retry on the same replica after Disarm(): " << rs;
        if (rs.ok()) check_retry(rep);
      }
      const absl::Status ms = more(rep);
      EXPECT_TRUE(ms.ok()) << "a further call on the same replica after Disarm(): " << ms;
      FS_EXPECT_OK(rep.CheckIntegrity());
      absl::StatusOr<Snapshot> live = Observe(rep);
      EXPECT_TRUE(live.ok()) << live.status();
      r->reset();
      const std::optional<Snapshot> reopened = Reopen(work);
      if (live.ok() && reopened) {
        EXPECT_EQ(*reopened, *live) << "a reopen sees other than the live replica saw";
      }
    }

    // 2. Close right after the error.
    {
      CopyDb(prepared, work);
      absl::StatusOr<std::unique_ptr<Replica>> r = Open(work, /*faulty=*/true);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return false;
      fi.ArmFailAt(n, FaultMode::kError);
      const absl::Status s = call(**r);
      fi.Disarm();
      EXPECT_EQ(s.ok(), call_ok) << "the same fault gave another outcome: " << s;
      r->reset();
      const std::optional<Snapshot> reopened = Reopen(work);
      if (reopened) {
        EXPECT_EQ(Classify(*reopened, p.before, p.after), s.ok() ? "after" : "before")
            << "closed after the error, then reopened";
      }
    }

    // 3. Crash right after the error.
    bool ambiguous = false;
    {
      CopyDb(prepared, work);
      absl::StatusOr<std::unique_ptr<Replica>> r = Open(work, /*faulty=*/true);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return false;
      fi.ArmFailAt(n, FaultMode::kError);
      const absl::Status s = call(**r);
      fi.CutPowerNow();  // nothing more reaches the disk, not even a delete
      r->reset();
      fi.Disarm();
      const std::optional<Snapshot> reopened = Reopen(work);
      if (reopened) {
        const std::string c = Classify(*reopened, p.before, p.after);
        EXPECT_TRUE(c == "before" || c == "after") << "crashed after the error: " << c;
        if (s.ok()) {
          EXPECT_EQ(c, "after") << "a successful call was lost";
        }
        ambiguous = !s.ok() && c == "after";
      }
    }
    return ambiguous;
  }

  // A power cut at mutating operation n of `call`, on a fresh copy: returns
  // "before", "after" or a description of the damage.
  std::string RunPowerCut(const std::string& prepared, const Probe& p, uint64_t n, const Call& call,
                          const Call& more) {
    SCOPED_TRACE(::testing::Message() << "power cut at mutating op " << n << " of " << p.ops);
    const std::string work = dir_.File("work.sqlite");
    FaultInjector& fi = FaultInjector::Get();
    CopyDb(prepared, work);
    {
      absl::StatusOr<std::unique_ptr<Replica>> r = Open(work, /*faulty=*/true);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return "open failed";
      fi.ArmFailAt(n, FaultMode::kPowerCut);
      call(**r).IgnoreError();  // the caller never learns: the power is gone
      r->reset();               // closing writes nothing either
      fi.Disarm();
    }
    absl::StatusOr<std::unique_ptr<Replica>> r = Open(work, /*faulty=*/false);
    EXPECT_TRUE(r.ok()) << "reopen after the power cut: " << r.status();
    if (!r.ok()) return "reopen failed";
    const absl::Status integrity = (*r)->CheckIntegrity();
    EXPECT_TRUE(integrity.ok()) << integrity;
    absl::StatusOr<Snapshot> s = Observe(**r);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return "unreadable";
    const std::string c = Classify(*s, p.before, p.after);
    EXPECT_TRUE(c == "before" || c == "after") << c;
    // The replica that came back works.
    const absl::Status ms = more(**r);
    EXPECT_TRUE(ms.ok()) << "a further call after the power cut: " << ms;
    FS_EXPECT_OK((*r)->CheckIntegrity());
    return integrity.ok() ? c : "integrity check failed";
  }

  // Power cuts at every n: every outcome is before/after, the commit point is
  // one instant (before up to some n, after from then on), and both occur.
  void PowerCutEveryPoint(const std::string& prepared, const Probe& p, const Call& call,
                          const Call& more) {
    std::string outcomes;
    int befores = 0;
    int afters = 0;
    for (uint64_t n = 1; n <= p.ops + 2; ++n) {
      const std::string c = RunPowerCut(prepared, p, n, call, more);
      outcomes += c == "before" ? 'B' : c == "after" ? 'A' : '!';
      if (c == "before") ++befores;
      if (c == "after") ++afters;
      if (::testing::Test::HasFatalFailure()) return;
    }
    std::printf("power cut at op 1..%llu: %s (B: before, A: after)\n",
                static_cast<unsigned long long>(p.ops + 2), outcomes.c_str());
    EXPECT_GT(befores, 0) << outcomes;
    EXPECT_GT(afters, 0) << outcomes;
    // B...BA...A: once a cut leaves the commit, every later cut does too.
    const size_t first_a = outcomes.find('A');
    if (first_a != std::string::npos) {
      EXPECT_EQ(outcomes.find('B', first_a), std::string::npos)
          << "the commit point is not one instant: " << outcomes;
    }
    // A cut after the call's last operation cannot lose it.
    EXPECT_EQ(outcomes.back(), 'A') << outcomes;
  }

  // Saves the state of the open replica at `path` in two forms, the
  // prepared databases every test starts from: `path`-tail.sqlite, a copy of
  // the file and its WAL taken while the replica is open (the next commit
  // appends to a WAL holding frames, recovered at open), and -- once the
  // caller has closed the replica -- `path` itself, checkpointed, without a
  // WAL (the next commit restarts the WAL).
  void SaveWalTail(const std::string& path) {
    ASSERT_TRUE(std::filesystem::exists(path + "-wal"));
    ASSERT_GT(std::filesystem::file_size(path + "-wal"), 0u);
    const std::string tail = path + "-tail.sqlite";
    CopyDb(path, tail);
    variants_ = {{"checkpointed", path}, {"WAL tail", tail}};
  }
  // After closing: the WAL was checkpointed and removed.
  void CheckCheckpointed(const std::string& path) {
    ASSERT_FALSE(std::filesystem::exists(path + "-wal"))
        << "closing the only connection should checkpoint and remove the WAL";
  }

  TempDir dir_;
  FakeClock clock_{kT0};
  std::string vfs_;
  std::vector<std::pair<std::string, std::string>> variants_;  // (name, prepared path)
};

// --- local writes ------------------------------------------------------------

// A prepared replica with a few rows, and the next transaction: a create, two
// edits and a delete over two tables.
struct LocalScenario {
  RowId case_a, case_b, case_c, person;
  LocalTxn next;
};

class LocalWriteTest : public CrashSafetyTest {
 protected:
  void SetUp() override {
    CrashSafetyTest::SetUp();
    const std::string prepared = dir_.File("prepared.sqlite");
    absl::StatusOr<std::unique_ptr<Replica>> r = Open(prepared, /*faulty=*/false);
    FS_ASSERT_OK(r.status());
    Replica& rep = **r;
    sc_.case_a = RowId::NewV7(&clock_);
    sc_.case_b = RowId::NewV7(&clock_);
    sc_.case_c = RowId::NewV7(&clock_);
    sc_.person = RowId::NewV7(&clock_);
    LocalTxn t1;
    t1.Create("persons", sc_.person,
              {{"full_name", Value::Text("Nguyen Thi A")}, {"sex", Value::Text("female")}});
    t1.Create("cases", sc_.case_a,
              {{"case_code", Value::Text("HN-001")},
               {"person_id", Value::Bytes(std::string(sc_.person.view()))},
               {"status", Value::Text("intake")},
               {"urgency", Value::Text("normal")},
               {"narrative", Value::Text("recruited with a promise of factory work")}});
    FS_ASSERT_OK(rep.Write(t1).status());
    LocalTxn t2;
    t2.Create("cases", sc_.case_b,
              {{"case_code", Value::Text("HN-002")}, {"status", Value::Text("intake")}});
    FS_ASSERT_OK(rep.Write(t2).status());
    LocalTxn t3;
    t3.Set("cases", sc_.case_a, {{"status", Value::Text("verifying")}});
    FS_ASSERT_OK(rep.Write(t3).status());
    FS_ASSERT_OK(rep.SetCursor(kCursor, kCursorBefore));
    SaveWalTail(prepared);
    if (HasFatalFailure()) return;
    r->reset();
    CheckCheckpointed(prepared);

    sc_.next.Create("cases", sc_.case_c,
                    {{"case_code", Value::Text("HN-003")},
                     {"status", Value::Text("intake")},
                     {"urgency", Value::Text("urgent")},
                     {"narrative", Value::Text(std::string(3000, 'n'))}});
    sc_.next.Set("cases", sc_.case_a,
                 {{"urgency", Value::Text("urgent")}, {"status", Value::Text("assisting")}});
    sc_.next.Delete("cases", sc_.case_b);
    sc_.next.Set("persons", sc_.person, {{"full_name", Value::Text("Nguyen Thi B")}});
  }

  Call WriteNext() {
    return [this](Replica& r) { return r.Write(sc_.next).status(); };
  }
  // After a retry of `next`: the commit is there once, with its effects.
  std::function<void(Replica&)> CheckNextApplied(const Probe& p) {
    return [this, p](Replica& r) {
      absl::StatusOr<Snapshot> s = Observe(r);
      ASSERT_TRUE(s.ok()) << s.status();
      EXPECT_EQ(s->local_seq, p.after.local_seq);
      EXPECT_EQ(s->log_commits, p.after.log_commits);
      absl::StatusOr<std::optional<Row>> b = r.Get("cases", sc_.case_b);
      ASSERT_TRUE(b.ok() && b->has_value());
      EXPECT_FALSE((*b)->live);
      absl::StatusOr<std::optional<Row>> c = r.Get("cases", sc_.case_c);
      ASSERT_TRUE(c.ok() && c->has_value());
      EXPECT_TRUE((*c)->live);
      EXPECT_EQ(FieldValue(**c, r.schema(), "cases", "case_code"), Value::Text("HN-003"));
    };
  }
  Call WriteMore() {
    return [this](Replica& r) {
      LocalTxn t;
      t.Create("cases", RowId::NewV7(&clock_), {{"case_code", Value::Text("HN-100")}});
      return r.Write(t).status();
    };
  }

  LocalScenario sc_;
};

TEST_F(LocalWriteTest, DiskErrorAtEveryPointLeavesBeforeOrAfter) {
  for (const auto& [variant, prepared] : variants_) {
    SCOPED_TRACE(variant);
    const std::optional<Probe> p = RunProbe(prepared, WriteNext());
    ASSERT_TRUE(p.has_value());
    std::printf("local write, %s: %llu mutating ops\n", variant.c_str(),
                static_cast<unsigned long long>(p->ops));
    for (uint64_t n = 1; n <= p->ops + 2; ++n) {
      if (RunDiskError(prepared, *p, n, WriteNext(), WriteNext(), CheckNextApplied(*p),
                       WriteMore())) {
        // See AFailedCommitSaysItsOutcomeIsUnknown.
        std::printf("  note: the write failed at op %llu, yet after a crash it is there\n",
                    static_cast<unsigned long long>(n));
      }
      if (HasFatalFailure()) return;
    }
  }
}

TEST_F(LocalWriteTest, PowerCutAtEveryPointLeavesBeforeOrAfter) {
  for (const auto& [variant, prepared] : variants_) {
    SCOPED_TRACE(variant);
    const std::optional<Probe> p = RunProbe(prepared, WriteNext());
    ASSERT_TRUE(p.has_value());
    std::printf("local write, %s: ", variant.c_str());
    PowerCutEveryPoint(prepared, *p, WriteNext(), WriteMore());
    if (HasFatalFailure()) return;
  }
}

// When the fsync of the WAL at COMMIT fails, the commit frame has already been
// written: Write() fails and the open replica shows the state before, but if
// the process then dies before its next write or a clean close, WAL recovery
// at the next open finds a complete transaction and replays it. The replica
// cannot know which will happen, so its error must say the outcome is unknown
// (a caller who assumed "nothing kept" might create a case twice), and the
// state after the crash must still be wholly before or wholly after.
TEST_F(LocalWriteTest, AFailedCommitSaysItsOutcomeIsUnknown) {
  const std::string prepared = variants_.front().second;
  const std::optional<Probe> p = RunProbe(prepared, WriteNext());
  ASSERT_TRUE(p.has_value());
  const std::string work = dir_.File("work.sqlite");
  CopyDb(prepared, work);
  absl::StatusOr<std::unique_ptr<Replica>> r = Open(work, /*faulty=*/true);
  FS_ASSERT_OK(r.status());
  FaultInjector& fi = FaultInjector::Get();
  fi.ArmFailAt(p->ops, FaultMode::kError);  // the last op: fsync of the WAL
  const absl::Status s = (*r)->Write(sc_.next).status();
  EXPECT_EQ(fi.first_fault().rfind("xSync", 0), 0u) << fi.first_fault();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("may or may not have been kept"), absl::string_view::npos) << s;
  fi.CutPowerNow();  // the process dies: nothing more reaches the disk
  r->reset();
  fi.Disarm();
  const std::optional<Snapshot> reopened = Reopen(work);
  ASSERT_TRUE(reopened.has_value());
  const std::string outcome = Classify(*reopened, p->before, p->after);
  EXPECT_TRUE(outcome == "before" || outcome == "after") << outcome;
}

// --- remote apply ------------------------------------------------------------

class RemoteApplyTest : public CrashSafetyTest {
 protected:
  void SetUp() override {
    CrashSafetyTest::SetUp();
    const std::string prepared = dir_.File("prepared.sqlite");
    const std::string producer_path = dir_.File("producer.sqlite");
    absl::StatusOr<std::unique_ptr<Replica>> t = Open(prepared, /*faulty=*/false);
    FS_ASSERT_OK(t.status());
    absl::StatusOr<std::unique_ptr<Replica>> s =
        Open(producer_path, /*faulty=*/false, &producer_clock_);
    FS_ASSERT_OK(s.status());
    Replica& target = **t;
    Replica& producer = **s;

    // The target writes a case; the producer receives it.
    const RowId x = RowId::NewV7(&clock_);
    LocalTxn t1;
    t1.Create("cases", x,
              {{"case_code", Value::Text("DN-001")},
               {"status", Value::Text("intake")},
               {"narrative", Value::Text("first account")}});
    FS_ASSERT_OK(target.Write(t1).status());
    absl::StatusOr<std::vector<Commit>> tc = target.LocalCommitsAfter(0, 1000);
    FS_ASSERT_OK(tc.status());
    FS_ASSERT_OK(producer.Apply(*tc).status());
    // Both edit the narrative concurrently: the batch will conflict.
    LocalTxn t2;
    t2.Set("cases", x, {{"narrative", Value::Text("account corrected by the target")}});
    FS_ASSERT_OK(target.Write(t2).status());
    FS_ASSERT_OK(target.SetCursor(kCursor, kCursorBefore));

    const RowId y = RowId::NewV7(&producer_clock_);
    const RowId z = RowId::NewV7(&producer_clock_);
    const RowId w = RowId::NewV7(&producer_clock_);
    LocalTxn p1;
    p1.Create("persons", z,
              {{"full_name", Value::Text("Tran Van C")}, {"sex", Value::Text("male")}});
    p1.Create("cases", y,
              {{"case_code", Value::Text("DN-002")},
               {"person_id", Value::Bytes(std::string(z.view()))},
               {"narrative", Value::Text(std::string(2500, 'y'))}});
    FS_ASSERT_OK(producer.Write(p1).status());
    LocalTxn p2;
    p2.Set("cases", x,
           {{"narrative", Value::Text("account corrected by the producer")},
            {"status", Value::Text("verifying")}});
    FS_ASSERT_OK(producer.Write(p2).status());
    LocalTxn p3;
    p3.Create("cases", w, {{"case_code", Value::Text("DN-003")}});
    p3.Set("persons", z, {{"sex", Value::Text("unknown")}});
    FS_ASSERT_OK(producer.Write(p3).status());
    LocalTxn p4;
    p4.Delete("cases", w);
    FS_ASSERT_OK(producer.Write(p4).status());
    absl::StatusOr<std::vector<Commit>> pc = producer.LocalCommitsAfter(0, 1000);
    FS_ASSERT_OK(pc.status());
    ASSERT_EQ(pc->size(), 4u);
    // Delivered newest first: Apply must order them itself.
    batch_.assign(pc->rbegin(), pc->rend());
    SaveWalTail(prepared);
    if (HasFatalFailure()) return;
    t->reset();
    s->reset();
    CheckCheckpointed(prepared);
  }

  Call ApplyBatch() {
    return [this](Replica& r) -> absl::Status {
      absl::StatusOr<ApplyResult> res =
          r.Apply(batch_, std::make_pair(std::string(kCursor), kCursorAfter));
      if (!res.ok()) return res.status();
      if (res->applied != batch_.size()) {
        return absl::InternalError("not every commit of the batch was applied");
      }
      return absl::OkStatus();
    };
  }

  FakeClock producer_clock_{kT0};
  std::vector<Commit> batch_;
};

TEST_F(RemoteApplyTest, DiskErrorAtEveryPointLeavesBeforeOrAfter) {
  for (const auto& [variant, prepared] : variants_) {
    SCOPED_TRACE(variant);
    const std::optional<Probe> p = RunProbe(prepared, ApplyBatch());
    ASSERT_TRUE(p.has_value());
    ASSERT_EQ(p->before.cursor, kCursorBefore);
    ASSERT_EQ(p->after.cursor, kCursorAfter);
    ASSERT_GT(p->after.open_conflicts, 0u) << "the batch was meant to conflict";
    std::printf("remote apply, %s: %llu mutating ops\n", variant.c_str(),
                static_cast<unsigned long long>(p->ops));
    // A retried apply is deterministic: exactly the state after.
    auto check_retry = [p](Replica& r) {
      absl::StatusOr<Snapshot> s = Observe(r);
      ASSERT_TRUE(s.ok()) << s.status();
      EXPECT_EQ(*s, p->after) << "a retried apply on the same replica";
    };
    // Delivering the batch again changes nothing.
    Call again = [this, p](Replica& r) -> absl::Status {
      absl::StatusOr<ApplyResult> res =
          r.Apply(batch_, std::make_pair(std::string(kCursor), kCursorAfter));
      if (!res.ok()) return res.status();
      if (res->duplicates != batch_.size()) {
        return absl::InternalError("a redelivered batch was not acknowledged as duplicates");
      }
      absl::StatusOr<Snapshot> s = Observe(r);
      if (!s.ok()) return s.status();
      if (*s != p->after) return absl::InternalError("a redelivered batch changed the state");
      return absl::OkStatus();
    };
    for (uint64_t n = 1; n <= p->ops + 2; ++n) {
      if (RunDiskError(prepared, *p, n, ApplyBatch(), ApplyBatch(), check_retry, again)) {
        std::printf("  note: the apply failed at op %llu, yet after a crash it is there\n",
                    static_cast<unsigned long long>(n));
      }
      if (HasFatalFailure()) return;
    }
  }
}

TEST_F(RemoteApplyTest, PowerCutAtEveryPointLeavesBeforeOrAfter) {
  // After the cut: a further local write works.
  Call more = [this](Replica& r) {
    LocalTxn t;
    t.Create("cases", RowId::NewV7(&clock_), {{"case_code", Value::Text("DN-100")}});
    return r.Write(t).status();
  };
  for (const auto& [variant, prepared] : variants_) {
    SCOPED_TRACE(variant);
    const std::optional<Probe> p = RunProbe(prepared, ApplyBatch());
    ASSERT_TRUE(p.has_value());
    std::printf("remote apply, %s: ", variant.c_str());
    PowerCutEveryPoint(prepared, *p, ApplyBatch(), more);
    if (HasFatalFailure()) return;
  }
}

// --- creating a replica -----------------------------------------------------

// Creating a replica writes too (schema, device id, device table, the switch
// to WAL through a rollback journal): interrupted anywhere, the file must
// open afterwards as a working replica.
TEST_F(CrashSafetyTest, CreationInterruptedAtEveryPointLeavesAWorkingReplica) {
  const std::string path = dir_.File("new.sqlite");
  FaultInjector& fi = FaultInjector::Get();
  uint64_t ops = 0;
  {
    fi.StartCounting();
    absl::StatusOr<std::unique_ptr<Replica>> r = Open(path, /*faulty=*/true);
    ops = fi.ops_since_arm();
    FS_ASSERT_OK(r.status());
  }
  ASSERT_GT(ops, 0u);
  std::printf("creation: %llu mutating ops\n", static_cast<unsigned long long>(ops));
  for (const FaultMode mode : {FaultMode::kError, FaultMode::kPowerCut}) {
    for (uint64_t n = 1; n <= ops + 1; ++n) {
      SCOPED_TRACE(::testing::Message() << (mode == FaultMode::kError ? "disk error" : "power cut")
                                        << " at op " << n << " of " << ops);
      RemoveDb(path);
      {
        fi.ArmFailAt(n, mode);
        absl::StatusOr<std::unique_ptr<Replica>> r = Open(path, /*faulty=*/true);
        if (mode == FaultMode::kError) {
          EXPECT_EQ(r.ok(), n > ops) << r.status();
        }
      }  // closed while still faulted: after a power cut nothing more is written
      fi.Disarm();
      absl::StatusOr<std::unique_ptr<Replica>> r = Open(path, /*faulty=*/false);
      ASSERT_TRUE(r.ok()) << "reopening after the interrupted creation: " << r.status();
      FS_EXPECT_OK((*r)->CheckIntegrity());
      LocalTxn t;
      t.Create("cases", RowId::NewV7(&clock_), {{"case_code", Value::Text("N-1")}});
      FS_EXPECT_OK((*r)->Write(t).status());
      absl::StatusOr<ReplicaStats> st = (*r)->Stats();
      FS_ASSERT_OK(st.status());
      EXPECT_EQ(st->local_seq, 1u);
      EXPECT_EQ(st->log_commits, 1u);
      if (HasFatalFailure()) return;
    }
  }
}

// --- the VFS itself ----------------------------------------------------------

// The harness is only as good as its VFS: it must see the replica's writes,
// and an armed fault must actually fail a write.
TEST_F(CrashSafetyTest, FaultyVfsCountsAndFails) {
  const std::string path = dir_.File("vfs.sqlite");
  absl::StatusOr<std::unique_ptr<Replica>> r = Open(path, /*faulty=*/true);
  FS_ASSERT_OK(r.status());
  FaultInjector& fi = FaultInjector::Get();
  LocalTxn t;
  t.Create("cases", RowId::NewV7(&clock_), {{"case_code", Value::Text("V-1")}});
  fi.StartCounting();
  FS_ASSERT_OK((*r)->Write(t).status());
  EXPECT_GT(fi.ops_since_arm(), 0u);
  EXPECT_EQ(fi.faulted_ops(), 0u);

  LocalTxn t2;
  t2.Create("cases", RowId::NewV7(&clock_), {{"case_code", Value::Text("V-2")}});
  fi.ArmFailAt(1, FaultMode::kError);
  const absl::Status s = (*r)->Write(t2).status();
  EXPECT_FALSE(s.ok());
  EXPECT_GT(fi.faulted_ops(), 0u);
  EXPECT_FALSE(fi.first_fault().empty());
  fi.Disarm();
  FS_EXPECT_OK((*r)->Write(t2).status());
  absl::StatusOr<ReplicaStats> st = (*r)->Stats();
  FS_ASSERT_OK(st.status());
  EXPECT_EQ(st->local_seq, 2u);
}

// --- a killed process --------------------------------------------------------

// The child: writes commits forever, each creating case C-<k> and person
// P-<k>, until it is killed. Reports on `report_fd`: 'R' once the replica is
// open, then 'C' after each commit Write() returned. Never returns.
[[noreturn]] void WriteUntilKilled(const std::string& path, int report_fd) {
  FakeClock clock(kT0);
  ReplicaOptions o;
  o.path = path;
  o.clock = &clock;
  o.durability = ReplicaOptions::Durability::kFull;
  absl::StatusOr<std::unique_ptr<Replica>> r = Replica::Open(o);
  if (!r.ok()) {
    std::fprintf(stderr, "child: open: %s\n", r.status().ToString().c_str());
    _exit(3);
  }
  absl::StatusOr<ReplicaStats> st = (*r)->Stats();
  if (!st.ok()) _exit(4);
  if (write(report_fd, "R", 1) != 1) _exit(7);
  for (uint64_t k = st->local_seq + 1;; ++k) {
    clock.Advance(1);
    LocalTxn t;
    t.Create(
        "cases", RowId::NewV7(&clock),
        {{"case_code", Value::Text("C-" + std::to_string(k))}, {"status", Value::Text("intake")}});
    t.Create("persons", RowId::NewV7(&clock),
             {{"full_name", Value::Text("P-" + std::to_string(k))}});
    absl::StatusOr<Commit> c = (*r)->Write(t);
    if (!c.ok()) {
      std::fprintf(stderr, "child: write %llu: %s\n", static_cast<unsigned long long>(k),
                   c.status().ToString().c_str());
      _exit(5);
    }
    if (c->seq != k) _exit(6);
    // The pipe holds 64 KiB: the child is killed long before it could block.
    if (write(report_fd, "C", 1) != 1) _exit(7);
  }
}

// The values of `column` over every row of `table`, live or not.
absl::StatusOr<std::multiset<std::string>> ColumnValues(Replica& r, const char* table,
                                                        const char* column) {
  absl::StatusOr<std::vector<RowId>> ids = r.ListRows(table, /*include_deleted=*/true);
  if (!ids.ok()) return ids.status();
  std::multiset<std::string> out;
  for (const RowId& id : *ids) {
    absl::StatusOr<std::optional<Row>> row = r.Get(table, id);
    if (!row.ok()) return row.status();
    if (!row->has_value()) return absl::InternalError("a listed row is missing");
    out.insert(FieldValue(**row, r.schema(), table, column).str());
  }
  return out;
}

// A child process writes commits in a loop and is SIGKILLed at a random
// instant, 20 times on the same file. Each round, the parent lets the child
// finish a random number m of commits (0..4), then kills it a random fraction
// of one commit's duration later, so that the kill lands anywhere inside a
// commit whatever the disk's speed. After each kill the file must pass
// integrity and hold exactly the commits 1..k, each with both of its rows,
// with every commit the child saw succeed among them.
TEST_F(CrashSafetyTest, KilledWriterLeavesWholeCommits) {
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("FIELDSYNC_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 10);
  }
  std::printf("killed writer: FIELDSYNC_SEED=%llu\n", static_cast<unsigned long long>(seed));
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> commits_before_kill(0, 4);
  std::uniform_real_distribution<double> fraction_of_commit(0.0, 1.2);

  const std::string path = dir_.File("killed.sqlite");
  {
    // Created by the parent, so that every child only appends.
    absl::StatusOr<std::unique_ptr<Replica>> r = Open(path, /*faulty=*/false);
    FS_ASSERT_OK(r.status());
  }
  using Clock = std::chrono::steady_clock;
  std::chrono::duration<double> commit_time = std::chrono::milliseconds(5);  // a first guess
  constexpr int kKills = 20;
  uint64_t k = 0;
  int mid_run = 0;
  for (int round = 0; round < kKills; ++round) {
    const int m = commits_before_kill(rng);
    const double fraction = fraction_of_commit(rng);
    SCOPED_TRACE(::testing::Message() << "round " << round << ": killed " << fraction
                                      << " commits after commit " << m << ", seed " << seed);
    std::fflush(stdout);
    std::fflush(stderr);
    int report[2];
    ASSERT_EQ(pipe(report), 0);
    // No SQLite connection is open across fork().
    const pid_t pid = fork();
    ASSERT_GE(pid, 0) << "fork failed";
    if (pid == 0) {
      close(report[0]);
      WriteUntilKilled(path, report[1]);  // never returns into gtest
    }
    close(report[1]);
    // 'R', then m 'C's; EOF if the child died on its own.
    bool alive = true;
    Clock::time_point last;
    for (int i = 0; i <= m && alive; ++i) {
      char byte = 0;
      alive = read(report[0], &byte, 1) == 1;
      const Clock::time_point t = Clock::now();
      if (i >= 2) commit_time = 0.8 * commit_time + 0.2 * (t - last);  // a running mean
      last = t;
    }
    if (alive) {
      std::this_thread::sleep_for(
          std::chrono::duration_cast<Clock::duration>(fraction * commit_time));
    }
    int status = 0;
    if (kill(pid, SIGKILL) != 0) ADD_FAILURE() << "kill failed";
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    close(report[0]);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child ended by itself, exit status "
        << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    absl::StatusOr<std::unique_ptr<Replica>> r = Open(path, /*faulty=*/false);
    FS_ASSERT_OK(r.status());
    FS_ASSERT_OK((*r)->CheckIntegrity());
    absl::StatusOr<ReplicaStats> st = (*r)->Stats();
    FS_ASSERT_OK(st.status());
    const uint64_t now = st->local_seq;
    EXPECT_GE(now, k + static_cast<uint64_t>(m)) << "commits the child saw succeed were lost";
    EXPECT_EQ(st->log_commits, now);
    absl::StatusOr<std::multiset<std::string>> cases = ColumnValues(**r, "cases", "case_code");
    FS_ASSERT_OK(cases.status());
    absl::StatusOr<std::multiset<std::string>> persons = ColumnValues(**r, "persons", "full_name");
    FS_ASSERT_OK(persons.status());
    std::multiset<std::string> want_cases;
    std::multiset<std::string> want_persons;
    for (uint64_t i = 1; i <= now; ++i) {
      want_cases.insert("C-" + std::to_string(i));
      want_persons.insert("P-" + std::to_string(i));
    }
    EXPECT_EQ(*cases, want_cases) << "cases are not exactly C-1..C-" << now;
    EXPECT_EQ(*persons, want_persons) << "persons are not exactly P-1..P-" << now;
    // Did the kill land after the last reported commit, i.e. while the child
    // was writing the next one (or just done with it)?
    if (now > k + static_cast<uint64_t>(m)) ++mid_run;
    k = now;
    if (HasFailure()) return;
  }
  std::printf(
      "killed writer: %d kills, %llu commits, %d kills after a further commit had completed, "
      "commit ~%.1f ms\n",
      kKills, static_cast<unsigned long long>(k), mid_run, commit_time.count() * 1000);
  EXPECT_GT(k, static_cast<uint64_t>(kKills)) << "the children hardly committed anything";
}

}  // namespace
}  // namespace fieldsync
