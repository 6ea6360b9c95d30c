#include "hub/pg/move.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "hub/audit.h"
#include "hub/pg/audit.h"
#include "hub/pg/connection.h"
#include "hub/pg/merge_store.h"
#include "hub/pg/schema.h"
#include "hub/pg/transaction.h"
#include "hub/pg/views.h"
#include "hub/sqlite_store.h"
#include "hub/store_digest.h"
#include "store/sqlite.h"

namespace fieldsync::hub::pg {
namespace {

// One table copied as it is: the same rows, column for column.
struct TableCopy {
  const char* table;    // the PostgreSQL table (hub/pg/schema.cc)
  const char* select;   // on hub.db: its rows, columns in `columns`' order
  const char* columns;  // of `table`
  // Each column's kind: i int8, t text, b bytea, B boolean (hub.db's 0/1),
  // L text[] (hub.db's JSON array, given joined by 0x1f).
  const char* kinds;
};

// In load order (a table before those that refer to it). hub.db's tables
// of the same name hold the same columns (docs/FORMATS.md, "Hub file
// additions"; docs/POSTGRES.md, "Schema"); the log and each author's
// commits held come from the replica's own (_fs_log, _fs_signatures,
// _fs_devices).
constexpr TableCopy kCopies[] = {
    {"hub_provinces", "SELECT code, name, created_at FROM hub_provinces", "code, name, created_at",
     "tti"},
    {"hub_tokens", "SELECT hash, province, created_at, expires_at, used_at, used_by FROM hub_tokens",
     "hash, province, created_at, expires_at, used_at, used_by", "btiiib"},
    {"hub_nodes",
     "SELECT device, name, province, secret_hash, enrolled_at, last_seen, cursor, protocol, "
     "clock_skew, revoked_at, sign_pk, box_pk, revoked_position, delivered, link_pk FROM "
     "hub_nodes",
     "device, name, province, secret_hash, enrolled_at, last_seen, cursor, protocol, clock_skew, "
     "revoked_at, sign_pk, box_pk, revoked_position, delivered, link_pk",
     "bttbiiiiiibbiib"},
    {"hub_audit", "SELECT seq, at, actor, action, detail, prev_hash, entry_hash FROM hub_audit",
     "seq, at, actor, action, detail, prev_hash, entry_hash", "iittttt"},
    {"hub_keys", "SELECT seq, id, kind, province, keyring, signer, stored_at, bytes FROM hub_keys",
     "seq, id, kind, province, keyring, signer, stored_at, bytes", "ibitbbib"},
    {"hub_keys_erased", "SELECT seq, id, stored_at FROM hub_keys_erased", "seq, id, stored_at",
     "ibi"},
    {"hub_log",
     "SELECT l.pos, d.id, l.seq, l.body, s.sig, l.hlc FROM _fs_log l JOIN _fs_devices d ON "
     "d.idx = l.device LEFT JOIN _fs_signatures s ON s.pos = l.pos",
     "position, author, seq, body, signature, hlc", "ibibbi"},
    {"hub_log_scope", "SELECT province, position FROM hub_log_scope", "province, position", "ti"},
    {"hub_chain", "SELECT device, seq, position, header, sig, link FROM hub_chain",
     "device, seq, position, header, sig, link", "biibbb"},
    {"hub_authors", "SELECT id, max_seq, max_hlc FROM _fs_devices", "device, held_seq, max_hlc",
     "bii"},
    {"hub_row_scope",
     "SELECT tbl, row, owner, case_id, restricted, deleted_pos, deleted_at, ever_public FROM "
     "hub_row_scope",
     "tbl, row, owner, case_id, restricted, deleted_pos, deleted_at, ever_public", "tbtbBiiB"},
    {"hub_public", "SELECT tbl, row, position FROM hub_public", "tbl, row, position", "tbi"},
    {"hub_grants", "SELECT case_id, province, position FROM hub_grants",
     "case_id, province, position", "bti"},
    {"hub_moves", "SELECT province, tbl, row, position FROM hub_moves",
     "province, tbl, row, position", "ttbi"},
    {"hub_person_case", "SELECT person, case_id FROM hub_person_case", "person, case_id", "bb"},
    {"hub_log_subject", "SELECT subject, position FROM hub_log_subject", "subject, position", "bi"},
    {"hub_erased", "SELECT keyring, erased_at, by_device FROM hub_erased",
     "keyring, erased_at, by_device", "bib"},
    {"hub_log_hash", "SELECT position, hash FROM hub_log_hash", "position, hash", "ib"},
    {"hub_statements", "SELECT device, province, created, seq, bytes FROM hub_statements",
     "device, province, created, seq, bytes", "btiib"},
    {"hub_checkpoints",
     "SELECT id, province, position, leaves, adopted_at, gc_epoch, seq, statement FROM "
     "hub_checkpoints",
     "id, province, position, leaves, adopted_at, gc_epoch, seq, statement", "btiiiiib"},
    {"hub_checkpoint_rows", "SELECT checkpoint, idx, tbl, row, state, leaf FROM hub_checkpoint_rows",
     "checkpoint, idx, tbl, row, state, leaf", "bitbbb"},
    {"hub_referral_status", "SELECT referral, hlc, device, status FROM hub_referral_status",
     "referral, hlc, device, status", "bibt"},
    {"hub_purged",
     "SELECT tbl, row, position, epoch, shared, coalesce((SELECT group_concat(value, char(31)) "
     "FROM json_each(provinces)), '') FROM hub_purged",
     "tbl, row, position, epoch, shared, provinces", "tbiiBL"},
};

std::string Int8(int64_t v) {
  std::string b(8, '\0');
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(static_cast<uint64_t>(v) >> (56 - 8 * i));
  return b;
}

absl::StatusOr<int64_t> PgCount(Connection& conn, const std::string& table) {
  FS_ASSIGN_OR_RETURN(Result r, conn.Exec(absl::StrCat("SELECT count(*)::bigint FROM ", table)));
  return r.Int(0, 0);
}

// Copies one table; the rows read.
absl::StatusOr<int64_t> CopyTable(sqlite::Db& db, Connection& conn, const TableCopy& c) {
  const std::string kinds = c.kinds;
  std::string values;
  for (size_t i = 0; i < kinds.size(); ++i) {
    absl::StrAppend(&values, i == 0 ? "" : ", ",
                    kinds[i] == 'L' ? absl::StrCat("string_to_array($", i + 1, ", chr(31))")
                                    : absl::StrCat("$", i + 1));
  }
  // hub_keys.seq is an identity column: the seqs laptops know are kept.
  const std::string insert =
      absl::StrCat("INSERT INTO ", c.table, "(", c.columns, ") ",
                   std::string_view(c.table) == "hub_keys" ? "OVERRIDING SYSTEM VALUE " : "",
                   "VALUES (", values, ")");
  FS_ASSIGN_OR_RETURN(sqlite::ScopedStmt st, db.Prepared(c.select));
  int64_t n = 0;
  std::vector<Param> p;
  while (true) {
    FS_ASSIGN_OR_RETURN(const bool row, st->Step());
    if (!row) break;
    p.clear();
    for (size_t i = 0; i < kinds.size(); ++i) {
      const int col = static_cast<int>(i);
      const bool null = st->ColumnIsNull(col);
      switch (kinds[i]) {
        case 'i': p.push_back(null ? Param::NullInt() : Param::Int(st->ColumnInt(col))); break;
        case 'b': p.push_back(null ? Param::NullBytes() : Param::Bytes(st->ColumnBlob(col))); break;
        case 'B': p.push_back(Param::Bool(!null && st->ColumnInt(col) != 0)); break;
        default:  p.push_back(null ? Param::Null() : Param::Text(st->ColumnBlob(col))); break;
      }
    }
    absl::Status s = conn.Exec(insert, p).status();
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat(c.table, ": ", s.message()));
    ++n;
  }
  return n;
}

// hub.db's hub_meta `key` as an integer (0 if absent), its text as is.
absl::StatusOr<int64_t> MetaInt(sqlite::Db& db, const char* key) {
  FS_ASSIGN_OR_RETURN(sqlite::ScopedStmt st, db.Prepared("SELECT value FROM hub_meta WHERE key = ?1"));
  st->BindText(1, key);
  FS_ASSIGN_OR_RETURN(const bool found, st->Step());
  return found ? st->ColumnInt(0) : 0;
}
absl::StatusOr<std::string> MetaText(sqlite::Db& db, const char* key) {
  FS_ASSIGN_OR_RETURN(sqlite::ScopedStmt st, db.Prepared("SELECT value FROM hub_meta WHERE key = ?1"));
  st->BindText(1, key);
  FS_ASSIGN_OR_RETURN(const bool found, st->Step());
  return found ? st->ColumnString(0) : std::string();
}

absl::StatusOr<int64_t> SqliteInt(sqlite::Db& db, const std::string& sql) {
  FS_ASSIGN_OR_RETURN(sqlite::ScopedStmt st, db.Prepared(sql));
  FS_ASSIGN_OR_RETURN(const bool found, st->Step());
  return found ? st->ColumnInt(0) : 0;
}

// The merged rows: each row's registers and conflict records as hub.db's
// replica holds them (HubReadTxn::ExportRow), in hub_rows, hub_fields and
// hub_conflicts (slot 0 the liveness register, c + 1 column c, as the
// merge's storage keeps them: hub/pg/merge_store.cc).
absl::Status CopyRow(Connection& conn, const TableDef& table, const RowSnapshot& s) {
  FS_RETURN_IF_ERROR(conn.Exec("INSERT INTO hub_rows(tbl, row) VALUES ($1, $2)",
                               {Param::Text(s.table), Param::Bytes(s.row.view())})
                         .status());
  auto base = [](const std::optional<Version>& b, std::vector<Param>* p) {
    p->push_back(b ? Param::Int(static_cast<int64_t>(b->hlc.packed())) : Param::NullInt());
    p->push_back(b ? Param::Bytes(b->device.view()) : Param::NullBytes());
  };
  for (const FieldState& f : s.fields) {
    int64_t slot = -1;
    if (f.column == kLiveColumn) slot = 0;
    for (size_t c = 0; c < table.columns.size() && slot < 0; ++c) {
      if (table.columns[c].name == f.column) slot = static_cast<int64_t>(c) + 1;
    }
    if (slot < 0) {
      return absl::DataLossError(absl::StrCat("hub.db's ", s.table, " row ", s.row.ToString(),
                                              " holds a field ", f.column,
                                              " its table does not declare"));
    }
    std::vector<Param> p = {Param::Text(s.table), Param::Bytes(s.row.view()), Param::Int(slot),
                            Param::Int(static_cast<int64_t>(f.version.version.hlc.packed())),
                            Param::Bytes(f.version.version.device.view())};
    base(f.version.base, &p);
    AppendValue(f.value, &p);
    FS_RETURN_IF_ERROR(conn.Exec("INSERT INTO hub_fields(tbl, row, slot, hlc, device, base_hlc, "
                                 "base_device, kind, ival, sval) VALUES ($1, $2, $3, $4, $5, $6, "
                                 "$7, $8, $9, $10)",
                                 p)
                           .status());
  }
  for (const ConflictRecord& c : s.conflicts) {
    std::vector<Param> p = {Param::Text(s.table), Param::Bytes(s.row.view()),
                            Param::Text(c.column),
                            Param::Int(static_cast<int64_t>(c.version.hlc.packed())),
                            Param::Bytes(c.version.device.view())};
    base(c.base, &p);
    AppendValue(c.value, &p);
    FS_RETURN_IF_ERROR(conn.Exec("INSERT INTO hub_conflicts(tbl, row, col, hlc, device, "
                                 "base_hlc, base_device, kind, ival, sval) VALUES ($1, $2, $3, "
                                 "$4, $5, $6, $7, $8, $9, $10)",
                                 p)
                           .status());
  }
  return absl::OkStatus();
}

// Refused unless the database holds no table at all (in the hub's schema,
// `public`): a hub is moved into a database of its own, never merged into
// what is there.
absl::Status RefuseNonEmpty(Connection& conn) {
  FS_ASSIGN_OR_RETURN(Result r,
                      conn.Exec("SELECT count(*)::bigint FROM pg_class c JOIN pg_namespace n ON "
                                "n.oid = c.relnamespace WHERE n.nspname = current_schema() AND "
                                "c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"));
  FS_ASSIGN_OR_RETURN(const int64_t n, r.Int(0, 0));
  if (n == 0) return absl::OkStatus();
  FS_ASSIGN_OR_RETURN(const int64_t version, SchemaVersion(conn));
  return absl::FailedPreconditionError(absl::StrCat(
      "the PostgreSQL database is not empty (", n, " tables and sequences",
      version > 0 ? ", a hub among them" : "",
      "): fieldhub migrate --to moves a hub.db into an empty database only; make one "
      "(createdb -O USER NAME) and give it; nothing was changed"));
}

// The audit trail as a string of its rows, for comparing both sides.
absl::StatusOr<std::string> PgAuditRows(Connection& conn) {
  FS_ASSIGN_OR_RETURN(Result r, conn.Exec("SELECT seq, entry_hash FROM hub_audit ORDER BY seq"));
  std::string out;
  for (int i = 0; i < r.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(const int64_t seq, r.Int(i, 0));
    absl::StrAppend(&out, seq, " ", r.Bytes(i, 1), "\n");
  }
  FS_ASSIGN_OR_RETURN(Result h, conn.Exec("SELECT seq, hash FROM hub_audit_head"));
  FS_ASSIGN_OR_RETURN(const int64_t head, h.Int(0, 0));
  absl::StrAppend(&out, "head ", head, " ", h.Bytes(0, 1));
  return out;
}
absl::StatusOr<std::string> SqliteAuditRows(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(sqlite::ScopedStmt st,
                      db.Prepared("SELECT seq, entry_hash FROM hub_audit ORDER BY seq"));
  std::string out;
  while (true) {
    FS_ASSIGN_OR_RETURN(const bool row, st->Step());
    if (!row) break;
    absl::StrAppend(&out, st->ColumnInt(0), " ", AV(st->ColumnBlob(1)), "\n");
  }
  FS_ASSIGN_OR_RETURN(const int64_t head, MetaInt(db, "audit_head_seq"));
  FS_ASSIGN_OR_RETURN(const std::string hash, MetaText(db, "audit_head_hash"));
  absl::StrAppend(&out, "head ", head, " ", hash);
  return out;
}

}  // namespace

