// The hub's log chain (hub/log_chain.h: hub_log_hash), the devices' commit
// chains (hub/chain_admission.h: hub_chain) and the laptops' statements
// (hub/statements.h: hub_statements) in the PostgreSQL store's views. The
// same answers as hub/sqlite_log_chain.cc, sqlite_chain.cc and
// sqlite_statements.cc.
//
// Two hub processes: the hash of position p is computed from that of p - 1
// and a statement's seq from the highest held, so each is written under
// the log head's row lock (PgView::Locked), as SQLite's single writer
// does; what the writer read before it wrote is what stands at its commit.
#include "base/status_macros.h"
#include "hub/pg/views.h"

namespace fieldsync::hub::pg {
namespace {

absl::StatusOr<std::vector<StoredChainEntry>> ChainEntriesOf(const Result& r) {
  std::vector<StoredChainEntry> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    StoredChainEntry e;
    FS_ASSIGN_OR_RETURN(int64_t seq, r.Int(i, 0));
    e.seq = static_cast<uint64_t>(seq);
    FS_ASSIGN_OR_RETURN(e.position, r.Int(i, 1));
    e.header = r.Bytes(i, 2);
    e.signature = r.Bytes(i, 3);
    e.link = r.Bytes(i, 4);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// The log chain.

absl::StatusOr<std::optional<std::string>> PgView::LogHash(int64_t position) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT hash FROM hub_log_hash WHERE position = $1",
                                           {Param::Int(position)}));
  if (r.rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(r.Bytes(0, 0));
}

absl::StatusOr<LogPoint> PgView::LogHashHead() {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT position, hash FROM hub_log_hash ORDER BY "
                                           "position DESC LIMIT 1"));
  LogPoint p;
  if (r.rows() == 0) return p;
  FS_ASSIGN_OR_RETURN(p.position, r.Int(0, 0));
  p.hash = r.Bytes(0, 1);
  return p;
}

absl::Status PgView::PutLogHash(int64_t position, const std::string& hash) {
  FS_RETURN_IF_ERROR(MustWrite("PutLogHash"));
  return Locked([&] {
    return conn_.DeferRow("hub_log_hash",
                          "INSERT INTO hub_log_hash(position, hash) SELECT * FROM "
                          "unnest($1::int8[], $2::bytea[])",
                          0, Connection::OnSameKey::kNextStatement,
                          {Param::Int(position), Param::Bytes(hash)});
  });
}

// ---------------------------------------------------------------------------
// Commit chains.

absl::StatusOr<ChainPoint> PgView::ChainHead(const DeviceId& device) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT seq, link FROM hub_chain WHERE device = $1 "
                                           "ORDER BY seq DESC LIMIT 1",
                                           {Param::Bytes(device.view())}));
  ChainPoint p;
  if (r.rows() == 0) return p;
  FS_ASSIGN_OR_RETURN(int64_t seq, r.Int(0, 0));
  p.seq = static_cast<uint64_t>(seq);
  p.link = r.Bytes(0, 1);
  return p;
}

absl::StatusOr<std::vector<StoredChainEntry>> PgView::ChainEntries(const DeviceId& device,
                                                                   uint64_t first, uint64_t last,
                                                                   size_t limit) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT seq, position, header, sig, link FROM "
                                           "hub_chain WHERE device = $1 AND seq >= $2 AND seq "
                                           "<= $3 ORDER BY seq LIMIT $4",
                                           {Param::Bytes(device.view()),
                                            Param::Int(static_cast<int64_t>(first)),
                                            Param::Int(static_cast<int64_t>(last)),
                                            Param::Int(static_cast<int64_t>(limit))}));
  return ChainEntriesOf(r);
}

absl::StatusOr<std::vector<StoredChainEntry>> PgView::RefusedChainEntries(
    const DeviceId& device) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT seq, position, header, sig, link FROM "
                                           "hub_chain WHERE device = $1 AND position < 0 ORDER "
                                           "BY seq",
                                           {Param::Bytes(device.view())}));
  return ChainEntriesOf(r);
}

