// ConsoleTestBase with a client of the console's HTTP API as the page is
// one: the console started, the token exchanged for the session header,
// requests from the console's Origin.
#ifndef FIELDSYNC_TESTS_SUPPORT_CONSOLE_CLIENT_H_
#define FIELDSYNC_TESTS_SUPPORT_CONSOLE_CLIENT_H_

#include <gtest/gtest.h>
#include <httplib.h>

#include <string>
#include <vector>

#include "base/json.h"
#include "support/console_process.h"

namespace fieldsync::testing {

class ConsoleClientTest : public ConsoleTestBase {
 protected:
  // Starts the console; its port and token.
  void StartConsole(std::vector<std::string> args = {}, std::vector<std::string> prefix = {}) {
    const std::string address = console_.Start(node_, std::move(args), std::move(prefix));
    ASSERT_FALSE(address.empty()) << console_.output();
    const size_t colon = address.find(':', 7);
    port_ = std::stoi(address.substr(colon + 1));
    token_ = address.substr(address.find("token=") + 6);
  }
  std::string Origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  httplib::Client Client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(5);
    c.set_read_timeout(30);
    return c;
  }
  // Exchanges the token as the page does (POST /api/session from its
  // Origin); the session secret for the X-Fieldsync-Session header.
  std::string SignIn() {
    auto res = Client().Post("/api/session", {{"Origin", Origin()}},
                             JsonStored(Json{{"token", token_}}), "application/json");
    EXPECT_TRUE(res);
    if (!res) return "";
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_TRUE(res->get_header_value("Set-Cookie").empty()) << "no cookie at all";
    if (res->status != 200) return "";
    return Json::parse(res->body)["session"].get<std::string>();
  }
  httplib::Result Get(const std::string& path, const std::string& session) {
    return Client().Get(path.c_str(), {{"X-Fieldsync-Session", session}});
  }
  httplib::Result Post(const std::string& path, const std::string& session, const Json& body,
                       const std::string& origin) {
    httplib::Headers h = {{"X-Fieldsync-Session", session}};
    if (!origin.empty()) h.emplace("Origin", origin);
    return Client().Post(path.c_str(), h, JsonStored(body), "application/json");
  }
  static Json Body(const httplib::Result& r) { return Json::parse(r->body); }

  // The page's own session (session_), for the tests of one signed-in
  // page: unlocking with the passphrase, a change from the console's
  // Origin, a page's JSON (200 expected).
  void Unlock() {
    auto unlocked = Post("/api/unlock", session_, {{"passphrase", kConsolePass}}, Origin());
    ASSERT_TRUE(unlocked);
    ASSERT_EQ(unlocked->status, 200) << unlocked->body;
  }
  // The console started, this page signed in and unlocked: the SetUp of a
  // page's tests.
  void StartSignedInAndUnlocked() {
    StartConsole();
    session_ = SignIn();
    ASSERT_FALSE(session_.empty());
    Unlock();
  }
  httplib::Result Change(const std::string& path, const Json& body) {
    return Post("/api/" + path, session_, body, Origin());
  }
  Json Page(const std::string& path) {
    auto page = Get("/api/" + path, session_);
    EXPECT_TRUE(page);
    if (!page) return Json();
    EXPECT_EQ(page->status, 200) << page->body;
    return Body(page);
  }


  int port_ = 0;
  std::string token_;
  std::string session_;
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_CONSOLE_CLIENT_H_
