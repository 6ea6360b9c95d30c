#include "hub/pg/views.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "hub/pg/audit.h"
#include "hub/pg/merge_store.h"
#include "hub/pg/registry_reads.h"
#include "hub/pg/transaction.h"

namespace fieldsync::hub::pg {
namespace {

absl::StatusOr<Version> VersionOf(const Result& r, int row, int hlc_col, int device_col) {
  FS_ASSIGN_OR_RETURN(int64_t hlc, r.Int(row, hlc_col));
  FS_ASSIGN_OR_RETURN(DeviceId device, Id16::FromBytes(r.Bytes(row, device_col), "device"));
  return Version{Hlc::FromPacked(static_cast<uint64_t>(hlc)), device};
}

int64_t Packed(const Hlc& h) { return static_cast<int64_t>(h.packed()); }

}  // namespace

absl::Status RetryLater(absl::Status s) {
  if (!IsRetryable(s) || !absl::StartsWith(s.message(), "PostgreSQL:")) return s;
  return absl::UnavailableError(absl::StrCat(
      s.message(), ": the hub's database turned this write away for a concurrent one; nothing "
      "was stored, try again"));
}

absl::Status PgView::MustWrite(std::string_view call) const {
  if (writer_) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(AV(call), " is the writer's; a snapshot of the PostgreSQL hub store reads "
                   "only"));
}

const Schema& PgView::schema() const { return schema_; }

// ---------------------------------------------------------------------------
// The log.

absl::StatusOr<int64_t> PgView::LogHead() {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT position FROM hub_log_head"));
  if (r.rows() != 1) {
    return absl::DataLossError("the PostgreSQL hub database has lost its log head "
                               "(hub_log_head): restore it from a backup");
  }
  return r.Int(0, 0);
}

absl::StatusOr<std::vector<LogEntry>> PgView::LogEntriesAfter(int64_t after, size_t limit) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT position, author, body, signature, seq FROM "
                                           "hub_log WHERE position > $1 ORDER BY position "
                                           "LIMIT $2",
                                           {Param::Int(after),
                                            Param::Int(static_cast<int64_t>(limit))}));
  std::vector<LogEntry> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    LogEntry e;
    FS_ASSIGN_OR_RETURN(e.position, r.Int(i, 0));
    FS_ASSIGN_OR_RETURN(e.author, Id16::FromBytes(r.Bytes(i, 1), "log author"));
    e.body = r.Bytes(i, 2);
    e.signature = r.Bytes(i, 3);
    FS_ASSIGN_OR_RETURN(int64_t seq, r.Int(i, 4));
    e.seq = static_cast<uint64_t>(seq);
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<uint64_t> PgView::AcknowledgedSeq(const DeviceId& device) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT held_seq FROM hub_authors WHERE device = $1",
                                           {Param::Bytes(device.view())}));
  if (r.rows() == 0) return uint64_t{0};
  FS_ASSIGN_OR_RETURN(int64_t seq, r.Int(0, 0));
  return static_cast<uint64_t>(seq);
}

absl::StatusOr<std::optional<LogEntry>> PgView::CommitOfVersion(const Version& version) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT position, body, signature FROM hub_log "
                                           "WHERE author = $1 AND hlc = $2 ORDER BY position "
                                           "LIMIT 1",
                                           {Param::Bytes(version.device.view()),
                                            Param::Int(Packed(version.hlc))}));
  if (r.rows() == 0) return std::optional<LogEntry>();
  LogEntry e;
  FS_ASSIGN_OR_RETURN(e.position, r.Int(0, 0));
  e.author = version.device;
  e.body = r.Bytes(0, 1);
  e.signature = r.Bytes(0, 2);
  return std::optional<LogEntry>(std::move(e));
}

