// The console in a real browser (label `browser`): tests/browser/
// console_day.py drives Debian's headless chromium through chromedriver
// against a `fieldnode console` this test starts on an enrolled node.
// A second Lào Cai laptop (its own data directory) and Hà Nội's laptop
// are real fieldnode programs too. Screenshots in the build's
// console-screenshots/ (beside bin/).
// No skip: tools/test installs chromium, chromium-driver and python3-selenium.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "base/json.h"
#include "store/sqlite.h"
#include "support/console_process.h"

namespace fieldsync::testing {
namespace {

class ConsoleBrowserTest : public ConsoleTestBase {};

TEST_F(ConsoleBrowserTest, ASocialWorkersMorningInChromium) {
  // The office as the day finds it: the console's laptop is its first
  // device, a second laptop has enrolled and waits for approval (its code
  // is what that laptop's own screen shows: given to the page's officer),
  // and the directory holds the organisation the case is referred to.
  std::string second;
  const std::string shown = FirstDeviceWithALaptopWaiting(&second);
  ASSERT_FALSE(shown.empty());
  auto org = Fieldnode({"org", "add", "Trung tâm Công tác xã hội tỉnh Lào Cai", "--kind", "ngo",
                        "--province", "LC"});
  ASSERT_EQ(org.exit_code, 0) << org.err;
  // Its service, chosen in the referral form from the directory, and a
  // restricted contact of this office (masked on the Directories page once
  // locked).
  auto service = Fieldnode({"service", "add", "--org", "Trung tâm Công tác xã hội tỉnh Lào Cai",
                            "--name", "Nhà tạm lánh Sa Pa", "--kind", "shelter", "--provinces",
                            "LC", "--phone", "0214 3871 234"});
  ASSERT_EQ(service.exit_code, 0) << service.err;
  auto police = Fieldnode({"org", "add", "Công an tỉnh Lào Cai", "--kind", "police",
                           "--province", "LC"});
  ASSERT_EQ(police.exit_code, 0) << police.err;
  auto contact = Fieldnode({"contact", "add", "--org", "Công an tỉnh Lào Cai", "--name",
                            "Đại úy Lò Văn Páo", "--mobile", "0912345678", "--on-call", "24/7",
                            "--consent-on", "2026-11-02", "--restriction", "restricted"});
  ASSERT_EQ(contact.exit_code, 0) << contact.err;
  auto lan = Fieldnode({"contact", "add", "--org", "Trung tâm Công tác xã hội tỉnh Lào Cai",
                        "--name", "Chị Nguyễn Thị Lan", "--desk-phone", "0214 3820 123",
                        "--consent-on", "2026-11-02", "--restriction", "public"});
  ASSERT_EQ(lan.exit_code, 0) << lan.err;

  // The office's second Lào Cai laptop, a fieldnode of its own (its own
  // data directory), approved from this one with the code it shows and
  // joined: a member, as an office's laptops are. The browser test runs its
  // commands during the day (console_day.py, second_laptop): it edits her
  // narrative while the console does, and the conflict is resolved in the
  // console (issue 14: "the same field edited on two Lào Cai laptops").
  const std::string second_laptop = dir_.File("lc-second");
  auto at_second = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/setsid", "-w", "/usr/bin/env",
                                     std::string("FIELDSYNC_PASSPHRASE=") + kConsolePass,
                                     harness::BinDir() + "/fieldnode"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data-dir", second_laptop});
    return harness::Run(argv);
  };
  ASSERT_EQ(at_second({"init"}).exit_code, 0);
  auto lc_token = hub_->Token("LC");
  ASSERT_TRUE(lc_token.ok());
  auto lc_enrolled = at_second({"enroll", "--hub", hub_->address(), "--ca", pki_->ca(),
                                "--token", *lc_token, "--name", "lc-may-2"});
  ASSERT_EQ(lc_enrolled.exit_code, 0) << lc_enrolled.err;
  ASSERT_EQ(at_second({"sync"}).exit_code, 0);
  auto lc_list = at_second({"device", "list", "--json"});
  ASSERT_EQ(lc_list.exit_code, 0) << lc_list.err;
  const Json lc_view = Json::parse(lc_list.out);
  const std::string lc_code = lc_view["code"];
  ASSERT_EQ(Fieldnode({"sync"}).exit_code, 0);
  auto lc_approved = Fieldnode({"device", "approve", lc_view["this_device"].get<std::string>(),
                                "--code", lc_code});
  ASSERT_EQ(lc_approved.exit_code, 0) << lc_approved.err;
  ASSERT_EQ(Fieldnode({"sync"}).exit_code, 0);
  ASSERT_EQ(at_second({"sync"}).exit_code, 0);
  auto lc_joined = at_second({"device", "join", "--code", lc_code});
  ASSERT_EQ(lc_joined.exit_code, 0) << lc_joined.out << lc_joined.err;
  // The syncs share the office's keys between the two laptops (as
  // tools/demo and fieldnode_e2e_test do).
  for (int round = 0; round < 2; ++round) {
    ASSERT_EQ(at_second({"sync"}).exit_code, 0);
    ASSERT_EQ(Fieldnode({"sync"}).exit_code, 0);
  }
  auto lc_member = at_second({"device", "list", "--json"});
  ASSERT_EQ(lc_member.exit_code, 0) << lc_member.err;
  ASSERT_EQ(Json::parse(lc_member.out)["member"], true) << lc_member.out;

