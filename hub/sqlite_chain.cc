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

namespace {

absl::StatusOr<std::vector<StoredChainEntry>> Read(sqlite::Stmt& st) {
  std::vector<StoredChainEntry> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st.Step());
    if (!r) break;
    StoredChainEntry e;
    e.seq = static_cast<uint64_t>(st.ColumnInt(0));
    e.position = st.ColumnInt(1);
    e.header = st.ColumnString(2);
    e.signature = st.ColumnString(3);
    e.link = st.ColumnString(4);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<StoredChainEntry>> Refused(sqlite::Db& db, const DeviceId& device) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT seq, position, header, sig, link FROM "
                                           "hub_chain WHERE device = ?1 AND position < 0 "
                                           "ORDER BY seq"));
  st->BindBlob(1, device.view());
  return Read(*st.get());
}

absl::Status SetPosition(sqlite::Db& db, const DeviceId& device, uint64_t seq, int64_t position) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("UPDATE hub_chain SET position = ?3 WHERE device = ?1 "
                                           "AND seq = ?2"));
  st->BindBlob(1, device.view());
  st->BindInt(2, static_cast<int64_t>(seq));
  st->BindInt(3, position);
  return st->Run();
}

absl::StatusOr<uint64_t> SetAside(sqlite::Db& db, const DeviceId& device) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT count(*) FROM hub_chain WHERE device = ?1 AND "
                                           "position < 0 AND position > ?2"));
  st->BindBlob(1, device.view());
  st->BindInt(2, -kWithdrawnRefusalOffset);
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  return r ? static_cast<uint64_t>(st->ColumnInt(0)) : 0;
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

absl::StatusOr<LogEntry> WithChainEntry(sqlite::Db& db, Replica::RawEntry raw) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT header, sig FROM hub_chain WHERE device = ?1 "
                                           "AND seq = ?2"));
  st->BindBlob(1, raw.author.view());
  st->BindInt(2, static_cast<int64_t>(raw.seq));
  LogEntry e;
  e.position = raw.position;
  e.author = raw.author;
  e.body = std::move(raw.body);
  e.signature = std::move(raw.signature);
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (found) {
    e.header = st->ColumnString(0);
    e.header_signature = st->ColumnString(1);
  }
  return e;
}

absl::StatusOr<std::optional<LogEntry>> Logged(sqlite::Db& db, Replica& replica,
                                               const DeviceId& device, uint64_t seq) {
  FS_ASSIGN_OR_RETURN(std::optional<Replica::RawEntry> raw, replica.RawLogEntryOf(device, seq));
  if (!raw) return std::optional<LogEntry>();
  FS_ASSIGN_OR_RETURN(LogEntry e, WithChainEntry(db, *std::move(raw)));
  return std::optional<LogEntry>(std::move(e));
}

}  // namespace fieldsync::hub::sqlite_chain