absl::StatusOr<std::optional<LogEntry>> PgView::LoggedCommit(const DeviceId& device,
                                                             uint64_t seq) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT l.position, l.body, l.signature, c.header, "
                                           "c.sig FROM hub_log l LEFT JOIN hub_chain c ON "
                                           "c.device = l.author AND c.seq = l.seq WHERE "
                                           "l.author = $1 AND l.seq = $2",
                                           {Param::Bytes(device.view()),
                                            Param::Int(static_cast<int64_t>(seq))}));
  if (r.rows() == 0) return std::optional<LogEntry>();
  LogEntry e;
  FS_ASSIGN_OR_RETURN(e.position, r.Int(0, 0));
  e.author = device;
  e.body = r.Bytes(0, 1);
  e.signature = r.Bytes(0, 2);
  e.header = r.Bytes(0, 3);
  e.header_signature = r.Bytes(0, 4);
  return std::optional<LogEntry>(std::move(e));
}

// ---------------------------------------------------------------------------
// Rows.

absl::StatusOr<std::optional<RowSnapshot>> PgView::ExportRow(const std::string& table,
                                                             const RowId& row) {
  FS_ASSIGN_OR_RETURN(std::vector<std::optional<RowSnapshot>> one, ExportRows(table, {row}));
  return std::move(one.front());
}

// Three queries whatever the number of rows: the rows held, their
// registers, their conflict records. The ids as one bytea[], each looked
// up in the key (tbl, row) by a lateral subquery of its own (OFFSET 0):
// `row = ANY($2)` was a filter over every row of the table when the
// statistics were older than the rows (a checkpoint adopted, a bootstrap,
// on a hub filled within autovacuum's round), as the push's reads were
// (PgView::PrefetchScope).
absl::StatusOr<std::vector<std::optional<RowSnapshot>>> PgView::ExportRows(
    const std::string& table, const std::vector<RowId>& rows) {
  const int ti = schema_.TableIndex(table);
  if (ti < 0) return absl::InvalidArgumentError(absl::StrCat("unknown table \"", table, "\""));
  const TableDef& t = schema_.tables()[static_cast<size_t>(ti)];
  std::vector<std::optional<RowSnapshot>> out(rows.size());
  if (rows.empty()) return out;
  std::map<RowId, size_t> at;  // a row's first index in `rows`
  for (size_t i = 0; i < rows.size(); ++i) at.emplace(rows[i], i);
  // Each id once (a lateral lookup per element: a repeated id would repeat
  // its registers).
  std::vector<RowId> ids;
  ids.reserve(at.size());
  for (const auto& e : at) ids.push_back(e.first);
  const std::vector<Param> params = {Param::Text(table), Param::IdArray(ids)};
  // The rows of `from` whose key is (table, an id of $2).
  auto each = [](const char* from) {
    return absl::StrCat(" FROM unnest($2::bytea[]) AS u(id) CROSS JOIN LATERAL (SELECT * FROM ",
                        from, " h WHERE h.tbl = $1 AND h.row = u.id OFFSET 0) AS x");
  };
  // The snapshot a register or conflict record of row i belongs to; null
  // for a row not held (no hub_rows entry: left out, as ExportRow did).
  auto slot_of = [&](const Result& r, int i) -> absl::StatusOr<RowSnapshot*> {
    FS_ASSIGN_OR_RETURN(const RowId row, Id16::FromBytes(r.Bytes(i, 0), "row"));
    auto it = at.find(row);
    if (it == at.end() || !out[it->second].has_value()) return nullptr;
    return &*out[it->second];
  };
  FS_ASSIGN_OR_RETURN(Result held,
                      conn_.Exec(absl::StrCat("SELECT x.row", each("hub_rows")), params));
  for (int i = 0; i < held.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(const RowId row, Id16::FromBytes(held.Bytes(i, 0), "row"));
    auto it = at.find(row);
    if (it == at.end()) continue;
    out[it->second] = RowSnapshot{};
    out[it->second]->table = table;
    out[it->second]->row = row;
  }
  FS_ASSIGN_OR_RETURN(Result f, conn_.Exec(absl::StrCat("SELECT x.row, x.slot, x.hlc, "
                                                        "x.device, x.base_hlc, x.base_device, "
                                                        "x.kind, x.ival, x.sval",
                                                        each("hub_fields"),
                                                        " ORDER BY x.row, x.slot"),
                                           params));
  for (int i = 0; i < f.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(RowSnapshot* snap, slot_of(f, i));
    if (snap == nullptr) continue;
    FS_ASSIGN_OR_RETURN(int64_t slot, f.Int(i, 1));
    if (slot < 0 || static_cast<size_t>(slot) > t.columns.size()) {
      return absl::DataLossError(absl::StrCat("hub_fields holds slot ", slot, " of ", table,
                                              ", which has no such column"));
    }
    FieldState fs;
    fs.column = slot == 0 ? std::string(kLiveColumn)
                          : std::string(t.columns[static_cast<size_t>(slot) - 1].name);
    fs.value = ValueAt(f, i, 6);
    FS_ASSIGN_OR_RETURN(fs.version.version, VersionOf(f, i, 2, 3));
    if (!f.IsNull(i, 4)) {
      FS_ASSIGN_OR_RETURN(fs.version.base, VersionOf(f, i, 4, 5));
    }
    snap->fields.push_back(std::move(fs));
  }
  FS_ASSIGN_OR_RETURN(Result c, conn_.Exec(absl::StrCat("SELECT x.row, x.col, x.hlc, "
                                                        "x.device, x.base_hlc, x.base_device, "
                                                        "x.kind, x.ival, x.sval",
                                                        each("hub_conflicts"),
                                                        " ORDER BY x.row, x.col, x.hlc, "
                                                        "x.device"),
                                           params));
  for (int i = 0; i < c.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(RowSnapshot* snap, slot_of(c, i));
    if (snap == nullptr) continue;
    ConflictRecord rec;
    rec.table = table;
    rec.row = snap->row;
    rec.column = c.Bytes(i, 1);
    FS_ASSIGN_OR_RETURN(rec.version, VersionOf(c, i, 2, 3));
    if (!c.IsNull(i, 4)) {
      FS_ASSIGN_OR_RETURN(rec.base, VersionOf(c, i, 4, 5));
    }
    rec.value = ValueAt(c, i, 6);
    snap->conflicts.push_back(std::move(rec));
  }
  // A row asked for twice is given twice.
  for (size_t i = 0; i < rows.size(); ++i) {
    const size_t first = at[rows[i]];
    if (first != i) out[i] = out[first];
  }
  return out;
}

