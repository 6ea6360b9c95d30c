// A PostgreSQL transaction as one RAII type (docs/POSTGRES.md): begun with
// its isolation level, committed only by Commit() -- whose answer is
// checked: a COMMIT of a transaction that failed is answered "ROLLBACK" by
// the server, not an error, and is an error here -- and rolled back when it
// goes out of scope uncommitted. InTransaction() runs a body in one.
#ifndef FIELDSYNC_HUB_PG_TRANSACTION_H_
#define FIELDSYNC_HUB_PG_TRANSACTION_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hub/pg/connection.h"

namespace fieldsync::hub::pg {

enum class Isolation {
  // Each statement sees what was committed before it began (the registry's
  // short writes, which lock the rows they change).
  kReadCommitted,
  // One snapshot for the whole transaction (a consistent read of several
  // tables, e.g. the audit trail with its head).
  kRepeatableReadOnly,
  // Serializable: a conflict with a concurrent transaction fails it with
  // ABORTED (IsRetryable), to be retried whole.
  kSerializable,
};

class Transaction {
 public:
  static absl::StatusOr<Transaction> Begin(Connection& conn, Isolation isolation);
  Transaction(Transaction&& o) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  Connection& conn() { return *conn_; }
  // Commits: OK only if the server committed. After it (either way) the
  // transaction is over; a failed commit is rolled back.
  absl::Status Commit();

 private:
  explicit Transaction(Connection* c) : conn_(c) {}
  void Rollback();
  Connection* conn_;
  bool open_ = true;
};

// Runs `body` in one transaction: committed if it returns OK, rolled back
// otherwise (its status returned). Nothing of a failed body stays.
absl::Status InTransaction(Connection& conn, Isolation isolation,
                           const std::function<absl::Status(Transaction&)>& body);

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_TRANSACTION_H_
