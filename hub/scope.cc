#include "hub/scope.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "schema/relations.h"

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

// A merged value as SQLite would give it as text.
std::string Str(const Value& v) {
  if (v.kind() == Value::Kind::kText || v.kind() == Value::Kind::kBytes) return v.str();
  if (v.kind() == Value::Kind::kInt) return std::to_string(v.int_value());
  return std::string();
}

// A merged value as an integer (NULL and text: 0).
int64_t Int(const Value& v) { return v.kind() == Value::Kind::kInt ? v.int_value() : 0; }

absl::StatusOr<RowId> IdOf(const Value* v) {
  if (v == nullptr || v->kind() != Value::Kind::kBytes) return RowId();
  return Id16::FromBytes(v->str(), "case id");
}

// A delete writes _live = 0 (and NULL into every field).
bool IsDelete(const RowChange& rc) {
  const Value* live = Written(rc, kLiveColumn);
  return live != nullptr && live->kind() == Value::Kind::kInt && live->int_value() == 0;
}

// The declared relation of `table` to its case (schema/relations.h). A
// table the schema does not declare relates to none: every rule below
// refuses or hides its rows.
CaseRelation RelationOf(const Schema& schema, std::string_view table) {
  absl::StatusOr<CaseRelation> r = CaseRelationOf(schema, table);
  return r.ok() ? *r : CaseRelation{};
}

// The declared owner of `table`'s rows (schema/relations.h). A table the
// schema does not declare is no office's: every rule below refuses or
// hides its rows.
OwnerRelation OwnerOfTable(const Schema& schema, std::string_view table) {
  absl::StatusOr<OwnerRelation> o = OwnerOf(schema, table);
  return o.ok() ? *o : OwnerRelation{};
}

// The table whose rows are cases ("" if none).
std::string CasesName(const Schema& schema) {
  const TableDef* t = CasesTable(schema);
  return t == nullptr ? std::string() : std::string(t->name);
}

// The table of a case's person (named by a column of cases, whose links
// the hub keeps), nullptr if none.
const TableDef* PersonsTable(const Schema& schema) {
  for (const TableDef& t : schema.tables()) {
    if (t.case_relation.link == CaseLink::kNamedBy) return &t;
  }
  return nullptr;
}

// The column of cases that names a case's person: "person_id".
std::string_view PersonColumn(const Schema& schema) {
  const TableDef* t = PersonsTable(schema);
  return t == nullptr ? std::string_view() : t->case_relation.column;
}

std::string PersonsName(const Schema& schema) {
  const TableDef* t = PersonsTable(schema);
  return t == nullptr ? std::string() : std::string(t->name);
}

// The column whose value restricts a row of `table` (empty: none).
std::string_view RestrictionOf(const Schema& schema, std::string_view table) {
  const TableDef* t = schema.FindTable(table);
  return t == nullptr ? std::string_view() : t->restriction;
}

absl::Status Denied(const Commit& c, const RowChange& rc, std::string_view why) {
  return absl::PermissionDeniedError(absl::StrCat(
      "commit ", c.Name(), " refused, nothing of the batch stored: ", AV(rc.table), " row ",
      rc.row.ToString(), " ", AV(why)));
}

}  // namespace

absl::StatusOr<Scope::Entry> Scope::Lookup(const std::string& table, const RowId& row) {
  FS_ASSIGN_OR_RETURN(std::optional<RowScopeEntry> found, data_.RowScope(table, row));
  Entry e;
  if (!found) return e;
  e.found = true;
  e.owner = found->owner;
  if (found->case_id) e.case_id = *found->case_id;
  e.restricted = found->restricted && !found->ever_public;
  return e;
}

absl::StatusOr<bool> Scope::Granted(const std::string& province, const RowId& case_id) {
  return data_.CaseGranted(case_id, province);
}

absl::StatusOr<bool> Scope::CaseVisible(const std::string& province, const RowId& case_id) {
  if (cache_province_ != province) {
    case_cache_.clear();
    cache_province_ = province;
  }
  if (auto it = case_cache_.find(case_id); it != case_cache_.end()) return it->second;
  FS_ASSIGN_OR_RETURN(Entry e, Lookup(CasesName(data_.schema()), case_id));
  bool visible = e.found && e.owner == province;
  if (e.found && !visible) {
    FS_ASSIGN_OR_RETURN(visible, Granted(province, case_id));
  }
  case_cache_[case_id] = visible;
  return visible;
}