  // A change of this laptop damaged on its disk (its stored signature
  // zeroed): set aside at the sync, on the Set-aside page.
  auto damaged = Fieldnode({"case", "new", "--name", "Vàng Thị Chở", "--sex", "female"});
  ASSERT_EQ(damaged.exit_code, 0) << damaged.err;
  {
    auto db = sqlite::Db::Open(node_ + "/replica.db", "");
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec("UPDATE _fs_signatures SET sig = zeroblob(64) WHERE pos = "
                            "(SELECT max(pos) FROM _fs_signatures)").ok());
  }

  // Hà Nội's laptop, a fieldnode of its own enrolled at the same hub, its
  // office's first device (the code the hub administrator reads out), with
  // its own console: it accepts the referral and opens the file.
  const std::string hanoi = dir_.File("hanoi");
  auto at_hanoi = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/setsid", "-w", "/usr/bin/env",
                                     std::string("FIELDSYNC_PASSPHRASE=") + kConsolePass,
                                     harness::BinDir() + "/fieldnode"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data-dir", hanoi});
    return harness::Run(argv);
  };
  ASSERT_EQ(at_hanoi({"init"}).exit_code, 0);
  auto hn_token = hub_->Token("HN");
  ASSERT_TRUE(hn_token.ok());
  auto hn_enrolled = at_hanoi({"enroll", "--hub", hub_->address(), "--ca", pki_->ca(), "--token",
                               *hn_token, "--name", "hn"});
  ASSERT_EQ(hn_enrolled.exit_code, 0) << hn_enrolled.err;
  ASSERT_EQ(at_hanoi({"sync"}).exit_code, 0);
  auto hn_list = at_hanoi({"device", "list", "--json"});
  ASSERT_EQ(hn_list.exit_code, 0) << hn_list.err;
  auto hn_first = at_hanoi({"device", "approve", "--first", "--code",
                            Json::parse(hn_list.out)["code"].get<std::string>()});
  ASSERT_EQ(hn_first.exit_code, 0) << hn_first.err;
  ASSERT_EQ(at_hanoi({"sync"}).exit_code, 0);
  ASSERT_EQ(Fieldnode({"sync"}).exit_code, 0);

  const std::string address = console_.Start(node_, {"--officer", "Lò Thị Dung"});
  ASSERT_FALSE(address.empty()) << console_.output();
  ConsoleProcess hanoi_console;
  const std::string hanoi_address = hanoi_console.Start(hanoi, {"--officer", "Trần Văn Nam"});
  ASSERT_FALSE(hanoi_address.empty()) << hanoi_console.output();
  const std::string shots = harness::BinDir() + "/../console-screenshots";
  auto run = harness::Run({"/usr/bin/env", std::string("FIELDSYNC_CONSOLE_PASS=") + kConsolePass,
                           "FIELDSYNC_NEW_LAPTOP_CODE=" + shown,
                           "FIELDSYNC_SECOND_LAPTOP=" + second_laptop,
                           "FIELDSYNC_FIELDNODE=" + harness::BinDir() + "/fieldnode",
                           "FIELDSYNC_HANOI_URL=" + hanoi_address,
                           "/usr/bin/python3", harness::SourceDir() + "/tests/browser/console_day.py",
                           address, shots});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  hanoi_console.Stop();  // locks Hà Nội's keys
  std::printf("%s", run.out.c_str());
}

}  // namespace
}  // namespace fieldsync::testing
