#include "node/ops/set_aside.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "node/ops/cases.h"
#include "node/ops/messages.h"
#include "node/ops/values.h"
#include "crypto/commit_signature.h"
#include "sync/messages.h"
#include "sync/own_check.h"

namespace fieldsync::node::ops {
namespace {

absl::StatusOr<SetAsideItem> ItemOf(Replica& replica, const SetAsideRow& r) {
  SetAsideItem it;
  it.seq = r.seq;
  it.code = sync::RefusalCodeName(static_cast<sync::RefusalCode>(r.code));
  it.reason = r.reason;
  it.depends_on = r.depends_on;
  it.at_millis = r.at_millis;
  it.discarded = r.discarded_at_millis != 0;
  it.withdrawn = r.withdrawal != 0;
  // The commit itself stays in this laptop's log.
  FS_ASSIGN_OR_RETURN(std::vector<Commit> c, replica.LocalCommitsAfter(r.seq - 1, 1));
  if (c.empty() || c.front().seq != r.seq) return it;
  for (const RowChange& rc : c.front().changes) {
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica.Get(rc.table, rc.row));
    const bool held = row.has_value();
    it.rows_held += held ? 1 : 0;
    it.rows.push_back(absl::StrCat(rc.table, " ", rc.row.ToString(), held ? " (held here)" : ""));
  }
  return it;
}

}  // namespace

absl::StatusOr<std::vector<SetAsideItem>> ListSetAside(Replica& replica, bool all) {
  FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> rows, replica.SetAsideList());
  std::vector<SetAsideItem> out;
  for (const SetAsideRow& r : rows) {
    if (!all && r.discarded_at_millis != 0) continue;
    FS_ASSIGN_OR_RETURN(SetAsideItem it, ItemOf(replica, r));
    out.push_back(std::move(it));
  }
  return out;
}

absl::StatusOr<size_t> OpenSetAside(Replica& replica) {
  FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> rows, replica.SetAsideList());
  size_t n = 0;
  for (const SetAsideRow& r : rows) n += r.discarded_at_millis == 0 ? 1 : 0;
  return n;
}

absl::StatusOr<SetAsideItem> DiscardSetAside(Replica& replica, uint64_t seq, int64_t now_millis) {
  FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> rows, replica.SetAsideList());
  for (const SetAsideRow& r : rows) {
    if (r.seq != seq) continue;
    FS_ASSIGN_OR_RETURN(SetAsideItem it, ItemOf(replica, r));
    FS_ASSIGN_OR_RETURN(it.fields_left, replica.DiscardSetAside(seq, now_millis));
    return it;
  }
  absl::Status none = replica.DiscardSetAside(seq, now_millis).status();  // its NOT_FOUND
  if (none.ok()) return absl::InternalError("a set-aside commit discarded twice over");
  return none;
}

