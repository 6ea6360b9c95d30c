// The daemon's log of its passes (node/sync_lines.h, PassLog): a pass that
// moved nothing and says what the last printed one said is not printed,
// but for one line an hour; the same failure again is counted, not printed
// every pass. And the lines of a pass (node/pass_lines.h): the hub's words
// never reach a terminal raw; the command line keeps its words.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/pass_lines.h"
#include "node/sync_lines.h"

namespace fieldsync::node {
namespace {

constexpr int64_t kHour = 60 * 60 * 1000;

TEST(PassLogTest, AQuietPassIsPrintedOnlyWhenItSaysSomethingNewOrAnHourPassed) {
  PassLog log(kHour);
  EXPECT_TRUE(log.Take(false, "", 0)) << "the first pass is always printed";
  EXPECT_FALSE(log.Take(false, "", 5'000));
  EXPECT_FALSE(log.Take(false, "", 10'000));
  EXPECT_EQ(log.unlogged(), 2u);
  EXPECT_TRUE(log.Take(true, "", 15'000)) << "a pass that moved something";
  EXPECT_EQ(log.unlogged(), 0u);
  EXPECT_FALSE(log.Take(false, "", 20'000));
  EXPECT_TRUE(log.Take(false, "history: a colleague is silent\n", 25'000)) << "a new line";
  EXPECT_FALSE(log.Take(false, "history: a colleague is silent\n", 30'000)) << "said already";
  EXPECT_TRUE(log.Take(false, "", 35'000)) << "no longer said";
  EXPECT_FALSE(log.Take(false, "", 35'000 + kHour - 1));
  EXPECT_TRUE(log.Take(false, "", 35'000 + kHour)) << "an hour: the daemon says it is alive";
}

// A link cut every 20 KB fails every pass the same way (its byte counts
// aside): not a line each, but the first, then the 2nd, 4th, 8th ... in a
// row, or hourly, each saying how many went unlogged; another failure at
// once; the recovery always, saying how many failed before it.
TEST(PassLogTest, TheSameFailureAgainIsCountedNotPrintedEachPass) {
  PassLog log(kHour);
  const std::string cut = "UNAVAILABLE: the connection was reset after 20480 bytes";
  const std::string cut2 = "UNAVAILABLE: the connection was reset after 20311 bytes";
  EXPECT_TRUE(log.Take(true, "", 0));
  EXPECT_TRUE(log.TakeFailure(cut, 1'000)) << "a first failure is printed at once";
  EXPECT_TRUE(log.TakeFailure(cut2, 2'000)) << "the 2nd in a row";
  EXPECT_FALSE(log.TakeFailure(cut, 3'000)) << "the 3rd";
  EXPECT_EQ(log.failures_unlogged(), 1u);
  EXPECT_TRUE(log.TakeFailure(cut, 4'000)) << "the 4th";
  EXPECT_EQ(log.failures_unlogged(), 0u);
  int printed = 0;
  for (int i = 5; i <= 60; ++i) printed += log.TakeFailure(cut2, i * 1'000) ? 1 : 0;
  EXPECT_EQ(printed, 3) << "the 8th, 16th and 32nd of 60 cuts";
  EXPECT_EQ(log.failures_unlogged(), 60u - 32u);
  EXPECT_EQ(log.FailureSuffix(), " (28 more failed passes like the last line not logged)");
  const std::string silent = "DEADLINE_EXCEEDED: the hub did not answer";
  EXPECT_TRUE(log.TakeFailure(silent, 61'000)) << "another failure is printed at once";
  EXPECT_TRUE(log.TakeFailure(silent, 62'000));
  EXPECT_FALSE(log.TakeFailure(silent, 63'000));
  EXPECT_TRUE(log.TakeFailure(silent, 64'000));
  EXPECT_FALSE(log.TakeFailure(silent, 65'000));
  EXPECT_FALSE(log.TakeFailure(silent, 64'000 + kHour - 1));
  EXPECT_TRUE(log.TakeFailure(silent, 64'000 + kHour)) << "hourly";
  EXPECT_EQ(log.failed_in_a_row(), 67u);
  EXPECT_EQ(log.OkSuffix(), " (after 67 failed passes in a row)");
  EXPECT_TRUE(log.Take(false, "", 65'000 + kHour)) << "a recovery is printed";
  EXPECT_EQ(log.failed_in_a_row(), 0u);
  EXPECT_FALSE(log.Take(false, "", 66'000 + kHour)) << "then quiet again";
  EXPECT_TRUE(log.TakeFailure(cut, 67'000 + kHour)) << "a failure after a success is new";
}

// The daemon's "next try": a wait under a second is not "in 0 s" (session
// 14's note: the daemon printed "next try in 0 s" for waits under a second).
TEST(NextTryTest, AWaitUnderASecondIsSaidInTenths) {
  EXPECT_EQ(NextTry(0), "at once (it moved something)");
  EXPECT_EQ(NextTry(1), "in 0.1 s");
  EXPECT_EQ(NextTry(400), "in 0.4 s");
  EXPECT_EQ(NextTry(999), "in 0.9 s");
  EXPECT_EQ(NextTry(900), "in 0.9 s");
  EXPECT_EQ(NextTry(1'500), "in 1 s");
  EXPECT_EQ(NextTry(12'400), "in 12 s");
  EXPECT_EQ(NextTry(300'000), "in 300 s");
}

// A hostile hub writes its notice, a refusal's reason, a relay's words:
// fieldnode sync, the daemon and the console print them after "hub: "
// and the like. None reaches a terminal (or the page) with an escape
// sequence, a bell or a direction override raw; Vietnamese stays as it is.
// (The notice was printed raw before: "\x1b]0;" retitled the terminal.)
TEST(SyncLinesTest, TheHubsWordsReachNoTerminalRaw) {
  const std::string hostile = "B\u1ea3o tr\u00ec \x1b]0;pwned\x07\x1b[2J\u202eLC-01";
  SyncReport r;
  r.notice = hostile;
  r.key_notes = {hostile};
  r.key_records_refused = 1, r.key_refusal = hostile;
  r.key_records_refused_by_hub = 1, r.key_push_refusal = hostile;
  r.set_aside = 1, r.set_aside_reason = hostile;
  r.withdrawal_note = hostile, r.redate_note = hostile;
  r.relay_notes = {hostile};
  r.chain.problems = {hostile};
  r.push_refused = absl::FailedPreconditionError(hostile);
  std::vector<PassLine> lines;
  for (auto part : {NoticeLines(r), KeyLines(r), HistoryLines(r), RefusedPushLines(r)}) {
    lines.insert(lines.end(), part.begin(), part.end());
  }
  lines.push_back(FailureLine(hostile));
  ASSERT_EQ(lines.size(), 11u);
  for (const PassLine& l : lines) {
    std::vector<std::string> said = {l.text};
    for (const auto& [name, value] : l.params) said.push_back(value);
    for (const std::string& s : said) {
      EXPECT_EQ(s.find('\x1b'), std::string::npos) << l.key << ": an escape character raw";
      EXPECT_EQ(s.find('\x07'), std::string::npos) << l.key << ": a bell raw";
      EXPECT_EQ(s.find("\u202e"), std::string::npos) << l.key << ": a direction override raw";
    }
    // The hub's Vietnamese as it wrote it (a count is a parameter too).
    EXPECT_NE(l.text.find("B\u1ea3o tr\u00ec"), std::string::npos) << l.key << ": " << l.text;
  }
  std::string printed;  // as fieldnode sync prints it
  AppendLines(NoticeLines(r), "fieldnode: ", &printed);
  EXPECT_EQ(printed.rfind("fieldnode: hub: B\u1ea3o tr\u00ec ", 0), 0u) << printed;
  EXPECT_EQ(printed.find('\x1b'), std::string::npos) << printed;
}

// The keyed lines kept the command line's words (its users and its tests
// read them): two lines as fieldnode sync printed them before the keys.
TEST(SyncLinesTest, TheCommandLineKeepsItsWords) {
  SyncReport r;
  r.hub_went_back = true, r.went_back_from = 60, r.went_back_to = 40;
  r.set_aside = 2, r.set_aside_reason = "outside this office's scope";
  std::string out;
  ReportHistory(r, "fieldnode: ", &out);
  AppendLines(KeyLines(r), "fieldnode: ", &out);  // ReportKeys's lines
  EXPECT_EQ(out,
            "fieldnode: hub: the hub's log went back from position 60 to 40 (a hub restored "
            "from an older backup): this laptop pulled again from 40; what it already held was "
            "skipped\n"
            "fieldnode: the hub refused 2 of this laptop's changes for good (first: outside "
            "this office's scope); they are set aside, every other change was sent: run "
            "fieldnode set-aside list\n");
}

}  // namespace
}  // namespace fieldsync::node
