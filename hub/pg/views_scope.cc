// The scope tables (hub/scope.h) in the PostgreSQL store's views: who was
// granted which case, which log entries each office's pulls read, the
// person-case links, each row's owner, case, restriction and deletion, the
// rows made public. The same SQL as hub/sqlite_views.cc; where SQLite's
// answer follows its primary key or index without saying so, the order is
// said here (ORDER BY), as the cluster's own order need not be the same.
#include <algorithm>
#include <cstddef>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "hub/pg/views.h"

namespace fieldsync::hub::pg {
namespace {

// A scope entry from columns owner, case_id, restricted, ever_public at `c`.
absl::StatusOr<RowScopeEntry> EntryAt(const Result& r, int i, int c) {
  RowScopeEntry e;
  e.owner = r.Bytes(i, c);
  if (!r.IsNull(i, c + 1)) {
    FS_ASSIGN_OR_RETURN(e.case_id, Id16::FromBytes(r.Bytes(i, c + 1), "scope case id"));
  }
  FS_ASSIGN_OR_RETURN(int64_t restricted, r.Int(i, c + 2));
  FS_ASSIGN_OR_RETURN(int64_t ever_public, r.Int(i, c + 3));
  e.restricted = restricted != 0;
  e.ever_public = ever_public != 0;
  return e;
}

}  // namespace

absl::StatusOr<std::vector<RowId>> Ids(const Result& r, const char* what, int col) {
  std::vector<RowId> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(r.Bytes(i, col), what));
    out.push_back(id);
  }
  return out;
}

constexpr char kSep = '\x1f';
namespace {

// The scope tables' batched writes (Connection::DeferRow): $i is the array
// of the rows' i-th values. An insert that does nothing on a key held
// takes the first row of a key, as one insert after the other would.
constexpr char kInsertGrants[] =
    "INSERT INTO hub_grants(case_id, province, position) SELECT * FROM unnest($1::bytea[], "
    "$2::text[], $3::int8[]) ON CONFLICT DO NOTHING";
constexpr char kInsertLogScope[] =
    "INSERT INTO hub_log_scope(province, position) SELECT * FROM unnest($1::text[], $2::int8[]) "
    "ON CONFLICT DO NOTHING";
constexpr char kInsertLogSubjects[] =
    "INSERT INTO hub_log_subject(subject, position) SELECT * FROM unnest($1::bytea[], "
    "$2::int8[]) ON CONFLICT DO NOTHING";
// A subject's log entries read by a province (KeyLogOfSubjects): a row
// (subject, province) reads the subject's rows of hub_log_subject.
constexpr char kKeyLogOfSubjects[] =
    "INSERT INTO hub_log_scope(province, position) SELECT u.p, s.position FROM "
    "unnest($1::bytea[], $2::text[]) AS u(subject, p) JOIN hub_log_subject s ON s.subject = "
    "u.subject ON CONFLICT DO NOTHING";
// The deletion marks of a row's entry (SetDeleted): an update of the row of
// its key alone (a key twice goes in the next statement).
constexpr char kSetDeleted[] =
    "UPDATE hub_row_scope s SET deleted_pos = CASE WHEN u.deleted THEN coalesce(s.deleted_pos, "
    "u.position) END, deleted_at = CASE WHEN u.deleted THEN coalesce(s.deleted_at, u.at) END "
    "FROM unnest($1::text[], $2::bytea[], $3::bool[], $4::int8[], $5::int8[]) AS u(tbl, row, "
    "deleted, position, at) WHERE s.tbl = u.tbl COLLATE \"C\" AND s.row = u.row";
constexpr char kInsertPersonCase[] =
    "INSERT INTO hub_person_case(person, case_id) SELECT * FROM unnest($1::bytea[], $2::bytea[]) "
    "ON CONFLICT DO NOTHING";
constexpr char kInsertPublic[] =
    "INSERT INTO hub_public(tbl, row, position) SELECT * FROM unnest($1::text[], $2::bytea[], "
    "$3::int8[]) ON CONFLICT DO NOTHING";
// A row's scope entry: an empty owner, a NULL case or restriction keeps
// what is held; a row not held is inserted (restricted false if NULL).
// What one upsert a row did, as an update of the rows held and an insert
// of the others (the rows' keys distinct: a key twice goes in the next
// statement). The writer holds the log head's lock, under which every
// writer of hub_row_scope writes: no row is inserted between the two.
constexpr char kUpsertRowScope[] =
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::bytea[], "
    "$5::bool[]) AS u(tbl, row, owner, case_id, restricted)), held AS (UPDATE hub_row_scope s "
    "SET owner = CASE WHEN u.owner = '' THEN s.owner ELSE u.owner END, case_id = "
    "coalesce(u.case_id, s.case_id), restricted = coalesce(u.restricted, s.restricted) FROM u "
    "WHERE s.tbl = u.tbl COLLATE \"C\" AND s.row = u.row RETURNING s.tbl, s.row) INSERT INTO "
    "hub_row_scope(tbl, row, owner, case_id, restricted) SELECT tbl, row, owner, case_id, "
    "coalesce(restricted, false) FROM u WHERE NOT EXISTS (SELECT 1 FROM held WHERE held.tbl = "
    "u.tbl COLLATE \"C\" AND held.row = u.row)";

}  // namespace

