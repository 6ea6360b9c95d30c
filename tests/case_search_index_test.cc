// The key agent's search index of case names (node/agent_index.h,
// node/ops/case_search.h): its answers are the linear search's (random
// Vietnamese names, typed in NFC and NFD, the seed printed); a write of this
// laptop and a change pulled from a colleague are found by the next search;
// locking drops it (a locked agent answers nothing); the access log holds
// one "index built" entry per unlock; no clear name reaches the disk; only
// the fieldnode program may ask the agent about it. A real hub (in this
// process), two laptops of one office, a real agent (this program executed
// afresh, as the console starts it) over its Unix socket.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "node/agent.h"
#include "node/agent_exec.h"
#include "node/agent_index.h"
#include "node/ops/case_search.h"
#include "node/ops/cases.h"
#include "store/access_log.h"
#include "support/sync_fixture.h"
#include "text/text.h"

namespace fieldsync::testing {
namespace {

// This program executed as `PROGRAM __agent` is the agent (StartKeptAgent
// execs /proc/self/exe, as the console's fieldnode does), before any test.
int RunAsAgentIfAsked() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t first = cmdline.find('\0');
  if (first == std::string::npos) return 0;
  if (cmdline.compare(first + 1, std::string::npos,
                      std::string(node::kAgentExecWord) + std::string(1, '\0')) != 0) {
    return 0;
  }
  _exit(node::RunExecutedAgent());
}
[[maybe_unused]] const int kRanAsAgent = RunAsAgentIfAsked();

// Another program of the same user (a copy of this one): with
// FIELDSYNC_INDEX_TEST_ASK=DIR it asks DIR's agent X, then Q, each on a
// connection of its own, prints the bytes answered in hex, and exits.
int AskAsAnotherProgram() {
  const char* dir = getenv("FIELDSYNC_INDEX_TEST_ASK");
  if (dir == nullptr) return 0;
  for (const std::string& req : {std::string("X"), std::string("Q\0\4hang", 7)}) {
    const std::string path = node::AgentSocketPath(dir);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      std::printf("no-connection ");
      continue;
    }
    (void)send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string got;
    bool closed = false;
    while (true) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) break;
      char buf[256];
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) {
        closed = true;
        break;
      }
      got.append(buf, static_cast<size_t>(n));
    }
    std::printf("%c:", req[0]);
    for (unsigned char c : got) std::printf("%02x", c);
    std::printf("%s ", closed ? ",closed" : "");
    close(fd);
  }
  std::printf("\n");
  std::fflush(stdout);
  _exit(0);
}
[[maybe_unused]] const int kAsked = AskAsAnotherProgram();

// Names as offices type them, with every Vietnamese diacritic in use.
const std::vector<std::string> kFamily = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh",
                                          "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
                                          "Dương", "Lý", "Giàng", "Sùng", "Vàng"};
const std::vector<std::string> kMiddle = {"Thị", "Văn", "Ngọc", "Đức", "Minh", "Thu", "Hữu",
                                          "Xuân", "Mỹ", "Quốc"};
const std::vector<std::string> kGiven = {"Hằng", "Lan", "Hương", "Mai", "Dũng", "Tuấn",
                                         "Phượng", "Yến", "Nhung", "Thảo", "Sềnh", "Mỷ",
                                         "Dế", "Pà", "Chứ", "Ánh", "Ổn", "Ước"};
const std::vector<std::string> kPlaces = {"Sa Pa", "Bắc Hà", "Mường Khương", "Bát Xát",
                                          "Lào Cai", "Văn Bàn", "Hà Khẩu", "Móng Cái"};

