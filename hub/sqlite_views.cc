// The views of the embedded hub storage (hub/sqlite_storage.h): a
// snapshot's and the writer's, as the SQL over one replica's connection.
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/key_record.h"
#include "hub/audit.h"
#include "hub/sqlite_chain.h"
#include "hub/sqlite_gc.h"
#include "hub/sqlite_keys.h"
#include "hub/sqlite_log_chain.h"
#include "hub/sqlite_log_scope.h"
#include "hub/sqlite_moves.h"
#include "hub/sqlite_checkpoints.h"
#include "hub/sqlite_statements.h"
#include "hub/sqlite_storage.h"
#include "store/replica_internal.h"

namespace fieldsync::hub {
namespace {

std::string Text(const Value& v) {
  return v.kind() == Value::Kind::kText ? v.str() : std::string();
}

// "'a','b'": SQL literals of the names the engine passes (table names).
std::string SqlList(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    std::string quoted;
    for (char ch : n) {
      quoted += ch;
      if (ch == '\'') quoted += ch;
    }
    absl::StrAppend(&out, out.empty() ? "" : ", ", "'", quoted, "'");
  }
  return out;
}

// A scope entry from columns owner, case_id, restricted, ever_public at `i`.
absl::StatusOr<RowScopeEntry> EntryAt(const sqlite::Stmt& st, int i) {
  RowScopeEntry e;
  e.owner = st.ColumnString(i);
  if (!st.ColumnIsNull(i + 1)) {
    FS_ASSIGN_OR_RETURN(e.case_id, Id16::FromBytes(st.ColumnBlob(i + 1), "scope case id"));
  }
  e.restricted = st.ColumnInt(i + 2) != 0;
  e.ever_public = st.ColumnInt(i + 3) != 0;
  return e;
}

// The ids in column 0 of every row `st` gives.
absl::StatusOr<std::vector<RowId>> Ids(sqlite::Stmt& st, const char* what) {
  std::vector<RowId> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st.Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st.ColumnBlob(0), what));
    out.push_back(id);
  }
  return out;
}

// What a snapshot and the writer read alike, over one replica's connection.
template <typename Base>
class View : public Base {
 public:
  explicit View(Replica& rep) : rep_(rep), db_(ReplicaInternal::HubStorageDb(rep)) {}

