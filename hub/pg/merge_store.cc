#include "hub/pg/merge_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "change/commit_codec.h"

namespace fieldsync::hub::pg {
namespace {

int64_t Packed(const Hlc& h) { return static_cast<int64_t>(h.packed()); }

// The batched writes (Connection::DeferRow): $i is the array of the rows'
// i-th values.
constexpr char kInsertRows[] =
    "INSERT INTO hub_rows(tbl, row) SELECT * FROM unnest($1::text[], $2::bytea[])";
// Its outcome is the last row's of a key, whatever was held (kReplace).
constexpr char kUpsertFields[] =
    "INSERT INTO hub_fields(tbl, row, slot, hlc, device, base_hlc, base_device, kind, ival, "
    "sval) SELECT * FROM unnest($1::text[], $2::bytea[], $3::int8[], $4::int8[], $5::bytea[], "
    "$6::int8[], $7::bytea[], $8::int8[], $9::int8[], $10::bytea[]) ON CONFLICT (tbl, row, "
    "slot) DO UPDATE SET hlc = EXCLUDED.hlc, device = EXCLUDED.device, base_hlc = "
    "EXCLUDED.base_hlc, base_device = EXCLUDED.base_device, kind = EXCLUDED.kind, ival = "
    "EXCLUDED.ival, sval = EXCLUDED.sval";
constexpr char kInsertLog[] =
    "INSERT INTO hub_log(position, author, seq, hlc, body, signature) SELECT * FROM "
    "unnest($1::int8[], $2::bytea[], $3::int8[], $4::int8[], $5::bytea[], $6::bytea[])";
// The author's mark after the commit: the last one of a push is what is
// held (kReplace).
constexpr char kUpsertAuthor[] =
    "INSERT INTO hub_authors(device, held_seq, max_hlc) SELECT * FROM unnest($1::bytea[], "
    "$2::int8[], $3::int8[]) ON CONFLICT (device) DO UPDATE SET held_seq = EXCLUDED.held_seq, "
    "max_hlc = EXCLUDED.max_hlc";

absl::StatusOr<Version> VersionAt(const Result& r, int row, int hlc_col, int device_col) {
  FS_ASSIGN_OR_RETURN(int64_t hlc, r.Int(row, hlc_col));
  FS_ASSIGN_OR_RETURN(DeviceId device, Id16::FromBytes(r.Bytes(row, device_col), "device"));
  return Version{Hlc::FromPacked(static_cast<uint64_t>(hlc)), device};
}

}  // namespace

void AppendValue(const Value& v, std::vector<Param>* params) {
  params->push_back(Param::Int(static_cast<int64_t>(v.kind())));
  params->push_back(Param::Int(v.kind() == Value::Kind::kInt ? v.int_value() : 0));
  params->push_back(v.kind() == Value::Kind::kText || v.kind() == Value::Kind::kBytes
                        ? Param::Bytes(v.str())
                        : Param::NullBytes());
}

Value ValueAt(const Result& r, int row, int col) {
  const absl::StatusOr<int64_t> kind = r.Int(row, col);
  if (!kind.ok()) return Value::Null();
  switch (static_cast<Value::Kind>(*kind)) {
    case Value::Kind::kInt: {
      const absl::StatusOr<int64_t> i = r.Int(row, col + 1);
      return Value::Int(i.ok() ? *i : 0);
    }
    case Value::Kind::kText: return Value::Text(r.Bytes(row, col + 2));
    case Value::Kind::kBytes: return Value::Bytes(r.Bytes(row, col + 2));
    default: return Value::Null();
  }
}

// ---------------------------------------------------------------------------
// One row.

std::string PgMergeRow::Column(size_t slot) const {
  return slot == 0 ? std::string(kLiveColumn) : std::string(table_.columns[slot - 1].name);
}

absl::Status PgMergeRow::Load() {
  slots_.assign(table_.columns.size() + 1, Slot{});
  // One round trip: the row (no line: not held) and its registers (a line
  // with a NULL slot: held, no register).
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT f.slot, f.hlc, f.device, f.base_hlc, "
                                           "f.base_device, f.kind, f.ival, f.sval FROM hub_rows "
                                           "r LEFT JOIN hub_fields f ON f.tbl = r.tbl AND "
                                           "f.row = r.row WHERE r.tbl = $1 AND r.row = $2",
                                           {Param::Text(table_.name), Param::Bytes(row_.view())}));
  exists_ = r.rows() > 0;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.IsNull(i, 0)) continue;
    FS_ASSIGN_OR_RETURN(int64_t slot, r.Int(i, 0));
    if (slot < 0 || static_cast<size_t>(slot) >= slots_.size()) {
      return absl::DataLossError(absl::StrCat("hub_fields holds slot ", slot, " of ",
                                              AV(table_.name), " row ", row_.ToString(),
                                              ", which has no such column"));
    }
    FieldVersion fv;
    FS_ASSIGN_OR_RETURN(fv.version, VersionAt(r, i, 1, 2));
    if (!r.IsNull(i, 3)) {
      FS_ASSIGN_OR_RETURN(fv.base, VersionAt(r, i, 3, 4));
    }
    slots_[static_cast<size_t>(slot)].version = fv;
    slots_[static_cast<size_t>(slot)].value = ValueAt(r, i, 5);
  }
  return absl::OkStatus();
}

