// `fieldhub backup --store` and `fieldhub restore --store` in process on
// fresh databases of the private cluster (hub/help/backup.txt,
// restore.txt; docs/FORMATS.md, "PostgreSQL hub backup"): what a restore
// refuses changes nothing, what it does it records, an older schema is
// brought up to date, the file is 0600 and never replaced (a URI holding a
// password is refused before any command runs: hub_cli_pg_test). The
// laptops' side: sync_pg_hub_restore_test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "hub/cli.h"
#include "hub/pg/backup_tables.h"
#include "hub/pg/connection.h"
#include "hub/pg/schema.h"
#include "support/fieldhub_in_process.h"
#include "support/pg_cluster.h"
#include "support/temp_dir.h"

namespace fieldsync::hub {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using Result = CliResult;

Result Fieldhub(const std::vector<std::string>& args) { return RunFieldhub(args); }

// A database of the cluster, its URI naming the user (a URI holding a
// password is refused: hub_cli_pg_test).
struct Db {
  testing::PgDatabase db;
  std::string uri;
  void Create() {
    absl::Status s = db.Create();
    ASSERT_TRUE(s.ok()) << s;
    uri = db.uri();
    uri.insert(std::string("postgresql://").size(), "fieldsync@");
  }
};

class PgHubBackupCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(a_.Create());
    ASSERT_EQ(Fieldhub({"init", "--store", a_.uri}).exit, 0);
    ASSERT_EQ(Fieldhub({"province", "add", "LC", "Lào Cai", "--store", a_.uri}).exit, 0);
  }

  static std::string Query(const Db& d, const std::string& sql) {
    auto conn = pg::Connection::Open(d.db.uri());
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) return "";
    auto r = (*conn)->Exec(sql);
    EXPECT_TRUE(r.ok()) << r.status() << ": " << sql;
    return r.ok() && r->rows() > 0 ? r->Bytes(0, 0) : "";
  }

  // Every hub table's rows as text, and the database's schemas: what a
  // refused restore must leave as it was.
  static std::string Digest(const Db& d) {
    std::string out = Query(d, "SELECT string_agg(nspname::text, ',' ORDER BY nspname) FROM "
                               "pg_namespace WHERE nspname NOT LIKE 'pg\\_%'");
    for (const char* t : pg::kHubTables) {
      absl::StrAppend(&out, "\n", t, ": ",
                      Query(d, absl::StrCat("SELECT coalesce(string_agg(x::text, '|' ORDER BY "
                                            "x::text), '') FROM ", t, " x")));
    }
    return out;
  }

  // Exit 1, one line naming `says` and no password, nothing on stdout.
  static void ExpectRefused(const Result& r, const std::string& says) {
    EXPECT_EQ(r.exit, 1) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr(says));
    EXPECT_THAT(r.err, HasSubstr("nothing was changed"));
  }

  Db a_;
  testing::TempDir dir_;
};

TEST_F(PgHubBackupCliTest, ABackupIsPrivateAndNeverReplacesAFile) {
  const std::string file = dir_.File("hub.fsbak");
  Result saved = Fieldhub({"backup", file, "--store", a_.uri, "--as", "Trần Văn Quản"});
  ASSERT_EQ(saved.exit, 0) << saved.err;
  EXPECT_THAT(saved.out, HasSubstr("saved the hub at log position 0"));
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(Query(a_, "SELECT actor || ' ' || action FROM hub_audit ORDER BY seq DESC LIMIT 1"),
            "Trần Văn Quản hub.backup");
  const off_t size = st.st_size;
  Result again = Fieldhub({"backup", file, "--store", a_.uri});
  EXPECT_EQ(again.exit, 1);
  EXPECT_THAT(again.err, HasSubstr("a backup never replaces a file"));
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, size);
}

