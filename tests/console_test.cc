// `fieldnode console` over real sockets (node/console/, docs/CONSOLE.md): the
// one-time token, the session session, the Host and Origin checks, unlocking
// through the key agent, no sealed value while locked, the idle lock. The
// console is a real process on a node enrolled with a real fieldhub serve.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>

#include "base/json.h"
#include "node/agent.h"
#include "support/console_client.h"

namespace fieldsync::testing {
namespace {

class ConsoleTest : public ConsoleClientTest {
 protected:
  // The node's data directory handed to `nobody`, and the words that run a
  // program as it. The tests run as root, and root reads any process's
  // /proc/PID/exe, non-dumpable or not: the key agent's check of its peers
  // behaves as on a social worker's laptop only for an ordinary user. (Run
  // by an ordinary user already, the test runs as that user.)
  std::vector<std::string> AsOrdinaryUser() {
    if (getuid() != 0) return {};
    constexpr uid_t kNobody = 65534;
    EXPECT_EQ(chmod(dir_.path().c_str(), 0711), 0);
    EXPECT_EQ(lchown(node_.c_str(), kNobody, kNobody), 0);
    for (const auto& e : std::filesystem::recursive_directory_iterator(node_)) {
      EXPECT_EQ(lchown(e.path().c_str(), kNobody, kNobody), 0) << e.path();
    }
    return {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  }
  // fieldnode ARGS --data-dir NODE after `prefix`, with `env` set.
  harness::CommandResult FieldnodeAs(const std::vector<std::string>& prefix,
                                     std::vector<std::string> env,
                                     const std::vector<std::string>& args) {
    std::vector<std::string> argv = prefix;
    argv.insert(argv.end(), {"/usr/bin/setsid", "-w", "/usr/bin/env", "-u",
                             "FIELDSYNC_PASSPHRASE", "-u", "FIELDSYNC_PASSPHRASE_FILE"});
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(harness::BinDir() + "/fieldnode");
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data-dir", node_});
    return harness::Run(argv);
  }

};

TEST_F(ConsoleTest, TheApiNeedsTheSessionHeaderAndTheTokenWorksOnce) {
  StartConsole();
  auto bare = Client().Get("/api/state");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 401);
  EXPECT_EQ(Body(bare)["error"], "err.session");
  auto forged = Get("/api/today", "0123456789abcdef");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401);
  // The page is the same for all (no data in it), and opening the address
  // neither spends the token nor sets a session.
  auto page = Client().Get(("/?token=" + token_).c_str());
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("/app.js"), std::string::npos);
  EXPECT_TRUE(page->get_header_value("Set-Cookie").empty());
  auto no_origin = Client().Post("/api/session", JsonStored(Json{{"token", token_}}),
                                 "application/json");
  ASSERT_TRUE(no_origin);
  EXPECT_EQ(no_origin->status, 403) << "the exchange is a change: the console's Origin only";

  const std::string session = SignIn();
  ASSERT_FALSE(session.empty());
  auto again = Client().Post("/api/session", {{"Origin", Origin()}},
                             JsonStored(Json{{"token", token_}}), "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 401) << "a token works once";
  EXPECT_EQ(again->body.find("session\":"), std::string::npos) << again->body;

  auto state = Get("/api/state", session);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->status, 200);
  EXPECT_EQ(Body(state)["unlocked"], false);
  auto today = Get("/api/today", session);
  ASSERT_TRUE(today);
  EXPECT_EQ(today->status, 200) << today->body;
  EXPECT_EQ(Body(today)["province"], "LC");
}

