// Rows of a write batched on a PostgreSQL connection (hub/pg/connection.h:
// DeferRow; hub/pg/pipeline.cc) on a real private cluster: the rows of one
// statement deferred in a transaction go as one statement (counted by a
// statement-level trigger), and what the tables hold after it is what one
// statement a row, in the order made, would have left: a write of the same
// table between two rows, or one of any table, keeps them apart; a key
// written twice replaces the row or goes in the next statement; a failure
// keeps nothing; outside a transaction a row is written at once.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "hub/pg/connection.h"
#include "hub/pg/transaction.h"
#include "support/pg_cluster.h"

namespace fieldsync::hub::pg {
namespace {

using OnSameKey = Connection::OnSameKey;

constexpr char kInsertT[] =
    "INSERT INTO t(k, n) SELECT * FROM unnest($1::text[], $2::int8[])";
constexpr char kInsertU[] =
    "INSERT INTO u(k, v) SELECT * FROM unnest($1::text[], $2::bytea[])";
// Its outcome is the last row's of a key (OnSameKey::kReplace).
constexpr char kSetT[] =
    "INSERT INTO t(k, n) SELECT * FROM unnest($1::text[], $2::int8[]) ON CONFLICT (k) DO "
    "UPDATE SET n = EXCLUDED.n";
// Its outcome depends on what is held: a key twice in one statement fails.
constexpr char kAddT[] =
    "INSERT INTO t AS h(k, n) SELECT * FROM unnest($1::text[], $2::int8[]) ON CONFLICT (k) DO "
    "UPDATE SET n = h.n + EXCLUDED.n";

class PgBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = db_.Create();
    ASSERT_TRUE(s.ok()) << s;
    conn_ = db_.Connect();
    ASSERT_NE(conn_, nullptr);
    // Each statement that inserts into t or u (an upsert's included) counts
    // itself in `statements`; u's rows are numbered in the order inserted.
    auto made = conn_->Command(
        "CREATE TABLE t(k text PRIMARY KEY, n bigint NOT NULL);"
        "CREATE TABLE u(seq bigint GENERATED ALWAYS AS IDENTITY, k text NOT NULL, v bytea);"
        "CREATE TABLE statements(tbl text PRIMARY KEY, n bigint NOT NULL);"
        "CREATE FUNCTION counted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO statements VALUES (TG_TABLE_NAME, 1) ON CONFLICT (tbl) DO UPDATE SET "
        "n = statements.n + 1; RETURN NULL; END $$;"
        "CREATE TRIGGER t_counted AFTER INSERT ON t FOR EACH STATEMENT EXECUTE "
        "FUNCTION counted();"
        "CREATE TRIGGER u_counted AFTER INSERT ON u FOR EACH STATEMENT EXECUTE FUNCTION "
        "counted();"
        // A log's subjects and who reads which entry (hub_log_subject and
        // hub_log_scope in small).
        "CREATE TABLE subj(s text NOT NULL, pos bigint NOT NULL, PRIMARY KEY(s, pos));"
        "CREATE TABLE scope(p text NOT NULL, pos bigint NOT NULL, PRIMARY KEY(p, pos));"
        "CREATE TRIGGER subj_counted AFTER INSERT ON subj FOR EACH STATEMENT EXECUTE FUNCTION "
        "counted();"
        "CREATE TRIGGER scope_counted AFTER INSERT ON scope FOR EACH STATEMENT EXECUTE "
        "FUNCTION counted()");
    ASSERT_TRUE(made.ok()) << made.status();
  }

  // Rows of t as "k=n" in key order; of u as "k:v" in the order inserted.
  std::string T() { return Read("SELECT k, n::text FROM t ORDER BY k", "="); }
  std::string U() {
    return Read("SELECT k, coalesce(convert_from(v, 'UTF8'), 'NULL') FROM u ORDER BY seq", ":");
  }
  std::string Statements() {
    return Read("SELECT tbl, n::text FROM statements ORDER BY tbl", "=");
  }
  std::string Read(const char* sql, const char* sep) {
    auto r = conn_->Exec(sql);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "(error)";
    std::string out;
    for (int i = 0; i < r->rows(); ++i) {
      absl::StrAppend(&out, out.empty() ? "" : " ", r->Bytes(i, 0), sep, r->Bytes(i, 1));
    }
    return out;
  }
  absl::Status RowT(const char* sql, const std::string& k, int64_t n,
                    OnSameKey same = OnSameKey::kNextStatement) {
    return conn_->DeferRow("t", sql, 1, same, {Param::Text(k), Param::Int(n)});
  }
  absl::Status RowU(const std::string& k, const Param& v) {
    return conn_->DeferRow("u", kInsertU, 0, OnSameKey::kNextStatement, {Param::Text(k), v});
  }
  // Runs `body` in a transaction; its statements are counted from a clean
  // count.
  absl::Status Txn(const std::function<absl::Status()>& body) {
    absl::Status s = conn_->Command("DELETE FROM statements").status();
    if (!s.ok()) return s;
    return InTransaction(*conn_, Isolation::kReadCommitted, [&](Transaction&) { return body(); });
  }

