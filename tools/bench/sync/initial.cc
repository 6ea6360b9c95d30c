#include "tools/bench/sync/initial.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "clock/clock_source.h"
#include "crypto/envelope.h"
#include "crypto/key_record.h"
#include "schema/schema.h"
#include "store/data_dir.h"
#include "store/keyring.h"
#include "tools/bench/common/case_writes.h"
#include "tools/bench/common/raw_sqlite.h"
#include "tools/bench/common/timing.h"
#include "tools/bench/sync/processes.h"
#include "tools/lib/cutting_proxy.h"

namespace fieldsync::bench_sync {
namespace {

namespace fs = std::filesystem;
using bench::Clock;
using bench::Fixed;
using bench::MB;
using bench::Percent;
using bench::Rate;
using bench::SecondsSince;
using testing::CuttingProxy;
using testing::Direction;

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
    for (const char* w : bench::kCaseColumns) written |= c.name == w;
    bool shown = false;
    for (const ColumnDef& d : t.columns) shown |= d.derived_from == c.name;
    n += written || !shown ? 1 : 0;
  }
  return n;
}

// INSERTs the cases `ids` (the same values the seed node wrote) into a fresh
// plain SQLite file (bench::RawDb: the replica's PRAGMAs, synchronous FULL,
// its page size and table layout minus the tracking columns), all in one
// transaction. Returns the seconds from BEGIN to COMMIT, building the rows
// excluded.
absl::StatusOr<double> RawInsert(const std::string& path, int page_size,
                                 const std::vector<RowId>& ids, const std::string& province) {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<bench::RawDb> db,
                      bench::RawDb::Create(path, /*sync_full=*/true, page_size));
  FS_ASSIGN_OR_RETURN(bench::RawStmt * insert,
                      db->Prepare(bench::InsertSql(bench::kCaseColumns, 15, /*upsert=*/false)));
  FS_ASSIGN_OR_RETURN(bench::RawStmt * begin, db->Prepare("BEGIN IMMEDIATE"));
  FS_ASSIGN_OR_RETURN(bench::RawStmt * commit, db->Prepare("COMMIT"));
  bench::Seconds seconds;
  {
    bench::Stopwatch w(&seconds);
    FS_RETURN_IF_ERROR(begin->Run());
  }
  std::vector<std::vector<Value>> rows;
  for (size_t start = 0; start < ids.size(); start += kWriteBatch) {
    const size_t end = std::min(ids.size(), start + kWriteBatch);
    rows.clear();
    for (size_t k = start; k < end; ++k) {
      rows.push_back(bench::CaseValues(static_cast<int64_t>(k), bench::CaseProfile::kFull,
                                       province));
    }
    bench::Stopwatch w(&seconds);
    for (size_t k = start; k < end; ++k) {
      const std::vector<Value>& v = rows[k - start];
      insert->BindBlob(1, ids[k].view());
      for (size_t c = 0; c < v.size(); ++c) insert->Bind(static_cast<int>(c + 2), v[c]);
      FS_RETURN_IF_ERROR(insert->Run());
    }
  }
  {
    bench::Stopwatch w(&seconds);
    FS_RETURN_IF_ERROR(commit->Run());
  }
  FS_ASSIGN_OR_RETURN(int64_t n, db->CountCases());
  if (n != static_cast<int64_t>(ids.size())) {
    return absl::InternalError(absl::StrCat("plain SQLite holds ", n, " rows, not ", ids.size()));
  }
  return seconds.wall;
}

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
  // The office's checkpoint of today (docs/PROTOCOL.md, "Checkpoints"),
  // signed by a member (the office's first device): a new node is
  // bootstrapped in verified pages of it. Not measured.
  if (mode.crypto) {
    FS_RETURN_IF_ERROR(Context(seed->BecomeFirstDevice(), "making the seed node the first device"));
    seed->client().set_checkpoint_interval(0);
    FS_ASSIGN_OR_RETURN(node::SyncReport ck, SyncNode(*seed, hub, "seed node, checkpoint"));
    if (!ck.chain.checkpoint_adopted) {
      return absl::InternalError(absl::StrCat(
          "the hub did not adopt the seed node's checkpoint: ",
          ck.key_notes.empty() ? std::string("no checkpoint made") : ck.key_notes.back()));
    }
  }
  FS_ASSIGN_OR_RETURN(res.seed_digest, seed->replica().StateDigest());
  // The seed's replica (and its page cache) is not needed any more.
  return absl::OkStatus();
}

int64_t FileBytes(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(n);
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
    FS_ASSIGN_OR_RETURN(int64_t live, bench::LiveCases(*fresh));
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
  const int page_size = bench::PageSize(replica_path);
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

}  // namespace

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

}  // namespace fieldsync::bench_sync
