// The console's Report page over real sockets (docs/CONSOLE.md, "The Report
// page"): the office's anonymised figures as `fieldnode report` builds them
// (report::BuildReport): counts below the threshold suppressed by the
// server ("<5", no number), no name and no case code in the answer, the
// same locked or unlocked; a threshold out of range is one clear error. The
// console is a real process on a node enrolled with a real fieldhub serve.
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "base/json.h"
#include "support/console_client.h"

namespace fieldsync::testing {
namespace {

class ConsoleReportTest : public ConsoleClientTest {
 protected:
  void SetUp() override {
    ConsoleClientTest::SetUp();
    if (HasFatalFailure()) return;
    StartSignedInAndUnlocked();
  }
  // The cell of breakdown `name` for `value` (null if absent).
  static Json Cell(const Json& report, const std::string& name, const std::string& value) {
    for (const Json& b : report["breakdowns"]) {
      if (b["name"] != name) continue;
      for (const Json& c : b["cells"]) {
        if (c["value"] == value) return c;
      }
    }
    return Json();
  }
};

TEST_F(ConsoleReportTest, SmallCountsAreSuppressedByTheServerAndNoNameIsSent) {
  const char* names[] = {"Nguyễn Thị Hằng", "Lò Thị Mai", "Vàng Thị Chở", "Giàng Thị Sua",
                         "Hà Thị Lan", "Phạm Thị Thu"};
  std::string last;
  for (const char* name : names) {
    auto made = Change("intake", {{"person", {{"full_name", name}, {"sex", "female"}}}});
    ASSERT_TRUE(made);
    ASSERT_EQ(made->status, 200) << made->body;
    last = Body(made)["case_code"];
  }
  auto set = Change("setfield", {{"ref", last}, {"field", "case.status"}, {"value", "verifying"}});
  ASSERT_TRUE(set);
  ASSERT_EQ(set->status, 200) << set->body;

  auto got = Get("/api/report", session_);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200) << got->body;
  for (const char* name : names) {
    EXPECT_EQ(got->body.find(name), std::string::npos) << "a name in the report: " << got->body;
  }
  EXPECT_EQ(got->body.find(last), std::string::npos) << "a case code in the report";
  const Json r = Body(got);
  EXPECT_EQ(r["threshold"], 5);
  EXPECT_EQ(r["live_cases"]["count"], 6);
  EXPECT_EQ(Cell(r, "status", "intake")["count"], 5) << r;
  const Json verifying = Cell(r, "status", "verifying");
  EXPECT_TRUE(verifying["count"].is_null()) << "1 is below 5: suppressed, no number: " << r;
  EXPECT_EQ(verifying["suppressed"], true);
  EXPECT_EQ(verifying["shown"], "<5");
  EXPECT_EQ(Cell(r, "sex", "female")["count"], 6);

  // Another threshold; the same locked (clear columns only).
  const Json one = Page("report?threshold=1");
  EXPECT_EQ(Cell(one, "status", "verifying")["count"], 1) << one;
  ASSERT_EQ(Change("lock", Json::object())->status, 200);
  const Json locked = Page("report");
  EXPECT_EQ(locked["live_cases"]["count"], 6) << locked;
  EXPECT_EQ(Cell(locked, "status", "verifying")["shown"], "<5");

  for (const char* wrong : {"0", "1001", "abc", "-3", "5.5"}) {
    auto bad = Get(std::string("/api/report?threshold=") + wrong, session_);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400) << wrong << ": " << bad->body;
    EXPECT_EQ(Body(bad)["error"], "err.invalid");
    EXPECT_EQ(Body(bad)["field"], "threshold");
  }
  auto no_session = Client().Get("/api/report");
  ASSERT_TRUE(no_session);
  EXPECT_EQ(no_session->status, 401);
}

}  // namespace
}  // namespace fieldsync::testing
