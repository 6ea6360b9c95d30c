// fieldsync-bench-hubstore: the same hub operations over the hub's two
// stores in one run -- SQLite (hub/sqlite_storage.h) and PostgreSQL
// (hub/pg/storage.h, a private cluster started by tools/lib/postgres.sh)
// -- with the ratio PostgreSQL / SQLite (issue 15's target: at least 60%).
// The hub (engine and protocol handler) and its nodes run in this process
// and talk without a network: what differs between the two runs is the
// store alone. docs/PERFORMANCE.md, "The hub's two stores".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "clock/clock_source.h"
#include "hub/pg/connection.h"
#include "hub/pg/storage.h"
#include "hub/sqlite_storage.h"
#include "support/pg_cluster.h"
#include "tools/bench/common/case_writes.h"
#include "tools/bench/common/run_frame.h"
#include "tools/bench/common/timing.h"
#include "tools/bench/hubstore/hub_side.h"

namespace fieldsync::bench_hubstore {
namespace {

constexpr char kProgram[] = "fieldsync-bench-hubstore";
constexpr char kProvince[] = "LC";

void PrintUsage(FILE* out) {
  std::fprintf(
      out,
      "usage: fieldsync-bench-hubstore [--cases N] [--rounds N] [--pushers N]\n"
      "                                [--pusher-cases N] [--store S] [--pg-fsync on|off]\n"
      "                                [--pg-analyze on|off] [--dir PATH] [--help]\n"
      "\n"
      "Runs the same hub operations over the hub's SQLite store and its PostgreSQL\n"
      "store (a private cluster started by tools/lib/postgres.sh), engine, protocol\n"
      "handler and nodes in this process, and prints the figures of both with the\n"
      "ratio PostgreSQL / SQLite (throughput). Times are the hub's own (inside its\n"
      "push and pull calls, the node's handling of each pulled message left out),\n"
      "except the pushers' wall time.\n"
      "\n"
      "  --cases N         cases a new node pulls in its initial sync (default 10000)\n"
      "  --rounds N        pushes of 100 new cases by one node, timed one by one\n"
      "                    (default 10)\n"
      "  --pushers N       nodes pushing at once, one province each (default 63)\n"
      "  --pusher-cases N  new cases each of them pushes (default 20)\n"
      "  --store S         sqlite | postgresql | both (default both)\n"
      "  --pg-fsync on|off the cluster's fsync and synchronous_commit (default on:\n"
      "                    durable at commit, as the SQLite hub is; the tests' cluster\n"
      "                    runs with them off)\n"
      "  --pg-analyze on|off ANALYZE the hub's database after the seed (default off:\n"
      "                    the planner's statistics are then those autovacuum left,\n"
      "                    taken before the seed; it analyzes a table grown by a tenth\n"
      "                    within its minute, longer than this run's seed and pulls)\n"
      "  --dir PATH        where the hub file and the nodes' replicas go (kept)\n"
      "  --help            this text\n"
      "\n"
      "Exits 0 whether or not the target is met; 1 if anything fails (including its\n"
      "checks that every node holds what it should), 2 on bad usage.\n");
}

struct Settings {
  int64_t cases = 10'000;
  int64_t rounds = 10;
  int64_t pushers = 63;
  int64_t pusher_cases = 20;
  bool sqlite = true;
  bool postgres = true;
  bool pg_fsync = true;
  bool pg_analyze = false;
};

// What one store measured.
struct Figures {
  double push100_ms = 0;        // median hub time of a push of 100 new cases
  double push100_min = 0, push100_max = 0;
  double bulk_push_cases_s = 0; // the seed cases pushed (hub time)
  double pull_cases_s = 0;      // the initial sync's pull (hub time)
  double pull_wall_s = 0;       // the new node's whole pass, wall
  double pushers_commits_s = 0; // commits accepted per second, wall
  double pushers_hub_s = 0;     // hub time of their pushes, summed
};

std::string ProvinceCode(int64_t nth) {
  // Province codes are 2 or 3 capital letters (schema/province_code.h).
  return {static_cast<char>('A' + nth / 676 % 26), static_cast<char>('A' + nth / 26 % 26),
          static_cast<char>('A' + nth % 26)};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

absl::Status Expect(bool ok, const std::string& what, TimedHub& hub) {
  return ok ? absl::OkStatus()
            : absl::InternalError(absl::StrCat("check failed: ", what,
                                               " (the hub's first error: ", hub.first_error(),
                                               ")"));
}

absl::StatusOr<Figures> Measure(const Settings& s, TimedHub& hub, const std::string& dir,
                                const char* name,
                                const std::function<absl::Status()>& after_seed = nullptr) {
  Figures f;
  FS_RETURN_IF_ERROR(hub.engine().AddProvince(kProvince, "Lào Cai", "bench"));
  FS_ASSIGN_OR_RETURN(std::unique_ptr<Node> writer, Node::Create(dir + "/writer"));
  FS_RETURN_IF_ERROR(writer->EnrolFirst(hub, kProvince));

  // 1. Pushes of 100 new cases, one at a time.
  std::vector<double> push_ms;
  int64_t written = 0;
  for (int64_t r = 0; r < s.rounds; ++r) {
    FS_RETURN_IF_ERROR(writer->WriteCases(written, 100));
    written += 100;
    const int64_t before = hub.push_nanos();
    FS_ASSIGN_OR_RETURN(sync::SyncReport rep, writer->Pass(hub));
    FS_RETURN_IF_ERROR(Expect(rep.pushed == 100, absl::StrCat("the hub stored ", rep.pushed,
                                                              " of 100 pushed commits"), hub));
    push_ms.push_back(static_cast<double>(hub.push_nanos() - before) / 1e6);
  }
  f.push100_ms = Median(push_ms);
  f.push100_min = *std::min_element(push_ms.begin(), push_ms.end());
  f.push100_max = *std::max_element(push_ms.begin(), push_ms.end());
  std::printf("  [%s] push of 100 cases: median %.2f ms (%.2f-%.2f, %lld pushes)\n", name,
              f.push100_ms, f.push100_min, f.push100_max, static_cast<long long>(s.rounds));
  std::fflush(stdout);

  // 2. The seed of the initial sync, pushed in the node's own batches.
  FS_RETURN_IF_ERROR(writer->WriteCases(written, s.cases));
  written += s.cases;
  {
    const int64_t before = hub.push_nanos();
    uint64_t pushed = 0;
    for (;;) {
      FS_ASSIGN_OR_RETURN(sync::SyncReport rep, writer->Pass(hub));
      if (rep.pushed == 0) break;
      pushed += rep.pushed;
    }
    FS_RETURN_IF_ERROR(Expect(pushed == static_cast<uint64_t>(s.cases),
                              absl::StrCat("the hub stored ", pushed, " of ", s.cases,
                                           " seed commits"), hub));
    f.bulk_push_cases_s =
        static_cast<double>(s.cases) / (static_cast<double>(hub.push_nanos() - before) / 1e9);
  }
  std::printf("  [%s] seed of %lld cases pushed: %.0f cases/s (hub time)\n", name,
              static_cast<long long>(s.cases), f.bulk_push_cases_s);
  std::fflush(stdout);
  if (after_seed) FS_RETURN_IF_ERROR(after_seed());

  // 3. A new node of the office pulls everything.
  {
    FS_ASSIGN_OR_RETURN(std::unique_ptr<Node> fresh, Node::Create(dir + "/fresh"));
    FS_RETURN_IF_ERROR(fresh->Enrol(hub, kProvince));
    const int64_t before = hub.pull_nanos();
    const bench::Clock::time_point t0 = bench::Clock::now();
    FS_RETURN_IF_ERROR(fresh->Pass(hub).status());
    f.pull_wall_s = bench::SecondsSince(t0);
    const double hub_s = static_cast<double>(hub.pull_nanos() - before) / 1e9;
    FS_ASSIGN_OR_RETURN(int64_t live, bench::LiveCases(fresh->replica()));
    FS_RETURN_IF_ERROR(Expect(live == written, absl::StrCat("the new node holds ", live,
                                                            " cases of ", written), hub));
    f.pull_cases_s = static_cast<double>(written) / hub_s;
    std::printf("  [%s] initial sync of %lld cases: hub %.2f s (%.0f cases/s), pass %.2f s\n",
                name, static_cast<long long>(written), hub_s, f.pull_cases_s, f.pull_wall_s);
    std::fflush(stdout);
  }

  // 4. Many nodes pushing at once, one province each.
  std::vector<std::unique_ptr<Node>> nodes;
  for (int64_t k = 0; k < s.pushers; ++k) {
    const std::string code = ProvinceCode(k);
    FS_RETURN_IF_ERROR(hub.engine().AddProvince(code, absl::StrCat("Tỉnh ", k + 1), "bench"));
    FS_ASSIGN_OR_RETURN(std::unique_ptr<Node> n, Node::Create(absl::StrCat(dir, "/p", k)));
    FS_RETURN_IF_ERROR(n->EnrolFirst(hub, code));
    FS_RETURN_IF_ERROR(n->WriteCases(0, s.pusher_cases));
    nodes.push_back(std::move(n));
  }
  // Said before the clock starts (a profile of the store's statements,
  // docs/PERFORMANCE.md, starts its count of the pushers here).
  std::printf("  [%s] %lld nodes enrolled, %lld cases each written: pushing at once\n", name,
              static_cast<long long>(s.pushers), static_cast<long long>(s.pusher_cases));
  std::fflush(stdout);
  std::vector<absl::Status> results(nodes.size());
  const int64_t before = hub.push_nanos();
  const bench::Clock::time_point t0 = bench::Clock::now();
  {
    std::vector<std::thread> threads;
    for (size_t k = 0; k < nodes.size(); ++k) {
      threads.emplace_back([&, k] {
        absl::StatusOr<sync::SyncReport> rep = nodes[k]->Pass(hub);
        if (!rep.ok()) {
          results[k] = rep.status();
        } else if (rep->pushed != static_cast<uint64_t>(s.pusher_cases)) {
          results[k] = Expect(false, absl::StrCat("node ", k, ": the hub stored ",
                                                  rep->pushed, " of ", s.pusher_cases,
                                                  " commits"), hub);
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  const double wall = bench::SecondsSince(t0);
  for (const absl::Status& r : results) FS_RETURN_IF_ERROR(r);
  f.pushers_commits_s = static_cast<double>(s.pushers * s.pusher_cases) / wall;
  f.pushers_hub_s = static_cast<double>(hub.push_nanos() - before) / 1e9;
  std::printf("  [%s] %lld nodes pushing %lld cases each at once: %.2f s, %.0f commits/s "
              "(hub time summed over the calls: %.2f s)\n",
              name, static_cast<long long>(s.pushers), static_cast<long long>(s.pusher_cases),
              wall, f.pushers_commits_s, f.pushers_hub_s);
  std::fflush(stdout);
  return f;
}

absl::StatusOr<Figures> RunSqlite(const Settings& s, const std::string& dir) {
  std::filesystem::create_directories(dir);
  FS_ASSIGN_OR_RETURN(std::unique_ptr<hub::SqliteHubStorage> storage,
                      hub::SqliteHubStorage::Open(dir + "/hub.db", SystemClock::Get()));
  TimedHub hub(std::move(storage), SystemClock::Get());
  return Measure(s, hub, dir, "sqlite");
}

absl::StatusOr<Figures> RunPostgres(const Settings& s, const std::string& dir) {
  std::filesystem::create_directories(dir);
  FS_ASSIGN_OR_RETURN(testing::PgCluster * cluster, testing::PgCluster::Shared());
  {
    // The tests' cluster trades durability for speed; the figures compare
    // stores that both keep a commit through a power loss (unless off).
    FS_ASSIGN_OR_RETURN(std::unique_ptr<hub::pg::Connection> admin,
                        hub::pg::Connection::Open(cluster->socket_dir()));
    const char* on = s.pg_fsync ? "on" : "off";
    for (const std::string& sql :
         {absl::StrCat("ALTER SYSTEM SET fsync = ", on),
          absl::StrCat("ALTER SYSTEM SET synchronous_commit = ", on),
          absl::StrCat("ALTER SYSTEM SET full_page_writes = ", on),
          std::string("SELECT pg_reload_conf()")}) {
      FS_RETURN_IF_ERROR(admin->Command(sql).status());
    }
    // Checked, from a new connection once the server has read its
    // configuration again: until session 28 the cluster's command line
    // (tools/lib/postgres.sh) outranked ALTER SYSTEM and every run was
    // without fsync whatever this flag said.
    std::string now;
    for (int tries = 0; tries < 50; ++tries) {
      FS_ASSIGN_OR_RETURN(std::unique_ptr<hub::pg::Connection> check,
                          hub::pg::Connection::Open(cluster->socket_dir()));
      FS_ASSIGN_OR_RETURN(hub::pg::Result r,
                          check->Exec("SELECT current_setting('fsync'), "
                                      "current_setting('synchronous_commit'), "
                                      "current_setting('full_page_writes')"));
      now = absl::StrCat(r.Bytes(0, 0), " ", r.Bytes(0, 1), " ", r.Bytes(0, 2));
      if (now == absl::StrCat(on, " ", on, " ", on)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (now != absl::StrCat(on, " ", on, " ", on)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the cluster's fsync, synchronous_commit and full_page_writes are ", now, ", not ",
          on, " as --pg-fsync asks (is one set on the server's command line?)"));
    }
  }
  testing::PgDatabase db;
  FS_RETURN_IF_ERROR(db.Create());
  std::unique_ptr<TimedHub> hub;
  {
    FS_ASSIGN_OR_RETURN(std::unique_ptr<hub::PostgresHubStorage> storage,
                        hub::PostgresHubStorage::Open(db.uri(), SystemClock::Get()));
    hub = std::make_unique<TimedHub>(std::move(storage), SystemClock::Get());
  }
  // Its connections closed before the database is dropped.
  // --pg-analyze: the statistics autovacuum would have taken by then on a
  // hub that grew to this size over days (untimed).
  auto analyze = [&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(std::unique_ptr<hub::pg::Connection> conn,
                        hub::pg::Connection::Open(db.uri()));
    FS_RETURN_IF_ERROR(conn->Command("ANALYZE").status());
    std::printf("  [postgresql] the database analyzed (--pg-analyze on)\n");
    return absl::OkStatus();
  };
  absl::StatusOr<Figures> f =
      Measure(s, *hub, dir, "postgresql", s.pg_analyze ? std::function<absl::Status()>(analyze)
                                                       : nullptr);
  hub.reset();
  return f;
}

std::string Ratio(double pg, double sqlite) {
  if (sqlite <= 0 || pg <= 0) return "-";
  return absl::StrCat(static_cast<int>(100.0 * pg / sqlite + 0.5), "%");
}

void PrintTable(const Settings& s, const Figures& lite, const Figures& pg) {
  std::printf("\n%-44s %14s %14s %8s\n", "figure (throughput: higher is better)", "SQLite",
              "PostgreSQL", "PG/SQLite");
  auto row = [](const std::string& what, double a, double b) {
    std::printf("%-44s %14.0f %14.0f %8s\n", what.c_str(), a, b, Ratio(b, a).c_str());
  };
  row("push of 100 new cases, cases/s (median)", 100.0 / (lite.push100_ms / 1e3),
      100.0 / (pg.push100_ms / 1e3));
  std::printf("%-44s %14.2f %14.2f\n", "  ... the push's hub time, ms", lite.push100_ms,
              pg.push100_ms);
  row(absl::StrCat("seed: ", s.cases, " cases pushed, cases/s"), lite.bulk_push_cases_s,
      pg.bulk_push_cases_s);
  row("initial sync (pull), cases/s of hub time", lite.pull_cases_s, pg.pull_cases_s);
  std::printf("%-44s %14.2f %14.2f\n", "  ... the new node's whole pass, s", lite.pull_wall_s,
              pg.pull_wall_s);
  row(absl::StrCat(s.pushers, " nodes pushing at once, commits/s"), lite.pushers_commits_s,
      pg.pushers_commits_s);
  std::printf("%-44s %14.2f %14.2f\n", "  ... their pushes' hub time summed, s",
              lite.pushers_hub_s, pg.pushers_hub_s);
}

int Main(int argc, char** argv) {
  std::optional<Args> args = bench::ParseBenchArgs(
      kProgram, argc, argv,
      {"cases", "rounds", "pushers", "pusher-cases", "store", "pg-fsync", "pg-analyze", "dir"},
      {"help"}, PrintUsage);
  if (!args) return 2;
  Settings s;
  if (!bench::PositiveFlag(kProgram, *args, "cases", 10'000'000, &s.cases) ||
      !bench::PositiveFlag(kProgram, *args, "rounds", 10'000, &s.rounds) ||
      !bench::PositiveFlag(kProgram, *args, "pushers", 500, &s.pushers) ||
      !bench::PositiveFlag(kProgram, *args, "pusher-cases", 100'000, &s.pusher_cases)) {
    return 2;
  }
  const std::string store = args->Flag("store", "both");
  if (store != "both" && store != "sqlite" && store != "postgresql") {
    std::fprintf(stderr, "%s: --store is sqlite, postgresql or both, not \"%s\"\n", kProgram,
                 store.c_str());
    return 2;
  }
  s.sqlite = store != "postgresql";
  s.postgres = store != "sqlite";
  const std::string fsync = args->Flag("pg-fsync", "on");
  if (fsync != "on" && fsync != "off") {
    std::fprintf(stderr, "%s: --pg-fsync is on or off, not \"%s\"\n", kProgram, fsync.c_str());
    return 2;
  }
  s.pg_fsync = fsync == "on";
  const std::string analyze = args->Flag("pg-analyze", "off");
  if (analyze != "on" && analyze != "off") {
    std::fprintf(stderr, "%s: --pg-analyze is on or off, not \"%s\"\n", kProgram,
                 analyze.c_str());
    return 2;
  }
  s.pg_analyze = analyze == "on";
  bench::TempDir temp;
  std::optional<std::string> dir =
      bench::BeginRun(kProgram, argc, argv, args->Flag("dir"), /*require_empty=*/true, temp);
  if (!dir) return 1;
  std::printf("load: %s; PostgreSQL fsync and synchronous_commit %s, ANALYZE after the "
              "seed %s\n\n",
              bench::LoadAverage().c_str(), s.pg_fsync ? "on" : "off",
              s.pg_analyze ? "on" : "off");
  Figures lite, pg;
  if (s.sqlite) {
    absl::StatusOr<Figures> f = RunSqlite(s, *dir + "/sqlite");
    if (!f.ok()) {
      std::fprintf(stderr, "%s: SQLite store: %s\n", kProgram, f.status().ToString().c_str());
      return 1;
    }
    lite = *f;
  }
  if (s.postgres) {
    absl::StatusOr<Figures> f = RunPostgres(s, *dir + "/postgresql");
    if (!f.ok()) {
      std::fprintf(stderr, "%s: PostgreSQL store: %s\n", kProgram, f.status().ToString().c_str());
      return 1;
    }
    pg = *f;
  }
  PrintTable(s, lite, pg);
  return 0;
}

}  // namespace
}  // namespace fieldsync::bench_hubstore

int main(int argc, char** argv) { return fieldsync::bench_hubstore::Main(argc, argv); }
