// Writes deferred on a PostgreSQL connection (hub/pg/connection.h: Defer,
// Flush; hub/pg/pipeline.cc) on a real private cluster: sent later in one
// round trip, yet whatever runs after them sees them, in the order they
// were made; a failure among them is the failure of the call that sends
// them, the transaction keeps nothing; outside a transaction a write runs
// at once, and a rolled back transaction never sends its deferred writes.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "hub/pg/connection.h"
#include "hub/pg/transaction.h"
#include "support/pg_cluster.h"

namespace fieldsync::hub::pg {
namespace {

class PgPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = db_.Create();
    ASSERT_TRUE(s.ok()) << s;
    conn_ = Connect();
    ASSERT_NE(conn_, nullptr);
    ASSERT_TRUE(conn_->Command("CREATE TABLE t(k text PRIMARY KEY, n bigint NOT NULL)").ok());
  }

  std::unique_ptr<Connection> Connect() { return db_.Connect(); }

  // Rows of t as "k=n" in key order, read on `c`.
  static std::string Rows(Connection& c) {
    auto r = c.Exec("SELECT k, n FROM t ORDER BY k");
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "(error)";
    std::string out;
    for (int i = 0; i < r->rows(); ++i) {
      absl::StrAppend(&out, out.empty() ? "" : " ", r->Bytes(i, 0), "=", *r->Int(i, 1));
    }
    return out;
  }

  fieldsync::testing::PgDatabase db_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(PgPipelineTest, DeferredWritesAreSeenByTheNextStatementInTheOrderMade) {
  std::unique_ptr<Connection> other = Connect();
  absl::Status s = InTransaction(*conn_, Isolation::kReadCommitted, [&](Transaction&) {
    // The same statement three times (prepared at its second run) and an
    // update of what the first inserted: order matters.
    for (int i = 1; i <= 3; ++i) {
      EXPECT_TRUE(conn_->Defer("INSERT INTO t(k, n) VALUES ($1, $2)",
                               {Param::Text(absl::StrCat("k", i)), Param::Int(i)})
                      .ok());
    }
    EXPECT_TRUE(conn_->Defer("UPDATE t SET n = n * 10 WHERE k = $1", {Param::Text("k1")}).ok());
    EXPECT_EQ(Rows(*conn_), "k1=10 k2=2 k3=3");
    EXPECT_EQ(Rows(*other), "") << "not committed yet";
    EXPECT_TRUE(conn_->Defer("DELETE FROM t WHERE k = $1", {Param::Text("k2")}).ok());
    return absl::OkStatus();  // the COMMIT sends the last one first
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(Rows(*other), "k1=10 k3=3");
}

TEST_F(PgPipelineTest, AFailedDeferredWriteFailsTheCallThatSendsItAndNothingIsKept) {
  absl::Status s = InTransaction(*conn_, Isolation::kReadCommitted, [&](Transaction&) {
    EXPECT_TRUE(conn_->Defer("INSERT INTO t(k, n) VALUES ($1, $2)",
                             {Param::Text("a"), Param::Int(1)}).ok());
    // The same key again: a unique violation, told when the writes go.
    EXPECT_TRUE(conn_->Defer("INSERT INTO t(k, n) VALUES ($1, $2)",
                             {Param::Text("a"), Param::Int(2)}).ok());
    EXPECT_TRUE(conn_->Defer("INSERT INTO t(k, n) VALUES ($1, $2)",
                             {Param::Text("b"), Param::Int(3)}).ok());
    auto read = conn_->Exec("SELECT count(*) FROM t");
    EXPECT_FALSE(read.ok());
    EXPECT_NE(read.status().code(), absl::StatusCode::kAlreadyExists)
        << "the read would take it for its own: " << read.status();
    EXPECT_NE(read.status().message().find("duplicate key"), std::string::npos) << read.status();
    return read.status();
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Rows(*conn_), "") << "the transaction kept something";
  // The connection goes on: a new transaction works.
  ASSERT_TRUE(InTransaction(*conn_, Isolation::kReadCommitted, [&](Transaction&) {
                return conn_->Defer("INSERT INTO t(k, n) VALUES ($1, $2)",
                                    {Param::Text("c"), Param::Int(4)});
              }).ok());
  EXPECT_EQ(Rows(*conn_), "c=4");
}

TEST_F(PgPipelineTest, OutsideATransactionAWriteRunsAtOnceAndARollbackSendsNothing) {
  std::unique_ptr<Connection> other = Connect();
  ASSERT_TRUE(conn_->Defer("INSERT INTO t(k, n) VALUES ($1, $2)",
                           {Param::Text("now"), Param::Int(1)}).ok());
  EXPECT_EQ(Rows(*other), "now=1");
  absl::Status s = InTransaction(*conn_, Isolation::kReadCommitted, [&](Transaction&) {
    EXPECT_TRUE(conn_->Defer("INSERT INTO t(k, n) VALUES ($1, $2)",
                             {Param::Text("never"), Param::Int(2)}).ok());
    return absl::AbortedError("the body gives up");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Rows(*conn_), "now=1");
  EXPECT_FALSE(conn_->InTransaction());
}

}  // namespace
}  // namespace fieldsync::hub::pg
