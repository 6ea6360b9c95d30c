// fieldsync-bench-sync: sync over TLS on loopback, with the hub (`fieldhub
// serve`) and the node as separate processes -- the figures of the sync
// issue. See docs/PERFORMANCE.md, "Sync (issue 3)".
//
// Figures:
//   initial sync    a new node pulls --cases cases (15 fields, about 1.1 KB of
//                   values each) from a hub that holds them. The node is
//                   `fieldnode sync` run as a process (made with `fieldnode
//                   init` and `fieldnode enroll`); cases/s = cases / wall time
//                   of that process from spawn to exit. Peak RSS of the node
//                   (the child's ru_maxrss) and of the hub during that sync
//                   (VmHWM, reset just before it). Beside it, in the same run,
//                   the same rows INSERTed into a plain SQLite table in one
//                   transaction (WAL, the replica's PRAGMAs), and the ratio.
//   incremental     node A edits one field of --edits cases (one commit each)
//                   and syncs (its push); node B syncs (its pull). Both talk to
//                   the hub through a byte-counting proxy of their own: the
//                   time of the two syncs, and the bytes on the wire (TLS, both
//                   directions, both nodes) per edit.
//   hub throughput  --nodes nodes, each of its own province, have written
//                   --node-commits commits each; all sync at once, one thread
//                   each. Commits accepted per second = all commits / time
//                   until the hub's log holds them all; also the time until
//                   every sync (push, then pull) has returned.
// Side figures, without targets: the seed node's local writes and its push.
//
// Encryption and signatures (--crypto, default both): every phase runs with
// them on (the product) and off (a hub serving --benchmark-without-crypto,
// fieldsync-bench-hub of tools/bench_hub.cc, built for this benchmark only;
// nodes that neither sign nor seal), each against hubs of its own, in one
// run; the initial syncs of the two modes alternate run by run. With crypto
// on, the bootstrap also carries one data key record (kind 5) per case, and
// the sealed fields are larger (padding, envelope): part of the cost. The
// summary gives the cost of crypto against the encryption issue's target
// (initial sync at most 15% slower); docs/PERFORMANCE.md, "Encryption".
//
// A measurement, not a test: it exits 0 whether or not the targets are met,
// and non-zero only if something fails (or a consistency check does).
#include <fcntl.h>
#include <sodium.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "change/id.h"
#include "change/value.h"
#include "clock/clock_source.h"
#include "crypto/envelope.h"
#include "crypto/key_record.h"
#include "node/client.h"
#include "schema/schema.h"
#include "store/data_dir.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "tools/lib/bench_report.h"
#include "tools/lib/case_data.h"
#include "tools/lib/cutting_proxy.h"
#include "tools/lib/sync_harness.h"

namespace fieldsync {
namespace {

using bench::FsType;
using bench::PrintTable;
using bench::Rate;
using bench::ReadFirstLine;
using bench::Sample;
using bench::TableRow;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using harness::HubProcess;
using harness::LocalNode;
using testing::CuttingProxy;
using testing::Direction;

// Targets of the sync issue (MB = 10^6 bytes).
constexpr double kTargetCasesPerSec = 50000;
constexpr double kTargetNodeRssMB = 150;
constexpr double kTargetHubRssMB = 250;
constexpr double kTargetBytesBeyondValue = 200;
// The encryption issue's: encryption and signatures cost at most this share
// of initial-sync throughput.
constexpr double kTargetCryptoCost = 0.15;
// The reference: PouchDB replicating the same documents over
// loopback HTTP on this machine.
constexpr double kPouchDocsPerSec = 4300;
constexpr double kPouchBytesPerEdit = 1300;

// Provinces: the initial-sync cases, the incremental phase (another province,
// so that its nodes do not bootstrap the initial-sync cases too), and the
// hub-throughput nodes (P01, P02, ...).
constexpr char kSeedProvince[] = "LC";
constexpr char kEditProvince[] = "HG";

// Commits per Replica::WriteMany when the nodes write their cases.
constexpr size_t kWriteBatch = 1000;

// The field the incremental phase edits; EditValue() has this many bytes.
constexpr char kEditColumn[] = "assigned_officer";
constexpr size_t kEditValueBytes = 12;

// ---------------------------------------------------------------------------
// Settings

struct Settings {
  int64_t cases = 100000;
  int64_t edits = 1000;
  int64_t nodes = 63;
  int64_t node_commits = 1000;
  int repeat = 1;
  std::string dir;  // empty: a fresh temp dir, removed at exit
  bool quick = false;
  // The modes measured (--crypto): with encryption and signatures, and
  // without them (the baseline of their cost).
  bool crypto_on = true;
  bool crypto_off = true;
};

void PrintUsage(FILE* out) {
  std::fprintf(
      out,
      "usage: fieldsync-bench-sync [--cases N] [--edits N] [--nodes N] [--node-commits N]\n"
      "                            [--crypto MODE] [--repeat N] [--dir PATH] [--quick]\n"
      "                            [--help]\n"
      "\n"
      "Measures sync over TLS on loopback, the hub (fieldhub serve) and the node as\n"
      "separate processes: a new node's initial sync (cases/s, peak RSS of node and\n"
      "hub, beside plain SQLite inserting the same rows), incremental sync of one-field\n"
      "edits (time, bytes on the wire per edit), and the hub's throughput with many\n"
      "nodes pushing at once (commits accepted per second).\n"
      "\n"
      "  --cases N         cases the new node pulls (default 100000)\n"
      "  --edits N         one-field edits pushed by one node and pulled by another\n"
      "                    (default 1000)\n"
      "  --nodes N         nodes pushing to the hub at once, one province each\n"
      "                    (default 63)\n"
      "  --node-commits N  commits each of those nodes pushes (default 1000)\n"
      "  --crypto MODE     on | off | both: measure with encryption and signatures on\n"
      "                    (the product), off (a hub serving --benchmark-without-crypto,\n"
      "                    nodes that neither sign nor seal), or both in one run, each\n"
      "                    against its own hubs, with the cost of crypto against the\n"
      "                    15%% target (default both)\n"
      "  --repeat N        run every measurement N times; rates are medians, peaks\n"
      "                    the highest (default 1)\n"
      "  --dir PATH        where hubs and nodes keep their files; kept afterwards\n"
      "                    (default: a fresh directory under $TMPDIR or /tmp,\n"
      "                    removed at exit)\n"
      "  --quick           small sizes (2000 cases, 100 edits, 8 nodes x 100 commits)\n"
      "                    for smoke tests; flags given explicitly still apply\n"
      "  --help            this text\n"
      "\n"
      "Exits 0 whether or not the targets are met; 1 if anything fails (including its\n"
      "consistency checks), 2 on bad usage.\n");
}

// Returns nullopt after printing an error; exits for --help.
std::optional<Settings> ParseSettings(int argc, char** argv) {
  absl::StatusOr<Args> args = ParseArgs(
      argc, argv, {"cases", "edits", "nodes", "node-commits", "repeat", "dir", "crypto"}, {"quick", "help"});
  if (!args.ok()) {
    std::fprintf(stderr, "fieldsync-bench-sync: %s\n",
                 std::string(args.status().message()).c_str());
    return std::nullopt;
  }
  if (args->Has("help")) {
    PrintUsage(stdout);
    std::exit(0);
  }
  if (!args->positional.empty()) {
    std::fprintf(stderr, "fieldsync-bench-sync: unexpected argument \"%s\"; see --help\n",
                 args->positional.front().c_str());
    return std::nullopt;
  }
  Settings s;
  auto positive = [&](const char* name, int64_t max, int64_t* out) -> bool {
    auto it = args->flags.find(name);
    if (it == args->flags.end()) return true;
    const std::string& value = it->second;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(value.c_str(), &end, 10);
    if (errno != 0 || end == value.c_str() || *end != '\0' || v <= 0 || v > max) {
      std::fprintf(stderr,
                   "fieldsync-bench-sync: --%s takes an integer from 1 to %lld, got \"%s\"\n",
                   name, static_cast<long long>(max), value.c_str());
      return false;
    }
    *out = v;
    return true;
  };
  s.quick = args->Has("quick");
  if (s.quick) {  // small defaults; explicit flags still win
    s.cases = 2000;
    s.edits = 100;
    s.nodes = 8;
    s.node_commits = 100;
  }
  int64_t repeat = 1;
  if (!positive("cases", 10'000'000, &s.cases) || !positive("edits", 1'000'000, &s.edits) ||
      !positive("nodes", 500, &s.nodes) || !positive("node-commits", 1'000'000, &s.node_commits) ||
      !positive("repeat", 100, &repeat)) {
    return std::nullopt;
  }
  s.repeat = static_cast<int>(repeat);
  s.dir = args->Flag("dir");
  if (args->flags.count("crypto")) {
    const std::string c = args->Flag("crypto");
    if (c != "on" && c != "off" && c != "both") {
      std::fprintf(stderr, "fieldsync-bench-sync: --crypto takes on, off or both, got \"%s\"\n",
                   c.c_str());
      return std::nullopt;
    }
    s.crypto_on = c != "off";
    s.crypto_off = c != "on";
  }
  return s;
}

// ---------------------------------------------------------------------------
// The data: the 15-column case of fieldsync-bench's "full" profile
// (tools/bench_replica.cc), about 1.1 KB of values, deterministic in the case
// number, for the province given (the hub requires a new case to name its
// node's province).

using bench::kCaseColumns;
using bench::Date;

std::vector<Value> CaseValues(int64_t i, const std::string& province) {
  return bench::CaseValues(i, bench::CaseProfile::kFull, province);
}

// A small case (5 fields, as a hotline call first records it): the commits of
// the hub-throughput phase.
LocalTxn SmallCaseTxn(int64_t i, const std::string& province) {
  LocalTxn t;
  t.Create("cases", Id16::NewV7(SystemClock::Get()),
           {{"case_code", Value::Text(absl::StrCat(province, "-2026-", i))},
            {"province", Value::Text(province)},
            {"status", Value::Text("intake")},
            {"urgency", Value::Text(i % 9 == 0 ? "urgent" : "normal")},
            {"opened_on", Value::Text(Date(i))}});
  return t;
}

// The new value of edit i in round `round`: always kEditValueBytes bytes
// ("Officer 1234"), and different from round to round.
std::string EditValue(int64_t i, int round) {
  return absl::StrCat("Officer ", 1000 + (i * 7 + round) % 9000);
}

// Creates the cases ids[k] (case number first + k) in `r`, one commit each,
// kWriteBatch commits per WriteMany. Returns the wall seconds, building the
// input included (a side figure; fieldsync-bench measures local writes).
absl::StatusOr<double> WriteCases(Replica& r, const std::vector<RowId>& ids, int64_t first,
                                  const std::string& province) {
  const auto t0 = Clock::now();
  for (size_t start = 0; start < ids.size(); start += kWriteBatch) {
    const size_t end = std::min(ids.size(), start + kWriteBatch);
    std::vector<LocalTxn> txns(end - start);
    for (size_t k = start; k < end; ++k) {
      std::vector<Value> values = CaseValues(first + static_cast<int64_t>(k), province);
      LocalTxn::Fields fields;
      fields.reserve(values.size());
      for (size_t c = 0; c < values.size(); ++c) {
        fields.emplace_back(kCaseColumns[c], std::move(values[c]));
      }
      txns[k - start].Create("cases", ids[k], std::move(fields));
    }
    FS_RETURN_IF_ERROR(r.WriteMany(txns).status());
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One shared directory entry, so that the hub's log is not empty when the
// nodes first sync: each first sync then leaves the node's pull cursor past
// 0, and the measured syncs never bootstrap again.
absl::Status WriteOrganisation(Replica& r, const std::string& name) {
  LocalTxn t;
  t.Create("organisations", Id16::NewV7(SystemClock::Get()),
           {{"name", Value::Text(name)}, {"kind", Value::Text("ngo")}});
  return r.Write(t).status();
}

// How many of the 15 columns written are sensitive (sealed with crypto on).
// Every sensitive column of a case is sealed, those the case leaves absent
// too (schema version 4: the hub cannot tell which fields a case has),
// except an absent one whose clear coarse copy shows it is absent.
int SensitiveCaseFields() {
  const TableDef& t = *FieldOfficeSchema().FindTable("cases");
  int n = 0;
  for (const ColumnDef& c : t.columns) {
    if (c.sensitivity != Sensitivity::kSensitive) continue;
    bool written = false;
    for (const char* w : kCaseColumns) written |= c.name == w;
    bool shown = false;
    for (const ColumnDef& d : t.columns) shown |= d.derived_from == c.name;
    n += written || !shown ? 1 : 0;
  }
  return n;
}

absl::StatusOr<int64_t> LiveCases(Replica& r) {
  FS_ASSIGN_OR_RETURN(ReplicaStats s, r.Stats());
  for (const auto& [table, n] : s.live_rows) {
    if (table == "cases") return static_cast<int64_t>(n);
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Processes

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return s;
}

// The last lines of the hub's log, to explain a failed sync (the directory
// is usually removed at exit).
std::string HubLogNote(const HubProcess& hub) {
  harness::CommandResult r = harness::Run({"/usr/bin/tail", "-n", "15", hub.log_path()});
  return absl::StrCat("\n--- hub log ", hub.log_path(), " (last lines) ---\n", r.out);
}

absl::StatusOr<node::SyncReport> SyncNode(LocalNode& n, const HubProcess& hub,
                                          std::string_view what) {
  absl::StatusOr<node::SyncReport> r = n.Sync();
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat(AV(what), ": ", r.status().message(), HubLogNote(hub)));
  }
  return r;
}

// `s` with what was being done in front of its message (the harness's
// errors from administrator commands carry only their stderr, which may be
// empty).
absl::Status Context(const absl::Status& s, std::string_view doing) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(AV(doing), ": ",
                                             s.message().empty() ? "failed, no message"
                                                                 : s.message()));
}

// A child process run to completion and measured: wall time from spawn to
// exit, and its peak resident set (ru_maxrss of wait4).
struct MeasuredRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  double wall = 0;
  double cpu = 0;  // user + system seconds
  int64_t max_rss_kib = 0;
};

