// Set-aside work as the replica stores it (_fs_set_aside in docs/FORMATS.md;
// docs/PROTOCOL.md, "Refusals per commit and set-aside work"): this device's
// commits the hub refused for good, and the signed withdrawal entries of its
// chain that pass over them, so that other laptops see neither a gap nor a
// fork where they were.
#include "crypto/commit_header.h"
#include "store/replica_impl.h"

namespace fieldsync {
namespace {

absl::StatusOr<std::string> OwnLink(sqlite::Db& db, const DeviceId& self, uint64_t seq) {
  if (seq == 0) return crypto::NoLink();
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT link FROM _fs_chain WHERE device = ?1 AND "
                                           "seq = ?2"));
  st->BindBlob(1, self.view());
  st->BindInt(2, static_cast<int64_t>(seq));
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this laptop's commit ", seq, " has no signed header yet (unlock the keystore)"));
  }
  return st->ColumnString(0);
}

}  // namespace

absl::StatusOr<uint64_t> Replica::Impl::MakeWithdrawal(const std::vector<uint64_t>& seqs,
                                                       std::vector<uint64_t>* withdrawn) {
  Impl& m = *this;
  if (!m.security.sign_header) {
    return absl::FailedPreconditionError("this laptop's keystore is locked");
  }
  const uint64_t seq = m.devices[m.self_idx].max_seq + 1;
  // The chain must reach the last commit: the withdrawal links to it.
  FS_ASSIGN_OR_RETURN(std::string prev, OwnLink(*m.db, m.self, seq - 1));
  std::vector<crypto::WithdrawnRange> ranges;
  std::vector<uint64_t> covered;
  for (size_t i = 0; i < seqs.size() && ranges.size() < crypto::kMaxWithdrawnRanges;) {
    size_t j = i;
    while (j + 1 < seqs.size() && seqs[j + 1] == seqs[j] + 1) ++j;
    crypto::WithdrawnRange r;
    r.first = seqs[i];
    r.last = seqs[j];
    FS_ASSIGN_OR_RETURN(r.link_before, OwnLink(*m.db, m.self, r.first - 1));
    FS_ASSIGN_OR_RETURN(r.link_last, OwnLink(*m.db, m.self, r.last));
    ranges.push_back(std::move(r));
    for (size_t k = i; k <= j; ++k) covered.push_back(seqs[k]);
    i = j + 1;
  }
  FS_ASSIGN_OR_RETURN(crypto::CommitHeader h,
                      crypto::WithdrawalHeader(m.self, seq, m.hlc.Now().packed(), prev,
                                               std::move(ranges)));
  FS_ASSIGN_OR_RETURN(std::string header, crypto::EncodeCommitHeader(h));
  FS_ASSIGN_OR_RETURN(std::string sig, m.security.sign_header(header));
  const std::string link = crypto::CommitLink(header, sig);
  FS_ASSIGN_OR_RETURN(auto ins, m.db->Prepared("INSERT INTO _fs_chain(device, seq, header, sig, "
                                               "link, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  ins->BindBlob(1, m.self.view());
  ins->BindInt(2, static_cast<int64_t>(seq));
  ins->BindBlob(3, header);
  ins->BindBlob(4, sig);
  ins->BindBlob(5, link);
  ins->BindInt(6, static_cast<int64_t>(ChainRow::State::kWithdrawal));
  FS_RETURN_IF_ERROR(ins->Run());
  for (uint64_t s : covered) {
    FS_ASSIGN_OR_RETURN(auto up, m.db->Prepared("UPDATE _fs_set_aside SET withdrawal = ?2 WHERE "
                                                "seq = ?1"));
    up->BindInt(1, static_cast<int64_t>(s));
    up->BindInt(2, static_cast<int64_t>(seq));
    FS_RETURN_IF_ERROR(up->Run());
  }
  // The seq is taken: the next commit follows it, as its chain entry does.
  Impl::DeviceEntry& d = m.devices[m.self_idx];
  d.max_seq = seq;
  d.dirty = true;
  if (withdrawn != nullptr) *withdrawn = std::move(covered);
  return seq;
}

absl::Status Replica::SetAside(const std::vector<SetAsideRow>& rows) {
  if (rows.empty()) return absl::OkStatus();
  Impl& m = *impl_;
  return m.InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    for (const SetAsideRow& r : rows) {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("INSERT OR IGNORE INTO _fs_set_aside(seq, code, "
                                                  "reason, depends_on, at, never_coming, "
                                                  "never_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                                                  "?7)"));
      st->BindInt(1, static_cast<int64_t>(r.seq));
      st->BindInt(2, r.code);
      st->BindText(3, r.reason);
      st->BindInt(4, static_cast<int64_t>(r.depends_on));
      st->BindInt(5, r.at_millis);
      if (!r.never_coming.empty()) st->BindBlob(6, Impl::EncodeVersions(r.never_coming));
      if (!r.never_after.empty()) st->BindBlob(7, Impl::EncodeHeads(r.never_after));
      FS_RETURN_IF_ERROR(st->Run());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<SetAsideRow>> Replica::SetAsideList() {
  Impl& m = *impl_;
  std::vector<SetAsideRow> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT seq, code, reason, depends_on, at, "
                                                "withdrawal, discarded_at, never_coming, "
                                                "never_after FROM "
                                                "_fs_set_aside ORDER BY seq"));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      SetAsideRow row;
      row.seq = static_cast<uint64_t>(st->ColumnInt(0));
      row.code = static_cast<int>(st->ColumnInt(1));
      row.reason = st->ColumnString(2);
      row.depends_on = static_cast<uint64_t>(st->ColumnInt(3));
      row.at_millis = st->ColumnInt(4);
      row.withdrawal = static_cast<uint64_t>(st->ColumnInt(5));
      row.discarded_at_millis = st->ColumnInt(6);
      if (!st->ColumnIsNull(7)) row.never_coming = Impl::DecodeVersions(st->ColumnBlob(7));
      if (!st->ColumnIsNull(8)) row.never_after = Impl::DecodeHeads(st->ColumnBlob(8));
      out.push_back(std::move(row));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<uint64_t> Replica::WithdrawSetAside() {
  Impl& m = *impl_;
  uint64_t made = 0;
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    std::vector<uint64_t> seqs;
    {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT seq FROM _fs_set_aside WHERE "
                                                  "withdrawal = 0 AND discarded_at > 0 "
                                                  "ORDER BY seq"));
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        seqs.push_back(static_cast<uint64_t>(st->ColumnInt(0)));
      }
    }
    if (seqs.empty()) return absl::OkStatus();
    FS_ASSIGN_OR_RETURN(made, m.MakeWithdrawal(seqs, nullptr));
    return absl::OkStatus();
  }));
  return made;
}

