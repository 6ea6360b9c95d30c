// One connection to PostgreSQL through libpq's C API (docs/POSTGRES.md):
// the hub's PostgreSQL store (hub/pg/storage.h) reads and writes only
// through it. Statements take their values as parameters (PQexecParams),
// never as SQL text; values go and come in binary form, so a bytea is its
// bytes and an int8 its 64 bits. An error is an absl::Status of one line
// (SQLSTATE and libpq's primary message); a serialization failure or
// deadlock is ABORTED (IsRetryable), a unique violation ALREADY_EXISTS, a
// lost connection UNAVAILABLE. The server's NOTICEs are dropped, never
// printed on the user's screen. Not thread-safe: one user at a time.
#ifndef FIELDSYNC_HUB_PG_CONNECTION_H_
#define FIELDSYNC_HUB_PG_CONNECTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct pg_conn;
struct pg_result;

namespace fieldsync::hub::pg {

// A statement's parameter: NULL, an int8, a text or a bytea.
class Param {
 public:
  static Param Null() { return Param(Kind::kNull, ""); }
  // A NULL of a type: the statement's parameter types stay the same
  // whether a value is there or not (one prepared statement serves both).
  static Param NullInt() { return Param(Kind::kInt, "", /*null=*/true); }
  static Param NullBytes() { return Param(Kind::kBytes, "", /*null=*/true); }
  static Param NullText() { return Param(Kind::kText, "", /*null=*/true); }
  static Param NullBool() { return Param(Kind::kBool, "", /*null=*/true); }
  static Param Int(int64_t v);
  static Param Text(std::string_view v) { return Param(Kind::kText, v); }
  static Param Bytes(std::string_view v) { return Param(Kind::kBytes, v); }
  static Param Bool(bool v) {
    return Param(Kind::kBool, v ? std::string_view("\1", 1) : std::string_view("\0", 1));
  }
  // An optional int8: NULL when absent.
  static Param OptInt(std::optional<int64_t> v) { return v ? Int(*v) : Null(); }

  enum class Kind { kNull, kInt, kText, kBytes, kBool };
  // A one-dimensional array (int8[], text[], bytea[] or bool[]) of
  // `items`, each of kind `element` (NULL ones typed, as NullInt() ...).
  static Param ArrayOf(Kind element, const std::vector<const Param*>& items);
  // A bytea[] of ids (each its 16 bytes), for `col = ANY($n::bytea[])`:
  // the planner sees how many there are and looks each up in an index (a
  // list split by the server, `IN (SELECT substring ... generate_series)`,
  // it guessed at 1000 ids and answered by hashing the whole table).
  template <typename Ids>
  static Param IdArray(const Ids& ids) {
    std::vector<Param> items;
    items.reserve(ids.size());
    for (const auto& id : ids) items.push_back(Bytes(id.view()));
    std::vector<const Param*> ptrs;
    ptrs.reserve(items.size());
    for (const Param& p : items) ptrs.push_back(&p);
    return ArrayOf(Kind::kBytes, ptrs);
  }

  Kind kind() const { return kind_; }  // an array's: its elements'
  bool array() const { return array_; }
  bool null() const { return null_ || kind_ == Kind::kNull; }
  const std::string& wire() const { return wire_; }  // binary form

 private:
  Param(Kind k, std::string_view wire, bool null = false) : kind_(k), null_(null), wire_(wire) {}
  Kind kind_;
  bool null_;
  bool array_ = false;
  std::string wire_;
};

// The rows a statement returned (binary form). Columns by index.
class Result {
 public:
  Result(Result&&) noexcept;
  Result& operator=(Result&&) noexcept;
  ~Result();

  int rows() const;
  bool IsNull(int row, int col) const;
  // An integer column (int2, int4, int8; INTERNAL for another type).
  absl::StatusOr<int64_t> Int(int row, int col) const;
  // A text or bytea column's bytes ("" for NULL).
  std::string Bytes(int row, int col) const;
  // The number of rows an UPDATE, INSERT or DELETE touched.
  int64_t Affected() const;

