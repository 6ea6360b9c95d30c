// Which log entries a pull reads (hub/scope.h, hub_log_scope; attack
// review 86, MED 1). A pull read, besides its own province's and the shared
// directory's entries, the whole log of every office owning or granted a
// case granted to it: an office that referred one case to every province
// made every province read every other office's whole log (and checkpoint
// adoption rescan it). From hub schema version 7 each entry is kept under
// every province that sees what it touched, when written or since, and a
// pull reads its own province's entries and '*'; a file of an older
// version keeps the older rule for the entries it held.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "hub/scope.h"
#include "store/sqlite.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

class LogScopeTest : public SyncTest {
 protected:
  // The positions in (after, head] a pull by `province` reads
  // (Scope::LogEntries, as hub/pull_plan.cc does), and the head; read
  // from the hub's store while it serves.
  std::vector<int64_t> ReadBy(const std::string& province, int64_t after,
                              int64_t* head_out = nullptr) {
    std::vector<int64_t> out;
    std::unique_ptr<HubRows> rows = OpenHubRows();
    if (rows == nullptr) return out;
    absl::Status s = rows->Read([&](hub::HubReadTxn& t) -> absl::Status {
      FS_ASSIGN_OR_RETURN(const int64_t head, t.LogHead());
      if (head_out != nullptr) *head_out = head;
      hub::Scope scope(t);
      int64_t at = after;
      while (true) {
        FS_ASSIGN_OR_RETURN(std::vector<hub::LogEntry> entries,
                            scope.LogEntries(province, at, head, 1000));
        if (entries.empty()) break;
        for (const hub::LogEntry& e : entries) out.push_back(e.position);
        at = entries.back().position;
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
  int64_t Head() {
    int64_t head = 0;
    ReadBy("LC", 0, &head);
    return head;
  }
  static std::string Status(harness::LocalNode& n, const RowId& kase) {
    auto row = n.replica().Get("cases", kase);
    if (!row.ok() || !row->has_value()) return "(not held)";
    const int col = n.replica().schema().FindTable("cases")->ColumnIndex("status");
    const Value& v = (*row)->values[static_cast<size_t>(col)];
    return v.kind() == Value::Kind::kText ? v.str() : "(none)";
  }
};

TEST_F(LogScopeTest, ACaseReferredToEveryOfficeAddsOnlyItsOwnEntriesToTheirPulls) {
  ASSERT_TRUE(hub_->AddProvince("DN", "Đà Nẵng").ok());
  harness::LocalNode& lc = AddNode("LC");
  harness::LocalNode& hn = AddNode("HN");
  harness::LocalNode& dn = AddNode("DN");
  for (auto* n : {&lc, &hn, &dn, &lc}) MustSync(*n);
  // Lào Cai refers one case to every other office.
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng");
  Refer(lc.replica(), kase, "LC", "DN");
  Refer(lc.replica(), kase, "LC", "HN");
  MustSync(lc);
  MustSync(hn);
  MustSync(dn);
  ASSERT_TRUE(Holds(dn, "cases", kase)) << "the premise: Đà Nẵng holds the referred case";
  const int64_t before = Head();
  // Both offices sharing the case write many records of their own.
  constexpr int kOwn = 15;
  for (int i = 0; i < kOwn; ++i) {
    NewCase(lc.replica(), "LC", absl::StrCat("Lò Thị Mai ", i));
    NewCase(hn.replica(), "HN", absl::StrCat("Trần Thị Lan ", i));
  }
  MustSync(lc);
  MustSync(hn);
  const std::vector<int64_t> unrelated = ReadBy("DN", before);
  EXPECT_TRUE(unrelated.empty()) << "a pull of Đà Nẵng reads " << unrelated.size()
                                 << " entries of other offices' own records (of " << 2 * kOwn
                                 << " written)";
  // What touches the case still reaches it, once.
  SetField(lc.replica(), "cases", kase, "status", Value::Text("assisting"));
  MustSync(lc);
  EXPECT_EQ(ReadBy("DN", before).size(), 1u);
  EXPECT_EQ(ReadBy("HN", before).size(), static_cast<size_t>(kOwn) + 1)
      << "Hà Nội reads its own entries and the case's";
  MustSync(dn);
  EXPECT_EQ(Status(dn, kase), "assisting");
}

// An entry of a case written before the case was referred reaches the
// office it was referred to as before: keyed under it at the grant. Đà
// Nẵng's laptop tracks a Lào Cai laptop's chain (a directory entry); the
// case's entries before the referral come, at the pull after the one that
// installed the case whole, as the bridge before Lào Cai's next entry it
// sees: with their bodies (as when its pull read Lào Cai's whole log), not
// as headers alone.
TEST_F(LogScopeTest, ACasesEntriesBeforeItsReferralStillReachTheOfficeWithTheirBodies) {
  ASSERT_TRUE(hub_->AddProvince("DN", "Đà Nẵng").ok());
  harness::LocalNode& lc = AddNode("LC");
  harness::LocalNode& dn = AddNode("DN");
  for (auto* n : {&lc, &dn, &lc}) MustSync(*n);
  NewOrg(lc.replica(), "Hội Chữ thập đỏ");
  MustSync(lc);
  MustSync(dn);
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng");
  const uint64_t created = LastSeq(lc);
  SetField(lc.replica(), "cases", kase, "status", Value::Text("assisting"));
  const uint64_t edited = LastSeq(lc);
  MustSync(lc);
  MustSync(dn);
  Refer(lc.replica(), kase, "LC", "DN");
  MustSync(lc);
  MustSync(dn);
  ASSERT_TRUE(Holds(dn, "cases", kase)) << "the premise: installed whole";
  NewOrg(lc.replica(), "Hội Liên hiệp Phụ nữ");
  MustSync(lc);
  node::SyncReport r = MustSync(dn);
  for (const std::string& p : r.chain.problems) ADD_FAILURE() << "said: " << p;
  const DeviceId author = lc.replica().device_id();
  for (uint64_t seq : {created, edited}) {
    auto at = dn.replica().ChainEntryAt(author, seq);
    ASSERT_TRUE(at.ok()) << at.status();
    ASSERT_TRUE(at->has_value()) << "Đà Nẵng lacks Lào Cai's entry " << seq;
    EXPECT_EQ((*at)->state, ChainRow::State::kWithBody)
        << "entry " << seq << " of the case came as a header alone";
  }
}

// A hub file of version 6 kept each entry under the owners alone: opened by
// this build (version 7), its entries up to its head then are still read
// by that rule (the office a case was referred to reads its owners' logs),
// and later ones by the new. Here the file is made to look like one: the
// moved case's entry was kept under Hà Nội, its new owner, alone.
TEST_F(LogScopeTest, EntriesOfAnOlderHubFileAreReadByTheRuleTheyWereKeptBy) {
  ASSERT_TRUE(hub_->AddProvince("DN", "Đà Nẵng").ok());
  harness::LocalNode& lc = AddNode("LC");
  harness::LocalNode& hn = AddNode("HN");
  harness::LocalNode& dn = AddNode("DN");
  for (auto* n : {&lc, &hn, &dn, &lc}) MustSync(*n);
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng");
  Refer(lc.replica(), kase, "LC", "DN");
  MustSync(lc);
  MustSync(dn);
  ASSERT_TRUE(Holds(dn, "cases", kase));
  SetField(lc.replica(), "cases", kase, "province", Value::Text("HN"));
  MustSync(lc);
  const int64_t head = Head();
  // What an older store holds: on hub.db a file of version 6, migrated to
  // the current version at the next start, which keeps the entries it held
  // under the older rule; on PostgreSQL a database moved from such a file
  // (hub/pg/move.cc keeps its log_scope_from). Both read log_scope_from at
  // the hub's start.
  hub_->Stop();
  const std::vector<std::string> older = {
      "DELETE FROM hub_log_subject",
      "DELETE FROM hub_log_scope WHERE province IN ('DN', 'LC') AND position > 0 AND "
      "position IN (SELECT position FROM hub_log_scope WHERE province = 'HN')"};
  if (HubOnPostgres()) {
    auto from = OnHubsPostgres("INSERT INTO hub_meta(key, value) VALUES ('log_scope_from', "
                               "int8send(?1)) ON CONFLICT (key) DO UPDATE SET value = "
                               "excluded.value",
                               {Value::Int(head)});
    ASSERT_TRUE(from.ok()) << from.status();
    for (const std::string& sql : older) {
      auto r = OnHubsPostgres(sql, {});
      ASSERT_TRUE(r.ok()) << r.status();
    }
  } else {
    auto db = sqlite::Db::Open(hub_->data_dir() + "/hub.db", "");
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec("UPDATE hub_meta SET value = 6 WHERE key = 'schema_version'").ok());
    ASSERT_TRUE((*db)->Exec("DELETE FROM hub_meta WHERE key = 'log_scope_from'").ok());
    for (const std::string& sql : older) ASSERT_TRUE((*db)->Exec(sql).ok()) << sql;
  }
  ASSERT_TRUE(hub_->Start().ok());
  // Đà Nẵng takes the move, read by the older rule.
  MustSync(dn);
  const int col = dn.replica().schema().FindTable("cases")->ColumnIndex("province");
  auto row = dn.replica().Get("cases", kase);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->values[static_cast<size_t>(col)], Value::Text("HN"))
      << "Đà Nẵng's pull missed the move kept by the older rule";
  // And Hà Nội's later work, by the new.
  MustSync(hn);
  SetField(hn.replica(), "cases", kase, "status", Value::Text("assisting"));
  MustSync(hn);
  MustSync(dn);
  EXPECT_EQ(Status(dn, kase), "assisting");
  EXPECT_EQ(HubQueryInt(StoreSql("SELECT value FROM hub_meta WHERE key = 'log_scope_from'",
                                  "SELECT ('x' || encode(value, 'hex'))::bit(64)::bigint FROM "
                                  "hub_meta WHERE key = 'log_scope_from'")),
            head)
      << "the older rule's entries end at the head then";
}

}  // namespace
}  // namespace fieldsync::testing