// Cookies ignore ports: a session cookie of 127.0.0.1 went to every other
// server on 127.0.0.1 the browser visited (another local user's), which
// could replay it. The session is a header now; the cookie of session 18,
// with the very secret, authenticates nothing.
TEST_F(ConsoleTest, TheSessionInACookieAloneIsRefused) {
  StartConsole();
  const std::string session = SignIn();
  ASSERT_FALSE(session.empty());
  for (const char* path : {"/api/state", "/api/today", "/api/cases"}) {
    auto r = Client().Get(path, {{"Cookie", "fieldsync_console=" + session}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_EQ(Body(r)["error"], "err.session");
  }
  auto change = Client().Post("/api/lock", {{"Cookie", "fieldsync_console=" + session},
                                            {"Origin", Origin()}},
                              "{}", "application/json");
  ASSERT_TRUE(change);
  EXPECT_EQ(change->status, 401);
  auto with_header = Get("/api/state", session);
  ASSERT_TRUE(with_header);
  EXPECT_EQ(with_header->status, 200);
}

TEST_F(ConsoleTest, AForeignHostIsRefusedEvenWithTheSession) {
  StartConsole();
  const std::string session = SignIn();
  for (const std::string& host :
       {"attacker.example:" + std::to_string(port_), std::string("127.0.0.1"),
        "localhost:" + std::to_string(port_ + 1)}) {
    auto r = Client().Get("/api/state", {{"X-Fieldsync-Session", session}, {"Host", host}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << host;
    EXPECT_EQ(r->body.find("unlocked"), std::string::npos);
  }
  auto token_page = Client().Post("/api/session", {{"Host", "rebound.example"},
                                                   {"Origin", "http://rebound.example"}},
                                  JsonStored(Json{{"token", token_}}), "application/json");
  ASSERT_TRUE(token_page);
  EXPECT_EQ(token_page->status, 403);
  auto local = Client().Get("/api/state", {{"X-Fieldsync-Session", session},
                                           {"Host", "localhost:" + std::to_string(port_)}});
  ASSERT_TRUE(local);
  EXPECT_EQ(local->status, 200);
}

TEST_F(ConsoleTest, AChangeFromAForeignOriginOrNoneIsRefused) {
  StartConsole();
  const std::string session = SignIn();
  const Json intake = {{"person", {{"full_name", "Lò Thị Mai"}, {"sex", "female"}}}};
  for (const std::string& origin : {std::string("http://attacker.example"),
                                   std::string("null"), std::string("")}) {
    auto r = Post("/api/intake", session, intake, origin);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << "Origin: " << origin;
    auto unlock = Post("/api/unlock", session, {{"passphrase", kConsolePass}}, origin);
    ASSERT_TRUE(unlock);
    EXPECT_EQ(unlock->status, 403) << "Origin: " << origin;
  }
  EXPECT_FALSE(node::AgentExpiry(node_).has_value()) << "nothing was unlocked";
  auto cases = Get("/api/cases", session);
  ASSERT_TRUE(cases);
  EXPECT_EQ(Body(cases)["total"], 0) << "nothing was written";
}

TEST_F(ConsoleTest, ALockedConsoleReturnsNoSealedValue) {
  StartConsole();
  const std::string session = SignIn();
  auto wrong = Post("/api/unlock", session, {{"passphrase", "không phải mật khẩu này"}}, Origin());
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403);
  EXPECT_EQ(Body(wrong)["error"], "err.passphrase");
  auto refused = Post("/api/intake", session,
                      {{"person", {{"full_name", "Nguyễn Thị Hằng"}, {"sex", "female"}}}},
                      Origin());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 423) << refused->body;
  EXPECT_EQ(Body(refused)["error"], "err.locked");

  auto unlocked = Post("/api/unlock", session, {{"passphrase", kConsolePass}}, Origin());
  ASSERT_TRUE(unlocked);
  ASSERT_EQ(unlocked->status, 200) << unlocked->body;
  EXPECT_EQ(Body(unlocked)["unlocked"], true);
  // Decomposed (NFD) as some keyboards type it: stored NFC.
  auto made = Post("/api/intake", session,
                   {{"person", {{"full_name", "Nguye\xcc\x82\xcc\x83n Thi\xcc\xa3 Ha\xcc\x86\xcc\x80ng"},
                                {"sex", "female"},
                                {"birth_year", "1999"}}},
                    {"case", {{"narrative", "Bị lừa sang biên giới"}}},
                    {"urgent", true}},
                   Origin());
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 200) << made->body;
  const std::string code = Body(made)["case_code"];
  auto bad = Post("/api/intake", session,
                  {{"person", {{"full_name", "Lò Văn Páo"}, {"sex", "robot"}}}}, Origin());
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_EQ(Body(bad)["field"], "sex") << bad->body;

  auto found = Get("/api/search?q=nguyen%20thi%20hang", session);
  ASSERT_TRUE(found);
  ASSERT_EQ(found->status, 200) << found->body;
  ASSERT_EQ(Body(found)["hits"].size(), 1u) << found->body;
  EXPECT_EQ(Body(found)["hits"][0]["full_name"], "Nguyễn Thị Hằng");
  auto open = Get("/api/case?ref=" + code, session);
  ASSERT_TRUE(open);
  ASSERT_EQ(open->status, 200) << open->body;
  EXPECT_NE(open->body.find("Nguyễn Thị Hằng"), std::string::npos);
  EXPECT_NE(open->body.find("Bị lừa sang biên giới"), std::string::npos);
  EXPECT_EQ(Body(open)["locked"], false);

  auto locked = Post("/api/lock", session, Json::object(), Origin());
  ASSERT_TRUE(locked);
  EXPECT_EQ(Body(locked)["unlocked"], false);
  EXPECT_FALSE(node::AgentExpiry(node_).has_value());
  auto masked = Get("/api/case?ref=" + code, session);
  ASSERT_TRUE(masked);
  ASSERT_EQ(masked->status, 200) << masked->body;
  EXPECT_EQ(Body(masked)["locked"], true);
  EXPECT_EQ(masked->body.find("Hằng"), std::string::npos) << masked->body;
  EXPECT_EQ(masked->body.find("biên giới"), std::string::npos) << masked->body;
  EXPECT_EQ(masked->body.find("1999"), std::string::npos) << masked->body;
  EXPECT_NE(masked->body.find("\"state\":\"locked\""), std::string::npos) << masked->body;
  auto search = Get("/api/search?q=hang", session);
  ASSERT_TRUE(search);
  EXPECT_EQ(search->status, 423) << search->body;
  EXPECT_EQ(search->body.find("Hằng"), std::string::npos);
  auto list = Get("/api/cases?urgency=urgent", session);
  ASSERT_TRUE(list);
  EXPECT_EQ(Body(list)["total"], 1) << list->body;
}

// The console makes itself non-dumpable when it unlocks (the passphrase and
// the office keys are in its memory); the agent then cannot read its
// /proc/PID/exe, which only root can for a non-dumpable process. Before
// the fix every data page of a console run by an ordinary user answered
// 409 after unlocking.
TEST_F(ConsoleTest, AConsoleRunByAnOrdinaryUserOpensSealedValuesAfterUnlocking) {
  StartConsole({}, AsOrdinaryUser());
  const std::string session = SignIn();
  auto unlocked = Post("/api/unlock", session, {{"passphrase", kConsolePass}}, Origin());
  ASSERT_TRUE(unlocked);
  ASSERT_EQ(unlocked->status, 200) << unlocked->body;
  auto made = Post("/api/intake", session,
                   {{"person", {{"full_name", "Nguyễn Thị Hằng"}, {"sex", "female"}}},
                    {"case", {{"narrative", "Bị lừa sang biên giới"}}}},
                   Origin());
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 200) << made->body;
  const std::string code = Body(made)["case_code"];
  for (int i = 0; i < 2; ++i) {  // each request asks the agent again
    auto open = Get("/api/case?ref=" + code, session);
    ASSERT_TRUE(open);
    ASSERT_EQ(open->status, 200) << open->body;
    EXPECT_EQ(Body(open)["locked"], false);
    EXPECT_NE(open->body.find("Bị lừa sang biên giới"), std::string::npos) << open->body;
  }
  auto found = Get("/api/search?q=nguyen%20thi%20hang", session);
  ASSERT_TRUE(found);
  ASSERT_EQ(found->status, 200) << found->body;
  EXPECT_EQ(Body(found)["hits"].size(), 1u) << found->body;
  auto locked = Post("/api/lock", session, Json::object(), Origin());
  ASSERT_TRUE(locked);
  EXPECT_EQ(Body(locked)["unlocked"], false);
}

