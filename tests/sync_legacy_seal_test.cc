// Schema version 4 seals columns that were clear before (docs/CRYPTO.md,
// "Fields sealed in schema version 4"). A laptop not yet upgraded still
// writes them clear, and the hub takes them (an office keeps working); the
// laptop that wrote each value rewrites it sealed at its first unlocked
// sync once upgraded, and the hub's rows then hold it sealed.
#include <gtest/gtest.h>

#include "crypto/envelope.h"
#include "store/legacy_seal.h"
#include "store/migrations.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

class LegacySealTest : public SyncTest {
 protected:
  // A write as a version 3 laptop made it: signed, nothing sealed; then
  // the upgrade, which records the first commit at version 4 as the
  // migration does (kSchemaSinceSeqCursor).
  static void WriteAsVersion3(harness::LocalNode& n, const LocalTxn& t) {
    CommitSecurity old;
    old.sign = n.keys()->Security().sign;
    old.taken = n.keys()->Security().taken;  // referral endings noted, as sign used to
    old.sign_header = n.keys()->Security().sign_header;  // chains began with the upgrade
    n.replica().SetSecurity(old);
    auto c = n.replica().Write(t);
    EXPECT_TRUE(c.ok()) << c.status();
    n.replica().SetSecurity(n.keys()->Security());
    if (c.ok()) {
      EXPECT_TRUE(n.replica()
                      .SetCursor(kSchemaSinceSeqCursor, static_cast<int64_t>(c->seq) + 1)
                      .ok());
    }
  }
  static Value At(Replica& r, const std::string& table, const RowId& row, const char* col) {
    auto got = r.Get(table, row);
    EXPECT_TRUE(got.ok() && got->has_value());
    const int ci = FieldOfficeSchema().FindTable(table)->ColumnIndex(col);
    return (*got)->values[static_cast<size_t>(ci)];
  }
  static bool Sealed(const Value& v) {
    return v.kind() == Value::Kind::kBytes && crypto::LooksSealed(v.str());
  }
};

TEST_F(LegacySealTest, TheAuthorsLaptopRewritesItsClearValuesSealedAndTheHubsRowsHoldThemSealed) {
  auto& a = AddNode("LC");
  auto& b = AddNode("LC");
  const RowId kase = NewCase(a.replica(), "LC", "Lò Thị Mai");
  MustSync(a);
  MustSync(b);
  // Before the upgrade: a referral reason and an opening date in clear, by
  // laptop a; a crime report time in clear, by laptop b.
  const RowId ref = Id16::NewRandom();
  LocalTxn t;
  t.Create("referrals", ref, {{"case_id", Value::Bytes(std::string(kase.view()))},
                              {"from_office", Value::Text("LC")},
                              {"to_office", Value::Text("HN")},
                              {"status", Value::Text("sent")},
                              {"reason", Value::Text("cần nhà tạm lánh")}});
  t.Set("cases", kase, {{"opened_on", Value::Text("2025-11-24")}});
  // SealLegacyValues runs at every sync: the laptop must look un-upgraded
  // until it is, so its "done" cursor is not set by an earlier pass.
  ASSERT_TRUE(a.replica().SetCursor("legacy:sealed", 0).ok());
  WriteAsVersion3(a, t);
  LocalTxn tb;
  tb.Set("cases", kase, {{"crime_reported_at", Value::Int(1'764'000'123'456)}});
  ASSERT_TRUE(b.replica().SetCursor("legacy:sealed", 0).ok());
  WriteAsVersion3(b, tb);
  // The laptops of version 3 push them clear: the hub takes them.
  auto push_only = [&](harness::LocalNode& n) {
    // A sync pass rewrites first; to see the hub take a clear value, the
    // rewrite must not run: lock, push (locked laptops sync), unlock.
    n.keys()->Lock();
    MustSync(n);
    ASSERT_TRUE(n.keys()->Unlock(n.identity().Clone()).ok());
  };
  push_only(a);
  push_only(b);
  {
    auto hub = OpenHubReplica();
    EXPECT_EQ(At(*hub, "referrals", ref, "reason"), Value::Text("cần nhà tạm lánh"));
    EXPECT_EQ(At(*hub, "cases", kase, "opened_on"), Value::Text("2025-11-24"));
    EXPECT_EQ(At(*hub, "cases", kase, "crime_reported_at"), Value::Int(1'764'000'123'456));
  }
  // Upgraded and unlocked, each laptop seals what it wrote, and only that.
  auto n = SealLegacyValues(a.replica(), *a.keys(), 500);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);  // reason, opened_on; not b's crime report
  EXPECT_TRUE(Sealed(At(a.replica(), "referrals", ref, "reason")));
  EXPECT_TRUE(Sealed(At(a.replica(), "cases", kase, "opened_on")));
  EXPECT_EQ(At(a.replica(), "cases", kase, "opened_month"), Value::Text("2025-11"));
  // Nothing left of its own: the next call does nothing.
  n = SealLegacyValues(a.replica(), *a.keys(), 500);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  // b's own value goes at its sync (the pass rewrites before it pushes).
  MustSync(a);
  MustSync(b);
  MustSync(a);
  {
    auto hub = OpenHubReplica();
    EXPECT_TRUE(Sealed(At(*hub, "referrals", ref, "reason")));
    EXPECT_TRUE(Sealed(At(*hub, "cases", kase, "opened_on")));
    EXPECT_TRUE(Sealed(At(*hub, "cases", kase, "crime_reported_at")));
    EXPECT_EQ(At(*hub, "cases", kase, "opened_month"), Value::Text("2025-11"));
    EXPECT_EQ(At(*hub, "cases", kase, "crime_reported_hour"), Value::Int(1'764'000'000'000));
  }
  // Both laptops read the same values back, opened; no conflict was made.
  for (auto* node : {&a, &b}) {
    EXPECT_EQ(node->Read("referrals", ref, "reason").value, Value::Text("cần nhà tạm lánh"));
    EXPECT_EQ(node->Read("cases", kase, "opened_on").value, Value::Text("2025-11-24"));
    EXPECT_EQ(node->Read("cases", kase, "crime_reported_at").value,
              Value::Int(1'764'000'123'456));
    auto stats = node->replica().Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->open_conflicts, 0u);
  }
}

}  // namespace
}  // namespace fieldsync::testing
