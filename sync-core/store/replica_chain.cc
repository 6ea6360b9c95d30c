// Commit chains as the replica stores them (protocol version 3; tables
// _fs_chain, _fs_held, _fs_trust_evidence in docs/FORMATS.md): this
// device's own entries, made as it writes (ChainOwn), and what a pull
// placed, held back or found (sync/chain_keeper.h decides which).
#include "crypto/commit_header.h"
#include "store/replica_impl.h"

namespace fieldsync {
namespace {

// _fs_held.omitted: per change left out, its index (u32 BE), digest (32)
// and row tag (16).
std::string EncodeOmitted(const HeldEntry& h) {
  std::string out;
  for (size_t i = 0; i < h.omitted.size(); ++i) {
    const uint32_t idx = h.omitted[i].first;
    for (int b = 3; b >= 0; --b) out.push_back(static_cast<char>((idx >> (8 * b)) & 0xFF));
    out += h.omitted[i].second;
    out += i < h.omitted_tags.size() ? h.omitted_tags[i] : std::string(crypto::kRowTagBytes, '\0');
  }
  return out;
}

absl::Status DecodeOmitted(std::string_view in, HeldEntry* h) {
  constexpr size_t kEach = 4 + 32 + crypto::kRowTagBytes;
  if (in.size() % kEach != 0) return absl::DataLossError("_fs_held.omitted is damaged");
  for (size_t at = 0; at < in.size(); at += kEach) {
    uint32_t idx = 0;
    for (size_t b = 0; b < 4; ++b) idx = (idx << 8) | static_cast<uint8_t>(in[at + b]);
    h->omitted.emplace_back(idx, std::string(in.substr(at + 4, 32)));
    h->omitted_tags.emplace_back(in.substr(at + 36, crypto::kRowTagBytes));
  }
  return absl::OkStatus();
}

absl::StatusOr<ChainRow> RowAt(const sqlite::Stmt& st) {
  ChainRow r;
  FS_ASSIGN_OR_RETURN(r.device, Id16::FromBytes(st.ColumnBlob(0), "chain device"));
  r.seq = static_cast<uint64_t>(st.ColumnInt(1));
  r.header = st.ColumnString(2);
  r.signature = st.ColumnString(3);
  r.link = st.ColumnString(4);
  r.state = static_cast<ChainRow::State>(st.ColumnInt(5));
  return r;
}

}  // namespace

absl::Status Replica::Impl::ChainOwn(Commit& c) { return ChainOwnThrough(c.seq, &c); }

absl::Status Replica::Impl::ChainOwnThrough(uint64_t through, Commit* next) {
  // The link of the entry before: held, or made now for a commit written
  // before this laptop signed headers (every chain starts at seq 1).
  FS_ASSIGN_OR_RETURN(auto last, db->Prepared("SELECT seq, link FROM _fs_chain WHERE device = "
                                               "?1 ORDER BY seq DESC LIMIT 1"));
  last->BindBlob(1, self.view());
  uint64_t have = 0;
  std::string link = crypto::NoLink();
  FS_ASSIGN_OR_RETURN(bool found, last->Step());
  if (found) {
    have = static_cast<uint64_t>(last->ColumnInt(0));
    link = last->ColumnString(1);
  }
  auto add = [&](Commit& one) -> absl::Status {
    FS_ASSIGN_OR_RETURN(crypto::CommitHeader h, crypto::HeaderOfCommit(one, link));
    FS_ASSIGN_OR_RETURN(std::string header, crypto::EncodeCommitHeader(h));
    FS_ASSIGN_OR_RETURN(std::string sig, security.sign_header(header));
    link = crypto::CommitLink(header, sig);
    FS_ASSIGN_OR_RETURN(auto ins, db->Prepared("INSERT INTO _fs_chain(device, seq, header, sig, "
                                               "link, state) VALUES (?1, ?2, ?3, ?4, ?5, 1)"));
    ins->BindBlob(1, self.view());
    ins->BindInt(2, static_cast<int64_t>(one.seq));
    ins->BindBlob(3, header);
    ins->BindBlob(4, sig);
    ins->BindBlob(5, link);
    FS_RETURN_IF_ERROR(ins->Run());
    one.header = std::move(header);
    one.header_signature = std::move(sig);
    return absl::OkStatus();
  };
  const uint64_t before = next != nullptr ? next->seq : through + 1;
  if (have + 1 < before) {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT body FROM _fs_log WHERE device = ?1 AND "
                                              "seq > ?2 AND seq < ?3 ORDER BY seq"));
    st->BindInt(1, self_idx);
    st->BindInt(2, static_cast<int64_t>(have));
    st->BindInt(3, static_cast<int64_t>(before));
    std::vector<Commit> earlier;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(Commit e, DecodeCommit(st->ColumnBlob(0)));
      earlier.push_back(std::move(e));
    }
    for (Commit& e : earlier) {
      if (e.seq != have + 1) {
        return absl::DataLossError(absl::StrCat("this device's commit ", have + 1,
                                                " is missing from its log"));
      }
      FS_RETURN_IF_ERROR(add(e));
      have = e.seq;
    }
  }
  if (next == nullptr) {
    if (have < through) {
      return absl::DataLossError(absl::StrCat("this device's commit ", have + 1,
                                              " is missing from its log"));
    }
    return absl::OkStatus();
  }
  if (have + 1 != next->seq) {
    return absl::InternalError(absl::StrCat("this device's chain ends at ", have,
                                            " but its next commit is ", next->seq));
  }
  return add(*next);
}

