// fieldnode's office commands in process (node/office.h over node/ops/),
// against a real data directory (replica, keystore, enrolment), no hub: a
// wrong command line -- a missing input, a bad date, a word that is not among
// a field's values, an unknown field or option -- exits 2 with one line on
// stderr, nothing on stdout and nothing written, as the README promises;
// a refusal by the records exits 1. The commands run locked (no passphrase
// at hand): every check here comes before the keys are needed, and no
// Argon2 unlock slows the test. The workflows are in fieldnode_e2e_test.sh.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "crypto/identity.h"
#include "crypto/keystore.h"
#include "node/cli.h"
#include "node/client.h"
#include "node/commands/command.h"
#include "node/office.h"
#include "node/session.h"
#include "node/sync_lines.h"
#include "store/data_dir.h"
#include "support/temp_dir.h"
#include "sync/chain.h"
#include "sync/downgrade.h"
#include "sync/report.h"

namespace fieldsync::node {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int exit = -1;
  std::string out, err;
};

class NodeCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("FIELDSYNC_PASSPHRASE_FILE");
    unsetenv("FIELDSYNC_PASSPHRASE");
    unsetenv("FIELDSYNC_NODE_DIR");
    Args a;
    a.flags["data-dir"] = dir_.File("lc1");
    const DataDir dir = NodeDir(a);
    auto replica = CreateReplicaIn(dir);
    ASSERT_TRUE(replica.ok()) << replica.status();
    const crypto::DeviceIdentity id = crypto::DeviceIdentity::Generate((*replica)->device_id());
    ASSERT_TRUE(crypto::CreateKeystoreFile(KeystorePath(dir), id, "một câu dài làm mật khẩu").ok());
    HubConfig hub;
    hub.address = "127.0.0.1:9";
    hub.insecure = true;
    hub.province = "LC";
    hub.hub_id = Id16::NewRandom().ToString();
    ASSERT_TRUE(SaveEnrolment(dir.path, hub, Credential{id.device(), std::string(32, 's')}).ok());
  }

  // fieldnode --data-dir DIR WORDS..., as main runs them (node/cli.h),
  // stdout and stderr captured.
  Result Run(std::vector<std::string> words) {
    words.insert(words.begin(), {"--data-dir", dir_.File("lc1")});
    Result r;
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    r.exit = node::Run(words);
    std::fflush(stdout);
    std::fflush(stderr);
    r.out = ::testing::internal::GetCapturedStdout();
    r.err = ::testing::internal::GetCapturedStderr();
    return r;
  }

  // fieldnode --data-dir DIR trust WORDS..., as main runs it.
  Result RunTrust(std::vector<std::string> words) {
    words.insert(words.begin(), {"--data-dir", dir_.File("lc1")});
    Result r;
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    r.exit = node::Run(words);
    std::fflush(stdout);
    std::fflush(stderr);
    r.out = ::testing::internal::GetCapturedStdout();
    r.err = ::testing::internal::GetCapturedStderr();
    return r;
  }

  // Commits written by this laptop.
  uint64_t Commits() {
    Args a;
    a.flags["data-dir"] = dir_.File("lc1");
    auto r = OpenReplicaIn(NodeDir(a));
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return 0;
    auto s = (*r)->Stats();
    return s.ok() ? s->local_seq : 0;
  }

  // A user error: the exit code, one line on stderr holding `words`,
  // nothing on stdout, nothing written.
  void ExpectError(const std::vector<std::string>& args, int exit, const std::string& words) {
    SCOPED_TRACE(::testing::PrintToString(args));
    const uint64_t before = Commits();
    Result r = Run(args);
    EXPECT_EQ(r.exit, exit) << r.err;
    EXPECT_THAT(r.err, HasSubstr(words));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(Commits(), before);
  }

  testing::TempDir dir_;
};

