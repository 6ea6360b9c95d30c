// The console's Directories page over real sockets (docs/CONSOLE.md, "The
// Directories page"): organisations, contacts and services as `fieldnode
// org list`, `contact list` and `service list` show them, searched without
// diacritics; a restricted contact's private fields masked by the same rule
// as the CLI's: this office's while locked (no value in the answer), another
// office's restricted service always (another office's restricted contact
// never reaches this laptop: the hub's scope); a referral's organisation and service chosen from the
// directory by their ids. The console is a real process on a node enrolled
// with a real fieldhub serve; Hà Nội's laptop is an in-process node of the
// same hub.
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "base/json.h"
#include "node/ops/directory.h"
#include "support/console_client.h"

namespace fieldsync::testing {
namespace {

constexpr char kOrg[] = "Trung tâm Công tác xã hội tỉnh Lào Cai";
constexpr char kPolice[] = "Công an tỉnh Lào Cai";
constexpr char kLan[] = "Chị Nguyễn Thị Lan";
constexpr char kPao[] = "Đại úy Lò Văn Páo";
constexpr char kPaoMobile[] = "0912345678";
constexpr char kShelter[] = "Nhà tạm lánh Sa Pa";

class ConsoleDirectoryTest : public ConsoleClientTest {
 protected:
  // The directory as the office's CLI fills it: two organisations, a public
  // contact, a restricted one, a service.
  void FillDirectory() {
    for (const auto& [name, kind] : {std::pair{kOrg, "ngo"}, std::pair{kPolice, "police"}}) {
      auto org = Fieldnode({"org", "add", name, "--kind", kind, "--province", "LC"});
      ASSERT_EQ(org.exit_code, 0) << org.err;
    }
    auto lan = Fieldnode({"contact", "add", "--org", kOrg, "--name", kLan, "--position",
                          "Cán bộ tiếp nhận", "--desk-phone", "0214 3820 123", "--consent-on",
                          "2026-11-02", "--restriction", "public"});
    ASSERT_EQ(lan.exit_code, 0) << lan.err;
    auto pao = Fieldnode({"contact", "add", "--org", kPolice, "--name", kPao, "--mobile",
                          kPaoMobile, "--on-call", "24/7", "--consent-on", "2026-11-02",
                          "--restriction", "restricted"});
    ASSERT_EQ(pao.exit_code, 0) << pao.err;
    auto shelter = Fieldnode({"service", "add", "--org", kOrg, "--name", kShelter, "--kind",
                              "shelter", "--provinces", "LC", "--phone", "0214 3871 234"});
    ASSERT_EQ(shelter.exit_code, 0) << shelter.err;
  }
  void Open() {
    StartConsole();
    session_ = SignIn();
    ASSERT_FALSE(session_.empty());
  }
  // The entry of `list` whose name field holds `name` (null if none).
  static Json Entry(const Json& list, const std::string& name) {
    for (const Json& e : list["entries"]) {
      if (Field(e, "name").value("value", "") == name) return e;
    }
    return Json();
  }
  static Json Field(const Json& entry, const std::string& column) {
    for (const Json& f : entry["fields"]) {
      if (f["column"] == column) return f;
    }
    return Json::object();
  }
};

TEST_F(ConsoleDirectoryTest, TheThreeDirectoriesAreListedAndSearchedWithoutDiacritics) {
  FillDirectory();
  if (HasFatalFailure()) return;
  Open();
  Unlock();
  const Json orgs = Page("directory?kind=organisations");
  ASSERT_EQ(orgs["entries"].size(), 2u) << orgs;
  EXPECT_EQ(Field(Entry(orgs, kPolice), "kind")["value"], "police");
  const Json contacts = Page("directory?kind=contacts");
  ASSERT_EQ(contacts["entries"].size(), 2u) << contacts;
  const Json lan = Entry(contacts, kLan);
  EXPECT_EQ(lan["org"], kOrg);
  EXPECT_EQ(Field(lan, "position")["value"], "Cán bộ tiếp nhận");
  EXPECT_EQ(Field(lan, "restriction")["value"], "public") << lan;
  const Json services = Page("directory?kind=services");
  ASSERT_EQ(services["entries"].size(), 1u) << services;
  EXPECT_EQ(Field(Entry(services, kShelter), "kind")["value"], "shelter");
  EXPECT_EQ(services["columns"][0], "name");

  // Searched as the CLI's search: every word, diacritics and case aside,
  // the organisation's name included.
  const Json found = Page("directory?kind=contacts&q=chi%20lan");
  ASSERT_EQ(found["entries"].size(), 1u) << found;
  EXPECT_EQ(Field(found["entries"][0], "name")["value"], kLan);
  EXPECT_EQ(Page("directory?kind=services&q=nha%20tam%20lanh")["entries"].size(), 1u);
  EXPECT_EQ(Page("directory?kind=services&q=cong%20tac%20xa%20hoi")["entries"].size(), 1u)
      << "the organisation's name is searched";
  EXPECT_EQ(Page("directory?kind=organisations&q=cong%20an")["entries"].size(), 1u);
  EXPECT_EQ(Page("directory?kind=contacts&q=khong%20co%20ai")["entries"].size(), 0u);

  // A kind not known, or search text that is not UTF-8: one clear 400.
  for (const char* bad : {"directory?kind=people", "directory", "directory?kind=contacts&q=%ff"}) {
    auto r = Get(std::string("/api/") + bad, session_);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad << ": " << r->body;
    EXPECT_EQ(Body(r)["error"], "err.invalid");
  }
  auto no_session = Client().Get("/api/directory?kind=contacts");
  ASSERT_TRUE(no_session);
  EXPECT_EQ(no_session->status, 401);
}

TEST_F(ConsoleDirectoryTest, ARestrictedEntryIsMaskedWhileLockedAndAnotherOfficesAlways) {
  // Hà Nội's laptop adds a restricted contact and a restricted service of
  // its own; both sync.
  BecomeFirstDevice();
  if (HasFatalFailure()) return;
  FillDirectory();
  if (HasFatalFailure()) return;
  harness::LocalNode& hn = AddNode("HN");
  ASSERT_TRUE(hn.Sync().ok());
  node::ops::Office hanoi{hn.replica(), *hn.keys(), "HN", "Trần Văn Hùng", ""};
  auto org = node::ops::AddOrg(hanoi, {"Công an thành phố Hà Nội", {{"kind", "police"},
                                                                     {"province", "HN"}}});
  ASSERT_TRUE(org.ok()) << org.status();
  auto theirs = node::ops::AddEntry(
      hanoi, node::ops::Contacts(),
      {org->id.ToString(), {{"name", "Thiếu tá Phạm Văn Đức"}, {"mobile", "0987654321"},
                            {"listing_consent_on", "2026-11-03"},
                            {"restriction", "restricted"}}});
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  auto safe_house = node::ops::AddEntry(
      hanoi, node::ops::Services(),
      {org->id.ToString(), {{"name", "Nhà an toàn Hà Đông"}, {"kind", "shelter"},
                            {"phone", "0243 555 0101"}, {"address", "Số 9 ngõ Bí Mật"},
                            {"restriction", "restricted"}}});
  ASSERT_TRUE(safe_house.ok()) << safe_house.status();
  ASSERT_TRUE(hn.Sync().ok());
  auto synced = Fieldnode({"sync"});
  ASSERT_EQ(synced.exit_code, 0) << synced.err;
  Open();

  // Locked: this office's restricted contact shows no value of its sealed
  // fields, the clear ones as they are.
  auto locked = Get("/api/directory?kind=contacts", session_);
  ASSERT_TRUE(locked);
  ASSERT_EQ(locked->status, 200) << locked->body;
  EXPECT_EQ(locked->body.find(kPaoMobile), std::string::npos) << locked->body;
  EXPECT_EQ(locked->body.find(kPao), std::string::npos) << locked->body;
  EXPECT_EQ(locked->body.find("0987654321"), std::string::npos) << locked->body;
  const Json l = Body(locked);
  EXPECT_EQ(l["masked"], true);
  ASSERT_EQ(l["entries"].size(), 2u) << "Hà Nội's restricted contact is not sent here: " << l;
  int sealed = 0;
  for (const Json& e : l["entries"]) {
    if (e["org"] != kPolice) continue;
    ++sealed;
    EXPECT_EQ(Field(e, "mobile")["state"], "locked") << e;
    EXPECT_FALSE(Field(e, "mobile").contains("value"));
    EXPECT_EQ(Field(e, "on_call_hours")["value"], "24/7") << "a clear field stays";
  }
  EXPECT_EQ(sealed, 1);

  // Unlocked: this office's opened; Hà Nội's never (its office's key).
  Unlock();
  auto opened = Get("/api/directory?kind=contacts", session_);
  ASSERT_TRUE(opened);
  ASSERT_EQ(opened->status, 200);
  EXPECT_EQ(opened->body.find("0987654321"), std::string::npos) << opened->body;
  EXPECT_EQ(opened->body.find("Phạm Văn Đức"), std::string::npos) << opened->body;
  const Json u = Body(opened);
  EXPECT_EQ(u["masked"], false);
  EXPECT_EQ(Field(Entry(u, kPao), "mobile")["value"], kPaoMobile) << u;
  EXPECT_EQ(u["entries"].size(), 2u) << u;
  // Hà Nội's restricted service is listed, its sealed fields never opened.
  auto services = Get("/api/directory?kind=services", session_);
  ASSERT_TRUE(services);
  ASSERT_EQ(services->status, 200);
  for (const char* hidden : {"Nhà an toàn Hà Đông", "0243 555 0101", "Số 9 ngõ Bí Mật"}) {
    EXPECT_EQ(services->body.find(hidden), std::string::npos) << hidden << services->body;
  }
  int restricted = 0;
  const Json listed = Body(services);
  for (const Json& e : listed["entries"]) {
    if (e["org"] != "Công an thành phố Hà Nội") continue;
    ++restricted;
    EXPECT_EQ(Field(e, "name")["state"], "restricted") << e;
    EXPECT_EQ(Field(e, "phone")["state"], "restricted") << e;
    EXPECT_FALSE(Field(e, "name").contains("value"));
    EXPECT_EQ(Field(e, "kind")["value"], "shelter") << "a clear field stays";
  }
  EXPECT_EQ(restricted, 1) << services->body;
  // Nor is it found by what it hides.
  EXPECT_EQ(Page("directory?kind=services&q=ha%20dong")["entries"].size(), 0u);
}

TEST_F(ConsoleDirectoryTest, AReferralChoosesItsOrganisationAndServiceFromTheDirectory) {
  BecomeFirstDevice();
  if (HasFatalFailure()) return;
  FillDirectory();
  if (HasFatalFailure()) return;
  Open();
  Unlock();
  auto made = Change("intake", {{"person", {{"full_name", "Lò Thị Mai"}, {"sex", "female"}}}});
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 200) << made->body;
  const std::string code = Body(made)["case_code"];
  const Json shelter = Entry(Page("directory?kind=services"), kShelter);
  ASSERT_TRUE(shelter.is_object()) << "the service is listed";
  const std::string service = shelter["id"], org = shelter["org_id"];
  ASSERT_FALSE(org.empty());
  EXPECT_EQ(Entry(Page("directory?kind=organisations"), kOrg)["id"], org);