absl::StatusOr<Param> NameList(const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (n.find(kSep) != std::string::npos) {
      return absl::InvalidArgumentError(
          "a name (scope key, province) holds the control character 0x1f");
    }
  }
  return Param::Text(absl::StrJoin(names, std::string(1, kSep)));
}

// ---------------------------------------------------------------------------
// Reads.

absl::StatusOr<std::optional<RowScopeEntry>> PgView::RowScope(const std::string& table,
                                                              const RowId& row) {
  ScopeCache* c = cache();
  if (c != nullptr) {
    auto it = c->rows.find({table, row});
    if (it != c->rows.end()) return it->second;
  }
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT owner, case_id, restricted, ever_public FROM "
                                           "hub_row_scope WHERE tbl = $1 AND row = $2",
                                           {Param::Text(table), Param::Bytes(row.view())}));
  std::optional<RowScopeEntry> out;
  if (r.rows() > 0) {
    FS_ASSIGN_OR_RETURN(out, EntryAt(r, 0, 0));
  }
  if (c != nullptr) c->rows[{table, row}] = out;
  return out;
}

absl::StatusOr<std::optional<std::string>> PgView::TableOf(
    const RowId& row, const std::vector<std::string>& tables) {
  FS_ASSIGN_OR_RETURN(Param list, NameList(tables));
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT tbl FROM hub_row_scope WHERE row = $1 AND "
                                           "tbl = ANY(string_to_array($2, chr(31))) ORDER BY "
                                           "tbl LIMIT 1",
                                           {Param::Bytes(row.view()), list}));
  if (r.rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(r.Bytes(0, 0));
}

absl::StatusOr<bool> PgView::CaseGranted(const RowId& case_id, const std::string& province) {
  ScopeCache* c = cache();
  if (c != nullptr) {
    auto it = c->granted.find({case_id, province});
    if (it != c->granted.end()) return it->second;
    if (auto all = c->grantees.find(case_id); all != c->grantees.end()) {
      return std::find(all->second.begin(), all->second.end(), province) != all->second.end();
    }
  }
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT 1 FROM hub_grants WHERE case_id = $1 AND "
                                           "province = $2",
                                           {Param::Bytes(case_id.view()), Param::Text(province)}));
  const bool granted = r.rows() == 1;
  if (c != nullptr) c->granted[{case_id, province}] = granted;
  return granted;
}

absl::StatusOr<std::vector<RowId>> PgView::CasesGrantedTo(const std::string& province) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT case_id FROM hub_grants WHERE province = $1 "
                                           "ORDER BY position, case_id",
                                           {Param::Text(province)}));
  return Ids(r, "granted case");
}

