#include "hub/pg/connection.h"

#include <libpq-fe.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"

namespace fieldsync::hub::pg {

namespace {

// Type OIDs of pg_type (src/include/catalog/pg_type.dat), stable.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kBoolArrayOid = 1000;
constexpr Oid kByteaArrayOid = 1001;
constexpr Oid kTextArrayOid = 1009;
constexpr Oid kInt8ArrayOid = 1016;

Oid ElementOid(Param::Kind k) {
  switch (k) {
    case Param::Kind::kInt: return kInt8Oid;
    case Param::Kind::kText: return kTextOid;
    case Param::Kind::kBytes: return kByteaOid;
    case Param::Kind::kBool: return kBoolOid;
    case Param::Kind::kNull: break;
  }
  return 0;
}

Oid ArrayOid(Param::Kind k) {
  switch (k) {
    case Param::Kind::kInt: return kInt8ArrayOid;
    case Param::Kind::kText: return kTextArrayOid;
    case Param::Kind::kBytes: return kByteaArrayOid;
    case Param::Kind::kBool: return kBoolArrayOid;
    case Param::Kind::kNull: break;
  }
  return 0;
}

void PutInt32(int32_t v, std::string* out) {
  const auto u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(u >> (24 - 8 * i)));
}

// Statements with more parameters (a batch of rows) are not prepared: each
// count of rows would be a statement of its own. The connection remembers
// at most this many statements; past it, new ones run unprepared.
constexpr int kMaxPreparedParams = 200;
constexpr size_t kMaxStatementsSeen = 512;

// One line: libpq's messages end with a newline and may hold several.
std::string OneLine(std::string_view s) {
  std::string out = absl::StrReplaceAll(
      absl::StripTrailingAsciiWhitespace(absl::string_view(s.data(), s.size())), {{"\n", "; "}});
  return out;
}

uint64_t BigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// The server's NOTICEs and WARNINGs (e.g. "relation already exists,
// skipping") are not for the user's screen.
void DropNotice(void*, const char*) {}

// libpq's messages quote what they could not take ("invalid percent-encoded
// token: \"...\""), which may be a password: each quoted part is left out.
std::string WithoutQuoted(std::string_view s) {
  std::string out;
  bool quoted = false;
  for (char c : s) {
    if (c == '"') {
      if (!quoted) out += "\"...\"";
      quoted = !quoted;
    } else if (!quoted) {
      out += c;
    }
  }
  return out;
}

std::string Setting(const std::vector<std::pair<std::string, std::string>>& settings,
                    const std::string& key) {
  for (const auto& [k, v] : settings) {
    if (k == key) return v;
  }
  return "";
}

// Whether libpq will reach the server over TCP: a host that is not a
// socket directory (an absolute path, or '@' for an abstract socket), or an
// address. No host and no address: libpq's default socket directory.
bool IsTcp(const std::string& host, const std::string& hostaddr) {
  if (!hostaddr.empty()) return true;
  for (absl::string_view h : absl::StrSplit(host, ',', absl::SkipEmpty())) {
    if (!absl::StartsWith(h, "/") && !absl::StartsWith(h, "@")) return true;
  }
  return false;
}

// Where a connection went, for an error: host (or address) and port.
std::string Describe(const std::string& host, const std::string& hostaddr,
                     const std::string& port) {
  std::string where = !host.empty() ? host : !hostaddr.empty() ? hostaddr : "the default socket";
  if (!port.empty()) absl::StrAppend(&where, " port ", port);
  return where;
}

}  // namespace

Param Param::Int(int64_t v) {
  std::string w(8, '\0');
  const auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) w[i] = static_cast<char>(u >> (56 - 8 * i));
  return Param(Kind::kInt, w);
}

Param Param::ArrayOf(Kind element, const std::vector<const Param*>& items) {
  // PostgreSQL's binary form of an array (array_recv): dimensions, whether
  // a NULL is there, the element type, each dimension's length and lower
  // bound, then each element as its length (-1: NULL) and bytes.
  std::string w;
  bool has_null = false;
  for (const Param* p : items) has_null = has_null || p->null();
  PutInt32(1, &w);
  PutInt32(has_null ? 1 : 0, &w);
  PutInt32(static_cast<int32_t>(ElementOid(element)), &w);
  PutInt32(static_cast<int32_t>(items.size()), &w);
  PutInt32(1, &w);
  for (const Param* p : items) {
    if (p->null()) {
      PutInt32(-1, &w);
      continue;
    }
    PutInt32(static_cast<int32_t>(p->wire().size()), &w);
    w += p->wire();
  }
  Param out(element, w);
  out.array_ = true;
  return out;
}

