// Checkpoints on the node's side (docs/PROTOCOL.md, "Checkpoints"): the
// leaves of the state this laptop signs, and the bootstrap it was verified
// from; where an unverified bootstrap under way was cut.
#include "base/status_macros.h"
#include "crypto/hash.h"
#include "crypto/merkle.h"
#include "store/replica.h"
#include "store/replica_impl.h"
#include "store/row_state.h"

namespace fieldsync {

absl::StatusOr<std::vector<std::string>> Replica::StateLeaves() {
  Impl& m = *impl_;
  std::vector<std::string> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    for (size_t ti = 0; ti < m.schema->tables().size(); ++ti) {
      const TableDef& t = m.schema->tables()[ti];
      std::vector<RowId> rows;
      {
        FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(absl::StrCat("SELECT id FROM ", Quote(t.name),
                                                                 " ORDER BY id")));
        while (true) {
          FS_ASSIGN_OR_RETURN(bool r, st->Step());
          if (!r) break;
          FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(0), "row id"));
          rows.push_back(id);
        }
      }
      for (const RowId& row : rows) {
        FS_ASSIGN_OR_RETURN(std::optional<RowSnapshot> snap, m.ExportRowInTxn(ti, row));
        if (!snap) continue;
        FS_ASSIGN_OR_RETURN(std::string state, EncodeRowState(*snap));
        out.push_back(crypto::RowLeafHash(state));
      }
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::optional<BootstrapProgress>> Replica::Bootstrap() {
  Impl& m = *impl_;
  std::optional<BootstrapProgress> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(
                                     "SELECT b.checkpoint, b.statement, b.next_index, "
                                     "b.confirmed, p.left, p.right FROM _fs_bootstrap b LEFT JOIN "
                                     "_fs_bootstrap_proof p ON p.next_index = b.next_index"));
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return absl::OkStatus();
    BootstrapProgress p;
    p.checkpoint = st->ColumnString(0);
    p.statement = st->ColumnString(1);
    p.next_index = static_cast<uint32_t>(st->ColumnInt(2));
    p.confirmed = static_cast<int>(st->ColumnInt(3));
    if (!st->ColumnIsNull(4)) {
      // Sizes are checked against the checkpoint where it is used
      // (crypto::CheckKeptProof); here only cut into hashes.
      const std::string left = st->ColumnString(4), right = st->ColumnString(5);
      if (left.size() % crypto::kHashBytes == 0 && right.size() % crypto::kHashBytes == 0) {
        crypto::KeptProof kept;
        kept.next = p.next_index;
        for (size_t i = 0; i < left.size(); i += crypto::kHashBytes) {
          kept.left.push_back(left.substr(i, crypto::kHashBytes));
        }
        for (size_t i = 0; i < right.size(); i += crypto::kHashBytes) {
          kept.right.push_back(right.substr(i, crypto::kHashBytes));
        }
        p.proof = std::move(kept);
      }
    }
    out = std::move(p);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::optional<BootstrapCut>> Replica::BootstrapCutAt() {
  Impl& m = *impl_;
  std::optional<BootstrapCut> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT position, position_hash, gc_epoch, tbl, "
                                                "row FROM _fs_bootstrap_cut"));
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return absl::OkStatus();
    BootstrapCut c;
    c.position = st->ColumnInt(0);
    c.position_hash = st->ColumnString(1);
    c.gc_epoch = static_cast<uint64_t>(st->ColumnInt(2));
    c.table = st->ColumnString(3);
    FS_ASSIGN_OR_RETURN(c.row, Id16::FromBytes(st->ColumnString(4), "bootstrap cut row"));
    out = std::move(c);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::optional<PurgedCut>> Replica::PurgedCutAt() {
  Impl& m = *impl_;
  std::optional<PurgedCut> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st,
                        m.db->Prepared("SELECT asked, epoch, tbl, row, epoch_id FROM "
                                       "_fs_purged_cut"));
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return absl::OkStatus();
    PurgedCut c;
    c.asked = static_cast<uint64_t>(st->ColumnInt(0));
    c.epoch = static_cast<uint64_t>(st->ColumnInt(1));
    c.table = st->ColumnString(2);
    FS_ASSIGN_OR_RETURN(c.row, Id16::FromBytes(st->ColumnString(3), "purged cut row"));
    c.epoch_id = static_cast<uint64_t>(st->ColumnInt(4));
    out = std::move(c);
    return absl::OkStatus();
  }));
  return out;
}

absl::Status Replica::ConfirmBootstrap(const BootstrapJudgement& j) {
  Impl& m = *impl_;
  return m.InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("UPDATE _fs_bootstrap SET confirmed = ?1"));
    st->BindInt(1, j.confirmed);
    FS_RETURN_IF_ERROR(st->Run());
    for (const auto& [device, seq] : j.drop_anchors) {
      FS_ASSIGN_OR_RETURN(auto del, m.db->Prepared("DELETE FROM _fs_chain WHERE device = ?1 AND "
                                                   "seq = ?2 AND state = ?3"));
      del->BindBlob(1, device.view());
      del->BindInt(2, static_cast<int64_t>(seq));
      del->BindInt(3, static_cast<int>(ChainRow::State::kAnchor));
      FS_RETURN_IF_ERROR(del->Run());
    }
    FS_RETURN_IF_ERROR(m.StoreChainWrites(j.chain));
    for (const auto& [name, value] : j.cursors) {
      FS_RETURN_IF_ERROR(m.SetCursorInTxn(txn, name, value));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> Replica::VerifiedRows() {
  Impl& m = *impl_;
  int64_t n = 0;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT count(*) FROM _fs_verified"));
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (found) n = st->ColumnInt(0);
    return absl::OkStatus();
  }));
  return n;
}

}  // namespace fieldsync