TEST_F(PgHubBackupCliTest, ARestoreRecordsItselfAndKeepsTheReplacedTables) {
  const std::string file = dir_.File("hub.fsbak");
  ASSERT_EQ(Fieldhub({"backup", file, "--store", a_.uri}).exit, 0);
  ASSERT_EQ(Fieldhub({"province", "add", "HN", "Hà Nội", "--store", a_.uri}).exit, 0);
  Result r = Fieldhub({"restore", file, "--store", a_.uri, "--as", "Trần Văn Quản"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("the log goes back from position 0 to 0"));
  EXPECT_EQ(Query(a_, "SELECT string_agg(code, ',' ORDER BY code) FROM hub_provinces"), "LC");
  const std::string kept = Query(a_, "SELECT nspname::text FROM pg_namespace WHERE nspname "
                                     "LIKE 'fieldhub\\_before\\_restore\\_%'");
  ASSERT_FALSE(kept.empty());
  EXPECT_THAT(r.out, HasSubstr(kept));
  EXPECT_EQ(Query(a_, absl::StrCat("SELECT string_agg(code, ',' ORDER BY code) FROM \"", kept,
                                   "\".hub_provinces")),
            "HN,LC");
  EXPECT_EQ(Query(a_, "SELECT actor || ' ' || action FROM hub_audit ORDER BY seq DESC LIMIT 1"),
            "Trần Văn Quản hub.restore");
  // The restored trail's chain still holds: the next command appends to it.
  ASSERT_EQ(Fieldhub({"province", "add", "HN", "Hà Nội", "--store", a_.uri}).exit, 0);
  EXPECT_EQ(Query(a_, "SELECT count(*)::text FROM hub_audit a JOIN hub_audit b ON b.seq = "
                      "a.seq + 1 WHERE b.prev_hash <> a.entry_hash"),
            "0");
}

TEST_F(PgHubBackupCliTest, ABackupOfAnotherHubIsRefusedAndChangesNothing) {
  Db b;
  ASSERT_NO_FATAL_FAILURE(b.Create());
  ASSERT_EQ(Fieldhub({"init", "--store", b.uri}).exit, 0);
  const std::string file = dir_.File("other.fsbak");
  ASSERT_EQ(Fieldhub({"backup", file, "--store", b.uri}).exit, 0);
  const std::string before = Digest(a_);
  ExpectRefused(Fieldhub({"restore", file, "--store", a_.uri}), "a backup of another hub");
  EXPECT_EQ(Digest(a_), before);
}

TEST_F(PgHubBackupCliTest, ADamagedCutOrForeignFileIsRefusedAndChangesNothing) {
  const std::string file = dir_.File("hub.fsbak");
  ASSERT_EQ(Fieldhub({"backup", file, "--store", a_.uri}).exit, 0);
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 200u);
  const std::string before = Digest(a_);
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir_.File(name), std::ios::binary) << content;
    return dir_.File(name);
  };
  std::string flipped = bytes;
  flipped[bytes.size() - 60] ^= 0x01;  // inside the last table's rows
  ExpectRefused(Fieldhub({"restore", write("flipped", flipped), "--store", a_.uri}),
                "does not match its contents");
  ExpectRefused(Fieldhub({"restore", write("cut", bytes.substr(0, bytes.size() / 2)),
                          "--store", a_.uri}),
                "cut short");
  ExpectRefused(Fieldhub({"restore", write("hub.db", "SQLite format 3\0 a hub.db"),
                          "--store", a_.uri}),
                "not a PostgreSQL hub backup");
  EXPECT_EQ(Digest(a_), before);
}

// A backup of a hub of an older schema (version 2) is brought up to this
// build's in the restoring transaction, into a database without a hub.
TEST_F(PgHubBackupCliTest, ABackupOfAnOlderSchemaIsRestoredUpToDate) {
  Db old;
  ASSERT_NO_FATAL_FAILURE(old.Create());
  {
    auto conn = pg::Connection::Open(old.db.uri());
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE(pg::Migrate(**conn, 1, /*up_to=*/2).ok());
  }
  const std::string file = dir_.File("v2.fsbak");
  Result saved = Fieldhub({"backup", file, "--store", old.uri});
  ASSERT_EQ(saved.exit, 0) << saved.err;
  Db fresh;
  ASSERT_NO_FATAL_FAILURE(fresh.Create());
  Result r = Fieldhub({"restore", file, "--store", fresh.uri});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("there was no hub"));
  EXPECT_EQ(Query(fresh, "SELECT max(version)::text FROM schema_version"),
            absl::StrCat(pg::kPgSchemaVersion));
  EXPECT_EQ(Query(fresh, "SELECT encode(value, 'hex') FROM hub_meta WHERE key = 'hub_id'"),
            Query(old, "SELECT encode(value, 'hex') FROM hub_meta WHERE key = 'hub_id'"));
  EXPECT_EQ(Query(fresh, "SELECT count(*)::text FROM hub_gc"), "1");
}

// A restore puts every row in place at once, in tables it makes: their
// statistics are taken in the same transaction, so the hub it leaves is not
// planned as empty tables until autovacuum's next round (docs/POSTGRES.md,
// "Statistics"), into a database with a hub or without one.
TEST_F(PgHubBackupCliTest, ARestoredHubHasTheStatisticsOfItsRows) {
  for (const char* p : {"HN", "HP", "DN"}) {
    ASSERT_EQ(Fieldhub({"province", "add", p, "Tỉnh", "--store", a_.uri}).exit, 0);
  }
  const std::string file = dir_.File("hub.fsbak");
  ASSERT_EQ(Fieldhub({"backup", file, "--store", a_.uri}).exit, 0);
  Db fresh;
  ASSERT_NO_FATAL_FAILURE(fresh.Create());
  for (const Db* d : {&a_, &fresh}) {
    Result r = Fieldhub({"restore", file, "--store", d->uri});
    ASSERT_EQ(r.exit, 0) << r.err;
    EXPECT_EQ(Query(*d, testing::kUnanalyzedHubTablesSql), "") << d->uri;
    EXPECT_EQ(Query(*d, "SELECT reltuples::bigint::text FROM pg_class WHERE oid = "
                        "'hub_provinces'::regclass"),
              "4");
  }
}

}  // namespace
}  // namespace fieldsync::hub