// The process holding an open descriptor of the agent's listening socket
// DIR/agent.sock (its inode from /proc/net/unix): the agent, the console
// having closed its own; -1 if none.
pid_t AgentProcess(const std::string& dir) {
  const std::string path = std::filesystem::canonical(dir).string() + "/agent.sock";
  std::ifstream unix_table("/proc/net/unix");
  std::string line, inode;
  while (std::getline(unix_table, line)) {
    // Bound as agent.sock.PID, then renamed: the table keeps the first name.
    if (line.find(" " + path + ".") != std::string::npos) {
      std::istringstream words(line);
      std::string w;
      for (int i = 0; i < 7 && words >> w; ++i) {
      }
      inode = w;  // the 7th column
    }
  }
  if (inode.empty()) return -1;
  const std::string target = "socket:[" + inode + "]";
  for (const auto& proc : std::filesystem::directory_iterator("/proc")) {
    const std::string name = proc.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec;
    for (const auto& fd : std::filesystem::directory_iterator(proc.path() / "fd", ec)) {
      std::error_code ec2;
      if (std::filesystem::read_symlink(fd.path(), ec2).string() == target) return std::stoi(name);
    }
  }
  return -1;
}

// Whether process `pid` has ended (gone, or a zombie nobody reaped).
bool Ended(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("State:", 0) == 0) return line.find('Z') != std::string::npos;
  }
  return true;
}