  const Schema& schema() const override { return rep_.schema(); }
  absl::StatusOr<int64_t> LogHead() override { return rep_.LogHead(); }
  absl::StatusOr<std::optional<std::string>> LogHash(int64_t position) override {
    return sqlite_log_chain::At(db_, position);
  }
  absl::StatusOr<LogPoint> LogHashHead() override { return sqlite_log_chain::Head(db_); }
  absl::StatusOr<std::vector<LogEntry>> LogEntriesAfter(int64_t after, size_t limit) override {
    FS_ASSIGN_OR_RETURN(std::vector<Replica::RawEntry> raw, rep_.RawLogAfter(after, limit));
    std::vector<LogEntry> out;
    out.reserve(raw.size());
    for (Replica::RawEntry& r : raw) {
      out.push_back(LogEntry{r.position, r.author, std::move(r.body), std::move(r.signature), {},
                             {}, r.seq});
    }
    return out;
  }
  absl::StatusOr<int64_t> KeyHead() override { return sqlite_log_chain::KeyHead(db_); }
  absl::StatusOr<uint64_t> KeyRecordsSignedBy(const DeviceId& signer) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared(absl::StrCat(
                                     "SELECT COUNT(*) FROM hub_keys WHERE signer = ?1 AND kind != ",
                                     crypto::KindsSql({crypto::KeyRecordKind::kErasure}))));
    st->BindBlob(1, signer.view());
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    return r ? static_cast<uint64_t>(st->ColumnInt(0)) : 0;
  }
  absl::StatusOr<uint64_t> AcknowledgedSeq(const DeviceId& device) override {
    return rep_.SeqHeld(device);
  }

  absl::StatusOr<GcState> Gc() override {
    return sqlite_gc::State(db_);
  }

  absl::StatusOr<std::vector<RegisteredDevice>> Registry() override {
    return sqlite_storage::ReadRegistry(db_);
  }

  absl::StatusOr<std::optional<RowSnapshot>> ExportRow(const std::string& table,
                                                       const RowId& row) override {
    return rep_.ExportRow(table, row);
  }
  absl::Status ScanRows(const std::string& table, const std::vector<std::string>& columns,
                        bool include_deleted, const RowScan::Visit& visit) override {
    return rep_.ScanRows(table, columns, include_deleted, visit);
  }

  absl::StatusOr<std::optional<RowScopeEntry>> RowScope(const std::string& table,
                                                        const RowId& row) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT owner, case_id, restricted, ever_public "
                                              "FROM hub_row_scope WHERE tbl = ?1 AND row = ?2"));
    st->BindText(1, table);
    st->BindBlob(2, row.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return std::optional<RowScopeEntry>();
    FS_ASSIGN_OR_RETURN(RowScopeEntry e, EntryAt(*st.get(), 0));
    return std::optional<RowScopeEntry>(std::move(e));
  }

  absl::StatusOr<std::optional<std::string>> TableOf(
      const RowId& row, const std::vector<std::string>& tables) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared(absl::StrCat(
                                     "SELECT tbl FROM hub_row_scope WHERE row = ?1 AND tbl IN (",
                                     SqlList(tables), ")")));
    st->BindBlob(1, row.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return std::optional<std::string>();
    return std::optional<std::string>(st->ColumnString(0));
  }

  absl::StatusOr<bool> IsPurged(const std::string& table, const RowId& row) override {
    return sqlite_gc::IsPurged(db_, table, row);
  }

  absl::StatusOr<std::vector<PurgedRow>> PurgedSince(uint64_t epoch,
                                                     const std::string& province) override {
    return sqlite_gc::PurgedSince(db_, epoch, province);
  }

  absl::StatusOr<std::optional<StoredKeyRecord>> KeyRecordAt(int64_t seq) override {
    return sqlite_keys::At(db_, seq);
  }
  absl::Status ForEachKeyRecordAfter(
      int64_t seq, const std::function<absl::Status(const StoredKeyRecord&)>& visit) override {
    return sqlite_keys::ForEachAfter(db_, seq, visit);
  }

  absl::StatusOr<std::vector<std::string>> KeyRecordsOfRing(const RowId& ring, int kind,
                                                           const std::string& province,
                                                           int64_t seq) override {
    return sqlite_keys::OfRing(db_, ring, kind, province, seq);
  }

  absl::StatusOr<std::vector<LogEntry>> LogEntriesUnder(const std::vector<std::string>& log_keys,
                                                        int64_t after, int64_t upto,
                                                        size_t limit) override {
    // The positions from the hub's own table, the entries from the
    // replica's log (store/replica.h), each with its chain entry.
    FS_ASSIGN_OR_RETURN(const std::vector<int64_t> positions,
                        sqlite_log_scope::PositionsUnder(db_, log_keys, after, upto, limit));
    FS_ASSIGN_OR_RETURN(std::vector<Replica::RawEntry> raw, rep_.RawLogAt(positions));
    std::vector<LogEntry> out;
    out.reserve(raw.size());
    for (Replica::RawEntry& r : raw) {
      FS_ASSIGN_OR_RETURN(LogEntry e, sqlite_chain::WithChainEntry(db_, std::move(r)));
      out.push_back(std::move(e));
    }
    return out;
  }

  absl::StatusOr<std::optional<LogEntry>> CommitOfVersion(const Version& version) override {
    FS_ASSIGN_OR_RETURN(std::optional<Replica::RawEntry> raw, rep_.RawLogEntryAt(version));
    if (!raw) return std::optional<LogEntry>();
    LogEntry e;
    e.position = raw->position;
    e.author = raw->author;
    e.body = std::move(raw->body);
    e.signature = std::move(raw->signature);
    return std::optional<LogEntry>(std::move(e));
  }

  absl::StatusOr<ChainPoint> ChainHead(const DeviceId& device) override {
    return sqlite_chain::Head(db_, device);
  }
  absl::StatusOr<std::vector<StoredStatement>> StatementsAfter(
      int64_t after, const std::vector<std::string>& provinces, size_t limit) override {
    return sqlite_statements::After(db_, after, provinces, limit);
  }
  absl::StatusOr<std::vector<std::string>> PartnerProvinces(
      const std::string& province) override {
    return sqlite_statements::Partners(db_, province);
  }
  absl::StatusOr<std::optional<StoredCheckpoint>> NewestCheckpoint(
      const std::string& province) override {
    return sqlite_checkpoints::Newest(db_, province);
  }
  absl::StatusOr<std::optional<StoredCheckpoint>> CheckpointById(const std::string& id) override {
    return sqlite_checkpoints::ById(db_, id);
  }
  absl::StatusOr<std::vector<std::string>> CheckpointLeaves(const std::string& id) override {
    return sqlite_checkpoints::Leaves(db_, id);
  }
  absl::StatusOr<std::vector<CheckpointRow>> CheckpointRows(const std::string& id, uint32_t from,
                                                            size_t limit) override {
    return sqlite_checkpoints::Rows(db_, id, from, limit);
  }
  absl::StatusOr<std::vector<StoredChainEntry>> ChainEntries(const DeviceId& device,
                                                             uint64_t first, uint64_t last,
                                                             size_t limit) override {
    return sqlite_chain::Entries(db_, device, first, last, limit);
  }
  absl::StatusOr<std::vector<StoredChainEntry>> RefusedChainEntries(
      const DeviceId& device) override {
    return sqlite_chain::Refused(db_, device);
  }

  absl::StatusOr<std::optional<std::vector<Value>>> CurrentValues(
      const std::string& table, const RowId& row,
      const std::vector<std::string>& columns) override {
    std::string list;
    for (const std::string& c : columns) {
      absl::StrAppend(&list, list.empty() ? "" : ", ", "\"", c, "\"");
    }
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared(absl::StrCat("SELECT ", list, " FROM \"",
                                                           AV(table), "\" WHERE id = ?1")));
    st->BindBlob(1, row.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return std::optional<std::vector<Value>>();
    std::vector<Value> out;
    for (size_t i = 0; i < columns.size(); ++i) {
      out.push_back(st->ColumnValue(static_cast<int>(i)));
    }
    return std::optional<std::vector<Value>>(std::move(out));
  }

  absl::StatusOr<bool> CaseGranted(const RowId& case_id, const std::string& province) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT 1 FROM hub_grants WHERE case_id = ?1 AND "
                                              "province = ?2"));
    st->BindBlob(1, case_id.view());
    st->BindText(2, province);
    return st->Step();
  }
  absl::StatusOr<std::vector<RowId>> CasesGrantedTo(const std::string& province) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT case_id FROM hub_grants WHERE province = "
                                              "?1"));
    st->BindText(1, province);
    return Ids(*st.get(), "granted case");
  }
  absl::StatusOr<std::vector<RowId>> GrantsBetween(const std::string& province, int64_t after,
                                                   int64_t upto) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT case_id FROM hub_grants WHERE province = ?1 "
                                              "AND position > ?2 AND position <= ?3 "
                                              "ORDER BY position"));
    st->BindText(1, province);
    st->BindInt(2, after);
    st->BindInt(3, upto);
    return Ids(*st.get(), "granted case");
  }
  absl::StatusOr<std::vector<std::string>> GrantedCaseProvinces(
      const std::string& province) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT s.owner FROM hub_grants g JOIN "
                                              "hub_row_scope s ON s.tbl = 'cases' AND s.row = "
                                              "g.case_id WHERE g.province = ?1 UNION SELECT "
                                              "o.province FROM hub_grants g JOIN hub_grants o ON "
                                              "o.case_id = g.case_id WHERE g.province = ?1"));
    st->BindText(1, province);
    std::vector<std::string> out;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      out.push_back(st->ColumnString(0));
    }
    return out;
  }
  absl::StatusOr<std::vector<std::string>> CaseGrantees(const RowId& case_id) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT province FROM hub_grants WHERE case_id = "
                                              "?1"));
    st->BindBlob(1, case_id.view());
    std::vector<std::string> out;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      out.push_back(st->ColumnString(0));
    }
    return out;
  }
  absl::StatusOr<int64_t> LogScopeFrom() override { return sqlite_log_scope::From(db_); }
  absl::StatusOr<std::vector<RowId>> CasesNaming(const RowId& person) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT case_id FROM hub_person_case WHERE "
                                              "person = ?1"));
    st->BindBlob(1, person.view());
    return Ids(*st.get(), "person case");
  }
  absl::StatusOr<std::optional<RowId>> PersonOfCase(const RowId& case_id) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT person FROM hub_person_case WHERE "
                                              "case_id = ?1 LIMIT 1"));
    st->BindBlob(1, case_id.view());
    FS_ASSIGN_OR_RETURN(std::vector<RowId> ids, Ids(*st.get(), "linked person"));
    if (ids.empty()) return std::optional<RowId>();
    return std::optional<RowId>(ids.front());
  }
  absl::StatusOr<std::vector<std::pair<RowId, std::optional<std::string>>>> PersonsOfCase(
      const RowId& case_id) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT p.person, s.owner FROM hub_person_case p "
                                              "LEFT JOIN hub_row_scope s ON s.tbl = 'persons' "
                                              "AND s.row = p.person WHERE p.case_id = ?1"));
    st->BindBlob(1, case_id.view());
    std::vector<std::pair<RowId, std::optional<std::string>>> out;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(0), "person"));
      std::optional<std::string> owner;
      if (!st->ColumnIsNull(1)) owner = st->ColumnString(1);
      out.emplace_back(id, std::move(owner));
    }
    return out;
  }
  absl::StatusOr<std::vector<std::pair<RowId, RowId>>> PersonLinks() override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT person, case_id FROM hub_person_case"));
    std::vector<std::pair<RowId, RowId>> out;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(RowId person, Id16::FromBytes(st->ColumnBlob(0), "person"));
      FS_ASSIGN_OR_RETURN(RowId kase, Id16::FromBytes(st->ColumnBlob(1), "person case"));
      out.emplace_back(person, kase);
    }
    return out;
  }
  absl::StatusOr<std::vector<ScopedRow>> ScopeRows(const std::string& table) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT row, owner, case_id, restricted, "
                                              "ever_public FROM hub_row_scope WHERE tbl = ?1 "
                                              "ORDER BY row"));
    st->BindText(1, table);
    std::vector<ScopedRow> out;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      ScopedRow s;
      s.table = table;
      FS_ASSIGN_OR_RETURN(s.row, Id16::FromBytes(st->ColumnBlob(0), "row"));
      FS_ASSIGN_OR_RETURN(s.entry, EntryAt(*st.get(), 1));
      out.push_back(std::move(s));
    }
    return out;
  }
  absl::StatusOr<std::vector<RowId>> ScopeRowsOwnedBy(const std::string& table,
                                                      const std::string& owner) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT row FROM hub_row_scope WHERE tbl = ?1 AND "
                                              "owner = ?2 ORDER BY row"));
    st->BindText(1, table);
    st->BindText(2, owner);
    return Ids(*st.get(), "row");
  }
  absl::StatusOr<std::vector<std::pair<std::string, RowId>>> RowsOfCase(
      const RowId& case_id) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT tbl, row FROM hub_row_scope WHERE "
                                              "case_id = ?1 ORDER BY tbl, row"));
    st->BindBlob(1, case_id.view());
    return sqlite_moves::TableRows(*st.get());
  }
  absl::StatusOr<std::vector<std::pair<std::string, RowId>>> MovedBetween(
      const std::string& province, int64_t after, int64_t upto) override {
    return sqlite_moves::Between(db_, province, after, upto);
  }
  absl::StatusOr<std::vector<ScopedRow>> MadePublicBetween(int64_t after,
                                                           int64_t upto) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT p.tbl, p.row, s.owner, s.case_id, "
                                              "s.restricted, s.ever_public FROM hub_public p "
                                              "JOIN hub_row_scope s ON s.tbl = p.tbl AND s.row = "
                                              "p.row WHERE p.position > ?1 AND p.position <= ?2 "
                                              "ORDER BY p.position"));
    st->BindInt(1, after);
    st->BindInt(2, upto);
    std::vector<ScopedRow> out;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      ScopedRow s;
      s.table = st->ColumnString(0);
      FS_ASSIGN_OR_RETURN(s.row, Id16::FromBytes(st->ColumnBlob(1), "row"));
      FS_ASSIGN_OR_RETURN(s.entry, EntryAt(*st.get(), 2));
      out.push_back(std::move(s));
    }
    return out;
  }

  absl::StatusOr<std::optional<ReferralState>> Referral(const RowId& referral) override {
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, rep_.Get("referrals", referral));
    if (!row) return std::optional<ReferralState>();
    const TableDef* t = rep_.schema().FindTable("referrals");
    auto value = [&](std::string_view column) -> std::string {
      const int i = t->ColumnIndex(column);
      return i < 0 ? std::string() : Text(row->values[static_cast<size_t>(i)]);
    };
    ReferralState s;
    s.from_office = value("from_office");
    s.to_office = value("to_office");
    s.status = value("status");
    if (const int i = t->ColumnIndex("status"); i >= 0 && row->versions[static_cast<size_t>(i)]) {
      s.status_version = row->versions[static_cast<size_t>(i)]->version;
    }
    FS_ASSIGN_OR_RETURN(std::vector<ConflictRecord> conflicts,
                        rep_.Conflicts(std::string("referrals"), referral));
    for (const ConflictRecord& k : conflicts) {
      if (k.column == "status") s.status_conflicts.emplace_back(k.version, Text(k.value));
    }
    return std::optional<ReferralState>(std::move(s));
  }

  absl::StatusOr<std::optional<std::string>> RecordedReferralStatus(
      const RowId& referral, const Version& version) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT status FROM hub_referral_status WHERE "
                                              "referral = ?1 AND hlc = ?2 AND device = ?3"));
    st->BindBlob(1, referral.view());
    st->BindInt(2, static_cast<int64_t>(version.hlc.packed()));
    st->BindBlob(3, version.device.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return std::optional<std::string>();
    return std::optional<std::string>(st->ColumnString(0));
  }

 protected:
  Replica& rep_;
  sqlite::Db& db_;
};


