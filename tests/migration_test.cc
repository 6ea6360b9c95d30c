// Opening replicas written by older schema versions (fixtures in
// tests/fixtures, see its README) and by newer ones.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <sstream>

#include "store/keyring.h"
#include "store/migrations.h"
#include "support/must.h"
#include "support/replica_fixture.h"

namespace fieldsync {
namespace {

using testing::kTestEpochMillis;
using testing::T;

std::string FixturePath(const std::string& name) {
  const char* dir = std::getenv("FIELDSYNC_FIXTURES");
  return std::string(dir ? dir : "tests/fixtures") + "/" + name;
}

// Runs `sql` against a new database file at `path`.
void LoadSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t UserVersion(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
  sqlite3_step(st);
  const int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

class MigrationTest : public ::testing::Test {
 protected:
  // Opens without asserting success, for the files that must be refused.
  absl::StatusOr<std::unique_ptr<Replica>> Open(const std::string& path) {
    ReplicaOptions o;
    o.path = path;
    o.clock = &clock_;
    return Replica::Open(o);
  }

  testing::TempDir dir_;
  FakeClock clock_{kTestEpochMillis + 60'000};
};

TEST_F(MigrationTest, AVersion1ReplicaOpensMigratedWithEverythingKept) {
  const std::string path = dir_.File("v1.db");
  LoadSql(path, ReadFile(FixturePath("replica_v1.sql")));
  ASSERT_EQ(UserVersion(path), 1);

  auto r = testing::OpenReplica(path, &clock_);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->schema_version(), FieldOfficeSchema().version());
  EXPECT_EQ(UserVersion(path), FieldOfficeSchema().version());
  EXPECT_TRUE(r->CheckIntegrity().ok());
  // The device identity survives: same device, next sequence number.
  auto stats = r->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->device.ToString(), "39302ed3-8003-4da2-9da6-057d9a0929a6");
  EXPECT_EQ(stats->local_seq, 3u);
  EXPECT_EQ(stats->log_commits, 4u);
  EXPECT_EQ(stats->open_conflicts, 1u);

  // The rows and their values.
  auto cases = r->ListRows("cases", false);
  ASSERT_TRUE(cases.ok());
  ASSERT_EQ(cases->size(), 1u);
  EXPECT_EQ(r->ListRows("cases", true)->size(), 2u);  // the tombstone too
  auto kase = r->Get("cases", cases->front());
  ASSERT_TRUE(kase.ok() && kase->has_value());
  const TableDef& ct = *FieldOfficeSchema().FindTable("cases");
  auto col = [&](const char* name) { return static_cast<size_t>(ct.ColumnIndex(name)); };
  EXPECT_EQ((*kase)->values[col("case_code")], T("LC-2025-001"));
  // Both devices wrote at the same HLC; the greater device id won.
  EXPECT_EQ((*kase)->values[col("narrative")], T("bản của thiết bị B"));
  // A column added by version 2 reads as never written.
  EXPECT_TRUE((*kase)->values[col("crime_reported_at")].is_null());
  EXPECT_FALSE((*kase)->versions[col("crime_reported_at")].has_value());

  auto persons = r->ListRows("persons", false);
  ASSERT_EQ(persons->size(), 1u);
  auto person = r->Get("persons", persons->front());
  EXPECT_EQ((*person)->values[0], T("Nguyễn Thị Hằng"));

  auto conflicts = r->Conflicts();
  ASSERT_EQ(conflicts->size(), 1u);
  EXPECT_EQ((*conflicts)[0].column, "narrative");
  EXPECT_EQ((*conflicts)[0].value, T("bản của văn phòng"));
  EXPECT_EQ(*r->GetCursor("pull"), 7);

  // The old commit log still decodes, and new writes work, new column included.
  auto local = r->LocalCommitsAfter(0, 10);
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->size(), 3u);
  auto w = r->Write(LocalTxn().Set("cases", cases->front(),
                                   {{"crime_reported_at", Value::Int(kTestEpochMillis)},
                                    {"status", T("verifying")}}));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->seq, 4u);
  auto contacts = r->ListRows("contacts", false);
  ASSERT_EQ(contacts->size(), 1u);
  EXPECT_TRUE(r->Write(LocalTxn().Set("contacts", contacts->front(),
                                      {{"other_channels", T("Zalo: 0912 000 111")}}))
                  .ok());
  EXPECT_TRUE(r->Write(LocalTxn().Resolve("cases", cases->front(), "narrative",
                                          T("bản đã thống nhất")))
                  .ok());
  EXPECT_EQ(r->Stats()->open_conflicts, 0u);

