// fieldsync-bench: how fast the replica writes and merges, beside plain SQLite
// doing the same work with no change tracking. See docs/PERFORMANCE.md.
//
// Figures (each one timed around the library call or SQL statements only;
// building the input is not timed, for fieldsync and for SQLite alike):
//   local writes  cases created per second: one LocalTxn (15 fields) per
//                 case, one commit each, --batch commits per SQLite
//                 transaction (Replica::WriteMany); beside the same rows
//                 INSERTed into a plain table, same PRAGMAs and batching.
//   merge, new    field changes merged per second: the commits of the local
//                 writes, pulled from the writer's log (not timed) and
//                 applied to a fresh replica, --batch commits per Apply;
//                 beside row UPSERTs of the same values into a plain table.
//   merge, edits  the same for commits that set 3-5 fields of rows the
//                 receiver holds (the version comparison of the merge rule).
//   crypto on     the local writes again, in the same run, with a key ring
//                 unlocked and installed (KeyRing::Security): every commit
//                 signed (Ed25519), every sensitive field sealed
//                 (XChaCha20-Poly1305), a data key record made per case;
//                 beside the figure without, and the relative cost
//                 (docs/PERFORMANCE.md, "Encryption (issue 4)").
//   key agent     the crypto-on writes again with the key ring unlocked by
//                 the key agent of `fieldnode unlock` (node/agent.h), a
//                 child process this program starts: every commit signed by
//                 it, a round trip on its Unix socket (and the signature
//                 verified on return); beside the same writes signed
//                 locally. And, once, the time of one signature of a case's
//                 commit, locally and through the agent.
//
// A measurement, not a test: it exits 0 whether or not the targets are met,
// and non-zero only if something fails (or a consistency check does).
#include <sodium.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "change/commit.h"
#include "change/id.h"
#include "change/value.h"
#include "clock/clock_source.h"
#include "crypto/envelope.h"
#include "crypto/identity.h"
#include "crypto/commit_signature.h"
#include "crypto/key_record.h"
#include "node/agent.h"
#include "schema/schema.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "tools/lib/bench_report.h"
#include "tools/lib/case_data.h"

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

// Targets of the performance issue.
constexpr double kTargetCasesPerSec = 50000;
constexpr double kTargetFieldsPerSec = 200000;
// The encryption issue's: signing and sealing cost at most this share of
// local-write throughput.
constexpr double kTargetCryptoCost = 0.30;
// The office of the key ring that seals the crypto-on writes.
constexpr char kOffice[] = "LC";

// The same page cache fieldsync gives its connection (base/tuning.h).
constexpr int kCacheSizeKiB = tuning::kCacheSizeKiB;

// ---------------------------------------------------------------------------
// Settings

struct Settings {
  int64_t cases = 100000;
  int64_t batch = 1000;
  std::string dir;  // empty: a fresh temp dir, removed at exit
  bool quick = false;
  bool sync_full = true;
  bool sync_normal = true;
  int repeat = 1;
  // Also measure local writes with signing and sealing on (--crypto both).
  bool crypto = true;
  // kFull: long narratives and notes, as a case file has after interviews
  // (about 1.1 KB of values). kIntake: the same 15 fields as a hotline call
  // first records them, with short texts (about 0.3 KB).
  enum class Profile { kFull, kIntake } profile = Profile::kFull;
};

void PrintUsage(FILE* out) {
  std::fprintf(
      out,
      "usage: fieldsync-bench [--cases N] [--batch N] [--dir PATH] [--sync MODE]\n"
      "                       [--profile P] [--crypto MODE] [--repeat N] [--quick]\n"
      "                       [--help]\n"
      "\n"
      "Measures the fieldsync replica beside plain SQLite doing the same work:\n"
      "local writes (cases created per second, 15 fields each, change tracking on)\n"
      "and remote apply (field changes merged per second, new rows and edits).\n"
      "\n"
      "  --cases N    cases written and merged (default 100000)\n"
      "  --batch N    commits per SQLite transaction: per WriteMany / Apply call,\n"
      "               and rows per transaction for plain SQLite (default 1000)\n"
      "  --dir PATH   where the database files go; kept afterwards (default: a\n"
      "               fresh directory under $TMPDIR or /tmp, removed at exit)\n"
      "  --sync MODE  full | normal | both: replica durability kFull (fsync at every\n"
      "               commit, the default) and/or kNormal; plain SQLite uses the\n"
      "               matching PRAGMA synchronous (default both)\n"
      "  --repeat N   run every measurement N times, report the median (default 1)\n"
      "  --profile P  full | intake: the case rows written. full: long narrative and\n"
      "               notes (~1.1 KB of values a case); intake: the same 15 fields\n"
      "               with short texts, as first recorded (~0.3 KB) (default full)\n"
      "  --crypto M   both | off: with both, the local writes are measured a second\n"
      "               time in the same run with encryption and signatures on (every\n"
      "               commit signed, the 4 sensitive fields of each case sealed)\n"
      "               and the cost is printed against the 30%% target (default both)\n"
      "  --quick      tiny defaults (500 cases, batch 50, --sync full), for smoke\n"
      "               tests; flags given explicitly still apply\n"
      "  --help       this text\n"
      "\n"
      "Exits 0 whether or not the targets are met; 1 if anything fails, 2 on bad usage.\n");
}

