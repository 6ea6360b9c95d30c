// The hub's log lines (hub/serve_log.h) as journald reads them: one event
// is one line however long or strange a node's bytes in it are, and a long
// event is cut (attack review 21, LOW 3: journald cuts a line at 48K and
// reads a priority prefix again at the start of the next piece).
#include "hub/serve_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/utf8.h"
#include "hub/refusal_log.h"

namespace fieldsync::hub {
namespace {

// What ServeLog writes into a file that $JOURNAL_STREAM names (as systemd
// names the journal's stream), so the line carries its priority prefix.
std::string LoggedToJournal(LogPriority priority, const std::string& event) {
  std::FILE* f = std::tmpfile();
  EXPECT_NE(f, nullptr);
  if (f == nullptr) return "";
  struct stat st {};
  EXPECT_EQ(fstat(fileno(f), &st), 0);
  const std::string stream = absl::StrCat(static_cast<unsigned long long>(st.st_dev), ":",
                                          static_cast<unsigned long long>(st.st_ino));
  EXPECT_EQ(setenv("JOURNAL_STREAM", stream.c_str(), 1), 0);
  ServeLog(priority, event, f);
  unsetenv("JOURNAL_STREAM");
  std::string out;
  std::rewind(f);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  std::fclose(f);
  return out;
}

TEST(ServeLogTest, AnEventOf100KWithAPriorityAt48KStaysOneLineUnderTheCap) {
  std::string event(100 * 1024, 'a');
  event.replace(48 * 1024, 11, "<0>emergenc");
  const std::string out = LoggedToJournal(LogPriority::kWarning, event);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "more than one line";
  EXPECT_EQ(out.rfind("<4>fieldhub: ", 0), 0u);
  EXPECT_LE(out.size(), kMaxEventBytes + 64) << "a line journald would cut (LineMax 48K)";
  EXPECT_EQ(out.find("<0>"), std::string::npos);
  const std::string tail =
      absl::StrCat("... (", event.size() - kMaxEventBytes, " bytes more)\n");
  ASSERT_GE(out.size(), tail.size());
  EXPECT_EQ(out.substr(out.size() - tail.size()), tail);
}

TEST(ServeLogTest, NoNewlineOrControlOfANodeStartsALineOfItsOwn) {
  // A newline, a carriage return, a NUL (journald ends a line at each of
  // "\n" and "\0"), NEL (U+0085), an ESC sequence, and a lone UTF-8 byte.
  const std::string event = std::string("hello refused: \n<0>forged\r<1>x") +
                            std::string(1, '\0') + "<2>y\xC2\x85<3>z\x1b[2Jw\xE1<5>v";
  const std::string out = LoggedToJournal(LogPriority::kWarning, event);
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_EQ(out.find('\0'), std::string::npos);
  EXPECT_TRUE(std::regex_match(out.substr(0, out.size() - 1),
                               std::regex("<4>fieldhub: [^\\x00-\\x1f\\x7f]+")))
      << out;
  EXPECT_EQ(out.find("\xC2\x85"), std::string::npos) << out;
}

TEST(ServeLogTest, VietnameseTextIsCutBetweenCharactersNeverInsideOne) {
  std::string event;
  for (int i = 0; i < 2000; ++i) event += "ệ";  // 3 bytes each
  const std::string out = LoggableEvent(event);
  // 1365 whole characters (4095 bytes), then what was left out.
  EXPECT_TRUE(IsValidUtf8(out)) << out;
  EXPECT_EQ(out.rfind("ệ... (", 4095), 4092u);
  EXPECT_EQ(out.substr(4095), absl::StrCat("... (", 6000 - 4095, " bytes more)"));
  // An event under the cap is left whole.
  EXPECT_EQ(LoggableEvent("sổ hộ khẩu"), "sổ hộ khẩu");
}

TEST(RefusalLimiterTest, TenLinesOfAKindAPeerAWindowThenOneSummaryWhenItEnds) {
  RefusalLimiter limiter;
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  int written = 0;
  for (int i = 0; i < 100; ++i) written += limiter.Admit("hello refused: UNAUTHENTICATED", "ipv4:10.1.1.1", t0);
  EXPECT_EQ(written, kRefusalLinesPerWindow);
  // Another peer, and another kind from the same peer, are counted apart.
  EXPECT_TRUE(limiter.Admit("hello refused: UNAUTHENTICATED", "ipv4:10.1.1.2", t0));
  EXPECT_TRUE(limiter.Admit("pull refused: UNAUTHENTICATED", "ipv4:10.1.1.1", t0));
  EXPECT_TRUE(limiter.Due(t0 + absl::Seconds(59)).empty());
  const std::vector<std::string> due = limiter.Due(t0 + absl::Seconds(61));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0], "90 more like this suppressed in the last 61 s: "
                    "hello refused: UNAUTHENTICATED from ipv4:10.1.1.1");
  // A new window writes again.
  EXPECT_TRUE(limiter.Admit("hello refused: UNAUTHENTICATED", "ipv4:10.1.1.1", t0 + absl::Seconds(62)));
}