// Attack review 86 LOW 8: the console (threads of httplib's) started the
// key agent by a fork without exec, the child allocating after it. The
// agent is now the fieldnode program executed afresh (`fieldnode __agent`,
// node/agent_exec.h). Before the fix the agent was a copy of the console
// (its command line the console's), and it also kept the console's
// SIGTERM handler, which only sets a flag: SIGTERM did not end it, though
// agent.h says it does.
TEST_F(ConsoleTest, TheConsolesAgentIsExecutedAfreshAndEndsOnSigterm) {
  StartConsole();
  const std::string session = SignIn();
  auto unlocked = Post("/api/unlock", session, {{"passphrase", kConsolePass}}, Origin());
  ASSERT_TRUE(unlocked);
  ASSERT_EQ(unlocked->status, 200) << unlocked->body;
  const pid_t agent = AgentProcess(node_);
  ASSERT_GT(agent, 0) << "no process holds the agent's socket";
  std::ifstream cmdline_file("/proc/" + std::to_string(agent) + "/cmdline");
  const std::string cmdline((std::istreambuf_iterator<char>(cmdline_file)),
                            std::istreambuf_iterator<char>());
  EXPECT_EQ(cmdline, std::string("fieldnode\0__agent\0", 18));
  ASSERT_EQ(kill(agent, SIGTERM), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!Ended(agent) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(Ended(agent)) << "SIGTERM did not end the console's agent";
  if (!Ended(agent)) kill(agent, SIGKILL);
  EXPECT_FALSE(node::AgentExpiry(node_).has_value());
}

// Unlocked by `fieldnode unlock` before the console started: the console's
// first request connects (while it is still dumpable) and keeps that
// connection; before the fix its second request was refused.
TEST_F(ConsoleTest, AnOrdinaryUsersConsoleUsesAnAgentStartedByUnlock) {
  const std::vector<std::string> as = AsOrdinaryUser();
  auto unlocked = FieldnodeAs(as, {std::string("FIELDSYNC_PASSPHRASE=") + kConsolePass},
                              {"unlock", "--for", "10m"});
  ASSERT_EQ(unlocked.exit_code, 0) << unlocked.err;
  StartConsole({}, as);
  const std::string session = SignIn();
  for (const std::string name : {"Lò Thị Mai", "Giàng Thị Sua"}) {
    auto made = Post("/api/intake", session, {{"person", {{"full_name", name}, {"sex", "female"}}}},
                     Origin());
    ASSERT_TRUE(made);
    ASSERT_EQ(made->status, 200) << made->body;
    auto open = Get("/api/case?ref=" + Body(made)["case_code"].get<std::string>(), session);
    ASSERT_TRUE(open);
    ASSERT_EQ(open->status, 200) << open->body;
    EXPECT_NE(open->body.find(name), std::string::npos) << open->body;
  }
}

// The same user's command line: `fieldnode unlock`, then a command that
// signs and one that opens sealed values, each through the agent (a command
// asks the agent while it is still dumpable, and keeps the connection).
TEST_F(ConsoleTest, AnOrdinaryUsersCommandsUseTheAgentAfterUnlock) {
  const std::vector<std::string> as = AsOrdinaryUser();
  auto unlocked = FieldnodeAs(as, {std::string("FIELDSYNC_PASSPHRASE=") + kConsolePass},
                              {"unlock", "--for", "10m"});
  ASSERT_EQ(unlocked.exit_code, 0) << unlocked.err;
  auto made = FieldnodeAs(as, {}, {"case", "new", "--name", "Lò Thị Mai", "--sex", "female",
                                   "--narrative", "Bị lừa sang biên giới"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const size_t at = made.out.find("opened case ");
  ASSERT_NE(at, std::string::npos) << made.out;
  const std::string code = made.out.substr(at + 12, made.out.find(' ', at + 12) - at - 12);
  auto shown = FieldnodeAs(as, {}, {"case", "show", code});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("Lò Thị Mai"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("Bị lừa sang biên giới"), std::string::npos) << shown.out;
  EXPECT_EQ(FieldnodeAs(as, {}, {"lock"}).exit_code, 0);
}

// The browser is opened on a 0600 file that leads to the address: the
// token never is on a command line (/proc/PID/cmdline is every local
// user's to read). Before the fix xdg-open got the address itself.
class ConsoleOpenerTest : public ConsoleTest {
 protected:
  // Starts the console with a recording opener; what it was given (its
  // arguments, one a line), once it ran.
  std::string StartWithOpener() {
    const std::string script = dir_.File("opener.sh");
    record_ = dir_.File("opener.out");
    {
      std::FILE* f = std::fopen(script.c_str(), "w");
      std::fprintf(f, "#!/bin/sh\nprintf '%%s\\n' \"$@\" > %s.tmp\nmv %s.tmp %s\n",
                   record_.c_str(), record_.c_str(), record_.c_str());
      std::fclose(f);
      chmod(script.c_str(), 0700);
    }
    console_.open_browser = true;
    StartConsole({}, {"/usr/bin/env", "FIELDSYNC_BROWSER=" + script});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (access(record_.c_str(), F_OK) != 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    auto out = harness::Run({"/bin/cat", record_});
    return out.out;
  }
  std::string record_;
};

TEST_F(ConsoleOpenerTest, TheOpenerGetsAFileNotTheToken) {
  const std::string argv = StartWithOpener();
  ASSERT_FALSE(token_.empty());
  EXPECT_EQ(argv.find(token_), std::string::npos) << argv;
  const std::string file = node_ + "/console-open.html";
  EXPECT_EQ(argv, "file://" + file + "\n");
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(harness::Run({"/bin/cat", file}).out.find("?token=" + token_), std::string::npos);
  EXPECT_FALSE(SignIn().empty());
  EXPECT_NE(stat(file.c_str(), &st), 0) << "the file stays after its token was spent";
}

TEST_F(ConsoleOpenerTest, TheFileGoesWhenTheConsoleStops) {
  StartWithOpener();
  const std::string file = node_ + "/console-open.html";
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(console_.Stop(), 0);
  EXPECT_NE(stat(file.c_str(), &st), 0) << "the file stays after the console stopped";
}

TEST_F(ConsoleTest, AFieldIsChangedThroughTheLibrarysRulesAndACaseClosedOnce) {
  StartConsole();
  const std::string session = SignIn();
  auto unlocked = Post("/api/unlock", session, {{"passphrase", kConsolePass}}, Origin());
  ASSERT_TRUE(unlocked);
  ASSERT_EQ(unlocked->status, 200) << unlocked->body;
  auto made = Post("/api/intake", session,
                   {{"person", {{"full_name", "Giàng Thị Sua"}, {"sex", "female"}}}}, Origin());
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 200) << made->body;
  const std::string code = Body(made)["case_code"];

  auto set = Post("/api/setfield", session,
                  {{"ref", code}, {"field", "case.status"}, {"value", "verifying"}}, Origin());
  ASSERT_TRUE(set);
  ASSERT_EQ(set->status, 200) << set->body;
  auto name = Post("/api/setfield", session,
                   {{"ref", code}, {"field", "person.phones"}, {"value", "0987 654 321"}},
                   Origin());
  ASSERT_TRUE(name);
  ASSERT_EQ(name->status, 200) << name->body;
  // The library's refusals, said with the catalogue's key; nothing changed.
  auto bad = Post("/api/setfield", session,
                  {{"ref", code}, {"field", "case.status"}, {"value", "lost"}}, Origin());
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_EQ(Body(bad)["error"], "err.invalid");
  auto fixed = Post("/api/setfield", session,
                    {{"ref", code}, {"field", "case.province"}, {"value", "HN"}}, Origin());
  ASSERT_TRUE(fixed);
  EXPECT_GE(fixed->status, 400) << fixed->body;
  auto file = Get("/api/case?ref=" + code, session);
  ASSERT_TRUE(file);
  EXPECT_NE(file->body.find("\"value\":\"verifying\""), std::string::npos) << file->body;
  EXPECT_NE(file->body.find("0987 654 321"), std::string::npos) << file->body;
  EXPECT_EQ(file->body.find("\"value\":\"HN\""), std::string::npos) << file->body;

  auto closed = Post("/api/close", session, {{"ref", code}}, Origin());
  ASSERT_TRUE(closed);
  ASSERT_EQ(closed->status, 200) << closed->body;
  auto twice = Post("/api/close", session, {{"ref", code}}, Origin());
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->status, 409) << twice->body;
  EXPECT_EQ(Body(twice)["error"], "err.refused");
}

// A form's flags are JSON booleans: anything else (text, a number, null, an
// object) is one clear error naming the field, no case opened (before, the
// JSON library's type error escaped the route: httplib answered 500 with
// its own header).
TEST_F(ConsoleTest, AnIntakeWhoseUrgentIsNotABooleanIsOneClearError) {
  StartConsole();
  session_ = SignIn();
  Unlock();
  const Json person = {{"full_name", "Hà Thị Lan"}, {"sex", "female"}};
  for (const char* flag : {"urgent", "crime_report"}) {
    for (const Json& wrong : {Json("yes"), Json(1), Json(nullptr), Json{{"a", true}}}) {
      auto r = Change("intake", {{"person", person}, {flag, wrong}});
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 400) << flag << "=" << wrong.dump() << ": " << r->body;
      EXPECT_TRUE(r->get_header_value("EXCEPTION_WHAT").empty()) << r->get_header_value("EXCEPTION_WHAT");
      const Json body = Json::parse(r->body, nullptr, false);
      ASSERT_TRUE(body.is_object()) << r->body;
      EXPECT_EQ(body["error"], "err.invalid") << r->body;
      EXPECT_EQ(body["field"], flag) << r->body;
    }
  }
  EXPECT_EQ(Page("cases")["total"], 0) << "no case was opened";
  auto ok = Change("intake", {{"person", person}, {"urgent", true}, {"crime_report", false}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(Body(ok)["urgent"], true);
}

// The intake form's inline error goes to the field the library's message
// names, not to a column its words happen to mention: "narrative" typed as
// the channel is the channel's error (before, the words named the narrative
// too, and the last column they mentioned took the error).
TEST_F(ConsoleTest, AnIntakeErrorIsTheFieldTheLibraryNamesNotOneItsWordsMention) {
  StartConsole();
  session_ = SignIn();
  Unlock();
  auto r = Change("intake", {{"person", {{"full_name", "Hà Thị Lan"}, {"sex", "female"}}},
                             {"case", {{"intake_channel", "narrative"},
                                       {"narrative", "Bị lừa sang biên giới"}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  const Json body = Json::parse(r->body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << r->body;
  EXPECT_EQ(body["message"]["key"], "lib.value.not_allowed") << r->body;
  EXPECT_EQ(body["field"], "intake_channel") << r->body;
  EXPECT_EQ(Page("cases")["total"], 0) << "a case was opened";
}

// The access log is an audit of who opened which case's sealed fields:
// the console writes an opening once per case, field and action per unlock,
// not at each re-reading (the page reads the file again after every change;
// before, each GET /api/case was a new signed commit of the access log).
TEST_F(ConsoleTest, AnOpeningIsLoggedOncePerUnlockNotAtEachReading) {
  StartConsole();
  const std::string session = SignIn();
  auto unlocked = Post("/api/unlock", session, {{"passphrase", kConsolePass}}, Origin());
  ASSERT_TRUE(unlocked);
  ASSERT_EQ(unlocked->status, 200) << unlocked->body;
  auto made = Post("/api/intake", session,
                   {{"person", {{"full_name", "Vàng Thị Mỷ"}, {"sex", "female"}}}}, Origin());
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 200) << made->body;
  const std::string code = Body(made)["case_code"];
  auto entries = [&] {
    ReplicaOptions o;
    o.path = node_ + "/replica.db";
    auto r = Replica::Open(o);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return size_t{0};
    auto rows = (*r)->ListRows("access_log", /*include_deleted=*/true);
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? rows->size() : size_t{0};
  };
  const size_t before = entries();
  for (int i = 0; i < 3; ++i) {
    auto file = Get("/api/case?ref=" + code, session);
    ASSERT_TRUE(file);
    ASSERT_EQ(file->status, 200) << file->body;
    EXPECT_NE(file->body.find("Vàng Thị Mỷ"), std::string::npos) << file->body;
    auto found = Get("/api/search?q=vang%20thi%20my", session);
    ASSERT_TRUE(found);
    ASSERT_EQ(found->status, 200) << found->body;
  }
  // The key agent's search index built once (its own entry, session 24:
  // node/ops/case_search.h), then each case shown once.
  EXPECT_EQ(entries(), before + 3)
      << "one showing, one index built, one search, not one per reading";
  // Another unlock is another opening: logged again, once.
  ASSERT_TRUE(Post("/api/lock", session, Json::object(), Origin()));
  ASSERT_EQ(Post("/api/unlock", session, {{"passphrase", kConsolePass}}, Origin())->status, 200);
  ASSERT_EQ(Get("/api/case?ref=" + code, session)->status, 200);
  ASSERT_EQ(Get("/api/case?ref=" + code, session)->status, 200);
  EXPECT_EQ(entries(), before + 4);
  // A locked console opens nothing and logs nothing.
  ASSERT_TRUE(Post("/api/lock", session, Json::object(), Origin()));
  ASSERT_EQ(Get("/api/case?ref=" + code, session)->status, 200);
  EXPECT_EQ(entries(), before + 4);
}

TEST_F(ConsoleTest, TheConsoleLocksItselfWhenIdle) {
  StartConsole({"--idle-lock", "2s"});
  const std::string session = SignIn();
  auto unlocked = Post("/api/unlock", session, {{"passphrase", kConsolePass}}, Origin());
  ASSERT_TRUE(unlocked);
  ASSERT_EQ(unlocked->status, 200) << unlocked->body;
  const auto started = std::chrono::steady_clock::now();
  // Watched from outside (the agent's own status), not through the page:
  // a request of the page would be activity.
  while (node::AgentExpiry(node_).has_value() &&
         std::chrono::steady_clock::now() - started < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(node::AgentExpiry(node_).has_value()) << "still unlocked after 30 s";
  EXPECT_GE(took, std::chrono::milliseconds(1500)) << "locked before the idle time";
  auto state = Get("/api/state", session);
  ASSERT_TRUE(state);
  EXPECT_EQ(Body(state)["unlocked"], false);
}

TEST_F(ConsoleTest, StoppingTheConsoleLocks) {
  StartConsole();
  const std::string session = SignIn();
  auto unlocked = Post("/api/unlock", session, {{"passphrase", kConsolePass}}, Origin());
  ASSERT_TRUE(unlocked);
  ASSERT_EQ(unlocked->status, 200) << unlocked->body;
  EXPECT_EQ(console_.Stop(), 0);
  EXPECT_FALSE(node::AgentExpiry(node_).has_value());
}

}  // namespace
}  // namespace fieldsync::testing