  fieldsync::testing::PgDatabase db_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(PgBatchTest, RowsOfTwoTablesDeferredInTurnGoAsOneStatementATableInTheirOrder) {
  absl::Status s = Txn([&]() -> absl::Status {
    for (int i = 0; i < 100; ++i) {
      const std::string k = absl::StrCat("k", 100 + i);
      if (absl::Status w = RowT(kInsertT, k, i); !w.ok()) return w;
      // A NULL among the values, typed.
      if (absl::Status w = RowU(k, i % 2 == 0 ? Param::Bytes("thư") : Param::NullBytes());
          !w.ok()) {
        return w;
      }
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(Statements(), "t=1 u=1");
  std::string t, u;
  for (int i = 0; i < 100; ++i) {
    absl::StrAppend(&t, i == 0 ? "" : " ", "k", 100 + i, "=", i);
    absl::StrAppend(&u, i == 0 ? "" : " ", "k", 100 + i, ":", i % 2 == 0 ? "thư" : "NULL");
  }
  EXPECT_EQ(T(), t);
  // The order deferred is the order inserted.
  EXPECT_EQ(U(), u);
}

TEST_F(PgBatchTest, ARowAfterAWriteOfItsTableOrOfAnyTableGoesInTheNextStatement) {
  absl::Status s = Txn([&]() -> absl::Status {
    if (absl::Status w = RowT(kInsertT, "a", 1); !w.ok()) return w;
    // A write of u between: t's rows stay one statement.
    if (absl::Status w = conn_->Defer("UPDATE u SET v = NULL", {}, "u"); !w.ok()) return w;
    if (absl::Status w = RowT(kInsertT, "b", 2); !w.ok()) return w;
    // A write of t: the row after it must not be written before it.
    if (absl::Status w = conn_->Defer("UPDATE t SET n = n * 10", {}, "t"); !w.ok()) return w;
    if (absl::Status w = RowT(kInsertT, "c", 3); !w.ok()) return w;
    // A write of no named table (it may read or write t).
    if (absl::Status w = conn_->Defer("UPDATE t SET n = n + 1", {}); !w.ok()) return w;
    return RowT(kInsertT, "d", 4);
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(T(), "a=11 b=21 c=4 d=4");
  // a and b; c; d.
  EXPECT_EQ(Statements(), "t=3");
}

TEST_F(PgBatchTest, AKeyWrittenTwiceEndsAsOneStatementARowWouldLeaveIt) {
  absl::Status s = Txn([&]() -> absl::Status {
    // The last row of a key decides: replaced, one statement.
    for (int i = 1; i <= 3; ++i) {
      if (absl::Status w = RowT(kSetT, "set", i, OnSameKey::kReplace); !w.ok()) return w;
      if (absl::Status w = RowT(kSetT, absl::StrCat("other", i), i, OnSameKey::kReplace);
          !w.ok()) {
        return w;
      }
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(T(), "other1=1 other2=2 other3=3 set=3");
  EXPECT_EQ(Statements(), "t=1");

  s = Txn([&]() -> absl::Status {
    // What is held decides: each row of the same key in a statement of its
    // own (in one, PostgreSQL refuses to touch a row twice).
    for (int i = 1; i <= 3; ++i) {
      if (absl::Status w = RowT(kAddT, "set", i); !w.ok()) return w;
      if (absl::Status w = RowT(kAddT, absl::StrCat("new", i), i); !w.ok()) return w;
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(T(), "new1=1 new2=2 new3=3 other1=1 other2=2 other3=3 set=9");
  EXPECT_EQ(Statements(), "t=3");
}

TEST_F(PgBatchTest, ARowPassesWritesOfItsTableOnlyWhereTheyHoldNoRowOfItsKey) {
  // Times ten, the rows of its keys alone: a row of another key passes it.
  constexpr char kTimesTen[] =
      "UPDATE t SET n = n * 10 FROM unnest($1::text[]) AS u(k) WHERE t.k = u.k";
  auto ten = [&](const std::string& k) {
    return conn_->DeferRow("t", kTimesTen, 1, OnSameKey::kNextStatement, {Param::Text(k)});
  };
  absl::Status s = Txn([&]() -> absl::Status {
    if (absl::Status w = RowT(kSetT, "a", 1, OnSameKey::kReplace); !w.ok()) return w;
    if (absl::Status w = ten("a"); !w.ok()) return w;
    if (absl::Status w = RowT(kSetT, "b", 2, OnSameKey::kReplace); !w.ok()) return w;
    if (absl::Status w = ten("b"); !w.ok()) return w;
    // a again: not before a's update, nor in place of a's first row.
    return RowT(kSetT, "a", 3, OnSameKey::kReplace);
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(T(), "a=3 b=20");
  EXPECT_EQ(Statements(), "t=2");
}

TEST_F(PgBatchTest, ARowReadByKeyIsSeenByTheReadsDeferredAfterItAndOnlyBy) {
  // Every entry of a subject is read by province p (KeyLogOfSubjects in
  // small): it reads subj by the subject, adds whole rows to scope.
  const Connection::RowWrite subject{.table = "subj",
                                     .sql = "INSERT INTO subj(s, pos) SELECT * FROM "
                                            "unnest($1::text[], $2::int8[]) ON CONFLICT DO "
                                            "NOTHING",
                                     .key = 1,
                                     .same_key = OnSameKey::kSameStatement,
                                     .adds_only = true};
  const Connection::RowWrite key_log{.table = "scope",
                                     .sql = "INSERT INTO scope(p, pos) SELECT u.p, subj.pos "
                                            "FROM unnest($1::text[], $2::text[]) AS u(s, p) "
                                            "JOIN subj ON subj.s = u.s ON CONFLICT DO NOTHING",
                                     .key = 1,
                                     .same_key = OnSameKey::kSameStatement,
                                     .key_table = "subj",
                                     .adds_only = true};
  const Connection::RowWrite scope{.table = "scope",
                                   .sql = "INSERT INTO scope(p, pos) SELECT * FROM "
                                          "unnest($1::text[], $2::int8[]) ON CONFLICT DO NOTHING",
                                   .adds_only = true};
  absl::Status s = Txn([&]() -> absl::Status {
    const auto add = [&](const std::string& k, int64_t pos) {
      return conn_->DeferRow(subject, {Param::Text(k), Param::Int(pos)});
    };
    const auto read_by = [&](const std::string& k, const std::string& p) {
      return conn_->DeferRow(key_log, {Param::Text(k), Param::Text(p)});
    };
    for (absl::Status w : {add("s1", 1), read_by("s1", "P"), add("s2", 2),
                           conn_->DeferRow(scope, {Param::Text("Q"), Param::Int(2)}),
                           read_by("s2", "P"),
                           // s1 again, after its read: not read by P.
                           add("s1", 3), conn_->DeferRow(scope, {Param::Text("Q"), Param::Int(3)})}) {
      if (!w.ok()) return w;
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(Read("SELECT p, pos::text FROM scope ORDER BY p, pos", "@"), "P@1 P@2 Q@2 Q@3");
  // subj: s1@1 and s2@2, then s1@3; scope: the reads, and Q's rows.
  EXPECT_EQ(Statements(), "scope=2 subj=2");
}

TEST_F(PgBatchTest, AFailedBatchFailsTheCallThatSendsItAndNothingIsKept) {
  absl::Status s = Txn([&]() -> absl::Status {
    if (absl::Status w = RowT(kInsertT, "a", 1); !w.ok()) return w;
    if (absl::Status w = RowU("a", Param::Bytes("x")); !w.ok()) return w;
    // The same key again, in one batch (no key said): a unique violation.
    if (absl::Status w = conn_->DeferRow("t", kInsertT, 0, OnSameKey::kNextStatement,
                                         {Param::Text("a"), Param::Int(2)});
        !w.ok()) {
      return w;
    }
    auto read = conn_->Exec("SELECT 1");
    EXPECT_FALSE(read.ok());
    EXPECT_NE(read.status().code(), absl::StatusCode::kAlreadyExists)
        << "the read would take it for its own: " << read.status();
    EXPECT_NE(read.status().message().find("duplicate key"), std::string::npos)
        << read.status();
    return read.status();
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(T(), "") << "the transaction kept something";
  EXPECT_EQ(U(), "") << "the transaction kept something";
  // A row whose values change kind is refused at once, nothing sent.
  s = Txn([&]() -> absl::Status {
    if (absl::Status w = RowT(kInsertT, "b", 1); !w.ok()) return w;
    absl::Status w = conn_->DeferRow("t", kInsertT, 1, OnSameKey::kNextStatement,
                                     {Param::Text("c"), Param::Text("1")});
    EXPECT_EQ(w.code(), absl::StatusCode::kInternal) << w;
    return w;
  });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(T(), "");
}

TEST_F(PgBatchTest, OutsideATransactionARowIsWrittenAtOnce) {
  std::unique_ptr<Connection> other = db_.Connect();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(RowT(kInsertT, "now", 1).ok());
  auto r = other->Exec("SELECT n FROM t WHERE k = 'now'");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows(), 1);
  EXPECT_EQ(*r->Int(0, 0), 1);
}

}  // namespace
}  // namespace fieldsync::hub::pg
