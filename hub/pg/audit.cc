#include "hub/pg/audit.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "hub/pg/transaction.h"

namespace fieldsync::hub::pg {

absl::Status AppendAudit(Connection& conn, int64_t at_millis, const std::string& actor,
                         const std::string& action, const std::string& detail) {
  FS_ASSIGN_OR_RETURN(Result head, conn.Exec("SELECT seq, hash FROM hub_audit_head FOR UPDATE"));
  if (head.rows() != 1) {
    return absl::DataLossError(
        "the hub's audit trail has lost its head row (hub_audit_head): the database was changed "
        "outside fieldhub; run `fieldhub audit` and restore it from a backup. Nothing was "
        "changed");
  }
  HubAuditEntry e;
  FS_ASSIGN_OR_RETURN(const int64_t last, head.Int(0, 0));
  e.seq = last + 1;
  e.at_millis = at_millis;
  e.actor = actor;
  e.action = action;
  e.detail = detail;
  e.prev_hash = head.Bytes(0, 1);
  e.entry_hash = HubAuditHash(e);
  absl::StatusOr<Result> ins =
      conn.Exec("INSERT INTO hub_audit(seq, at, actor, action, detail, prev_hash, entry_hash) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                {Param::Int(e.seq), Param::Int(e.at_millis), Param::Text(e.actor),
                 Param::Text(e.action), Param::Text(e.detail), Param::Text(e.prev_hash),
                 Param::Text(e.entry_hash)});
  if (ins.status().code() == absl::StatusCode::kAlreadyExists) {
    return absl::DataLossError(absl::StrCat(
        "the hub's audit trail already holds an entry ", e.seq,
        " past its recorded head: the database was changed outside fieldhub; run `fieldhub "
        "audit` and restore it from a backup. Nothing was changed"));
  }
  FS_RETURN_IF_ERROR(ins.status());
  return conn.Exec("UPDATE hub_audit_head SET seq = $1, hash = $2",
                   {Param::Int(e.seq), Param::Text(e.entry_hash)})
      .status();
}

absl::StatusOr<HubAuditTrail> ReadAudit(Connection& conn) {
  HubAuditTrail t;
  FS_RETURN_IF_ERROR(InTransaction(conn, Isolation::kRepeatableReadOnly,
                                   [&](Transaction&) -> absl::Status {
    FS_ASSIGN_OR_RETURN(Result r, conn.Exec("SELECT seq, at, actor, action, detail, prev_hash, "
                                            "entry_hash FROM hub_audit ORDER BY seq"));
    for (int i = 0; i < r.rows(); ++i) {
      HubAuditEntry e;
      FS_ASSIGN_OR_RETURN(e.seq, r.Int(i, 0));
      FS_ASSIGN_OR_RETURN(e.at_millis, r.Int(i, 1));
      e.actor = r.Bytes(i, 2);
      e.action = r.Bytes(i, 3);
      e.detail = r.Bytes(i, 4);
      e.prev_hash = r.Bytes(i, 5);
      e.entry_hash = r.Bytes(i, 6);
      t.entries.push_back(std::move(e));
    }
    FS_ASSIGN_OR_RETURN(Result head, conn.Exec("SELECT seq, hash FROM hub_audit_head"));
    if (head.rows() == 1) {
      FS_ASSIGN_OR_RETURN(t.head_seq, head.Int(0, 0));
      t.head_hash = head.Bytes(0, 1);
    }
    return absl::OkStatus();
  }));
  return t;
}

}  // namespace fieldsync::hub::pg
