// The console in a real browser (label `browser`): tests/browser/
// console_day.py drives Debian's headless chromium through chromedriver
// against a `fieldnode console` this test starts on an enrolled node.
// Screenshots in the build's console-screenshots/ (beside bin/).
// No skip: tools/test installs chromium, chromium-driver and python3-selenium.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

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

  const std::string address = console_.Start(node_, {"--officer", "Lò Thị Dung"});
  ASSERT_FALSE(address.empty()) << console_.output();
  const std::string shots = harness::BinDir() + "/../console-screenshots";
  auto run = harness::Run({"/usr/bin/env", std::string("FIELDSYNC_CONSOLE_PASS=") + kConsolePass,
                           "FIELDSYNC_NEW_LAPTOP_CODE=" + shown,
                           "/usr/bin/python3", harness::SourceDir() + "/tests/browser/console_day.py",
                           address, shots});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  std::printf("%s", run.out.c_str());
}

}  // namespace
}  // namespace fieldsync::testing