absl::StatusOr<std::vector<RowId>> PgView::GrantsBetween(const std::string& province,
                                                         int64_t after, int64_t upto) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT case_id FROM hub_grants WHERE province = $1 "
                                           "AND position > $2 AND position <= $3 ORDER BY "
                                           "position, case_id",
                                           {Param::Text(province), Param::Int(after),
                                            Param::Int(upto)}));
  return Ids(r, "granted case");
}

absl::StatusOr<std::vector<std::string>> PgView::CaseGrantees(const RowId& case_id) {
  ScopeCache* c = cache();
  if (c != nullptr) {
    auto it = c->grantees.find(case_id);
    if (it != c->grantees.end()) return it->second;
  }
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT province FROM hub_grants WHERE case_id = $1 "
                                           "ORDER BY province",
                                           {Param::Bytes(case_id.view())}));
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.Bytes(i, 0));
  if (c != nullptr) c->grantees[case_id] = out;
  return out;
}

absl::StatusOr<std::vector<std::string>> PgView::GrantedCaseProvinces(
    const std::string& province) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT s.owner FROM hub_grants g JOIN hub_row_scope "
                                           "s ON s.tbl = 'cases' AND s.row = g.case_id WHERE "
                                           "g.province = $1 UNION SELECT o.province FROM "
                                           "hub_grants g JOIN hub_grants o ON o.case_id = "
                                           "g.case_id WHERE g.province = $1 ORDER BY 1",
                                           {Param::Text(province)}));
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.Bytes(i, 0));
  return out;
}

absl::StatusOr<std::vector<RowId>> PgView::CasesNaming(const RowId& person) {
  ScopeCache* c = cache();
  if (c != nullptr) {
    auto it = c->cases_naming.find(person);
    if (it != c->cases_naming.end()) return it->second;
  }
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT case_id FROM hub_person_case WHERE person = "
                                           "$1 ORDER BY case_id",
                                           {Param::Bytes(person.view())}));
  FS_ASSIGN_OR_RETURN(std::vector<RowId> out, Ids(r, "person case"));
  if (c != nullptr) c->cases_naming[person] = out;
  return out;
}

absl::StatusOr<std::optional<RowId>> PgView::PersonOfCase(const RowId& case_id) {
  if (cache() != nullptr) {
    // The first of PersonsOfCase's (ordered by person), as the query below.
    FS_ASSIGN_OR_RETURN(const auto persons, PersonsOfCase(case_id));
    if (persons.empty()) return std::optional<RowId>();
    return std::optional<RowId>(persons.front().first);
  }
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT person FROM hub_person_case WHERE case_id = "
                                           "$1 ORDER BY person LIMIT 1",
                                           {Param::Bytes(case_id.view())}));
  FS_ASSIGN_OR_RETURN(std::vector<RowId> ids, Ids(r, "linked person"));
  if (ids.empty()) return std::optional<RowId>();
  return std::optional<RowId>(ids.front());
}

absl::StatusOr<std::vector<std::pair<RowId, std::optional<std::string>>>> PgView::PersonsOfCase(
    const RowId& case_id) {
  ScopeCache* c = cache();
  if (c != nullptr) {
    auto it = c->persons_of_case.find(case_id);
    if (it != c->persons_of_case.end()) return it->second;
  }
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT p.person, s.owner FROM hub_person_case p "
                                           "LEFT JOIN hub_row_scope s ON s.tbl = 'persons' AND "
                                           "s.row = p.person WHERE p.case_id = $1 ORDER BY "
                                           "p.person",
                                           {Param::Bytes(case_id.view())}));
  std::vector<std::pair<RowId, std::optional<std::string>>> out;
  for (int i = 0; i < r.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(r.Bytes(i, 0), "person"));
    std::optional<std::string> owner;
    if (!r.IsNull(i, 1)) owner = r.Bytes(i, 1);
    out.emplace_back(id, std::move(owner));
  }
  if (c != nullptr) c->persons_of_case[case_id] = out;
  return out;
}

