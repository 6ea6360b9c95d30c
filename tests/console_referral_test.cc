// The console's consents and referrals over real sockets (docs/CONSOLE.md,
// "Routes"): recorded and withdrawn from the case file, a referral refused
// without a consent (err.no_consent, said in the page's words), sent,
// declined with a reason, accepted, completed; the Referrals page's lists;
// a locked console and a foreign Origin change nothing. The console is a
// real process on a node enrolled with a real fieldhub serve.
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "base/json.h"
#include "support/console_client.h"

namespace fieldsync::testing {
namespace {

constexpr char kOrg[] = "Trung tâm Công tác xã hội tỉnh Lào Cai";

class ConsoleReferralTest : public ConsoleClientTest {
 protected:
  void SetUp() override {
    ConsoleClientTest::SetUp();
    if (HasFatalFailure()) return;
    // The console's laptop a member of its office, and the directory's
    // organisation, as the office would add it (the CLI:
    // the directories are not yet a page of the console).
    BecomeFirstDevice();
    if (HasFatalFailure()) return;
    auto org = Fieldnode({"org", "add", kOrg, "--kind", "ngo", "--province", "LC"});
    ASSERT_EQ(org.exit_code, 0) << org.err;
    StartConsole();
    session_ = SignIn();
    ASSERT_FALSE(session_.empty());
    Unlock();
    auto made = Post("/api/intake", session_,
                     {{"person", {{"full_name", "Lò Thị Mai"}, {"sex", "female"}}}}, Origin());
    ASSERT_TRUE(made);
    ASSERT_EQ(made->status, 200) << made->body;
    code_ = Body(made)["case_code"];
  }
  Json CaseFile() { return Page("case?ref=" + code_); }
  Json ReferralsPage() { return Page("referrals"); }
  // A record's field of the case file (consents, referrals), "" if absent.
  static std::string FieldOf(const Json& record, const std::string& column) {
    for (const Json& f : record["fields"]) {
      if (f["column"] == column && f.contains("value")) {
        return f["value"].is_string() ? f["value"].get<std::string>() : f["value"].dump();
      }
    }
    return "";
  }
  Json Refer() {
    auto sent = Change("refer", {{"ref", code_}, {"to_org", kOrg},
                                 {"reason", "Cần chỗ ở an toàn và tư vấn tâm lý"}});
    EXPECT_TRUE(sent);
    if (!sent) return Json();
    Json out = Body(sent);
    out["http"] = sent->status;
    return out;
  }