void PgMergeRow::LoadFrom(const HeldRow& held) {
  slots_.assign(table_.columns.size() + 1, Slot{});
  exists_ = held.exists;
  for (size_t s = 0; s < slots_.size() && s < held.versions.size(); ++s) {
    slots_[s].version = held.versions[s];
    slots_[s].value = held.values[s];
  }
}

HeldRow PgMergeRow::Held() const {
  HeldRow out;
  out.exists = exists_;
  for (const Slot& s : slots_) {
    out.versions.push_back(s.version);
    out.values.push_back(s.written != nullptr ? *s.written : s.value);
  }
  return out;
}

std::optional<FieldVersion> PgMergeRow::Current(size_t slot) const {
  return slots_[slot].version;
}

absl::StatusOr<Value> PgMergeRow::CurrentValue(size_t slot) { return slots_[slot].value; }

absl::Status PgMergeRow::DropConflicts(size_t slot, const std::optional<Version>& base,
                                       const std::vector<Version>& resolves) {
  auto drop = [&](const Version& v) {
    return conn_.Defer("DELETE FROM hub_conflicts WHERE tbl = $1 AND row = $2 AND col = $3 AND "
                       "hlc = $4 AND device = $5",
                       {Param::Text(table_.name), Param::Bytes(row_.view()),
                       Param::Text(Column(slot)), Param::Int(Packed(v.hlc)),
                       Param::Bytes(v.device.view())},
                       "hub_conflicts");
  };
  if (base) FS_RETURN_IF_ERROR(drop(*base));
  for (const Version& r : resolves) FS_RETURN_IF_ERROR(drop(r));
  return absl::OkStatus();
}

absl::Status PgMergeRow::KeepConflict(size_t slot, const Version& v,
                                      const std::optional<Version>& base, const Value& value) {
  std::vector<Param> p = {Param::Text(table_.name), Param::Bytes(row_.view()),
                          Param::Text(Column(slot)), Param::Int(Packed(v.hlc)),
                          Param::Bytes(v.device.view()),
                          base ? Param::Int(Packed(base->hlc)) : Param::Null(),
                          base ? Param::Bytes(base->device.view()) : Param::Null()};
  AppendValue(value, &p);
  return conn_.Defer("INSERT INTO hub_conflicts(tbl, row, col, hlc, device, base_hlc, "
                     "base_device, kind, ival, sval) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                     "$9, $10) ON CONFLICT DO NOTHING",
                     p, "hub_conflicts");
}

absl::Status PgMergeRow::Win(size_t slot, const Version& version,
                             const std::optional<Version>& base, const Value& value) {
  slots_[slot].version = FieldVersion{version, base};
  slots_[slot].written = &value;
  return absl::OkStatus();
}

