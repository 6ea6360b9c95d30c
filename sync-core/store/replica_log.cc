// The commit log (local commits for push, the log a hub relays) and the
// sync cursors.
#include "store/replica_impl.h"

namespace fieldsync {

absl::StatusOr<int64_t> Replica::LogHead() {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("SELECT coalesce(max(pos), 0) FROM _fs_log"));
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  return r ? st->ColumnInt(0) : int64_t{0};
}

absl::StatusOr<std::vector<HubLogMark>> Replica::HubMarks() {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("SELECT position, hash, at FROM "
                                                   "_fs_hub_marks ORDER BY position DESC"));
  std::vector<HubLogMark> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    out.push_back(HubLogMark{st->ColumnInt(0), st->ColumnString(1), st->ColumnInt(2)});
  }
  return out;
}

absl::StatusOr<std::vector<Replica::RawEntry>> Replica::RawLogAfter(int64_t after_pos,
                                                                    size_t limit) {
  Impl& m = *impl_;
  std::vector<RawEntry> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st,
                        m.db->Prepared("SELECT l.pos, l.device, l.body, s.sig, l.seq FROM "
                                       "_fs_log l "
                                       "LEFT JOIN _fs_signatures s ON s.pos = l.pos "
                                       "WHERE l.pos > ?1 ORDER BY l.pos LIMIT ?2"));
    st->BindInt(1, after_pos);
    st->BindInt(2, static_cast<int64_t>(limit));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      const auto idx = static_cast<size_t>(st->ColumnInt(1));
      if (idx == 0 || idx >= m.devices.size()) {
        return absl::DataLossError(absl::StrCat("log entry ", st->ColumnInt(0),
                                                " names an unknown device index ", idx));
      }
      out.push_back(RawEntry{st->ColumnInt(0), m.devices[idx].id, st->ColumnString(2),
                             st->ColumnIsNull(3) ? std::string() : st->ColumnString(3),
                             static_cast<uint64_t>(st->ColumnInt(4))});
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<Commit>> Replica::LocalCommitsAfter(uint64_t after_seq,
                                                               size_t limit) {
  return AuthorCommitsAfter(impl_->self, after_seq, limit);
}

absl::StatusOr<std::vector<Commit>> Replica::AuthorCommitsAfter(const DeviceId& author,
                                                                uint64_t after_seq,
                                                                size_t limit) {
  Impl& m = *impl_;
  std::vector<Commit> out;
  uint32_t idx = m.self_idx;
  if (author != m.self) {
    auto it = m.device_index.find(author);
    if (it == m.device_index.end()) return out;
    idx = it->second;
  }
  FS_ASSIGN_OR_RETURN(auto st,
                      m.db->Prepared("SELECT l.body, s.sig, ch.header, ch.sig FROM _fs_log l "
                                     "LEFT JOIN _fs_signatures s ON s.pos = l.pos LEFT JOIN "
                                     "_fs_chain ch ON ch.device = ?4 AND ch.seq = l.seq WHERE "
                                     "l.device = ?1 AND l.seq > ?2 ORDER BY l.seq LIMIT ?3"));
  st->BindInt(1, idx);
  st->BindInt(2, static_cast<int64_t>(after_seq));
  st->BindInt(3, static_cast<int64_t>(limit));
  st->BindBlob(4, author.view());
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(st->ColumnBlob(0)));
    if (!st->ColumnIsNull(1)) c.signature = st->ColumnString(1);
    if (!st->ColumnIsNull(2)) {
      c.header = st->ColumnString(2);
      c.header_signature = st->ColumnString(3);
    }
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> Replica::CursorsNamed(
    std::string_view prefix) {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("SELECT name, value FROM _fs_cursors WHERE "
                                                   "substr(name, 1, length(?1)) = ?1 ORDER BY "
                                                   "name"));
  st->BindText(1, std::string(prefix));
  std::vector<std::pair<std::string, int64_t>> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    out.emplace_back(st->ColumnString(0), st->ColumnInt(1));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<int64_t, Commit>>> Replica::LogAfter(int64_t after_pos,
                                                                          size_t limit) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(auto st,
                      m.db->Prepared("SELECT l.pos, l.body, s.sig FROM _fs_log l LEFT JOIN _fs_signatures s "
                                     "ON s.pos = l.pos WHERE l.pos > ?1 ORDER BY l.pos LIMIT ?2"));
  st->BindInt(1, after_pos);
  st->BindInt(2, static_cast<int64_t>(limit));
  std::vector<std::pair<int64_t, Commit>> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(st->ColumnBlob(1)));
    if (!st->ColumnIsNull(2)) c.signature = st->ColumnString(2);
    out.emplace_back(st->ColumnInt(0), std::move(c));
  }
  return out;
}

absl::Status Replica::SetCursor(const std::string& name, int64_t value) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(auto st,
                      m.db->Prepared("INSERT INTO _fs_cursors(name, value) VALUES (?1, ?2) "
                                     "ON CONFLICT(name) DO UPDATE SET value = excluded.value"));
  st->BindText(1, name);
  st->BindInt(2, value);
  return st->Run();
}

absl::StatusOr<int64_t> Replica::GetCursor(const std::string& name) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(auto st,
                      m.db->Prepared("SELECT value FROM _fs_cursors WHERE name = ?1"));
  st->BindText(1, name);
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  return r ? st->ColumnInt(0) : 0;
}

absl::Status Replica::DropCursor(const std::string& name) {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("DELETE FROM _fs_cursors WHERE name = ?1"));
  st->BindText(1, name);
  return st->Run();
}

}  // namespace fieldsync
