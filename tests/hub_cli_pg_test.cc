// `fieldhub --store postgresql://...` (hub/commands/command.h, OpenHubStore;
// docs/POSTGRES.md, "fieldhub on PostgreSQL"), in process on a fresh
// database of the private cluster: init makes the hub, every admin command
// then opens it, and what must be refused is one line, exit 1, nothing
// created or changed, never the URI's password. A URI holding a password
// is refused (exit 2) before anything is opened; only init, serve and
// migrate change the schema; the hub reads its own tables whatever schema
// another role made.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "hub/cli.h"
#include "support/fieldhub_in_process.h"
#include "hub/pg/connection.h"
#include "hub/pg/schema.h"
#include "support/pg_cluster.h"
#include "support/temp_dir.h"

namespace fieldsync::hub {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using Result = CliResult;

Result Fieldhub(const std::vector<std::string>& args) { return RunFieldhub(args); }

int Lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

class HubCliPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = db_.Create();
    ASSERT_TRUE(s.ok()) << s;
    uri_ = db_.uri();
  }

  // uri_ with a password the trust authentication would ignore.
  std::string WithPassword() const {
    std::string uri = uri_;
    uri.insert(std::string("postgresql://").size(), "fieldsync:" + std::string(kPassword) + "@");
    return uri;
  }

  // Runs `sql` on the test's database as the hub's role.
  void Sql(const std::string& sql) {
    auto conn = pg::Connection::Open(db_.uri());
    ASSERT_TRUE(conn.ok()) << conn.status();
    auto done = (*conn)->Command(sql);
    ASSERT_TRUE(done.ok()) << done.status() << ": " << sql;
  }

  int64_t SchemaVersion() {
    auto conn = pg::Connection::Open(db_.uri());
    EXPECT_TRUE(conn.ok()) << conn.status();
    auto v = pg::SchemaVersion(**conn);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : -1;
  }

  // Exit 1 and one line on stderr naming no password, nothing on stdout.
  static void ExpectOneLineFailure(const Result& r, const std::string& says) {
    EXPECT_EQ(r.exit, 1) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr(says));
    EXPECT_THAT(r.err, Not(HasSubstr(kPassword)));
  }

  static constexpr const char* kPassword = "Mật-khẩu-s3cret";
  testing::PgDatabase db_;
  std::string uri_;
  testing::TempDir dir_;
};

TEST_F(HubCliPgTest, InitMakesAHubThatEveryAdminCommandThenOpens) {
  const std::string d = dir_.path();
  Result init = Fieldhub({"init", "--store", uri_, "--data-dir", d});
  ASSERT_EQ(init.exit, 0) << init.err;
  EXPECT_THAT(init.out, HasSubstr("initialised postgresql:///"));
  EXPECT_THAT(init.out, Not(HasSubstr(kPassword)));
  EXPECT_EQ(SchemaVersion(), pg::kPgSchemaVersion);

  Result add = Fieldhub({"province", "add", "LC", "Lào Cai", "--store", uri_, "--as", "Nguyễn"});
  ASSERT_EQ(add.exit, 0) << add.err;
  Result token = Fieldhub({"enroll-token", "--province", "LC", "--store", uri_});
  ASSERT_EQ(token.exit, 0) << token.err;
  EXPECT_THAT(token.out, HasSubstr("fsenroll-"));
  Result gc = Fieldhub({"gc", "--store", uri_});
  EXPECT_EQ(gc.exit, 0) << gc.err;
  Result nodes = Fieldhub({"node", "list", "--store", uri_});
  EXPECT_EQ(nodes.exit, 0) << nodes.err;

  // status names the store and the hub id init printed; the province is
  // the one added through another process' connection.
  Result status = Fieldhub({"status", "--json", "--store", uri_});
  ASSERT_EQ(status.exit, 0) << status.err;
  Json j = Json::parse(status.out);
  EXPECT_THAT(init.out, HasSubstr(j["device"].get<std::string>()));
  EXPECT_THAT(j["store"].get<std::string>(), Not(HasSubstr(kPassword)));
  ASSERT_EQ(j["provinces"].size(), 1u);
  EXPECT_EQ(j["provinces"][0]["name"], "Lào Cai");
  EXPECT_EQ(j["log_head"], 0);
}