class WriteView : public View<HubWriteTxn> {
 public:
  using View::View;

  // The replica's storage primitives (store/replica.h); the merge is the
  // engine's.
  absl::Status MergeTransaction(
      const std::function<absl::Status(MergeStore&)>& body) override {
    return rep_.MergeTransaction(body);
  }
  absl::Status Atomically(const std::function<absl::Status()>& body) override {
    return sqlite::InTransaction(db_, sqlite_storage::kWriteTxn,
                                 [&](sqlite::Transaction&) { return body(); });
  }
  absl::Status PutLogHash(int64_t position, const std::string& hash) override {
    return sqlite_log_chain::Put(db_, position, hash);
  }
  absl::Status AddChainEntry(const DeviceId& device, const StoredChainEntry& e) override {
    return sqlite_chain::Add(db_, device, e);
  }
  absl::Status SetChainPosition(const DeviceId& device, uint64_t seq, int64_t position) override {
    return sqlite_chain::SetPosition(db_, device, seq, position);
  }
  absl::StatusOr<std::optional<LogEntry>> LoggedCommit(const DeviceId& device,
                                                       uint64_t seq) override {
    return sqlite_chain::Logged(db_, rep_, device, seq);
  }
  absl::StatusOr<bool> PutStatement(const StoredStatement& s) override {
    return sqlite_statements::Put(db_, s);
  }
  absl::Status AdoptCheckpoint(const StoredCheckpoint& c, const std::vector<CheckpointRow>& rows,
                               size_t keep) override {
    return sqlite_checkpoints::Adopt(db_, c, rows, keep);
  }

