#include "hub/sqlite_chain.h"

#include "base/status_macros.h"

namespace fieldsync::hub::sqlite_chain {

absl::StatusOr<ChainPoint> Head(sqlite::Db& db, const DeviceId& device) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT seq, link FROM hub_chain WHERE device = ?1 "
                                           "ORDER BY seq DESC LIMIT 1"));
  st->BindBlob(1, device.view());
  ChainPoint p;
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (found) {
    p.seq = static_cast<uint64_t>(st->ColumnInt(0));
    p.link = st->ColumnString(1);
  }
  return p;
}

absl::StatusOr<std::vector<StoredChainEntry>> Entries(sqlite::Db& db, const DeviceId& device,
                                                      uint64_t first, uint64_t last,
                                                      size_t limit) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT seq, position, header, sig, link FROM "
                                           "hub_chain WHERE device = ?1 AND seq >= ?2 AND "
                                           "seq <= ?3 ORDER BY seq LIMIT ?4"));
  st->BindBlob(1, device.view());
  st->BindInt(2, static_cast<int64_t>(first));
  st->BindInt(3, static_cast<int64_t>(last));
  st->BindInt(4, static_cast<int64_t>(limit));
  std::vector<StoredChainEntry> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    StoredChainEntry e;
    e.seq = static_cast<uint64_t>(st->ColumnInt(0));
    e.position = st->ColumnInt(1);
    e.header = st->ColumnString(2);
    e.signature = st->ColumnString(3);
    e.link = st->ColumnString(4);
    out.push_back(std::move(e));
  }
  return out;
}

absl::Status Add(sqlite::Db& db, const DeviceId& device, const StoredChainEntry& e) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("INSERT INTO hub_chain(device, seq, position, header, "
                                           "sig, link) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  st->BindBlob(1, device.view());
  st->BindInt(2, static_cast<int64_t>(e.seq));
  st->BindInt(3, e.position);
  st->BindBlob(4, e.header);
  st->BindBlob(5, e.signature);
  st->BindBlob(6, e.link);
  return st->Run();
}

absl::StatusOr<std::optional<LogEntry>> Logged(sqlite::Db& db, const DeviceId& device,
                                               uint64_t seq) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared(
                                   "SELECT l.pos, l.body, s.sig, h.header, h.sig FROM _fs_log l "
                                   "JOIN _fs_devices d ON d.idx = l.device LEFT JOIN "
                                   "_fs_signatures s ON s.pos = l.pos LEFT JOIN hub_chain h ON "
                                   "h.device = d.id AND h.seq = l.seq WHERE d.id = ?1 AND "
                                   "l.seq = ?2"));
  st->BindBlob(1, device.view());
  st->BindInt(2, static_cast<int64_t>(seq));
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) return std::optional<LogEntry>();
  LogEntry e;
  e.position = st->ColumnInt(0);
  e.author = device;
  e.body = st->ColumnString(1);
  if (!st->ColumnIsNull(2)) e.signature = st->ColumnString(2);
  if (!st->ColumnIsNull(3)) {
    e.header = st->ColumnString(3);
    e.header_signature = st->ColumnString(4);
  }
  return std::optional<LogEntry>(std::move(e));
}

}  // namespace fieldsync::hub::sqlite_chain