// Before, a bad date or a word not among a field's values exited 1.
TEST_F(NodeCommandsTest, AWrongCommandLineExitsTwoInOneLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> wrong = {
      {{"case", "list", "--since", "2026-13-01"}, "bad date \"2026-13-01\" for --since"},
      {{"case", "list", "--since", "28/11/2026"}, "bad date \"28/11/2026\" for --since"},
      {{"case", "list", "--status", "foo"}, "unknown status \"foo\""},
      {{"case", "list", "--urgency", "foo"}, "unknown urgency \"foo\""},
      {{"case", "new", "--name", "Sai Ngày", "--dob", "2020-02-30"}, "bad date \"2020-02-30\""},
      {{"case", "new", "--name", "Sai Giới", "--sex", "x"},
       "\"x\" is not a value of persons.sex: choose one of female, male"},
      {{"case", "new", "--name", "Sai Kênh", "--channel", "email"},
       "\"email\" is not a value of cases.intake_channel"},
      {{"case", "new", "--name", "Sai Loại", "--exploitation", "slavery"},
       "\"slavery\" is not a value of cases.exploitation_types"},
      {{"case", "new", "--name", "Sai Năm", "--birth-year", "abc"},
       "birth_year wants a whole number"},
      {{"case", "new", "--name", "Sai Năm", "--birth-year", "2999"}, "not plausible"},
      {{"case", "new", "--name", "Mâu Thuẫn", "--birth-year", "2015", "--dob", "2010-01-01"},
       "disagree"},
      {{"case", "new", "--name", "Sai Tỉnh", "--origin", "Lào Cai"}, "not a province code"},
      {{"case", "new", "--name", "Sai Nước", "--nationality", "ZZZ"}, "ZZZ"},
      {{"case", "new", "--sex", "female"}, "case new needs --name"},
      {{"case", "show"}, "case show needs CASE"},
      {{"case", "frobnicate"}, "unknown case subcommand \"frobnicate\""},
      {{"case"}, "case needs a subcommand"},
      {{"case", "new", "--name", "Sai Cờ", "--bogus", "1"}, "unknown option --bogus"},
      {{"case", "list", "--colour"}, "unknown option --colour"},
      {{"case", "list", "--status"}, "--status needs a value"},
      {{"org", "add", "Sai", "--kind", "bogus"}, "\"bogus\" is not a value of organisations.kind"},
      {{"org", "add", "Tổ chức Sai Tỉnh", "--kind", "ngo", "--province", "X1"},
       "not a province code"},
      {{"contact", "add", "--org", "Công an", "--name", "Páo"}, "needs --consent-on"},
      {{"referral", "send", "LC-0000-ZZZZZ", "--to-office", "HN"}, "needs --reason"},
      {{"conflict", "resolve", "LC-0000-ZZZZZ", "narrative"}, "--keep"},
      {{"conflict", "resolve", "LC-0000-ZZZZZ", "narrative", "--keep", "mine"}, "current"},
      {{"report", "--threshold", "0"}, "--threshold wants a whole number from 1 to 1000"},
      {{"unlock", "--for", "soon"}, "not a duration"},
      {{"unlock", "--for", "1s"}, "between 1m and 7d"},
  };
  for (const auto& [args, words] : wrong) ExpectError(args, 2, words);
}

// Refusals by the records, or a value that is no text, exit 1.
TEST_F(NodeCommandsTest, ARefusalByTheRecordsExitsOne) {
  ExpectError({"case", "show", "LC-0000-ZZZZZ"}, 1, "no case \"LC-0000-ZZZZZ\" on this node");
  ExpectError({"case", "set", "00000000-0000-7000-8000-000000000000", "narrative", "x"}, 1,
              "no case \"00000000-0000-7000-8000-000000000000\"");
  ExpectError({"case", "urgent", "LC-0000-ZZZZZ"}, 1, "no case");
  ExpectError({"case", "new", "--name", "Sai Tỉnh", "--origin", "ZZ"}, 1,
              "\"ZZ\" is not a province this laptop knows");
  ExpectError({"case", "new", "--name", "Lò\x1b[31mMai"}, 1,
              "control or text-direction character U+001B");
  ExpectError({"case", "new", "--name", "Lò \xe2\x80\xaeiaM"}, 1, "character U+202E");
  ExpectError({"contact", "edit", "00000000-0000", "position", "x"}, 1, "no contact");
  ExpectError({"consent", "withdraw", "00000000-0000"}, 1, "no consent");
  ExpectError({"referral", "accept", "00000000-0000"}, 1, "no referral");
  // Locked: writing says how to unlock.
  ExpectError({"case", "new", "--name", "Khóa Rồi", "--sex", "female"}, 1,
              "needs the keystore unlocked");
}