absl::StatusOr<MeasuredRun> RunMeasured(const std::vector<std::string>& argv,
                                        const std::string& out_path,
                                        const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  MeasuredRun run;
  pid_t pid = 0;
  const auto t0 = Clock::now();
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot run ", argv[0], ": ", std::strerror(rc)));
  }
  int status = 0;
  struct rusage ru;
  std::memset(&ru, 0, sizeof(ru));
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("wait4: ", std::strerror(errno)));
  }
  run.wall = SecondsSince(t0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.max_rss_kib = ru.ru_maxrss;  // KiB on Linux
  run.cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  run.out = ReadAll(out_path);
  run.err = ReadAll(err_path);
  return run;
}

// Resets the peak resident set (VmHWM) of a process to its current RSS
// (Linux >= 4.0, /proc/PID/clear_refs). False if the kernel refused.
bool ResetPeakRss(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/clear_refs");
  const int fd = open(path.c_str(), O_WRONLY);
  if (fd < 0) return false;
  const bool ok = write(fd, "5", 1) == 1;
  return close(fd) == 0 && ok;
}

// CPU seconds (user + system) a process has used so far, from
// /proc/PID/stat; 0 if unreadable.
double ProcessCpuSeconds(pid_t pid) {
  const std::string stat = ReadAll(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return 0;
  std::istringstream in(stat.substr(paren + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // After the name: state (field 3), ..., utime (14), stime (15).
  for (int k = 3; k <= 15 && in >> field; ++k) {
    if (k == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (k == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds (user + system) of this process so far.
double SelfCpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// The integer after "key": in a one-line JSON object.
std::optional<int64_t> JsonInt(const std::string& json, const std::string& key) {
  const std::string needle = absl::StrCat("\"", key, "\":");
  const size_t at = json.find(needle);
  if (at == std::string::npos) return std::nullopt;
  const char* p = json.c_str() + at + needle.size();
  char* end = nullptr;
  const long long v = std::strtoll(p, &end, 10);
  if (end == p) return std::nullopt;
  return v;
}

// ---------------------------------------------------------------------------
// Plain SQLite, for the initial-sync baseline

absl::Status SqliteError(sqlite3* db, std::string_view doing) {
  return absl::InternalError(absl::StrCat(AV(doing), ": ", sqlite3_errmsg(db)));
}

void Bind(sqlite3_stmt* st, int i, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      sqlite3_bind_null(st, i);
      break;
    case Value::Kind::kInt:
      sqlite3_bind_int64(st, i, v.int_value());
      break;
    case Value::Kind::kText:
      sqlite3_bind_text(st, i, v.str().data(), static_cast<int>(v.str().size()), SQLITE_STATIC);
      break;
    case Value::Kind::kBytes:
      sqlite3_bind_blob(st, i, v.str().data(), static_cast<int>(v.str().size()), SQLITE_STATIC);
      break;
  }
}

// The page size of a database file (read-only connection), 4096 if unknown.
int PageSize(const std::string& path) {
  sqlite3* db = nullptr;
  int size = 4096;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      size = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close_v2(db);
  return size;
}

// INSERTs the cases `ids` (the same values the seed node wrote) into a fresh
// plain SQLite file with the replica's PRAGMAs (WAL, synchronous FULL, its
// page cache and page size) and its table layout (a rowid table with a unique
// 16-byte id and every declared column of `cases`) minus the tracking
// columns, all in one transaction. Returns the seconds from BEGIN to COMMIT,
// building the rows excluded.
absl::StatusOr<double> RawInsert(const std::string& path, int page_size,
                                 const std::vector<RowId>& ids, const std::string& province) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> closer(db, sqlite3_close_v2);
  if (rc != SQLITE_OK) return SqliteError(db, absl::StrCat("open ", path));
  auto exec = [&](const std::string& sql) -> absl::Status {
    char* err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      absl::Status s = absl::InternalError(absl::StrCat(sql, ": ", err ? err : "?"));
      sqlite3_free(err);
      return s;
    }
    return absl::OkStatus();
  };
  FS_RETURN_IF_ERROR(exec(absl::StrCat("PRAGMA page_size = ", page_size)));
  FS_RETURN_IF_ERROR(exec("PRAGMA journal_mode = WAL"));
  FS_RETURN_IF_ERROR(exec("PRAGMA synchronous = FULL"));
  FS_RETURN_IF_ERROR(exec(absl::StrCat("PRAGMA cache_size = -", tuning::kCacheSizeKiB)));
  const TableDef& t = *FieldOfficeSchema().FindTable("cases");
  std::string create = "CREATE TABLE cases(id BLOB NOT NULL UNIQUE";
  for (const ColumnDef& c : t.columns) absl::StrAppend(&create, ", \"", AV(c.name), "\"");
  absl::StrAppend(&create, ")");
  FS_RETURN_IF_ERROR(exec(create));

  std::string names, params;
  for (size_t k = 0; k < 15; ++k) {
    absl::StrAppend(&names, ", \"", kCaseColumns[k], "\"");
    absl::StrAppend(&params, ", ?", k + 2);
  }
  const std::string sql = absl::StrCat("INSERT INTO cases(id", names, ") VALUES (?1", params, ")");
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return SqliteError(db, absl::StrCat("prepare ", sql));
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> insert(raw, sqlite3_finalize);

  double seconds = 0;
  auto timed = [&](auto&& f) -> absl::Status {
    const auto t0 = Clock::now();
    absl::Status s = f();
    seconds += SecondsSince(t0);
    return s;
  };
  FS_RETURN_IF_ERROR(timed([&] { return exec("BEGIN IMMEDIATE"); }));
  std::vector<std::vector<Value>> rows;
  for (size_t start = 0; start < ids.size(); start += kWriteBatch) {
    const size_t end = std::min(ids.size(), start + kWriteBatch);
    rows.clear();
    for (size_t k = start; k < end; ++k) {
      rows.push_back(CaseValues(static_cast<int64_t>(k), province));
    }
    FS_RETURN_IF_ERROR(timed([&]() -> absl::Status {
      for (size_t k = start; k < end; ++k) {
        const std::vector<Value>& v = rows[k - start];
        sqlite3_bind_blob(insert.get(), 1, ids[k].data(), Id16::kSize, SQLITE_STATIC);
        for (size_t c = 0; c < v.size(); ++c) Bind(insert.get(), static_cast<int>(c + 2), v[c]);
        const int step = sqlite3_step(insert.get());
        sqlite3_reset(insert.get());
        if (step != SQLITE_DONE) return SqliteError(db, "insert");
      }
      return absl::OkStatus();
    }));
  }
  FS_RETURN_IF_ERROR(timed([&] { return exec("COMMIT"); }));

  sqlite3_stmt* count = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM cases", -1, &count, nullptr) == SQLITE_OK &&
      sqlite3_step(count) == SQLITE_ROW) {
    n = sqlite3_column_int64(count, 0);
  }
  sqlite3_finalize(count);
  if (n != static_cast<int64_t>(ids.size())) {
    return absl::InternalError(absl::StrCat("plain SQLite holds ", n, " rows, not ", ids.size()));
  }
  return seconds;
}


std::string RateRange(const Sample& s) {
  if (s.values.size() < 2) return Rate(s.Median());
  return absl::StrCat(Rate(s.Median()), " (", Rate(s.Min()), "-", Rate(s.Max()), ")");
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

double MB(int64_t kib) { return static_cast<double>(kib) * 1024 / 1e6; }

std::string Percent(double ratio) { return absl::StrCat(Fixed(100 * ratio, 1), "%"); }

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}


// ---------------------------------------------------------------------------
// 1. Initial sync

// A configuration the benchmark runs in: with encryption and signatures (the
// product: a normal hub, nodes that sign every commit and seal every
// sensitive field), or without them (the baseline of their cost: a hub
// serving --benchmark-without-crypto, which accepts unsigned commits and
// sensitive fields in clear, and nodes that neither sign nor seal).
struct Mode {
  bool crypto = true;
  const char* name() const { return crypto ? "crypto on" : "crypto off"; }
  // Suffix of the directories of this mode's hubs and nodes.
  const char* tag() const { return crypto ? "" : "-nocrypto"; }
};

struct InitialResults {
  int64_t cases = 0;
  double seed_write_s = 0;
  double seed_push_s = 0;
  int64_t hub_rss_after_push_kib = 0;  // VmHWM of the hub up to the end of the seed push
  Sample rate;             // cases/s, `fieldnode sync` process wall time
  Sample rate_in_process;  // cases/s, the sync call as `fieldnode sync` times it
  Sample node_cpu_s;       // CPU seconds of the `fieldnode sync` process
  Sample hub_cpu_s;        // CPU seconds of the hub during it
  int64_t node_rss_kib = 0;  // highest over runs
  int64_t hub_rss_kib = 0;   // highest over runs
  bool hub_rss_reset = true;  // VmHWM was reset before each initial sync
  // What the new node holds after its sync (the last run): the replica's
  // files, the fields of a case stored sealed, the data key records (kind 5)
  // it received.
  int64_t replica_bytes = 0;
  int sealed_per_case = 0;
  int64_t data_key_records = 0;
  // Bytes of one bootstrap on the wire (through a proxy, not timed): from the
  // hub, and to it.
  uint64_t wire_down = 0, wire_up = 0;
  // The seed's cases and state, for the new node's checks.
  std::vector<RowId> ids;
  std::string seed_digest;
};

// The seed node of `mode` writes the cases and pushes them to `hub` (side
// figures).
absl::Status Seed(const Settings& s, const std::string& dir, const Mode& mode, HubProcess& hub,
                  InitialResults& res) {
  res.cases = s.cases;
  std::printf("[initial sync, %s] seed node: writing %s cases (15 fields, ~1.1 KB%s) ...\n",
              mode.name(), Rate(static_cast<double>(s.cases)).c_str(),
              mode.crypto ? "; each commit signed, 4 fields sealed" : "; nothing signed or sealed");
  std::fflush(stdout);
  FS_ASSIGN_OR_RETURN(std::unique_ptr<LocalNode> seed,
                      LocalNode::Create(absl::StrCat(dir, "/seed", mode.tag()), mode.crypto));
  FS_RETURN_IF_ERROR(Context(seed->Enroll(hub, kSeedProvince), "enrolling the seed node"));
  FS_RETURN_IF_ERROR(WriteOrganisation(seed->replica(), "Trung tâm Công tác xã hội tỉnh Lào Cai"));
  FS_RETURN_IF_ERROR(SyncNode(*seed, hub, "seed node, first sync").status());

  res.ids.reserve(static_cast<size_t>(s.cases));
  for (int64_t i = 0; i < s.cases; ++i) res.ids.push_back(Id16::NewV7(SystemClock::Get()));
  FS_ASSIGN_OR_RETURN(res.seed_write_s, WriteCases(seed->replica(), res.ids, 0, kSeedProvince));
  std::printf("  seed local writes            %8.3f s   %10s cases/s  (WriteMany, %zu a call)\n",
              res.seed_write_s, Rate(static_cast<double>(s.cases) / res.seed_write_s).c_str(),
              kWriteBatch);
  std::fflush(stdout);

  const auto t_push = Clock::now();
  FS_ASSIGN_OR_RETURN(node::SyncReport pushed, SyncNode(*seed, hub, "seed node, push"));
  res.seed_push_s = SecondsSince(t_push);
  if (pushed.pushed != static_cast<uint64_t>(s.cases) || pushed.pulled != 0) {
    return absl::InternalError(absl::StrCat("the seed node's push stored ", pushed.pushed,
                                            " commits (want ", s.cases, ") and pulled ",
                                            pushed.pulled, " (want 0)"));
  }
  res.hub_rss_after_push_kib = hub.PeakRssKib();
  std::printf("  seed push (sync)             %8.3f s   %10s commits/s  (push %s; its pull "
              "returns nothing; key records pushed %s); hub peak RSS so far %s MB\n",
              res.seed_push_s, Rate(static_cast<double>(s.cases) / res.seed_push_s).c_str(),
              Rate(static_cast<double>(pushed.pushed)).c_str(),
              Rate(static_cast<double>(pushed.key_records_pushed)).c_str(),
              Fixed(MB(res.hub_rss_after_push_kib), 1).c_str());
  std::fflush(stdout);
  FS_ASSIGN_OR_RETURN(res.seed_digest, seed->replica().StateDigest());
  // The seed's replica (and its page cache) is not needed any more.
  return absl::OkStatus();
}

int64_t FileBytes(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

// A new node in `node_dir`, made and enrolled (with the hub at `address`)
// as a person would: `fieldnode init`, `fieldnode enroll`.
absl::Status MakeFreshNode(const std::string& node_dir, const HubProcess& hub,
                           const std::string& address) {
  const std::string fieldnode = harness::BinDir() + "/fieldnode";
  // The keystore is unlocked for init and enrol only (a throwaway
  // passphrase): the measured sync runs locked, so that Argon2id's second of
  // unlocking is not counted as syncing. (A node stores what it pulls as it
  // arrives, sealed fields as ciphertext: pulling decrypts nothing.)
  const std::string pass = "FIELDSYNC_PASSPHRASE=benchmark throwaway passphrase";
  harness::CommandResult init =
      harness::Run({"/usr/bin/env", pass, fieldnode, "init", "--data-dir", node_dir});
  if (init.exit_code != 0) {
    return absl::InternalError(absl::StrCat("fieldnode init: ", init.err));
  }
  absl::StatusOr<std::string> token = hub.Token(kSeedProvince);
  FS_RETURN_IF_ERROR(Context(token.status(), "fieldhub enroll-token"));
  harness::CommandResult enroll =
      harness::Run({"/usr/bin/env", pass, fieldnode, "enroll", "--data-dir", node_dir, "--hub",
                    address, "--ca", hub.pki().ca(), "--token", *token, "--name",
                    "bench new node"});
  if (enroll.exit_code != 0) {
    return absl::InternalError(absl::StrCat("fieldnode enroll: ", enroll.err));
  }
  return absl::OkStatus();
}

// Run `rep` of the measured part for `mode`: a new node runs `fieldnode
// sync` as a process and bootstraps the seed's cases from `hub`. Returns the
// new node's page size.
absl::StatusOr<int> FreshSync(const Settings& s, const std::string& dir, const Mode& mode,
                              int rep, HubProcess& hub, InitialResults& res) {
  const std::string fieldnode = harness::BinDir() + "/fieldnode";
  const std::string node_dir = absl::StrCat(dir, "/fresh", mode.tag(), "-", rep);
  FS_RETURN_IF_ERROR(MakeFreshNode(node_dir, hub, hub.address()));

  // The measured sync.
  res.hub_rss_reset = ResetPeakRss(hub.pid()) && res.hub_rss_reset;
  const double hub_cpu0 = ProcessCpuSeconds(hub.pid());
  FS_ASSIGN_OR_RETURN(
      MeasuredRun run,
      RunMeasured({fieldnode, "sync", "--data-dir", node_dir, "--json"},
                  absl::StrCat(node_dir, ".out"), absl::StrCat(node_dir, ".err")));
  const int64_t hub_rss = hub.PeakRssKib();
  const double hub_cpu = ProcessCpuSeconds(hub.pid()) - hub_cpu0;
  if (run.exit_code != 0) {
    return absl::InternalError(absl::StrCat("fieldnode sync (", mode.name(), ") exited with ",
                                            run.exit_code, ": ", run.err, HubLogNote(hub)));
  }
  const std::optional<int64_t> installed = JsonInt(run.out, "rows_installed");
  const std::optional<int64_t> millis = JsonInt(run.out, "millis");
  // Every case, and the organisation the seed wrote first.
  if (!installed || *installed != s.cases + 1 || !millis) {
    return absl::InternalError(
        absl::StrCat("fieldnode sync installed the wrong rows (want ", s.cases + 1,
                     " rows_installed): ", run.out));
  }
  const double n = static_cast<double>(s.cases);
  res.rate.Add(n / run.wall);
  res.rate_in_process.Add(n / (static_cast<double>(std::max<int64_t>(*millis, 1)) / 1000));
  res.node_cpu_s.Add(run.cpu);
  res.hub_cpu_s.Add(hub_cpu);
  res.node_rss_kib = std::max(res.node_rss_kib, run.max_rss_kib);
  res.hub_rss_kib = std::max(res.hub_rss_kib, hub_rss);
  const std::string replica_path = node_dir + "/replica.db";
  res.replica_bytes = FileBytes(replica_path) + FileBytes(replica_path + "-wal");
  std::printf("  [run %d/%d, %-10s] fieldnode sync %7.3f s %9s cases/s  (in-process %lld ms: "
              "%s cases/s); peak RSS node %s MB, hub %s MB; CPU node %.1f s, hub %.1f s\n",
              rep + 1, s.repeat, mode.name(), run.wall, Rate(n / run.wall).c_str(),
              static_cast<long long>(*millis), Rate(res.rate_in_process.values.back()).c_str(),
              Fixed(MB(run.max_rss_kib), 1).c_str(), Fixed(MB(hub_rss), 1).c_str(), run.cpu,
              hub_cpu);
  std::fflush(stdout);

  // Consistency (not timed): the new node holds exactly the seed's state;
  // with crypto on, the sensitive fields as the seed sealed them and one
  // data key record per case; with crypto off, nothing sealed.
  {
    FS_ASSIGN_OR_RETURN(std::unique_ptr<Replica> fresh,
                        OpenReplicaIn(DataDir{node_dir, "replica.db", "fieldnode init",
                                              "FIELDSYNC_NODE_DIR"}));
    FS_ASSIGN_OR_RETURN(int64_t live, LiveCases(*fresh));
    if (live != s.cases) {
      return absl::InternalError(
          absl::StrCat("the new node holds ", live, " live cases, not ", s.cases));
    }
    FS_ASSIGN_OR_RETURN(std::string digest, fresh->StateDigest());
    if (digest != res.seed_digest) {
      return absl::InternalError(absl::StrCat("the new node's state digest ", digest,
                                              " differs from the seed's ", res.seed_digest,
                                              " (", mode.name(), ")"));
    }
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, fresh->Get("cases", res.ids.back()));
    if (!row) return absl::InternalError("the new node lacks the seed's last case");
    int sealed = 0;
    const TableDef& cases_def = *fresh->schema().FindTable("cases");
    for (size_t ci = 0; ci < row->values.size(); ++ci) {
      // Sensitive columns only: a clear id may begin with the magic byte.
      if (cases_def.columns[ci].sensitivity == Sensitivity::kClear) continue;
      const Value& v = row->values[ci];
      sealed += v.kind() == Value::Kind::kBytes && crypto::LooksSealed(v.str()) ? 1 : 0;
    }
    FS_ASSIGN_OR_RETURN(std::unique_ptr<KeyRing> keys, KeyRing::Open(fresh.get(), kSeedProvince));
    FS_ASSIGN_OR_RETURN(auto counts, keys->CountRecords());
    const int64_t data_keys = counts[crypto::KeyRecordKind::kOfficeDataKey] +
                              counts[crypto::KeyRecordKind::kDataKey];
    const int want_sealed = mode.crypto ? SensitiveCaseFields() : 0;
    const int64_t want_keys = mode.crypto ? s.cases : 0;
    if (sealed != want_sealed || data_keys != want_keys) {
      return absl::InternalError(absl::StrCat(
          "the new node (", mode.name(), ") holds a case with ", sealed,
          " fields sealed (want ", want_sealed, ") and ", data_keys,
          " data key records (want ", want_keys, ")"));
    }
    res.sealed_per_case = sealed;
    res.data_key_records = data_keys;
  }
  const int page_size = PageSize(replica_path);
  std::error_code ec;
  fs::remove_all(node_dir, ec);
  return page_size;
}

// Not timed with the figures: one more new node of `mode` bootstraps through a
// byte-counting proxy, for the bytes a bootstrap puts on the wire (TLS
// records of gzip-compressed gRPC, both directions). The proxy relays every
// byte through this process, so this sync's time is not a figure.
absl::Status BootstrapWireBytes(const Settings& s, const std::string& dir, const Mode& mode,
                                HubProcess& hub, InitialResults& res) {
  const std::string fieldnode = harness::BinDir() + "/fieldnode";
  const std::string node_dir = absl::StrCat(dir, "/fresh", mode.tag(), "-wire");
  CuttingProxy proxy("127.0.0.1", hub.port());
  FS_RETURN_IF_ERROR(proxy.Start());
  // The hub's certificate names localhost and 127.0.0.1.
  FS_RETURN_IF_ERROR(MakeFreshNode(node_dir, hub, absl::StrCat("localhost:", proxy.port())));
  const uint64_t up0 = proxy.bytes(Direction::kUpstream);
  const uint64_t down0 = proxy.bytes(Direction::kDownstream);
  FS_ASSIGN_OR_RETURN(
      MeasuredRun run,
      RunMeasured({fieldnode, "sync", "--data-dir", node_dir, "--json"},
                  absl::StrCat(node_dir, ".out"), absl::StrCat(node_dir, ".err")));
  if (run.exit_code != 0) {
    return absl::InternalError(absl::StrCat("fieldnode sync through the proxy (", mode.name(),
                                            ") exited with ", run.exit_code, ": ", run.err,
                                            HubLogNote(hub)));
  }
  const std::optional<int64_t> installed = JsonInt(run.out, "rows_installed");
  if (!installed || *installed != s.cases + 1) {
    return absl::InternalError(absl::StrCat(
        "fieldnode sync through the proxy installed the wrong rows: ", run.out));
  }
  res.wire_down = proxy.bytes(Direction::kDownstream) - down0;
  res.wire_up = proxy.bytes(Direction::kUpstream) - up0;
  const double n = static_cast<double>(s.cases);
  std::printf("  [%-10s] bootstrap on the wire (through a byte-counting proxy, not timed): "
              "%s MB from the hub, %s KB to it: %s bytes per case\n",
              mode.name(), Fixed(static_cast<double>(res.wire_down) / 1e6, 1).c_str(),
              Fixed(static_cast<double>(res.wire_up) / 1e3, 1).c_str(),
              Rate(static_cast<double>(res.wire_down + res.wire_up) / n).c_str());
  std::fflush(stdout);
  std::error_code ec;
  fs::remove_all(node_dir, ec);
  return absl::OkStatus();
}

// Initial sync in every mode, against each mode's own hub: the seeds first,
// then --repeat runs of a new node's sync in each mode (the modes alternate
// which goes first from run to run, so that a drift of the machine's speed
// does not fall on one mode only), and plain SQLite once a run.
absl::Status InitialSync(const Settings& s, const std::string& dir,
                         const std::vector<Mode>& modes, const std::vector<HubProcess*>& hubs,
                         std::vector<InitialResults>& res, Sample& raw_rate,
                         Sample& paired_cost) {
  res.resize(modes.size());
  for (size_t m = 0; m < modes.size(); ++m) {
    FS_RETURN_IF_ERROR(Seed(s, dir, modes[m], *hubs[m], res[m]));
  }
  std::printf("[initial sync] a new node (fieldnode init, enroll; then the measured fieldnode "
              "sync) per run and mode ...\n");
  std::fflush(stdout);
  const double n = static_cast<double>(s.cases);
  for (int rep = 0; rep < s.repeat; ++rep) {
    int page_size = 4096;
    std::vector<double> wall(modes.size(), 0);
    for (size_t k = 0; k < modes.size(); ++k) {
      const size_t m = rep % 2 == 0 ? k : modes.size() - 1 - k;
      FS_ASSIGN_OR_RETURN(page_size, FreshSync(s, dir, modes[m], rep, *hubs[m], res[m]));
      wall[m] = n / res[m].rate.values.back();
    }
    if (modes.size() == 2) {  // [0] off, [1] on
      paired_cost.Add(1 - wall[0] / wall[1]);
      std::printf("  [run %d/%d] cost of encryption and signatures: %s of initial-sync "
                  "throughput\n",
                  rep + 1, s.repeat, Percent(paired_cost.values.back()).c_str());
    }

    // Plain SQLite: the same rows, one transaction.
    const std::string raw_path = absl::StrCat(dir, "/raw-", rep, ".db");
    FS_ASSIGN_OR_RETURN(double raw_s,
                        RawInsert(raw_path, page_size, res.front().ids, kSeedProvince));
    raw_rate.Add(n / raw_s);
    std::printf("  [run %d/%d] plain SQLite      %8.3f s   %10s rows/s   (one transaction, "
                "WAL, page_size %d)\n",
                rep + 1, s.repeat, raw_s, Rate(n / raw_s).c_str(), page_size);
    std::fflush(stdout);
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(raw_path + suffix, ec);
  }
  for (size_t m = 0; m < modes.size(); ++m) {
    FS_RETURN_IF_ERROR(BootstrapWireBytes(s, dir, modes[m], *hubs[m], res[m]));
  }
  for (size_t m = 0; m < modes.size(); ++m) {
    std::printf("  check (%s): the new node holds %s live cases, state digest equal to the "
                "seed's; %d fields of a case sealed, %s data key records\n",
                modes[m].name(), Rate(n).c_str(), res[m].sealed_per_case,
                Rate(static_cast<double>(res[m].data_key_records)).c_str());
  }
  std::printf("\n");
  std::fflush(stdout);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// 2. Incremental sync of one-field edits

struct IncrementalResults {
  int64_t edits = 0;
  Sample push_s;          // A's sync
  Sample pull_s;          // B's sync
  Sample bytes_per_edit;  // both proxies, both directions
  // The last run's bytes, by node and direction.
  uint64_t a_up = 0, a_down = 0, b_up = 0, b_down = 0;
  int new_connections = 0;  // over all runs
};

absl::StatusOr<IncrementalResults> Incremental(const Settings& s, const std::string& dir,
                                               const Mode& mode, HubProcess& hub) {
  IncrementalResults res;
  res.edits = s.edits;
  std::printf("[incremental, %s] nodes A and B of province %s, each behind a byte-counting "
              "proxy; %s cases, one field edited in each ...\n",
              mode.name(), kEditProvince, Rate(static_cast<double>(s.edits)).c_str());
  std::fflush(stdout);
  CuttingProxy proxy_a("127.0.0.1", hub.port());
  CuttingProxy proxy_b("127.0.0.1", hub.port());
  FS_RETURN_IF_ERROR(proxy_a.Start());
  FS_RETURN_IF_ERROR(proxy_b.Start());
  FS_ASSIGN_OR_RETURN(std::unique_ptr<LocalNode> a,
                      LocalNode::Create(absl::StrCat(dir, "/edit-a", mode.tag()), mode.crypto));
  FS_ASSIGN_OR_RETURN(std::unique_ptr<LocalNode> b,
                      LocalNode::Create(absl::StrCat(dir, "/edit-b", mode.tag()), mode.crypto));
  // The hub's certificate names localhost and 127.0.0.1.
  FS_RETURN_IF_ERROR(
      Context(a->Enroll(hub, kEditProvince, absl::StrCat("localhost:", proxy_a.port())),
              "enrolling node A"));
  FS_RETURN_IF_ERROR(
      Context(b->Enroll(hub, kEditProvince, absl::StrCat("localhost:", proxy_b.port())),
              "enrolling node B"));

  // Both hold the cases before the edits (not measured).
  std::vector<RowId> ids;
  for (int64_t i = 0; i < s.edits; ++i) ids.push_back(Id16::NewV7(SystemClock::Get()));
  FS_RETURN_IF_ERROR(WriteCases(a->replica(), ids, 0, kEditProvince).status());
  FS_RETURN_IF_ERROR(SyncNode(*a, hub, "node A, first sync").status());
  FS_ASSIGN_OR_RETURN(node::SyncReport boot, SyncNode(*b, hub, "node B, first sync"));
  if (boot.rows_installed < static_cast<uint64_t>(s.edits)) {
    return absl::InternalError(absl::StrCat("node B installed ", boot.rows_installed,
                                            " rows at its first sync, fewer than the ", s.edits,
                                            " cases of node A"));
  }

  for (int rep = 0; rep < s.repeat; ++rep) {
    // One commit per edit, all written in one WriteMany (not measured).
    std::vector<LocalTxn> txns(ids.size());
    for (size_t k = 0; k < ids.size(); ++k) {
      txns[k].Set("cases", ids[k],
                  {{kEditColumn, Value::Text(EditValue(static_cast<int64_t>(k), rep))}});
    }
    FS_RETURN_IF_ERROR(a->replica().WriteMany(txns).status());

    const uint64_t a_up0 = proxy_a.bytes(Direction::kUpstream);
    const uint64_t a_down0 = proxy_a.bytes(Direction::kDownstream);
    const uint64_t b_up0 = proxy_b.bytes(Direction::kUpstream);
    const uint64_t b_down0 = proxy_b.bytes(Direction::kDownstream);
    const int conns0 = proxy_a.connections_accepted() + proxy_b.connections_accepted();

    const auto t0 = Clock::now();
    FS_ASSIGN_OR_RETURN(node::SyncReport ra, SyncNode(*a, hub, "node A, pushing the edits"));
    const double push_s = SecondsSince(t0);
    const auto t1 = Clock::now();
    FS_ASSIGN_OR_RETURN(node::SyncReport rb, SyncNode(*b, hub, "node B, pulling the edits"));
    const double pull_s = SecondsSince(t1);

    res.a_up = proxy_a.bytes(Direction::kUpstream) - a_up0;
    res.a_down = proxy_a.bytes(Direction::kDownstream) - a_down0;
    res.b_up = proxy_b.bytes(Direction::kUpstream) - b_up0;
    res.b_down = proxy_b.bytes(Direction::kDownstream) - b_down0;
    res.new_connections +=
        proxy_a.connections_accepted() + proxy_b.connections_accepted() - conns0;
    const auto want = static_cast<uint64_t>(s.edits);
    if (ra.pushed != want || rb.pulled != want) {
      return absl::InternalError(absl::StrCat("node A pushed ", ra.pushed, " and node B pulled ",
                                              rb.pulled, " commits; want ", s.edits, " each"));
    }
    const double total = static_cast<double>(res.a_up + res.a_down + res.b_up + res.b_down);
    const double per_edit = total / static_cast<double>(s.edits);
    res.push_s.Add(push_s);
    res.pull_s.Add(pull_s);
    res.bytes_per_edit.Add(per_edit);
    std::printf("  [run %d/%d] A sync (push) %7.3f s, B sync (pull) %7.3f s: %s edits/s end to "
                "end; wire bytes: A up %s down %s, B up %s down %s = %s B per edit\n",
                rep + 1, s.repeat, push_s, pull_s,
                Rate(static_cast<double>(s.edits) / (push_s + pull_s)).c_str(),
                Rate(static_cast<double>(res.a_up)).c_str(),
                Rate(static_cast<double>(res.a_down)).c_str(),
                Rate(static_cast<double>(res.b_up)).c_str(),
                Rate(static_cast<double>(res.b_down)).c_str(), Fixed(per_edit, 1).c_str());
    std::fflush(stdout);

    // Consistency (not timed): B holds exactly what A holds.
    FS_ASSIGN_OR_RETURN(std::string da, a->replica().StateDigest());
    FS_ASSIGN_OR_RETURN(std::string db, b->replica().StateDigest());
    if (da != db) {
      return absl::InternalError(
          absl::StrCat("node B's state digest ", db, " differs from node A's ", da));
    }
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, b->replica().Get("cases", ids.back()));
    const int col = FieldOfficeSchema().FindTable("cases")->ColumnIndex(kEditColumn);
    if (!row || row->values[static_cast<size_t>(col)] !=
                    Value::Text(EditValue(static_cast<int64_t>(ids.size()) - 1, rep))) {
      return absl::InternalError("node B does not hold the last edit");
    }
  }
  std::printf("  check: node B holds every edit, state digest equal to node A's; %d new "
              "connection(s) during the measured syncs\n\n",
              res.new_connections);
  std::fflush(stdout);
  return res;
}

// ---------------------------------------------------------------------------
// 3. Hub throughput with many nodes pushing at once

struct ThroughputResults {
  int64_t nodes = 0;
  int64_t commits = 0;  // per run, all nodes
  Sample accepted_s;    // until the hub's log holds every commit
  Sample all_s;         // until every sync has returned
  Sample hub_cpu_s;     // CPU seconds of the hub, from the release to the last return
  int64_t hub_rss_kib = 0;
};

absl::StatusOr<ThroughputResults> Throughput(const Settings& s, const std::string& dir,
                                             const Mode& mode, const harness::Pki& pki) {
  ThroughputResults res;
  res.nodes = s.nodes;
  res.commits = s.nodes * s.node_commits;
  std::printf("[hub throughput, %s] a new hub; %lld nodes of %lld provinces, %s commits each "
              "(small cases, 5 fields), syncing at once ...\n",
              mode.name(), static_cast<long long>(s.nodes), static_cast<long long>(s.nodes),
              Rate(static_cast<double>(s.node_commits)).c_str());
  std::fflush(stdout);
  HubProcess hub(absl::StrCat(dir, "/hub-throughput", mode.tag()), pki);
  if (!mode.crypto) {
    hub.set_serve_program("fieldsync-bench-hub");
    hub.set_serve_args({"--benchmark-without-crypto"});
  }
  FS_RETURN_IF_ERROR(Context(hub.Start(), "starting the throughput hub"));
  std::vector<std::string> provinces;
  std::vector<std::unique_ptr<LocalNode>> nodes;
  for (int64_t k = 1; k <= s.nodes; ++k) {
    // Province codes are 2 or 3 capital letters (schema/province_code.h):
    // AAA, AAB, ... for nodes 1, 2, ... (up to 17,576 of them).
    const int64_t nth = k - 1;
    const std::string code = {static_cast<char>('A' + nth / 676 % 26),
                              static_cast<char>('A' + nth / 26 % 26),
                              static_cast<char>('A' + nth % 26)};
    provinces.push_back(code);
    FS_RETURN_IF_ERROR(Context(hub.AddProvince(code, absl::StrCat("Tỉnh ", k)),
                               absl::StrCat("fieldhub province add ", code)));
    FS_ASSIGN_OR_RETURN(std::unique_ptr<LocalNode> n,
                        LocalNode::Create(absl::StrCat(dir, "/node-", code, mode.tag()),
                                          mode.crypto));
    FS_RETURN_IF_ERROR(
        Context(n->Enroll(hub, code), absl::StrCat("enrolling the node of ", code)));
    nodes.push_back(std::move(n));
  }
  // A first sync of every node (its bootstrap), after one shared record so
  // that each node's cursor moves past 0 (not measured).
  FS_RETURN_IF_ERROR(WriteOrganisation(nodes[0]->replica(), "Cục Cảnh sát hình sự"));
  for (auto& n : nodes) FS_RETURN_IF_ERROR(SyncNode(*n, hub, "first sync").status());

  FS_ASSIGN_OR_RETURN(std::unique_ptr<node::SyncClient> monitor,
                      node::SyncClient::Create(node::ClientOptions{hub.address(), pki.ca()}));
  for (int rep = 0; rep < s.repeat; ++rep) {
    for (size_t k = 0; k < nodes.size(); ++k) {
      std::vector<LocalTxn> txns;
      txns.reserve(static_cast<size_t>(s.node_commits));
      for (int64_t i = 0; i < s.node_commits; ++i) {
        txns.push_back(SmallCaseTxn(rep * s.node_commits + i, provinces[k]));
      }
      FS_RETURN_IF_ERROR(nodes[k]->replica().WriteMany(txns).status());
    }
    FS_ASSIGN_OR_RETURN(node::HelloInfo before, monitor->Hello(nullptr));
    const int64_t target = before.log_head + res.commits;

    // Every node's sync in a thread of its own, released together.
    std::mutex mu;
    std::condition_variable cv;
    bool go = false;
    std::atomic<int> running{static_cast<int>(nodes.size())};
    std::vector<absl::StatusOr<node::SyncReport>> reports(nodes.size(),
                                                          absl::UnknownError("not run"));
    std::vector<std::thread> threads;
    for (size_t k = 0; k < nodes.size(); ++k) {
      threads.emplace_back([&, k] {
        {
          std::unique_lock<std::mutex> l(mu);
          cv.wait(l, [&] { return go; });
        }
        reports[k] = nodes[k]->Sync();
        running.fetch_sub(1);
      });
    }
    const double hub_cpu0 = ProcessCpuSeconds(hub.pid());
    const double self_cpu0 = SelfCpuSeconds();
    const auto t0 = Clock::now();
    {
      std::lock_guard<std::mutex> l(mu);
      go = true;
    }
    cv.notify_all();
    // The hub's log head, as a node sees it (Hello), every 5 ms.
    std::optional<double> accepted;
    while (true) {
      const bool done = running.load() == 0;
      absl::StatusOr<node::HelloInfo> h = monitor->Hello(nullptr);
      if (h.ok() && h->log_head >= target) {
        accepted = SecondsSince(t0);
        break;
      }
      if (done) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (std::thread& t : threads) t.join();
    const double all = SecondsSince(t0);
    const double hub_cpu = ProcessCpuSeconds(hub.pid()) - hub_cpu0;
    const double nodes_cpu = SelfCpuSeconds() - self_cpu0;
    // Pushes end before their syncs return: the log was complete by then.
    if (accepted) accepted = std::min(*accepted, all);

    uint64_t pushed = 0;
    for (size_t k = 0; k < nodes.size(); ++k) {
      if (!reports[k].ok()) {
        return absl::Status(reports[k].status().code(),
                            absl::StrCat("node ", provinces[k], ": ",
                                         reports[k].status().message(), HubLogNote(hub)));
      }
      pushed += reports[k]->pushed;
    }
    FS_ASSIGN_OR_RETURN(node::HelloInfo after, monitor->Hello(nullptr));
    if (!accepted && after.log_head >= target) accepted = all;  // a poll had failed
    if (!accepted || pushed != static_cast<uint64_t>(res.commits) || after.log_head != target) {
      return absl::InternalError(absl::StrCat(
          "the hub's log grew from ", before.log_head, " to ", after.log_head, " (want ", target,
          "); the nodes report ", pushed, " commits stored (want ", res.commits, ")"));
    }
    res.accepted_s.Add(*accepted);
    res.all_s.Add(all);
    res.hub_cpu_s.Add(hub_cpu);
    std::printf("  [run %d/%d] all %s commits in the hub's log after %7.3f s: %s commits/s; "
                "every sync returned after %7.3f s: %s commits/s; CPU hub %.1f s, nodes (this "
                "process) %.1f s\n",
                rep + 1, s.repeat, Rate(static_cast<double>(res.commits)).c_str(), *accepted,
                Rate(static_cast<double>(res.commits) / *accepted).c_str(), all,
                Rate(static_cast<double>(res.commits) / all).c_str(), hub_cpu, nodes_cpu);
    std::fflush(stdout);
  }
  res.hub_rss_kib = hub.PeakRssKib();
  std::printf("  check: the hub's log grew by exactly %s commits a run; hub peak RSS %s MB\n\n",
              Rate(static_cast<double>(res.commits)).c_str(),
              Fixed(MB(res.hub_rss_kib), 1).c_str());
  std::fflush(stdout);
  nodes.clear();
  if (const int rc = hub.Stop(); rc != 0) {
    std::printf("  note: the throughput hub exited with %d at SIGTERM\n", rc);
  }
  return res;
}

// ---------------------------------------------------------------------------

absl::Status Run(const Settings& s, const std::string& dir) {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  FS_ASSIGN_OR_RETURN(harness::Pki pki, harness::MakePki(dir + "/tls"));

  // The modes measured, the baseline first; one hub each for the initial and
  // incremental phases, in a data directory of its own.
  std::vector<Mode> modes;
  if (s.crypto_off) modes.push_back(Mode{false});
  if (s.crypto_on) modes.push_back(Mode{true});
  std::vector<std::unique_ptr<HubProcess>> hubs;
  std::vector<HubProcess*> hub_ptrs;
  for (const Mode& mode : modes) {
    auto hub = std::make_unique<HubProcess>(absl::StrCat(dir, "/hub", mode.tag()), pki);
    if (!mode.crypto) {
      hub->set_serve_program("fieldsync-bench-hub");
      hub->set_serve_args({"--benchmark-without-crypto"});
    }
    FS_RETURN_IF_ERROR(Context(hub->Start(), "starting the hub"));
    FS_RETURN_IF_ERROR(
        Context(hub->AddProvince(kSeedProvince, "Lào Cai"), "fieldhub province add"));
    FS_RETURN_IF_ERROR(
        Context(hub->AddProvince(kEditProvince, "Hà Giang"), "fieldhub province add"));
    std::printf("hub:      fieldhub serve (pid %d) on %s, TLS, %s%s\n",
                static_cast<int>(hub->pid()), hub->address().c_str(), mode.name(),
                mode.crypto ? "" : " (--benchmark-without-crypto)");
    hub_ptrs.push_back(hub.get());
    hubs.push_back(std::move(hub));
  }
  std::printf("\n");
  std::fflush(stdout);

  std::vector<InitialResults> inits;
  Sample raw_rate, paired_cost;
  FS_RETURN_IF_ERROR(InitialSync(s, dir, modes, hub_ptrs, inits, raw_rate, paired_cost));
  std::vector<IncrementalResults> incs;
  std::vector<int64_t> hub_rss_whole;
  for (size_t m = 0; m < modes.size(); ++m) {
    FS_ASSIGN_OR_RETURN(IncrementalResults inc, Incremental(s, dir, modes[m], *hubs[m]));
    incs.push_back(std::move(inc));
    hub_rss_whole.push_back(hubs[m]->PeakRssKib());
    if (const int rc = hubs[m]->Stop(); rc != 0) {
      std::printf("  note: the hub (%s) exited with %d at SIGTERM\n", modes[m].name(), rc);
    }
  }
  std::vector<ThroughputResults> thrs;
  for (const Mode& mode : modes) {
    FS_ASSIGN_OR_RETURN(ThroughputResults thr, Throughput(s, dir, mode, pki));
    thrs.push_back(std::move(thr));
  }

  // Summary of the figures of the sync issue, in the product's mode (crypto
  // on) unless only the baseline was run.
  const size_t p = modes.size() - 1;
  const InitialResults& init = inits[p];
  const IncrementalResults& inc = incs[p];
  const ThroughputResults& thr = thrs[p];
  std::printf("Summary, %s (%d run%s%s; MB = 10^6 bytes)\n", modes[p].name(), s.repeat,
              s.repeat > 1 ? "s" : "",
              s.repeat > 1 ? ", median; min-max in brackets; peaks are the highest" : "");
  std::vector<TableRow> rows;
  auto yes = [](bool met) { return met ? "yes" : "NO"; };
  const double rate = init.rate.Median();
  rows.push_back(TableRow{absl::StrCat("initial sync of ", Rate(static_cast<double>(init.cases)),
                                       " cases, cases/s"),
                          RateRange(init.rate), RateRange(raw_rate),
                          Percent(rate / raw_rate.Median()),
                          absl::StrCat(">= ", Rate(kTargetCasesPerSec)),
                          yes(rate >= kTargetCasesPerSec)});
  rows.push_back(TableRow{"  node peak RSS (fieldnode sync)",
                          absl::StrCat(Fixed(MB(init.node_rss_kib), 1), " MB"), "", "",
                          absl::StrCat("< ", Rate(kTargetNodeRssMB), " MB"),
                          yes(MB(init.node_rss_kib) < kTargetNodeRssMB)});
  rows.push_back(TableRow{absl::StrCat("  hub peak RSS during it",
                                       init.hub_rss_reset ? "" : " (whole life)"),
                          absl::StrCat(Fixed(MB(init.hub_rss_kib), 1), " MB"), "", "",
                          absl::StrCat("< ", Rate(kTargetHubRssMB), " MB"),
                          yes(MB(init.hub_rss_kib) < kTargetHubRssMB)});
  const double per_edit = inc.bytes_per_edit.Median();
  const double beyond = per_edit - static_cast<double>(kEditValueBytes);
  rows.push_back(TableRow{absl::StrCat("incremental, ", Rate(static_cast<double>(inc.edits)),
                                       " edits: wire bytes/edit"),
                          Fixed(per_edit, 1), "", "", "-", "-"});
  rows.push_back(TableRow{absl::StrCat("  beyond the ", kEditValueBytes, "-byte new value"),
                          Fixed(beyond, 1), "", "",
                          absl::StrCat("< ", Rate(kTargetBytesBeyondValue)),
                          yes(beyond < kTargetBytesBeyondValue)});
  rows.push_back(TableRow{"  push (A's sync) + pull (B's sync), s",
                          absl::StrCat(Fixed(inc.push_s.Median(), 3), " + ",
                                       Fixed(inc.pull_s.Median(), 3)),
                          "", "", "-", "-"});
  rows.push_back(TableRow{absl::StrCat("hub, ", thr.nodes, " nodes at once: commits accepted/s"),
                          Rate(static_cast<double>(thr.commits) / thr.accepted_s.Median()), "",
                          "", "-", "-"});
  rows.push_back(TableRow{"  commits/s until every sync returned",
                          Rate(static_cast<double>(thr.commits) / thr.all_s.Median()), "", "",
                          "-", "-"});
  rows.push_back(TableRow{"  hub peak RSS (that hub's whole life)",
                          absl::StrCat(Fixed(MB(thr.hub_rss_kib), 1), " MB"), "", "", "-", "-"});
  PrintTable(rows);
  std::printf(
      "\nTargets (sync issue): initial sync >= %s cases/s, node peak RSS < %s MB, hub < %s MB;\n"
      "incremental < %s bytes per edit beyond the new value. Ratio = fieldsync / plain SQLite\n"
      "inserting the same rows in one transaction. Reference from the issue: PouchDB over\n"
      "loopback HTTP here, about %s documents/s initial and %s bytes per one-field edit.\n",
      Rate(kTargetCasesPerSec).c_str(), Rate(kTargetNodeRssMB).c_str(),
      Rate(kTargetHubRssMB).c_str(), Rate(kTargetBytesBeyondValue).c_str(),
      Rate(kPouchDocsPerSec).c_str(), Rate(kPouchBytesPerEdit).c_str());
  std::printf(
      "Side figures: seed node local writes %s cases/s, its push %s commits/s (hub peak RSS\n"
      "%s MB by then, %s MB over the hub's life); wire bytes of the last incremental run: A up\n"
      "%s down %s, B up %s down %s.\n",
      Rate(static_cast<double>(init.cases) / init.seed_write_s).c_str(),
      Rate(static_cast<double>(init.cases) / init.seed_push_s).c_str(),
      Fixed(MB(init.hub_rss_after_push_kib), 1).c_str(), Fixed(MB(hub_rss_whole[p]), 1).c_str(),
      Rate(static_cast<double>(inc.a_up)).c_str(), Rate(static_cast<double>(inc.a_down)).c_str(),
      Rate(static_cast<double>(inc.b_up)).c_str(), Rate(static_cast<double>(inc.b_down)).c_str());
  if (!init.hub_rss_reset) {
    std::printf("(The kernel refused to reset the hub's VmHWM: its peak RSS covers the seed's "
                "push too.)\n");
  }
  if (modes.size() < 2) return absl::OkStatus();

  // Both modes side by side: what encryption and signatures cost.
  const InitialResults& i0 = inits[0];
  const InitialResults& i1 = inits[1];
  const double n = static_cast<double>(i0.cases);
  auto cost = [](double off, double on) { return Percent(1 - on / off); };
  auto more = [](double off, double on, int decimals) {
    return absl::StrCat(on >= off ? "+" : "", Fixed(on - off, decimals));
  };
  std::printf("\nEncryption and signatures (issue 4): the same phases with crypto off (a hub "
              "serving\n--benchmark-without-crypto, nodes that neither sign nor seal) and on, in "
              "this run\n");
  std::vector<TableRow> c;
  const double init_cost = 1 - i1.rate.Median() / i0.rate.Median();
  c.push_back(TableRow{absl::StrCat("initial sync of ", Rate(n), " cases, cases/s"),
                       RateRange(i0.rate), RateRange(i1.rate), Percent(init_cost),
                       absl::StrCat("<= ", Percent(kTargetCryptoCost)),
                       yes(init_cost <= kTargetCryptoCost)});
  if (paired_cost.values.size() > 1) {
    c.push_back(TableRow{"  cost paired within each run", "", "",
                         absl::StrCat(Percent(paired_cost.Median()), " (",
                                      Percent(paired_cost.Min()), "-",
                                      Percent(paired_cost.Max()), ")"),
                         "", ""});
  }
  c.push_back(TableRow{"  as fieldnode times its sync, cases/s", Rate(i0.rate_in_process.Median()),
                       Rate(i1.rate_in_process.Median()),
                       cost(i0.rate_in_process.Median(), i1.rate_in_process.Median()), "", ""});
  c.push_back(TableRow{"  node CPU per case, us", Fixed(1e6 * i0.node_cpu_s.Median() / n, 1),
                       Fixed(1e6 * i1.node_cpu_s.Median() / n, 1),
                       more(1e6 * i0.node_cpu_s.Median() / n, 1e6 * i1.node_cpu_s.Median() / n, 1),
                       "", ""});
  c.push_back(TableRow{"  hub CPU per case, us", Fixed(1e6 * i0.hub_cpu_s.Median() / n, 1),
                       Fixed(1e6 * i1.hub_cpu_s.Median() / n, 1),
                       more(1e6 * i0.hub_cpu_s.Median() / n, 1e6 * i1.hub_cpu_s.Median() / n, 1),
                       "", ""});
  c.push_back(TableRow{"  node peak RSS, MB", Fixed(MB(i0.node_rss_kib), 1),
                       Fixed(MB(i1.node_rss_kib), 1),
                       more(MB(i0.node_rss_kib), MB(i1.node_rss_kib), 1), "", ""});
  c.push_back(TableRow{"  hub peak RSS during it, MB", Fixed(MB(i0.hub_rss_kib), 1),
                       Fixed(MB(i1.hub_rss_kib), 1),
                       more(MB(i0.hub_rss_kib), MB(i1.hub_rss_kib), 1), "", ""});
  c.push_back(TableRow{"  new node's replica, bytes per case",
                       Rate(static_cast<double>(i0.replica_bytes) / n),
                       Rate(static_cast<double>(i1.replica_bytes) / n),
                       more(static_cast<double>(i0.replica_bytes) / n,
                            static_cast<double>(i1.replica_bytes) / n, 0),
                       "", ""});
  c.push_back(TableRow{"  bootstrap on the wire, bytes per case",
                       Rate(static_cast<double>(i0.wire_down + i0.wire_up) / n),
                       Rate(static_cast<double>(i1.wire_down + i1.wire_up) / n),
                       more(static_cast<double>(i0.wire_down + i0.wire_up) / n,
                            static_cast<double>(i1.wire_down + i1.wire_up) / n, 0),
                       "", ""});
  c.push_back(TableRow{"  data key records received (kind 5)",
                       Rate(static_cast<double>(i0.data_key_records)),
                       Rate(static_cast<double>(i1.data_key_records)), "", "", ""});
  c.push_back(TableRow{"seed node local writes, cases/s", Rate(n / i0.seed_write_s),
                       Rate(n / i1.seed_write_s), cost(n / i0.seed_write_s, n / i1.seed_write_s),
                       "", ""});
  c.push_back(TableRow{"seed node push, commits/s", Rate(n / i0.seed_push_s),
                       Rate(n / i1.seed_push_s), cost(n / i0.seed_push_s, n / i1.seed_push_s), "",
                       ""});
  const double e0 = incs[0].bytes_per_edit.Median(), e1 = incs[1].bytes_per_edit.Median();
  c.push_back(TableRow{"incremental: wire bytes per edit", Fixed(e0, 1), Fixed(e1, 1),
                       more(e0, e1, 1), "", ""});
  c.push_back(TableRow{"  push + pull, s",
                       absl::StrCat(Fixed(incs[0].push_s.Median(), 3), " + ",
                                    Fixed(incs[0].pull_s.Median(), 3)),
                       absl::StrCat(Fixed(incs[1].push_s.Median(), 3), " + ",
                                    Fixed(incs[1].pull_s.Median(), 3)),
                       "", "", ""});
  const double t0 = static_cast<double>(thrs[0].commits) / thrs[0].accepted_s.Median();
  const double t1 = static_cast<double>(thrs[1].commits) / thrs[1].accepted_s.Median();
  c.push_back(TableRow{"hub, nodes at once: commits accepted/s", Rate(t0), Rate(t1), cost(t0, t1),
                       "", ""});
  c.push_back(TableRow{"  hub CPU per commit, us",
                       Fixed(1e6 * thrs[0].hub_cpu_s.Median() /
                                 static_cast<double>(thrs[0].commits), 1),
                       Fixed(1e6 * thrs[1].hub_cpu_s.Median() /
                                 static_cast<double>(thrs[1].commits), 1),
                       "", "", ""});
  PrintTable(c, TableRow{"figure", "crypto off", "crypto on", "cost", "target", "met"});
  std::printf("Cost = (off - on) / off of the medians (for rates); for CPU, memory and bytes, "
              "what\ncrypto adds. Target (encryption issue): at most %s of initial-sync "
              "throughput.\n",
              Percent(kTargetCryptoCost).c_str());
  return absl::OkStatus();
}

// Removes the temp dir at exit, whatever the path out.
struct TempDir {
  std::string path;
  ~TempDir() {
    if (path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

int Main(int argc, char** argv) {
  std::optional<Settings> s = ParseSettings(argc, argv);
  if (!s) return 2;

  TempDir temp;
  std::string dir = s->dir;
  if (dir.empty()) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        absl::StrCat(base && *base ? base : "/tmp", "/fieldsync-bench-sync-XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::fprintf(stderr, "fieldsync-bench-sync: cannot make a temp dir from %s: %s\n",
                   tmpl.c_str(), std::strerror(errno));
      return 1;
    }
    dir = temp.path = tmpl;
  } else {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      std::fprintf(stderr, "fieldsync-bench-sync: cannot create %s: %s\n", dir.c_str(),
                   ec.message().c_str());
      return 1;
    }
    if (!fs::is_empty(dir, ec)) {
      std::fprintf(stderr, "fieldsync-bench-sync: %s is not empty; give a new directory\n",
                   dir.c_str());
      return 1;
    }
  }

  std::string cmd = "fieldsync-bench-sync";
  for (int i = 1; i < argc; ++i) absl::StrAppend(&cmd, " ", argv[i]);
  char when[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", std::localtime(&now));
  std::printf("command:  %s\n", cmd.c_str());
  std::printf("date:     %s\n", when);
  std::printf("machine:  nproc %ld, %s, load average %s\n", sysconf(_SC_NPROCESSORS_ONLN),
              ReadFirstLine("/proc/cpuinfo", "model name").c_str(), LoadAverage().c_str());
  std::printf("SQLite:   %s\n", sqlite3_libversion());
  std::printf("dir:      %s (%s)%s\n", dir.c_str(), FsType(dir).c_str(),
              temp.path.empty() ? ", kept" : ", removed at exit");
  std::printf("settings: %lld cases, %lld edits, %lld nodes x %lld commits, %d run%s, %s\n",
              static_cast<long long>(s->cases), static_cast<long long>(s->edits),
              static_cast<long long>(s->nodes), static_cast<long long>(s->node_commits),
              s->repeat, s->repeat > 1 ? "s" : "",
              s->crypto_on && s->crypto_off ? "crypto off and on"
              : s->crypto_on                ? "crypto on"
                                            : "crypto off");
  std::fflush(stdout);

  const auto t0 = Clock::now();
  absl::Status st = Run(*s, dir);
  if (!st.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "fieldsync-bench-sync: %s\n", std::string(st.ToString()).c_str());
    return 1;
  }
  std::printf("\ntotal:    %.0f s, load average now %s\n", SecondsSince(t0),
              LoadAverage().c_str());
  return 0;
}

}  // namespace
}  // namespace fieldsync

int main(int argc, char** argv) { return fieldsync::Main(argc, argv); }
