#include "hub/pg/transaction.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace fieldsync::hub::pg {

absl::StatusOr<Transaction> Transaction::Begin(Connection& conn, Isolation isolation) {
  if (conn.InTransaction()) {
    return absl::FailedPreconditionError(
        "a PostgreSQL transaction was begun inside another one on the same connection");
  }
  const char* sql = "BEGIN ISOLATION LEVEL READ COMMITTED";
  if (isolation == Isolation::kRepeatableReadOnly) {
    sql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  } else if (isolation == Isolation::kSerializable) {
    sql = "BEGIN ISOLATION LEVEL SERIALIZABLE";
  }
  absl::StatusOr<std::string> r = conn.Command(sql);
  if (!r.ok()) return r.status();
  return Transaction(&conn);
}

Transaction::Transaction(Transaction&& o) noexcept
    : conn_(o.conn_), open_(std::exchange(o.open_, false)) {}

Transaction::~Transaction() {
  if (open_) Rollback();
}

void Transaction::Rollback() {
  open_ = false;
  // Writes deferred and not sent yet are not sent (hub/pg/pipeline.cc).
  conn_->DropDeferred();
  // A connection that is lost has no transaction left to end; otherwise the
  // ROLLBACK of a failed or open transaction succeeds.
  (void)conn_->Command("ROLLBACK");
}

absl::Status Transaction::Commit() {
  if (!open_) return absl::FailedPreconditionError("the PostgreSQL transaction is over");
  absl::StatusOr<std::string> tag = conn_->Command("COMMIT");
  if (!tag.ok()) {
    // The server did not answer, or refused (a deferred constraint, a
    // serialization failure at commit): nothing was kept. Leave the
    // connection outside any transaction.
    if (conn_->InTransaction()) Rollback();
    open_ = false;
    return tag.status();
  }
  open_ = false;
  if (*tag != "COMMIT") {
    // An earlier statement failed and the server rolled back instead.
    return absl::InternalError(absl::StrCat(
        "PostgreSQL rolled the transaction back instead of committing it (answered ", *tag,
        "): a statement in it had failed; nothing was kept"));
  }
  return absl::OkStatus();
}

absl::Status InTransaction(Connection& conn, Isolation isolation,
                           const std::function<absl::Status(Transaction&)>& body) {
  absl::StatusOr<Transaction> txn = Transaction::Begin(conn, isolation);
  if (!txn.ok()) return txn.status();
  absl::Status s = body(*txn);
  if (!s.ok()) return s;  // rolled back by the destructor
  return txn->Commit();
}

}  // namespace fieldsync::hub::pg
