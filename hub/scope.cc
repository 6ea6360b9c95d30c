#include "hub/scope.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace fieldsync::hub {
namespace {

const Value* Written(const RowChange& rc, std::string_view column) {
  for (const FieldWrite& f : rc.fields) {
    if (f.column == column) return &f.value;
  }
  return nullptr;
}

std::string TextOf(const Value* v) {
  return v != nullptr && v->kind() == Value::Kind::kText ? v->str() : std::string();
}

absl::StatusOr<RowId> IdOf(const Value* v) {
  if (v == nullptr || v->kind() != Value::Kind::kBytes) return RowId();
  return Id16::FromBytes(v->str(), "case id");
}

// A delete writes _live = 0 (and NULL into every field).
bool IsDelete(const RowChange& rc) {
  const Value* live = Written(rc, kLiveColumn);
  return live != nullptr && live->kind() == Value::Kind::kInt && live->int_value() == 0;
}

absl::Status Denied(const Commit& c, const RowChange& rc, std::string_view why) {
  return absl::PermissionDeniedError(absl::StrCat(
      "commit ", c.Name(), " refused, nothing of the batch stored: ", AV(rc.table), " row ",
      rc.row.ToString(), " ", AV(why)));
}

}  // namespace

absl::Status Scope::CreateTables(sqlite::Db& db) {
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS hub_row_scope(tbl TEXT NOT NULL, row BLOB NOT NULL, "
      "owner TEXT NOT NULL DEFAULT '', case_id BLOB, restricted INTEGER NOT NULL DEFAULT 0, "
      "deleted_pos INTEGER, deleted_at INTEGER, ever_public INTEGER NOT NULL DEFAULT 0, "
      "PRIMARY KEY(tbl, row)) WITHOUT ROWID"));
  // Rows that became visible to every province at `position` (a contact
  // created restricted, made public later): installed whole at the next pull.
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS hub_public(tbl TEXT NOT NULL, row BLOB NOT NULL, position "
      "INTEGER NOT NULL, PRIMARY KEY(tbl, row)) WITHOUT ROWID"));
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS hub_grants(case_id BLOB NOT NULL, province TEXT NOT NULL, "
      "position INTEGER NOT NULL, PRIMARY KEY(case_id, province)) WITHOUT ROWID"));
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE INDEX IF NOT EXISTS hub_grants_by_province ON hub_grants(province, position)"));
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE INDEX IF NOT EXISTS hub_row_scope_by_case ON hub_row_scope(case_id)"));
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE INDEX IF NOT EXISTS hub_row_scope_by_owner ON hub_row_scope(tbl, owner)"));
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS hub_log_scope(province TEXT NOT NULL, position INTEGER NOT "
      "NULL, PRIMARY KEY(province, position)) WITHOUT ROWID"));
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS hub_person_case(person BLOB NOT NULL, case_id BLOB NOT NULL, "
      "PRIMARY KEY(person, case_id)) WITHOUT ROWID"));
  // By case too: every pushed case checks its person link (without it each
  // check scanned the table: the push of 30,000 cases went quadratic).
  return db.Exec(
      "CREATE INDEX IF NOT EXISTS hub_person_case_by_case ON hub_person_case(case_id)");
}

absl::StatusOr<Scope::Entry> Scope::Lookup(const std::string& table, const RowId& row) {
  FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT owner, case_id, restricted AND NOT "
                                            "ever_public FROM hub_row_scope WHERE tbl = ?1 AND "
                                            "row = ?2"));
  st->BindText(1, table);
  st->BindBlob(2, row.view());
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  Entry e;
  if (!found) return e;
  e.found = true;
  e.owner = st->ColumnString(0);
  if (!st->ColumnIsNull(1)) {
    FS_ASSIGN_OR_RETURN(e.case_id, Id16::FromBytes(st->ColumnBlob(1), "scope case id"));
  }
  e.restricted = st->ColumnInt(2) != 0;
  return e;
}

absl::StatusOr<bool> Scope::Granted(const std::string& province, const RowId& case_id) {
  FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT 1 FROM hub_grants WHERE case_id = ?1 AND "
                                            "province = ?2"));
  st->BindBlob(1, case_id.view());
  st->BindText(2, province);
  return st->Step();
}

