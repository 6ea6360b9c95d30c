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
#include <sodium.h>
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "change/id.h"
#include "clock/clock_source.h"
#include "store/replica.h"
#include "tools/bench/common/case_writes.h"
#include "tools/bench/common/raw_sqlite.h"
#include "tools/bench/common/report.h"
#include "tools/bench/common/run_frame.h"
#include "tools/bench/replica/crypto_writes.h"
#include "tools/bench/replica/settings.h"
#include "tools/bench/replica/summary.h"
#include "tools/bench/replica/writes.h"

namespace fieldsync::bench_replica {
namespace {

using bench::LiveCases;
using bench::PageSize;
using bench::Percent;
using bench::Rate;
using bench::RawDb;
using bench::StorageNote;

// "  merge edits, fieldsync      10.359 s wall   6.1 s CPU      38,612 field changes/s  (note)"
// "  merge edits, fieldsync      10.359 s wall   6.1 s CPU      38,612 field changes/s  (note)"
void PrintLine(const char* what, const Seconds& t, double count, const char* unit,
               const std::string& note) {
  std::printf("  %-27s %8.3f s wall %7.2f s CPU %12s %-15s%s%s%s\n", what, t.wall, t.cpu,
              Rate(count / t.wall).c_str(), unit, note.empty() ? "" : " (", note.c_str(),
              note.empty() ? "" : ")");
  std::fflush(stdout);
}

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
        FS_ASSIGN_OR_RETURN(int64_t count, raw->CountCases());
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

  PrintSummary(s, modes);
  return absl::OkStatus();
}

}  // namespace

int Main(int argc, char** argv) {
  std::optional<Settings> s = ParseSettings(argc, argv);
  if (!s) return 2;

  bench::TempDir temp;
  const std::optional<std::string> dir =
      bench::BeginRun(kProgram, argc, argv, s->dir, /*require_empty=*/false, temp);
  if (!dir) return 1;
  std::printf(
      "settings: %lld cases, 15 fields each (profile %s), %lld commits per SQLite "
      "transaction, synchronous %s, cache_size %d KiB, %d run%s%s\n\n",
      static_cast<long long>(s->cases),
      s->profile == bench::CaseProfile::kIntake ? "intake" : "full",
      static_cast<long long>(s->batch),
      s->sync_full && s->sync_normal ? "full and normal"
      : s->sync_full                 ? "full"
                                     : "normal",
      tuning::kCacheSizeKiB, s->repeat, s->repeat > 1 ? "s" : "",
      s->crypto ? "; local writes also with encryption and signatures on" : "");
  std::fflush(stdout);

  absl::Status st = Run(*s, *dir);
  if (!st.ok()) {
    std::fprintf(stderr, "fieldsync-bench: %s\n", std::string(st.ToString()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace fieldsync::bench_replica

int main(int argc, char** argv) { return fieldsync::bench_replica::Main(argc, argv); }