absl::Status PgView::AddChainEntry(const DeviceId& device, const StoredChainEntry& e) {
  FS_RETURN_IF_ERROR(MustWrite("AddChainEntry"));
  // Keyed by (device, seq): a second writer's entry of the same seq fails
  // on the key, as on SQLite.
  return conn_.DeferRow("hub_chain",
                        "INSERT INTO hub_chain(device, seq, position, header, sig, link) SELECT "
                        "* FROM unnest($1::bytea[], $2::int8[], $3::int8[], $4::bytea[], "
                        "$5::bytea[], $6::bytea[])",
                        0, Connection::OnSameKey::kNextStatement,
                        {Param::Bytes(device.view()), Param::Int(static_cast<int64_t>(e.seq)),
                         Param::Int(e.position), Param::Bytes(e.header),
                         Param::Bytes(e.signature), Param::Bytes(e.link)});
}

absl::Status PgView::SetChainPosition(const DeviceId& device, uint64_t seq, int64_t position) {
  FS_RETURN_IF_ERROR(MustWrite("SetChainPosition"));
  return conn_.Defer("UPDATE hub_chain SET position = $3 WHERE device = $1 AND seq = $2",
                     {Param::Bytes(device.view()), Param::Int(static_cast<int64_t>(seq)),
                     Param::Int(position)},
                     "hub_chain");
}

// ---------------------------------------------------------------------------
// Statements.

absl::StatusOr<std::vector<StoredStatement>> PgView::StatementsAfter(
    int64_t after, const std::vector<std::string>& provinces, size_t limit) {
  FS_ASSIGN_OR_RETURN(Param list, NameList(provinces));
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT seq, device, province, created, bytes FROM "
                                           "hub_statements WHERE seq > $1 AND province = "
                                           "ANY(string_to_array($2, chr(31))) ORDER BY seq "
                                           "LIMIT $3",
                                           {Param::Int(after), list,
                                            Param::Int(static_cast<int64_t>(limit))}));
  std::vector<StoredStatement> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    StoredStatement s;
    FS_ASSIGN_OR_RETURN(s.seq, r.Int(i, 0));
    FS_ASSIGN_OR_RETURN(s.device, Id16::FromBytes(r.Bytes(i, 1), "statement device"));
    s.province = r.Bytes(i, 2);
    FS_ASSIGN_OR_RETURN(int64_t created, r.Int(i, 3));
    s.created_hlc = static_cast<uint64_t>(created);
    s.bytes = r.Bytes(i, 4);
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> PgView::PartnerProvinces(const std::string& province) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT s.owner FROM hub_grants g JOIN hub_row_scope "
                                           "s ON s.tbl = 'cases' AND s.row = g.case_id WHERE "
                                           "g.province = $1 UNION SELECT g.province FROM "
                                           "hub_grants g JOIN hub_row_scope s ON s.tbl = "
                                           "'cases' AND s.row = g.case_id WHERE s.owner = $1 "
                                           "ORDER BY 1",
                                           {Param::Text(province)}));
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) {
    std::string p = r.Bytes(i, 0);
    if (p != province && !p.empty()) out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<bool> PgView::PutStatement(const StoredStatement& s) {
  FS_RETURN_IF_ERROR(MustWrite("PutStatement"));
  bool kept = false;
  FS_RETURN_IF_ERROR(Locked([&]() -> absl::Status {
    // Kept unless the one held is as new or newer; a kept one takes the
    // next seq (the pulls' statement cursor), in one statement.
    FS_ASSIGN_OR_RETURN(
        Result r,
        conn_.Exec("INSERT INTO hub_statements AS h(device, province, created, seq, bytes) "
                   "VALUES ($1, $2, $3, (SELECT coalesce(max(seq), 0) + 1 FROM hub_statements), "
                   "$4) ON CONFLICT (device) DO UPDATE SET province = EXCLUDED.province, "
                   "created = EXCLUDED.created, seq = EXCLUDED.seq, bytes = EXCLUDED.bytes "
                   "WHERE h.created < EXCLUDED.created",
                   {Param::Bytes(s.device.view()), Param::Text(s.province),
                    Param::Int(static_cast<int64_t>(s.created_hlc)), Param::Bytes(s.bytes)}));
    kept = r.Affected() > 0;
    return absl::OkStatus();
  }));
  return kept;
}

}  // namespace fieldsync::hub::pg