  // Reopening the migrated file is a no-op and changes nothing.
  const std::string digest = testing::Digest(*r);
  r.reset();
  r = testing::OpenReplica(path, &clock_);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(testing::Digest(*r), digest);
}

TEST_F(MigrationTest, AVersion2ReplicaGainsTheAccessLogAndKeepsEverything) {
  const std::string path = dir_.File("v2.db");
  LoadSql(path, ReadFile(FixturePath("replica_v2.sql")));
  ASSERT_EQ(UserVersion(path), 2);
  auto r = testing::OpenReplica(path, &clock_);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(UserVersion(path), FieldOfficeSchema().version());
  EXPECT_TRUE(r->CheckIntegrity().ok());
  auto stats = r->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->open_conflicts, 1u);
  auto cases = r->ListRows("cases", false);
  ASSERT_TRUE(cases.ok());
  ASSERT_EQ(cases->size(), 1u);
  const TableDef& ct = *FieldOfficeSchema().FindTable("cases");
  auto kase = r->Get("cases", cases->front());
  ASSERT_TRUE(kase.ok() && kase->has_value());
  EXPECT_EQ((*kase)->values[static_cast<size_t>(ct.ColumnIndex("case_code"))],
            T("LC-2025-001"));
  // The new table exists, empty, and takes writes.
  EXPECT_TRUE(r->ListRows("access_log", true)->empty());
  auto w = r->Write(LocalTxn().Create("access_log", Id16::NewRandom(),
                                      {{"officer", T("Lê Văn Tám")},
                                       {"action", T("show")},
                                       {"seq", Value::Int(1)},
                                       {"province", T("LC")}}));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(r->ListRows("access_log", false)->size(), 1u);
}