absl::StatusOr<std::vector<std::pair<RowId, RowId>>> PgView::PersonLinks() {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT person, case_id FROM hub_person_case ORDER "
                                           "BY person, case_id"));
  std::vector<std::pair<RowId, RowId>> out;
  for (int i = 0; i < r.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(RowId person, Id16::FromBytes(r.Bytes(i, 0), "person"));
    FS_ASSIGN_OR_RETURN(RowId kase, Id16::FromBytes(r.Bytes(i, 1), "person case"));
    out.emplace_back(person, kase);
  }
  return out;
}

absl::StatusOr<std::vector<ScopedRow>> PgView::ScopeRows(const std::string& table) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT row, owner, case_id, restricted, ever_public "
                                           "FROM hub_row_scope WHERE tbl = $1 ORDER BY row",
                                           {Param::Text(table)}));
  std::vector<ScopedRow> out;
  for (int i = 0; i < r.rows(); ++i) {
    ScopedRow s;
    s.table = table;
    FS_ASSIGN_OR_RETURN(s.row, Id16::FromBytes(r.Bytes(i, 0), "row"));
    FS_ASSIGN_OR_RETURN(s.entry, EntryAt(r, i, 1));
    out.push_back(std::move(s));
  }
  return out;
}

// Up to 1,000 ids a query (one bytea[]), each looked up in the key
// (tbl, row) by a lateral subquery of its own (OFFSET 0), whatever the
// statistics say (as PrefetchScope's reads).
absl::StatusOr<std::vector<ScopedRow>> PgView::ScopeRowsOf(const std::string& table,
                                                           const std::vector<RowId>& rows) {
  std::vector<RowId> ids(rows);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  constexpr size_t kIdsAQuery = 1000;
  std::vector<ScopedRow> out;
  for (size_t from = 0; from < ids.size(); from += kIdsAQuery) {
    const std::vector<RowId> page(
        ids.begin() + static_cast<std::ptrdiff_t>(from),
        ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), from + kIdsAQuery)));
    FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT s.row, s.owner, s.case_id, s.restricted, "
                                             "s.ever_public FROM unnest($2::bytea[]) AS u(id) "
                                             "CROSS JOIN LATERAL (SELECT * FROM hub_row_scope h "
                                             "WHERE h.tbl = $1 AND h.row = u.id OFFSET 0) AS s",
                                             {Param::Text(table), Param::IdArray(page)}));
    for (int i = 0; i < r.rows(); ++i) {
      ScopedRow s;
      s.table = table;
      FS_ASSIGN_OR_RETURN(s.row, Id16::FromBytes(r.Bytes(i, 0), "row"));
      FS_ASSIGN_OR_RETURN(s.entry, EntryAt(r, i, 1));
      out.push_back(std::move(s));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ScopedRow& a, const ScopedRow& b) { return a.row < b.row; });
  return out;
}

absl::StatusOr<std::vector<RowId>> PgView::ScopeRowsOwnedBy(const std::string& table,
                                                            const std::string& owner) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT row FROM hub_row_scope WHERE tbl = $1 AND "
                                           "owner = $2 ORDER BY row",
                                           {Param::Text(table), Param::Text(owner)}));
  return Ids(r, "row");
}

absl::StatusOr<std::vector<std::pair<std::string, RowId>>> PgView::RowsOfCase(
    const RowId& case_id) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT tbl, row FROM hub_row_scope WHERE case_id = "
                                           "$1 ORDER BY tbl, row",
                                           {Param::Bytes(case_id.view())}));
  std::vector<std::pair<std::string, RowId>> out;
  for (int i = 0; i < r.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(r.Bytes(i, 1), "row"));
    out.emplace_back(r.Bytes(i, 0), id);
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, RowId>>> PgView::MovedBetween(
    const std::string& province, int64_t after, int64_t upto) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT tbl, row FROM hub_moves WHERE province = $1 "
                                           "AND position > $2 AND position <= $3 ORDER BY "
                                           "position, tbl, row",
                                           {Param::Text(province), Param::Int(after),
                                            Param::Int(upto)}));
  std::vector<std::pair<std::string, RowId>> out;
  for (int i = 0; i < r.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(r.Bytes(i, 1), "row"));
    out.emplace_back(r.Bytes(i, 0), id);
  }
  return out;
}