  std::string code_;
};

TEST_F(ConsoleReferralTest, AReferralWithoutConsentIsRefusedSayingWhyThenSentOnceConsented) {
  Json refused = Refer();
  EXPECT_EQ(refused["http"], 409) << refused;
  EXPECT_EQ(refused["error"], "err.no_consent") << refused;
  EXPECT_EQ(refused["field"], "consent");
  EXPECT_NE(refused["detail"].get<std::string>().find("no consent"), std::string::npos);
  EXPECT_TRUE(CaseFile()["referrals"].empty()) << "nothing was sent";

  // The library's validation: a scope it does not know, an organisation
  // missing for share_with_org.
  auto bad = Change("consent", {{"ref", code_}, {"scope", "everything"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_EQ(Body(bad)["error"], "err.invalid");
  EXPECT_EQ(Body(bad)["field"], "scope");
  auto no_org = Change("consent", {{"ref", code_}, {"scope", "share_with_org"}});
  ASSERT_TRUE(no_org);
  EXPECT_EQ(no_org->status, 400) << no_org->body;
  EXPECT_EQ(Body(no_org)["field"], "org");
  EXPECT_TRUE(CaseFile()["consents"].empty());

  auto consent = Change("consent", {{"ref", code_}, {"scope", "share_with_org"}, {"org", kOrg},
                                    {"given_by", "victim"}});
  ASSERT_TRUE(consent);
  ASSERT_EQ(consent->status, 200) << consent->body;
  const Json file = CaseFile();
  ASSERT_EQ(file["consents"].size(), 1u) << file;
  EXPECT_EQ(FieldOf(file["consents"][0], "scope"), "share_with_org");

  Json sent = Refer();
  ASSERT_EQ(sent["http"], 200) << sent;
  const Json after = CaseFile();
  ASSERT_EQ(after["referrals"].size(), 1u) << after;
  EXPECT_EQ(FieldOf(after["referrals"][0], "status"), "sent");
  const Json page = ReferralsPage();
  ASSERT_EQ(page["outgoing"].size(), 1u) << page;
  EXPECT_EQ(page["outgoing"][0]["case_code"], code_);
  EXPECT_EQ(page["outgoing"][0]["to"], kOrg);
  EXPECT_EQ(page["outgoing"][0]["actions"], Json({"accept", "decline"}))
      << "an agency's answer is recorded by the referring office";
  EXPECT_TRUE(page["incoming"].empty());
}

TEST_F(ConsoleReferralTest, AReferralIsDeclinedWithAReasonAcceptedAndCompleted) {
  auto consent = Change("consent", {{"ref", code_}, {"scope", "share_with_org"}, {"org", kOrg}});
  ASSERT_TRUE(consent);
  ASSERT_EQ(consent->status, 200) << consent->body;
  Json first = Refer();
  ASSERT_EQ(first["http"], 200) << first;
  const std::string id = first["id"];

  auto no_reason = Change("respond", {{"id", id}, {"response", "decline"}});
  ASSERT_TRUE(no_reason);
  EXPECT_EQ(no_reason->status, 400) << no_reason->body;
  EXPECT_EQ(Body(no_reason)["field"], "reason");
  auto wrong = Change("respond", {{"id", id}, {"response", "ignore"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 400) << wrong->body;
  auto early = Change("respond", {{"id", id}, {"response", "complete"}});
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 409) << "only an accepted referral is completed: " << early->body;
  EXPECT_EQ(ReferralsPage()["outgoing"][0]["status"], "sent");

  auto accepted = Change("respond", {{"id", id}, {"response", "accept"}});
  ASSERT_TRUE(accepted);
  ASSERT_EQ(accepted->status, 200) << accepted->body;
  EXPECT_EQ(ReferralsPage()["outgoing"][0]["actions"], Json({"complete"}));
  auto again = Change("respond", {{"id", id}, {"response", "accept"}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409) << again->body;
  EXPECT_EQ(Body(again)["error"], "err.refused");
  auto done = Change("respond", {{"id", id}, {"response", "complete"}});
  ASSERT_TRUE(done);
  ASSERT_EQ(done->status, 200) << done->body;
  Json page = ReferralsPage();
  EXPECT_EQ(page["outgoing"][0]["status"], "completed");
  EXPECT_TRUE(page["outgoing"][0]["actions"].empty());


  // Another case's referral there, declined with why.
  auto other = Post("/api/intake", session_,
                    {{"person", {{"full_name", "Vàng Thị Chở"}, {"sex", "female"}}}}, Origin());
  ASSERT_TRUE(other);
  ASSERT_EQ(other->status, 200) << other->body;
  code_ = Body(other)["case_code"];
  auto consented = Change("consent", {{"ref", code_}, {"scope", "share_with_org"}, {"org", kOrg}});
  ASSERT_TRUE(consented);
  ASSERT_EQ(consented->status, 200) << consented->body;
  Json second = Refer();
  ASSERT_EQ(second["http"], 200) << second;
  auto declined = Change("respond", {{"id", second["id"]}, {"response", "decline"},
                                     {"reason", "Trung tâm đã hết chỗ"}});
  ASSERT_TRUE(declined);
  ASSERT_EQ(declined->status, 200) << declined->body;
  const Json file = CaseFile();
  ASSERT_EQ(file["referrals"].size(), 1u) << file;
  EXPECT_EQ(FieldOf(file["referrals"][0], "status"), "declined");
  EXPECT_EQ(FieldOf(file["referrals"][0], "decline_reason"), "Trung tâm đã hết chỗ") << file;
}

TEST_F(ConsoleReferralTest, AWithdrawnConsentCoversNoNewReferral) {
  auto consent = Change("consent", {{"ref", code_}, {"scope", "share_with_org"}, {"org", kOrg}});
  ASSERT_TRUE(consent);
  ASSERT_EQ(consent->status, 200) << consent->body;
  const std::string id = Body(consent)["id"];
  auto withdrawn = Change("withdraw", {{"id", id}});
  ASSERT_TRUE(withdrawn);
  ASSERT_EQ(withdrawn->status, 200) << withdrawn->body;
  EXPECT_NE(FieldOf(CaseFile()["consents"][0], "withdrawn_at"), "");
  auto twice = Change("withdraw", {{"id", id}});
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->status, 409) << twice->body;
  EXPECT_EQ(Body(twice)["error"], "err.refused");
  Json refused = Refer();
  EXPECT_EQ(refused["http"], 409) << refused;
  EXPECT_EQ(refused["error"], "err.no_consent");
}

TEST_F(ConsoleReferralTest, ALockedConsoleOrAForeignOriginChangesNothing) {
  auto foreign = Post("/api/consent", session_, {{"ref", code_}, {"scope", "services"}},
                      "http://attacker.example");
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 403);
  auto none = Post("/api/refer", session_, {{"ref", code_}, {"to_org", kOrg}, {"reason", "x"}},
                   "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 403);
  auto no_session = Client().Post("/api/consent", {{"Origin", Origin()}},
                                  JsonStored(Json{{"ref", code_}, {"scope", "services"}}),
                                  "application/json");
  ASSERT_TRUE(no_session);
  EXPECT_EQ(no_session->status, 401);

  auto lock = Change("lock", Json::object());
  ASSERT_TRUE(lock);
  ASSERT_EQ(lock->status, 200);
  for (const auto& [path, body] :
       std::vector<std::pair<std::string, Json>>{
           {"consent", {{"ref", code_}, {"scope", "services"}}},
           {"withdraw", {{"id", "0190aaaa"}}},
           {"refer", {{"ref", code_}, {"to_org", kOrg}, {"reason", "x"}}},
           {"respond", {{"id", "0190aaaa"}, {"response", "accept"}}}}) {
    auto r = Change(path, body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 423) << path << ": " << r->body;
    EXPECT_EQ(Body(r)["error"], "err.locked") << path;
  }
  // Malformed bodies: one clear error, nothing else.
  auto text = Client().Post("/api/consent", {{"X-Fieldsync-Session", session_},
                                             {"Origin", Origin()}},
                            "not json", "application/json");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 400);
  auto number = Change("refer", {{"ref", code_}, {"to_org", 7}, {"reason", "x"}});
  ASSERT_TRUE(number);
  EXPECT_EQ(number->status, 400) << number->body;
  EXPECT_EQ(Body(number)["field"], "to_org");

  Unlock();
  const Json file = CaseFile();
  EXPECT_TRUE(file["consents"].empty()) << file;
  EXPECT_TRUE(file["referrals"].empty()) << file;
  EXPECT_TRUE(ReferralsPage()["outgoing"].empty());
}

}  // namespace
}  // namespace fieldsync::testing
