// A victim's full name is what a case is opened with (ops::OpenCase needs
// it): it cannot be emptied afterwards, neither through the console's edit
// of the case file (POST /api/setfield) nor through `fieldnode case set`.
// Before session 23 both cleared it ("" clears a field), leaving a case
// that names nobody. Refused in one clear line (the console's catalogue
// key err.name_required, in both languages), nothing written. The console
// is a real process on a node enrolled with a real fieldhub serve.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <string>

#include "base/json.h"
#include "support/console_client.h"

namespace fieldsync::testing {
namespace {

class ConsolePersonNameTest : public ConsoleClientTest {
 protected:
  void SetUp() override {
    ConsoleClientTest::SetUp();
    if (HasFatalFailure()) return;
    StartSignedInAndUnlocked();
  }
  std::string NameOf(const Json& file) {
    for (const Json& f : file["person"]["fields"]) {
      if (f["column"] == "full_name") return f.value("value", "");
    }
    return "";
  }
};

TEST_F(ConsolePersonNameTest, TheVictimsNameCannotBeEmptiedInTheConsoleNorTheCli) {
  auto made = Change("intake", {{"person", {{"full_name", "Lò Thị Mai"}, {"sex", "female"}}}});
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 200) << made->body;
  const std::string code = Body(made)["case_code"];
  const Json before = Page("case?ref=" + code);
  ASSERT_EQ(NameOf(before), "Lò Thị Mai");

  // The console's edit: "" and blanks alike (NBSP and an ideographic space
  // too), and characters that show nothing (a zero-width space, a Hangul
  // filler, a word joiner: attack review 23, LOW 8), each one clear refusal.
  for (const char* empty : {"", "   ", "\xc2\xa0", "\t\xe3\x80\x80", "\xe2\x80\x8b",
                            "\xe3\x85\xa4 \xe2\x81\xa0"}) {
    auto set = Change("setfield",
                      {{"ref", code}, {"field", "person.full_name"}, {"value", empty}});
    ASSERT_TRUE(set);
    EXPECT_EQ(set->status, 400) << "\"" << empty << "\": " << set->body;
    const Json body = Json::parse(set->body, nullptr, false);
    EXPECT_EQ(body.value("error", ""), "err.name_required") << set->body;
    EXPECT_EQ(body.value("field", ""), "person.full_name") << set->body;
  }
  // The CLI's `case set`: exit 2 (a malformed value), one line on stderr,
  // nothing on stdout.
  for (const char* empty : {"", "  ", "\xe2\x80\x8b\xe2\x80\x8b"}) {
    auto cli = Fieldnode({"case", "set", code, "person.full_name", empty});
    EXPECT_EQ(cli.exit_code, 2) << "a value the field never takes" << cli.out << cli.err;
    EXPECT_NE(cli.err.find("full name"), std::string::npos) << cli.err;
    EXPECT_EQ(std::count(cli.err.begin(), cli.err.end(), '\n'), 1) << cli.err;
    EXPECT_EQ(cli.out, "");
  }
  // Nothing written: the name stands and the history has no new line.
  const Json after = Page("case?ref=" + code);
  EXPECT_EQ(NameOf(after), "Lò Thị Mai") << after;
  EXPECT_EQ(after["history"].size(), before["history"].size()) << after["history"];
  // Another name is still a change.
  auto renamed = Change("setfield",
                        {{"ref", code}, {"field", "person.full_name"}, {"value", "Lò Thị Mây"}});
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->status, 200) << renamed->body;
  EXPECT_EQ(NameOf(Page("case?ref=" + code)), "Lò Thị Mây");
  // Intake with a name of blanks is refused as one without a name.
  auto blank = Change("intake", {{"person", {{"full_name", "  "}, {"sex", "female"}}}});
  ASSERT_TRUE(blank);
  EXPECT_EQ(blank->status, 400) << blank->body;
  EXPECT_EQ(Body(blank)["error"], "err.name_required");
  EXPECT_EQ(Page("cases")["total"], 1);
}

}  // namespace
}  // namespace fieldsync::testing