namespace {

bool Deletes(const RowChange& rc) {
  for (const FieldWrite& f : rc.fields) {
    if (f.column == kLiveColumn && f.value.kind() == Value::Kind::kInt &&
        f.value.int_value() == 0) {
      return true;
    }
  }
  return false;
}

absl::Status Unreadable(uint64_t seq, std::string_view table, std::string_view col,
                        const OpenedField& f) {
  if (f.state == State::kErased) {
    return Coded(
        Refused(absl::StrCat("the keys of the case change ", seq,
                             " writes were erased "
                             "(fieldnode erase --case): what it wrote is never kept; discard "
                             "it")),
        Msg::kSetAsideErased, {{"seq", absl::StrCat(seq)}});
  }
  return Coded(Refused(absl::StrCat("change ", seq, " cannot be kept: ", std::string(table), ".",
                                    std::string(col), " does not open here (", f.problem, ")")),
               Msg::kSetAsideNotOpen,
               {{"seq", absl::StrCat(seq)},
                {"field", absl::StrCat(std::string(table), ".", std::string(col))}});
}

// Whether `c`, as this laptop's log holds it, is what its author signed:
// this laptop's own commits by its own key (of its unlocked identity, never
// the registry's word), others' by their key in the registry. A commit
// logged without a signature (trimmed by the hub to this office's rows, or
// written before commits were signed) cannot be checked.
bool SignedAsLogged(const Office& o, const Commit& c) {
  if (c.signature.empty()) return false;
  std::string_view key;
  if (c.author == o.replica.device_id()) {
    key = o.keys.identity()->public_keys().sign_pk;
  } else if (const RegisteredDevice* d = o.keys.FindDevice(c.author)) {
    key = d->keys.sign_pk;
  }
  return !key.empty() && crypto::VerifyCommitSignature(c, key).ok();
}

// The clear fields of a record this laptop no longer holds live, as it last
// knew it: the newest write of each field in the log (a delete's change
// left out). Keep signs them anew in the record it makes, so each write
// taken must be one its author signed, checked here (attack review 89,
// LOW): the log's bodies, as the rows, are what anyone able to write this
// laptop's database can change. A write of the record in an entry that
// cannot be checked refuses the keep, nothing written.
absl::StatusOr<std::map<std::string, Value>> LastKnown(const Office& o, uint64_t seq,
                                                       const std::string& table,
                                                       const RowId& row) {
  std::map<std::string, Value> out;
  std::map<std::string, std::pair<Version, Value>> newest;
  int64_t after = 0;
  while (true) {
    FS_ASSIGN_OR_RETURN(auto batch, o.replica.LogAfter(after, 2000));
    if (batch.empty()) break;
    for (const auto& [pos, c] : batch) {
      after = pos;
      bool checked = false;
      for (const RowChange& rc : c.changes) {
        if (rc.table != table || rc.row != row) continue;
        if (!checked && !SignedAsLogged(o, c)) {
          return Coded(
              Refused(absl::StrCat(
                  "change ", seq, " cannot be kept: the write of ", table, " ", row.ToString(),
                  " by ", o.DeviceName(c.author), " at position ", pos, " of this laptop's log ",
                  c.signature.empty() ? "is held without its signature"
                                      : "no longer matches its signature (altered on this "
                                        "laptop's disk?)",
                  ", and keep would sign what it holds anew; type the record again, then discard ",
                  seq)),
              Msg::kSetAsideAltered, {{"seq", absl::StrCat(seq)}});
        }
        checked = true;
        if (Deletes(rc)) continue;
        for (const FieldWrite& w : rc.fields) {
          if (w.column == kLiveColumn) continue;
          auto it = newest.find(w.column);
          if (it == newest.end() || it->second.first < c.version()) {
            newest[w.column] = {c.version(), w.value};
          }
        }
      }
    }
  }
  for (auto& [col, vv] : newest) {
    if (vv.second.is_null()) continue;
    OpenedField f = o.keys.Read(table, row, col, vv.second, vv.first);
    if (f.state != State::kClear && f.state != State::kOpened) {
      return Unreadable(seq, table, col, f);
    }
    if (!f.value.is_null()) out[col] = std::move(f.value);
  }
  return out;
}

}  // namespace