absl::StatusOr<std::vector<ScopedRow>> PgView::MadePublicBetween(int64_t after, int64_t upto) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT p.tbl, p.row, s.owner, s.case_id, "
                                           "s.restricted, s.ever_public FROM hub_public p JOIN "
                                           "hub_row_scope s ON s.tbl = p.tbl AND s.row = p.row "
                                           "WHERE p.position > $1 AND p.position <= $2 ORDER BY "
                                           "p.position, p.tbl, p.row",
                                           {Param::Int(after), Param::Int(upto)}));
  std::vector<ScopedRow> out;
  for (int i = 0; i < r.rows(); ++i) {
    ScopedRow s;
    s.table = r.Bytes(i, 0);
    FS_ASSIGN_OR_RETURN(s.row, Id16::FromBytes(r.Bytes(i, 1), "row"));
    FS_ASSIGN_OR_RETURN(s.entry, EntryAt(r, i, 2));
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<LogEntry>> PgView::LogEntriesUnder(
    const std::vector<std::string>& log_keys, int64_t after, int64_t upto, size_t limit) {
  FS_ASSIGN_OR_RETURN(Param keys, NameList(log_keys));
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec(
      "SELECT l.position, l.author, l.body, l.signature, c.header, c.sig FROM hub_log l LEFT "
      "JOIN hub_chain c ON c.device = l.author AND c.seq = l.seq WHERE l.position IN (SELECT "
      "DISTINCT position FROM hub_log_scope WHERE province = ANY(string_to_array($1, chr(31))) "
      "AND position > $2 AND position <= $3 ORDER BY position LIMIT $4) ORDER BY l.position",
      {keys, Param::Int(after), Param::Int(upto), Param::Int(static_cast<int64_t>(limit))}));
  std::vector<LogEntry> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    LogEntry e;
    FS_ASSIGN_OR_RETURN(e.position, r.Int(i, 0));
    FS_ASSIGN_OR_RETURN(e.author, Id16::FromBytes(r.Bytes(i, 1), "log author"));
    e.body = r.Bytes(i, 2);
    e.signature = r.Bytes(i, 3);
    e.header = r.Bytes(i, 4);
    e.header_signature = r.Bytes(i, 5);
    out.push_back(std::move(e));
  }
  return out;
}

absl::Status PgView::Prefetch(const PushReads& reads) {
  if (merging_ != nullptr) FS_RETURN_IF_ERROR(merging_->PrefetchRows(reads.rows));
  return PrefetchScope(reads.ids, reads.key_ids);
}