Result::Result(Result&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
Result& Result::operator=(Result&& o) noexcept {
  if (this != &o) {
    if (r_ != nullptr) PQclear(r_);
    r_ = std::exchange(o.r_, nullptr);
  }
  return *this;
}
Result::~Result() {
  if (r_ != nullptr) PQclear(r_);
}

int Result::rows() const { return PQntuples(r_); }

bool Result::IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }

absl::StatusOr<int64_t> Result::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const char* v = PQgetvalue(r_, row, col);
  const int n = PQgetlength(r_, row, col);
  const Oid type = PQftype(r_, col);
  if ((type == kInt8Oid && n == 8) || (type == kInt4Oid && n == 4) ||
      (type == kInt2Oid && n == 2)) {
    // Sign-extend from n bytes.
    const uint64_t u = BigEndian(v, n);
    const int shift = 64 - 8 * n;
    return static_cast<int64_t>(u << shift) >> shift;
  }
  if (type == kBoolOid && n == 1) return v[0] != 0 ? 1 : 0;
  return absl::InternalError(absl::StrCat("PostgreSQL column ", col, " (",
                                          PQfname(r_, col), ") is not an integer (type oid ",
                                          type, ")"));
}

std::string Result::Bytes(int row, int col) const {
  if (IsNull(row, col)) return std::string();
  return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}

int64_t Result::Affected() const {
  const char* n = PQcmdTuples(r_);
  return (n == nullptr || *n == '\0') ? 0 : std::stoll(n);
}

bool HoldsPassword(const std::string& target) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(target.c_str(), &err);
  if (err != nullptr) PQfreemem(err);
  if (opts == nullptr) return false;
  bool held = false;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val != nullptr && *o->val != '\0') {
      held = true;
    }
  }
  PQconninfoFree(opts);
  return held;
}

bool IsRetryable(const absl::Status& s) { return s.code() == absl::StatusCode::kAborted; }

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& target,
                                                             const std::string& database) {
  const std::string db = database.empty() ? "fieldsync" : database;
  // Every setting as a keyword: a URI's own, then what it leaves out.
  std::vector<std::pair<std::string, std::string>> settings;
  if (absl::StartsWith(target, "postgresql://") || absl::StartsWith(target, "postgres://")) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(target.c_str(), &err);
    if (opts == nullptr) {
      std::string why = err != nullptr ? OneLine(err) : "out of memory";
      if (err != nullptr) PQfreemem(err);
      // Neither the URI (it may hold a password) nor the part libpq quotes.
      return absl::InvalidArgumentError(absl::StrCat(
          "the PostgreSQL address given is not a valid URI (", WithoutQuoted(why),
          "): give postgresql://USER@HOST/DATABASE"));
    }
    for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
      if (o->val != nullptr && *o->val != '\0') settings.emplace_back(o->keyword, o->val);
    }
    PQconninfoFree(opts);
  } else if (absl::StartsWith(target, "/")) {
    settings.emplace_back("host", target);
  } else {
    return absl::InvalidArgumentError(
        "the PostgreSQL address given is neither a postgresql:// URI nor a socket directory: "
        "give postgresql://USER@HOST/DATABASE or the absolute path of the server's socket "
        "directory");
  }
  auto set_default = [&](const std::string& key, const std::string& value) {
    for (const auto& [k, v] : settings) {
      if (k == key) return;
    }
    settings.emplace_back(key, value);
  };
  set_default("dbname", db);
  // Over TCP the server proves its name with a certificate the system
  // trusts (libpq's default, `prefer`, takes an unverified server and falls
  // back to plain text): unless the URI asks for another sslmode.
  if (IsTcp(Setting(settings, "host"), Setting(settings, "hostaddr"))) {
    set_default("sslmode", "verify-full");
  }
  set_default("user", "fieldsync");
  // A bounded wait, and a name the server's administrator recognises.
  set_default("connect_timeout", "10");
  set_default("application_name", "fieldhub");
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : settings) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  pg_conn* c = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/0);
  if (c == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = OneLine(PQerrorMessage(c));
    PQfinish(c);
    // Host and database only: the target may hold a password.
    return absl::UnavailableError(absl::StrCat(
        "could not connect to PostgreSQL database ", Setting(settings, "dbname"), " at ",
        Describe(Setting(settings, "host"), Setting(settings, "hostaddr"),
                 Setting(settings, "port")),
        ": ", why));
  }
  PQsetNoticeProcessor(c, DropNotice, nullptr);
  std::unique_ptr<Connection> conn(new Connection(c));
  // Times as the hub keeps them are integers (milliseconds); only the
  // session's own settings matter: UTF-8 text, no statement left hanging,
  // and the hub's tables named without a schema found in `public` only
  // (kSearchPath): never in a schema another role made earlier in the
  // server's default path ("$user", a role's own setting), whose tables or
  // functions would stand in for the hub's (attack review 22, LOW 8).
  absl::StatusOr<std::string> s = conn->Command(absl::StrCat(
      "SET client_encoding = 'UTF8'; SET client_min_messages = warning; SET search_path = ",
      kSearchPath));
  if (!s.ok()) return s.status();
  return conn;
}

