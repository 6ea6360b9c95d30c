// Writes sent later, together, in libpq's pipeline mode
// (hub/pg/connection.h: Connection::Defer, Flush; docs/POSTGRES.md, "Round
// trips"). The writer's transaction stores a pushed commit in a dozen
// writes whose answers nobody reads (the row's registers, the log entry,
// its scope keys, its chain entry ...); each of them waited for its answer
// before the next was sent. Deferred, they go in one round trip before the
// next statement that reads (or the COMMIT), in the order they were made:
// what runs after them sees them, as if each had run at once.
#include <libpq-fe.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "hub/pg/connection.h"

namespace fieldsync::hub::pg {
namespace {

// More are sent at once: a push's statements between two reads are far
// fewer; the bound keeps what is held in memory small.
constexpr size_t kMaxDeferred = 256;

std::string LastError(pg_conn* c) {
  std::string s = PQerrorMessage(c);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& ch : s) {
    if (ch == '\n') ch = ' ';
  }
  return s;
}

}  // namespace

absl::Status Connection::Defer(std::string_view sql, std::vector<Param> params) {
  if (!InTransaction()) return Exec(sql, params).status();
  deferred_.push_back(Deferred{std::string(sql), std::move(params)});
  if (deferred_.size() >= kMaxDeferred) return Flush();
  return absl::OkStatus();
}

absl::Status Connection::Flush() {
  if (deferred_.empty()) return absl::OkStatus();
  std::vector<Deferred> batch = std::move(deferred_);
  deferred_.clear();
  auto lost = [&](const char* what) {
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL: could not ", what, " deferred writes: ", LastError(c_)));
  };
  if (PQenterPipelineMode(c_) != 1) return lost("send");
  // One entry per result to read, in order: the statement a prepare made
  // now is for (its name is forgotten if the prepare did not succeed), or
  // null for a statement's own result.
  std::vector<Seen*> expected;
  expected.reserve(batch.size() + 8);
  bool sent = true;
  for (const Deferred& d : batch) {
    const Bound b = Bind(d.params);
    const int n = static_cast<int>(d.params.size());
    Seen* seen = Lookup(d.sql, b);
    if (seen != nullptr && seen->name.empty() && ++seen->uses >= 2) {
      // Its second run: prepared, as Exec prepares it.
      seen->name = absl::StrCat("fs", ++prepared_);
      if (PQsendPrepare(c_, seen->name.c_str(), d.sql.c_str(), n, b.types.data()) != 1) {
        seen->name.clear();
        sent = false;
        break;
      }
      expected.push_back(seen);
    }
    const int ok = seen != nullptr && !seen->name.empty()
                       ? PQsendQueryPrepared(c_, seen->name.c_str(), n, b.values.data(),
                                             b.lengths.data(), b.formats.data(), 1)
                       : PQsendQueryParams(c_, d.sql.c_str(), n, b.types.data(),
                                           b.values.data(), b.lengths.data(), b.formats.data(),
                                           1);
    if (ok != 1) {
      sent = false;
      break;
    }
    expected.push_back(nullptr);
  }
  if (!sent || PQpipelineSync(c_) != 1) {
    // The connection is not usable for this transaction any more; the
    // caller drops it (UNAVAILABLE).
    for (Seen* s : expected) {
      if (s != nullptr) s->name.clear();
    }
    return lost("send");
  }
  absl::Status first;
  for (Seen* prepare : expected) {
    pg_result* r = PQgetResult(c_);
    const ExecStatusType st = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
    if (st == PGRES_PIPELINE_ABORTED) {
      // After an earlier failure: not run (nor prepared).
      if (prepare != nullptr) prepare->name.clear();
    } else {
      absl::Status s = Check(r);
      if (!s.ok()) {
        if (prepare != nullptr) prepare->name.clear();
        // A deferred write's failure is told as a failure of the write
        // (never as "already exists" of the call that sent it).
        if (first.ok()) {
          first = s.code() == absl::StatusCode::kAlreadyExists
                      ? absl::InternalError(s.message())
                      : s;
        }
      }
    }
    if (r != nullptr) PQclear(r);
    if (r == nullptr) break;
    // The end of this statement's results.
    while (pg_result* more = PQgetResult(c_)) PQclear(more);
  }
  // The sync's own result, then out of pipeline mode.
  for (pg_result* r = PQgetResult(c_); r != nullptr; r = PQgetResult(c_)) {
    const bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (sync) break;
  }
  if (PQexitPipelineMode(c_) != 1) {
    return first.ok() ? lost("end the pipeline of") : first;
  }
  return first;
}

}  // namespace fieldsync::hub::pg