absl::Status PgView::PrefetchScope(const std::set<RowId>& ids,
                                   const std::set<std::string>& key_ids) {
  ScopeCache* c = cache();
  if (c == nullptr) return absl::OkStatus();
  if (!key_ids.empty()) {
    // The push's key records the hub holds already (StoreKeyRecord).
    std::string bytes;
    for (const std::string& id : key_ids) {
      if (id.size() != 16) return absl::InternalError("a key record id of other than 16 bytes");
      bytes += id;
    }
    FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT id FROM hub_keys WHERE id IN (SELECT "
                                             "substring($1 FROM i * 16 + 1 FOR 16) FROM "
                                             "generate_series(0, length($1) / 16 - 1) AS i)",
                                             {Param::Bytes(bytes)}));
    std::set<std::string> held;
    for (int i = 0; i < r.rows(); ++i) held.insert(r.Bytes(i, 0));
    for (const std::string& id : key_ids) c->key_held.emplace(id, held.count(id) > 0);
  }
  if (ids.empty()) return absl::OkStatus();
  // Five queries for the whole push, whatever its number of rows; each id
  // then answers from the cache, found or not. What the cache holds already
  // (this transaction's own writes) is kept. The ids as one bytea[] ($1),
  // each looked up in an index (hub_row_scope's by row: schema version 6)
  // by a lateral subquery of its own (OFFSET 0): `row = ANY($1)` was a
  // filter over every entry when the statistics were older than the rows.
  const Param list = Param::IdArray(ids);
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT s.tbl, s.row, s.owner, s.case_id, "
                                           "s.restricted, s.ever_public FROM unnest($1::bytea[]) "
                                           "AS u(id) CROSS JOIN LATERAL (SELECT * FROM "
                                           "hub_row_scope h WHERE h.row = u.id OFFSET 0) AS s",
                                           {list}));
  std::map<std::pair<std::string, RowId>, std::optional<RowScopeEntry>> found;
  for (int i = 0; i < r.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(r.Bytes(i, 1), "scope row"));
    FS_ASSIGN_OR_RETURN(RowScopeEntry e, EntryAt(r, i, 2));
    found.emplace(std::make_pair(r.Bytes(i, 0), id), std::move(e));
  }
  for (const TableDef& t : schema_.tables()) {
    for (const RowId& id : ids) {
      std::pair<std::string, RowId> key(std::string(t.name), id);
      auto f = found.find(key);
      c->rows.emplace(key, f == found.end() ? std::nullopt : f->second);
    }
  }
  // The grants of the ids that are cases (CaseGrantees' order).
  FS_ASSIGN_OR_RETURN(r, conn_.Exec("SELECT case_id, province FROM hub_grants WHERE case_id "
                                    "= ANY($1::bytea[]) ORDER BY case_id, province",
                                    {list}));
  std::map<RowId, std::vector<std::string>> grantees;
  for (int i = 0; i < r.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(r.Bytes(i, 0), "granted case"));
    grantees[id].push_back(r.Bytes(i, 1));
  }
  for (const RowId& id : ids) c->grantees.emplace(id, std::move(grantees[id]));
  // The persons linked to the ids that are cases (PersonsOfCase's order)
  // and the cases naming the ids that are persons (CasesNaming's). A
  // person's owner looked up by key for each (NULL if it has no entry, as
  // a LEFT JOIN, which hashed every person's entry).
  FS_ASSIGN_OR_RETURN(r, conn_.Exec("SELECT p.case_id, p.person, (SELECT s.owner FROM "
                                    "hub_row_scope s WHERE s.tbl = 'persons' AND s.row = "
                                    "p.person) FROM unnest($1::bytea[]) AS u(id) CROSS JOIN "
                                    "LATERAL (SELECT * FROM hub_person_case h WHERE h.case_id = "
                                    "u.id OFFSET 0) AS p ORDER BY p.case_id, p.person",
                                    {list}));
  std::map<RowId, std::vector<std::pair<RowId, std::optional<std::string>>>> persons;
  for (int i = 0; i < r.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(RowId kase, Id16::FromBytes(r.Bytes(i, 0), "case"));
    FS_ASSIGN_OR_RETURN(RowId person, Id16::FromBytes(r.Bytes(i, 1), "person"));
    std::optional<std::string> owner;
    if (!r.IsNull(i, 2)) owner = r.Bytes(i, 2);
    persons[kase].emplace_back(person, std::move(owner));
  }
  for (const RowId& id : ids) c->persons_of_case.emplace(id, std::move(persons[id]));
  FS_ASSIGN_OR_RETURN(r, conn_.Exec("SELECT p.person, p.case_id FROM unnest($1::bytea[]) AS "
                                    "u(id) CROSS JOIN LATERAL (SELECT * FROM hub_person_case h "
                                    "WHERE h.person = u.id OFFSET 0) AS p ORDER BY p.person, "
                                    "p.case_id",
                                    {list}));
  std::map<RowId, std::vector<RowId>> naming;
  for (int i = 0; i < r.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(RowId person, Id16::FromBytes(r.Bytes(i, 0), "person"));
    FS_ASSIGN_OR_RETURN(RowId kase, Id16::FromBytes(r.Bytes(i, 1), "person case"));
    naming[person].push_back(kase);
  }
  for (const RowId& id : ids) c->cases_naming.emplace(id, std::move(naming[id]));
  // The rings erased (RingErased).
  FS_ASSIGN_OR_RETURN(r, conn_.Exec("SELECT keyring FROM hub_erased WHERE keyring = "
                                    "ANY($1::bytea[])",
                                    {list}));
  std::set<RowId> erased;
  for (int i = 0; i < r.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(RowId ring, Id16::FromBytes(r.Bytes(i, 0), "erased ring"));
    erased.insert(ring);
  }
  for (const RowId& id : ids) c->erased.emplace(id, erased.count(id) > 0);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// The writer's.