TEST(RefusalLimiterTest, PeersPastTheCapShareOneCount) {
  RefusalLimiter limiter;
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  for (size_t i = 0; i < kMaxRefusalPeers + 500; ++i) {
    for (int k = 0; k < kRefusalLinesPerWindow + 1; ++k) {
      limiter.Admit("hello refused: INVALID_ARGUMENT", absl::StrCat("ipv4:10.9.", i / 250, ".", i % 250), t0);
    }
  }
  const std::vector<std::string> due = limiter.Due(t0, /*all=*/true);
  // One a peer, then the peers past the cap as one ("(" sorts first).
  ASSERT_EQ(due.size(), kMaxRefusalPeers + 1);
  // 500 peers: 10 written, then 500 * 11 - 10 counted.
  EXPECT_EQ(due.front(), absl::StrCat(500 * (kRefusalLinesPerWindow + 1) - kRefusalLinesPerWindow,
                                     " more like this suppressed in the last 1 s: "
                                     "hello refused: INVALID_ARGUMENT from (other peers)"));
}

TEST(RefusalLimiterTest, ThePeerIsItsAddressWithoutThePort) {
  EXPECT_EQ(PeerAddress("ipv4:10.0.0.7:51234"), "ipv4:10.0.0.7");
  EXPECT_EQ(PeerAddress("ipv6:[::1]:51234"), "ipv6:[::]/64");
  EXPECT_EQ(PeerAddress("unix:/run/x"), "unix:/run/x");
  EXPECT_EQ(RefusalKind("push refused node=ab12: PERMISSION_DENIED: revoked at 12"),
            "push refused node=ab12: PERMISSION_DENIED");
}

TEST(RefusalLimiterTest, AnIpv6PeerIsItsSlash64InEitherOfGrpcsForms) {
  EXPECT_EQ(PeerAddress("ipv6:[2001:db8:1:2:aaaa::7]:51234"), "ipv6:[2001:db8:1:2::]/64");
  EXPECT_EQ(PeerAddress("ipv6:%5B2001:db8:1:2:bbbb::9%5D:443"), "ipv6:[2001:db8:1:2::]/64");
  EXPECT_EQ(PeerAddress("ipv6:[fe80::1%25eth0]:9"), "ipv6:[fe80::]/64");
  // An IPv4 client of a dual-stack socket is its IPv4 address.
  EXPECT_EQ(PeerAddress("ipv6:[::ffff:10.1.2.3]:9"), "ipv4:10.1.2.3");
  // Not an address: left as it is.
  EXPECT_EQ(PeerAddress("ipv6:[nonsense]:9"), "ipv6:[nonsense]");
}