// What the chain keeper holds (protocol version 3), as fieldnode status and
// fieldnode trust show it: commits of another laptop held behind a range
// the hub has not sent, evidence not yet read (a fork, a hub downgrade),
// and marking it read (sync's exit 5 stops; the items stay on record).
// Written into the replica as a pull and a downgraded pass write them.
TEST_F(NodeCommandsTest, StatusAndTrustShowWhatTheHistoryChecksHoldAndAckMarksItRead) {
  const DeviceId colleague = Id16::NewRandom();
  const DeviceId hub = Id16::NewRandom();
  {
    Args a;
    a.flags["data-dir"] = dir_.File("lc1");
    auto r = OpenReplicaIn(NodeDir(a));
    ASSERT_TRUE(r.ok()) << r.status();
    PulledBatch b;
    ChainRow head;
    head.device = colleague;
    head.seq = 3;
    head.header = "h3";
    head.signature = "s3";
    head.link = std::string(32, 'l');
    b.chain.placed.push_back(head);
    for (uint64_t seq : {6, 7}) {
      HeldEntry h;
      h.device = colleague;
      h.seq = seq;
      h.position = static_cast<int64_t>(seq) * 10;
      h.header = absl::StrCat("h", seq);
      h.header_signature = absl::StrCat("s", seq);
      b.chain.held.push_back(h);
    }
    TrustEvidence fork;
    fork.device = colleague;
    fork.seq = 2;
    fork.kind = static_cast<int>(sync::ChainEvidence::Kind::kFork);
    fork.what = "two signed entries for its commit 2";
    fork.found_at_millis = 1'795'521'600'000;
    b.chain.evidence.push_back(fork);
    ASSERT_TRUE((*r)->ApplyPulled(b).ok());
    TrustEvidence down;
    down.device = hub;
    down.seq = 2;
    down.kind = static_cast<int>(sync::ChainEvidence::Kind::kHubDowngrade);
    down.what = sync::DowngradeLine(3, 2);
    down.found_at_millis = 1'795'521'700'000;
    ASSERT_TRUE((*r)->AddEvidence(down, {{sync::kMaxAgreedCursor, 3},
                                         {sync::kDowngradedCursor, 2}}).ok());
  }
  const std::string who = colleague.ToString().substr(0, 8);
  Result st = Run({"status"});
  ASSERT_EQ(st.exit, 0) << st.err;
  EXPECT_THAT(st.out, HasSubstr(absl::StrCat("held commits     laptop ", who,
                                             ": 2 (seq 6..7), waiting for 4..5 the hub has "
                                             "not sent")));
  EXPECT_THAT(st.out, HasSubstr("EVIDENCE 1: fork, laptop " + who));
  EXPECT_THAT(st.out, HasSubstr("EVIDENCE 2: hub downgrade, the hub " +
                                hub.ToString().substr(0, 8)));
  EXPECT_THAT(st.out, HasSubstr("HUB DOWNGRADE: the hub agreed protocol version 3"));
  EXPECT_THAT(st.out, HasSubstr("restored from an old backup"));
  EXPECT_THAT(st.out, HasSubstr("fieldnode trust ack all"));
  Result js = Run({"status", "--json"});
  ASSERT_EQ(js.exit, 0) << js.err;
  EXPECT_THAT(js.out, HasSubstr("\"held_commits\": [{\"author\": \"" + colleague.ToString() +
                                "\", \"commits\": 2, \"first\": 6, \"last\": 7, "
                                "\"missing_from\": 4, \"missing_to\": 5}]"));
  EXPECT_THAT(js.out, HasSubstr("\"kind\": \"hub downgrade\""));
  EXPECT_THAT(js.out, HasSubstr("\"hub_max_agreed_version\": 3, \"hub_downgraded_to\": 2"));

  Result list = RunTrust({"trust"});
  ASSERT_EQ(list.exit, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("1  "));
  EXPECT_THAT(list.out, HasSubstr("two signed entries for its commit 2"));
  EXPECT_THAT(list.out, HasSubstr("hub downgrade"));

  Result wrong = RunTrust({"trust", "ack", "9"});
  EXPECT_EQ(wrong.exit, 2);
  EXPECT_THAT(wrong.err, HasSubstr("no evidence numbered 9"));
  EXPECT_EQ(RunTrust({"trust", "ack", "x1"}).exit, 2);
  Result one = RunTrust({"trust", "ack", "1"});
  ASSERT_EQ(one.exit, 0) << one.err;
  EXPECT_THAT(one.out, HasSubstr("1 evidence item(s) marked read"));
  Result rest = RunTrust({"trust", "ack", "all"});
  EXPECT_THAT(rest.out, HasSubstr("1 evidence item(s) marked read"));
  EXPECT_THAT(RunTrust({"trust"}).out, HasSubstr("no unread trust evidence"));
  Result all = RunTrust({"trust", "--all", "--json"});
  EXPECT_THAT(all.out, HasSubstr("\"read\": true"));
  EXPECT_THAT(all.out, HasSubstr("\"unread\": 0"));
  Result after = Run({"status"});
  EXPECT_THAT(after.out, Not(HasSubstr("EVIDENCE")));
  EXPECT_THAT(after.out, HasSubstr("HUB DOWNGRADE")) << "read, but the hub still says 2";
  EXPECT_THAT(after.out, HasSubstr("held commits"));
}

