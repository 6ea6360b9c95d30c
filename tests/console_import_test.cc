// The console's Import page over real sockets (docs/CONSOLE.md, "The Import
// page"): a register sent in base64 is checked as `fieldnode import cases
// --dry-run` checks it (every refused row with its line, nothing written),
// then imported all or nothing; the same register again adds nothing; a
// Windows-1258 file without the choice answers err.not_utf8 with a preview
// as windows-1258; an import needs the keys, a dry run does not; a foreign
// Origin or no session changes nothing. The console is a real process on a
// node enrolled with a real fieldhub serve.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sodium.h>

#include <string>

#include "base/json.h"
#include "support/console_client.h"

namespace fieldsync::testing {
namespace {

std::string Base64(const std::string& bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // its NUL
  return out;
}

// A register with a bad row (line 3: a sex that is none of the values).
constexpr char kRegister[] =
    "STT,Họ và tên,Giới tính,Ngày sinh,Tóm tắt\r\n"
    "1,Nguyễn Thị Hằng,Nữ,12/05/2007,\"Bị đưa sang biên giới, \"\"làm thuê\"\"\"\r\n"
    "2,Lò Văn Sử,không biết,01/01/2005,\r\n"
    "3,Vàng Thị Mỷ,Nữ,,\r\n";

class ConsoleImportTest : public ConsoleClientTest {
 protected:
  void SetUp() override {
    ConsoleClientTest::SetUp();
    if (HasFatalFailure()) return;
    StartSignedInAndUnlocked();
  }
  size_t Cases() { return Page("cases")["total"].get<size_t>(); }
};

TEST_F(ConsoleImportTest, ADryRunListsTheBadRowThenTheImportWritesAllOnce) {
  const std::string bad = Base64(kRegister);
  auto dry = Change("import", {{"data", bad}, {"dry_run", true}});
  ASSERT_TRUE(dry);
  ASSERT_EQ(dry->status, 200) << dry->body;
  Json d = Body(dry);
  EXPECT_EQ(d["rows"], 3);
  ASSERT_EQ(d["rejected"].size(), 1u) << d;
  EXPECT_EQ(d["rejected"][0]["line"], 3);
  // The reason as a key and parameters for the page's own words (issue 14,
  // requirement 3), beside the library's English words.
  EXPECT_EQ(d["rejected"][0]["message"], (Json{{"key", "lib.value.not_allowed"},
                                               {"params",
                                                {{"field", "persons.sex"},
                                                 {"value", "không biết"},
                                                 {"allowed", "female,male,other,unknown"}}}}))
      << d["rejected"][0];
  EXPECT_NE(d["rejected"][0]["reason"].get<std::string>().find("is not a value of persons.sex"),
            std::string::npos);
  EXPECT_EQ(d["columns"][1]["field"], "person.full_name");
  EXPECT_EQ(d["columns"][0]["field"], "");
  EXPECT_EQ(d["preview"][1][1], "Nguyễn Thị Hằng");
  EXPECT_EQ(Cases(), 0u);

  // Imported with the bad row: refused whole (409), nothing written.
  auto refused = Change("import", {{"data", bad}, {"dry_run", false}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 409) << refused->body;
  EXPECT_EQ(Body(refused)["error"], "err.import_rejected");
  EXPECT_EQ(Body(refused)["imported"], 0);
  EXPECT_EQ(Cases(), 0u);

  // The sex column left out by the page's mapping: every row goes in.
  const Json map = {{"Giới tính", "-"}};
  auto done = Change("import", {{"data", bad}, {"map", map}, {"dry_run", false}});
  ASSERT_TRUE(done);
  ASSERT_EQ(done->status, 200) << done->body;
  EXPECT_EQ(Body(done)["imported"], 3);
  EXPECT_EQ(Cases(), 3u);
  const std::string code = Body(done)["codes"][0];
  const Json file = Page("case?ref=" + code);
  EXPECT_NE(file.dump().find("Bị đưa sang biên giới, \\\"làm thuê\\\""), std::string::npos)
      << file;

  auto again = Change("import", {{"data", bad}, {"map", map}, {"dry_run", false}});
  ASSERT_TRUE(again);
  ASSERT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(Body(again)["imported"], 0);
  EXPECT_EQ(Body(again)["already"], 3);
  EXPECT_EQ(Cases(), 3u);
}

TEST_F(ConsoleImportTest, Windows1258WithoutTheChoiceAnswersAPreview) {
  // "Họ và tên,Giới tính\nHà Thị Bích,Nữ" as Excel saves it in Windows-1258:
  // the tones as combining marks after the letter (ọ: o, 0xF2; à: a, 0xCC).
  const std::string bytes =
      "Ho\xf2 va\xcc t\xean,Gi\xf5\xeci ti\xecnh\r\nHa\xcc Thi\xf2 Bi\xec" "ch,N\xfd\xde\r\n";
  auto auto_enc = Change("import", {{"data", Base64(bytes)}, {"dry_run", true}});
  ASSERT_TRUE(auto_enc);
  ASSERT_EQ(auto_enc->status, 400) << auto_enc->body;
  EXPECT_EQ(Body(auto_enc)["error"], "err.not_utf8");
  EXPECT_EQ(Body(auto_enc)["field"], "encoding");
  EXPECT_NE(Body(auto_enc)["preview"].get<std::string>().find("Họ và tên"), std::string::npos)
      << auto_enc->body;
  auto chosen = Change("import", {{"data", Base64(bytes)}, {"encoding", "windows-1258"},
                                  {"dry_run", false}});
  ASSERT_TRUE(chosen);
  ASSERT_EQ(chosen->status, 200) << chosen->body;
  EXPECT_EQ(Body(chosen)["imported"], 1);
  const Json hits = Page("search?q=ha%20thi%20bich");
  EXPECT_NE(hits.dump().find("Hà Thị Bích"), std::string::npos) << "NFC, found: " << hits;
}

TEST_F(ConsoleImportTest, ImportNeedsTheKeysTheSessionAndTheOrigin) {
  const std::string data = Base64("Họ và tên\nNguyễn Văn An\n");
  auto foreign = Post("/api/import", session_, {{"data", data}, {"dry_run", false}},
                      "http://evil.example");
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 403);
  auto no_session = Post("/api/import", "", {{"data", data}, {"dry_run", false}}, Origin());
  ASSERT_TRUE(no_session);
  EXPECT_EQ(no_session->status, 401);
  for (const Json& wrong : {Json{{"data", data}, {"dry_run", "yes"}},
                            Json{{"data", "%%%"}, {"dry_run", true}},
                            Json{{"dry_run", true}},
                            Json{{"data", data}, {"encoding", "latin-9"}, {"dry_run", true}}}) {
    auto bad = Change("import", wrong);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400) << wrong << ": " << bad->body;
    EXPECT_TRUE(Body(bad).contains("field")) << bad->body;
  }
  ASSERT_EQ(Change("lock", Json::object())->status, 200);
  auto dry = Change("import", {{"data", data}, {"dry_run", true}});
  ASSERT_TRUE(dry);
  EXPECT_EQ(dry->status, 200) << "a dry run writes nothing: no keys needed. " << dry->body;
  auto locked = Change("import", {{"data", data}, {"dry_run", false}});
  ASSERT_TRUE(locked);
  EXPECT_EQ(locked->status, 423) << locked->body;
  EXPECT_EQ(Cases(), 0u);
}

// Attack review 24, LOW 1: a locked console (session valid, keys locked)
// must not answer whether a row was imported here: its dry run of a
// register imported before says `already` null (not known), and counts the
// same as for a register never seen; unlocked again, it says "already".
TEST_F(ConsoleImportTest, ADryRunOnALockedConsoleSaysNothingOfWhatWasImported) {
  const std::string seen = Base64("Họ và tên,Giới tính\nNguyễn Văn An,Nam\n");
  const std::string unseen = Base64("Họ và tên,Giới tính\nLò Văn Páo,Nam\n");
  auto done = Change("import", {{"data", seen}, {"dry_run", false}});
  ASSERT_TRUE(done);
  ASSERT_EQ(done->status, 200) << done->body;
  ASSERT_EQ(Body(done)["imported"], 1);

  ASSERT_EQ(Change("lock", Json::object())->status, 200);
  auto locked_seen = Change("import", {{"data", seen}, {"dry_run", true}});
  auto locked_unseen = Change("import", {{"data", unseen}, {"dry_run", true}});
  ASSERT_TRUE(locked_seen && locked_unseen);
  ASSERT_EQ(locked_seen->status, 200) << locked_seen->body;
  ASSERT_EQ(locked_unseen->status, 200) << locked_unseen->body;
  const Json a = Body(locked_seen), b = Body(locked_unseen);
  EXPECT_TRUE(a["already"].is_null()) << a;
  for (const char* k : {"already", "new_rows", "repeated", "rejected", "imported"}) {
    EXPECT_EQ(a[k], b[k]) << k << ": the imported register answers otherwise than an unseen one";
  }

  ASSERT_EQ(Change("unlock", {{"passphrase", kConsolePass}})->status, 200);
  auto unlocked = Change("import", {{"data", seen}, {"dry_run", true}});
  ASSERT_TRUE(unlocked);
  ASSERT_EQ(unlocked->status, 200) << unlocked->body;
  EXPECT_EQ(Body(unlocked)["already"], 1) << unlocked->body;
  EXPECT_EQ(Body(unlocked)["new_rows"], 0) << unlocked->body;
}

// Issue 14, requirement 3: the library's refusals reach the page as a
// key and its parameters (docs/CONSOLE.md, "The library's messages"), the
// library's English words as `detail`: a register's whole-file refusals,
// a field's value and a case's state on the other routes.
TEST_F(ConsoleImportTest, TheLibrarysRefusalsComeAsAKeyAndParameters) {
  auto no_name = Change("import", {{"data", Base64("STT,Giới tính\n1,Nữ\n")}, {"dry_run", true}});
  ASSERT_TRUE(no_name);
  ASSERT_EQ(no_name->status, 400) << no_name->body;
  EXPECT_EQ(Body(no_name)["error"], "err.invalid");
  EXPECT_EQ(Body(no_name)["message"], (Json{{"key", "lib.import.no_name_column"},
                                            {"params", {{"columns", "\"STT\", \"Giới tính\""}}}}))
      << no_name->body;
  EXPECT_NE(
      Body(no_name)["detail"].get<std::string>().find("no column gives the victim's full name"),
      std::string::npos);

  auto mapped = Change(
      "import",
      {{"data", Base64(kRegister)}, {"map", {{"Quê quán", "home_address"}}}, {"dry_run", true}});
  ASSERT_TRUE(mapped);
  ASSERT_EQ(mapped->status, 400) << mapped->body;
  EXPECT_EQ(Body(mapped)["message"]["key"], "lib.import.no_such_column") << mapped->body;
  EXPECT_EQ(Body(mapped)["message"]["params"]["column"], "Quê quán") << mapped->body;

  auto done =
      Change("import", {{"data", Base64("Họ và tên\nNguyễn Văn An\n")}, {"dry_run", false}});
  ASSERT_TRUE(done);
  ASSERT_EQ(done->status, 200) << done->body;
  const std::string code = Body(done)["codes"][0];
  auto future = Change("setfield",
                       {{"ref", code}, {"field", "person.date_of_birth"}, {"value", "2999-01-01"}});
  ASSERT_TRUE(future);
  ASSERT_EQ(future->status, 400) << future->body;
  EXPECT_EQ(Body(future)["message"]["key"], "lib.value.in_future") << future->body;
  EXPECT_EQ(Body(future)["message"]["params"]["field"], "persons.date_of_birth") << future->body;
  EXPECT_EQ(Body(future)["message"].dump().find("2999"), std::string::npos)
      << "a sealed field's value is never a parameter: " << future->body;

  ASSERT_EQ(Change("close", {{"ref", code}})->status, 200);
  auto again = Change("close", {{"ref", code}});
  ASSERT_TRUE(again);
  ASSERT_EQ(again->status, 409) << again->body;
  EXPECT_EQ(Body(again)["error"], "err.refused");
  EXPECT_EQ(Body(again)["message"],
            (Json{{"key", "lib.case.closed_already"}, {"params", {{"code", code}}}}))
      << again->body;

  auto missing = Get("/api/case?ref=LC-0000-ZZZZZ", session_);
  ASSERT_TRUE(missing);
  ASSERT_EQ(missing->status, 404) << missing->body;
  EXPECT_EQ(Body(missing)["message"],
            (Json{{"key", "lib.ref.not_found"},
                  {"params", {{"what", "case"}, {"ref", "LC-0000-ZZZZZ"}}}}))
      << missing->body;
}

}  // namespace
}  // namespace fieldsync::testing
