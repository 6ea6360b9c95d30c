// What the writer's view (PgView, hub/pg/views.h) has read of the scope
// tables -- hub_row_scope, hub_grants, hub_person_case -- kept for the length
// of one write transaction that holds the log head's row lock
// (MergeTransaction, Atomically, Locked; docs/POSTGRES.md, "Round trips").
//
// Why it may be kept: every writer of those tables, in every hub process on
// the database, writes them under that lock, so while this transaction holds
// it nothing but this view changes them; the view updates (Upserted) or
// drops (Drop*) what its own writes change. It is emptied when the
// transaction ends (committed or rolled back): nothing read under one lock
// is trusted under the next. An administrator's edit with psql while the
// hub serves is seen from the next transaction on, as the SQLite hub sees an
// edit of hub.db.
#ifndef FIELDSYNC_HUB_PG_SCOPE_CACHE_H_
#define FIELDSYNC_HUB_PG_SCOPE_CACHE_H_

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "change/id.h"
#include "hub/storage.h"

namespace fieldsync::hub::pg {

struct ScopeCache {
  // RowScope(table, row): nullopt stored for a row with no entry.
  std::map<std::pair<std::string, RowId>, std::optional<RowScopeEntry>> rows;
  // CaseGranted(case, province), CaseGrantees(case).
  std::map<std::pair<RowId, std::string>, bool> granted;
  std::map<RowId, std::vector<std::string>> grantees;
  // CasesNaming(person), PersonsOfCase(case) (PersonOfCase is its first).
  std::map<RowId, std::vector<RowId>> cases_naming;
  std::map<RowId, std::vector<std::pair<RowId, std::optional<std::string>>>> persons_of_case;
  // RingErased(ring) (hub_erased: written by EraseRing under the lock).
  std::map<RowId, bool> erased;
  // Whether hub_keys holds a record of this id (StoreKeyRecord; written
  // under the lock, dropped by EraseRing).
  std::map<std::string, bool> key_held;

  // hub_row_scope's entry of (table, row) written: its reads go, and, for a
  // person, the owners PersonsOfCase joins from it.
  void DropRow(const std::string& table, const RowId& row) {
    rows.erase({table, row});
    if (table == "persons") persons_of_case.clear();
  }
  // UpsertRowScope's write of (table, row), as its SQL makes it: a known
  // entry is updated in place (a row that had none gets one), so that the
  // reads after it in the transaction need no query; persons as DropRow.
  void Upserted(const std::string& table, const RowId& row, const std::string& owner,
                const std::optional<RowId>& case_id, std::optional<bool> restricted) {
    auto it = rows.find({table, row});
    if (it != rows.end()) {
      if (it->second.has_value()) {
        RowScopeEntry& e = *it->second;
        if (!owner.empty()) e.owner = owner;
        if (case_id) e.case_id = case_id;
        if (restricted) e.restricted = *restricted;
      } else {
        it->second = RowScopeEntry{owner, case_id, restricted.value_or(false), false};
      }
    }
    if (table == "persons") PersonOwnerUpserted(row, owner);
  }
  // LinkPerson's write (ON CONFLICT DO NOTHING) kept in place: the person's
  // cases and the case's persons, each in its query's order, the person's
  // owner as PersonsOfCase joins it (from the entry kept of it; if none is
  // kept, the case's list goes and is read again).
  void Linked(const RowId& person, const RowId& case_id) {
    if (auto it = cases_naming.find(person); it != cases_naming.end()) {
      std::vector<RowId>& v = it->second;
      auto at = std::lower_bound(v.begin(), v.end(), case_id);
      if (at == v.end() || *at != case_id) v.insert(at, case_id);
    }
    auto it = persons_of_case.find(case_id);
    if (it == persons_of_case.end()) return;
    auto& v = it->second;
    auto at = std::lower_bound(v.begin(), v.end(), person,
                               [](const auto& e, const RowId& p) { return e.first < p; });
    if (at != v.end() && at->first == person) return;
    auto entry = rows.find({"persons", person});
    if (entry == rows.end()) {
      persons_of_case.erase(it);
      return;
    }
    std::optional<std::string> owner;
    if (entry->second) owner = entry->second->owner;
    v.insert(at, {person, std::move(owner)});
  }
  void DropGrants() {
    granted.clear();
    grantees.clear();
  }
  void DropPersons() {
    cases_naming.clear();
    persons_of_case.clear();
  }
  // A person's owner as UpsertRowScope's SQL leaves it ('' keeps a held
  // owner; a person with no entry gets one), in the cases' lists naming it.
  void PersonOwnerUpserted(const RowId& person, const std::string& owner) {
    for (auto& [kase, persons] : persons_of_case) {
      for (auto& [p, o] : persons) {
        if (p != person) continue;
        if (!o || !owner.empty()) o = owner;
      }
    }
  }
  void Clear() {
    rows.clear();
    DropGrants();
    DropPersons();
    erased.clear();
    key_held.clear();
  }
};

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_SCOPE_CACHE_H_