absl::Status PgMergeRow::Store() {
  // The row if new, and each register written: a row of a batch each
  // (Connection::DeferRow), sent with the push's other rows as one
  // statement per table. A register written twice in one push: the last
  // write is what is held, as one upsert after the other would leave it.
  if (!exists_) {
    FS_RETURN_IF_ERROR(conn_.DeferRow("hub_rows", kInsertRows, 0,
                                      Connection::OnSameKey::kNextStatement,
                                      {Param::Text(table_.name), Param::Bytes(row_.view())}));
  }
  for (size_t s = 0; s < slots_.size(); ++s) {
    const Slot& slot = slots_[s];
    if (slot.written == nullptr) continue;
    const FieldVersion& fv = *slot.version;
    std::vector<Param> p = {Param::Text(table_.name), Param::Bytes(row_.view()),
                            Param::Int(static_cast<int64_t>(s)),
                            Param::Int(Packed(fv.version.hlc)),
                            Param::Bytes(fv.version.device.view()),
                            fv.base ? Param::Int(Packed(fv.base->hlc)) : Param::NullInt(),
                            fv.base ? Param::Bytes(fv.base->device.view()) : Param::NullBytes()};
    AppendValue(*slot.written, &p);
    FS_RETURN_IF_ERROR(conn_.DeferRow("hub_fields", kUpsertFields, 3,
                                      Connection::OnSameKey::kReplace, std::move(p)));
  }
  exists_ = true;
  for (Slot& slot : slots_) {
    if (slot.written == nullptr) continue;
    slot.value = *slot.written;
    slot.written = nullptr;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// The store.

PgMergeStore::Author* PgMergeStore::AuthorOf(const DeviceId& device) {
  if (auto it = authors_.find(device); it != authors_.end()) return &it->second;
  absl::Status failed;
  Author a;
  absl::StatusOr<Result> r = conn_.Exec("SELECT held_seq, max_hlc FROM hub_authors WHERE "
                                        "device = $1",
                                        {Param::Bytes(device.view())});
  if (!r.ok()) {
    failed = r.status();
  } else if (r->rows() == 1) {
    absl::StatusOr<int64_t> seq = r->Int(0, 0);
    absl::StatusOr<int64_t> hlc = r->Int(0, 1);
    if (!seq.ok()) {
      failed = seq.status();
    } else if (!hlc.ok()) {
      failed = hlc.status();
    } else {
      a = Author{static_cast<uint64_t>(*seq), static_cast<uint64_t>(*hlc)};
    }
  }
  if (!failed.ok()) {
    if (error_.ok()) error_ = failed;
    return nullptr;
  }
  return &authors_.emplace(device, a).first->second;
}

uint64_t PgMergeStore::HeldSeq(const DeviceId& author) {
  const Author* a = AuthorOf(author);
  return a == nullptr ? 0 : a->held_seq;
}

bool PgMergeStore::Knows(const Version& v) {
  const Author* a = AuthorOf(v.device);
  return a != nullptr && a->max_hlc >= v.hlc.packed();
}

absl::StatusOr<bool> PgMergeStore::RowExists(size_t table, const RowId& row) {
  if (const HeldRow* held = Held(std::string(schema_.tables()[table].name), row)) {
    return held->exists;
  }
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT 1 FROM hub_rows WHERE tbl = $1 AND row = $2",
                                           {Param::Text(schema_.tables()[table].name),
                                            Param::Bytes(row.view())}));
  return r.rows() == 1;
}

absl::Status PgMergeStore::PrefetchRows(const std::set<std::pair<std::string, RowId>>& rows) {
  std::map<std::string, std::vector<RowId>> by_table;
  for (const auto& [table, row] : rows) {
    if (held_.count({table, row}) == 0) by_table[table].push_back(row);
  }
  for (const auto& [table, ids] : by_table) {
    const TableDef* t = schema_.FindTable(table);
    if (t == nullptr) continue;  // refused by the merge, as it would be
    const size_t slots = t->columns.size() + 1;
    for (const RowId& id : ids) {
      HeldRow& h = held_[{table, id}];
      h.versions.assign(slots, std::nullopt);
      h.values.assign(slots, Value::Null());
    }
    // One query a table: a line per register of each row held (a NULL slot
    // if it holds none). The ids as one bytea[], each looked up by its key:
    // `r.row IN (...)` (or a plain join) read every row of the table and
    // hashed them when the planner's statistics were older than the table's
    // rows (a hub filled in less than autovacuum's minute); OFFSET 0 keeps
    // the subquery a lookup per id whatever they say.
    FS_ASSIGN_OR_RETURN(
        Result r,
        conn_.Exec("SELECT r.row, f.slot, f.hlc, f.device, f.base_hlc, f.base_device, f.kind, "
                   "f.ival, f.sval FROM unnest($2::bytea[]) AS u(id) CROSS JOIN LATERAL "
                   "(SELECT h.tbl, h.row FROM hub_rows h WHERE h.tbl = $1 AND h.row = u.id "
                   "OFFSET 0) AS r LEFT JOIN hub_fields f ON f.tbl = r.tbl AND f.row = r.row",
                   {Param::Text(table), Param::IdArray(ids)}));
    for (int i = 0; i < r.rows(); ++i) {
      FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(r.Bytes(i, 0), "row"));
      HeldRow& h = held_[{table, id}];
      h.exists = true;
      if (r.IsNull(i, 1)) continue;
      FS_ASSIGN_OR_RETURN(int64_t slot, r.Int(i, 1));
      if (slot < 0 || static_cast<size_t>(slot) >= slots) {
        return absl::DataLossError(absl::StrCat("hub_fields holds slot ", slot, " of ",
                                                AV(table), " row ", id.ToString(),
                                                ", which has no such column"));
      }
      FieldVersion fv;
      FS_ASSIGN_OR_RETURN(fv.version, VersionAt(r, i, 2, 3));
      if (!r.IsNull(i, 4)) {
        FS_ASSIGN_OR_RETURN(fv.base, VersionAt(r, i, 4, 5));
      }
      h.versions[static_cast<size_t>(slot)] = fv;
      h.values[static_cast<size_t>(slot)] = ValueAt(r, i, 6);
    }
  }
  return absl::OkStatus();
}