absl::StatusOr<KeptSetAside> KeepSetAside(const Office& o, uint64_t seq) {
  Replica& replica = o.replica;
  FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> rows, replica.SetAsideList());
  const SetAsideRow* r = nullptr;
  for (const SetAsideRow& x : rows) r = x.seq == seq ? &x : r;
  if (r == nullptr) {
    return Coded(absl::NotFoundError(absl::StrCat(
                     "change ", seq,
                     " of this laptop was not set aside (fieldnode set-aside list shows "
                     "what is). Nothing was changed")),
                 Msg::kSetAsideNotFound, {{"seq", absl::StrCat(seq)}});
  }
  if (r->discarded_at_millis != 0) {
    return Coded(Refused(absl::StrCat("set-aside change ", seq,
                                      " was resolved already (discarded, "
                                      "or kept as a new record)")),
                 Msg::kSetAsideResolved, {{"seq", absl::StrCat(seq)}});
  }
  if (r->code == static_cast<int>(sync::RefusalCode::kClockAhead)) {
    return Coded(
        Refused(absl::StrCat("change ", seq,
                             " waits to be re-dated by this laptop (its "
                             "clock was ahead): the next sync with the clock right sends it; "
                             "there is nothing for an officer to keep")),
        Msg::kSetAsideClockAhead, {{"seq", absl::StrCat(seq)}});
  }
  // Its body failed this laptop's own check before the push (own81): what
  // it holds is not what the officer wrote, and keep would sign it anew.
  if (r->code == static_cast<int>(sync::RefusalCode::kDamaged)) {
    return Coded(
        Refused(absl::StrCat("change ", seq,
                             " was damaged on this laptop's disk (its "
                             "signature no longer matches it): keep would sign the damaged "
                             "values anew. Discard it (fieldnode set-aside discard ",
                             seq, "), then write the values again")),
        Msg::kSetAsideDamaged, {{"seq", absl::StrCat(seq)}});
  }
  FS_RETURN_IF_ERROR(o.RequireUnlocked("keeping a set-aside change"));
  KeptSetAside out;
  FS_ASSIGN_OR_RETURN(out.item, ItemOf(replica, *r));
  FS_ASSIGN_OR_RETURN(std::vector<Commit> log, replica.LocalCommitsAfter(seq - 1, 1));
  if (log.empty() || log.front().seq != seq) {
    return Coded(Refused(absl::StrCat("change ", seq,
                                      " is no longer in this laptop's log: there is "
                                      "nothing to keep; discard it")),
                 Msg::kSetAsideNotInLog, {{"seq", absl::StrCat(seq)}});
  }
  const Commit& c = log.front();
  // Whatever its code (attack review 86, LOW 4): the stored commit must be
  // what this laptop signed, by its own key, or keep would sign anew what
  // someone able to write this laptop's database put in it.
  const sync::OwnCheck own = sync::CheckOwnCommit(c, o.keys.identity()->public_keys().sign_pk);
  if (own.kind != sync::OwnCheck::Kind::kSound) {
    return Coded(
        Refused(absl::StrCat("change ", seq, " no longer matches this laptop's signature ",
                             "(altered or damaged on its disk: ", own.why,
                             "): keep would "
                             "sign the altered values anew. Discard it (fieldnode set-aside "
                             "discard ",
                             seq, "), then write the values again")),
        Msg::kSetAsideAltered, {{"seq", absl::StrCat(seq)}});
  }
  for (const RowChange& rc : c.changes) {
    if (rc.table != "cases" && rc.table != "persons") {
      return Coded(Refused(absl::StrCat("change ", seq, " writes ", rc.table,
                                        ": keep makes case "
                                        "files (cases and their persons) only; type it again, then "
                                        "discard ",
                                        seq)),
                   Msg::kSetAsideNotCaseFile, {{"seq", absl::StrCat(seq)}, {"table", rc.table}});
    }
    if (Deletes(rc)) {
      return Coded(Refused(absl::StrCat("change ", seq,
                                        " deletes a record: there is nothing to keep "
                                        "as a new record; discard it")),
                   Msg::kSetAsideDeletes, {{"seq", absl::StrCat(seq)}});
    }
    FS_ASSIGN_OR_RETURN(const bool erased, o.keys.IsErased(rc.row));
    if (erased) {
      return Coded(Refused(absl::StrCat("the keys of the case change ", seq,
                                        " writes were erased "
                                        "(fieldnode erase --case): what it wrote is never kept; "
                                        "discard it")),
                   Msg::kSetAsideErased, {{"seq", absl::StrCat(seq)}});
    }
  }
  // Persons first: a new case names its new person.
  std::vector<const RowChange*> order;
  for (const RowChange& rc : c.changes) {
    if (rc.table == "persons") order.push_back(&rc);
  }
  for (const RowChange& rc : c.changes) {
    if (rc.table == "cases") order.push_back(&rc);
  }
  std::map<RowId, RowId> renamed;
  LocalTxn txn;
  for (const RowChange* rc : order) {
    const TableDef& t = o.Table(rc->table);
    FS_ASSIGN_OR_RETURN(std::optional<Row> held, o.Get(rc->table, rc->row));
    KeptRecord rec;
    rec.table = rc->table;
    if (held && held->live) {
      // Held here: the change written again as an edit (after the resolve
      // puts its fields back to the hub's versions, so it stands on them).
      std::vector<std::pair<std::string, Value>> fields;
      for (const FieldWrite& w : rc->fields) {
        const ColumnDef* col = t.FindColumn(w.column);
        if (col == nullptr || !col->derived_from.empty()) continue;
        Value v = w.value;
        if (!v.is_null()) {
          OpenedField f = o.keys.Read(rc->table, rc->row, w.column, w.value, c.version());
          if (f.state != State::kClear && f.state != State::kOpened) {
            return Unreadable(seq, rc->table, w.column, f);
          }
          v = std::move(f.value);
        }
        fields.emplace_back(w.column, std::move(v));
      }
      txn.Set(rc->table, rc->row, std::move(fields));
      rec.row = rc->row;
      if (rc->table == "cases") rec.code = o.Clear(*held, "cases", "case_code");
      out.records.push_back(std::move(rec));
      continue;
    }
    FS_ASSIGN_OR_RETURN(auto known, LastKnown(o, seq, rc->table, rc->row));
    for (const ColumnDef& col : t.columns) {
      if (!col.derived_from.empty()) known.erase(std::string(col.name));
    }
    const RowId id = Id16::NewV7(o.clock);
    renamed[rc->row] = id;
    known["province"] = Value::Text(o.province);
    if (rc->table == "cases") {
      if (auto it = known.find("case_code"); it != known.end() && it->second.kind() ==
                                                                       Value::Kind::kText) {
        rec.was = it->second.str();
      }
      rec.code = NewCaseCode(o);
      known["case_code"] = Value::Text(rec.code);
      std::optional<RowId> person;
      if (auto it = known.find("person_id"); it != known.end()) person = IdOf(it->second);
      if (person && renamed.count(*person) > 0) {
        known["person_id"] = IdValue(renamed[*person]);
      } else {
        FS_ASSIGN_OR_RETURN(std::optional<Row> p,
                            person ? o.Get("persons", *person)
                                   : absl::StatusOr<std::optional<Row>>(std::nullopt));
        if (!p || !p->live) {
          return Coded(
              Refused(absl::StrCat("the person of the case change ", seq,
                                   " writes is not "
                                   "held here: keep cannot make the case's file again; type "
                                   "it again, then discard ",
                                   seq)),
              Msg::kSetAsidePersonMissing, {{"seq", absl::StrCat(seq)}});
        }
      }
      const std::string today = o.Today();
      for (const auto& [col, v] : std::vector<std::pair<std::string, Value>>{
               {"office", Value::Text(o.province)},
               {"intake_channel", Value::Text("hotline_call")},
               {"status", Value::Text("intake")},
               {"trafficking_status", Value::Text("possible")},
               {"urgency", Value::Text("normal")},
               {"assigned_officer", Value::Text(o.officer)},
               {"opened_on", Value::Text(today)}}) {
        known.try_emplace(col, v);
      }
    }
    txn.Create(rc->table, id, Fields(known.begin(), known.end()));
    rec.row = id;
    rec.created = true;
    out.records.push_back(std::move(rec));
  }
  FS_RETURN_IF_ERROR(replica.KeepSetAside(seq, txn, o.NowMillis()).status());
  return out;
}

}  // namespace fieldsync::node::ops
