// The PostgreSQL connection layer of the hub (hub/pg/connection.h,
// transaction.h, schema.h) on a real private cluster: values travel as
// parameters, a transaction is committed only when asked and checked, a
// serialization failure is told apart, the server's notices stay off the
// screen, and a database of a newer schema is refused unchanged.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "hub/pg/connection.h"
#include "hub/pg/schema.h"
#include "hub/pg/storage.h"
#include "hub/pg/transaction.h"
#include "support/pg_cluster.h"

namespace fieldsync::hub::pg {
namespace {

class PgConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = db_.Create();
    ASSERT_TRUE(s.ok()) << s;
    conn_ = Connect();
    ASSERT_NE(conn_, nullptr);
    ASSERT_TRUE(conn_->Command("CREATE TABLE t(k text PRIMARY KEY, n bigint, b bytea)").ok());
  }

  std::unique_ptr<Connection> Connect() { return db_.Connect(); }

  int64_t Count(Connection& c) {
    auto r = c.Exec("SELECT count(*) FROM t");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r->Int(0, 0) : -1;
  }

  fieldsync::testing::PgDatabase db_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(PgConnectionTest, ValuesTravelAsParametersWhateverTheyHold) {
  const std::string key = "x'); DROP TABLE t; --";
  const std::string bytes("\0\xff\x01'\\", 5);
  ASSERT_TRUE(conn_->Exec("INSERT INTO t(k, n, b) VALUES ($1, $2, $3)",
                          {Param::Text(key), Param::Int(-5'000'000'000), Param::Bytes(bytes)})
                  .ok());
  auto r = conn_->Exec("SELECT k, n, b, NULL::bigint FROM t WHERE k = $1", {Param::Text(key)});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows(), 1);
  EXPECT_EQ(r->Bytes(0, 0), key);
  EXPECT_EQ(*r->Int(0, 1), -5'000'000'000);
  EXPECT_EQ(r->Bytes(0, 2), bytes);
  EXPECT_TRUE(r->IsNull(0, 3));
  EXPECT_EQ(r->Int(0, 0).status().code(), absl::StatusCode::kInternal) << "text is no integer";
}

TEST_F(PgConnectionTest, ATransactionIsKeptOnlyWhenCommitted) {
  {
    auto txn = Transaction::Begin(*conn_, Isolation::kReadCommitted);
    ASSERT_TRUE(txn.ok()) << txn.status();
    ASSERT_TRUE(conn_->Exec("INSERT INTO t(k) VALUES ('a')").ok());
  }  // out of scope uncommitted
  EXPECT_FALSE(conn_->InTransaction());
  EXPECT_EQ(Count(*conn_), 0);

  absl::Status s = InTransaction(*conn_, Isolation::kReadCommitted, [&](Transaction&) {
    return conn_->Exec("INSERT INTO t(k) VALUES ('b')").status();
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(Count(*conn_), 1);
}

TEST_F(PgConnectionTest, ACommitTheServerTurnsIntoARollbackIsAnError) {
  auto txn = Transaction::Begin(*conn_, Isolation::kReadCommitted);
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE(conn_->Exec("INSERT INTO t(k) VALUES ('a')").ok());
  absl::Status dup = conn_->Exec("INSERT INTO t(k) VALUES ('a')").status();
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists) << dup;
  EXPECT_TRUE(absl::StrContains(dup.message(), "(23505)")) << dup;
  EXPECT_EQ(dup.message().find('\n'), std::string::npos) << "not one line: " << dup;
  // The caller ignores the error and commits: the server answers ROLLBACK.
  absl::Status c = txn->Commit();
  EXPECT_FALSE(c.ok());
  EXPECT_TRUE(absl::StrContains(c.message(), "rolled the transaction back")) << c;
  EXPECT_FALSE(conn_->InTransaction());
  EXPECT_EQ(Count(*conn_), 0);
}

TEST_F(PgConnectionTest, ASerializationFailureIsToldApart) {
  std::unique_ptr<Connection> other = Connect();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(conn_->Exec("INSERT INTO t(k, n) VALUES ('a', 1), ('b', 1)").ok());
  // Write skew: each reads both rows and changes one.
  auto t1 = Transaction::Begin(*conn_, Isolation::kSerializable);
  auto t2 = Transaction::Begin(*other, Isolation::kSerializable);
  ASSERT_TRUE(t1.ok() && t2.ok());
  ASSERT_TRUE(conn_->Exec("SELECT sum(n) FROM t").ok());
  ASSERT_TRUE(other->Exec("SELECT sum(n) FROM t").ok());
  ASSERT_TRUE(conn_->Exec("UPDATE t SET n = 0 WHERE k = 'a'").ok());
  ASSERT_TRUE(other->Exec("UPDATE t SET n = 0 WHERE k = 'b'").ok());
  EXPECT_TRUE(t1->Commit().ok());
  absl::Status s = t2->Commit();
  EXPECT_TRUE(IsRetryable(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "40001")) << s;
  EXPECT_FALSE(IsRetryable(absl::AlreadyExistsError("x")));
}

TEST_F(PgConnectionTest, TheServersNoticesStayOffTheScreen) {
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  ASSERT_TRUE(conn_->Command("CREATE TABLE IF NOT EXISTS t(k text)").ok());  // NOTICE: exists
  ASSERT_TRUE(conn_->Command("DROP TABLE IF EXISTS nothing_here").ok());    // NOTICE too
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST_F(PgConnectionTest, BadAddressesAreRefusedInOneLine) {
  auto rel = Connection::Open("localhost:5432");
  EXPECT_EQ(rel.status().code(), absl::StatusCode::kInvalidArgument);
  auto gone = Connection::Open("/nonexistent-socket-dir");
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(gone.status().message().find('\n'), std::string::npos) << gone.status();
}

// A TCP server that answers a client's first message (an SSLRequest) with
// 'N', "no TLS here", and records whether the client then went on in plain
// text (libpq's default sslmode `prefer` does; verify-full must not).
class NoTlsServer {
 public:
  NoTlsServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd_, 1) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~NoTlsServer() {
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  // Joins the server: what it saw.
  bool SawSslRequest() { Join(); return ssl_request_; }
  bool SawPlainText() { Join(); return plain_text_; }

 private:
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  void Serve() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 30000) != 1) return;  // the client never came
    const int c = accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    unsigned char first[8];
    if (recv(c, first, sizeof first, MSG_WAITALL) == 8) {
      // Length 8, code 80877103 (1234 5679): PostgreSQL's SSLRequest.
      ssl_request_ = first[3] == 8 && first[4] == 0x04 && first[5] == 0xd2 &&
                     first[6] == 0x16 && first[7] == 0x2f;
      (void)send(c, "N", 1, MSG_NOSIGNAL);
      char more[64];
      pollfd q{c, POLLIN, 0};
      // The client either closes (recv 0) or sends its startup message.
      if (poll(&q, 1, 30000) == 1) plain_text_ = recv(c, more, sizeof more, 0) > 0;
    }
    close(c);
  }
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  bool ssl_request_ = false;
  bool plain_text_ = false;
};

TEST_F(PgConnectionTest, ErrorsNameHostAndDatabaseButNeverThePassword) {
  NoTlsServer server;
  ASSERT_NE(server.port(), 0);
  const std::string uri = absl::StrCat("postgresql://hubuser:s3cret-pw@127.0.0.1:", server.port(),
                                       "/hotline");
  auto c = Connection::Open(uri);
  ASSERT_FALSE(c.ok());
  const std::string m(c.status().message());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable) << m;
  EXPECT_FALSE(absl::StrContains(m, "s3cret")) << m;
  EXPECT_TRUE(absl::StrContains(m, "127.0.0.1")) << m;
  EXPECT_TRUE(absl::StrContains(m, "hotline")) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;

  auto bad = Connection::Open("postgresql://hubuser:s3cret%zz@db.example/hotline");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(absl::StrContains(bad.status().message(), "s3cret")) << bad.status();
}

TEST_F(PgConnectionTest, ATcpServerMustProveItsNameOverTls) {
  NoTlsServer server;
  ASSERT_NE(server.port(), 0);
  auto c = Connection::Open(absl::StrCat("postgresql://hubuser@127.0.0.1:", server.port(), "/h"));
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(server.SawSslRequest());
  // Told "no TLS", the client gave up: no plain-text fallback (sslmode
  // verify-full, not libpq's `prefer`).
  EXPECT_FALSE(server.SawPlainText()) << c.status();
  EXPECT_TRUE(absl::StrContains(c.status().message(), "SSL")) << c.status();
}

TEST_F(PgConnectionTest, TheSchemaIsMigratedOnceAndANewerOneIsRefusedUnchanged) {
  auto v0 = SchemaVersion(*conn_);
  ASSERT_TRUE(v0.ok()) << v0.status();
  EXPECT_EQ(*v0, 0);
  ASSERT_TRUE(Migrate(*conn_, 1).ok());
  ASSERT_TRUE(Migrate(*conn_, 2).ok());  // a second process: nothing to do
  auto v1 = SchemaVersion(*conn_);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(*v1, kPgSchemaVersion);
  auto rows = conn_->Exec("SELECT count(*) FROM schema_version");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows->Int(0, 0), kPgSchemaVersion);

  ASSERT_TRUE(conn_->Exec("INSERT INTO schema_version VALUES ($1, 0)",
                          {Param::Int(kPgSchemaVersion + 1)})
                  .ok());
  FakeClock clock(1);
  auto newer = PostgresHubStorage::Open(db_.uri(), &clock);
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(newer.status().message(), "made by a newer fieldhub"))
      << newer.status();
  auto after = SchemaVersion(*conn_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, kPgSchemaVersion + 1);
}

}  // namespace
}  // namespace fieldsync::hub::pg
