// The console's Devices page over real sockets (docs/CONSOLE.md, "The
// Devices page"): a laptop of the office waiting for approval is listed with
// the code to compare; it is approved only with the code the new laptop
// shows (a wrong code: err.wrong_code, not approved); removal needs its id
// and a confirmation; a locked console and a foreign Origin change nothing.
// The console's node is its office's first device; the new laptop is a
// second node of the office enrolled at the same real fieldhub serve.
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "base/json.h"
#include "support/console_client.h"

namespace fieldsync::testing {
namespace {

class ConsoleDeviceTest : public ConsoleClientTest {
 protected:
  void SetUp() override {
    ConsoleClientTest::SetUp();
    if (HasFatalFailure()) return;
    shown_ = FirstDeviceWithALaptopWaiting(&second_);
    ASSERT_FALSE(shown_.empty());
    StartConsole();
    session_ = SignIn();
    ASSERT_FALSE(session_.empty());
    Unlock();
  }
  Json Devices() { return Page("devices"); }
  // The second laptop as the page lists it.
  Json Second() {
    const Json page = Devices();
    for (const Json& d : page["devices"]) {
      if (d["device"] == second_) return d;
    }
    ADD_FAILURE() << "the second laptop " << second_ << " is not listed: " << page;
    return Json{{"state", ""}, {"code", ""}, {"name", ""}, {"fingerprint", ""}};
  }

  std::string second_, shown_;
};

TEST_F(ConsoleDeviceTest, AWaitingLaptopIsApprovedOnlyWithTheCodeItShows) {
  const Json page = Devices();
  EXPECT_EQ(page["member"], true) << page;
  EXPECT_EQ(page["province"], "LC");
  const Json waiting = Second();
  EXPECT_EQ(waiting["state"], "waiting for approval") << waiting;
  EXPECT_EQ(waiting["code"], shown_) << "the code to compare is the one the new laptop shows";
  EXPECT_FALSE(waiting["fingerprint"].get<std::string>().empty());

  auto none = Change("approve", {{"device", second_}, {"code", ""}});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 400) << none->body;
  EXPECT_EQ(Body(none)["error"], "err.code_needed");
  auto malformed = Change("approve", {{"device", second_}, {"code", "12ab"}});
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400) << malformed->body;
  EXPECT_EQ(Body(malformed)["field"], "code");
  auto wrong = Change("approve", {{"device", second_}, {"code", "1111 2222 3333 4444"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403) << wrong->body;
  EXPECT_EQ(Body(wrong)["error"], "err.wrong_code");
  EXPECT_EQ(Body(wrong)["field"], "code");
  EXPECT_EQ(Second()["state"], "waiting for approval") << "a wrong code approves nothing";

  auto approved = Change("approve", {{"device", second_}, {"code", shown_}});
  ASSERT_TRUE(approved);
  ASSERT_EQ(approved->status, 200) << approved->body;
  EXPECT_EQ(Body(approved)["device"], second_);
  EXPECT_EQ(Second()["state"], "member");
}

TEST_F(ConsoleDeviceTest, ARemovalNeedsTheIdAndAConfirmation) {
  auto approved = Change("approve", {{"device", second_}, {"code", shown_}});
  ASSERT_TRUE(approved);
  ASSERT_EQ(approved->status, 200) << approved->body;
  const std::string name = Second()["name"];

  auto unconfirmed = Change("remove", {{"device", second_}});
  ASSERT_TRUE(unconfirmed);
  EXPECT_EQ(unconfirmed->status, 400) << unconfirmed->body;
  EXPECT_EQ(Body(unconfirmed)["error"], "err.remove_confirm");
  EXPECT_NE(Body(unconfirmed)["detail"].get<std::string>().find(second_), std::string::npos);
  EXPECT_EQ(Second()["state"], "member");
  if (!name.empty()) {
    auto by_name = Change("remove", {{"device", name}, {"confirm", true}});
    ASSERT_TRUE(by_name);
    EXPECT_GE(by_name->status, 400) << "a name is the hub's word: " << by_name->body;
    EXPECT_EQ(Second()["state"], "member");
  }
  auto removed = Change("remove", {{"device", second_.substr(0, 8)}, {"confirm", true}});
  ASSERT_TRUE(removed);
  ASSERT_EQ(removed->status, 200) << removed->body;
  EXPECT_EQ(Body(removed)["device"], second_);
  EXPECT_EQ(Second()["state"], "removed");

  // The key ring's refusals come keyed for the page's catalogue (a removed
  // laptop approved again; this laptop removing itself), nothing changed.
  auto again = Change("approve", {{"device", second_}, {"code", shown_}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409) << again->body;
  EXPECT_EQ(Body(again)["message"]["key"], "lib.keys.device_gone") << again->body;
  EXPECT_EQ(Body(again)["message"]["params"]["device"], second_) << again->body;
  EXPECT_EQ(Second()["state"], "removed");
  const std::string me = Devices()["this_device"];
  auto self = Change("remove", {{"device", me}, {"confirm", true}});
  ASSERT_TRUE(self);
  EXPECT_EQ(self->status, 400) << self->body;
  EXPECT_EQ(Body(self)["message"]["key"], "lib.keys.remove_self") << self->body;
  EXPECT_EQ(Devices()["member"], true);
}

TEST_F(ConsoleDeviceTest, ALockedConsoleOrAForeignOriginApprovesNothing) {
  auto foreign = Post("/api/approve", session_, {{"device", second_}, {"code", shown_}},
                      "http://attacker.example");
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 403);
  auto lock = Change("lock", Json::object());
  ASSERT_TRUE(lock);
  ASSERT_EQ(lock->status, 200);
  auto locked = Change("approve", {{"device", second_}, {"code", shown_}});
  ASSERT_TRUE(locked);
  EXPECT_EQ(locked->status, 423) << locked->body;
  EXPECT_EQ(Body(locked)["error"], "err.locked");
  auto remove = Change("remove", {{"device", second_}, {"confirm", true}});
  ASSERT_TRUE(remove);
  EXPECT_EQ(remove->status, 423) << remove->body;
  // The list reads the same locked: the codes are no secret.
  EXPECT_EQ(Second()["state"], "waiting for approval");
  EXPECT_EQ(Second()["code"], shown_);
}

}  // namespace
}  // namespace fieldsync::testing
