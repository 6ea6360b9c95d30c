// Control and bidirectional characters never reach a terminal raw, whoever
// wrote them (base/terminal.h), and JSON output carries them escaped.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

#include "base/args.h"
#include "base/terminal.h"

namespace fieldsync {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(TerminalTest, VietnameseTextPassesUnchanged) {
  const std::string s = "Nguyễn Thị Hằng, Bát Xát, Lào Cai\n\tghi chú";
  EXPECT_EQ(TerminalSafe(s), s);
}

TEST(TerminalTest, ControlAndDirectionCharactersAreReplaced) {
  EXPECT_EQ(TerminalSafe("L\xC3\xB2\x1b[31mMai"), "L\xC3\xB2" + kFffd + "[31mMai");
  EXPECT_EQ(TerminalSafe("a\rb\x07" "c\x7f"), "a" + kFffd + "b" + kFffd + "c" + kFffd);
  EXPECT_EQ(TerminalSafe("abc\xE2\x80\xAE" "fed"), "abc" + kFffd + "fed");     // U+202E
  EXPECT_EQ(TerminalSafe("x\xE2\x81\xA6y\xE2\x81\xA9"), "x" + kFffd + "y" + kFffd);  // isolates
  EXPECT_EQ(TerminalSafe("x\xC2\x9B" "31m"), "x" + kFffd + "31m");            // C1 CSI
  EXPECT_EQ(TerminalSafe("one\ntwo", false), "one" + kFffd + "two");
}

TEST(TerminalTest, InvalidUtf8IsReplacedByteByByte) {
  EXPECT_EQ(TerminalSafe("a\xFF" "b"), "a" + kFffd + "b");
  EXPECT_EQ(TerminalSafe("a\xC0\xAF"), "a" + kFffd + kFffd);  // overlong '/'
  EXPECT_EQ(TerminalSafe("a\xE1\x80"), "a" + kFffd + kFffd);  // cut at the end
}

TEST(TerminalTest, JsonEscapesThemSoTheValueIsKeptExactly) {
  EXPECT_EQ(JsonString("L\xC3\xB2\x1b[31m\xE2\x80\xAE"), "\"L\xC3\xB2\\u001b[31m\\u202e\"");
  EXPECT_EQ(JsonString("Hằng"), "\"Hằng\"");
  EXPECT_EQ(JsonString("a\x7f\xC2\x9B" "b"), "\"a\\u007f\\u009bb\"");  // DEL, C1 CSI
}

// A bad lead byte is one replaced byte: the byte after it is read anew, so
// an ASCII character (a quote, a letter) is never swallowed with it, and
// the JSON stays valid UTF-8.
TEST(TerminalTest, JsonKeepsTheByteAfterABadLeadByte) {
  EXPECT_EQ(JsonString("x\xC2" "A"), "\"x\\ufffdA\"");     // C2 41 decoded as U+0081 before
  EXPECT_EQ(JsonString("x\xE2\x80" "\""), "\"x\\ufffd\\ufffd\\\"\"");
  EXPECT_EQ(JsonString("\xFF"), "\"\\ufffd\"");
  EXPECT_EQ(JsonString("\xF0\x9F\x98\x80"), "\"\xF0\x9F\x98\x80\"");  // U+1F600 kept
}

// What a child prints to stdout, a pipe, after MakeOutputTerminalSafe()
// and `body`, until it exits.
std::string ChildStdout(const std::function<void()>& body) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  EXPECT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[1]);
    MakeOutputTerminalSafe();
    body();
    std::exit(0);  // flushes the filtered stream
  }
  ::close(fds[1]);
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return got;
}

// The streams themselves, in a child whose stdout is a pipe: whatever a
// program prints (a value cut in the middle of a UTF-8 sequence between
// two writes included) arrives safe.
TEST(TerminalTest, EverythingPrintedToStdoutIsMadeSafe) {
  const std::string got = ChildStdout([] {
    std::fputs("H\xE1\xBA", stdout);  // "Hằ" cut inside the "ằ"
    std::fflush(stdout);
    std::fputs("\xB1ng \x1b]0;owned\x07 \xE2\x80\xAE!\n", stdout);
  });
  EXPECT_EQ(got, "Hằng " + kFffd + "]0;owned" + kFffd + " " + kFffd + "!\n");
}

// What a program printed last, ending inside a UTF-8 sequence that never
// got its end, is shown replaced at exit, not silently dropped.
TEST(TerminalTest, AnUnfinishedSequenceAtExitIsShownReplaced) {
  EXPECT_EQ(ChildStdout([] { std::fputs("end \xE1\xBA", stdout); }), "end " + kFffd + kFffd);
}

}  // namespace
}  // namespace fieldsync