absl::StatusOr<std::optional<std::vector<Value>>> PgView::CurrentValues(
    const std::string& table, const RowId& row, const std::vector<std::string>& columns) {
  const TableDef* t = schema_.FindTable(table);
  if (t == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown table \"", table, "\""));
  }
  std::vector<int64_t> slots;
  for (const std::string& c : columns) {
    // The liveness register is slot 0, a column as hub.db's rows have it.
    if (c == kLiveColumn) {
      slots.push_back(0);
      continue;
    }
    const int ci = t->ColumnIndex(c);
    if (ci < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("table \"", table, "\" has no column \"", c, "\""));
    }
    slots.push_back(ci + 1);
  }
  // A row the merge of this transaction read or wrote: as it holds it.
  if (merging_ != nullptr) {
    if (const PgMergeStore::HeldRow* held = merging_->Held(table, row)) {
      if (!held->exists) return std::optional<std::vector<Value>>();
      std::vector<Value> out;
      out.reserve(slots.size());
      for (int64_t slot : slots) out.push_back(held->values[static_cast<size_t>(slot)]);
      return std::optional<std::vector<Value>>(std::move(out));
    }
  }
  // One query: no answer if the row is not held, a NULL slot if it holds
  // no register.
  FS_ASSIGN_OR_RETURN(Result f, conn_.Exec("SELECT f.slot, f.kind, f.ival, f.sval FROM hub_rows "
                                           "r LEFT JOIN hub_fields f ON f.tbl = r.tbl AND f.row "
                                           "= r.row WHERE r.tbl = $1 AND r.row = $2",
                                           {Param::Text(table), Param::Bytes(row.view())}));
  if (f.rows() == 0) return std::optional<std::vector<Value>>();
  std::vector<Value> out(columns.size(), Value::Null());
  for (int i = 0; i < f.rows(); ++i) {
    if (f.IsNull(i, 0)) continue;
    FS_ASSIGN_OR_RETURN(int64_t slot, f.Int(i, 0));
    for (size_t k = 0; k < slots.size(); ++k) {
      if (slots[k] == slot) out[k] = ValueAt(f, i, 1);
    }
  }
  return std::optional<std::vector<Value>>(std::move(out));
}