// The history lines fieldnode sync and the daemon print of a downgraded
// pass: the downgrade, and the unread evidence (not a "history its authors
// did not sign" line: no header travelled).
TEST(SyncLinesTest, ADowngradeAndUnreadEvidenceAreHistoryLines) {
  SyncReport r;
  r.protocol_version = 2;
  r.downgraded_from = 3;
  r.chain.new_evidence = 1;
  r.chain.unacknowledged = 1;
  std::string err;
  ReportHistory(r, "fieldnode: ", &err);
  EXPECT_THAT(err, HasSubstr("fieldnode: history: HUB DOWNGRADE: the hub agreed protocol version "
                             "3 with this laptop before and says 2 now: it was upgraded and now "
                             "claims not to be"));
  EXPECT_THAT(err, HasSubstr("restored from an old backup"));
  EXPECT_THAT(err, HasSubstr("fieldnode: history: 1 trust evidence item(s) not yet read"));
  EXPECT_THAT(err, Not(HasSubstr("did not sign as one")));
  SyncReport quiet;  // a version 2 hub, a laptop that never agreed 3
  std::string none;
  ReportHistory(quiet, "fieldnode: ", &none);
  EXPECT_EQ(none, "");
}

TEST(NodeCommandsFailedTest, RequestErrorsExitTwoOthersOne) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Failed(ops::MalformedValue("bad date \"x\"")), kExitUsage);
  EXPECT_EQ(Failed(ops::IncompleteRequest("needs --reason")), kExitUsage);
  EXPECT_EQ(Failed(absl::NotFoundError("no case")), kExitFailed);
  EXPECT_EQ(Failed(absl::InvalidArgumentError("a rule")), kExitFailed);
  std::fflush(stderr);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 4) << err;
}

}  // namespace
}  // namespace fieldsync::node
