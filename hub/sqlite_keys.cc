// The key records hub.db stores (hub/sqlite_keys.h).
#include "hub/sqlite_keys.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace fieldsync::hub::sqlite_keys {

absl::StatusOr<std::optional<StoredKeyRecord>> At(sqlite::Db& db, int64_t seq) {
  // An erased record's mark stays (hub_keys_erased): held, or erased.
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT stored_at, id FROM hub_keys WHERE seq = ?1 "
                                           "UNION ALL SELECT stored_at, id FROM "
                                           "hub_keys_erased WHERE seq = ?1"));
  st->BindInt(1, seq);
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) return std::nullopt;
  StoredKeyRecord k;
  k.seq = seq;
  k.stored_at_millis = st->ColumnInt(0);
  k.id = st->ColumnString(1);
  return k;
}

absl::Status ForEachAfter(sqlite::Db& db, int64_t seq,
                          const std::function<absl::Status(const StoredKeyRecord&)>& visit) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT seq, kind, province, keyring, signer, "
                                           "stored_at, id, bytes FROM hub_keys WHERE seq > ?1 "
                                           "ORDER BY seq"));
  st->BindInt(1, seq);
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    StoredKeyRecord k;
    k.seq = st->ColumnInt(0);
    k.kind = static_cast<int>(st->ColumnInt(1));
    if (!st->ColumnIsNull(2)) k.province = st->ColumnString(2);
    if (!st->ColumnIsNull(3)) {
      absl::StatusOr<RowId> ring = Id16::FromBytes(st->ColumnBlob(3), "key ring");
      if (ring.ok()) k.keyring = *ring;
    }
    absl::StatusOr<DeviceId> signer = Id16::FromBytes(st->ColumnBlob(4), "signer");
    if (signer.ok()) k.signer = *signer;
    k.stored_at_millis = st->ColumnInt(5);
    k.id = st->ColumnString(6);
    k.bytes = st->ColumnString(7);
    FS_RETURN_IF_ERROR(visit(k));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> OfRing(sqlite::Db& db, const RowId& ring, int kind,
                                                const std::string& province, int64_t seq) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT bytes FROM hub_keys WHERE keyring = ?1 AND "
                                           "kind = ?2 AND province != ?3 AND seq <= ?4 ORDER "
                                           "BY seq"));
  st->BindBlob(1, ring.view());
  st->BindInt(2, kind);
  st->BindText(3, province);
  st->BindInt(4, seq);
  std::vector<std::string> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    out.push_back(st->ColumnString(0));
  }
  return out;
}

absl::StatusOr<bool> RingErased(sqlite::Db& db, const RowId& ring) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT 1 FROM hub_erased WHERE keyring = ?1"));
  st->BindBlob(1, ring.view());
  return st->Step();
}

absl::Status EraseRing(sqlite::Db& db, const RowId& ring, const std::vector<int>& kinds,
                       int64_t at_millis, const DeviceId& by) {
  std::string list;
  for (int k : kinds) absl::StrAppend(&list, list.empty() ? "" : ", ", k);
  // Each record's seq, id and time stored kept, its bytes deleted (the
  // file overwrites them: secure_delete).
  FS_ASSIGN_OR_RETURN(auto keep,
                      db.Prepared(absl::StrCat("INSERT OR IGNORE INTO hub_keys_erased(seq, id, "
                                               "stored_at) SELECT seq, id, stored_at FROM hub_keys "
                                               "WHERE keyring = ?1 AND kind IN (",
                                               list, ")")));
  keep->BindBlob(1, ring.view());
  FS_RETURN_IF_ERROR(keep->Run());
  FS_ASSIGN_OR_RETURN(
      auto del, db.Prepared(absl::StrCat("DELETE FROM hub_keys WHERE keyring = ?1 AND kind IN (",
                                         list, ")")));
  del->BindBlob(1, ring.view());
  FS_RETURN_IF_ERROR(del->Run());
  FS_ASSIGN_OR_RETURN(auto ins, db.Prepared("INSERT INTO hub_erased(keyring, erased_at, "
                                            "by_device) VALUES (?1, ?2, ?3)"));
  ins->BindBlob(1, ring.view());
  ins->BindInt(2, at_millis);
  ins->BindBlob(3, by.view());
  return ins->Run();
}

absl::StatusOr<bool> Store(sqlite::Db& db, const StoredKeyRecord& r) {
  FS_ASSIGN_OR_RETURN(auto ins, db.Prepared("INSERT OR IGNORE INTO hub_keys(id, kind, "
                                            "province, keyring, signer, stored_at, bytes) "
                                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  ins->BindBlob(1, r.id);
  ins->BindInt(2, r.kind);
  if (!r.province.empty()) ins->BindText(3, r.province);
  if (r.keyring) ins->BindBlob(4, r.keyring->view());
  ins->BindBlob(5, r.signer.view());
  ins->BindInt(6, r.stored_at_millis);
  ins->BindBlob(7, r.bytes);
  FS_RETURN_IF_ERROR(ins->Run());
  return db.Changes() > 0;
}

}  // namespace fieldsync::hub::sqlite_keys