// Returns nullopt after printing an error; exits for --help.
std::optional<Settings> ParseSettings(int argc, char** argv) {
  absl::StatusOr<Args> args =
      ParseArgs(argc, argv, {"cases", "batch", "dir", "sync", "repeat", "profile", "crypto"}, {"quick", "help"});
  if (!args.ok()) {
    std::fprintf(stderr, "fieldsync-bench: %s\n", std::string(args.status().message()).c_str());
    return std::nullopt;
  }
  if (args->Has("help")) {
    PrintUsage(stdout);
    std::exit(0);
  }
  if (!args->positional.empty()) {
    std::fprintf(stderr, "fieldsync-bench: unexpected argument \"%s\"; see --help\n",
                 args->positional.front().c_str());
    return std::nullopt;
  }
  Settings s;
  auto positive = [&](const char* name, int64_t* out) -> bool {
    auto it = args->flags.find(name);
    if (it == args->flags.end()) return true;
    const std::string& value = it->second;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(value.c_str(), &end, 10);
    if (errno != 0 || end == value.c_str() || *end != '\0' || v <= 0) {
      std::fprintf(stderr, "fieldsync-bench: --%s takes a positive integer, got \"%s\"\n", name,
                   value.c_str());
      return false;
    }
    *out = v;
    return true;
  };
  s.quick = args->Has("quick");
  if (s.quick) {  // tiny defaults; explicit flags still win
    s.cases = 500;
    s.batch = 50;
    s.sync_normal = false;
  }
  int64_t repeat = 1;
  if (!positive("cases", &s.cases) || !positive("batch", &s.batch) ||
      !positive("repeat", &repeat)) {
    return std::nullopt;
  }
  s.repeat = static_cast<int>(std::min<int64_t>(repeat, 100));
  s.dir = args->Flag("dir");
  if (args->flags.count("profile")) {
    const std::string p = args->Flag("profile");
    if (p != "full" && p != "intake") {
      std::fprintf(stderr, "fieldsync-bench: --profile takes full or intake, got \"%s\"\n",
                   p.c_str());
      return std::nullopt;
    }
    s.profile = p == "intake" ? Settings::Profile::kIntake : Settings::Profile::kFull;
  }
  if (args->flags.count("crypto")) {
    const std::string c = args->Flag("crypto");
    if (c != "both" && c != "off") {
      std::fprintf(stderr,
                   "fieldsync-bench: --crypto takes both or off, got \"%s\" (the writes "
                   "without crypto are always measured: they are the baseline)\n",
                   c.c_str());
      return std::nullopt;
    }
    s.crypto = c == "both";
  }
  if (args->flags.count("sync")) {
    const std::string mode = args->Flag("sync");
    if (mode != "full" && mode != "normal" && mode != "both") {
      std::fprintf(stderr, "fieldsync-bench: --sync takes full, normal or both, got \"%s\"\n",
                   mode.c_str());
      return std::nullopt;
    }
    s.sync_full = mode != "normal";
    s.sync_normal = mode != "full";
  }
  return s;
}

// ---------------------------------------------------------------------------
// The data: realistic values for 15 of the declared columns of `cases` (the
// others, such as closed_on, deciding_org and crime_reported_at, stay unset:
// the cases are open and not yet decided). Deterministic in the case number,
// so fieldsync and plain SQLite store exactly the same bytes. The plain table
// has every declared column of `cases`, read from the schema.


// Edits touch 3, 4 or 5 of these, in this order.
constexpr const char* kEditColumns[5] = {
    "status", "assigned_officer", "interview_notes", "urgency", "trafficking_status",
};
size_t EditFieldCount(int64_t i) { return 3 + static_cast<size_t>(i % 3); }

// Every case names province kOffice, the office of the key ring that seals
// the crypto-on writes: a node writes the cases of its own office (the hub
// refuses others), and seals them under keys of that office.
std::vector<Value> CaseValues(int64_t i, Settings::Profile profile) {
  return bench::CaseValues(i,
                           profile == Settings::Profile::kIntake ? bench::CaseProfile::kIntake
                                                                 : bench::CaseProfile::kFull,
                           kOffice);
}

// The values of edit number i of case i: EditFieldCount(i) of kEditColumns.
std::vector<Value> EditValues(int64_t i) {
  std::vector<Value> v;
  v.push_back(Value::Text(i % 2 == 0 ? "verifying" : "assisting"));
  v.push_back(Value::Text(bench::Officer(i + 3)));
  v.push_back(Value::Text(absl::StrCat(
      "Phỏng vấn lần 2 (", bench::Date(i + 5),
      "): nạn nhân đã ổn định hơn, đồng ý làm việc với công an tỉnh; cần hỗ trợ học nghề "
      "và hồi hương về với gia đình. Ghi chú số ",
      i, ".")));
  v.push_back(Value::Text(i % 4 == 0 ? "urgent" : "normal"));
  v.push_back(Value::Text("confirmed"));
  v.resize(EditFieldCount(i));
  return v;
}

// ---------------------------------------------------------------------------
// Plain SQLite, for the baselines

absl::Status SqliteError(sqlite3* db, std::string_view doing) {
  return absl::InternalError(absl::StrCat(AV(doing), ": ", sqlite3_errmsg(db)));
}

class RawStmt {
 public:
  RawStmt(sqlite3* db, sqlite3_stmt* st) : db_(db), st_(st) {}
  ~RawStmt() { sqlite3_finalize(st_); }
  RawStmt(const RawStmt&) = delete;
  RawStmt& operator=(const RawStmt&) = delete;

  void Bind(int i, const Value& v) {
    switch (v.kind()) {
      case Value::Kind::kNull:
        sqlite3_bind_null(st_, i);
        break;
      case Value::Kind::kInt:
        sqlite3_bind_int64(st_, i, v.int_value());
        break;
      case Value::Kind::kText:
        sqlite3_bind_text(st_, i, v.str().data(), static_cast<int>(v.str().size()), SQLITE_STATIC);
        break;
      case Value::Kind::kBytes:
        sqlite3_bind_blob(st_, i, v.str().data(), static_cast<int>(v.str().size()), SQLITE_STATIC);
        break;
    }
  }
  void BindBlob(int i, std::string_view b) {
    sqlite3_bind_blob(st_, i, b.data(), static_cast<int>(b.size()), SQLITE_STATIC);
  }
  absl::Status Run() {
    const int rc = sqlite3_step(st_);
    sqlite3_reset(st_);
    if (rc != SQLITE_DONE) return SqliteError(db_, "step");
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> QueryInt() {
    const int rc = sqlite3_step(st_);
    const int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st_, 0) : 0;
    sqlite3_reset(st_);
    if (rc != SQLITE_ROW) return SqliteError(db_, "query");
    return v;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_;
};

class RawDb {
 public:
  // A fresh file with the PRAGMAs the replica uses (store/replica.cc):
  // WAL, synchronous FULL or NORMAL, the same page cache, and a `cases`
  // table with the same key layout and columns, minus the tracking columns.
  // `page_size` is the replica's, so that a change of page size in
  // sync-core is matched here.
  static absl::StatusOr<std::unique_ptr<RawDb>> Create(const std::string& path, bool sync_full,
                                                       int page_size) {
    sqlite3* db = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    std::unique_ptr<RawDb> out(new RawDb(db));
    if (rc != SQLITE_OK) return SqliteError(db, absl::StrCat("open ", path));
    FS_RETURN_IF_ERROR(out->Exec(absl::StrCat("PRAGMA page_size = ", page_size)));
    FS_RETURN_IF_ERROR(
        out->Exec(absl::StrCat("PRAGMA busy_timeout = ", tuning::kBusyTimeoutMillis)));
    FS_RETURN_IF_ERROR(out->Exec("PRAGMA journal_mode = WAL"));
    FS_RETURN_IF_ERROR(
        out->Exec(sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL"));
    FS_RETURN_IF_ERROR(out->Exec(absl::StrCat("PRAGMA cache_size = -", kCacheSizeKiB)));
    const TableDef& t = *FieldOfficeSchema().FindTable("cases");
    // The replica's layout (store/migrations.cc, CreateTableSql) without its
    // two tracking columns: a rowid table with a unique 16-byte id.
    std::string sql = "CREATE TABLE cases(id BLOB NOT NULL UNIQUE";
    for (const ColumnDef& c : t.columns) absl::StrAppend(&sql, ", \"", AV(c.name), "\"");
    absl::StrAppend(&sql, ")");
    FS_RETURN_IF_ERROR(out->Exec(sql));
    return out;
  }
  ~RawDb() {
    stmts_.clear();
    sqlite3_close_v2(db_);
  }

  absl::Status Exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      absl::Status s = absl::InternalError(absl::StrCat(sql, ": ", err ? err : "?"));
      sqlite3_free(err);
      return s;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<RawStmt*> Prepare(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) !=
        SQLITE_OK) {
      return SqliteError(db_, absl::StrCat("prepare ", sql));
    }
    stmts_.push_back(std::make_unique<RawStmt>(db_, st));
    return stmts_.back().get();
  }