  auto consent = Change("consent", {{"ref", code}, {"scope", "share_with_org"}, {"org", org}});
  ASSERT_TRUE(consent);
  ASSERT_EQ(consent->status, 200) << consent->body;
  auto sent = Change("refer", {{"ref", code}, {"to_org", org}, {"service", service},
                               {"reason", "Cần chỗ ở an toàn"}});
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->status, 200) << sent->body;
  const Json page = Page("referrals");
  ASSERT_EQ(page["outgoing"].size(), 1u) << page;
  EXPECT_EQ(page["outgoing"][0]["to"], kOrg);
  bool named = false;
  const Json referral = Page("case?ref=" + code)["referrals"][0];
  for (const Json& f : referral["fields"]) {
    if (f["column"] == "service_id") named = f.value("value", "") == kShelter;
  }
  EXPECT_TRUE(named) << "the referral names the service chosen: " << referral;
  // An id that names no service sends nothing.
  auto wrong = Change("refer", {{"ref", code}, {"to_org", org},
                                {"service", "00000000-0000-7000-8000-000000000000"},
                                {"reason", "x"}});
  ASSERT_TRUE(wrong);
  EXPECT_GE(wrong->status, 400) << wrong->body;
  EXPECT_EQ(Page("referrals")["outgoing"].size(), 1u);
}

}  // namespace
}  // namespace fieldsync::testing