// `s` decomposed (NFD) as some keyboards send it: the precomposed letters
// the lists above use, spelt as base letter and combining marks.
std::string Decomposed(const std::string& s) {
  static const std::vector<std::pair<std::string, std::string>> kMap = {
      {"ễ", "e\xcc\x82\xcc\x83"}, {"ầ", "a\xcc\x82\xcc\x80"}, {"ằ", "a\xcc\x86\xcc\x80"},
      {"ị", "i\xcc\xa3"},         {"ă", "a\xcc\x86"},         {"ư", "u\xcc\x9b"},
      {"ơ", "o\xcc\x9b"},         {"ợ", "o\xcc\x9b\xcc\xa3"}, {"ọ", "o\xcc\xa3"},
      {"à", "a\xcc\x80"},         {"á", "a\xcc\x81"},         {"ạ", "a\xcc\xa3"},
      {"ũ", "u\xcc\x83"},         {"ù", "u\xcc\x80"},         {"ồ", "o\xcc\x82\xcc\x80"},
      {"ỗ", "o\xcc\x82\xcc\x83"}, {"ổ", "o\xcc\x82\xcc\x89"}, {"ố", "o\xcc\x82\xcc\x81"},
      {"ế", "e\xcc\x82\xcc\x81"}, {"ề", "e\xcc\x82\xcc\x80"}, {"ả", "a\xcc\x89"},
      {"ỹ", "y\xcc\x83"},         {"ỷ", "y\xcc\x89"},         {"ý", "y\xcc\x81"},
      {"ứ", "u\xcc\x9b\xcc\x81"}, {"ữ", "u\xcc\x9b\xcc\x83"}, {"ớ", "o\xcc\x9b\xcc\x81"},
      {"ờ", "o\xcc\x9b\xcc\x80"}, {"ặ", "a\xcc\x86\xcc\xa3"}, {"ì", "i\xcc\x80"},
      {"ú", "u\xcc\x81"},         {"Á", "A\xcc\x81"},         {"Ổ", "O\xcc\x82\xcc\x89"},
      {"Ư", "U\xcc\x9b"},         {"Ớ", "O\xcc\x9b\xcc\x81"}, {"ố", "o\xcc\x82\xcc\x81"},
      {"ỳ", "y\xcc\x80"},         {"ấ", "a\xcc\x82\xcc\x81"}, {"ậ", "a\xcc\x82\xcc\xa3"},
      {"õ", "o\xcc\x83"},         {"ò", "o\xcc\x80"},         {"ó", "o\xcc\x81"},
  };
  std::string out = s;
  for (const auto& [pre, dec] : kMap) {
    for (size_t at = out.find(pre); at != std::string::npos; at = out.find(pre, at + dec.size())) {
      out.replace(at, pre.size(), dec);
    }
  }
  return out;
}

std::string Hex(std::string_view s) {
  std::string out;
  for (unsigned char c : s) absl::StrAppend(&out, absl::Hex(c, absl::kZeroPad2));
  return out;
}

class CaseSearchIndexTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    a_ = &AddNode("LC");
    b_ = &AddNode("LC");
    a_office_ = std::make_unique<node::ops::Office>(node::ops::Office{
        a_->replica(), *a_->keys(), "LC", "Lò Thị Mai", "unlock it", SystemClock::Get()});
    b_office_ = std::make_unique<node::ops::Office>(node::ops::Office{
        b_->replica(), *b_->keys(), "LC", "Giàng A Páo", "unlock it", SystemClock::Get()});
  }
  void TearDown() override {
    node::StopAgent(a_->dir());
    SyncTest::TearDown();
  }

  // Laptop a's keys moved into a key agent, as `fieldnode console` or
  // `fieldnode unlock` leave them: its key ring holds the delegated
  // identity that asks the agent.
  void Unlock() { UnlockInAgent(*a_); }
  static void UnlockInAgent(harness::LocalNode& n) {
    const int64_t until = SystemClock::Get()->NowMillis() + 600'000;
    auto kept = node::StartKeptAgent(n.dir(), n.identity().Clone(), until);
    ASSERT_TRUE(kept.ok()) << kept.status();
    n.keys()->Lock();
    ASSERT_TRUE(n.keys()->Unlock(std::move(kept->identity)).ok());
    n.replica().SetSecurity(n.keys()->Security());
    ASSERT_NE(node::NameIndexOf(*n.keys()->identity()), nullptr);
  }

  node::NameIndexClient* Index() { return node::NameIndexOf(*a_->keys()->identity()); }

  std::string NewCaseOn(const node::ops::Office& o, const std::string& name,
                        const std::string& other = "", const std::string& address = "",
                        const std::string& places = "") {
    node::ops::NewCase in;
    in.person = {{"full_name", name}};
    if (!other.empty()) in.person.push_back({"other_names", other});
    if (!address.empty()) in.person.push_back({"current_address", address});
    if (!places.empty()) in.kase.push_back({"exact_places", places});
    auto c = node::ops::OpenCase(o, in);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->code : "";
  }

  // Entries of a's access log that record an index built.
  int IndexBuiltEntries() {
    auto log = ReadAccessLog(a_->replica());
    EXPECT_TRUE(log.ok()) << log.status();
    int n = 0;
    for (const AccessEntry& e : log.ok() ? *log : std::vector<AccessEntry>{}) {
      if (e.device == a_->replica().device_id() && e.case_id == RowId() &&
          e.fields == node::ops::kIndexBuiltFields) {
        ++n;
      }
    }
    return n;
  }

  std::vector<std::string> Codes(const std::vector<node::ops::CaseHit>& hits) {
    std::vector<std::string> out;
    for (const auto& h : hits) out.push_back(h.code);
    return out;
  }

  // The indexed search and the linear one answer `q` alike.
  void ExpectSameAnswer(const std::string& q, uint32_t seed) {
    auto indexed = node::ops::SearchCases(*a_office_, q);
    auto linear = node::ops::SearchCasesLinear(*a_office_, q);
    ASSERT_TRUE(indexed.ok()) << q << ": " << indexed.status();
    ASSERT_TRUE(linear.ok()) << q << ": " << linear.status();
    EXPECT_EQ(*indexed, *linear) << "query \"" << q << "\" (" << Hex(q) << "), seed " << seed
                                 << ": indexed " << ::testing::PrintToString(Codes(*indexed))
                                 << ", linear " << ::testing::PrintToString(Codes(*linear));
  }

  harness::LocalNode* a_ = nullptr;
  harness::LocalNode* b_ = nullptr;
  std::unique_ptr<node::ops::Office> a_office_, b_office_;
};

TEST_F(CaseSearchIndexTest, AnswersAsTheLinearSearchForRandomVietnameseNamesInNfcAndNfd) {
  const uint32_t seed = getenv("FIELDSYNC_SEED") != nullptr
                            ? static_cast<uint32_t>(std::strtoul(getenv("FIELDSYNC_SEED"), nullptr, 10))
                            : std::random_device{}();
  std::printf("seed %u (replay: FIELDSYNC_SEED=%u)\n", seed, seed);
  std::mt19937 rng(seed);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  std::vector<std::string> names;
  for (int i = 0; i < 120; ++i) {
    std::string name = absl::StrCat(pick(kFamily), " ", pick(kMiddle), " ", pick(kGiven));
    names.push_back(name);
    const std::string typed = rng() % 3 == 0 ? Decomposed(name) : name;  // some typed in NFD
    const std::string other = rng() % 4 == 0 ? pick(kGiven) : "";
    const std::string address = rng() % 3 == 0 ? pick(kPlaces) : "";
    const std::string places = rng() % 4 == 0 ? pick(kPlaces) : "";
    NewCaseOn(*a_office_, typed, other, address, places);
  }
  Unlock();
  std::vector<std::string> queries = {"nguyen thi hang", "Nguyễn Thị Hằng", "HANG", "đặng",
                                      "dang", "thi sa pa", "zzz", "hằng lào cai",
                                      Decomposed("Nguyễn Thị Hằng"), "  lan  "};
  for (int i = 0; i < 60; ++i) {
    const std::string& n = names[rng() % names.size()];
    std::vector<std::string> words;
    std::istringstream in(n);
    for (std::string w; in >> w;) words.push_back(w);
    std::string q = words[rng() % words.size()];
    if (rng() % 2 == 0) q = absl::StrCat(q, " ", words[rng() % words.size()]);
    if (rng() % 3 == 0) q = absl::StrCat(q, " ", pick(kPlaces));
    switch (rng() % 3) {
      case 0: q = text::FoldForSearch(q); break;  // typed without diacritics
      case 1: q = Decomposed(q); break;           // typed in NFD
      default: break;
    }
    queries.push_back(q);
  }
  for (const std::string& q : queries) ExpectSameAnswer(q, seed);
  auto st = Index()->IndexState();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(st->ready) << "the searches went through the agent's index";
  EXPECT_EQ(st->entries, 120u);
}