absl::StatusOr<uint64_t> Replica::BeginOwnChain() {
  Impl& m = *impl_;
  uint64_t signed_through = 0;
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    if (!m.security.sign_header) return absl::OkStatus();
    FS_ASSIGN_OR_RETURN(auto any, m.db->Prepared("SELECT 1 FROM _fs_chain WHERE device = ?1 "
                                                 "LIMIT 1"));
    any->BindBlob(1, m.self.view());
    FS_ASSIGN_OR_RETURN(bool begun, any->Step());
    if (begun) return absl::OkStatus();
    const uint64_t last = m.devices[m.self_idx].max_seq;
    if (last == 0) return absl::OkStatus();
    FS_RETURN_IF_ERROR(m.ChainOwnThrough(last, nullptr));
    signed_through = last;
    return absl::OkStatus();
  }));
  return signed_through;
}

absl::Status Replica::Impl::StoreChainWrites(const ChainWrites& w) {
  if (w.empty()) return absl::OkStatus();
  for (const ChainRow& r : w.placed) {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("INSERT OR REPLACE INTO _fs_chain(device, seq, "
                                              "header, sig, link, state) VALUES (?1, ?2, ?3, "
                                              "?4, ?5, ?6)"));
    st->BindBlob(1, r.device.view());
    st->BindInt(2, static_cast<int64_t>(r.seq));
    st->BindBlob(3, r.header);
    st->BindBlob(4, r.signature);
    st->BindBlob(5, r.link);
    st->BindInt(6, static_cast<int64_t>(r.state));
    FS_RETURN_IF_ERROR(st->Run());
  }
  for (const auto& [device, seq] : w.released) {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("DELETE FROM _fs_held WHERE device = ?1 AND seq = ?2"));
    st->BindBlob(1, device.view());
    st->BindInt(2, static_cast<int64_t>(seq));
    FS_RETURN_IF_ERROR(st->Run());
  }
  for (const HeldEntry& h : w.held) {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("INSERT OR REPLACE INTO _fs_held(device, seq, "
                                              "position, header, header_sig, body, sig, omitted) "
                                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    st->BindBlob(1, h.device.view());
    st->BindInt(2, static_cast<int64_t>(h.seq));
    st->BindInt(3, h.position);
    st->BindBlob(4, h.header);
    st->BindBlob(5, h.header_signature);
    if (h.body.empty()) {
      st->BindNull(6);
      st->BindNull(7);
    } else {
      st->BindBlob(6, h.body);
      st->BindBlob(7, h.signature);
    }
    st->BindBlob(8, EncodeOmitted(h));
    FS_RETURN_IF_ERROR(st->Run());
  }
  for (const StatementRow& r : w.statements) FS_RETURN_IF_ERROR(PutStatement(r));
  for (const TrustEvidence& e : w.evidence) {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("INSERT INTO _fs_trust_evidence(device, seq, kind, "
                                              "held_header, held_sig, other_header, other_sig, "
                                              "what, found_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                                              "?7, ?8, ?9)"));
    st->BindBlob(1, e.device.view());
    st->BindInt(2, static_cast<int64_t>(e.seq));
    st->BindInt(3, e.kind);
    st->BindBlob(4, e.held_header);
    st->BindBlob(5, e.held_signature);
    st->BindBlob(6, e.other_header);
    st->BindBlob(7, e.other_signature);
    st->BindText(8, e.what);
    st->BindInt(9, e.found_at_millis);
    FS_RETURN_IF_ERROR(st->Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ChainRow>> Replica::ChainHeads() {
  Impl& m = *impl_;
  std::vector<ChainRow> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(
                                     "SELECT c.device, c.seq, c.header, c.sig, c.link, c.state "
                                     "FROM _fs_chain c JOIN (SELECT device, max(seq) AS s FROM "
                                     "_fs_chain WHERE device != ?1 GROUP BY device) h ON "
                                     "h.device = c.device AND h.s = c.seq ORDER BY c.device"));
    st->BindBlob(1, m.self.view());
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(ChainRow row, RowAt(*st.get()));
      out.push_back(std::move(row));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::optional<ChainRow>> Replica::ChainEntryAt(const DeviceId& device,
                                                              uint64_t seq) {
  Impl& m = *impl_;
  std::optional<ChainRow> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT device, seq, header, sig, link, state "
                                                "FROM _fs_chain WHERE device = ?1 AND seq = ?2"));
    st->BindBlob(1, device.view());
    st->BindInt(2, static_cast<int64_t>(seq));
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (r) {
      FS_ASSIGN_OR_RETURN(out, RowAt(*st.get()));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::optional<ChainRow>> Replica::ChainEntryFrom(const DeviceId& device,
                                                                uint64_t seq) {
  Impl& m = *impl_;
  std::optional<ChainRow> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT device, seq, header, sig, link, state "
                                                "FROM _fs_chain WHERE device = ?1 AND seq >= ?2 "
                                                "ORDER BY seq LIMIT 1"));
    st->BindBlob(1, device.view());
    st->BindInt(2, static_cast<int64_t>(seq));
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (r) {
      FS_ASSIGN_OR_RETURN(out, RowAt(*st.get()));
    }
    return absl::OkStatus();
  }));
  return out;
}

