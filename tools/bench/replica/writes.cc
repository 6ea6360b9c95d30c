#include "tools/bench/replica/writes.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tools/bench/common/case_writes.h"

namespace fieldsync::bench_replica {
namespace {

using bench::RawStmt;
using bench::Stopwatch;

// Edits touch 3, 4 or 5 of these, in this order.
constexpr const char* kEditColumns[5] = {
    "status", "assigned_officer", "interview_notes", "urgency", "trafficking_status",
};
size_t EditFieldCount(int64_t i) { return 3 + static_cast<size_t>(i % 3); }

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

// Runs the rows values(i) for i in [0, ids.size()) through plain SQLite,
// `batch` rows per transaction, each row by the statement `pick` chooses
// for its values. Only BEGIN to COMMIT is timed.
template <typename ValuesOf, typename Pick>
absl::StatusOr<Seconds> RawRows(bench::RawDb& db, const std::vector<RowId>& ids, int64_t batch,
                                ValuesOf values, Pick pick) {
  FS_ASSIGN_OR_RETURN(RawStmt * begin, db.Prepare("BEGIN IMMEDIATE"));
  FS_ASSIGN_OR_RETURN(RawStmt * commit, db.Prepare("COMMIT"));
  Seconds total;
  const auto n = static_cast<int64_t>(ids.size());
  std::vector<std::vector<Value>> rows;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t end = std::min(n, start + batch);
    rows.clear();
    for (int64_t i = start; i < end; ++i) rows.push_back(values(i));
    Stopwatch w(&total);
    FS_RETURN_IF_ERROR(begin->Run());
    for (int64_t i = start; i < end; ++i) {
      const std::vector<Value>& v = rows[static_cast<size_t>(i - start)];
      RawStmt* s = pick(v);
      s->BindBlob(1, ids[static_cast<size_t>(i)].view());
      for (size_t k = 0; k < v.size(); ++k) s->Bind(static_cast<int>(k + 2), v[k]);
      FS_RETURN_IF_ERROR(s->Run());
    }
    FS_RETURN_IF_ERROR(commit->Run());
  }
  return total;
}

}  // namespace

void Files::Remove(const std::string& name) const {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::remove(Path(name) + suffix, ec);
  }
}

absl::StatusOr<std::unique_ptr<Replica>> OpenReplica(const std::string& path, bool sync_full) {
  ReplicaOptions o;
  o.path = path;
  o.clock = nullptr;                                // the system clock
  o.max_clock_skew_millis = 24LL * 60 * 60 * 1000;  // generous: one day
  o.durability =
      sync_full ? ReplicaOptions::Durability::kFull : ReplicaOptions::Durability::kNormal;
  return Replica::Open(o);
}

std::vector<Value> OfficeCaseValues(int64_t i, CaseProfile profile) {
  return bench::CaseValues(i, profile, kOffice);
}

absl::StatusOr<Seconds> TrackedInsert(Replica& r, const std::vector<RowId>& ids, int64_t batch,
                                      CaseProfile profile) {
  Seconds total;
  const size_t n = ids.size();
  for (size_t start = 0; start < n; start += static_cast<size_t>(batch)) {
    const size_t end = std::min(n, start + static_cast<size_t>(batch));
    std::vector<LocalTxn> txns = bench::CaseTxns(ids, start, end, 0, profile, kOffice);
    absl::Status st;
    {
      Stopwatch w(&total);
      st = r.WriteMany(txns).status();
    }
    FS_RETURN_IF_ERROR(st);
  }
  return total;
}

absl::StatusOr<Seconds> RawInsert(bench::RawDb& db, const std::vector<RowId>& ids, int64_t batch,
                                  bool upsert, CaseProfile profile) {
  FS_ASSIGN_OR_RETURN(RawStmt * st, db.Prepare(bench::InsertSql(bench::kCaseColumns, 15, upsert)));
  return RawRows(
      db, ids, batch, [&](int64_t i) { return OfficeCaseValues(i, profile); },
      [&](const std::vector<Value>&) { return st; });
}

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

absl::StatusOr<Seconds> RawEdits(bench::RawDb& db, const std::vector<RowId>& ids, int64_t batch) {
  RawStmt* st[6] = {};
  for (size_t k = 3; k <= 5; ++k) {
    FS_ASSIGN_OR_RETURN(st[k], db.Prepare(bench::InsertSql(kEditColumns, k, /*upsert=*/true)));
  }
  return RawRows(db, ids, batch, EditValues,
                 [&](const std::vector<Value>& v) { return st[v.size()]; });
}

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

}  // namespace fieldsync::bench_replica