  absl::StatusOr<bool> NodeActive(const DeviceId& device) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT revoked_at FROM hub_nodes WHERE device = "
                                              "?1"));
    st->BindBlob(1, device.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    return found && st->ColumnIsNull(0);
  }
  absl::StatusOr<bool> NodeRevoked(const DeviceId& device) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT 1 FROM hub_nodes WHERE device = ?1 AND "
                                              "revoked_at IS NOT NULL"));
    st->BindBlob(1, device.view());
    return st->Step();
  }
  absl::StatusOr<bool> DeviceOf(const DeviceId& device, const std::string& province,
                                bool active) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared(
                                     active ? "SELECT 1 FROM hub_nodes WHERE device = ?1 AND "
                                              "province = ?2 AND revoked_at IS NULL"
                                            : "SELECT 1 FROM hub_nodes WHERE device = ?1 AND "
                                              "province = ?2"));
    st->BindBlob(1, device.view());
    st->BindText(2, province);
    return st->Step();
  }
  absl::StatusOr<bool> ProvinceExists(const std::string& code) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT 1 FROM hub_provinces WHERE code = ?1"));
    st->BindText(1, code);
    return st->Step();
  }
  absl::StatusOr<std::vector<std::string>> ProvinceCodes() override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT code FROM hub_provinces"));
    std::vector<std::string> out;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      out.push_back(st->ColumnString(0));
    }
    return out;
  }
  absl::StatusOr<OfficeRecords> OfficeRecordsOf(const std::string& province) override {
    return sqlite_storage::ReadOfficeRecords(db_, province);
  }

  absl::StatusOr<bool> RingErased(const RowId& ring) override {
    return sqlite_keys::RingErased(db_, ring);
  }
  absl::Status EraseRing(const RowId& ring, const std::vector<int>& kinds, int64_t at_millis,
                         const DeviceId& by) override {
    return sqlite_keys::EraseRing(db_, ring, kinds, at_millis, by);
  }
  absl::StatusOr<bool> StoreKeyRecord(const StoredKeyRecord& r) override {
    return sqlite_keys::Store(db_, r);
  }
  absl::Status AddGrant(const RowId& case_id, const std::string& province,
                        int64_t position) override {
    FS_ASSIGN_OR_RETURN(auto g, db_.Prepared("INSERT OR IGNORE INTO hub_grants(case_id, "
                                             "province, position) VALUES (?1, ?2, ?3)"));
    g->BindBlob(1, case_id.view());
    g->BindText(2, province);
    g->BindInt(3, position);
    return g->Run();
  }
  absl::Status AddLogScope(const std::set<std::string>& keys, int64_t position) override {
    return sqlite_log_scope::Add(db_, keys, position);
  }
  absl::Status AddLogSubjects(const std::set<RowId>& subjects, int64_t position) override {
    return sqlite_log_scope::AddSubjects(db_, subjects, position);
  }
  absl::Status KeyLogOfSubjects(const std::set<RowId>& subjects,
                                const std::set<std::string>& provinces) override {
    return sqlite_log_scope::KeySubjects(db_, subjects, provinces);
  }
  absl::Status LinkPerson(const RowId& person, const RowId& case_id) override {
    FS_ASSIGN_OR_RETURN(auto link, db_.Prepared("INSERT OR IGNORE INTO hub_person_case(person, "
                                                "case_id) VALUES (?1, ?2)"));
    link->BindBlob(1, person.view());
    link->BindBlob(2, case_id.view());
    return link->Run();
  }
  absl::Status UpsertRowScope(const std::string& table, const RowId& row,
                              const std::string& owner, const std::optional<RowId>& case_id,
                              std::optional<bool> restricted) override {
    FS_ASSIGN_OR_RETURN(
        auto up,
        db_.Prepared("INSERT INTO hub_row_scope(tbl, row, owner, case_id, restricted) "
                     "VALUES (?1, ?2, ?3, ?4, coalesce(?5, 0)) ON CONFLICT(tbl, row) DO UPDATE "
                     "SET owner = CASE WHEN excluded.owner = '' THEN owner ELSE excluded.owner "
                     "END, case_id = coalesce(excluded.case_id, case_id), restricted = "
                     "coalesce(?5, restricted)"));
    up->BindText(1, table);
    up->BindBlob(2, row.view());
    up->BindText(3, owner);
    if (case_id) up->BindBlob(4, case_id->view());
    if (restricted) up->BindInt(5, *restricted ? 1 : 0);
    return up->Run();
  }
  absl::StatusOr<bool> MarkEverPublic(const std::string& table, const RowId& row) override {
    FS_ASSIGN_OR_RETURN(auto pub, db_.Prepared("UPDATE hub_row_scope SET ever_public = 1 WHERE "
                                               "tbl = ?1 AND row = ?2 AND ever_public = 0"));
    pub->BindText(1, table);
    pub->BindBlob(2, row.view());
    FS_RETURN_IF_ERROR(pub->Run());
    return db_.Changes() > 0;
  }
  absl::Status AddPublic(const std::string& table, const RowId& row, int64_t position) override {
    FS_ASSIGN_OR_RETURN(auto ev, db_.Prepared("INSERT OR IGNORE INTO hub_public(tbl, row, "
                                              "position) VALUES (?1, ?2, ?3)"));
    ev->BindText(1, table);
    ev->BindBlob(2, row.view());
    ev->BindInt(3, position);
    return ev->Run();
  }
  absl::Status AddMove(const std::string& table, const RowId& row, const std::string& province,
                       int64_t position) override {
    return sqlite_moves::Add(db_, table, row, province, position);
  }
  absl::Status SetDeleted(const std::string& table, const RowId& row, bool deleted,
                          int64_t position, int64_t at_millis) override {
    FS_ASSIGN_OR_RETURN(auto del, db_.Prepared(
                                      "UPDATE hub_row_scope SET deleted_pos = CASE WHEN ?3 THEN "
                                      "coalesce(deleted_pos, ?4) END, deleted_at = CASE WHEN ?3 "
                                      "THEN coalesce(deleted_at, ?5) END WHERE tbl = ?1 AND "
                                      "row = ?2"));
    del->BindText(1, table);
    del->BindBlob(2, row.view());
    del->BindInt(3, deleted ? 1 : 0);
    del->BindInt(4, position);
    del->BindInt(5, at_millis);
    return del->Run();
  }

  absl::Status RecordReferralStatus(const RowId& referral, const Version& version,
                                    const std::string& status) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("INSERT OR IGNORE INTO hub_referral_status("
                                              "referral, hlc, device, status) VALUES "
                                              "(?1, ?2, ?3, ?4)"));
    st->BindBlob(1, referral.view());
    st->BindInt(2, static_cast<int64_t>(version.hlc.packed()));
    st->BindBlob(3, version.device.view());
    st->BindText(4, status);
    return st->Run();
  }

  absl::Status AppendAudit(int64_t at_millis, const std::string& actor,
                           const std::string& action, const std::string& detail) override {
    return AppendHubAudit(db_, at_millis, actor, action, detail);
  }

  absl::StatusOr<std::vector<Tombstone>> TombstonesDeletedBy(int64_t at_millis) override {
    return sqlite_gc::TombstonesDeletedBy(db_, at_millis);
  }
  absl::StatusOr<bool> DropTombstone(const std::string& table, const RowId& row) override {
    // The row and its conflict records, by the replica (store/replica.h).
    return rep_.DropTombstone(table, row);
  }
  absl::Status RecordPurged(const Tombstone& t, uint64_t epoch, bool shared,
                            const std::vector<std::string>& provinces) override {
    return sqlite_gc::RecordPurged(db_, t, epoch, shared, provinces);
  }
  absl::Status AdvanceGc(int64_t horizon) override {
    return sqlite_gc::Advance(db_, horizon);
  }
  void Scrub() override { db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError(); }
};

}  // namespace

std::unique_ptr<HubReadTxn> sqlite_storage::SnapshotView(Replica& reader) {
  return std::make_unique<View<HubReadTxn>>(reader);
}

std::unique_ptr<HubWriteTxn> sqlite_storage::WriterView(Replica& writer) {
  return std::make_unique<WriteView>(writer);
}

}  // namespace fieldsync::hub