absl::Status PgView::AddGrant(const RowId& case_id, const std::string& province,
                              int64_t position) {
  FS_RETURN_IF_ERROR(MustWrite("AddGrant"));
  if (ScopeCache* c = cache()) c->DropGrants();
  return conn_.DeferRow("hub_grants", kInsertGrants, 0, Connection::OnSameKey::kNextStatement,
                        {Param::Bytes(case_id.view()), Param::Text(province),
                         Param::Int(position)});
}

// Each call one statement, whatever the number of keys or subjects.
absl::Status PgView::AddLogScope(const std::set<std::string>& keys, int64_t position) {
  FS_RETURN_IF_ERROR(MustWrite("AddLogScope"));
  if (keys.empty()) return absl::OkStatus();
  // The names as NameList takes them (none holding 0x1f), as before.
  FS_RETURN_IF_ERROR(NameList(std::vector<std::string>(keys.begin(), keys.end())).status());
  for (const std::string& key : keys) {
    FS_RETURN_IF_ERROR(conn_.DeferRow(
        Connection::RowWrite{.table = "hub_log_scope", .sql = kInsertLogScope, .adds_only = true},
        {Param::Text(key), Param::Int(position)}));
  }
  return absl::OkStatus();
}

absl::Status PgView::AddLogSubjects(const std::set<RowId>& subjects, int64_t position) {
  FS_RETURN_IF_ERROR(MustWrite("AddLogSubjects"));
  if (subjects.empty()) return absl::OkStatus();
  for (const RowId& subject : subjects) {
    // Keyed by subject, which KeyLogOfSubjects reads by.
    FS_RETURN_IF_ERROR(conn_.DeferRow(
        Connection::RowWrite{.table = "hub_log_subject",
                             .sql = kInsertLogSubjects,
                             .key = 1,
                             .same_key = Connection::OnSameKey::kSameStatement,
                             .adds_only = true},
        {Param::Bytes(subject.view()), Param::Int(position)}));
  }
  return absl::OkStatus();
}

absl::Status PgView::KeyLogOfSubjects(const std::set<RowId>& subjects,
                                      const std::set<std::string>& provinces) {
  FS_RETURN_IF_ERROR(MustWrite("KeyLogOfSubjects"));
  if (subjects.empty() || provinces.empty()) return absl::OkStatus();
  // The names as NameList takes them (none holding 0x1f), as before.
  FS_RETURN_IF_ERROR(
      NameList(std::vector<std::string>(provinces.begin(), provinces.end())).status());
  // A row a subject and province: it reads the subject's hub_log_subject
  // rows (the key), adds whole rows to hub_log_scope.
  const Connection::RowWrite write{.table = "hub_log_scope",
                                   .sql = kKeyLogOfSubjects,
                                   .key = 1,
                                   .same_key = Connection::OnSameKey::kSameStatement,
                                   .key_table = "hub_log_subject",
                                   .adds_only = true};
  for (const RowId& subject : subjects) {
    for (const std::string& province : provinces) {
      FS_RETURN_IF_ERROR(
          conn_.DeferRow(write, {Param::Bytes(subject.view()), Param::Text(province)}));
    }
  }
  return absl::OkStatus();
}