namespace {

// The chain rows `sql` selects (?1 device, ?2 and ?3 seqs). `M`: the
// replica's Impl.
template <typename M>
absl::StatusOr<std::vector<ChainRow>> ChainRowsWhere(M& m, const char* sql, const DeviceId& device,
                                                     uint64_t a, uint64_t b) {
  std::vector<ChainRow> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(sql));
    st->BindBlob(1, device.view());
    st->BindInt(2, static_cast<int64_t>(a));
    st->BindInt(3, static_cast<int64_t>(std::min<uint64_t>(b, INT64_MAX)));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(ChainRow row, RowAt(*st.get()));
      out.push_back(std::move(row));
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ChainRow>> Replica::ChainBodiesWithin(const DeviceId& device,
                                                                 uint64_t first, uint64_t last) {
  return ChainRowsWhere(*impl_,
                        "SELECT device, seq, header, sig, link, state FROM _fs_chain WHERE "
                        "device = ?1 AND seq BETWEEN ?2 AND ?3 AND state = 1 ORDER BY seq",
                        device, first, last);
}

absl::StatusOr<std::vector<ChainRow>> Replica::ChainWithdrawalsAfter(const DeviceId& device,
                                                                     uint64_t after_seq) {
  // Byte 2 of an encoded header is its flags, bit 0 a withdrawal
  // (docs/PROTOCOL-v3.md, section 1; crypto/commit_header.h).
  return ChainRowsWhere(*impl_,
                        "SELECT device, seq, header, sig, link, state FROM _fs_chain WHERE "
                        "device = ?1 AND seq > ?2 AND seq <= ?3 AND substr(header, 3, 1) = x'01' "
                        "ORDER BY seq",
                        device, after_seq, UINT64_MAX);
}

absl::StatusOr<std::optional<ChainRow>> Replica::OwnChainHead() {
  Impl& m = *impl_;
  std::optional<ChainRow> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT device, seq, header, sig, link, state "
                                                "FROM _fs_chain WHERE device = ?1 ORDER BY seq "
                                                "DESC LIMIT 1"));
    st->BindBlob(1, m.self.view());
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (r) {
      FS_ASSIGN_OR_RETURN(out, RowAt(*st.get()));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<ChainRow>> Replica::OwnChainAfter(uint64_t after_seq, size_t limit) {
  Impl& m = *impl_;
  std::vector<ChainRow> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT device, seq, header, sig, link, state "
                                                "FROM _fs_chain WHERE device = ?1 AND seq > ?2 "
                                                "ORDER BY seq LIMIT ?3"));
    st->BindBlob(1, m.self.view());
    st->BindInt(2, static_cast<int64_t>(after_seq));
    st->BindInt(3, static_cast<int64_t>(limit));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(ChainRow row, RowAt(*st.get()));
      out.push_back(std::move(row));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<HeldEntry>> Replica::Held(const std::optional<DeviceId>& device) {
  Impl& m = *impl_;
  std::vector<HeldEntry> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(
                                     device ? "SELECT device, seq, position, header, header_sig, "
                                              "body, sig, omitted FROM _fs_held WHERE device = "
                                              "?1 ORDER BY seq"
                                            : "SELECT device, seq, position, header, header_sig, "
                                              "body, sig, omitted FROM _fs_held ORDER BY "
                                              "device, seq"));
    if (device) st->BindBlob(1, device->view());
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      HeldEntry h;
      FS_ASSIGN_OR_RETURN(h.device, Id16::FromBytes(st->ColumnBlob(0), "held device"));
      h.seq = static_cast<uint64_t>(st->ColumnInt(1));
      h.position = st->ColumnInt(2);
      h.header = st->ColumnString(3);
      h.header_signature = st->ColumnString(4);
      if (!st->ColumnIsNull(5)) {
        h.body = st->ColumnString(5);
        h.signature = st->ColumnString(6);
      }
      FS_RETURN_IF_ERROR(DecodeOmitted(st->ColumnBlob(7), &h));
      out.push_back(std::move(h));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<TrustEvidence>> Replica::Evidence() {
  Impl& m = *impl_;
  std::vector<TrustEvidence> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT device, seq, kind, held_header, held_sig, "
                                                "other_header, other_sig, what, found_at, id "
                                                "FROM _fs_trust_evidence ORDER BY id"));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      TrustEvidence e;
      FS_ASSIGN_OR_RETURN(e.device, Id16::FromBytes(st->ColumnBlob(0), "evidence device"));
      e.seq = static_cast<uint64_t>(st->ColumnInt(1));
      e.kind = static_cast<int>(st->ColumnInt(2));
      e.held_header = st->ColumnString(3);
      e.held_signature = st->ColumnString(4);
      e.other_header = st->ColumnString(5);
      e.other_signature = st->ColumnString(6);
      e.what = st->ColumnString(7);
      e.found_at_millis = st->ColumnInt(8);
      e.id = st->ColumnInt(9);
      out.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status Replica::AddEvidence(const TrustEvidence& e,
                                  const std::vector<std::pair<std::string, int64_t>>& cursors) {
  Impl& m = *impl_;
  return m.InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    ChainWrites w;
    w.evidence.push_back(e);
    FS_RETURN_IF_ERROR(m.StoreChainWrites(w));
    for (const auto& [name, value] : cursors) {
      FS_RETURN_IF_ERROR(m.SetCursorInTxn(txn, name, value));
    }
    return absl::OkStatus();
  });
}

}  // namespace fieldsync