Connection::~Connection() {
  if (c_ != nullptr) PQfinish(c_);
}

absl::Status Connection::Check(pg_result* r) {
  const ExecStatusType st = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return absl::OkStatus();
  const char* state = r == nullptr ? nullptr : PQresultErrorField(r, PG_DIAG_SQLSTATE);
  const char* primary = r == nullptr ? nullptr : PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  const std::string sqlstate = state == nullptr ? "" : state;
  const std::string msg = OneLine(primary != nullptr ? primary : PQerrorMessage(c_));
  const std::string line = absl::StrCat("PostgreSQL: ", msg,
                                        sqlstate.empty() ? "" : absl::StrCat(" (", sqlstate, ")"));
  if (PQstatus(c_) != CONNECTION_OK) return absl::UnavailableError(line);
  // 40001 serialization_failure, 40P01 deadlock_detected: retry the
  // transaction; 23505 unique_violation.
  if (sqlstate == "40001" || sqlstate == "40P01") return absl::AbortedError(line);
  if (sqlstate == "23505") return absl::AlreadyExistsError(line);
  if (absl::StartsWith(sqlstate, "08")) return absl::UnavailableError(line);
  return absl::InternalError(line);
}

Connection::Bound Connection::Bind(const std::vector<Param>& params) {
  Bound b;
  for (const Param& p : params) {
    if (p.array()) {
      b.types.push_back(ArrayOid(p.kind()));
      b.values.push_back(p.wire().data());
      b.lengths.push_back(static_cast<int>(p.wire().size()));
      b.formats.push_back(1);
      continue;
    }
    switch (p.kind()) {
      case Param::Kind::kNull: b.types.push_back(0); break;
      case Param::Kind::kInt: b.types.push_back(kInt8Oid); break;
      case Param::Kind::kText: b.types.push_back(kTextOid); break;
      case Param::Kind::kBytes: b.types.push_back(kByteaOid); break;
      case Param::Kind::kBool: b.types.push_back(kBoolOid); break;
    }
    b.values.push_back(p.null() ? nullptr : p.wire().data());
    b.lengths.push_back(static_cast<int>(p.wire().size()));
    b.formats.push_back(1);
  }
  return b;
}

Connection::Seen* Connection::Lookup(std::string_view sql, const Bound& b) {
  if (static_cast<int>(b.types.size()) > kMaxPreparedParams) return nullptr;
  // The key: the parameter types, then the text.
  std::string key(reinterpret_cast<const char*>(b.types.data()), b.types.size() * sizeof(Oid));
  key.append(sql.data(), sql.size());
  auto it = statements_.find(key);
  if (it == statements_.end() && statements_.size() < kMaxStatementsSeen) {
    it = statements_.emplace(std::move(key), Seen{}).first;
  }
  return it == statements_.end() ? nullptr : &it->second;
}

