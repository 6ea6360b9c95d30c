// Who viewed what (schema version 3): access-log entries sync to the hub and
// to the other laptops of the office only, stay chained, and the hub keeps
// the log append-only: an edit, a deletion, or an entry naming another
// device is refused and nothing of it is stored.
#include <gtest/gtest.h>

#include "clock/clock_source.h"
#include "store/access_log.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

class AccessLogSyncTest : public SyncTest {
 protected:
  static AccessEntry Append(harness::LocalNode& n, const std::string& province,
                            const RowId& kase, const std::string& action) {
    auto e = AppendAccess(n.replica(), province, "Lò Thị Mai", kase, action,
                          "persons.full_name,cases.narrative", SystemClock::Get()->NowMillis());
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : AccessEntry{};
  }
  static size_t Entries(Replica& r) {
    auto all = ReadAccessLog(r);
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? all->size() : 0;
  }
};

TEST_F(AccessLogSyncTest, EntriesReachTheHubAndTheOfficeOnlyAndStayChained) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId kase = NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  const AccessEntry first = Append(lc1, "LC", kase, "show");
  const AccessEntry second = Append(lc1, "LC", kase, "search");
  EXPECT_EQ(first.seq, 1);
  EXPECT_EQ(second.seq, 2);
  EXPECT_EQ(second.prev_hash, first.entry_hash);
  for (int pass = 0; pass < 2; ++pass) {
    for (auto* n : {&lc1, &lc2, &hn}) MustSync(*n);
  }
  auto hub = OpenHubRows();
  auto at_hub = hub->AccessLog();
  ASSERT_TRUE(at_hub.ok()) << at_hub.status();
  ASSERT_EQ(at_hub->size(), 2u);
  EXPECT_TRUE(VerifyAccessChains(*at_hub).empty());
  EXPECT_EQ((*at_hub)[0].case_id, kase);
  EXPECT_EQ((*at_hub)[0].officer, "Lò Thị Mai");
  EXPECT_EQ(Entries(lc2.replica()), 2u);  // the office's other laptop
  EXPECT_EQ(Entries(hn.replica()), 0u);   // not another office
}

TEST_F(AccessLogSyncTest, TheHubRefusesAnEditADeletionAndAnEntryOfAnotherDevice) {
  auto& lc = AddNode("LC");
  const RowId kase = NewCase(lc.replica(), "LC", "Vàng Thị Dợ");
  const AccessEntry e = Append(lc, "LC", kase, "show");
  MustSync(lc);
  auto before = HubLogHead();
  ASSERT_TRUE(before.ok());

  SetField(lc.replica(), "access_log", e.id, "officer", Value::Text("ai đó khác"));
  absl::Status edit = RefusedPush(lc);
  EXPECT_NE(edit.message().find("append-only"), absl::string_view::npos) << edit;
  EXPECT_EQ(*HubLogHead(), *before);
  auto at_hub = OpenHubRows()->AccessLog();
  ASSERT_TRUE(at_hub.ok());
  ASSERT_EQ(at_hub->size(), 1u);
  EXPECT_EQ((*at_hub)[0].officer, "Lò Thị Mai");  // the edit was not stored

  // Another laptop writing an entry in the first one's name.
  auto& other = AddNode("LC");
  MustSync(other);
  LocalTxn t;
  t.Create("access_log", Id16::NewRandom(),
           {{"device", Value::Bytes(std::string(lc.replica().device_id().view()))},
            {"officer", Value::Text("giả mạo")},
            {"case_id", Value::Bytes(std::string(kase.view()))},
            {"action", Value::Text("show")},
            {"seq", Value::Int(2)},
            {"province", Value::Text("LC")}});
  ASSERT_TRUE(other.replica().Write(t).ok());
  absl::Status forged = RefusedPush(other);
  EXPECT_NE(forged.message().find("names another device"), absl::string_view::npos) << forged;
  EXPECT_EQ(*HubLogHead(), *before);

  // A third laptop of the office deleting the entry.
  auto& third = AddNode("LC");
  MustSync(third);
  LocalTxn del;
  del.Delete("access_log", e.id);
  ASSERT_TRUE(third.replica().Write(del).ok());
  absl::Status deleted = RefusedPush(third);
  EXPECT_NE(deleted.message().find("append-only"), absl::string_view::npos) << deleted;
  EXPECT_EQ(*HubLogHead(), *before);
  EXPECT_EQ(OpenHubRows()->AccessLog()->front().live, true);
}

TEST(AccessChainTest, GapsForksEditsAndDeletionsAreEachReported) {
  std::vector<AccessEntry> chain;
  const DeviceId d = Id16::NewRandom();
  std::string prev;
  for (int i = 1; i <= 5; ++i) {
    AccessEntry e;
    e.id = Id16::NewRandom();
    e.device = d;
    e.officer = "Lê Văn Tám";
    e.case_id = Id16::NewRandom();
    e.at_millis = 1'700'000'000'000 + i;
    e.action = "show";
    e.fields = "persons.full_name";
    e.seq = i;
    e.province = "LC";
    e.prev_hash = prev;
    e.entry_hash = AccessEntryHash(e);
    prev = e.entry_hash;
    chain.push_back(e);
  }
  EXPECT_TRUE(VerifyAccessChains(chain).empty());
  auto problems_of = [](std::vector<AccessEntry> c) {
    std::string all;
    for (const ChainProblem& p : VerifyAccessChains(c)) all += p.problem + "\n";
    return all;
  };
  {
    auto c = chain;
    c.erase(c.begin() + 2);  // seq 3 gone
    EXPECT_NE(problems_of(c).find("entry 3 is missing"), std::string::npos) << problems_of(c);
  }
  {
    auto c = chain;
    c[1].officer = "người khác";  // edited in place
    EXPECT_NE(problems_of(c).find("entry 2 was edited"), std::string::npos) << problems_of(c);
  }
  {
    auto c = chain;
    c[1].officer = "người khác";  // edited, hash recomputed: the next one no longer follows
    c[1].entry_hash = AccessEntryHash(c[1]);
    EXPECT_NE(problems_of(c).find("entry 3 does not follow entry 2"), std::string::npos)
        << problems_of(c);
  }
  {
    auto c = chain;
    c.push_back(chain[4]);
    c.back().id = Id16::NewRandom();
    EXPECT_NE(problems_of(c).find("two entries with seq 5"), std::string::npos) << problems_of(c);
  }
  {
    auto c = chain;
    c[3].live = false;
    EXPECT_NE(problems_of(c).find("was deleted"), std::string::npos) << problems_of(c);
  }
}

}  // namespace
}  // namespace fieldsync::testing
