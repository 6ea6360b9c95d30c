// fieldhub's command line in process (hub/cli.h): help texts, user errors
// (exit 2, one line on stderr, nothing on stdout, nothing changed), dates
// and durations, the JSON it prints, and that the production command line
// has no crypto-off hub. The workflows themselves are in hub_admin_test.sh.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "base/json.h"
#include "crypto/identity.h"
#include "hub/cli.h"
#include "support/fieldhub_in_process.h"
#include "hub/sqlite_store.h"
#include "hub/commands/time_args.h"
#include "store/sqlite.h"
#include "text/text.h"
#include "support/temp_dir.h"

namespace fieldsync::hub {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

using Result = CliResult;

Result Fieldhub(const std::vector<std::string>& args, const ServeExtension& serve = {}) {
  return RunFieldhub(args, serve);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

int Lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

const std::vector<std::string> kCommands = {"init",   "serve",   "province", "enroll-token",
                                            "node",   "gc",      "status",   "audit",
                                            "backup", "restore", "report",   "version",
                                            "help"};

TEST(HubCliHelpTest, EveryCommandHasItsUsageWithAnExample) {
  for (const std::string& c : kCommands) {
    SCOPED_TRACE(c);
    for (const auto& args : {std::vector<std::string>{c, "--help"},
                             std::vector<std::string>{"help", c}}) {
      Result r = Fieldhub(args);
      EXPECT_EQ(r.exit, 0);
      EXPECT_THAT(r.out, StartsWith("Usage: fieldhub " + c));
      EXPECT_THAT(r.out, HasSubstr("\nExample"));
      EXPECT_EQ(r.err, "");
    }
  }
}

TEST(HubCliHelpTest, TheOverviewListsEveryCommandAndTheExitCodes) {
  for (const auto& args : {std::vector<std::string>{}, std::vector<std::string>{"help"},
                           std::vector<std::string>{"--help"}}) {
    Result r = Fieldhub(args);
    EXPECT_EQ(r.exit, 0);
    EXPECT_THAT(r.out, StartsWith("fieldhub -- the central hub of fieldsync"));
    for (const std::string& c : kCommands) EXPECT_THAT(r.out, HasSubstr("\n  " + c));
    EXPECT_THAT(r.out, HasSubstr("4 (audit)"));
  }
}

TEST(HubCliHelpTest, HelpIgnoresTheOptionsOfTheCommands) {
  // As it always has: a command line edited into `help` still shows help.
  for (const auto& args : {std::vector<std::string>{"help", "--json", "--data-dir", "/nowhere"},
                           std::vector<std::string>{"--data-dir", "/nowhere", "help"},
                           std::vector<std::string>{"--json"}}) {
    Result r = Fieldhub(args);
    EXPECT_EQ(r.exit, 0) << r.err;
    EXPECT_THAT(r.out, StartsWith("fieldhub -- the central hub of fieldsync"));
  }
  Result r = Fieldhub({"help", "audit", "--since", "2026-11-01"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("Usage: fieldhub audit"));
  r = Fieldhub({"help", "--bogus"});
  EXPECT_EQ(r.exit, 2);
  EXPECT_EQ(r.err, "fieldhub: unknown option --bogus; see `fieldhub help --help`\n");
}

TEST(HubCliHelpTest, HelpWinsOverMissingOperands) {
  Result r = Fieldhub({"province", "add", "--help"});
  EXPECT_EQ(r.exit, 0);
  EXPECT_THAT(r.out, StartsWith("Usage: fieldhub province add CODE NAME"));
}

TEST(HubCliHelpTest, NothingOfTheBenchmarkInTheProductionHelp) {
  EXPECT_THAT(Fieldhub({"serve", "--help"}).out, ::testing::Not(HasSubstr("without-crypto")));
  EXPECT_THAT(Fieldhub({"help"}).out, ::testing::Not(HasSubstr("without-crypto")));
}

// A hub initialised in a temporary directory, with one province.
class HubCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("FIELDSYNC_HUB_DIR");
    unsetenv("FIELDSYNC_ADMIN");
    setenv("USER", "test-admin", 1);
    ASSERT_EQ(Fieldhub({"init", "--data-dir", dir_.path()}).exit, 0);
    Result r = Fieldhub({"province", "add", "LC", "Lào Cai", "--data-dir", dir_.path()});
    ASSERT_EQ(r.exit, 0) << r.err;
  }

  // fieldhub ARGS... --data-dir DIR
  Result Hub(std::vector<std::string> args, const ServeExtension& serve = {}) {
    args.push_back("--data-dir");
    args.push_back(dir_.path());
    return Fieldhub(args, serve);
  }
  // The hub's file with its write-ahead log, to see that nothing changed.
  std::string HubFiles() const {
    return ReadFile(dir_.File("hub.db")) + "|" + ReadFile(dir_.File("hub.db-wal"));
  }

  // A wrong command line: exit 2, one line on stderr, "fieldhub: ..."
  // holding `what`, nothing on stdout, the hub's file unchanged. `args` get
  // --data-dir at the end unless `data_dir` is false.
  void ExpectUsageError(const std::vector<std::string>& args, const std::string& what,
                        bool data_dir = true) {
    SCOPED_TRACE(::testing::PrintToString(args));
    const std::string before = HubFiles();
    Result r = data_dir ? Hub(args) : Fieldhub(args);
    EXPECT_EQ(r.exit, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_THAT(r.err, StartsWith("fieldhub: "));
    EXPECT_THAT(r.err, HasSubstr(what));
    EXPECT_TRUE(HubFiles() == before) << "the hub's file changed";
  }

  testing::TempDir dir_;
};

TEST_F(HubCliTest, BadDatesAreACommandLineError) {
  for (const char* date : {"2026-13-01", "2026-02-30", "2025-02-29", "yesterday", "20261-1-01",
                           "2026-1-01", "+026-11-01", " 2026-11-01", "2026-11-01T24:00:00Z",
                           "2026-11-01T12:00:00", "2026-11-01 12:00:00Z", "1969-12-31", ""}) {
    ExpectUsageError({"audit", "--since", date},
                     "\"" + std::string(date) + "\" is not a date; write YYYY-MM-DD");
  }
  ExpectUsageError({"audit", "--data-dir", dir_.path(), "--since"},
                   "--since needs a value; see `fieldhub audit --help`", /*data_dir=*/false);
}

TEST_F(HubCliTest, GoodDatesAreAccepted) {
  for (const char* date : {"2024-02-29", "2026-11-01", "2000-01-01T00:00:00Z", "1970-01-01"}) {
    Result r = Hub({"audit", "--since", date});
    EXPECT_EQ(r.exit, 0) << date << ": " << r.err;
  }
  EXPECT_THAT(Hub({"audit", "--since", "2999-01-01"}).out,
              HasSubstr("no entries since 2999-01-01T00:00:00Z"));
}

TEST_F(HubCliTest, BadDurationsAreACommandLineError) {
  for (const char* d : {"soon", "", "-1h", "1", "d", "7d-1h", "7 d", "1.5d", "inf", "30D",
                        "99999999999d"}) {
    ExpectUsageError({"gc", "--min-age", d}, "\"" + std::string(d) + "\" is not a duration");
    ExpectUsageError({"enroll-token", "--province", "LC", "--valid-for", d},
                     "\"" + std::string(d) + "\" is not a duration");
  }
}

TEST_F(HubCliTest, ATokenLivesAtMostThirtyDays) {
  for (const char* d : {"31d", "999d", "30d1s", "721h"}) {
    ExpectUsageError({"enroll-token", "--province", "LC", "--valid-for", d},
                     "--valid-for " + std::string(d) + " is not a token's life: give at most 30d");
  }
  for (const char* d : {"30d", "720h", "1d12h", "90m", "48h", "7d", "1500ms", "3600s"}) {
    Result r = Hub({"enroll-token", "--province", "LC", "--valid-for", d, "--json"});
    EXPECT_EQ(r.exit, 0) << d << ": " << r.err;
  }
}

TEST_F(HubCliTest, WrongCommandLinesSayWhatIsWrongInOneLine) {
  ExpectUsageError({"frobnicate"}, "unknown command \"frobnicate\"; run `fieldhub help`");
  ExpectUsageError({"help", "frob"}, "no command \"frob\"", /*data_dir=*/false);
  ExpectUsageError({"province", "list", "--threshold", "5"},
                   "unknown option --threshold; see `fieldhub province --help`");
  ExpectUsageError({"province", "list", "--threshold=5"}, "unknown option --threshold;");
  ExpectUsageError({"status", "-x"}, "unknown option -x;");
  ExpectUsageError({"gc", "--json"}, "unknown option --json; see `fieldhub gc --help`");
  ExpectUsageError({"province", "add", "XX"}, "province add needs CODE and NAME");
  ExpectUsageError({"province", "remove", "LC"},
                   "unknown province command \"remove\"; it is add or list");
  ExpectUsageError({"province", "list", "LC"}, "province list takes no operands");
  ExpectUsageError({"province", "add", "QT", "Quảng Trị", "--as", ""}, "--as needs a name");
  ExpectUsageError({"province", "add", "QT", "Quảng Trị", "--as", "a\nb"},
                   "--as must not hold control characters");
  ExpectUsageError({"enroll-token"}, "enroll-token needs --province CODE");
  ExpectUsageError({"node", "revoke", "not-a-device"}, "malformed device id");
  ExpectUsageError({"node", "delete"}, "unknown node command \"delete\"");
  ExpectUsageError({"gc", "now"}, "gc takes no operands");
  ExpectUsageError({"status", "LC"}, "status takes no operands");
  ExpectUsageError({"report", "--threshold", "0"}, "--threshold \"0\" is not usable");
  ExpectUsageError({"report", "--threshold", "five"}, "--threshold \"five\" is not usable");
  ExpectUsageError({"serve", "--insecure=maybe"}, "see `fieldhub serve --help`");
  ExpectUsageError({"province", "list", "--", "--json"}, "\"--\" is not used by fieldhub");
  ExpectUsageError({"serve", "--data-dir", dir_.path(), "--listen"}, "--listen needs a value",
                   /*data_dir=*/false);
}

// Province codes follow the one rule laptops write them by
// (schema/province_code.h): a code the hub registered must be one a laptop
// can name as --origin or --to-office. Names are one line of text, NFC, no
// control or text-direction characters, 1 to 100 characters. A bad code or
// name is a wrong command line: exit 2, nothing changed.
TEST_F(HubCliTest, ProvinceCodesAndNamesFollowTheRuleLaptopsUse) {
  for (const char* code : {"L1", "X", "LCXX", "lc", "L C", "P01", "", "\xC4\x90N", "L\x1b"}) {
    ExpectUsageError({"province", "add", code, "Tỉnh Mới"},
                     "is not usable: a code is 2 or 3 capital letters A to Z");
  }
  for (const char* name : {"Lào\nCai", "Lào\tCai", "\xE2\x80\xAE" "iaC oàL", "Lò\x1b[31m", ""}) {
    ExpectUsageError({"province", "add", "QT", name}, "province name");
  }
  ExpectUsageError({"province", "add", "QT", std::string(101, 'a')},
                   "a province name has 1 to 100 characters");
  ExpectUsageError({"province", "add", "QT", "\xFF"}, "not valid UTF-8");
  for (const char* code : {"QT", "HCM"}) {
    Result r = Hub({"province", "add", code, std::string(100, 'a')});
    EXPECT_EQ(r.exit, 0) << code << ": " << r.err;
  }
  // The library refuses the same, for callers other than the command line.
  auto store = SqliteHubStore::Open(dir_.File("hub.db"));
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->AddProvince("L1", "Lào Cai", "test").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->AddProvince("DN", "Đà\nNẵng", "test").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(HubCliTest, WhatTheStoreRefusesFailsInOneLineAndChangesNothing) {
  const struct {
    std::vector<std::string> args;
    std::string what;
  } cases[] = {
      {{"province", "add", "LC", "Lào Cai"}, "already registered"},
      {{"enroll-token", "--province", "ZZ"}, "unknown province \"ZZ\"; add it first"},
      {{"enroll-token", "--province", "LC", "--valid-for", "0s"}, "must be valid for some time"},
      {{"node", "revoke", "00000000-0000-0000-0000-000000000001"}, "no enrolled node"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.args));
    const std::string before = HubFiles();
    Result r = Hub(c.args);
    EXPECT_EQ(r.exit, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_THAT(r.err, StartsWith("fieldhub: "));
    EXPECT_THAT(r.err, HasSubstr(c.what));
    EXPECT_TRUE(HubFiles() == before) << "the hub's file changed";
  }
}

TEST_F(HubCliTest, TheProductionHubHasNoCryptoOffSwitch) {
  ExpectUsageError({"serve", "--insecure", "--listen", "127.0.0.1:0",
                    "--benchmark-without-crypto"},
                   "unknown option --benchmark-without-crypto; see `fieldhub serve --help`");
}

TEST_F(HubCliTest, AServeExtensionAddsItsOptionAndSeesTheStore) {
  // What tools/bench/hub_main.cc does, stopped before it serves.
  bool flag = false;
  HubEngine* seen = nullptr;
  ServeExtension ext;
  ext.declare = [&](CLI::App& serve) { serve.add_flag("--benchmark-without-crypto", flag); };
  ext.before_serving = [&](HubEngine& store, const Io&) {
    seen = &store;
    return absl::CancelledError("stopped by the test");
  };
  Result r = Hub({"serve", "--insecure", "--listen", "127.0.0.1:0", "--benchmark-without-crypto"},
                 ext);
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.err, "fieldhub: stopped by the test\n");
  EXPECT_TRUE(flag);
  EXPECT_NE(seen, nullptr);
}

// Process attack 80: `serve --listen 127.0.0.1:99999` served on another
// port. A port over 65535, or not a number, is a wrong command line.
TEST_F(HubCliTest, AListenPortOverTheLastIsAWrongCommandLine) {
  ServeExtension ext;
  ext.before_serving = [](HubEngine&, const Io&) {
    return absl::CancelledError("the hub was about to serve");
  };
  for (const char* listen : {"127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:74x3"}) {
    SCOPED_TRACE(listen);
    Result r = Hub({"serve", "--insecure", "--listen", listen}, ext);
    EXPECT_EQ(r.exit, 2) << r.err;
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("--listen: address"));
  }
}

// `serve --proof-cert FILE` (a TLS-terminating proxy's certificate,
// docs/OPERATING.md): a file that is missing or holds no certificate is
// said on one line naming the option, and nothing is served.
TEST_F(HubCliTest, AProofCertificateThatDoesNotReadIsSaidOnOneLineAndNothingIsServed) {
  std::ofstream(dir_.File("garbage.crt")) << "-----BEGIN CERTIFICATE-----\nnot base64\n";
  for (const std::string& file : {dir_.File("missing.crt"), dir_.File("garbage.crt")}) {
    SCOPED_TRACE(file);
    Result r = Hub({"serve", "--insecure", "--listen", "127.0.0.1:0", "--proof-cert", file});
    EXPECT_NE(r.exit, 0);
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("--proof-cert " + file + " holds no readable certificate"));
  }
}