// Schema version 4 seals fields that were clear: a version 3 replica keeps
// their clear values (its author's laptop rewrites them sealed at its next
// unlocked sync) and gains the clear coarse columns, empty until then.
TEST_F(MigrationTest, AVersion3ReplicaKeepsItsClearValuesAndGainsTheCoarseColumns) {
  const std::string path = dir_.File("v3.db");
  LoadSql(path, ReadFile(FixturePath("replica_v3.sql")));
  ASSERT_EQ(UserVersion(path), 3);
  auto r = testing::OpenReplica(path, &clock_);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(UserVersion(path), 4);
  EXPECT_TRUE(r->CheckIntegrity().ok());
  // The device's first commit at version 4 is recorded: the hub takes clear
  // values of the newly sealed columns only in commits before it.
  auto since = r->GetCursor(kSchemaSinceSeqCursor);
  ASSERT_TRUE(since.ok());
  EXPECT_GT(*since, 1) << "the fixture's device wrote before the upgrade";
  auto cases = r->ListRows("cases", false);
  ASSERT_TRUE(cases.ok());
  ASSERT_EQ(cases->size(), 1u);
  const TableDef& ct = *FieldOfficeSchema().FindTable("cases");
  auto kase = r->Get("cases", cases->front());
  ASSERT_TRUE(kase.ok() && kase->has_value());
  auto at = [&](const char* col) {
    return (*kase)->values[static_cast<size_t>(ct.ColumnIndex(col))];
  };
  EXPECT_EQ(at("opened_on"), T("2025-11-24"));  // sealed from version 4, still clear here
  EXPECT_TRUE(at("opened_month").is_null());
  // A write of opened_on now writes its month with it; the month alone
  // cannot be written.
  auto w = r->Write(LocalTxn().Set("cases", cases->front(), {{"opened_on", T("2025-11-25")}}));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(static_cast<int64_t>(w->seq), *since);
  kase = r->Get("cases", cases->front());
  EXPECT_EQ(at("opened_month"), T("2025-11"));
  auto bad = r->Write(LocalTxn().Set("cases", cases->front(), {{"opened_month", T("2020-01")}}));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

// A replica of schema version 4 that kept a list's cut before collections
// had ids (session 25's _fs_purged_cut, no epoch_id; the fixture is the
// build of 90d4e6b's, with a cut and an epoch added): it opens, gains the
// column, and reads its cut as before with no id (the hub then compares
// the epoch's number alone); a cut kept from then on keeps its id.
TEST_F(MigrationTest, AListCutKeptBeforeCollectionIdsIsReadWithoutOne) {
  const std::string path = dir_.File("cut.db");
  LoadSql(path, ReadFile(FixturePath("replica_v4_purged_cut.sql")));
  ASSERT_EQ(UserVersion(path), 4);
  auto r = testing::OpenReplica(path, &clock_);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(UserVersion(path), 4) << "no schema version change";
  EXPECT_TRUE(r->CheckIntegrity().ok());
  auto cut = r->PurgedCutAt();
  ASSERT_TRUE(cut.ok()) << cut.status();
  ASSERT_TRUE(cut->has_value()) << "the cut kept";
  const RowId row = Must(Id16::FromBytes(std::string("\x01\x23\x45\x67\x89\xab\xcd\xef"
                                                     "\x01\x23\x45\x67\x89\xab\xcd\xef",
                                                     16),
                                         "row"));
  EXPECT_EQ((*cut)->asked, 2u);
  EXPECT_EQ((*cut)->epoch, 3u);
  EXPECT_EQ((*cut)->epoch_id, 0u) << "kept with no id";
  EXPECT_EQ((*cut)->table, "cases");
  EXPECT_EQ((*cut)->row, row);
  EXPECT_EQ(r->GetCursor("hub:gc_epoch").value_or(-1), 2);
  EXPECT_EQ(r->GetCursor("hub:gc_id").value_or(-1), 0) << "no id of its epoch";

  PulledBatch next;
  next.purged_cut = PurgedCut{2, 3, 0xfedcba9876543210u, "cases", row};
  ASSERT_TRUE(r->ApplyPulled(next).ok());
  cut = r->PurgedCutAt();
  ASSERT_TRUE(cut.ok() && cut->has_value());
  EXPECT_EQ((*cut)->epoch_id, 0xfedcba9876543210u);
  r.reset();
  r = testing::OpenReplica(path, &clock_);  // opened again: nothing to add
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(Must(r->PurgedCutAt())->epoch_id, 0xfedcba9876543210u);
}

// A COLLEAGUE_REFUSED commit set aside before refusals named the versions
// that will never come (session 26's _fs_set_aside, no never_coming; the
// v4 fixture with such a row added): it opens, gains the column, lists the
// row with no version named, and discarding it passes over none.
TEST_F(MigrationTest, AColleagueRefusedRowSetAsideBeforeNamedVersionsNamesNone) {
  const std::string path = dir_.File("aside.db");
  LoadSql(path, ReadFile(FixturePath("replica_v4_purged_cut.sql")) +
                    "INSERT INTO _fs_set_aside(seq, code, reason, depends_on, at) VALUES "
                    "(7, 10, 'colleague refused', 0, 1);");
  auto r = testing::OpenReplica(path, &clock_);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(UserVersion(path), 4) << "no schema version change";
  auto listed = r->SetAsideList();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->at(0).code, kColleagueRefusedCode);
  EXPECT_TRUE(listed->at(0).never_coming.empty());
  EXPECT_TRUE(listed->at(0).never_after.empty());
  auto left = r->DiscardSetAside(7, 2);
  ASSERT_TRUE(left.ok()) << left.status();
  r.reset();
  r = testing::OpenReplica(path, &clock_);  // opened again: nothing to add
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(Must(r->SetAsideList()).at(0).discarded_at_millis, 2);
}

// A COLLEAGUE_REFUSED row of session 27's _fs_set_aside (never_coming, no
// never_after; the v4 fixture given that column and such a row): it opens,
// gains never_after, keeps its named version and names no author.
TEST_F(MigrationTest, AColleagueRefusedRowOfSession27KeepsItsVersionAndNamesNoAuthor) {
  const std::string path = dir_.File("aside27.db");
  // One version: packed HLC 0x0102030405060708, device 16 bytes of 0xAB.
  LoadSql(path, ReadFile(FixturePath("replica_v4_purged_cut.sql")) +
                    "ALTER TABLE _fs_set_aside ADD COLUMN never_coming BLOB; "
                    "INSERT INTO _fs_set_aside(seq, code, reason, depends_on, at, never_coming) "
                    "VALUES (7, 10, 'colleague refused', 0, 1, X'0102030405060708"
                    "ABABABABABABABABABABABABABABABAB');");
  auto r = testing::OpenReplica(path, &clock_);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(UserVersion(path), 4) << "no schema version change";
  auto listed = r->SetAsideList();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  ASSERT_EQ(listed->at(0).never_coming.size(), 1u);
  EXPECT_EQ(listed->at(0).never_coming[0].hlc.packed(), 0x0102030405060708u);
  EXPECT_TRUE(listed->at(0).never_after.empty());
  ASSERT_TRUE(r->DiscardSetAside(7, 2).ok());
}

