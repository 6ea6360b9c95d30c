// The statements of colleagues and partners a laptop keeps, and evidence
// found by comparing them with its chains (sync/statement_keeper.h decides;
// tables _fs_statements and _fs_trust_evidence in docs/FORMATS.md).
#include "base/status_macros.h"
#include "store/replica.h"
#include "store/replica_impl.h"

namespace fieldsync {

absl::Status Replica::Impl::PutStatement(const StatementRow& r) {
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("INSERT INTO _fs_statements(signer, province, "
                                            "created, received_at, bytes) VALUES (?1, ?2, ?3, "
                                            "?4, ?5) ON CONFLICT(signer) DO UPDATE SET "
                                            "province = excluded.province, created = "
                                            "excluded.created, received_at = "
                                            "excluded.received_at, bytes = excluded.bytes "
                                            "WHERE excluded.created > _fs_statements.created"));
  st->BindBlob(1, r.signer.view());
  st->BindText(2, r.province);
  st->BindInt(3, r.created_millis);
  st->BindInt(4, r.received_at_millis);
  st->BindBlob(5, r.bytes);
  return st->Run();
}

absl::StatusOr<std::vector<StatementRow>> Replica::Statements() {
  Impl& m = *impl_;
  std::vector<StatementRow> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT signer, province, created, received_at, "
                                                "bytes FROM _fs_statements ORDER BY signer"));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      StatementRow row;
      FS_ASSIGN_OR_RETURN(row.signer, Id16::FromBytes(st->ColumnBlob(0), "statement signer"));
      row.province = st->ColumnString(1);
      row.created_millis = st->ColumnInt(2);
      row.received_at_millis = st->ColumnInt(3);
      row.bytes = st->ColumnString(4);
      out.push_back(std::move(row));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<size_t> Replica::AddNewEvidence(const std::vector<TrustEvidence>& evidence) {
  Impl& m = *impl_;
  size_t added = 0;
  if (evidence.empty()) return added;
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    ChainWrites w;
    for (const TrustEvidence& e : evidence) {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT 1 FROM _fs_trust_evidence WHERE "
                                                  "device = ?1 AND seq = ?2 AND kind = ?3 AND "
                                                  "other_header = ?4"));
      st->BindBlob(1, e.device.view());
      st->BindInt(2, static_cast<int64_t>(e.seq));
      st->BindInt(3, e.kind);
      st->BindBlob(4, e.other_header);
      FS_ASSIGN_OR_RETURN(bool known, st->Step());
      if (!known) w.evidence.push_back(e);
    }
    added = w.evidence.size();
    return m.StoreChainWrites(w);
  }));
  return added;
}

}  // namespace fieldsync