// hub.db damaged while the hub is stopped: the root page of `table`
// overwritten with garbage (WAL checkpointed first, as a stopped hub leaves it);
// with `cells`, only its cell pointers (SQLite's check then names the
// database on a line of its own before each problem).
void DamageTable(const std::string& path, const std::string& table, bool cells = false) {
  int64_t page = 0, page_size = 0;
  {
    auto db = sqlite::Db::Open(path, "");
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
    auto root = (*db)->Prepared("SELECT rootpage FROM sqlite_master WHERE name = '" + table + "'");
    ASSERT_TRUE(root.ok());
    auto found = (*root)->Step();
    ASSERT_TRUE(found.ok() && *found) << table;
    page = (*root)->ColumnInt(0);
    auto size = (*db)->Prepared("PRAGMA page_size");
    ASSERT_TRUE(size.ok() && *(*size)->Step());
    page_size = (*size)->ColumnInt(0);
  }
  std::string garbage(static_cast<size_t>(page_size), '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 131 % 251);
  if (cells) garbage.assign(200, '\xff');
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp((page - 1) * page_size + (cells ? 10 : 0));
  f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  ASSERT_TRUE(f.good());
}

// What a damaged hub.db makes a command say: one line naming the file, to
// restore it from a backup (not SQLite's advice for a laptop, "re-bootstrap
// from the hub"), exit 5, nothing changed.
void ExpectDamaged(const Result& r, const std::string& path) {
  EXPECT_EQ(r.exit, kExitDamaged) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Lines(r.err), 1) << r.err;
  EXPECT_THAT(r.err, StartsWith("fieldhub: " + path + " is damaged ("));
  EXPECT_THAT(r.err, HasSubstr("restore hub.db from the latest backup"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("re-bootstrap")));
}