TEST_F(MigrationTest, AMigratedReplicaConvergesWithANewOne) {
  const std::string path = dir_.File("v1.db");
  LoadSql(path, ReadFile(FixturePath("replica_v1.sql")));
  auto old_replica = testing::OpenReplica(path, &clock_);
  auto fresh = testing::OpenReplica(dir_.File("fresh.db"), &clock_);
  ASSERT_TRUE(old_replica && fresh);
  testing::Deliver(*old_replica, *fresh);
  EXPECT_EQ(testing::Digest(*old_replica), testing::Digest(*fresh));
}

TEST_F(MigrationTest, AReplicaCreatedAtTheCurrentVersionHasNoCommitsFromBefore) {
  auto r = testing::OpenReplica(dir_.File("new.db"), &clock_);
  ASSERT_NE(r, nullptr);
  auto since = r->GetCursor(kSchemaSinceSeqCursor);
  ASSERT_TRUE(since.ok());
  EXPECT_EQ(*since, 0);  // every commit is written at this version
}

TEST_F(MigrationTest, AReplicaFromANewerVersionIsRefusedAndLeftUntouched) {
  const std::string path = dir_.File("future.db");
  {
    auto r = testing::OpenReplica(path, &clock_);
    ASSERT_NE(r, nullptr);
  }
  LoadSql(path, "PRAGMA user_version = 99;");
  auto r = Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("newer fieldsync"), absl::string_view::npos) << r.status();
  EXPECT_EQ(UserVersion(path), 99);
}

bool HasObject(const std::string& path, const std::string& name) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = ?1", -1, &st, nullptr);
  sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  const bool found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return found;
}

// A file of the current version is opened without running every CREATE
// ... IF NOT EXISTS again (one read of sqlite_master says what is there):
// a bookkeeping table, index or key-ring table it lacks (added to the code
// without a schema version, or an old _fs_trust_alerts) is still made.
TEST_F(MigrationTest, AReplicaOfTheCurrentVersionGainsTheBookkeepingItLacks) {
  const std::string path = dir_.File("lacking.db");
  {
    auto r = testing::OpenReplica(path, &clock_);
    ASSERT_NE(r, nullptr);
    auto k = KeyRing::Open(r.get(), "LC", &clock_);
    ASSERT_TRUE(k.ok()) << k.status();
  }
  LoadSql(path,
          "DROP TABLE _fs_hub_marks; DROP INDEX _fs_access_log_by_device; DROP TABLE _fs_cutoffs; "
          "DROP TABLE _fs_trust_alerts; CREATE TABLE _fs_trust_alerts(text TEXT PRIMARY KEY, "
          "at INTEGER NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID; INSERT INTO "
          "_fs_trust_alerts VALUES ('khoá lạ', 5, 1);");
  for (const char* gone : {"_fs_hub_marks", "_fs_access_log_by_device", "_fs_cutoffs",
                           "_fs_trust_alerts_subject"}) {
    ASSERT_FALSE(HasObject(path, gone)) << gone;
  }
  {
    auto r = Open(path);
    ASSERT_TRUE(r.ok()) << r.status();
    auto k = KeyRing::Open(r->get(), "LC", &clock_);
    ASSERT_TRUE(k.ok()) << k.status();
  }
  for (const char* made : {"_fs_hub_marks", "_fs_access_log_by_device", "_fs_cutoffs",
                           "_fs_trust_alerts_subject"}) {
    EXPECT_TRUE(HasObject(path, made)) << made;
  }
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT text, last_at, acked_at FROM _fs_trust_alerts", -1,
                               &st, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))), "khoá lạ");
  EXPECT_EQ(sqlite3_column_int64(st, 1), 5);  // last_at from at, as the old table's upgrade
  EXPECT_EQ(sqlite3_column_int64(st, 2), 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(MigrationTest, ASqliteFileThatIsNotAReplicaIsRefused) {
  const std::string path = dir_.File("other.db");
  LoadSql(path, "CREATE TABLE shopping(item TEXT); INSERT INTO shopping VALUES('rau muống');");
  auto r = Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("not a fieldsync replica"), absl::string_view::npos);
}

}  // namespace
}  // namespace fieldsync