absl::StatusOr<Result> Connection::Exec(std::string_view sql, const std::vector<Param>& params) {
  FS_RETURN_IF_ERROR(Flush());  // what was deferred goes first
  const Bound b = Bind(params);
  const int n = static_cast<int>(params.size());
  Seen* seen = Lookup(sql, b);
  if (seen != nullptr && seen->name.empty() && ++seen->uses >= 2) {
    // Its second run: prepared once for the connection's life. A failed
    // prepare (inside a failed transaction, say) is not kept and fails as
    // the statement would.
    const std::string name = absl::StrCat("fs", ++prepared_);
    const std::string text(sql);
    Result prep(PQprepare(c_, name.c_str(), text.c_str(), n, b.types.data()));
    absl::Status s = Check(prep.r_);
    if (!s.ok()) return s;
    seen->name = name;
  }
  Result r(seen != nullptr && !seen->name.empty()
               ? PQexecPrepared(c_, seen->name.c_str(), n, b.values.data(), b.lengths.data(),
                                b.formats.data(), /*resultFormat=*/1)
               : PQexecParams(c_, std::string(sql).c_str(), n, b.types.data(), b.values.data(),
                              b.lengths.data(), b.formats.data(), /*resultFormat=*/1));
  absl::Status s = Check(r.r_);
  if (!s.ok()) return s;
  return r;
}

absl::StatusOr<std::string> Connection::Command(std::string_view sql) {
  FS_RETURN_IF_ERROR(Flush());  // what was deferred goes first
  const std::string text(sql);
  Result r(PQexec(c_, text.c_str()));
  absl::Status s = Check(r.r_);
  if (!s.ok()) return s;
  return std::string(PQcmdStatus(r.r_));
}

absl::Status Connection::CopyOut(std::string_view sql,
                                 const std::function<absl::Status(std::string_view)>& chunk) {
  FS_RETURN_IF_ERROR(Flush());  // what was deferred goes first
  const std::string text(sql);
  {
    Result started(PQexec(c_, text.c_str()));
    if (PQresultStatus(started.r_) != PGRES_COPY_OUT) {
      absl::Status s = Check(started.r_);
      return s.ok() ? absl::InternalError(absl::StrCat("PostgreSQL: not a COPY TO STDOUT: ", text))
                    : s;
    }
  }
  absl::Status failed;
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(c_, &buf, /*async=*/0);
    if (n == -1) break;  // the end; the command's result follows
    if (n < 0) {
      return absl::UnavailableError(absl::StrCat("PostgreSQL: the copy stopped: ",
                                                 OneLine(PQerrorMessage(c_))));
    }
    if (failed.ok()) failed = chunk(std::string_view(buf, static_cast<size_t>(n)));
    PQfreemem(buf);
  }
  // The final result(s) of the COPY command.
  absl::Status s;
  for (pg_result* r = PQgetResult(c_); r != nullptr; r = PQgetResult(c_)) {
    Result owned(r);
    if (s.ok()) s = Check(r);
  }
  return failed.ok() ? s : failed;
}

absl::Status Connection::CopyIn(std::string_view sql,
                                const std::function<absl::StatusOr<bool>(std::string*)>& next) {
  FS_RETURN_IF_ERROR(Flush());  // what was deferred goes first
  const std::string text(sql);
  {
    Result started(PQexec(c_, text.c_str()));
    if (PQresultStatus(started.r_) != PGRES_COPY_IN) {
      absl::Status s = Check(started.r_);
      return s.ok() ? absl::InternalError(absl::StrCat("PostgreSQL: not a COPY FROM STDIN: ", text))
                    : s;
    }
  }
  absl::Status failed;
  std::string piece;
  for (;;) {
    absl::StatusOr<bool> more = next(&piece);
    if (!more.ok()) {
      failed = more.status();
      break;
    }
    if (!*more) break;
    if (PQputCopyData(c_, piece.data(), static_cast<int>(piece.size())) != 1) {
      return absl::UnavailableError(absl::StrCat("PostgreSQL: the copy stopped: ",
                                                 OneLine(PQerrorMessage(c_))));
    }
  }
  if (PQputCopyEnd(c_, failed.ok() ? nullptr : "the copy was abandoned") != 1) {
    return absl::UnavailableError(absl::StrCat("PostgreSQL: the copy stopped: ",
                                               OneLine(PQerrorMessage(c_))));
  }
  absl::Status s;
  for (pg_result* r = PQgetResult(c_); r != nullptr; r = PQgetResult(c_)) {
    Result owned(r);
    if (s.ok()) s = Check(r);
  }
  return failed.ok() ? s : failed;
}

bool Connection::InTransaction() const {
  return PQtransactionStatus(c_) != PQTRANS_IDLE;
}

}  // namespace fieldsync::hub::pg