absl::StatusOr<MoveOutcome> MoveHubDb(const std::string& hub_db, const std::string& target,
                                      const std::string& source, const std::string& actor,
                                      ClockSource* clock) {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<SqliteHubStore> from, SqliteHubStore::Open(hub_db, clock));
  FS_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Db> db, sqlite::Db::Open(hub_db, ""));
  HubStorage& storage = from->storage();
  const Schema& schema = storage.schema();
  MoveOutcome out;
  out.hub_id = from->hub_id();

  // What the digest reads by key: every row held, every province.
  HubDigestKeys keys;
  int64_t rows_held = 0;
  for (const TableDef& t : schema.tables()) {
    FS_ASSIGN_OR_RETURN(std::vector<RowId> ids,
                        from->replica().ListRows(std::string(t.name), /*include_deleted=*/true));
    for (const RowId& id : ids) keys.rows.emplace_back(std::string(t.name), id);
    rows_held += static_cast<int64_t>(ids.size());
  }
  FS_ASSIGN_OR_RETURN(std::vector<Province> provinces, from->Provinces());
  for (const Province& p : provinces) keys.provinces.push_back(p.code);
  std::vector<HubDigestPart> before;
  FS_RETURN_IF_ERROR(storage.Read([&](HubReadTxn& hub) -> absl::Status {
    FS_ASSIGN_OR_RETURN(before, DigestHub(hub, keys));
    FS_ASSIGN_OR_RETURN(const LogPoint chain, hub.LogHashHead());
    out.chain_head = chain.hash;
    return absl::OkStatus();
  }));
  FS_ASSIGN_OR_RETURN(out.log_head, from->LogHead());
  FS_ASSIGN_OR_RETURN(const std::string audit_before, SqliteAuditRows(*db));
  FS_ASSIGN_OR_RETURN(const int64_t log_scope_from, MetaInt(*db, "log_scope_from"));
  FS_ASSIGN_OR_RETURN(const int64_t gc_horizon, MetaInt(*db, "gc_horizon"));
  FS_ASSIGN_OR_RETURN(const int64_t gc_epoch, MetaInt(*db, "gc_epoch"));
  FS_ASSIGN_OR_RETURN(const std::string gc_ids, MetaText(*db, "gc_ids"));
  FS_ASSIGN_OR_RETURN(const int64_t audit_seq, MetaInt(*db, "audit_head_seq"));
  FS_ASSIGN_OR_RETURN(const std::string audit_hash, MetaText(*db, "audit_head_hash"));
  // The highest key record seq hub.db ever gave (erased ones and those
  // pushed again included): never given again on PostgreSQL.
  FS_ASSIGN_OR_RETURN(const int64_t keys_seq,
                      SqliteInt(*db, "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE "
                                     "name = 'hub_keys'"));

  FS_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(target));
  const int64_t now = clock->NowMillis();
  FS_RETURN_IF_ERROR(InTransaction(*conn, Isolation::kReadCommitted,
                                   [&](Transaction&) -> absl::Status {
    // Under the migrations' lock: no hub process makes its tables meanwhile.
    FS_RETURN_IF_ERROR(
        conn->Exec("SELECT pg_advisory_xact_lock($1)", {Param::Int(kMigrationLock)}).status());
    FS_RETURN_IF_ERROR(RefuseNonEmpty(*conn));
    FS_RETURN_IF_ERROR(MigrateInTransaction(*conn, now));
    // The hub keeps its id: laptops know it, and the log chain starts from it.
    FS_RETURN_IF_ERROR(conn->Exec("UPDATE hub_meta SET value = $1 WHERE key = 'hub_id'",
                                  {Param::Bytes(out.hub_id.view())})
                           .status());
    if (log_scope_from > 0) {
      FS_RETURN_IF_ERROR(conn->Exec("INSERT INTO hub_meta(key, value) VALUES "
                                    "('log_scope_from', $1)",
                                    {Param::Bytes(Int8(log_scope_from))})
                             .status());
    }
    for (const TableCopy& c : kCopies) {
      FS_ASSIGN_OR_RETURN(const int64_t n, CopyTable(*db, *conn, c));
      out.tables.emplace_back(c.table, n);
    }
    FS_RETURN_IF_ERROR(storage.Read([&](HubReadTxn& hub) -> absl::Status {
      for (const auto& [table, row] : keys.rows) {
        FS_ASSIGN_OR_RETURN(std::optional<RowSnapshot> s, hub.ExportRow(table, row));
        if (!s) return absl::DataLossError(absl::StrCat("hub.db's ", table, " row vanished"));
        FS_RETURN_IF_ERROR(CopyRow(*conn, *schema.FindTable(table), *s));
      }
      return absl::OkStatus();
    }));
    FS_ASSIGN_OR_RETURN(const int64_t fields, PgCount(*conn, "hub_fields"));
    FS_ASSIGN_OR_RETURN(const int64_t conflicts, PgCount(*conn, "hub_conflicts"));
    out.tables.emplace_back("hub_rows", rows_held);
    out.tables.emplace_back("hub_fields", fields);
    out.tables.emplace_back("hub_conflicts", conflicts);
    FS_RETURN_IF_ERROR(conn->Exec("UPDATE hub_log_head SET position = $1",
                                  {Param::Int(out.log_head)}).status());
    FS_RETURN_IF_ERROR(conn->Exec("UPDATE hub_audit_head SET seq = $1, hash = $2",
                                  {Param::Int(audit_seq), Param::Text(audit_hash)}).status());
    FS_RETURN_IF_ERROR(conn->Exec("UPDATE hub_gc SET horizon = $1, epoch = $2",
                                  {Param::Int(gc_horizon), Param::Int(gc_epoch)}).status());
    if (!gc_ids.empty()) {
      FS_RETURN_IF_ERROR(conn->Exec("INSERT INTO hub_meta(key, value) VALUES ('gc_ids', $1)",
                                    {Param::Bytes(gc_ids)}).status());
    }
    FS_RETURN_IF_ERROR(conn->Exec("SELECT setval(pg_get_serial_sequence('hub_keys', 'seq'), "
                                  "greatest($1, (SELECT coalesce(max(seq), 0) FROM hub_keys), "
                                  "(SELECT coalesce(max(seq), 0) FROM hub_keys_erased), 1), "
                                  "greatest($1, (SELECT coalesce(max(seq), 0) FROM hub_keys), "
                                  "(SELECT coalesce(max(seq), 0) FROM hub_keys_erased)) > 0)",
                                  {Param::Int(keys_seq)})
                           .status());
    // The planner's statistics of the rows just copied, committed with
    // them: a hub served at once from tables it believes empty filters
    // whole tables for a push's ids until autovacuum comes round
    // (docs/POSTGRES.md, "Statistics"). The checks below read with them.
    FS_RETURN_IF_ERROR(AnalyzeHubTables(*conn));

    // The checks, on what this transaction wrote: every count, the audit
    // trail, then every read of the hub's storage.
    for (const auto& [table, n] : out.tables) {
      FS_ASSIGN_OR_RETURN(const int64_t held, PgCount(*conn, table));
      if (held != n) {
        return absl::DataLossError(absl::StrCat("the copy's ", table, " holds ", held,
                                                " rows, hub.db's ", n));
      }
    }
    FS_ASSIGN_OR_RETURN(const std::string audit_after, PgAuditRows(*conn));
    if (audit_after != audit_before) {
      return absl::DataLossError("the copy's audit trail differs from hub.db's");
    }
    HybridClock hlc(clock, tuning::kDefaultMaxClockSkewMillis);
    PgView view(*conn, schema, hlc, out.hub_id, /*writer=*/false, log_scope_from);
    FS_ASSIGN_OR_RETURN(std::vector<HubDigestPart> after, DigestHub(view, keys));
    if (const std::string differ = DifferingParts(before, after); !differ.empty()) {
      return absl::DataLossError(absl::StrCat("the copy reads differently from hub.db in: ",
                                              differ));
    }
    FS_ASSIGN_OR_RETURN(const LogPoint chain, view.LogHashHead());
    if (chain.hash != out.chain_head) {
      return absl::DataLossError("the copy's log chain ends at another hash than hub.db's");
    }
    return AppendAudit(*conn, now, actor, kAuditMigrate,
                       absl::StrCat("from ", source, " (hub ", out.hub_id.ToString(),
                                    "): log position ", out.log_head, ", ", rows_held,
                                    " rows, audit entries to ", audit_seq));
  }));
  return out;
}

}  // namespace fieldsync::hub::pg