const HeldRow* PgMergeStore::Held(const std::string& table, const RowId& row) const {
  auto it = held_.find({table, row});
  return it == held_.end() ? nullptr : &it->second;
}

absl::StatusOr<MergeRow*> PgMergeStore::OpenRow(const Commit&, size_t, size_t table,
                                                const RowId& row) {
  open_.reset();
  open_.emplace(conn_, schema_.tables()[table], row);
  auto it = held_.find({std::string(schema_.tables()[table].name), row});
  if (it != held_.end()) {
    open_->LoadFrom(it->second);
  } else {
    FS_RETURN_IF_ERROR(open_->Load());
  }
  return &*open_;
}

absl::Status PgMergeStore::StoreRow(MergeRow& row) {
  PgMergeRow& r = static_cast<PgMergeRow&>(row);
  FS_RETURN_IF_ERROR(r.Store());
  held_[{std::string(r.table().name), r.id()}] = r.Held();
  return absl::OkStatus();
}

absl::StatusOr<int64_t> PgMergeStore::AppendLog(const Commit& c) {
  Author* a = AuthorOf(c.author);
  if (a == nullptr) return error_;
  body_buf_.clear();
  EncodeCommitTo(c, &body_buf_);
  const int64_t position = head_ + 1;
  // The signature only of a whole commit, as the replica keeps it.
  const bool signed_whole = !c.signature.empty() && c.omitted.empty();
  FS_RETURN_IF_ERROR(conn_.DeferRow(
      "hub_log", kInsertLog, 0, Connection::OnSameKey::kNextStatement,
      {Param::Int(position), Param::Bytes(c.author.view()),
       Param::Int(static_cast<int64_t>(c.seq)), Param::Int(Packed(c.hlc)),
       Param::Bytes(body_buf_), signed_whole ? Param::Bytes(c.signature) : Param::NullBytes()}));
  a->held_seq = c.seq;
  a->max_hlc = std::max(a->max_hlc, c.hlc.packed());
  FS_RETURN_IF_ERROR(conn_.DeferRow("hub_authors", kUpsertAuthor, 1,
                                    Connection::OnSameKey::kReplace,
                                    {Param::Bytes(c.author.view()),
                                     Param::Int(static_cast<int64_t>(a->held_seq)),
                                     Param::Int(static_cast<int64_t>(a->max_hlc))}));
  head_ = position;
  // Its own stamps always; another device's only within the skew limit.
  if (c.author == self_) {
    clock_.Restore(c.hlc);
  } else {
    clock_.Follow(c.hlc);
  }
  return position;
}

absl::Status PgMergeStore::PassOver(const DeviceId& author, uint64_t seq) {
  Author* a = AuthorOf(author);
  if (a == nullptr) return error_;
  if (seq <= a->held_seq) return absl::OkStatus();
  a->held_seq = seq;
  return conn_.Defer("INSERT INTO hub_authors(device, held_seq) VALUES ($1, $2) ON CONFLICT "
                     "(device) DO UPDATE SET held_seq = EXCLUDED.held_seq",
                     {Param::Bytes(author.view()), Param::Int(static_cast<int64_t>(seq))},
                     "hub_authors");
}

}  // namespace fieldsync::hub::pg