// A page of hub.db that opening does not read (the enrolment tokens) is
// overwritten: `serve` checks the whole file first and refuses to serve it,
// and the commands that change the file refuse to write into it.
TEST_F(HubCliTest, ADamagedHubIsNeitherServedNorWrittenTo) {
  const std::string path = dir_.File("hub.db");
  DamageTable(path, "hub_tokens");
  const std::string before = HubFiles();
  ServeExtension ext;
  ext.before_serving = [](HubEngine&, const Io&) {
    return absl::CancelledError("the damaged file was about to be served");
  };
  ExpectDamaged(Hub({"serve", "--insecure", "--listen", "127.0.0.1:0"}, ext), path);
  ExpectDamaged(Hub({"enroll-token", "--province", "LC"}), path);
  ExpectDamaged(Hub({"province", "add", "QT", "Quảng Trị"}), path);
  ExpectDamaged(Hub({"gc"}), path);
  EXPECT_TRUE(HubFiles() == before) << "the damaged file was changed";
  // Reading what is whole still works: the administrator can look.
  Result r = Hub({"province", "list"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Lào Cai"));
}

// Process attack 80: SQLite's check of a file whose cell pointers are
// damaged answers in several lines each ("*** in database main ***", then
// the problem); the hub says it on one line, the first problem named.
TEST_F(HubCliTest, ADamagedFileIsSaidOnOneLine) {
  const std::string path = dir_.File("hub.db");
  for (int i = 0; i < 2; ++i) ASSERT_EQ(Hub({"enroll-token", "--province", "LC"}).exit, 0);
  DamageTable(path, "hub_tokens", /*cells=*/true);
  ExpectDamaged(Hub({"gc"}), path);
  Result r = Hub({"enroll-token", "--province", "LC"});
  ExpectDamaged(r, path);
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("***")));
}