absl::Status PgView::LinkPerson(const RowId& person, const RowId& case_id) {
  FS_RETURN_IF_ERROR(MustWrite("LinkPerson"));
  if (ScopeCache* c = cache()) c->Linked(person, case_id);
  return conn_.DeferRow(Connection::RowWrite{.table = "hub_person_case",
                                             .sql = kInsertPersonCase,
                                             .adds_only = true},
                        {Param::Bytes(person.view()), Param::Bytes(case_id.view())});
}

absl::Status PgView::UpsertRowScope(const std::string& table, const RowId& row,
                                    const std::string& owner, const std::optional<RowId>& case_id,
                                    std::optional<bool> restricted) {
  FS_RETURN_IF_ERROR(MustWrite("UpsertRowScope"));
  if (ScopeCache* c = cache()) c->Upserted(table, row, owner, case_id, restricted);
  return conn_.DeferRow("hub_row_scope", kUpsertRowScope, 2,
                        Connection::OnSameKey::kNextStatement,
                        {Param::Text(table), Param::Bytes(row.view()), Param::Text(owner),
                         case_id ? Param::Bytes(case_id->view()) : Param::NullBytes(),
                         restricted ? Param::Bool(*restricted) : Param::NullBool()});
}

absl::StatusOr<bool> PgView::MarkEverPublic(const std::string& table, const RowId& row) {
  FS_RETURN_IF_ERROR(MustWrite("MarkEverPublic"));
  if (ScopeCache* c = cache()) c->DropRow(table, row);
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("UPDATE hub_row_scope SET ever_public = true WHERE "
                                           "tbl = $1 AND row = $2 AND NOT ever_public",
                                           {Param::Text(table), Param::Bytes(row.view())}));
  return r.Affected() > 0;
}

absl::Status PgView::AddMove(const std::string& table, const RowId& row,
                             const std::string& province, int64_t position) {
  FS_RETURN_IF_ERROR(MustWrite("AddMove"));
  return conn_.Exec("INSERT INTO hub_moves(province, tbl, row, position) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (province, tbl, row) DO UPDATE SET position = "
                    "excluded.position",
                    {Param::Text(province), Param::Text(table), Param::Bytes(row.view()),
                     Param::Int(position)})
      .status();
}

absl::Status PgView::AddPublic(const std::string& table, const RowId& row, int64_t position) {
  FS_RETURN_IF_ERROR(MustWrite("AddPublic"));
  return conn_.DeferRow("hub_public", kInsertPublic, 0, Connection::OnSameKey::kNextStatement,
                        {Param::Text(table), Param::Bytes(row.view()), Param::Int(position)});
}

absl::Status PgView::SetDeleted(const std::string& table, const RowId& row, bool deleted,
                                int64_t position, int64_t at_millis) {
  FS_RETURN_IF_ERROR(MustWrite("SetDeleted"));
  // The deletion marks are no part of a scope entry: what is kept stays.
  return conn_.DeferRow("hub_row_scope", kSetDeleted, 2, Connection::OnSameKey::kNextStatement,
                        {Param::Text(table), Param::Bytes(row.view()), Param::Bool(deleted),
                         Param::Int(position), Param::Int(at_millis)});
}

absl::StatusOr<std::vector<Tombstone>> PgView::TombstonesDeletedBy(int64_t at_millis) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT tbl, row, deleted_pos FROM hub_row_scope "
                                           "WHERE deleted_pos IS NOT NULL AND deleted_at <= $1 "
                                           "ORDER BY deleted_pos, tbl, row",
                                           {Param::Int(at_millis)}));
  std::vector<Tombstone> out;
  for (int i = 0; i < r.rows(); ++i) {
    Tombstone t;
    t.table = r.Bytes(i, 0);
    FS_ASSIGN_OR_RETURN(t.row, Id16::FromBytes(r.Bytes(i, 1), "tombstone row"));
    FS_ASSIGN_OR_RETURN(t.deleted_pos, r.Int(i, 2));
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace fieldsync::hub::pg