absl::StatusOr<bool> Scope::Visible(const std::string& province, const std::string& table,
                                    const RowId& row) {
  const OwnerRelation own = OwnerOfTable(data_.schema(), table);
  if (own.link == OwnerLink::kShared) return true;
  const CaseRelation rel = RelationOf(data_.schema(), table);
  if (rel.link == CaseLink::kSelf) return CaseVisible(province, row);
  FS_ASSIGN_OR_RETURN(Entry e, Lookup(table, row));
  if (!e.found) return false;  // unknown rows are nobody's: fail closed
  if (rel.link == CaseLink::kNone) {
    // An office's own rows: its alone, or listed to every office but those
    // restricted to it.
    if (own.link != OwnerLink::kColumn) return false;
    if (own.listed) return !e.restricted || e.owner.empty() || e.owner == province;
    return e.owner == province;
  }
  if (rel.link == CaseLink::kNamedBy) {  // a person: owned, or seen with a case naming them
    if (e.owner == province) return true;
    FS_ASSIGN_OR_RETURN(const std::vector<RowId> cases, data_.CasesNaming(row));
    for (const RowId& c : cases) {
      FS_ASSIGN_OR_RETURN(bool v, CaseVisible(province, c));
      if (v) return true;
    }
    return false;
  }
  // Referrals, consents: seen with the case they name.
  if (rel.link != CaseLink::kColumn || e.case_id.is_nil()) return false;
  return CaseVisible(province, e.case_id);
}

absl::Status Scope::CheckMoveByUnapproved(const Commit& c) {
  for (const RowChange& rc : c.changes) {
    const OwnerRelation own = OwnerOfTable(data_.schema(), rc.table);
    if (own.link != OwnerLink::kColumn) continue;
    const Value* to = Written(rc, own.column);
    if (to == nullptr || to->is_null()) continue;  // a delete moves nothing
    FS_ASSIGN_OR_RETURN(Entry e, Lookup(rc.table, rc.row));
    if (!e.found || e.owner.empty() || TextOf(to) == e.owner) continue;
    return Denied(c, rc, absl::StrCat("belongs to province ", AV(e.owner), ", and device ",
                                      c.author.ToString(), " that moves it elsewhere was never "
                                      "approved by its office: only a device its office "
                                      "approved moves its records (its laptops would refuse "
                                      "the move)"));
  }
  return absl::OkStatus();
}