// A table's rows with some of their registers' values, 1,000 rows a
// statement (keyset paging on the row id, inside the caller's snapshot):
// the liveness register (slot 0) and the columns asked, never the others
// (a report reads clear columns only).
absl::Status PgView::ScanRows(const std::string& table, const std::vector<std::string>& columns,
                              bool include_deleted, const Visit& visit) {
  const TableDef* t = schema_.FindTable(table);
  if (t == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown table \"", table, "\""));
  }
  std::vector<int64_t> slots;  // of columns[k]
  std::string slot_list = "0";
  for (const std::string& c : columns) {
    const int ci = t->ColumnIndex(c);
    if (ci < 0) return absl::InvalidArgumentError(absl::StrCat("no column \"", c, "\" in ", table));
    slots.push_back(ci + 1);
    absl::StrAppend(&slot_list, ",", ci + 1);
  }
  constexpr int kPage = 1000;
  std::string after;  // the last row id of the page before ("" sorts first)
  std::vector<Value> values(columns.size());
  while (true) {
    FS_ASSIGN_OR_RETURN(
        Result r,
        conn_.Exec(absl::StrCat("WITH page AS (SELECT row FROM hub_rows WHERE tbl = $1 AND row > "
                                "$2 ORDER BY row LIMIT ",
                                kPage,
                                ") SELECT p.row, f.slot, f.kind, f.ival, f.sval FROM page p "
                                "LEFT JOIN hub_fields f ON f.tbl = $1 AND f.row = p.row AND "
                                "f.slot = ANY(string_to_array($3, ',')::integer[]) ORDER BY "
                                "p.row, f.slot"),
                   {Param::Text(table), Param::Bytes(after), Param::Text(slot_list)}));
    int rows_seen = 0;
    for (int i = 0; i < r.rows();) {
      const std::string id_bytes = r.Bytes(i, 0);
      FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(id_bytes, "hub_rows row"));
      std::fill(values.begin(), values.end(), Value::Null());
      bool live = false;
      for (; i < r.rows() && r.Bytes(i, 0) == id_bytes; ++i) {
        if (r.IsNull(i, 1)) continue;  // a row without a register asked
        FS_ASSIGN_OR_RETURN(int64_t slot, r.Int(i, 1));
        const Value v = ValueAt(r, i, 2);
        if (slot == 0) live = v == Value::Int(1);
        for (size_t k = 0; k < slots.size(); ++k) {
          if (slots[k] == slot) values[k] = v;
        }
      }
      ++rows_seen;
      after = id_bytes;
      if (live || include_deleted) FS_RETURN_IF_ERROR(visit(id, live, values));
    }
    if (rows_seen < kPage) return absl::OkStatus();
  }
}

