// Writes sent later, together, in libpq's pipeline mode
// (hub/pg/connection.h: Connection::Defer, Flush; docs/POSTGRES.md, "Round
// trips"). The writer's transaction stores a pushed commit in a dozen
// writes whose answers nobody reads (the row's registers, the log entry,
// its scope keys, its chain entry ...); each of them waited for its answer
// before the next was sent. Deferred, they go in one round trip before the
// next statement that reads (or the COMMIT), in the order they were made:
// what runs after them sees them, as if each had run at once.
//
// Rows of a write (DeferRow) go further: a push of 100 commits made 100
// inserts into each of a dozen tables, each parsed, planned and run by the
// server. The rows of one statement deferred in a transaction are kept
// together and sent as one statement over arrays of their values. A row
// joins the last batch of its statement unless something deferred after
// that batch writes (or reads) its table, or may touch any: then it could
// see or change what the row's statement wrote, and the row starts a new
// batch after it, so the table sees its writes in the order made. Tables
// no deferred statement reads or writes together cannot tell the
// difference. A key already in the batch starts a new one too (an upsert
// may not touch a row twice in one statement), or replaces that row where
// the last row of a key decides the outcome alone.
#include <libpq-fe.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "hub/pg/connection.h"

namespace fieldsync::hub::pg {
namespace {

// More are sent at once: a push's statements between two reads are far
// fewer; the bound keeps what is held in memory small.
// Rows of batches count one each.
constexpr size_t kMaxDeferred = 4096;

std::string LastError(pg_conn* c) {
  std::string s = PQerrorMessage(c);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& ch : s) {
    if (ch == '\n') ch = ' ';
  }
  return s;
}

}  // namespace

absl::Status Connection::Defer(std::string_view sql, std::vector<Param> params,
                               std::string_view table) {
  if (!InTransaction()) return Exec(sql, params).status();
  Deferred d;
  d.sql = std::string(sql);
  d.params = std::move(params);
  d.table = std::string(table);
  deferred_.push_back(std::move(d));
  if (++deferred_rows_ >= kMaxDeferred) return Flush();
  return absl::OkStatus();
}

bool Connection::Commutes(const Deferred& e, const RowWrite& w, const std::string& key) {
  const std::string_view key_table = w.key_table.empty() ? w.table : w.key_table;
  if (!e.batch) return !e.table.empty() && e.table != w.table && e.table != key_table;
  const bool write_write = e.table == w.table;
  const bool reads_e = key_table != w.table && key_table == e.table;
  const bool e_reads = e.key_table != e.table && e.key_table == w.table;
  // The same row of one table, by the same key on both sides, not in e.
  const bool other_rows = w.key > 0 && e.key > 0 && e.key_table == key_table &&
                          e.keys.count(key) == 0;
  if (write_write && !(w.adds_only && e.adds_only) &&
      !(other_rows && key_table == w.table)) {
    return false;
  }
  if ((reads_e || e_reads) && !other_rows) return false;
  return true;
}

absl::Status Connection::DeferRow(const RowWrite& w, std::vector<Param> row) {
  for (const Param& p : row) {
    if (p.kind() == Param::Kind::kNull || p.array()) {
      return absl::InternalError(absl::StrCat("a batched row of ", std::string(w.table),
                                              " has an untyped NULL or an array"));
    }
  }
  if (!InTransaction()) {
    // Outside a transaction it runs at once (a batch of one).
    Deferred d;
    d.rows.push_back(std::move(row));
    return Exec(w.sql, Columns(d)).status();
  }
  std::string k;
  for (size_t i = 0; i < w.key && i < row.size(); ++i) {
    absl::StrAppend(&k, row[i].null() ? "n" : "v", row[i].wire().size(), ":", row[i].wire());
  }
  // The last batch of its statement it may join: every write deferred
  // after that batch may be sent after the row.
  Deferred* batch = nullptr;
  for (auto it = deferred_.rbegin(); it != deferred_.rend(); ++it) {
    if (it->batch && it->sql == w.sql) {
      batch = &*it;
      break;
    }
    if (!Commutes(*it, w, k)) break;
  }
  if (batch != nullptr) {
    const std::vector<Param>& first = batch->rows.front();
    bool same_kinds = first.size() == row.size();
    for (size_t i = 0; same_kinds && i < row.size(); ++i) {
      same_kinds = first[i].kind() == row[i].kind();
    }
    if (!same_kinds) {
      return absl::InternalError(absl::StrCat("a batched row of ", std::string(w.table),
                                              " differs in its values' kinds"));
    }
    if (w.key > 0) {
      auto held = batch->keys.find(k);
      if (held != batch->keys.end()) {
        if (w.same_key == OnSameKey::kReplace) {
          batch->rows[held->second] = std::move(row);
          return absl::OkStatus();
        }
        if (w.same_key == OnSameKey::kNextStatement) batch = nullptr;
      }
    }
  }
  if (batch == nullptr) {
    Deferred d;
    d.sql = std::string(w.sql);
    d.table = std::string(w.table);
    d.batch = true;
    d.key = w.key;
    d.key_table = std::string(w.key_table.empty() ? w.table : w.key_table);
    d.adds_only = w.adds_only;
    deferred_.push_back(std::move(d));
    batch = &deferred_.back();
  }
  if (w.key > 0) batch->keys.emplace(std::move(k), batch->rows.size());
  batch->rows.push_back(std::move(row));
  if (++deferred_rows_ >= kMaxDeferred) return Flush();
  return absl::OkStatus();
}

std::vector<Param> Connection::Columns(const Deferred& batch) {
  std::vector<Param> out;
  const size_t n = batch.rows.front().size();
  std::vector<const Param*> column(batch.rows.size());
  for (size_t c = 0; c < n; ++c) {
    for (size_t r = 0; r < batch.rows.size(); ++r) column[r] = &batch.rows[r][c];
    out.push_back(Param::ArrayOf(batch.rows.front()[c].kind(), column));
  }
  return out;
}

absl::Status Connection::Flush() {
  if (deferred_.empty()) return absl::OkStatus();
  std::vector<Deferred> batch = std::move(deferred_);
  deferred_.clear();
  deferred_rows_ = 0;
  for (Deferred& d : batch) {
    if (d.batch) d.params = Columns(d);
  }
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