TEST_F(CaseSearchIndexTest, AWriteHereAndAChangePulledAppearInTheNextSearch) {
  for (int i = 0; i < 20; ++i) NewCaseOn(*a_office_, absl::StrCat("Vàng Thị Mỷ ", i));
  MustSync(*a_);
  MustSync(*b_);
  Unlock();
  auto first = node::ops::SearchCases(*a_office_, "vang thi my");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), 20u);

  // A case opened on this laptop, and a name changed here.
  const std::string mine = NewCaseOn(*a_office_, "Sùng Thị Dế");
  ASSERT_TRUE(node::ops::SetCaseField(*a_office_, {(*first)[0].code, "full_name", "Lù Thị Chứ"}).ok());
  auto hits = node::ops::SearchCases(*a_office_, "sung thi de");
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(Codes(*hits), std::vector<std::string>{mine});
  hits = node::ops::SearchCases(*a_office_, "lu thi chu");
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(Codes(*hits), std::vector<std::string>{(*first)[0].code});
  hits = node::ops::SearchCases(*a_office_, "vang thi my");
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(hits->size(), 19u) << "the old name is no longer found";

  // A colleague's new case and a name the colleague changed, pulled.
  const std::string theirs = NewCaseOn(*b_office_, "Hầu Thị Pà");
  ASSERT_TRUE(
      node::ops::SetCaseField(*b_office_, {(*first)[1].code, "full_name", "Thào Thị Sềnh"}).ok());
  MustSync(*b_);
  MustSync(*a_);
  hits = node::ops::SearchCases(*a_office_, "hau thi pa");
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(Codes(*hits), std::vector<std::string>{theirs});
  hits = node::ops::SearchCases(*a_office_, "thao senh");
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(Codes(*hits), std::vector<std::string>{(*first)[1].code});
  for (const std::string q : {"vang thi my", "thi", "sung de", "hau pa"}) {
    ExpectSameAnswer(q, 0);
  }
  EXPECT_EQ(IndexBuiltEntries(), 1) << "built once, then kept up to date";
}

TEST_F(CaseSearchIndexTest, ACaseReferredHereIsFoundOnceItsKeyArrives) {
  harness::LocalNode& hn = AddNode("HN");
  UnlockInAgent(hn);
  node::ops::Office hn_office{hn.replica(), *hn.keys(), "HN", "Trần Văn Nam", "unlock it",
                              SystemClock::Get()};
  for (int i = 0; i < 5; ++i) NewCaseOn(hn_office, absl::StrCat("Đinh Thị Lụa ", i));
  auto none = node::ops::SearchCases(hn_office, "mua thi su");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  const std::string code = NewCaseOn(*a_office_, "Mùa Thị Sú", "", "Bắc Hà");
  auto mine = node::ops::SearchCasesLinear(*a_office_, "mua thi su");
  ASSERT_TRUE(mine.ok() && mine->size() == 1);
  const RowId ref = Refer(a_->replica(), (*mine)[0].id, "LC", "HN");
  AcceptReferral(*a_, hn, ref);
  auto hits = node::ops::SearchCases(hn_office, "mua thi su");
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(Codes(*hits), std::vector<std::string>{code});
  auto linear = node::ops::SearchCasesLinear(hn_office, "mua thi su");
  ASSERT_TRUE(linear.ok()) << linear.status();
  EXPECT_EQ(*hits, *linear);
  hits = node::ops::SearchCases(hn_office, "bac ha lua");
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_TRUE(hits->empty()) << "no case of Hà Nội's holds both";
  node::StopAgent(hn.dir());
}

