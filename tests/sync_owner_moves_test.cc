// A pulled commit that writes a row's owner column is checked by the
// laptop (KeyRing::CheckOwnerMoves) as the hub checks it (hub/scope.cc):
// only a device of the owning office moves an office's own row. Where the
// two rules disagreed, the hub stored a commit every laptop then refused,
// and a refused pulled commit stops the pull for good (sync/puller.cc:
// "the hub relayed a commit that does not verify"): every laptop holding
// the row stuck, with no command for anyone to get past it.
#include <gtest/gtest.h>

#include <string>

#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

class OwnerMovesTest : public SyncTest {};

// The shared directory has no owner: an organisation's `province` says
// where the body works, and every office may correct it (hub/scope.cc lets
// any office write a shared row). The laptop took any table with a
// `province` column for an owned one: an office that corrected the province
// of another office's organisation stopped every other laptop's pulls.
TEST_F(OwnerMovesTest, AnOrganisationsProvinceCorrectedByAnotherOfficeStopsNoLaptop) {
  harness::LocalNode& lc = AddNode("LC");
  harness::LocalNode& hn = AddNode("HN");
  harness::LocalNode& lc2 = AddNode("LC");
  const RowId org = Id16::NewRandom();
  LocalTxn t;
  t.Create("organisations", org, {{"name", Value::Text("Trung tâm Công tác xã hội")},
                                  {"kind", Value::Text("ngo")},
                                  {"province", Value::Text("LC")}});
  ASSERT_TRUE(lc.replica().Write(t).ok());
  MustSync(lc);
  MustSync(hn);
  MustSync(lc2);
  ASSERT_TRUE(Holds(hn, "organisations", org));
  // Hà Nội knows better: the centre works in Hà Nội.
  SetField(hn.replica(), "organisations", org, "province", Value::Text("HN"));
  MustSync(hn);
  // A case Lào Cai writes after it still reaches Lào Cai's other laptop.
  const RowId kase = NewCase(lc.replica(), "LC", "Lò Thị Mai");
  MustSync(lc);
  MustSync(lc2);
  EXPECT_TRUE(Holds(lc2, "cases", kase));
  for (harness::LocalNode* n : {&lc, &lc2}) {
    auto row = n->replica().Get("organisations", org);
    ASSERT_TRUE(row.ok() && row->has_value()) << row.status();
    const size_t col = static_cast<size_t>(
        n->replica().schema().FindTable("organisations")->ColumnIndex("province"));
    EXPECT_EQ((*row)->values[col], Value::Text("HN"));
  }
}

// A delete clears every field (writes NULL to each): it moves nothing, as
// the hub says (hub/scope.cc). The laptop took the NULL written to a case's
// `province` for a move, and a move is only taken from a device its office
// approved: a laptop enrolled in the office but not yet approved deleting a
// case of its office stopped its colleagues' pulls until it was approved
// (for good if it never is).
TEST_F(OwnerMovesTest, ACaseDeletedByALaptopNotYetApprovedStopsNoColleague) {
  harness::LocalNode& lc = AddNode("LC");
  join_offices_ = false;
  harness::LocalNode& newcomer = AddNode("LC");
  join_offices_ = true;
  const RowId kase = NewCase(lc.replica(), "LC", "Lò Văn Sáng");
  MustSync(lc);
  MustSync(newcomer);
  ASSERT_TRUE(Holds(newcomer, "cases", kase));
  LocalTxn del;
  del.Delete("cases", kase);
  auto deleted = newcomer.replica().Write(del);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  MustSync(newcomer);
  // Lào Cai's own laptop still pulls: the delete arrives with what follows.
  const RowId later = NewOrg(newcomer.replica(), "Hội Liên hiệp Phụ nữ");
  MustSync(newcomer);
  MustSync(lc);
  EXPECT_TRUE(Holds(lc, "organisations", later));
  auto row = lc.replica().Get("cases", kase);
  ASSERT_TRUE(row.ok() && row->has_value()) << row.status();
  EXPECT_FALSE((*row)->live);
}