// Attack review 22, LOW 3: each refused commit was a kind of its own (its
// seq in the kind), so an enrolled laptop's refused commits were never
// limited, and filled the limiter's room.
TEST(RefusalLimiterTest, TheRefusedCommitsOfOneNodeAreOneKindLimitedToTenLines) {
  RefusalLimiter limiter;
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  int written = 0;
  for (int seq = 1; seq <= 10'000; ++seq) {
    const std::string line = absl::StrCat("push node=ab12 refused commit ", seq,
                                          " (SIGNATURE): the signature does not verify ", seq);
    EXPECT_EQ(RefusalKind(line), "push node=ab12 refused commit (SIGNATURE)");
    written += limiter.Admit(RefusalKind(line), "ipv4:10.1.1.1", t0);
  }
  EXPECT_EQ(written, kRefusalLinesPerWindow);
  const std::vector<std::string> due = limiter.Due(t0, /*all=*/true);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0], absl::StrCat(10'000 - kRefusalLinesPerWindow,
                                 " more like this suppressed in the last 1 s: push node=ab12 "
                                 "refused commit (SIGNATURE) from ipv4:10.1.1.1"));
}

TEST(RefusalLimiterTest, AKindIsNeverTheMessageAndIsBounded) {
  // No status code after the first ": ": up to it, never the message,
  // even one holding ": " itself.
  EXPECT_EQ(RefusalKind("statement refused node=ab12: a statement of 9000 bytes"),
            "statement refused node=ab12");
  EXPECT_EQ(RefusalKind("statement refused node=ab12: checkpoint 7: its root differs"),
            "statement refused node=ab12");
  EXPECT_EQ(RefusalKind("hello refused: UNAUTHENTICATED: the node's credential: no"),
            "hello refused: UNAUTHENTICATED");
  const std::string longer = absl::StrCat("hello refused", std::string(200, 'x'), ": CODE: m");
  EXPECT_EQ(RefusalKind(longer).size(), kMaxRefusalKindBytes);
  // Cut at a character, never inside one.
  const std::string vietnamese =
      absl::StrCat("x", std::string(78, ' '), "Nguyễn Thị Hằng Nguyễn Thị Hằng: C: m");
  const std::string kind = RefusalKind(vietnamese);
  EXPECT_LT(kind.size(), kMaxRefusalKindBytes);  // "ằ" does not fit whole
  EXPECT_TRUE(IsValidUtf8(kind)) << kind;
}

TEST(RefusalLimiterTest, AFloodOfPeersOfOneKindHidesNoOtherKindsPeer) {
  RefusalLimiter limiter;
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  for (size_t i = 0; i < kMaxRefusalPeers + 300; ++i) {
    limiter.Admit("hello refused: UNAUTHENTICATED", absl::StrCat("ipv4:10.2.", i / 250, ".", i % 250), t0);
  }
  // A revoked laptop's refusal keeps its own address.
  for (int k = 0; k < kRefusalLinesPerWindow + 5; ++k) {
    limiter.Admit("hello refused: PERMISSION_DENIED", "ipv4:192.0.2.9", t0);
  }
  bool own = false;
  for (const std::string& l : limiter.Due(t0, /*all=*/true)) {
    own |= l == "5 more like this suppressed in the last 1 s: hello refused: "
                "PERMISSION_DENIED from ipv4:192.0.2.9";
  }
  EXPECT_TRUE(own);
}

TEST(RefusalLimiterTest, KindsPastTheCapShareOneKind) {
  RefusalLimiter limiter;
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  for (size_t i = 0; i < kMaxRefusalKinds + 100; ++i) {
    for (int k = 0; k < kRefusalLinesPerWindow + 1; ++k) {
      limiter.Admit(absl::StrCat("push refused node=", i, ": PERMISSION_DENIED"), "ipv4:10.3.3.3", t0);
    }
  }
  const std::vector<std::string> due = limiter.Due(t0, /*all=*/true);
  // One a kind, and the kinds past the cap as one.
  EXPECT_EQ(due.size(), kMaxRefusalKinds + 1);
  EXPECT_EQ(due.front(), absl::StrCat(100 * (kRefusalLinesPerWindow + 1) - kRefusalLinesPerWindow,
                                     " more like this suppressed in the last 1 s: "
                                     "(other kinds) from ipv4:10.3.3.3"));
}

}  // namespace
}  // namespace fieldsync::hub