TEST_F(CaseSearchIndexTest, LockDropsTheIndexAndEachUnlockRecordsOneBuild) {
  for (int i = 0; i < 10; ++i) NewCaseOn(*a_office_, absl::StrCat("Ngô Thị Thảo ", i));
  Unlock();
  for (int i = 0; i < 5; ++i) {
    auto hits = node::ops::SearchCases(*a_office_, "ngo thao");
    ASSERT_TRUE(hits.ok()) << hits.status();
    EXPECT_EQ(hits->size(), 10u);
  }
  EXPECT_EQ(IndexBuiltEntries(), 1) << "one entry for the index, not one per search";

  // Locked: the agent is gone, and nothing answers a search.
  node::NameIndexClient* old = Index();
  ASSERT_TRUE(node::StopAgent(a_->dir()));
  auto gone = old->IndexQuery("ngo thao");
  EXPECT_FALSE(gone.ok()) << "a locked agent answers nothing";
  auto hits = node::ops::SearchCases(*a_office_, "ngo thao");
  EXPECT_FALSE(hits.ok());
  // The agent removes its socket as it exits.
  for (int i = 0; i < 300 && access(node::AgentSocketPath(a_->dir()).c_str(), F_OK) == 0; ++i) {
    usleep(10'000);
  }
  auto none = node::AgentIdentity(a_->dir());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value()) << "no agent after lock";

  // Unlocked again: a new agent holds no index until the first search
  // builds it, which the access log records once more.
  Unlock();
  auto st = Index()->IndexState();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_FALSE(st->ready);
  EXPECT_EQ(st->entries, 0u);
  for (int i = 0; i < 3; ++i) {
    hits = node::ops::SearchCases(*a_office_, "ngo thao");
    ASSERT_TRUE(hits.ok()) << hits.status();
    EXPECT_EQ(hits->size(), 10u);
  }
  EXPECT_EQ(IndexBuiltEntries(), 2) << "one entry per unlock";
}

TEST_F(CaseSearchIndexTest, NoClearNameReachesTheDiskAndOnlyTheProgramMayAsk) {
  const std::string unique = "Quàng Thị Xoòng Nhớ";
  NewCaseOn(*a_office_, unique, "", "Bản Xèo Xạ");
  for (int i = 0; i < 10; ++i) NewCaseOn(*a_office_, absl::StrCat("Lò Văn Páo ", i));
  Unlock();
  for (const std::string q : {"quang xoong", "nho", "ban xeo", "lo pao"}) {
    auto hits = node::ops::SearchCases(*a_office_, q);
    ASSERT_TRUE(hits.ok()) << hits.status();
    EXPECT_FALSE(hits->empty()) << q;
  }
  // Every file of the test (laptops, hub) read whole: neither the name nor
  // its folded form held by the index is there.
  const std::vector<std::string> secrets = {unique, text::FoldForSearch(unique), "xoong nho",
                                            "Xoòng", "ban xeo xa"};
  size_t files = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir_.path())) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    ++files;
    for (const std::string& s : secrets) {
      EXPECT_EQ(bytes.find(s), std::string::npos) << "\"" << s << "\" in " << f.path();
    }
  }
  EXPECT_GT(files, 2u);

  // Another program of the same user is refused the index (status 1, the
  // connection closed), as it is refused signing and opening.
  const std::string copy = dir_.File("another-program");
  std::filesystem::copy_file(std::filesystem::read_symlink("/proc/self/exe"), copy);
  harness::CommandResult r = harness::Run(
      {"/usr/bin/env", absl::StrCat("FIELDSYNC_INDEX_TEST_ASK=", a_->dir()), copy});
  EXPECT_EQ(r.out, "X:01,closed Q:01,closed \n") << r.err;
}

}  // namespace
}  // namespace fieldsync::testing