absl::Status Replica::Impl::MarkSetAsideResolved(uint64_t seq, int64_t at_millis) {
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT discarded_at, code FROM _fs_set_aside WHERE "
                                            "seq = ?1"));
  st->BindInt(1, static_cast<int64_t>(seq));
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) {
    return absl::NotFoundError(absl::StrCat(
        "change ", seq, " of this laptop was not set aside (fieldnode set-aside list shows "
        "what is). Nothing was changed"));
  }
  if (st->ColumnInt(0) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "set-aside change ", seq, " was resolved already (discarded, or kept as a new "
        "record). Nothing was changed"));
  }
  FS_ASSIGN_OR_RETURN(auto up, db->Prepared("UPDATE _fs_set_aside SET discarded_at = ?2 "
                                            "WHERE seq = ?1"));
  up->BindInt(1, static_cast<int64_t>(seq));
  up->BindInt(2, std::max<int64_t>(at_millis, 1));
  return up->Run();
}

absl::StatusOr<size_t> Replica::DiscardSetAside(uint64_t seq, int64_t at_millis) {
  Impl& m = *impl_;
  size_t left = 0;
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    FS_RETURN_IF_ERROR(m.MarkSetAsideResolved(seq, at_millis));
    FS_ASSIGN_OR_RETURN(left, m.ForgetResolvedSetAside());
    return absl::OkStatus();
  }));
  return left;
}

absl::StatusOr<Commit> Replica::KeepSetAside(uint64_t seq, const LocalTxn& txn,
                                             int64_t at_millis) {
  Impl& m = *impl_;
  Commit out;
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction& db_txn) -> absl::Status {
    FS_RETURN_IF_ERROR(m.MarkSetAsideResolved(seq, at_millis));
    FS_RETURN_IF_ERROR(m.ForgetResolvedSetAside().status());
    std::vector<RowState> states;
    FS_ASSIGN_OR_RETURN(out, m.WriteOne(db_txn, txn, &states));
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace fieldsync