 private:
  explicit RawDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::vector<std::unique_ptr<RawStmt>> stmts_;
};

// "INSERT INTO cases(id, a, b) VALUES (?1, ?2, ?3)", with an upsert clause
// setting every given column if `upsert`.
template <size_t N>
std::string InsertSql(const char* const (&cols)[N], size_t n, bool upsert) {
  std::string names, params, updates;
  for (size_t k = 0; k < n; ++k) {
    absl::StrAppend(&names, ", \"", cols[k], "\"");
    absl::StrAppend(&params, ", ?", k + 2);
    absl::StrAppend(&updates, k ? ", " : "", "\"", cols[k], "\" = excluded.\"", cols[k], "\"");
  }
  std::string sql = absl::StrCat("INSERT INTO cases(id", names, ") VALUES (?1", params, ")");
  if (upsert) absl::StrAppend(&sql, " ON CONFLICT(id) DO UPDATE SET ", updates);
  return sql;
}

// ---------------------------------------------------------------------------
// Measurements. Each returns the seconds spent inside the timed calls.

// Wall-clock seconds, and CPU seconds (user + system) of this process, spent
// inside the timed calls. Wall minus CPU is mostly waiting for the disk.
struct Seconds {
  double wall = 0;
  double cpu = 0;
};

double CpuNow() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

class Stopwatch {
 public:
  explicit Stopwatch(Seconds* into) : into_(into), wall0_(Clock::now()), cpu0_(CpuNow()) {}
  ~Stopwatch() {
    into_->wall += std::chrono::duration<double>(Clock::now() - wall0_).count();
    into_->cpu += CpuNow() - cpu0_;
  }
  Stopwatch(const Stopwatch&) = delete;
  Stopwatch& operator=(const Stopwatch&) = delete;

 private:
  Seconds* into_;
  Clock::time_point wall0_;
  double cpu0_;
};


struct Files {
  std::string dir;
  std::string Path(const std::string& name) const { return dir + "/" + name; }
  // Removes a database and its WAL / shared-memory files.
  void Remove(const std::string& name) const {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      fs::remove(Path(name) + suffix, ec);
    }
  }
};

absl::StatusOr<std::unique_ptr<Replica>> OpenReplica(const std::string& path, bool sync_full) {
  ReplicaOptions o;
  o.path = path;
  o.clock = nullptr;                                // the system clock
  o.max_clock_skew_millis = 24LL * 60 * 60 * 1000;  // generous: one day
  o.durability =
      sync_full ? ReplicaOptions::Durability::kFull : ReplicaOptions::Durability::kNormal;
  return Replica::Open(o);
}

// Creates the cases through the replica: one LocalTxn (one commit) per case,
// `batch` commits per WriteMany call.
absl::StatusOr<Seconds> TrackedInsert(Replica& r, const std::vector<RowId>& ids, int64_t batch,
                                      Settings::Profile profile) {
  Seconds total;
  const auto n = static_cast<int64_t>(ids.size());
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t end = std::min(n, start + batch);
    std::vector<LocalTxn> txns(static_cast<size_t>(end - start));
    for (int64_t i = start; i < end; ++i) {
      std::vector<Value> values = CaseValues(i, profile);
      LocalTxn::Fields fields;
      fields.reserve(values.size());
      for (size_t k = 0; k < values.size(); ++k) {
        fields.emplace_back(bench::kCaseColumns[k], std::move(values[k]));
      }
      txns[static_cast<size_t>(i - start)].Create("cases", ids[static_cast<size_t>(i)],
                                                  std::move(fields));
    }
    absl::Status st;
    {
      Stopwatch w(&total);
      st = r.WriteMany(txns).status();
    }
    FS_RETURN_IF_ERROR(st);
  }
  return total;
}

// The same rows through one prepared INSERT (or UPSERT) of plain SQLite.
absl::StatusOr<Seconds> RawInsert(RawDb& db, const std::vector<RowId>& ids, int64_t batch,
                                  bool upsert, Settings::Profile profile) {
  FS_ASSIGN_OR_RETURN(RawStmt * st, db.Prepare(InsertSql(bench::kCaseColumns, 15, upsert)));
  FS_ASSIGN_OR_RETURN(RawStmt * begin, db.Prepare("BEGIN IMMEDIATE"));
  FS_ASSIGN_OR_RETURN(RawStmt * commit, db.Prepare("COMMIT"));
  Seconds total;
  const auto n = static_cast<int64_t>(ids.size());
  std::vector<std::vector<Value>> rows;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t end = std::min(n, start + batch);
    rows.clear();
    for (int64_t i = start; i < end; ++i) rows.push_back(CaseValues(i, profile));
    Stopwatch w(&total);
    FS_RETURN_IF_ERROR(begin->Run());
    for (int64_t i = start; i < end; ++i) {
      const std::vector<Value>& v = rows[static_cast<size_t>(i - start)];
      st->BindBlob(1, ids[static_cast<size_t>(i)].view());
      for (size_t k = 0; k < v.size(); ++k) st->Bind(static_cast<int>(k + 2), v[k]);
      FS_RETURN_IF_ERROR(st->Run());
    }
    FS_RETURN_IF_ERROR(commit->Run());
  }
  return total;
}

// Edits on the writer (not timed): case i gets EditFieldCount(i) fields set.
absl::Status MakeEdits(Replica& r, const std::vector<RowId>& ids, int64_t batch) {
  const auto n = static_cast<int64_t>(ids.size());
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t end = std::min(n, start + batch);
    std::vector<LocalTxn> txns(static_cast<size_t>(end - start));
    for (int64_t i = start; i < end; ++i) {
      std::vector<Value> values = EditValues(i);
      LocalTxn::Fields fields;
      for (size_t k = 0; k < values.size(); ++k) {
        fields.emplace_back(kEditColumns[k], std::move(values[k]));
      }
      txns[static_cast<size_t>(i - start)].Set("cases", ids[static_cast<size_t>(i)],
                                               std::move(fields));
    }
    FS_RETURN_IF_ERROR(r.WriteMany(txns).status());
  }
  return absl::OkStatus();
}