absl::StatusOr<bool> Scope::CaseVisible(const std::string& province, const RowId& case_id) {
  if (cache_province_ != province) {
    case_cache_.clear();
    cache_province_ = province;
  }
  if (auto it = case_cache_.find(case_id); it != case_cache_.end()) return it->second;
  FS_ASSIGN_OR_RETURN(Entry e, Lookup("cases", case_id));
  bool visible = e.found && e.owner == province;
  if (e.found && !visible) {
    FS_ASSIGN_OR_RETURN(visible, Granted(province, case_id));
  }
  case_cache_[case_id] = visible;
  return visible;
}

absl::StatusOr<bool> Scope::Visible(const std::string& province, const std::string& table,
                                    const RowId& row) {
  if (table == "organisations" || table == "services") return true;
  if (table == "cases") return CaseVisible(province, row);
  FS_ASSIGN_OR_RETURN(Entry e, Lookup(table, row));
  if (!e.found) return false;  // unknown rows are nobody's: fail closed
  if (table == "contacts") return !e.restricted || e.owner.empty() || e.owner == province;
  if (table == "access_log") return e.owner == province;
  if (table == "persons") {
    if (e.owner == province) return true;
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT case_id FROM hub_person_case WHERE "
                                              "person = ?1"));
    st->BindBlob(1, row.view());
    std::vector<RowId> cases;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(0), "person case"));
      cases.push_back(id);
    }
    for (const RowId& c : cases) {
      FS_ASSIGN_OR_RETURN(bool v, CaseVisible(province, c));
      if (v) return true;
    }
    return false;
  }
  // referrals, consents: seen with their case.
  if (e.case_id.is_nil()) return false;
  return CaseVisible(province, e.case_id);
}