// A command that reads a damaged page says so, in the hub's words.
TEST_F(HubCliTest, ADamagedPageIsSaidWhenACommandReadsIt) {
  const std::string path = dir_.File("hub.db");
  DamageTable(path, "hub_nodes");
  for (const auto& args : {std::vector<std::string>{"node", "list"},
                           std::vector<std::string>{"status"}}) {
    SCOPED_TRACE(::testing::PrintToString(args));
    ExpectDamaged(Hub(args), path);
  }
}

// An emptied hub.db (truncated, overwritten) is not recreated as a new hub:
// exit 5 too.
TEST_F(HubCliTest, AnEmptiedHubIsDamagedNotNew) {
  const std::string path = dir_.File("hub.db");
  std::filesystem::resize_file(path, 0);
  std::filesystem::remove(path + "-wal");
  Result r = Hub({"status"});
  EXPECT_EQ(r.exit, kExitDamaged) << r.err;
  EXPECT_THAT(r.err, HasSubstr("is empty"));
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
}

// Found by the attack review: a device's name is the last column of `node
// list`, and a name such as "laptop  [REVOKED]" looked like the flag the
// administrator reads to know a laptop is shut out. The name is quoted.
TEST_F(HubCliTest, ADevicesNameCannotPassForItsRevocationFlag) {
  {
    auto store = SqliteHubStore::Open(dir_.File("hub.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    auto token = (*store)->MakeEnrollToken("LC", 3'600'000, "test-admin");
    ASSERT_TRUE(token.ok()) << token.status();
    const crypto::DeviceIdentity id = crypto::DeviceIdentity::Generate(Id16::NewRandom());
    auto e = (*store)->Enroll(token->token, id.public_keys().device, "máy Lào Cai  [REVOKED]",
                              id.public_keys(), /*proven=*/false);
    ASSERT_TRUE(e.ok()) << e.status();
  }
  Result r = Hub({"node", "list"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"máy Lào Cai  [REVOKED]\"\n")) << r.out;
}

TEST_F(HubCliTest, OptionsMayComeBeforeTheCommand) {
  Result r = Fieldhub({"--data-dir", dir_.path(), "province", "list", "--json"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "[{\"code\": \"LC\", \"name\": \"Lào Cai\"}]\n");
  r = Fieldhub({"--json", "--data-dir=" + dir_.path(), "status"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("{\"data_dir\": "));
  r = Fieldhub({"--json", "--data-dir", dir_.path(), "status"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("{\"data_dir\": "));
}

TEST_F(HubCliTest, TheLastOfARepeatedOptionCounts) {
  ASSERT_EQ(Hub({"province", "add", "HG", "Hà Giang", "--as", "first", "--as", "Bé"}).exit, 0);
  Result r = Hub({"audit", "--json"});
  ASSERT_EQ(r.exit, 0);
  const Json audit = Json::parse(r.out);
  EXPECT_EQ(audit["entries"].back()["actor"], "Bé");
}

TEST_F(HubCliTest, ACommandOnNoHubSaysToInitAndCreatesNothing) {
  testing::TempDir other;
  const std::string none = other.File("none");
  for (const char* c : {"status", "audit", "report"}) {
    Result r = Fieldhub({c, "--data-dir", none});
    EXPECT_EQ(r.exit, 1);
    EXPECT_EQ(Lines(r.err), 1);
    EXPECT_THAT(r.err, HasSubstr("nothing initialised in " + none + ": run `fieldhub init"));
  }
  EXPECT_FALSE(std::filesystem::exists(none));
}

TEST_F(HubCliTest, JsonOutputsParseWithTheirKeys) {
  Result r = Hub({"status", "--json"});
  ASSERT_EQ(r.exit, 0) << r.err;
  Json status = Json::parse(r.out);
  std::vector<std::string> keys;
  for (const auto& [k, v] : status.items()) keys.push_back(k);
  EXPECT_THAT(keys, ::testing::ElementsAre("data_dir", "device", "schema_version",
                                           "local_commits", "commits_held", "open_conflicts",
                                           "live_rows", "log_head", "provinces"));
  EXPECT_EQ(status["provinces"][0]["name"], "Lào Cai");
  EXPECT_EQ(status["provinces"][0]["state"], "no nodes");
  EXPECT_EQ(status["provinces"][0]["behind"], false);

  r = Hub({"enroll-token", "--province", "LC", "--json"});
  ASSERT_EQ(r.exit, 0) << r.err;
  Json token = Json::parse(r.out);
  EXPECT_THAT(token["token"].get<std::string>(), StartsWith("fsenroll-"));
  EXPECT_EQ(token["province"], "LC");
  EXPECT_THAT(token["expires_at"].get<std::string>(),
              MatchesRegex("20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z"));

  r = Hub({"version", "--json"});
  EXPECT_EQ(Json::parse(r.out)["program"], "fieldhub");
  r = Hub({"node", "list", "--json"});
  EXPECT_EQ(r.out, "[]\n");
  r = Hub({"audit", "--json"});
  Json audit = Json::parse(r.out);
  EXPECT_EQ(audit["whole"], true);
  EXPECT_EQ(audit["entries"][0]["action"], "province.add");
  EXPECT_EQ(audit["entries"][0]["actor"], "test-admin");
}

// `fieldhub status` lines its columns up by what a terminal shows: a
// combining mark takes no column (M̀ has no precomposed form, so NFC keeps
// the mark), a Chinese character two.
TEST_F(HubCliTest, StatusColumnsLineUpWithMarksAndWideCharacters) {
  ASSERT_EQ(Hub({"province", "add", "MT", "M\xCC\x80\xC6\xB0\xE1\xBB\x9Dng T\xC3\xA8"}).exit, 0);
  ASSERT_EQ(Hub({"province", "add", "HG", "H\xC3\xA0 Giang \xE6\xB2\xB3\xE6\xB1\x9F"}).exit, 0);
  Result r = Hub({"status"});
  ASSERT_EQ(r.exit, 0) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  size_t nodes_end = std::string::npos;
  int rows = 0;
  for (const std::string& line : lines) {
    if (line.rfind("PROVINCE", 0) == 0) nodes_end = line.find("NODES") + 5;
    if (nodes_end == std::string::npos || line.rfind("PROVINCE", 0) == 0 || line.empty()) continue;
    // The NODES count is the first digit of the line (no name here has one).
    const size_t digit = line.find_first_of("0123456789");
    ASSERT_NE(digit, std::string::npos) << line;
    EXPECT_EQ(text::DisplayWidth(line.substr(0, digit + 1)), nodes_end) << line << "\n" << r.out;
    ++rows;
  }
  EXPECT_EQ(rows, 3) << r.out;
}

TEST(TextWidthTest, MarksTakeNoColumnWideCharactersTwo) {
  EXPECT_EQ(text::DisplayWidth("L\xC3\xA0o Cai"), 7u);                    // Lào Cai, NFC
  EXPECT_EQ(text::DisplayWidth("La\xCC\x80o Cai"), 7u);                   // Lào Cai, NFD
  EXPECT_EQ(text::DisplayWidth("M\xCC\x80"), 1u);                         // M̀
  EXPECT_EQ(text::DisplayWidth("\xE6\xB2\xB3\xE6\xB1\x9F"), 4u);          // 河江
  EXPECT_EQ(text::PadTo("\xE6\xB2\xB3\xE6\xB1\x9F", 6), "\xE6\xB2\xB3\xE6\xB1\x9F  ");
  // Cut: the second wide character does not fit whole beside the ellipsis.
  EXPECT_EQ(text::PadTo("\xE6\xB2\xB3\xE6\xB1\x9F\xE6\xB2\xB3", 4), "\xE6\xB2\xB3\xE2\x80\xA6 ");
  EXPECT_EQ(Pad("\xE6\xB2\xB3", 4), "\xE6\xB2\xB3  ");
  EXPECT_EQ(Pad("too long for it", 4), "too long for it");
}

// --- The pieces: dates, durations, JSON lines.

TEST(HubTimeArgsTest, DatesAreUtc) {
  EXPECT_EQ(absl::ToUnixMillis(*ParseDate("1970-01-01")), 0);
  EXPECT_EQ(absl::ToUnixMillis(*ParseDate("2026-11-01")), int64_t{1793491200} * 1000);
  EXPECT_EQ(absl::ToUnixMillis(*ParseDate("2026-11-01T01:02:03Z")),
            (int64_t{1793491200} + 3723) * 1000);
  EXPECT_EQ(ParseDate("2026-11-31").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HubTimeArgsTest, DurationsKeepTheDayUnit) {
  EXPECT_EQ(*ParseDuration("30d"), absl::Hours(30 * 24));
  EXPECT_EQ(*ParseDuration("0d"), absl::ZeroDuration());
  EXPECT_EQ(*ParseDuration("1d12h"), absl::Hours(36));
  EXPECT_EQ(*ParseDuration("90s"), absl::Seconds(90));
  EXPECT_EQ(*ParseDuration("30m"), absl::Minutes(30));
  EXPECT_EQ(*ParseDuration("24h"), absl::Hours(24));
  EXPECT_EQ(*ParseDuration("1500ms"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseDuration("10000000000d"), absl::Hours(24) * int64_t{10'000'000'000});
  EXPECT_FALSE(ParseDuration("10000000001d").ok());
  EXPECT_FALSE(ParseDuration("-30d").ok());
  EXPECT_EQ(*ParseDuration("0"), absl::ZeroDuration());  // Abseil's bare 0
}

TEST(HubTimeArgsTest, TimesArePrintedInUtcToTheSecond) {
  EXPECT_EQ(FormatMillis(0), "never");
  EXPECT_EQ(FormatMillis(int64_t{1793491200} * 1000 + 3723999), "2026-11-01T01:02:03Z");
}

TEST(HubJsonLineTest, SpacedAsBeforeAndKeepsVietnamese) {
  EXPECT_EQ(JsonLine(Json{{"code", "LC"}, {"name", "Lào Cai"}, {"n", 3}, {"x", nullptr},
                          {"list", Json::array({1, 2})}}),
            "{\"code\": \"LC\", \"name\": \"Lào Cai\", \"n\": 3, \"x\": null, "
            "\"list\": [1, 2]}\n");
  // Commas and colons inside strings are not spaced.
  EXPECT_EQ(JsonLine(Json{{"a:b", "c,d"}}), "{\"a:b\": \"c,d\"}\n");
  EXPECT_EQ(JsonLine(Json{{"q", "say \"hi\", \\ok"}}), "{\"q\": \"say \\\"hi\\\", \\\\ok\"}\n");
}

TEST(HubJsonLineTest, WhatATerminalMustNotSeeIsEscapedAndKeptExactly) {
  // ESC, DEL, C1 CSI, U+202E (right-to-left override), U+2066, newline.
  const std::string evil = "L\xC3\xB2\x1b[31m\x7f\xC2\x9B\xE2\x80\xAE\xE2\x81\xA6\nx";
  const std::string line = JsonLine(Json{{"name", evil}});
  EXPECT_EQ(line, "{\"name\": \"L\xC3\xB2\\u001b[31m\\u007f\\u009b\\u202e\\u2066\\nx\"}\n");
  EXPECT_EQ(Lines(line), 1);
  EXPECT_EQ(Json::parse(line)["name"], evil);  // a reader gets the value exactly
  for (unsigned char c : line.substr(0, line.size() - 1)) EXPECT_GE(c, 0x20);
}

TEST(HubJsonLineTest, InvalidUtf8BecomesReplacementCharacters) {
  // As fieldnode writes it (base/json.h): the replacement character
  // escaped, which a reader decodes to the same U+FFFD.
  const std::string line = JsonLine(Json{{"name", std::string("a\xFF" "b")}});
  EXPECT_EQ(line, "{\"name\": \"a\\ufffdb\"}\n");
  EXPECT_EQ(Json::parse(line)["name"], "a\xEF\xBF\xBD" "b");
}

TEST(HubJsonLineTest, CarriageReturnsAndOtherControlsAreEscapedAlike) {
  // One writer for both programs: \r, \b and \f as \u escapes, as every
  // other control (a \r would otherwise move a terminal's cursor once a
  // reader prints the value).
  const std::string line = JsonLine(Json{{"n", "a\rb\bc\fd"}});
  EXPECT_EQ(line, "{\"n\": \"a\\u000db\\u0008c\\u000cd\"}\n");
  EXPECT_EQ(Json::parse(line)["n"], "a\rb\bc\fd");
}

}  // namespace
}  // namespace fieldsync::hub