struct MergeRun {
  Seconds seconds;
  int64_t commits = 0;
  int64_t declared_fields = 0;  // field writes of declared columns
  int64_t live_fields = 0;      // writes of the implicit _live register
};

// Pulls the writer's commits with seq in (after_seq, after_seq + count]
// `batch` at a time (not timed) and applies each batch to `to` in one Apply
// call (timed), like a pull.
absl::StatusOr<MergeRun> Merge(Replica& from, Replica& to, uint64_t after_seq, int64_t count,
                               int64_t batch) {
  MergeRun run;
  uint64_t seq = after_seq;
  while (run.commits < count) {
    const size_t want = static_cast<size_t>(std::min(batch, count - run.commits));
    FS_ASSIGN_OR_RETURN(std::vector<Commit> commits, from.LocalCommitsAfter(seq, want));
    if (commits.empty()) return absl::InternalError("the writer's log ended early");
    for (const Commit& c : commits) {
      for (const RowChange& rc : c.changes) {
        for (const FieldWrite& f : rc.fields) {
          (f.column == kLiveColumn ? run.live_fields : run.declared_fields) += 1;
        }
      }
    }
    absl::StatusOr<ApplyResult> res;
    {
      Stopwatch w(&run.seconds);
      res = to.Apply(commits);
    }
    if (!res.ok()) return res.status();
    if (res->applied != commits.size()) {
      return absl::InternalError(
          absl::StrCat("Apply merged ", res->applied, " of ", commits.size(), " commits"));
    }
    seq = commits.back().seq;
    run.commits += static_cast<int64_t>(commits.size());
  }
  return run;
}

// The edits as row UPSERTs of the changed columns (one prepared statement
// per column set), `batch` rows per transaction.
absl::StatusOr<Seconds> RawEdits(RawDb& db, const std::vector<RowId>& ids, int64_t batch) {
  RawStmt* st[6] = {};
  for (size_t k = 3; k <= 5; ++k) {
    FS_ASSIGN_OR_RETURN(st[k], db.Prepare(InsertSql(kEditColumns, k, /*upsert=*/true)));
  }
  FS_ASSIGN_OR_RETURN(RawStmt * begin, db.Prepare("BEGIN IMMEDIATE"));
  FS_ASSIGN_OR_RETURN(RawStmt * commit, db.Prepare("COMMIT"));
  Seconds total;
  const auto n = static_cast<int64_t>(ids.size());
  std::vector<std::vector<Value>> rows;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t end = std::min(n, start + batch);
    rows.clear();
    for (int64_t i = start; i < end; ++i) rows.push_back(EditValues(i));
    Stopwatch w(&total);
    FS_RETURN_IF_ERROR(begin->Run());
    for (int64_t i = start; i < end; ++i) {
      const std::vector<Value>& v = rows[static_cast<size_t>(i - start)];
      RawStmt* s = st[v.size()];
      s->BindBlob(1, ids[static_cast<size_t>(i)].view());
      for (size_t k = 0; k < v.size(); ++k) s->Bind(static_cast<int>(k + 2), v[k]);
      FS_RETURN_IF_ERROR(s->Run());
    }
    FS_RETURN_IF_ERROR(commit->Run());
  }
  return total;
}

absl::StatusOr<int64_t> RawCount(RawDb& db) {
  FS_ASSIGN_OR_RETURN(RawStmt * st, db.Prepare("SELECT count(*) FROM cases"));
  return st->QueryInt();
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

// Where the bytes of a database go (not timed), read through a separate
// read-only connection: "1,234 B/case; cases 98.1 MB (23,456 overflow pages),
// _fs_log ...". Overflow pages are row payload that did not fit the b-tree
// page: each costs a page read and write of its own.
std::string StorageNote(const std::string& path, int64_t cases) {
  sqlite3* db = nullptr;
  std::string note;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    const char* sql =
        "SELECT name, sum(pgsize), sum(pagetype = 'overflow') FROM dbstat "
        "GROUP BY name ORDER BY 2 DESC LIMIT 3";
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK) {
      double total = 0;
      std::string parts;
      while (sqlite3_step(st) == SQLITE_ROW) {
        const double bytes = static_cast<double>(sqlite3_column_int64(st, 1));
        total += bytes;
        char buf[160];
        std::snprintf(buf, sizeof(buf), "; %s %.0f MB (%s overflow pages)",
                      reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), bytes / 1e6,
                      Rate(static_cast<double>(sqlite3_column_int64(st, 2))).c_str());
        parts += buf;
      }
      note = absl::StrCat(Rate(total / static_cast<double>(cases)), " B/case", parts);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close_v2(db);
  return note.empty() ? "size unknown" : note;
}

absl::StatusOr<int64_t> LiveCases(Replica& r) {
  FS_ASSIGN_OR_RETURN(ReplicaStats s, r.Stats());
  for (const auto& [table, n] : s.live_rows) {
    if (table == "cases") return static_cast<int64_t>(n);
  }
  return 0;
}


// ---------------------------------------------------------------------------
// Local writes with encryption and signatures on

// What the crypto-on writes left behind, checked once the timing is over.
struct CryptoWrites {
  Seconds seconds;
  int sensitive_columns = 0;   // of the 15 written, by the schema
  int sealed_per_case = 0;     // stored sealed, in every sampled case
  int64_t data_key_records = 0;  // kind 5 records, one per case expected
  int64_t office_records = 0;    // office key and its share (kinds 1, 2)
  size_t sealed_bytes = 0;       // sealed fields of case 0, stored
  size_t clear_bytes = 0;        // the same values in clear
};

// A fresh replica at `path` with a key ring of office kOffice, unlocked with
// a new device identity and installed: every commit of a local write is then
// signed and every sensitive field sealed, with a data key (and its key
// record) made on the first sealed write of each case. Setting this up is
// not timed; the writes are timed exactly as TrackedInsert times them.
// Checks afterwards (not timed): every case is live, each sampled case has
// its sensitive fields stored sealed and opening to the values written, its
// commit carries a signature, and there is one data key record per case.
// A key agent (node/agent.h) started by this program for `device`, in
// `dir`, and the delegated identity that signs through it; stopped when
// dropped. The agent serves this program: it is the program that started it.
class Agent {
 public:
  static absl::StatusOr<std::unique_ptr<Agent>> Start(const std::string& dir,
                                                      const DeviceId& device) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    fs::permissions(dir, fs::perms::owner_all, ec);
    auto a = std::unique_ptr<Agent>(new Agent(dir));
    FS_RETURN_IF_ERROR(node::StartAgent(dir, crypto::DeviceIdentity::Generate(device),
                                        SystemClock::Get()->NowMillis() + 3'600'000));
    a->started_ = true;
    FS_ASSIGN_OR_RETURN(std::optional<crypto::DeviceIdentity> id, node::AgentIdentity(dir));
    if (!id) return absl::InternalError("the key agent just started does not answer");
    a->identity_ = std::make_unique<crypto::DeviceIdentity>(*std::move(id));
    return a;
  }
  ~Agent() {
    if (started_) node::StopAgent(dir_);
  }
  const crypto::DeviceIdentity& identity() const { return *identity_; }

 private:
  explicit Agent(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  bool started_ = false;
  std::unique_ptr<crypto::DeviceIdentity> identity_;
};