absl::Status Scope::CheckWritable(const std::string& province, const Commit& c) {
  for (const RowChange& rc : c.changes) {
    FS_ASSIGN_OR_RETURN(Entry e, Lookup(rc.table, rc.row));
    const bool shared = rc.table == "organisations" || rc.table == "services";
    const bool owned_table = rc.table == "cases" || rc.table == "persons" ||
                             rc.table == "contacts" || rc.table == "access_log";
    // A delete clears every field (writes NULL): that moves nothing, so only
    // non-NULL writes of the fields that decide scope are checked below.
    auto written = [&](std::string_view column) -> const Value* {
      const Value* v = Written(rc, column);
      return v != nullptr && !v->is_null() ? v : nullptr;
    };
    const Value* province_written = owned_table ? written("province") : nullptr;
    if (e.found || shared) {
      FS_ASSIGN_OR_RETURN(bool visible, Visible(province, rc.table, rc.row));
      if (!visible) {
        return Denied(c, rc, absl::StrCat("is outside the scope of province ", AV(province),
                                          e.owner.empty() ? ""
                                                          : absl::StrCat(" (it belongs to ",
                                                                         AV(e.owner), ")")));
      }
      if (province_written != nullptr && e.owner != province && !e.owner.empty() &&
          TextOf(province_written) != e.owner) {
        return Denied(c, rc, absl::StrCat("belongs to province ", AV(e.owner),
                                          "; only its office may move it elsewhere"));
      }
      if ((rc.table == "cases" || rc.table == "persons") && IsDelete(rc) && !e.owner.empty() &&
          e.owner != province) {
        return Denied(c, rc, absl::StrCat("belongs to province ", AV(e.owner),
                                          "; only its office may delete it"));
      }
      if (rc.table == "contacts" && written("restriction") != nullptr &&
          !e.owner.empty() && e.owner != province) {
        return Denied(c, rc, absl::StrCat("is a contact of province ", AV(e.owner),
                                          "; only its office may change who may see it"));
      }
      // The links that decide who sees what are set once: changing them
      // would show records to provinces that were never meant to see them.
      // Compared with what the hub recorded, which a NULL written earlier
      // does not erase; clearing a link is allowed only by a delete.
      if (rc.table == "referrals" || rc.table == "consents") {
        if (const Value* v = Written(rc, "case_id")) {
          if (v->is_null() ? !IsDelete(rc)
                           : (e.case_id.is_nil() || v->str() != e.case_id.view())) {
            return Denied(c, rc, "cannot be moved to another case; record a new one instead");
          }
        }
      }
      if (rc.table == "cases") FS_RETURN_IF_ERROR(CheckPersonLink(province, c, rc));
      if (rc.table == "access_log") {
        return Denied(c, rc, "is an access log entry: the log is append-only, entries are "
                             "never changed or deleted");
      }
      continue;
    }
    // A row the hub has not seen: the commit creates it, and says whose it is.
    if (rc.table == "cases" || rc.table == "persons") {
      if (TextOf(province_written) != province) {
        return Denied(c, rc, absl::StrCat("is new and must name its office's province \"",
                                          AV(province), "\" in its province field (it names \"",
                                          TextOf(province_written), "\")"));
      }
      if (rc.table == "cases") FS_RETURN_IF_ERROR(CheckPersonLink(province, c, rc));
    } else if (rc.table == "access_log") {
      if (TextOf(province_written) != province) {
        return Denied(c, rc, absl::StrCat("is new and must name its office's province \"",
                                          AV(province), "\" in its province field"));
      }
      const Value* device = Written(rc, "device");
      if (device == nullptr || device->kind() != Value::Kind::kBytes ||
          device->str() != c.author.view()) {
        return Denied(c, rc, "is an access log entry that names another device than its "
                             "author: each device writes only its own entries");
      }
    } else if (rc.table == "contacts") {
      const std::string restriction = TextOf(Written(rc, "restriction"));
      const std::string owner = TextOf(province_written);
      if (restriction == "restricted" && !owner.empty() && owner != province) {
        return Denied(c, rc, absl::StrCat("is a contact restricted to province ", AV(owner),
                                          "; a node of ", AV(province), " cannot write it"));
      }
    } else if (rc.table == "referrals" || rc.table == "consents") {
      FS_ASSIGN_OR_RETURN(RowId case_id, IdOf(Written(rc, "case_id")));
      if (case_id.is_nil()) {
        return Denied(c, rc, "is new and names no case (case_id): it would belong to no one");
      }
      FS_ASSIGN_OR_RETURN(bool visible, CaseVisible(province, case_id));
      if (!visible) {
        return Denied(c, rc, absl::StrCat("belongs to case ", case_id.ToString(),
                                          ", which is outside the scope of province ",
                                          AV(province)));
      }
    } else {
      return Denied(c, rc, "is in a table the hub has no scope rule for");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Value>> Scope::Current(const std::string& table,
                                                    const std::string& column, const RowId& row) {
  FS_ASSIGN_OR_RETURN(auto st, db_.Prepared(absl::StrCat("SELECT \"", AV(column), "\" FROM \"",
                                                         AV(table), "\" WHERE id = ?1")));
  st->BindBlob(1, row.view());
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) return std::optional<Value>();
  return std::optional<Value>(st->ColumnValue(0));
}

absl::Status Scope::CheckPersonLink(const std::string& province, const Commit& c,
                                    const RowChange& rc) {
  const Value* v = Written(rc, "person_id");
  if (v == nullptr) return absl::OkStatus();
  // The person the hub linked to the case, whatever NULL was written since.
  std::optional<RowId> linked;
  {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT person FROM hub_person_case WHERE "
                                              "case_id = ?1 LIMIT 1"));
    st->BindBlob(1, rc.row.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (found) {
      FS_ASSIGN_OR_RETURN(linked, Id16::FromBytes(st->ColumnBlob(0), "linked person"));
    }
  }
  if (v->is_null()) {
    if (!linked || IsDelete(rc)) return absl::OkStatus();
    return Denied(c, rc, "names its victim (person_id); the link can be cleared only by "
                         "deleting the case");
  }
  FS_ASSIGN_OR_RETURN(RowId person, IdOf(v));
  if (linked) {
    if (*linked == person) return absl::OkStatus();
    return Denied(c, rc, "already names its victim (person_id); a case's person cannot change");
  }
  FS_ASSIGN_OR_RETURN(Entry e, Lookup("persons", person));
  if (!e.found) return absl::OkStatus();  // new: created by this or a later commit
  FS_ASSIGN_OR_RETURN(bool visible, Visible(province, "persons", person));
  if (!visible) {
    return Denied(c, rc, absl::StrCat("names person ", person.ToString(),
                                      ", who is outside the scope of province ", AV(province)));
  }
  return absl::OkStatus();
}

absl::Status Scope::Grant(const RowId& case_id, const std::string& province,
                          int64_t position) {
  FS_ASSIGN_OR_RETURN(auto g, db_.Prepared("INSERT OR IGNORE INTO hub_grants(case_id, province, "
                                           "position) VALUES (?1, ?2, ?3)"));
  g->BindBlob(1, case_id.view());
  g->BindText(2, province);
  g->BindInt(3, position);
  return g->Run();
}

absl::Status Scope::Record(const Commit& c, int64_t position) {
  FS_RETURN_IF_ERROR(RecordRows(c, position));
  // Which provinces' pulls must read this entry.
  std::set<std::string> keys;
  for (const RowChange& rc : c.changes) {
    if (rc.table == "organisations" || rc.table == "services") {
      keys.insert("*");
      continue;
    }
    FS_ASSIGN_OR_RETURN(Entry e, Lookup(rc.table, rc.row));
    if (rc.table == "contacts") {
      keys.insert(e.restricted && !e.owner.empty() ? e.owner : std::string("*"));
      continue;
    }
    if (rc.table == "referrals" || rc.table == "consents") {
      if (!e.case_id.is_nil()) {
        FS_ASSIGN_OR_RETURN(Entry kase, Lookup("cases", e.case_id));
        keys.insert(kase.owner);
      }
      continue;
    }
    keys.insert(e.owner);
    if (rc.table == "persons") {
      // Also the owners of the cases that name the person.
      FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT s.owner FROM hub_person_case p JOIN "
                                                "hub_row_scope s ON s.tbl = 'cases' AND s.row = "
                                                "p.case_id WHERE p.person = ?1"));
      st->BindBlob(1, rc.row.view());
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        keys.insert(st->ColumnString(0));
      }
    }
  }
  FS_ASSIGN_OR_RETURN(auto ins, db_.Prepared("INSERT OR IGNORE INTO hub_log_scope(province, "
                                             "position) VALUES (?1, ?2)"));
  for (const std::string& k : keys) {
    ins->Reset();
    ins->BindText(1, k);
    ins->BindInt(2, position);
    FS_RETURN_IF_ERROR(ins->Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Scope::LogKeys(const std::string& province) {
  std::set<std::string> keys = {province, "*"};
  FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT DISTINCT s.owner FROM hub_grants g JOIN "
                                            "hub_row_scope s ON s.tbl = 'cases' AND s.row = "
                                            "g.case_id WHERE g.province = ?1"));
  st->BindText(1, province);
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    keys.insert(st->ColumnString(0));
  }
  return std::vector<std::string>(keys.begin(), keys.end());
}

