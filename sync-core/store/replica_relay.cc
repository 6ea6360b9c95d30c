// What a hub's storage reads of the replica it relays from (store/replica.h,
// "What a hub's storage reads"): log entries by position or by author, the
// sequence held of a device, and collected tombstones dropped. The hub keeps
// its own tables in the same file but names none of the replica's (_fs_*):
// they stay private to store/ (tests/store_private_test.sh).
#include <sqlite3.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "store/replica_impl.h"

namespace fieldsync {
namespace {

// Positions as a JSON array, for json_each().
std::string JsonPositions(const std::vector<int64_t>& positions) {
  std::string out = "[";
  for (size_t i = 0; i < positions.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", positions[i]);
  }
  out += "]";
  return out;
}

// The columns every query below selects, in this order: position, author,
// body, signature, seq.
constexpr char kEntryColumns[] =
    "SELECT l.pos, d.id, l.body, s.sig, l.seq FROM _fs_log l JOIN _fs_devices d ON d.idx = "
    "l.device LEFT JOIN _fs_signatures s ON s.pos = l.pos ";

absl::StatusOr<Replica::RawEntry> EntryAt(sqlite::Stmt& st) {
  Replica::RawEntry e;
  e.position = st.ColumnInt(0);
  FS_ASSIGN_OR_RETURN(e.author, Id16::FromBytes(st.ColumnBlob(1), "author"));
  e.body = st.ColumnString(2);
  if (!st.ColumnIsNull(3)) e.signature = st.ColumnString(3);
  e.seq = static_cast<uint64_t>(st.ColumnInt(4));
  return e;
}

}  // namespace

absl::StatusOr<std::vector<Replica::RawEntry>> Replica::RawLogAt(
    const std::vector<int64_t>& positions) {
  Impl& m = *impl_;
  std::vector<RawEntry> out;
  if (positions.empty()) return out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(absl::StrCat(
                                     kEntryColumns,
                                     "WHERE l.pos IN (SELECT value FROM json_each(?1)) "
                                     "ORDER BY l.pos")));
    st->BindText(1, JsonPositions(positions));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(RawEntry e, EntryAt(*st.get()));
      out.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::optional<Replica::RawEntry>> Replica::RawLogEntryOf(const DeviceId& author,
                                                                        uint64_t seq) {
  Impl& m = *impl_;
  std::optional<RawEntry> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(absl::StrCat(
                                     kEntryColumns, "WHERE d.id = ?1 AND l.seq = ?2")));
    st->BindBlob(1, author.view());
    st->BindInt(2, static_cast<int64_t>(seq));
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return absl::OkStatus();
    FS_ASSIGN_OR_RETURN(out, EntryAt(*st.get()));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::optional<Replica::RawEntry>> Replica::RawLogEntryAt(const Version& version) {
  Impl& m = *impl_;
  std::optional<RawEntry> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(absl::StrCat(
                                     kEntryColumns, "WHERE d.id = ?1 AND l.hlc = ?2 LIMIT 1")));
    st->BindBlob(1, version.device.view());
    st->BindInt(2, static_cast<int64_t>(version.hlc.packed()));
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return absl::OkStatus();
    FS_ASSIGN_OR_RETURN(out, EntryAt(*st.get()));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<int64_t>> Replica::LogPositionsOf(const DeviceId& author,
                                                             int64_t after_pos) {
  Impl& m = *impl_;
  std::vector<int64_t> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT l.pos FROM _fs_log l JOIN _fs_devices d "
                                                "ON d.idx = l.device WHERE d.id = ?1 AND "
                                                "l.pos > ?2 ORDER BY l.pos"));
    st->BindBlob(1, author.view());
    st->BindInt(2, after_pos);
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      out.push_back(st->ColumnInt(0));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<uint64_t> Replica::SeqHeld(const DeviceId& device) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT max_seq FROM _fs_devices WHERE id = ?1"));
  st->BindBlob(1, device.view());
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  return found ? static_cast<uint64_t>(st->ColumnInt(0)) : uint64_t{0};
}

absl::StatusOr<bool> Replica::DropTombstone(const std::string& table, const RowId& row) {
  Impl& m = *impl_;
  if (m.schema->FindTable(table) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table \"", table, "\" is not in schema version ", m.schema->version(),
        ": no row of it to drop"));
  }
  bool dropped = false;
  auto drop = [&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto del, m.db->Prepared(absl::StrCat(
                                      "DELETE FROM \"", table, "\" WHERE id = ?1 AND _live = 0")));
    del->BindBlob(1, row.view());
    FS_RETURN_IF_ERROR(del->Run());
    dropped = m.db->Changes() > 0;
    if (!dropped) return absl::OkStatus();
    FS_ASSIGN_OR_RETURN(auto conflicts, m.db->Prepared("DELETE FROM _fs_conflicts WHERE tbl = ?1 "
                                                       "AND row = ?2"));
    conflicts->BindText(1, table);
    conflicts->BindBlob(2, row.view());
    return conflicts->Run();
  };
  if (sqlite3_get_autocommit(m.db->raw()) == 0) {
    FS_RETURN_IF_ERROR(drop());
  } else {
    FS_RETURN_IF_ERROR(sqlite::InTransaction(*m.db, sqlite::Transaction::Mode::kWrite,
                                             [&](sqlite::Transaction&) { return drop(); }));
  }
  return dropped;
}

}  // namespace fieldsync