// With `agent_dir`, the key ring is unlocked by a key agent started there:
// every signature is made by it.
absl::StatusOr<CryptoWrites> CryptoInsert(const std::string& path, bool sync_full,
                                          const std::vector<RowId>& ids, int64_t batch,
                                          Settings::Profile profile,
                                          const std::string& agent_dir = "") {
  CryptoWrites out;
  FS_ASSIGN_OR_RETURN(std::unique_ptr<Replica> r, OpenReplica(path, sync_full));
  FS_ASSIGN_OR_RETURN(std::unique_ptr<KeyRing> keys, KeyRing::Open(r.get(), kOffice));
  std::unique_ptr<Agent> agent;
  if (agent_dir.empty()) {
    FS_RETURN_IF_ERROR(keys->Unlock(crypto::DeviceIdentity::Generate(r->device_id())));
  } else {
    FS_ASSIGN_OR_RETURN(agent, Agent::Start(agent_dir, r->device_id()));
    FS_RETURN_IF_ERROR(keys->Unlock(agent->identity().Clone()));
  }
  r->SetSecurity(keys->Security());

  FS_ASSIGN_OR_RETURN(out.seconds, TrackedInsert(*r, ids, batch, profile));

  const auto n = static_cast<int64_t>(ids.size());
  FS_ASSIGN_OR_RETURN(int64_t live, LiveCases(*r));
  if (live != n) {
    return absl::InternalError(absl::StrCat("crypto writer holds ", live, " cases, not ", n));
  }
  const TableDef& t = *r->schema().FindTable("cases");
  for (const char* c : bench::kCaseColumns) {
    const int ci = t.ColumnIndex(c);
    if (ci >= 0 && t.columns[static_cast<size_t>(ci)].sensitivity != Sensitivity::kClear) {
      ++out.sensitive_columns;
    }
  }
  out.sealed_per_case = -1;
  for (int64_t i : {int64_t{0}, n / 2, n - 1}) {
    const RowId& id = ids[static_cast<size_t>(i)];
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, r->Get("cases", id));
    if (!row) return absl::InternalError(absl::StrCat("crypto writer lost case ", i));
    const std::vector<Value> want = CaseValues(i, profile);
    int sealed = 0;
    for (size_t k = 0; k < want.size(); ++k) {
      const std::string col = bench::kCaseColumns[k];
      const auto ci = static_cast<size_t>(t.ColumnIndex(col));
      const Value& stored = row->values[ci];
      const bool sensitive = t.columns[ci].sensitivity != Sensitivity::kClear;
      // Only sensitive columns are judged by the envelope's magic byte: a
      // clear id may begin with it by chance. Clear ones must be as written.
      const bool is_sealed =
          sensitive && stored.kind() == Value::Kind::kBytes && crypto::LooksSealed(stored.str());
      if (sensitive != is_sealed || (!sensitive && stored != want[k])) {
        return absl::InternalError(absl::StrCat("case ", i, ": cases.", col, " is stored ",
                                                is_sealed ? "sealed" : "in clear",
                                                sensitive ? "" : " or was changed"));
      }
      if (!is_sealed) continue;
      ++sealed;
      if (i == 0) {
        out.sealed_bytes += stored.str().size();
        out.clear_bytes += want[k].str().size();
      }
      std::optional<Version> v;
      if (row->versions[ci]) v = row->versions[ci]->version;
      OpenedField opened = keys->Read("cases", id, col, stored, v);
      if (opened.state != OpenedField::State::kOpened || opened.value != want[k]) {
        return absl::InternalError(absl::StrCat("case ", i, ": cases.", col, " does not open (",
                                                AV(OpenedStateName(opened.state)), ": ",
                                                opened.problem, ")"));
      }
    }
    if (out.sealed_per_case >= 0 && sealed != out.sealed_per_case) {
      return absl::InternalError("cases have different numbers of sealed fields");
    }
    out.sealed_per_case = sealed;
  }
  FS_ASSIGN_OR_RETURN(std::vector<Commit> first, r->LocalCommitsAfter(0, 1));
  if (first.empty() || first.front().signature.size() != crypto::kSignatureBytes) {
    return absl::InternalError("the crypto writer's first commit is not signed");
  }
  FS_ASSIGN_OR_RETURN(auto counts, keys->CountRecords());
  for (const auto& [kind, count] : counts) {
    if (kind == crypto::KeyRecordKind::kOfficeDataKey || kind == crypto::KeyRecordKind::kDataKey) {
      out.data_key_records += count;
    } else {
      out.office_records += count;
    }
  }
  if (out.data_key_records != n) {
    return absl::InternalError(absl::StrCat("the crypto writer made ", out.data_key_records,
                                            " data key records for ", n, " cases"));
  }
  return out;
}

// "  merge edits, fieldsync      10.359 s wall   6.1 s CPU      38,612 field changes/s  (note)"
void PrintLine(const char* what, const Seconds& t, double count, const char* unit,
               const std::string& note) {
  std::printf("  %-27s %8.3f s wall %7.2f s CPU %12s %-15s%s%s%s\n", what, t.wall, t.cpu,
              Rate(count / t.wall).c_str(), unit, note.empty() ? "" : " (", note.c_str(),
              note.empty() ? "" : ")");
  std::fflush(stdout);
}

std::string RateRange(const Sample& s) {
  if (s.values.size() < 2) return Rate(s.Median());
  return absl::StrCat(Rate(s.Median()), " (", Rate(s.Min()), "-", Rate(s.Max()), ")");
}