absl::Status Scope::RecordRows(const Commit& c, int64_t position) {
  // Visibility changes with what was just merged: forget cached answers.
  case_cache_.clear();
  for (const RowChange& rc : c.changes) {
    const std::string& t = rc.table;
    std::string owner;
    std::optional<RowId> case_id;
    std::optional<bool> restricted;
    bool before_restricted = false;
    if (t == "cases" || t == "persons" || t == "contacts" || t == "referrals" ||
        t == "consents" || t == "access_log") {
      // The merged values, not the commit's: the commit may have lost.
      const char* sql = t == "cases"       ? "SELECT province, person_id FROM cases WHERE id = ?1"
                        : t == "persons"   ? "SELECT province FROM persons WHERE id = ?1"
                        : t == "access_log" ? "SELECT province FROM access_log WHERE id = ?1"
                        : t == "contacts"  ? "SELECT province, restriction, _live FROM contacts "
                                             "WHERE id = ?1"
                        : t == "referrals" ? "SELECT case_id, to_office FROM referrals WHERE id = ?1"
                                           : "SELECT case_id FROM consents WHERE id = ?1";
      FS_ASSIGN_OR_RETURN(auto st, db_.Prepared(sql));
      st->BindBlob(1, rc.row.view());
      FS_ASSIGN_OR_RETURN(bool found, st->Step());
      if (!found) continue;
      FS_ASSIGN_OR_RETURN(Entry before, Lookup(t, rc.row));
      before_restricted = before.found && before.restricted;
      if (t == "cases" || t == "persons" || t == "contacts" || t == "access_log") {
        if (!st->ColumnIsNull(0)) owner = st->ColumnString(0);
      }
      // A deleted contact's fields are all NULL: that says nothing of its
      // restriction.
      const bool contact_live = t == "contacts" && (st->ColumnIsNull(2) || st->ColumnInt(2) != 0);
      if (contact_live) {
        // Unset restriction means public.
        restricted = !st->ColumnIsNull(1) && st->ColumnString(1) == "restricted";
      }
      if (t == "cases") {
        case_id = rc.row;
        if (!st->ColumnIsNull(1)) {
          FS_ASSIGN_OR_RETURN(RowId person, Id16::FromBytes(st->ColumnBlob(1), "person id"));
          FS_ASSIGN_OR_RETURN(auto link, db_.Prepared("INSERT OR IGNORE INTO "
                                                      "hub_person_case(person, case_id) "
                                                      "VALUES (?1, ?2)"));
          link->BindBlob(1, person.view());
          link->BindBlob(2, rc.row.view());
          FS_RETURN_IF_ERROR(link->Run());
        }
        // A case moved to another province is granted to it from here on,
        // and the office it leaves keeps sight of it (visibility only grows:
        // its offline edits must still be accepted).
        if (!owner.empty() && before.found && !before.owner.empty() && before.owner != owner) {
          for (const std::string& p : {owner, before.owner}) {
            FS_RETURN_IF_ERROR(Grant(rc.row, p, position));
          }
        }
      }
      if (t == "referrals" || t == "consents") {
        if (!st->ColumnIsNull(0)) {
          FS_ASSIGN_OR_RETURN(case_id, Id16::FromBytes(st->ColumnBlob(0), "case id"));
        }
        if (t == "referrals" && case_id && !st->ColumnIsNull(1)) {
          const std::string to = st->ColumnString(1);
          FS_ASSIGN_OR_RETURN(Entry kase, Lookup("cases", *case_id));
          if (!to.empty() && to != kase.owner) {
            FS_RETURN_IF_ERROR(Grant(*case_id, to, position));
          }
        }
      }
    }
    // Upsert; a deleted row (fields cleared) keeps what it had.
    FS_ASSIGN_OR_RETURN(
        auto up,
        db_.Prepared("INSERT INTO hub_row_scope(tbl, row, owner, case_id, restricted) "
                     "VALUES (?1, ?2, ?3, ?4, coalesce(?5, 0)) ON CONFLICT(tbl, row) DO UPDATE "
                     "SET owner = CASE WHEN excluded.owner = '' THEN owner ELSE excluded.owner "
                     "END, case_id = coalesce(excluded.case_id, case_id), restricted = "
                     "coalesce(?5, restricted)"));
    up->BindText(1, t);
    up->BindBlob(2, rc.row.view());
    up->BindText(3, owner);
    if (case_id) up->BindBlob(4, case_id->view());
    if (restricted) up->BindInt(5, *restricted ? 1 : 0);
    FS_RETURN_IF_ERROR(up->Run());
    if (t == "contacts" && restricted && !*restricted) {
      // Public from now on, for good. Created restricted and made public
      // later: every province receives it whole at its next pull.
      FS_ASSIGN_OR_RETURN(auto pub, db_.Prepared("UPDATE hub_row_scope SET ever_public = 1 WHERE "
                                                 "tbl = ?1 AND row = ?2 AND ever_public = 0"));
      pub->BindText(1, t);
      pub->BindBlob(2, rc.row.view());
      FS_RETURN_IF_ERROR(pub->Run());
      if (db_.Changes() > 0 && before_restricted) {
        FS_ASSIGN_OR_RETURN(auto ev, db_.Prepared("INSERT OR IGNORE INTO hub_public(tbl, row, "
                                                  "position) VALUES (?1, ?2, ?3)"));
        ev->BindText(1, t);
        ev->BindBlob(2, rc.row.view());
        ev->BindInt(3, position);
        FS_RETURN_IF_ERROR(ev->Run());
      }
    }
    // Tombstones: when and where the row was deleted (collection needs it).
    FS_ASSIGN_OR_RETURN(auto live, db_.Prepared(absl::StrCat("SELECT _live FROM \"", AV(t),
                                                             "\" WHERE id = ?1")));
    live->BindBlob(1, rc.row.view());
    FS_ASSIGN_OR_RETURN(bool found, live->Step());
    const bool deleted = found && live->ColumnInt(0) == 0;
    FS_ASSIGN_OR_RETURN(auto del, db_.Prepared(
                                      "UPDATE hub_row_scope SET deleted_pos = CASE WHEN ?3 THEN "
                                      "coalesce(deleted_pos, ?4) END, deleted_at = CASE WHEN ?3 "
                                      "THEN coalesce(deleted_at, ?5) END WHERE tbl = ?1 AND "
                                      "row = ?2"));
    del->BindText(1, t);
    del->BindBlob(2, rc.row.view());
    del->BindInt(3, deleted ? 1 : 0);
    del->BindInt(4, position);
    del->BindInt(5, static_cast<int64_t>(c.hlc.wall_millis()));
    FS_RETURN_IF_ERROR(del->Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, RowId>>> Scope::NewlyVisible(
    const std::string& province, int64_t after, int64_t upto) {
  std::vector<RowId> cases;
  {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT case_id FROM hub_grants WHERE province = ?1 "
                                              "AND position > ?2 AND position <= ?3 "
                                              "ORDER BY position"));
    st->BindText(1, province);
    st->BindInt(2, after);
    st->BindInt(3, upto);
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(0), "granted case"));
      cases.push_back(id);
    }
  }
  std::vector<std::pair<std::string, RowId>> out;
  std::set<std::pair<std::string, RowId>> seen;
  auto add = [&](std::string t, const RowId& r) {
    if (seen.emplace(t, r).second) out.emplace_back(std::move(t), r);
  };
  // Contacts made public since `after` (created restricted elsewhere).
  {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT p.tbl, p.row FROM hub_public p JOIN "
                                              "hub_row_scope s ON s.tbl = p.tbl AND s.row = p.row "
                                              "WHERE p.position > ?2 AND p.position <= ?3 AND "
                                              "s.owner != ?1 ORDER BY p.position"));
    st->BindText(1, province);
    st->BindInt(2, after);
    st->BindInt(3, upto);
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(1), "row"));
      add(st->ColumnString(0), id);
    }
  }
  for (const RowId& k : cases) {
    add("cases", k);
    // Referrals and consents of the case.
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT tbl, row FROM hub_row_scope WHERE "
                                              "case_id = ?1 AND tbl != 'cases' ORDER BY tbl, row"));
    st->BindBlob(1, k.view());
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(1), "row"));
      add(st->ColumnString(0), id);
    }
    // Its person, unless the province saw it already as its owner.
    FS_ASSIGN_OR_RETURN(auto ps, db_.Prepared("SELECT p.person, s.owner FROM hub_person_case p "
                                              "LEFT JOIN hub_row_scope s ON s.tbl = 'persons' "
                                              "AND s.row = p.person WHERE p.case_id = ?1"));
    ps->BindBlob(1, k.view());
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, ps->Step());
      if (!r) break;
      if (!ps->ColumnIsNull(1) && ps->ColumnString(1) == province) continue;
      FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(ps->ColumnBlob(0), "person"));
      add("persons", id);
    }
  }
  return out;
}