absl::Status Scope::CheckWritable(const std::string& province, const Commit& c) {
  for (const RowChange& rc : c.changes) {
    FS_ASSIGN_OR_RETURN(Entry e, Lookup(rc.table, rc.row));
    const CaseRelation rel = RelationOf(data_.schema(), rc.table);
    const OwnerRelation own = OwnerOfTable(data_.schema(), rc.table);
    const bool shared = own.link == OwnerLink::kShared;
    // An office's own row (not one of a case's owner, nor shared): it says
    // whose it is in its owner column.
    const bool owned_table = own.link == OwnerLink::kColumn;
    const std::string_view restriction = RestrictionOf(data_.schema(), rc.table);
    // A delete clears every field (writes NULL): that moves nothing, so only
    // non-NULL writes of the fields that decide scope are checked below.
    auto written = [&](std::string_view column) -> const Value* {
      const Value* v = Written(rc, column);
      return v != nullptr && !v->is_null() ? v : nullptr;
    };
    const Value* province_written = owned_table ? written(own.column) : nullptr;
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
      // An office's own row not listed to all (a case, a person) is deleted
      // by its office alone.
      if (owned_table && !own.listed && IsDelete(rc) && !e.owner.empty() &&
          e.owner != province) {
        return Denied(c, rc, absl::StrCat("belongs to province ", AV(e.owner),
                                          "; only its office may delete it"));
      }
      if (owned_table && !restriction.empty() && written(restriction) != nullptr &&
          !e.owner.empty() && e.owner != province) {
        return Denied(c, rc, absl::StrCat("belongs to province ", AV(e.owner),
                                          "; only its office may change who may see it"));
      }
      // The links that decide who sees what are set once: changing them
      // would show records to provinces that were never meant to see them.
      // Compared with what the hub recorded, which a NULL written earlier
      // does not erase; clearing a link is allowed only by a delete.
      if (rel.link == CaseLink::kColumn) {
        if (const Value* v = Written(rc, rel.column)) {
          if (v->is_null() ? !IsDelete(rc)
                           : (e.case_id.is_nil() || v->str() != e.case_id.view())) {
            return Denied(c, rc, "cannot be moved to another case; record a new one instead");
          }
        }
      }
      if (rel.link == CaseLink::kSelf) FS_RETURN_IF_ERROR(CheckPersonLink(province, c, rc));
      if (rc.table == "access_log") {
        return Denied(c, rc, "is an access log entry: the log is append-only, entries are "
                             "never changed or deleted");
      }
      continue;
    }
    // A row the hub has not seen: the commit creates it, and says whose it is.
    if (rc.table == "access_log") {
      if (TextOf(province_written) != province) {
        return Denied(c, rc, absl::StrCat("is new and must name its office's province \"",
                                          AV(province), "\" in its ", AV(own.column),
                                          " field"));
      }
      const Value* device = Written(rc, "device");
      if (device == nullptr || device->kind() != Value::Kind::kBytes ||
          device->str() != c.author.view()) {
        return Denied(c, rc, "is an access log entry that names another device than its "
                             "author: each device writes only its own entries");
      }
    } else if (owned_table && !own.listed) {
      if (TextOf(province_written) != province) {
        return Denied(c, rc, absl::StrCat("is new and must name its office's province \"",
                                          AV(province), "\" in its ", AV(own.column),
                                          " field (it names \"", TextOf(province_written),
                                          "\")"));
      }
      if (rel.link == CaseLink::kSelf) FS_RETURN_IF_ERROR(CheckPersonLink(province, c, rc));
    } else if (owned_table) {
      // Listed to every office: anyone may add one, but not restricted to
      // another office.
      const Value* restricted = restriction.empty() ? nullptr : Written(rc, restriction);
      const std::string owner = TextOf(province_written);
      if (restricted != nullptr && IsRestricted(*restricted) && !owner.empty() &&
          owner != province) {
        return Denied(c, rc, absl::StrCat("is restricted to province ", AV(owner),
                                          "; a node of ", AV(province), " cannot write it"));
      }
    } else if (own.link == OwnerLink::kCase && rel.link == CaseLink::kColumn) {
      FS_ASSIGN_OR_RETURN(RowId case_id, IdOf(Written(rc, rel.column)));
      if (case_id.is_nil()) {
        return Denied(c, rc, absl::StrCat("is new and names no case (", AV(rel.column),
                                          "): it would belong to no one"));
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

absl::Status Scope::CheckPersonLink(const std::string& province, const Commit& c,
                                    const RowChange& rc) {
  const std::string_view person_column = PersonColumn(data_.schema());
  const Value* v = person_column.empty() ? nullptr : Written(rc, person_column);
  if (v == nullptr) return absl::OkStatus();
  // The persons the hub linked to the case, whatever NULL was written
  // since. Every link a case ever had is kept (a hub before the rule below
  // linked more than one): a write of any of them is no change of the
  // case's person, and shows nobody anything new. PersonOfCase gave one of
  // them only (LIMIT 1; attack review 88, LOW), and a commit writing the
  // case's other linked person was refused.
  FS_ASSIGN_OR_RETURN(const auto linked, data_.PersonsOfCase(rc.row));
  if (v->is_null()) {
    if (linked.empty() || IsDelete(rc)) return absl::OkStatus();
    return Denied(c, rc, "names its victim (person_id); the link can be cleared only by "
                         "deleting the case");
  }
  FS_ASSIGN_OR_RETURN(RowId person, IdOf(v));
  if (!linked.empty()) {
    for (const auto& [p, owner] : linked) {
      if (p == person) return absl::OkStatus();
    }
    return Denied(c, rc, "already names its victim (person_id); a case's person cannot change");
  }
  const std::string persons = PersonsName(data_.schema());
  FS_ASSIGN_OR_RETURN(Entry e, Lookup(persons, person));
  if (!e.found) return absl::OkStatus();  // new: created by this or a later commit
  FS_ASSIGN_OR_RETURN(bool visible, Visible(province, persons, person));
  if (!visible) {
    return Denied(c, rc, absl::StrCat("names person ", person.ToString(),
                                      ", who is outside the scope of province ", AV(province)));
  }
  return absl::OkStatus();
}

absl::Status Scope::Grant(const RowId& case_id, const std::string& province,
                          int64_t position) {
  FS_ASSIGN_OR_RETURN(const bool had, Granted(province, case_id));
  if (had) return absl::OkStatus();
  new_sight_.grants[case_id].insert(province);
  return writer_->AddGrant(case_id, province, position);
}

absl::Status Scope::AddCaseKeys(const RowId& k, std::set<std::string>& keys,
                                std::set<RowId>& subjects) {
  subjects.insert(k);
  FS_ASSIGN_OR_RETURN(std::optional<RowScopeEntry> kase,
                      data_.RowScope(CasesName(data_.schema()), k));
  if (kase && !kase->owner.empty()) keys.insert(kase->owner);
  FS_ASSIGN_OR_RETURN(const std::vector<std::string> grantees, data_.CaseGrantees(k));
  keys.insert(grantees.begin(), grantees.end());
  return absl::OkStatus();
}

absl::Status Scope::KeyEarlierEntries() {
  NewSight sight = std::move(new_sight_);
  new_sight_ = NewSight{};
  // A case newly granted: its entries, and its persons'.
  for (const auto& [k, provinces] : sight.grants) {
    std::set<RowId> subjects = {k};
    FS_ASSIGN_OR_RETURN(const auto persons, data_.PersonsOfCase(k));
    for (const auto& [person, owner] : persons) subjects.insert(person);
    FS_RETURN_IF_ERROR(writer_->KeyLogOfSubjects(subjects, provinces));
  }
  // A person newly named by a case: its entries, for all who see the case.
  for (const auto& [person, k] : sight.links) {
    std::set<std::string> provinces;
    std::set<RowId> unused;
    FS_RETURN_IF_ERROR(AddCaseKeys(k, provinces, unused));
    FS_RETURN_IF_ERROR(writer_->KeyLogOfSubjects({person}, provinces));
  }
  for (const auto& [subject, provinces] : sight.direct) {
    FS_RETURN_IF_ERROR(writer_->KeyLogOfSubjects({subject}, provinces));
  }
  return absl::OkStatus();
}

absl::Status Scope::Record(const Commit& c, int64_t position) {
  if (writer_ == nullptr) {
    return absl::FailedPreconditionError("scope: a snapshot records nothing (internal error)");
  }
  new_sight_ = NewSight{};
  FS_RETURN_IF_ERROR(RecordRows(c, position));
  // Which provinces' pulls must read this entry (after the merge: a commit
  // that grants or moves a case is read by the new grantee or owner too),
  // and the cases, persons and restricted contacts it touched.
  std::set<std::string> keys;
  std::set<RowId> subjects;
  for (const RowChange& rc : c.changes) {
    const OwnerRelation own = OwnerOfTable(data_.schema(), rc.table);
    if (own.link == OwnerLink::kShared) {
      keys.insert("*");
      continue;
    }
    FS_ASSIGN_OR_RETURN(Entry e, Lookup(rc.table, rc.row));
    if (own.listed) {
      const bool restricted = e.restricted && !e.owner.empty();
      keys.insert(restricted ? e.owner : std::string("*"));
      // Made public later: its entries are keyed under '*' then.
      if (restricted) subjects.insert(rc.row);
      continue;
    }
    const CaseLink link = RelationOf(data_.schema(), rc.table).link;
    if (link == CaseLink::kColumn) {
      if (!e.case_id.is_nil()) FS_RETURN_IF_ERROR(AddCaseKeys(e.case_id, keys, subjects));
      continue;
    }
    keys.insert(e.owner);
    if (link == CaseLink::kSelf) FS_RETURN_IF_ERROR(AddCaseKeys(rc.row, keys, subjects));
    if (link == CaseLink::kNamedBy) {
      // Also who sees the cases that name the person.
      subjects.insert(rc.row);
      FS_ASSIGN_OR_RETURN(const std::vector<RowId> cases, data_.CasesNaming(rc.row));
      for (const RowId& k : cases) {
        std::set<RowId> unused;
        FS_RETURN_IF_ERROR(AddCaseKeys(k, keys, unused));
      }
    }
  }
  FS_RETURN_IF_ERROR(writer_->AddLogSubjects(subjects, position));
  FS_RETURN_IF_ERROR(writer_->AddLogScope(keys, position));
  return KeyEarlierEntries();
}

absl::StatusOr<std::vector<LogEntry>> Scope::LogEntries(const std::string& province,
                                                        int64_t after, int64_t upto,
                                                        size_t limit) {
  if (!log_scope_from_) {
    FS_ASSIGN_OR_RETURN(const int64_t from, data_.LogScopeFrom());
    log_scope_from_ = from;
  }
  const int64_t from = *log_scope_from_;
  if (after < from) {
    if (!old_keys_ || old_keys_province_ != province) {
      FS_ASSIGN_OR_RETURN(old_keys_, LogKeys(province));
      old_keys_province_ = province;
    }
    FS_ASSIGN_OR_RETURN(std::vector<LogEntry> older,
                        data_.LogEntriesUnder(*old_keys_, after, std::min(upto, from), limit));
    if (!older.empty() || upto <= from) return older;
    after = from;
  }
  return data_.LogEntriesUnder({province, "*"}, after, upto, limit);
}

absl::StatusOr<std::vector<std::string>> Scope::LogKeys(const std::string& province) {
  std::set<std::string> keys = {province, "*"};
  FS_ASSIGN_OR_RETURN(const std::vector<std::string> others,
                      data_.GrantedCaseProvinces(province));
  keys.insert(others.begin(), others.end());
  return std::vector<std::string>(keys.begin(), keys.end());
}

absl::Status Scope::RecordRows(const Commit& c, int64_t position) {
  // Visibility changes with what was just merged: forget cached answers.
  case_cache_.clear();
  const Schema& schema = data_.schema();
  const std::string person_column(PersonColumn(schema));
  const std::string cases = CasesName(schema);
  for (const RowChange& rc : c.changes) {
    const std::string& t = rc.table;
    const CaseRelation rel = RelationOf(schema, t);
    const OwnerRelation own = OwnerOfTable(schema, t);
    std::string owner;
    std::optional<RowId> case_id;
    std::optional<bool> restricted;
    bool before_restricted = false;
    // The row's liveness (`_live`) as merged, if read with its scope
    // columns; nullopt read means the hub holds no such row.
    std::optional<std::vector<Value>> live;
    bool read_live = false;
    if (own.link == OwnerLink::kColumn || own.link == OwnerLink::kCase) {
      // The merged values, not the commit's: the commit may have lost. Of
      // an office's own row, its owner (a case's person, a row's
      // restriction and liveness); of a row of a case's owner, its case
      // (and the office it grants the case to).
      std::vector<std::string> columns;
      auto read = [&](std::string_view column) {
        columns.emplace_back(column);
        return static_cast<int>(columns.size()) - 1;
      };
      int owner_at = -1, person_at = -1, restriction_at = -1, live_at = -1, case_at = -1,
          grant_at = -1;
      if (own.link == OwnerLink::kColumn) {
        owner_at = read(own.column);
        if (rel.link == CaseLink::kSelf) person_at = read(person_column);
        const std::string_view restriction = RestrictionOf(schema, t);
        if (!restriction.empty()) {
          restriction_at = read(restriction);
          live_at = read(kLiveColumn);
        }
      } else if (rel.link == CaseLink::kColumn) {
        case_at = read(rel.column);
        const TableDef* td = schema.FindTable(t);
        if (!td->grants_case_to.empty()) grant_at = read(td->grants_case_to);
      }
      // The liveness too, for the tombstone below (nothing between writes
      // the row's fields): one read of the row, not two.
      if (live_at < 0) live_at = read(kLiveColumn);
      FS_ASSIGN_OR_RETURN(std::optional<std::vector<Value>> v,
                          data_.CurrentValues(t, rc.row, columns));
      if (!v) continue;
      live = std::vector<Value>{(*v)[live_at]};
      read_live = true;
      FS_ASSIGN_OR_RETURN(Entry before, Lookup(t, rc.row));
      before_restricted = before.found && before.restricted;
      if (owner_at >= 0 && !(*v)[owner_at].is_null()) owner = Str((*v)[owner_at]);
      // A deleted row's fields are all NULL: that says nothing of its
      // restriction.
      if (restriction_at >= 0 && ((*v)[live_at].is_null() || Int((*v)[live_at]) != 0)) {
        // Unset restriction means public.
        restricted = IsRestricted((*v)[restriction_at]);
      }
      if (rel.link == CaseLink::kSelf) {
        case_id = rc.row;
        if (person_at >= 0 && !(*v)[person_at].is_null()) {
          FS_ASSIGN_OR_RETURN(RowId person, Id16::FromBytes(Str((*v)[person_at]), "person id"));
          // Newly named only if this (person, case) link is new: every link
          // the case ever had is kept, and PersonOfCase gives only one of
          // them (attack review 88: an edit of a case once re-linked to a
          // person of a higher id keyed that person's whole log again).
          FS_ASSIGN_OR_RETURN(const auto linked, data_.PersonsOfCase(rc.row));
          bool known = false;
          for (const auto& [p, owner] : linked) known = known || p == person;
          if (!known) new_sight_.links.emplace(person, rc.row);
          FS_RETURN_IF_ERROR(writer_->LinkPerson(person, rc.row));
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
      // A person moved to another province: its entries are its new
      // owner's to read.
      if (rel.link == CaseLink::kNamedBy && !owner.empty() && before.found &&
          !before.owner.empty() && before.owner != owner) {
        new_sight_.direct[rc.row].insert(owner);
        // Its earlier entries are behind the new office's cursors: the row
        // is installed whole at their next pull (NewlyVisible).
        FS_RETURN_IF_ERROR(writer_->AddMove(t, rc.row, owner, position));
      }
      if (case_at >= 0) {
        if (!(*v)[case_at].is_null()) {
          FS_ASSIGN_OR_RETURN(case_id, Id16::FromBytes(Str((*v)[case_at]), "case id"));
        }
        // A referral: the office it names sees the case from here on.
        if (grant_at >= 0 && case_id && !(*v)[grant_at].is_null()) {
          const std::string to = Str((*v)[grant_at]);
          FS_ASSIGN_OR_RETURN(Entry kase, Lookup(cases, *case_id));
          if (!to.empty() && to != kase.owner) {
            FS_RETURN_IF_ERROR(Grant(*case_id, to, position));
          }
        }
      }
    }
    // Upsert; a deleted row (fields cleared) keeps what it had.
    FS_RETURN_IF_ERROR(writer_->UpsertRowScope(t, rc.row, owner, case_id, restricted));
    if (restricted && !*restricted) {
      // Public from now on, for good. Created restricted and made public
      // later: every province receives it whole at its next pull.
      FS_ASSIGN_OR_RETURN(bool made_public, writer_->MarkEverPublic(t, rc.row));
      if (made_public && before_restricted) {
        FS_RETURN_IF_ERROR(writer_->AddPublic(t, rc.row, position));
        new_sight_.direct[rc.row].insert("*");
      }
    }
    // Tombstones: when and where the row was deleted (collection needs it).
    if (!read_live) {
      FS_ASSIGN_OR_RETURN(live, data_.CurrentValues(t, rc.row, {std::string(kLiveColumn)}));
    }
    const bool deleted = live && Int((*live)[0]) == 0;
    FS_RETURN_IF_ERROR(writer_->SetDeleted(t, rc.row, deleted, position,
                                           static_cast<int64_t>(c.hlc.wall_millis())));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, RowId>>> Scope::NewlyVisible(
    const std::string& province, int64_t after, int64_t upto) {
  FS_ASSIGN_OR_RETURN(const std::vector<RowId> cases,
                      data_.GrantsBetween(province, after, upto));
  std::vector<std::pair<std::string, RowId>> out;
  std::set<std::pair<std::string, RowId>> seen;
  auto add = [&](std::string t, const RowId& r) {
    if (seen.emplace(t, r).second) out.emplace_back(std::move(t), r);
  };
  // Contacts made public since `after` (created restricted elsewhere).
  {
    FS_ASSIGN_OR_RETURN(const std::vector<ScopedRow> made_public,
                        data_.MadePublicBetween(after, upto));
    for (const ScopedRow& r : made_public) {
      if (r.entry.owner != province) add(r.table, r.row);
    }
  }
  // Persons moved to the province since `after` (session 24: before, its
  // laptops got the move alone, which needs entries behind their cursors,
  // and their pulls stopped there).
  // Only one it still sees: moved on since (A to B, then B to C), it is no
  // longer B's to receive, nor what C wrote since (attack review 24, MED 1).
  {
    FS_ASSIGN_OR_RETURN(const auto moved, data_.MovedBetween(province, after, upto));
    for (const auto& [table, row] : moved) {
      FS_ASSIGN_OR_RETURN(const bool sees, Visible(province, table, row));
      if (sees) add(table, row);
    }
  }
  const std::string cases_table = CasesName(data_.schema());
  const std::string persons_table = PersonsName(data_.schema());
  for (const RowId& k : cases) {
    add(cases_table, k);
    // Referrals and consents of the case.
    FS_ASSIGN_OR_RETURN(const auto rows, data_.RowsOfCase(k));
    for (const auto& [table, row] : rows) {
      if (table != cases_table) add(table, row);
    }
    // Its person, unless the province saw it already as its owner.
    FS_ASSIGN_OR_RETURN(const auto persons, data_.PersonsOfCase(k));
    for (const auto& [person, owner] : persons) {
      if (owner && *owner == province) continue;
      add(persons_table, person);
    }
  }
  return out;
}

absl::StatusOr<absl::flat_hash_set<RowId>> Scope::VisibleCases(const std::string& province) {
  FS_ASSIGN_OR_RETURN(const std::vector<RowId> owned,
                      data_.ScopeRowsOwnedBy(CasesName(data_.schema()), province));
  FS_ASSIGN_OR_RETURN(const std::vector<RowId> granted, data_.CasesGrantedTo(province));
  absl::flat_hash_set<RowId> out(owned.begin(), owned.end());
  out.insert(granted.begin(), granted.end());
  return out;
}

absl::StatusOr<std::vector<RowId>> Scope::VisibleRows(const std::string& province,
                                                      const std::string& table) {
  std::vector<RowId> out;
  const OwnerRelation own = OwnerOfTable(data_.schema(), table);
  const CaseLink link = RelationOf(data_.schema(), table).link;
  if (own.link == OwnerLink::kShared || own.listed) {
    FS_ASSIGN_OR_RETURN(const std::vector<ScopedRow> rows, data_.ScopeRows(table));
    for (const ScopedRow& r : rows) {
      const RowScopeEntry& e = r.entry;
      if (!own.listed || !e.restricted || e.ever_public || e.owner.empty() ||
          e.owner == province) {
        out.push_back(r.row);
      }
    }
    return out;
  }
  if (link == CaseLink::kNone) {
    // An office's own rows of no case are its alone; no owner: nobody's.
    if (own.link == OwnerLink::kColumn) return data_.ScopeRowsOwnedBy(table, province);
    return out;
  }
  // Cases the province sees: owned, or granted.
  FS_ASSIGN_OR_RETURN(const absl::flat_hash_set<RowId> cases, VisibleCases(province));
  if (link == CaseLink::kSelf) {
    out.assign(cases.begin(), cases.end());
  } else if (link == CaseLink::kNamedBy) {
    // Owned, or named by a case the province sees (and known to the hub).
    FS_ASSIGN_OR_RETURN(out, data_.ScopeRowsOwnedBy(table, province));
    // A province that sees no case sees no person named by one: every
    // link of the hub not read (a new office's first pass read them all,
    // 63 of them 790 ms on PostgreSQL).
    if (cases.empty()) {
      std::sort(out.begin(), out.end());
      out.erase(std::unique(out.begin(), out.end()), out.end());
      return out;
    }
    FS_ASSIGN_OR_RETURN(const auto links, data_.PersonLinks());
    absl::flat_hash_set<RowId> named;
    for (const auto& [person, kase] : links) {
      if (cases.contains(kase)) named.insert(person);
    }
    // Those the hub holds an entry of, looked up by id (a few queries on a
    // store a round trip away, not one a person), and those alone: the
    // table's entries read whole were every office's persons (attack
    // review 28, LOW 3).
    FS_ASSIGN_OR_RETURN(const std::vector<ScopedRow> held,
                        data_.ScopeRowsOf(table, std::vector<RowId>(named.begin(), named.end())));
    for (const ScopedRow& r : held) out.push_back(r.row);
  } else if (link == CaseLink::kColumn) {
    // Referrals, consents: with the case they name.
    FS_ASSIGN_OR_RETURN(const std::vector<ScopedRow> rows, data_.ScopeRows(table));
    for (const ScopedRow& r : rows) {
      if (r.entry.case_id && cases.contains(*r.entry.case_id)) out.push_back(r.row);
    }
    return out;
  } else {
    return out;  // a table of no known case: nobody's (fail closed)
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace fieldsync::hub