// Referrals (hub/referral_check.h): the merged row's offices and status,
// with the status's version and its open conflicts, read as ExportRow
// reads the row.
absl::StatusOr<std::optional<ReferralState>> PgView::Referral(const RowId& referral) {
  FS_ASSIGN_OR_RETURN(std::optional<RowSnapshot> row, ExportRow("referrals", referral));
  if (!row) return std::optional<ReferralState>();
  auto text = [](const Value& v) {
    return v.kind() == Value::Kind::kText ? v.str() : std::string();
  };
  ReferralState s;
  for (const FieldState& f : row->fields) {
    if (f.column == "from_office") s.from_office = text(f.value);
    if (f.column == "to_office") s.to_office = text(f.value);
    if (f.column == "status") {
      s.status = text(f.value);
      s.status_version = f.version.version;
    }
  }
  for (const ConflictRecord& k : row->conflicts) {
    if (k.column == "status") s.status_conflicts.emplace_back(k.version, text(k.value));
  }
  return std::optional<ReferralState>(std::move(s));
}

absl::StatusOr<std::optional<std::string>> PgView::RecordedReferralStatus(
    const RowId& referral, const Version& version) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT status FROM hub_referral_status WHERE "
                                           "referral = $1 AND hlc = $2 AND device = $3",
                                           {Param::Bytes(referral.view()),
                                            Param::Int(Packed(version.hlc)),
                                            Param::Bytes(version.device.view())}));
  if (r.rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(r.Bytes(0, 0));
}

absl::Status PgView::RecordReferralStatus(const RowId& referral, const Version& version,
                                          const std::string& status) {
  FS_RETURN_IF_ERROR(MustWrite("RecordReferralStatus"));
  // Kept once (the first status a version wrote): a second writer's insert
  // of the same version does nothing.
  return conn_.DeferRow("hub_referral_status",
                        "INSERT INTO hub_referral_status(referral, hlc, device, status) SELECT * "
                        "FROM unnest($1::bytea[], $2::int8[], $3::bytea[], $4::text[]) ON "
                        "CONFLICT DO NOTHING",
                        0, Connection::OnSameKey::kNextStatement,
                        {Param::Bytes(referral.view()), Param::Int(Packed(version.hlc)),
                         Param::Bytes(version.device.view()), Param::Text(status)});
}

// ---------------------------------------------------------------------------
// The writer's transactions.

// The head's row lock: the writers of every hub process wait here, one at
// a time (docs/POSTGRES.md, "Several hub processes on one database").
absl::StatusOr<int64_t> LockLogHead(Connection& conn) {
  FS_ASSIGN_OR_RETURN(Result h, conn.Exec("SELECT position FROM hub_log_head FOR UPDATE"));
  if (h.rows() != 1) {
    return absl::DataLossError("the PostgreSQL hub database has lost its log head "
                               "(hub_log_head): restore it from a backup");
  }
  return h.Int(0, 0);
}

absl::StatusOr<int64_t> ReadLogScopeFrom(Connection& conn) {
  FS_ASSIGN_OR_RETURN(Result r,
                      conn.Exec("SELECT value FROM hub_meta WHERE key = 'log_scope_from'"));
  if (r.rows() == 0) return int64_t{0};
  const std::string v = r.Bytes(0, 0);
  if (v.size() != 8) {
    return absl::DataLossError("the PostgreSQL hub database's hub_meta 'log_scope_from' is not "
                               "8 bytes: it was changed outside fieldhub; restore it from a "
                               "backup");
  }
  uint64_t u = 0;
  for (char c : v) u = (u << 8) | static_cast<unsigned char>(c);
  return static_cast<int64_t>(u);
}

absl::Status PgView::Locked(const std::function<absl::Status()>& body) {
  // MergeTransaction() and Atomically() took the lock first.
  if (conn_.InTransaction()) return body();
  return RetryLater(InTransaction(conn_, Isolation::kReadCommitted,
                                  [&](Transaction&) -> absl::Status {
    FS_RETURN_IF_ERROR(LockLogHead(conn_).status());
    return Cached(body);
  }));
}

absl::Status PgView::Cached(const std::function<absl::Status()>& body) {
  cache_.emplace();
  absl::Status s = body();
  cache_.reset();
  return s;
}