absl::StatusOr<std::vector<RowId>> Scope::VisibleRows(const std::string& province,
                                                      const std::string& table) {
  // Cases the province sees: owned, or granted.
  static constexpr char kVisibleCases[] =
      "SELECT row FROM hub_row_scope WHERE tbl = 'cases' AND owner = ?1 "
      "UNION SELECT case_id FROM hub_grants WHERE province = ?1";
  std::string sql;
  if (table == "organisations" || table == "services") {
    sql = "SELECT row FROM hub_row_scope WHERE tbl = ?2 ORDER BY row";
  } else if (table == "contacts") {
    sql = "SELECT row FROM hub_row_scope WHERE tbl = ?2 AND (restricted = 0 OR ever_public = 1 "
          "OR owner = '' OR owner = ?1) ORDER BY row";
  } else if (table == "access_log") {
    sql = "SELECT row FROM hub_row_scope WHERE tbl = ?2 AND owner = ?1 ORDER BY row";
  } else if (table == "cases") {
    sql = absl::StrCat("SELECT row FROM (", kVisibleCases, ") WHERE ?2 = 'cases' ORDER BY row");
  } else if (table == "persons") {
    sql = absl::StrCat(
        "SELECT row FROM hub_row_scope WHERE tbl = ?2 AND owner = ?1 UNION SELECT p.person FROM "
        "hub_person_case p JOIN hub_row_scope s ON s.tbl = 'persons' AND s.row = p.person "
        "WHERE p.case_id IN (", kVisibleCases, ") ORDER BY 1");
  } else {
    // referrals, consents: with their case.
    sql = absl::StrCat("SELECT row FROM hub_row_scope WHERE tbl = ?2 AND case_id IN (",
                       kVisibleCases, ") ORDER BY row");
  }
  FS_ASSIGN_OR_RETURN(auto st, db_.Prepared(sql));
  st->BindText(1, province);
  st->BindText(2, table);
  std::vector<RowId> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(0), "row"));
    out.push_back(id);
  }
  return out;
}

}  // namespace fieldsync::hub