std::string Percent(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", 100 * ratio);
  return buf;
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

// ---------------------------------------------------------------------------

// The time of one signature of a case's commit (as the crypto-on writes
// make them: 15 fields of one new row), locally and through the key agent,
// and of verifying one (which the agent's client does on every signature).
absl::Status SignOnce(const Settings& s, const Files& files) {
  const int count = s.quick ? 500 : 5000;
  const DeviceId device = Id16::NewRandom();
  crypto::DeviceIdentity local = crypto::DeviceIdentity::Generate(device);
  FS_ASSIGN_OR_RETURN(std::unique_ptr<Agent> agent, Agent::Start(files.Path("agent"), device));
  Commit c;
  c.author = device;
  c.seq = 1;
  c.hlc = Hlc::FromParts(SystemClock::Get()->NowMillis(), 0);
  RowChange rc;
  rc.table = "cases";
  rc.row = Id16::NewV7(SystemClock::Get());
  const std::vector<Value> values = CaseValues(0, s.profile);
  for (size_t k = 0; k < values.size(); ++k) {
    FieldWrite w;
    w.column = bench::kCaseColumns[k];
    w.value = values[k];
    rc.fields.push_back(std::move(w));
  }
  c.changes.push_back(rc);
  auto time = [&](auto&& f) -> absl::StatusOr<double> {
    const auto t0 = Clock::now();
    for (int i = 0; i < count; ++i) FS_RETURN_IF_ERROR(f());
    return 1e6 * std::chrono::duration<double>(Clock::now() - t0).count() / count;
  };
  FS_ASSIGN_OR_RETURN(std::string sig, crypto::SignCommit(local, c));
  c.signature = sig;
  FS_ASSIGN_OR_RETURN(double us_local, time([&] { return crypto::SignCommit(local, c).status(); }));
  FS_ASSIGN_OR_RETURN(double us_agent, time([&] {
                        return crypto::SignCommit(agent->identity(), c).status();
                      }));
  FS_ASSIGN_OR_RETURN(double us_verify, time([&] {
                        return crypto::VerifyCommitSignature(c, local.public_keys().sign_pk);
                      }));
  std::printf("[one signature of a case's commit, %d times]\n"
              "  signed locally                %7.1f us\n"
              "  signed by the key agent       %7.1f us  (+%.1f us: the round trip on its "
              "socket and the check of the signature, %.1f us of it)\n\n",
              count, us_local, us_agent, us_agent - us_local, us_verify);
  std::fflush(stdout);
  return absl::OkStatus();
}

struct ModeResults {
  const char* name = "";  // "full" / "normal"
  bool full = true;
  Sample local_tracked, local_raw;  // cases/s, rows/s
  Sample local_crypto;              // cases/s, signing and sealing on
  Sample local_agent;               // the same, signed through the key agent
  Sample crypto_cost;               // 1 - on/off, paired within each run
  Sample agent_cost;                // 1 - agent/local, paired within each run
  double cpu_off = 0, cpu_on = 0;   // CPU seconds of the local writes, summed over runs
  Sample merge_new, merge_new_all;  // declared field changes/s; with _live
  Sample raw_new;                   // field changes/s
  Sample merge_edit, raw_edit;      // field changes/s
  int64_t new_declared = 0, new_live = 0, edit_fields = 0;
};

absl::Status Run(const Settings& s, const std::string& dir) {
  const Files files{dir};
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");

  // Row ids: UUIDv7 made now, as an office would make them.
  std::vector<RowId> ids;
  ids.reserve(static_cast<size_t>(s.cases));
  for (int64_t i = 0; i < s.cases; ++i) ids.push_back(Id16::NewV7(SystemClock::Get()));

  std::vector<ModeResults> modes;
  if (s.sync_full) modes.emplace_back().full = true;
  if (s.sync_normal) modes.emplace_back().full = false;
  for (ModeResults& m : modes) m.name = m.full ? "full" : "normal";

  if (s.crypto) FS_RETURN_IF_ERROR(SignOnce(s, files));

  const double n = static_cast<double>(s.cases);
  bool digest_checked = false;
  for (int rep = 0; rep < s.repeat; ++rep) {
    for (ModeResults& m : modes) {
      const std::string tag = absl::StrCat(m.name, "-", rep);
      std::printf("[run %d/%d, synchronous=%s]\n", rep + 1, s.repeat, m.name);
      std::fflush(stdout);

      // 1. Local writes, tracked; and (1b) the same with encryption and
      //    signatures on, into a replica of its own. The two alternate which
      //    goes first from run to run, so that a drift of the machine's speed
      //    over the run does not fall on one side only.
      const std::string writer_name = absl::StrCat("writer-", tag, ".db");
      files.Remove(writer_name);
      FS_ASSIGN_OR_RETURN(std::unique_ptr<Replica> writer,
                          OpenReplica(files.Path(writer_name), m.full));
      const int page_size = PageSize(files.Path(writer_name));
      Seconds t_tracked;
      auto write_off = [&]() -> absl::Status {
        FS_ASSIGN_OR_RETURN(t_tracked, TrackedInsert(*writer, ids, s.batch, s.profile));
        FS_ASSIGN_OR_RETURN(int64_t live, LiveCases(*writer));
        if (live != s.cases) {
          return absl::InternalError(absl::StrCat("writer holds ", live, " cases, not ", s.cases));
        }
        m.local_tracked.Add(n / t_tracked.wall);
        m.cpu_off += t_tracked.cpu;
        PrintLine("local writes, fieldsync", t_tracked, n, "cases/s",
                  absl::StrCat("page_size ", page_size));
        if (rep == 0) {
          std::printf("    %s\n", StorageNote(files.Path(writer_name), s.cases).c_str());
        }
        return absl::OkStatus();
      };
      Seconds t_crypto;
      auto write_on = [&]() -> absl::Status {
        const std::string name = absl::StrCat("writer-crypto-", tag, ".db");
        files.Remove(name);
        FS_ASSIGN_OR_RETURN(CryptoWrites cw,
                            CryptoInsert(files.Path(name), m.full, ids, s.batch, s.profile));
        t_crypto = cw.seconds;
        m.local_crypto.Add(n / t_crypto.wall);
        m.cpu_on += t_crypto.cpu;
        PrintLine("local writes, crypto on", t_crypto, n, "cases/s",
                  absl::StrCat(cw.sealed_per_case, " fields sealed a case"));
        if (rep == 0) {
          std::printf("    %s\n", StorageNote(files.Path(name), s.cases).c_str());
          std::printf(
              "    check: every commit signed (Ed25519), %d of the %zu fields of each case "
              "sealed (the %d sensitive ones: case 0's %s bytes of values stored as %s), and "
              "open to the values written; %s data key records (kind 5), one a case; %s "
              "office key records\n",
              cw.sealed_per_case, std::size(bench::kCaseColumns), cw.sensitive_columns,
              Rate(static_cast<double>(cw.clear_bytes)).c_str(),
              Rate(static_cast<double>(cw.sealed_bytes)).c_str(),
              Rate(static_cast<double>(cw.data_key_records)).c_str(),
              Rate(static_cast<double>(cw.office_records)).c_str());
        }
        if (s.dir.empty() || rep + 1 < s.repeat) files.Remove(name);
        return absl::OkStatus();
      };
      if (s.crypto && rep % 2 == 1) FS_RETURN_IF_ERROR(write_on());
      FS_RETURN_IF_ERROR(write_off());
      if (s.crypto && rep % 2 == 0) FS_RETURN_IF_ERROR(write_on());
      // 1c. The crypto-on writes signed through the key agent.
      Seconds t_agent;
      if (s.crypto) {
        const std::string name = absl::StrCat("writer-agent-", tag, ".db");
        files.Remove(name);
        FS_ASSIGN_OR_RETURN(CryptoWrites aw, CryptoInsert(files.Path(name), m.full, ids, s.batch,
                                                          s.profile, files.Path("agent")));
        t_agent = aw.seconds;
        m.local_agent.Add(n / t_agent.wall);
        PrintLine("local writes, key agent", t_agent, n, "cases/s",
                  "every commit signed by the key agent");
        const double cost = 1 - t_crypto.wall / t_agent.wall;
        m.agent_cost.Add(cost);
        std::printf("  cost of signing through the key agent this run: %s of crypto-on "
                    "throughput (+%.1f us a case, wall)\n",
                    Percent(cost).c_str(), 1e6 * (t_agent.wall - t_crypto.wall) / n);
        files.Remove(name);
      }
      if (s.crypto) {
        const double cost = 1 - t_tracked.wall / t_crypto.wall;  // 1 - on/off, as rates
        m.crypto_cost.Add(cost);
        std::printf("  cost of signing and sealing this run: %s of local-write throughput "
                    "(%.1f us of CPU a case more)\n",
                    Percent(cost).c_str(), 1e6 * (t_crypto.cpu - t_tracked.cpu) / n);
      }

      // 2. Local writes, plain SQLite INSERT.
      const std::string raw_name = absl::StrCat("raw-insert-", tag, ".db");
      files.Remove(raw_name);
      {
        FS_ASSIGN_OR_RETURN(std::unique_ptr<RawDb> raw,
                            RawDb::Create(files.Path(raw_name), m.full, page_size));
        FS_ASSIGN_OR_RETURN(Seconds t_raw, RawInsert(*raw, ids, s.batch, /*upsert=*/false, s.profile));
        FS_ASSIGN_OR_RETURN(int64_t count, RawCount(*raw));
        if (count != s.cases) return absl::InternalError("raw insert lost rows");
        m.local_raw.Add(n / t_raw.wall);
        PrintLine("local writes, raw INSERT", t_raw, n, "rows/s", "");
        if (rep == 0) std::printf("    %s\n", StorageNote(files.Path(raw_name), s.cases).c_str());
      }
      files.Remove(raw_name);

      // 3. Merge of new cases into a fresh replica.
      const std::string recv_name = absl::StrCat("receiver-", tag, ".db");
      files.Remove(recv_name);
      FS_ASSIGN_OR_RETURN(std::unique_ptr<Replica> receiver,
                          OpenReplica(files.Path(recv_name), m.full));
      FS_ASSIGN_OR_RETURN(MergeRun mnew, Merge(*writer, *receiver, 0, s.cases, s.batch));
      const auto new_fields = static_cast<double>(mnew.declared_fields);
      const auto new_all = static_cast<double>(mnew.declared_fields + mnew.live_fields);
      m.new_declared = mnew.declared_fields;
      m.new_live = mnew.live_fields;
      m.merge_new.Add(new_fields / mnew.seconds.wall);
      m.merge_new_all.Add(new_all / mnew.seconds.wall);
      PrintLine("merge new rows, fieldsync", mnew.seconds, new_fields, "field changes/s",
                absl::StrCat(Rate(new_all / mnew.seconds.wall), " incl. _live; ",
                             Rate(n / mnew.seconds.wall), " commits/s"));

      // 4. The same values as row UPSERTs into a fresh plain table.
      const std::string rawm_name = absl::StrCat("raw-upsert-", tag, ".db");
      files.Remove(rawm_name);
      FS_ASSIGN_OR_RETURN(std::unique_ptr<RawDb> rawm,
                          RawDb::Create(files.Path(rawm_name), m.full, page_size));
      FS_ASSIGN_OR_RETURN(Seconds t_rawm, RawInsert(*rawm, ids, s.batch, /*upsert=*/true, s.profile));
      m.raw_new.Add(new_fields / t_rawm.wall);
      PrintLine("merge new rows, raw UPSERT", t_rawm, new_fields, "field changes/s", "");

      // 5. Edits: made on the writer (not timed), merged into the receiver,
      //    which holds every row and field version they are based on.
      FS_RETURN_IF_ERROR(MakeEdits(*writer, ids, s.batch));
      FS_ASSIGN_OR_RETURN(MergeRun medit, Merge(*writer, *receiver, static_cast<uint64_t>(s.cases),
                                                s.cases, s.batch));
      const auto edit_fields = static_cast<double>(medit.declared_fields);
      m.edit_fields = medit.declared_fields;
      m.merge_edit.Add(edit_fields / medit.seconds.wall);
      PrintLine("merge edits, fieldsync", medit.seconds, edit_fields, "field changes/s",
                absl::StrCat(Rate(n / medit.seconds.wall), " commits/s"));

      // 6. The same edits as UPSERTs of the changed columns.
      FS_ASSIGN_OR_RETURN(Seconds t_rawe, RawEdits(*rawm, ids, s.batch));
      m.raw_edit.Add(edit_fields / t_rawe.wall);
      PrintLine("merge edits, raw UPSERT", t_rawe, edit_fields, "field changes/s", "");

      // Consistency (not timed, once): the receiver must hold exactly what
      // the writer holds.
      if (!digest_checked) {
        FS_ASSIGN_OR_RETURN(std::string dw, writer->StateDigest());
        FS_ASSIGN_OR_RETURN(std::string dr, receiver->StateDigest());
        if (dw != dr) {
          return absl::InternalError(
              absl::StrCat("receiver state digest ", dr, " differs from the writer's ", dw));
        }
        FS_ASSIGN_OR_RETURN(ReplicaStats st, receiver->Stats());
        if (st.open_conflicts != 0) {
          return absl::InternalError(absl::StrCat(st.open_conflicts, " unexpected conflicts"));
        }
        std::printf("  check: receiver state digest equals the writer's, no conflicts\n");
        digest_checked = true;
      }
      std::fflush(stdout);
      writer.reset();
      receiver.reset();
      rawm.reset();
      if (s.dir.empty() || rep + 1 < s.repeat) {
        files.Remove(writer_name);
        files.Remove(recv_name);
        files.Remove(rawm_name);
      }
    }
  }

  // Summary.
  std::printf("\nSummary (median of %d run%s%s)\n", s.repeat, s.repeat > 1 ? "s" : "",
              s.repeat > 1 ? "; min-max in brackets" : "");
  std::vector<TableRow> rows;
  auto yes = [](double v, double target) { return v >= target ? "yes" : "NO"; };
  for (const ModeResults& m : modes) {
    const std::string sync = absl::StrCat(" [sync ", m.name, "]");
    rows.push_back(
        TableRow{absl::StrCat("local writes, cases/s", sync), RateRange(m.local_tracked),
                 RateRange(m.local_raw), Percent(m.local_tracked.Median() / m.local_raw.Median()),
                 Rate(kTargetCasesPerSec), yes(m.local_tracked.Median(), kTargetCasesPerSec)});
    rows.push_back(
        TableRow{absl::StrCat("merge new rows, field changes/s", sync), RateRange(m.merge_new),
                 RateRange(m.raw_new), Percent(m.merge_new.Median() / m.raw_new.Median()),
                 Rate(kTargetFieldsPerSec), yes(m.merge_new.Median(), kTargetFieldsPerSec)});
    rows.push_back(TableRow{absl::StrCat("  same, counting _live writes", sync),
                            RateRange(m.merge_new_all), "", "", Rate(kTargetFieldsPerSec),
                            yes(m.merge_new_all.Median(), kTargetFieldsPerSec)});
    rows.push_back(
        TableRow{absl::StrCat("merge edits, field changes/s", sync), RateRange(m.merge_edit),
                 RateRange(m.raw_edit), Percent(m.merge_edit.Median() / m.raw_edit.Median()),
                 Rate(kTargetFieldsPerSec), yes(m.merge_edit.Median(), kTargetFieldsPerSec)});
  }
  PrintTable(rows);
  if (s.crypto) {
    std::printf("\nEncryption and signatures (issue 4): local writes with every commit signed "
                "and\nthe 4 sensitive fields of each case sealed, beside the same writes "
                "without\n");
    std::vector<TableRow> crows;
    for (const ModeResults& m : modes) {
      const double cost = 1 - m.local_crypto.Median() / m.local_tracked.Median();
      const auto runs = static_cast<double>(m.local_crypto.values.size());
      crows.push_back(TableRow{absl::StrCat("local writes, cases/s [sync ", m.name, "]"),
                               RateRange(m.local_tracked), RateRange(m.local_crypto),
                               Percent(cost), absl::StrCat("<= ", Percent(kTargetCryptoCost)),
                               cost <= kTargetCryptoCost ? "yes" : "NO"});
      if (m.crypto_cost.values.size() > 1) {
        crows.push_back(TableRow{"  cost paired within each run", "", "",
                                 absl::StrCat(Percent(m.crypto_cost.Median()), " (",
                                              Percent(m.crypto_cost.Min()), "-",
                                              Percent(m.crypto_cost.Max()), ")"),
                                 "", ""});
      }
      crows.push_back(TableRow{"  CPU per case, us",
                               Fixed(1e6 * m.cpu_off / (n * runs), 1),
                               Fixed(1e6 * m.cpu_on / (n * runs), 1),
                               absl::StrCat("+", Fixed(1e6 * (m.cpu_on - m.cpu_off) / (n * runs), 1)),
                               "", ""});
    }
    for (const ModeResults& m : modes) {
      const double cost = 1 - m.local_agent.Median() / m.local_crypto.Median();
      crows.push_back(TableRow{absl::StrCat("  signed by the key agent [sync ", m.name, "]"),
                               RateRange(m.local_crypto), RateRange(m.local_agent),
                               Percent(cost), "", ""});
    }
    bench::PrintTable(crows, TableRow{"figure", "crypto off", "crypto on", "cost", "target", "met"});
    std::printf("The key agent rows: crypto on, signed locally (left) and through the key agent "
                "(right).\n");
    std::printf("Cost = (off - on) / off of the medians. Target (encryption issue): at most %s "
                "of\nlocal-write throughput.\n",
                Percent(kTargetCryptoCost).c_str());
  }
  if (!modes.empty()) {
    const ModeResults& m = modes.front();
    std::printf(
        "\nField changes per run: merge new rows %s declared fields (+%s _live writes), "
        "merge edits %s (3-5 per commit).\n",
        Rate(static_cast<double>(m.new_declared)).c_str(),
        Rate(static_cast<double>(m.new_live)).c_str(),
        Rate(static_cast<double>(m.edit_fields)).c_str());
  }
  std::printf(
      "Targets: local writes >= %s cases/s, merge >= %s field changes/s (declared "
      "columns). Ratio = fieldsync / raw SQLite.\n",
      Rate(kTargetCasesPerSec).c_str(), Rate(kTargetFieldsPerSec).c_str());
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
    std::string tmpl = absl::StrCat(base && *base ? base : "/tmp", "/fieldsync-bench-XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::fprintf(stderr, "fieldsync-bench: cannot make a temp dir from %s: %s\n", tmpl.c_str(),
                   std::strerror(errno));
      return 1;
    }
    dir = temp.path = tmpl;
  } else {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      std::fprintf(stderr, "fieldsync-bench: cannot create %s: %s\n", dir.c_str(),
                   ec.message().c_str());
      return 1;
    }
  }

  std::string cmd = "fieldsync-bench";
  for (int i = 1; i < argc; ++i) absl::StrAppend(&cmd, " ", argv[i]);
  char when[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", std::localtime(&now));
  std::printf("command:  %s\n", cmd.c_str());
  std::printf("date:     %s\n", when);
  std::printf("machine:  nproc %ld, %s, load average %s\n", sysconf(_SC_NPROCESSORS_ONLN),
              ReadFirstLine("/proc/cpuinfo", "model name").c_str(),
              [] {
                std::ifstream in("/proc/loadavg");
                std::string a, b, c;
                in >> a >> b >> c;
                return absl::StrCat(a, " ", b, " ", c);
              }()
                  .c_str());
  std::printf("SQLite:   %s\n", sqlite3_libversion());
  std::printf("dir:      %s (%s)%s\n", dir.c_str(), FsType(dir).c_str(),
              temp.path.empty() ? ", kept" : ", removed at exit");
  std::printf(
      "settings: %lld cases, 15 fields each (profile %s), %lld commits per SQLite "
      "transaction, synchronous %s, cache_size %d KiB, %d run%s%s\n\n",
      static_cast<long long>(s->cases),
      s->profile == Settings::Profile::kIntake ? "intake" : "full",
      static_cast<long long>(s->batch),
      s->sync_full && s->sync_normal ? "full and normal"
      : s->sync_full                 ? "full"
                                     : "normal",
      kCacheSizeKiB, s->repeat, s->repeat > 1 ? "s" : "",
      s->crypto ? "; local writes also with encryption and signatures on" : "");
  std::fflush(stdout);

  absl::Status st = Run(*s, dir);
  if (!st.ok()) {
    std::fprintf(stderr, "fieldsync-bench: %s\n", std::string(st.ToString()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace fieldsync

int main(int argc, char** argv) { return fieldsync::Main(argc, argv); }