// A move must be by a device its office approved (the laptops' rule): the
// hub checked only the province its registry lists for the author, so a
// laptop enrolled and never approved, on a patched build, moved a case of
// its office; the hub stored it and every laptop of the office stopped
// pulling, for good (revoking the device does not help: its commit is in
// the log before the revocation). The hub now refuses the move, which its
// author sets aside like any refusal.
TEST_F(OwnerMovesTest, AMoveByALaptopItsOfficeNeverApprovedIsRefusedByTheHub) {
  harness::LocalNode& lc = AddNode("LC");
  join_offices_ = false;
  harness::LocalNode& newcomer = AddNode("LC");
  join_offices_ = true;
  const RowId kase = NewCase(lc.replica(), "LC", "Lò Thị Hoa");
  MustSync(lc);
  MustSync(newcomer);
  ASSERT_TRUE(Holds(newcomer, "cases", kase));
  LocalTxn move;
  move.Set("cases", kase, {{"province", Value::Text("HN")}});
  ASSERT_TRUE(WriteAsPatchedBuild(newcomer, move).ok());
  absl::Status refused = RefusedPush(newcomer);
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied) << refused;
  EXPECT_NE(refused.message().find("never approved by its office"), std::string::npos) << refused;
  // The office's laptop still pulls what is written after it.
  const RowId later = NewOrg(newcomer.replica(), "Hội Liên hiệp Phụ nữ");
  MustSync(newcomer);
  MustSync(lc);
  EXPECT_TRUE(Holds(lc, "organisations", later));
  const size_t col =
      static_cast<size_t>(lc.replica().schema().FindTable("cases")->ColumnIndex("province"));
  auto row = lc.replica().Get("cases", kase);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->values[col], Value::Text("LC"));
}

// A case referred to a third office moves twice before that office pulls:
// Lào Cai moves it to Hà Nội, Hà Nội moves it on to Quảng Ninh. The hub
// kept each log entry under the provinces owning what it touched *after*
// the commit (hub_log_scope), and a pull reads the entries of the present
// owners of the cases granted to it: Đà Nẵng read Quảng Ninh's entries, so
// it got Hà Nội's move on but never Lào Cai's move to Hà Nội, refused the
// second (its author was no device of the owner Đà Nẵng knew), and stopped
// (found by helper low78, session 18).
TEST_F(OwnerMovesTest, AReferredCaseMovedTwiceReachesTheOfficeItWasReferredTo) {
  ASSERT_TRUE(hub_->AddProvince("DN", "Đà Nẵng").ok());
  ASSERT_TRUE(hub_->AddProvince("QN", "Quảng Ninh").ok());
  harness::LocalNode& lc = AddNode("LC");
  harness::LocalNode& hn = AddNode("HN");
  harness::LocalNode& dn = AddNode("DN");
  harness::LocalNode& qn = AddNode("QN");
  for (auto* n : {&lc, &hn, &dn, &qn, &lc}) MustSync(*n);
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng");
  Refer(lc.replica(), kase, "LC", "DN");
  MustSync(lc);
  MustSync(dn);
  ASSERT_TRUE(Holds(dn, "cases", kase)) << "the premise: Đà Nẵng holds the referred case";
  SetField(lc.replica(), "cases", kase, "province", Value::Text("HN"));
  MustSync(lc);
  MustSync(hn);
  ASSERT_TRUE(Holds(hn, "cases", kase)) << "the premise: the case moved to Hà Nội";
  SetField(hn.replica(), "cases", kase, "province", Value::Text("QN"));
  MustSync(hn);
  // Đà Nẵng pulls both moves, in order, and later work with them.
  const RowId later = NewOrg(lc.replica(), "Hội Liên hiệp Phụ nữ");
  MustSync(lc);
  node::SyncReport r = MustSync(dn);
  for (const std::string& p : r.chain.problems) ADD_FAILURE() << "said: " << p;
  EXPECT_TRUE(Holds(dn, "organisations", later)) << "Đà Nẵng's pull stopped";
  const size_t col =
      static_cast<size_t>(dn.replica().schema().FindTable("cases")->ColumnIndex("province"));
  auto row = dn.replica().Get("cases", kase);
  ASSERT_TRUE(row.ok() && row->has_value()) << row.status();
  EXPECT_EQ((*row)->values[col], Value::Text("QN")) << "Đà Nẵng does not show where the case is";
  auto evidence = dn.replica().Evidence();
  ASSERT_TRUE(evidence.ok()) << evidence.status();
  EXPECT_TRUE(evidence->empty()) << "Đà Nẵng holds evidence against an honest hub";
}

}  // namespace
}  // namespace fieldsync::testing
