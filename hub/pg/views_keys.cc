// Key records (docs/CRYPTO.md) in the PostgreSQL store's views: stored and
// relayed, never opened; what an erasure leaves of each (hub_keys_erased)
// and the rings erased (hub_erased). The same answers as hub/sqlite_keys.cc.
//
// hub_keys.seq is an identity column: values are taken at insert, in the
// order of the writers' transactions, because every write of a key record
// runs under the log head's row lock (PgView::Locked): a pull never sees
// seq n + 1 committed before n. A transaction rolled back leaves its seq
// unused (never given to a node: KeyRecordAt answers none there).
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "crypto/key_record.h"
#include "hub/pg/views.h"

namespace fieldsync::hub::pg {
namespace {

constexpr size_t kKeyPage = 500;  // records read a statement

absl::StatusOr<StoredKeyRecord> KeyRecordOf(const Result& r, int i) {
  StoredKeyRecord k;
  FS_ASSIGN_OR_RETURN(k.seq, r.Int(i, 0));
  FS_ASSIGN_OR_RETURN(int64_t kind, r.Int(i, 1));
  k.kind = static_cast<int>(kind);
  k.province = r.Bytes(i, 2);
  // As the SQLite store: an unreadable ring or signer is left out, the
  // record still relayed.
  if (!r.IsNull(i, 3)) {
    absl::StatusOr<RowId> ring = Id16::FromBytes(r.Bytes(i, 3), "key ring");
    if (ring.ok()) k.keyring = *ring;
  }
  absl::StatusOr<DeviceId> signer = Id16::FromBytes(r.Bytes(i, 4), "signer");
  if (signer.ok()) k.signer = *signer;
  FS_ASSIGN_OR_RETURN(k.stored_at_millis, r.Int(i, 5));
  k.id = r.Bytes(i, 6);
  k.bytes = r.Bytes(i, 7);
  return k;
}

}  // namespace

absl::StatusOr<int64_t> PgView::KeyHead() {
  // Every seq given is in one of the two tables: an erasure moves a
  // record's seq to hub_keys_erased in the transaction that deletes it.
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT greatest((SELECT max(seq) FROM hub_keys), "
                                           "(SELECT max(seq) FROM hub_keys_erased), 0)"));
  return r.Int(0, 0);
}

absl::StatusOr<uint64_t> PgView::KeyRecordsSignedBy(const DeviceId& signer) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT count(*) FROM hub_keys WHERE signer = $1 AND "
                                           "kind <> $2",
                                           {Param::Bytes(signer.view()),
                                            Param::Int(static_cast<int64_t>(
                                                crypto::KeyRecordKind::kErasure))}));
  FS_ASSIGN_OR_RETURN(int64_t n, r.Int(0, 0));
  return static_cast<uint64_t>(n);
}

absl::StatusOr<std::optional<StoredKeyRecord>> PgView::KeyRecordAt(int64_t seq) {
  // Held, or what an erasure left of it: seq, id, time stored.
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT stored_at, id FROM hub_keys WHERE seq = $1 "
                                           "UNION ALL SELECT stored_at, id FROM hub_keys_erased "
                                           "WHERE seq = $1 LIMIT 1",
                                           {Param::Int(seq)}));
  if (r.rows() == 0) return std::optional<StoredKeyRecord>();
  StoredKeyRecord k;
  k.seq = seq;
  FS_ASSIGN_OR_RETURN(k.stored_at_millis, r.Int(0, 0));
  k.id = r.Bytes(0, 1);
  return std::optional<StoredKeyRecord>(std::move(k));
}

absl::Status PgView::ForEachKeyRecordAfter(
    int64_t seq, const std::function<absl::Status(const StoredKeyRecord&)>& visit) {
  // A page at a time, each from where the last ended (the view's snapshot
  // or the writer's locked transaction: no record appears between pages).
  int64_t after = seq;
  while (true) {
    FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT seq, kind, province, keyring, signer, "
                                             "stored_at, id, bytes FROM hub_keys WHERE seq > $1 "
                                             "ORDER BY seq LIMIT $2",
                                             {Param::Int(after),
                                              Param::Int(static_cast<int64_t>(kKeyPage))}));
    for (int i = 0; i < r.rows(); ++i) {
      FS_ASSIGN_OR_RETURN(StoredKeyRecord k, KeyRecordOf(r, i));
      after = k.seq;
      FS_RETURN_IF_ERROR(visit(k));
    }
    if (static_cast<size_t>(r.rows()) < kKeyPage) return absl::OkStatus();
  }
}

absl::StatusOr<std::vector<std::string>> PgView::KeyRecordsOfRing(const RowId& ring, int kind,
                                                                  const std::string& province,
                                                                  int64_t seq) {
  // `province != $3` as SQLite compares: a record naming no province
  // (NULL) is not one naming another.
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT bytes FROM hub_keys WHERE keyring = $1 AND "
                                           "kind = $2 AND province <> $3 AND seq <= $4 ORDER "
                                           "BY seq",
                                           {Param::Bytes(ring.view()), Param::Int(kind),
                                            Param::Text(province), Param::Int(seq)}));
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.Bytes(i, 0));
  return out;
}