TEST_F(HubCliPgTest, TheStoreIsReadFromTheEnvironmentWhenNotGiven) {
  ASSERT_EQ(Fieldhub({"init", "--store", uri_, "--data-dir", dir_.path()}).exit, 0);
  ::setenv("FIELDSYNC_HUB_STORE", uri_.c_str(), 1);
  Result add = Fieldhub({"province", "add", "HN", "Hà Nội"});
  Result list = Fieldhub({"province", "list", "--json"});
  ::unsetenv("FIELDSYNC_HUB_STORE");
  ASSERT_EQ(add.exit, 0) << add.err;
  ASSERT_EQ(list.exit, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("Hà Nội"));
  // --store wins over the environment: the same list through it.
  EXPECT_EQ(Fieldhub({"province", "list", "--json", "--store", uri_}).out, list.out);
}

TEST_F(HubCliPgTest, ACommandOnADatabaseWithoutAHubSaysToInitAndCreatesNothing) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"status", "--store", uri_},
        std::vector<std::string>{"province", "add", "LC", "Lào Cai", "--store", uri_},
        std::vector<std::string>{"serve", "--insecure", "--listen", "127.0.0.1:0",
                                 "--data-dir", dir_.path(), "--store", uri_}}) {
    SCOPED_TRACE(args[0]);
    ExpectOneLineFailure(Fieldhub(args), "run `fieldhub init --store URI` first");
  }
  EXPECT_EQ(SchemaVersion(), 0);
}

TEST_F(HubCliPgTest, InitOnADatabaseHoldingAHubIsRefusedChangingNothing) {
  Result first = Fieldhub({"init", "--store", uri_});
  ASSERT_EQ(first.exit, 0) << first.err;
  Result second = Fieldhub({"init", "--store", uri_});
  ExpectOneLineFailure(second, "already initialised");
  // The hub id is the first init's.
  Result status = Fieldhub({"status", "--json", "--store", uri_});
  ASSERT_EQ(status.exit, 0) << status.err;
  EXPECT_THAT(first.out, HasSubstr(Json::parse(status.out)["device"].get<std::string>()));
}

TEST_F(HubCliPgTest, ABadOrUnreachableStoreIsOneLineWithoutThePassword) {
  const std::string pw = kPassword;
  // Not a URI libpq can parse (an unterminated IPv6 host).
  ExpectOneLineFailure(Fieldhub({"status", "--store", "postgresql://u:" + pw + "@[::1/x"}),
                       "not a valid URI");
  // Not PostgreSQL at all.
  ExpectOneLineFailure(Fieldhub({"status", "--store", "mysql://u:" + pw + "@h/x"}),
                       "takes a postgresql://");
  // A refused connection (port 1 on loopback), and a database that does
  // not exist on a server that answers.
  ExpectOneLineFailure(
      Fieldhub({"status", "--store", "postgresql://u@127.0.0.1:1/x?sslmode=disable"}),
      "could not connect to PostgreSQL database x at 127.0.0.1 port 1");
  auto cluster = testing::PgCluster::Shared();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ExpectOneLineFailure(
      Fieldhub({"status", "--store",
                "postgresql://fieldsync@/no_such_db?host=" + (*cluster)->socket_dir()}),
      "could not connect to PostgreSQL database no_such_db");
}

TEST_F(HubCliPgTest, ADatabaseOfANewerSchemaIsRefusedChangingNothing) {
  ASSERT_EQ(Fieldhub({"init", "--store", uri_}).exit, 0);
  {
    auto conn = pg::Connection::Open(db_.uri());
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE((*conn)
                    ->Exec("INSERT INTO schema_version(version, applied_at) VALUES ($1, 0)",
                           {pg::Param::Int(pg::kPgSchemaVersion + 1)})
                    .ok());
  }
  ExpectOneLineFailure(Fieldhub({"province", "add", "LC", "Lào Cai", "--store", uri_}),
                       "made by a newer fieldhub");
  auto conn = pg::Connection::Open(db_.uri());
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto n = (*conn)->Exec("SELECT count(*)::bigint FROM hub_provinces");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n->Int(0, 0), 0);
}