 private:
  friend class Connection;
  explicit Result(pg_result* r) : r_(r) {}
  pg_result* r_;
};

// The search path every connection sets at open: the system's catalog
// (not named: PostgreSQL then searches it first, so nothing made in
// `public` stands in for a built-in function or operator; attack review
// 23, LOW 5), the hub's tables in the schema `public` (made there by
// `fieldhub init`), then the session's own temporary schema (last, so that
// it cannot stand in for a table). The server's default, `"$user",
// public`, would look first in a schema named after the role.
inline constexpr char kSearchPath[] = "public, pg_temp";

// Whether `target` (a postgresql:// URI or a key=value connection string)
// carries a password (a `user:password@` userinfo or a `password`
// parameter), which libpq would take from it. A target libpq cannot parse
// carries none here (opening it is refused anyway).
bool HoldsPassword(const std::string& target);

// Whether `s` is a failure a retry of the whole transaction may cure (a
// serialization failure or a deadlock between concurrent transactions).
bool IsRetryable(const absl::Status& s);

class Connection {
 public:
  // Connects to `target`: a `postgresql://` (or `postgres://`) URI, or the
  // directory of a server's Unix socket (an absolute path); to database
  // `database` (default "fieldsync") as user "fieldsync" unless the URI
  // names others. UNAVAILABLE in one line if the server does not answer;
  // INVALID_ARGUMENT for a target that is neither.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& target,
                                                          const std::string& database = "");
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with `params` ($1, $2 ...). A statement run a
  // second time with the same parameter types is prepared on this
  // connection (PQprepare) and executed from then on without being parsed
  // and planned again (docs/POSTGRES.md, "Round trips").
  absl::StatusOr<Result> Exec(std::string_view sql, const std::vector<Param>& params = {});
  // A write whose answer (rows, count) nobody reads, sent later
  // (hub/pg/pipeline.cc): inside a transaction it is kept, and sent with
  // the writes deferred after it in one round trip (libpq's pipeline mode)
  // before this connection's next Exec, Command or copy -- so that
  // whatever runs after it sees it, as if it had run at once -- and its
  // failure is that call's. Outside a transaction it runs at once.
  // `table` names the one table it reads and writes ("": it may read or
  // write any, which no batched row moves across; see DeferRow).
  absl::Status Defer(std::string_view sql, std::vector<Param> params,
                     std::string_view table = {});
  // How a batch takes a row whose key a row of it has already.
  enum class OnSameKey {
    kNextStatement,  // the row goes in a statement sent after this one
    kReplace,        // it replaces that row (for a write whose outcome is
                     // its last row's of a key, whatever was held)
    kSameStatement,  // it joins (an insert that does nothing on a key
                     // held keeps the first row, as one after the other)
  };
  // A batched write (DeferRow): its statement over arrays of the rows'
  // values, the table it writes, and what it reads.
  struct RowWrite {
    std::string_view table;  // the one table it writes
    std::string_view sql;    // $i: the array of the rows' i-th values
    // A row's key: its first `key` values (0: none), naming a row of
    // `key_table` ("": `table`), the only row of it the statement reads or
    // writes for that row. A `key_table` not `table` is read, not written.
    size_t key = 0;
    OnSameKey same_key = OnSameKey::kNextStatement;
    std::string_view key_table = {};
    // It only adds whole rows (the table's key is all its columns, a row
    // held is left): such writes of a table give the same rows in any
    // order.
    bool adds_only = false;
  };
  // One row of a write, deferred as Defer's are, and batched
  // (hub/pg/pipeline.cc; docs/POSTGRES.md, "Round trips"): the rows of the
  // same statement deferred in one transaction are sent as one statement,
  // its parameter $i the array of the rows' i-th values (`unnest($1::int8[],
  // $2::bytea[] ...)`), in the order deferred -- unless something deferred
  // between two of them could tell the difference: a statement of the same
  // table (or of no named table), a batch writing or reading a row of the
  // same key, or the second one's key is a key of the batch already (then
  // `same_key` says what is done). A row's values keep their kinds from
  // row to row; NULLs typed (NullInt() ...).
  absl::Status DeferRow(const RowWrite& write, std::vector<Param> row);
  absl::Status DeferRow(std::string_view table, std::string_view sql, size_t key,
                        OnSameKey same_key, std::vector<Param> row) {
    return DeferRow(RowWrite{table, sql, key, same_key}, std::move(row));
  }
  // Sends what was deferred, in order, in one round trip; the first
  // failure (the statements after it are not run, and the transaction has
  // failed). Done by every Exec, Command and copy first.
  absl::Status Flush();
  // Forgets what was deferred (its transaction is being rolled back).
  void DropDeferred() {
    deferred_.clear();
    deferred_rows_ = 0;
  }

  // Runs SQL without parameters, possibly several statements (schema
  // migrations, BEGIN/COMMIT). Returns the last command's tag ("COMMIT",
  // "ROLLBACK", "CREATE TABLE" ...).
  absl::StatusOr<std::string> Command(std::string_view sql);

  // COPY ... TO STDOUT: `chunk` is given each piece the server sends (a
  // row, in the COPY's format), in order; its error stops the copy (the
  // connection is then unusable: drop it).
  absl::Status CopyOut(std::string_view sql,
                       const std::function<absl::Status(std::string_view)>& chunk);
  // COPY ... FROM STDIN: `next` fills its argument with the next piece and
  // returns true, or returns false at the end; its error aborts the copy
  // (the statement fails, so does the transaction around it).
  absl::Status CopyIn(std::string_view sql,
                      const std::function<absl::StatusOr<bool>(std::string*)>& next);

  // Whether the connection is inside a transaction (open or failed).
  bool InTransaction() const;

 private:
  explicit Connection(pg_conn* c) : c_(c) {}
  absl::Status Check(pg_result* r);
  pg_conn* c_;
  // Statements seen, by parameter types and text: how often, and the name
  // of the prepared statement once there is one.
  struct Seen {
    int uses = 0;
    std::string name;
  };
  // Parameters as libpq takes them (binary; types by OID).
  struct Bound {
    std::vector<unsigned int> types;
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
  };
  static Bound Bind(const std::vector<Param>& params);
  // The statement's record (null past kMaxStatementsSeen, or with too many
  // parameters to prepare).
  Seen* Lookup(std::string_view sql, const Bound& b);
  std::unordered_map<std::string, Seen> statements_;
  int prepared_ = 0;
  struct Deferred {
    std::string sql;
    std::vector<Param> params;  // a batch's are made by Flush
    std::string table;          // "": any table
    bool batch = false;
    // A batch's write (RowWrite): key, key_table (never ""), adds_only.
    size_t key = 0;
    std::string key_table;
    bool adds_only = false;
    // A batch's: its rows, in order, and where each key is among them.
    std::vector<std::vector<Param>> rows;
    std::map<std::string, size_t> keys;
  };
  // The statement a batch is sent as: each column's values as an array.
  static std::vector<Param> Columns(const Deferred& batch);
  // Whether a row of `w` keyed `key` deferred after `e` may be sent before
  // it, the outcome the same.
  static bool Commutes(const Deferred& e, const RowWrite& w, const std::string& key);
  std::vector<Deferred> deferred_;
  size_t deferred_rows_ = 0;  // statements and rows kept
};

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_CONNECTION_H_