absl::StatusOr<bool> PgView::RingErased(const RowId& ring) {
  ScopeCache* c = cache();
  if (c != nullptr) {
    auto it = c->erased.find(ring);
    if (it != c->erased.end()) return it->second;
  }
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT 1 FROM hub_erased WHERE keyring = $1",
                                           {Param::Bytes(ring.view())}));
  const bool erased = r.rows() == 1;
  if (c != nullptr) c->erased[ring] = erased;
  return erased;
}

absl::Status PgView::EraseRing(const RowId& ring, const std::vector<int>& kinds,
                               int64_t at_millis, const DeviceId& by) {
  FS_RETURN_IF_ERROR(MustWrite("EraseRing"));
  std::string list;  // numbers of the code's own, as one text parameter
  for (int k : kinds) absl::StrAppend(&list, list.empty() ? "" : ",", k);
  return Locked([&]() -> absl::Status {
    // Dropped first: kept erased only once the statement below succeeded
    // (a failure ends the transaction, and the cache with it).
    if (ScopeCache* c = cache()) {
      c->erased.erase(ring);
      c->key_held.clear();
    }
    // One statement: the records deleted, the mark of each kept, the ring
    // remembered erased (a second erasure of it fails, as on SQLite).
    return conn_.Exec("WITH gone AS (DELETE FROM hub_keys WHERE keyring = $1 AND kind = "
                      "ANY(string_to_array($2, ',')::integer[]) RETURNING seq, id, stored_at), "
                      "kept AS (INSERT INTO hub_keys_erased(seq, id, stored_at) SELECT seq, id, "
                      "stored_at FROM gone ON CONFLICT DO NOTHING) INSERT INTO hub_erased("
                      "keyring, erased_at, by_device) VALUES ($1, $3, $4)",
                      {Param::Bytes(ring.view()), Param::Text(list), Param::Int(at_millis),
                       Param::Bytes(by.view())})
        .status();
  });
}

absl::StatusOr<bool> PgView::StoreKeyRecord(const StoredKeyRecord& record) {
  FS_RETURN_IF_ERROR(MustWrite("StoreKeyRecord"));
  bool stored = false;
  FS_RETURN_IF_ERROR(Locked([&]() -> absl::Status {
    // Known (Prefetch) under the lock: stored, or not, without waiting for
    // the answer (sent with the next statement; a failure fails that).
    ScopeCache* c = cache();
    if (c != nullptr) {
      auto it = c->key_held.find(record.id);
      if (it != c->key_held.end()) {
        if (it->second) return absl::OkStatus();
        it->second = true;
        stored = true;
        // Batched (Connection::DeferRow), in the order stored: `seq`
        // numbers them so.
        return conn_.DeferRow(
            "hub_keys",
            "INSERT INTO hub_keys(id, kind, province, keyring, signer, stored_at, bytes) SELECT "
            "id, kind, province, keyring, signer, stored_at, bytes FROM unnest($1::bytea[], "
            "$2::int8[], $3::text[], $4::bytea[], $5::bytea[], $6::int8[], $7::bytea[]) WITH "
            "ORDINALITY AS u(id, kind, province, keyring, signer, stored_at, bytes, n) ORDER BY n",
            0, Connection::OnSameKey::kNextStatement,
            {Param::Bytes(record.id), Param::Int(record.kind),
             record.province.empty() ? Param::NullText() : Param::Text(record.province),
             record.keyring ? Param::Bytes(record.keyring->view()) : Param::NullBytes(),
             Param::Bytes(record.signer.view()), Param::Int(record.stored_at_millis),
             Param::Bytes(record.bytes)});
      }
    }
    FS_ASSIGN_OR_RETURN(
        Result r,
        conn_.Exec("INSERT INTO hub_keys(id, kind, province, keyring, signer, stored_at, bytes) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                   {Param::Bytes(record.id), Param::Int(record.kind),
                    record.province.empty() ? Param::Null() : Param::Text(record.province),
                    record.keyring ? Param::Bytes(record.keyring->view()) : Param::Null(),
                    Param::Bytes(record.signer.view()), Param::Int(record.stored_at_millis),
                    Param::Bytes(record.bytes)}));
    stored = r.Affected() > 0;
    return absl::OkStatus();
  }));
  return stored;
}

void PgView::Scrub() {
  // VACUUM cannot run in a transaction; the engine scrubs after the one
  // that erased. Best effort (docs/POSTGRES.md, "Erasure"): the heap's dead
  // versions of the erased records are pruned once no snapshot holds them.
  if (!writer_ || conn_.InTransaction()) return;
  conn_.Command("VACUUM hub_keys").status().IgnoreError();
}

}  // namespace fieldsync::hub::pg