// Attack review 22, MED 4: a password on the command line or in the
// environment is read by every local user (ps, systemctl show). Refused
// as a wrong command line, saying where it goes instead, never printed,
// nothing created.
TEST_F(HubCliPgTest, AStoreHoldingAPasswordIsRefusedSayingWhereToKeepIt) {
  auto expect_refused = [&](const Result& r) {
    EXPECT_EQ(r.exit, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("holds a password"));
    EXPECT_THAT(r.err, HasSubstr("~/.pgpass"));
    EXPECT_THAT(r.err, HasSubstr("PGPASSFILE"));
    EXPECT_THAT(r.err, HasSubstr("passfile="));
    EXPECT_THAT(r.err, HasSubstr("LoadCredential="));
    EXPECT_THAT(r.out + r.err, Not(HasSubstr(kPassword)));
    EXPECT_THAT(r.out + r.err, Not(HasSubstr("pw-in-query")));
  };
  const std::string d = dir_.path();
  {
    SCOPED_TRACE("userinfo");
    expect_refused(Fieldhub({"init", "--store", WithPassword(), "--data-dir", d}));
  }
  {
    SCOPED_TRACE("password= parameter");
    expect_refused(Fieldhub({"init", "--store", uri_ + "&password=pw-in-query"}));
  }
  {
    SCOPED_TRACE("key=value connection string");
    expect_refused(Fieldhub({"status", "--store", "dbname=x password=pw-in-query"}));
  }
  {
    SCOPED_TRACE("$FIELDSYNC_HUB_STORE");
    ::setenv("FIELDSYNC_HUB_STORE", WithPassword().c_str(), 1);
    Result r = Fieldhub({"init", "--data-dir", d});
    ::unsetenv("FIELDSYNC_HUB_STORE");
    expect_refused(r);
  }
  {
    SCOPED_TRACE("migrate --to");
    expect_refused(Fieldhub({"migrate", "--to", WithPassword(), "--data-dir", d}));
  }
  EXPECT_EQ(SchemaVersion(), 0) << "a command given a password made the hub";
}

// Attack review 22, LOW 8: the hub's tables are named without a schema; a
// schema named after the hub's role ("$user", first in the server's
// default search_path) holding a table of the same name must not stand in
// for the hub's.
TEST_F(HubCliPgTest, TheHubReadsItsOwnTablesNotThoseOfASchemaNamedAfterItsRole) {
  Result init = Fieldhub({"init", "--store", uri_});
  ASSERT_EQ(init.exit, 0) << init.err;
  Sql("CREATE SCHEMA fieldsync; CREATE TABLE fieldsync.hub_meta(key text PRIMARY KEY, "
      "value bytea NOT NULL); INSERT INTO fieldsync.hub_meta VALUES ('hub_id', "
      "'\\x00112233445566778899aabbccddeeff'); CREATE TABLE fieldsync.hub_provinces(code text, "
      "name text, created_at bigint); INSERT INTO fieldsync.hub_provinces VALUES "
      "('XX', 'Decoy', 0)");
  ASSERT_EQ(Fieldhub({"province", "add", "LC", "Lào Cai", "--store", uri_}).exit, 0);
  Result status = Fieldhub({"status", "--json", "--store", uri_});
  ASSERT_EQ(status.exit, 0) << status.err;
  Json j = Json::parse(status.out);
  EXPECT_THAT(init.out, HasSubstr(j["device"].get<std::string>()))
      << "the hub read the decoy's hub id";
  ASSERT_EQ(j["provinces"].size(), 1u) << status.out;
  EXPECT_EQ(j["provinces"][0]["name"], "Lào Cai");
}

// Attack review 22, MED 5: a command that only reads or administers never
// changes the shared schema (hub processes of the older version go on
// writing as that version); it says which command does. `migrate --store`
// does, once.
TEST_F(HubCliPgTest, OnlyMigrateOrServeBringsAnOlderSchemaUpToDate) {
  {
    auto conn = pg::Connection::Open(db_.uri());
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE(pg::Migrate(**conn, 0, pg::kPgSchemaVersion - 1).ok());
  }
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"status", "--store", uri_},
        std::vector<std::string>{"node", "list", "--store", uri_},
        std::vector<std::string>{"province", "add", "LC", "Lào Cai", "--store", uri_},
        std::vector<std::string>{"gc", "--store", uri_}}) {
    SCOPED_TRACE(args[0]);
    ExpectOneLineFailure(Fieldhub(args), "with `fieldhub migrate --store URI`");
    EXPECT_EQ(SchemaVersion(), pg::kPgSchemaVersion - 1);
  }
  Result migrated = Fieldhub({"migrate", "--store", uri_});
  ASSERT_EQ(migrated.exit, 0) << migrated.err;
  EXPECT_THAT(migrated.out, HasSubstr(absl::StrCat("from schema version ",
                                                   pg::kPgSchemaVersion - 1, " to ",
                                                   pg::kPgSchemaVersion)));
  EXPECT_EQ(SchemaVersion(), pg::kPgSchemaVersion);
  EXPECT_EQ(Fieldhub({"status", "--store", uri_}).exit, 0);
  Result again = Fieldhub({"migrate", "--store", uri_});
  EXPECT_EQ(again.exit, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("already"));
}

}  // namespace
}  // namespace fieldsync::hub