absl::Status PgView::MergeTransaction(const std::function<absl::Status(MergeStore&)>& body) {
  FS_RETURN_IF_ERROR(MustWrite("MergeTransaction"));
  return RetryLater(InTransaction(conn_, Isolation::kReadCommitted,
                                  [&](Transaction&) -> absl::Status {
    // The head's row lock first: what this one reads after it is the
    // latest committed state.
    FS_ASSIGN_OR_RETURN(const int64_t head, LockLogHead(conn_));
    PgMergeStore store(conn_, schema_, clock_, self_, head);
    merging_ = &store;
    absl::Status s = Cached([&]() { return body(store); });
    merging_ = nullptr;
    if (s.ok()) s = store.error();
    FS_RETURN_IF_ERROR(s);
    if (store.head() == head) return absl::OkStatus();
    return conn_.Defer("UPDATE hub_log_head SET position = $1", {Param::Int(store.head())},
                       "hub_log_head");
  }));
}

absl::Status PgView::Atomically(const std::function<absl::Status()>& body) {
  FS_RETURN_IF_ERROR(MustWrite("Atomically"));
  // Under the head's row lock too: a write that derives what it stores
  // from what it read (the log chain's next hash, a statement's seq, a
  // collection's drops) is then the only writer of every process, as the
  // SQLite store's write transaction is.
  return RetryLater(InTransaction(conn_, Isolation::kReadCommitted,
                                  [&](Transaction&) -> absl::Status {
    FS_RETURN_IF_ERROR(LockLogHead(conn_).status());
    return Cached(body);
  }));
}

// ---------------------------------------------------------------------------
// The registry as the writer sees it (read in its transaction: a
// revocation through another hub process is seen at once).

absl::StatusOr<bool> PgView::NodeActive(const DeviceId& device) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT 1 FROM hub_nodes WHERE device = $1 AND "
                                           "revoked_at IS NULL",
                                           {Param::Bytes(device.view())}));
  return r.rows() == 1;
}

absl::StatusOr<bool> PgView::NodeRevoked(const DeviceId& device) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT 1 FROM hub_nodes WHERE device = $1 AND "
                                           "revoked_at IS NOT NULL",
                                           {Param::Bytes(device.view())}));
  return r.rows() == 1;
}

absl::StatusOr<bool> PgView::DeviceOf(const DeviceId& device, const std::string& province,
                                      bool active) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec(active ? "SELECT 1 FROM hub_nodes WHERE device = $1 "
                                                    "AND province = $2 AND revoked_at IS NULL"
                                                  : "SELECT 1 FROM hub_nodes WHERE device = $1 "
                                                    "AND province = $2",
                                           {Param::Bytes(device.view()), Param::Text(province)}));
  return r.rows() == 1;
}

absl::StatusOr<bool> PgView::ProvinceExists(const std::string& code) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT 1 FROM hub_provinces WHERE code = $1",
                                           {Param::Text(code)}));
  return r.rows() == 1;
}

absl::StatusOr<std::vector<std::string>> PgView::ProvinceCodes() {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT code FROM hub_provinces ORDER BY code"));
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.Bytes(i, 0));
  return out;
}

absl::StatusOr<std::vector<RegisteredDevice>> PgView::Registry() { return ReadRegistry(conn_); }

absl::StatusOr<OfficeRecords> PgView::OfficeRecordsOf(const std::string& province) {
  return ReadOfficeRecords(conn_, province);
}

absl::Status PgView::AppendAudit(int64_t at_millis, const std::string& actor,
                                 const std::string& action, const std::string& detail) {
  FS_RETURN_IF_ERROR(MustWrite("AppendAudit"));
  // With the change it records (inside Atomically or MergeTransaction), or
  // in a transaction of its own: the head's lock and the entry together.
  if (conn_.InTransaction()) return pg::AppendAudit(conn_, at_millis, actor, action, detail);
  return RetryLater(InTransaction(conn_, Isolation::kReadCommitted, [&](Transaction&) {
    return pg::AppendAudit(conn_, at_millis, actor, action, detail);
  }));
}

}  // namespace fieldsync::hub::pg
