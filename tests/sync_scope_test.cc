// Sync through a real hub process over TLS: push, pull, bootstrap, and the
// scope the hub enforces (a province sees its records, the directories, and
// cases referred to it -- nothing else).
#include <gtest/gtest.h>

#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

TEST_F(SyncTest, TwoNodesOfOneProvinceConvergeThroughTheHub) {
  auto& a = AddNode("LC");
  auto& b = AddNode("LC");
  const RowId kase = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  const auto rb = MustSync(b);
  EXPECT_GE(rb.pulled + rb.rows_installed, 1u);
  auto row = b.replica().Get("cases", kase);
  ASSERT_TRUE(row.ok() && row->has_value());
  // Edits on both sides, of different fields and of the same field.
  SetField(a.replica(), "cases", kase, "status", Value::Text("verifying"));
  SetField(b.replica(), "cases", kase, "assigned_officer", Value::Text("Trần Văn Nam"));
  SetField(a.replica(), "cases", kase, "narrative", Value::Text("A's words"));
  SetField(b.replica(), "cases", kase, "narrative", Value::Text("B's words"));
  MustSync(a);
  MustSync(b);
  MustSync(a);
  EXPECT_EQ(Digest(a.replica()), Digest(b.replica()));
  auto conflicts = a.replica().Conflicts("cases", kase);
  ASSERT_TRUE(conflicts.ok());
  EXPECT_EQ(conflicts->size(), 1u);
  // The hub holds the same rows too.
  auto hub = OpenHubRows();
  ASSERT_NE(hub, nullptr);
  auto at_hub = hub->StateDigest();
  ASSERT_TRUE(at_hub.ok()) << at_hub.status();
  EXPECT_EQ(*at_hub, Digest(a.replica()));
}

TEST_F(SyncTest, AProvinceNeverReceivesAnotherProvincesRecordsUntilReferred) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId lc_case = NewCase(lc.replica(), "LC", "Lò Thị Mai");
  const RowId hn_case = NewCase(hn.replica(), "HN", "Phạm Thị Lan");
  const RowId hn_other = NewCase(hn.replica(), "HN", "Đỗ Thị Hoa");
  // A shared directory entry from Hà Nội.
  const RowId org = Id16::NewRandom();
  {
    LocalTxn t;
    t.Create("organisations", org, {{"name", Value::Text("Trung tâm Công tác xã hội")},
                                    {"kind", Value::Text("ngo")}});
    ASSERT_TRUE(hn.replica().Write(t).ok());
  }
  MustSync(lc);
  MustSync(hn);
  MustSync(lc);
  EXPECT_EQ(Rows(lc.replica(), "cases"), std::set<RowId>{lc_case});
  EXPECT_EQ(Rows(lc.replica(), "persons").size(), 1u);
  EXPECT_EQ(Rows(lc.replica(), "organisations"), std::set<RowId>{org});
  EXPECT_EQ(Rows(hn.replica(), "cases"), (std::set<RowId>{hn_case, hn_other}));

  // Asking again from an old cursor, or from the start, changes nothing.
  for (int64_t forged : {0, 1, 2}) {
    ASSERT_TRUE(lc.replica().SetCursor(node::kPulledCursor, forged).ok());
    MustSync(lc);
    EXPECT_EQ(Rows(lc.replica(), "cases"), std::set<RowId>{lc_case}) << "cursor " << forged;
  }

  // Hà Nội refers one case to Lào Cai: Lào Cai receives that case, its
  // person and the referral -- and nothing else of Hà Nội.
  SetField(hn.replica(), "cases", hn_case, "interview_notes", Value::Text("before referral"));
  const RowId ref = Refer(hn.replica(), hn_case, "HN", "LC");
  SetField(hn.replica(), "cases", hn_case, "status", Value::Text("referred"));
  MustSync(hn);
  const auto r = MustSync(lc);
  EXPECT_GE(r.rows_installed, 3u);
  EXPECT_EQ(Rows(lc.replica(), "cases"), (std::set<RowId>{lc_case, hn_case}));
  EXPECT_EQ(Rows(lc.replica(), "referrals"), std::set<RowId>{ref});
  EXPECT_EQ(Rows(lc.replica(), "persons").size(), 2u);
  auto got = lc.replica().ExportRow("cases", hn_case);
  auto want = hn.replica().ExportRow("cases", hn_case);
  ASSERT_TRUE(got.ok() && want.ok() && got->has_value() && want->has_value());
  EXPECT_EQ((*got)->fields.size(), (*want)->fields.size());
  for (size_t i = 0; i < (*got)->fields.size(); ++i) {
    EXPECT_EQ((*got)->fields[i].value, (*want)->fields[i].value) << (*got)->fields[i].column;
  }
  // Later edits of the referred case flow both ways.
  SetField(lc.replica(), "referrals", ref, "status", Value::Text("accepted"));
  SetField(hn.replica(), "cases", hn_case, "urgency", Value::Text("urgent"));
  MustSync(lc);
  MustSync(hn);
  MustSync(lc);
  auto ref_row = hn.replica().Get("referrals", ref);
  ASSERT_TRUE(ref_row.ok() && ref_row->has_value());
  EXPECT_EQ((*ref_row)->values[6], Value::Text("accepted"));
  auto lc_view = lc.replica().ExportRow("cases", hn_case);
  auto hn_view = hn.replica().ExportRow("cases", hn_case);
  ASSERT_TRUE(lc_view.ok() && hn_view.ok());
  EXPECT_EQ(lc_view->value().fields.size(), hn_view->value().fields.size());
  // Still nothing of the other Hà Nội case.
  EXPECT_EQ(Rows(lc.replica(), "cases").count(hn_other), 0u);
}

TEST_F(SyncTest, PushingOutsideTheNodesScopeIsRefusedAndNothingIsStored) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId hn_case = NewCase(hn.replica(), "HN", "Phạm Thị Lan");
  MustSync(hn);
  auto hub = OpenHubRows();
  auto head_before = hub->LogHead();
  ASSERT_TRUE(head_before.ok());

  // Lào Cai writes a case claiming Hà Nội's province.
  NewCase(lc.replica(), "HN", "Giả mạo");
  absl::Status r = RefusedPush(lc);
  EXPECT_EQ(r.code(), absl::StatusCode::kPermissionDenied) << r;
  EXPECT_NE(r.message().find("HN"), std::string::npos) << r;
  EXPECT_EQ(*hub->LogHead(), *head_before);
  // The refused commit stays on the laptop, set aside (never sent again),
  // and does not stop the laptop from receiving its colleagues' work.
  auto& colleague = AddNode("LC");
  const RowId theirs = NewCase(colleague.replica(), "LC", "Lò Thị Mai");
  MustSync(colleague);
  EXPECT_EQ(MustSync(lc).pushed, 0u);
  auto aside = lc.replica().SetAsideList();
  ASSERT_TRUE(aside.ok());
  EXPECT_EQ(aside->size(), 1u);
  EXPECT_EQ(Rows(lc.replica(), "cases").count(theirs), 1u);
  auto head_after = hub->LogHead();
  ASSERT_TRUE(head_after.ok());

  // A consent attached to a Hà Nội case Lào Cai cannot see.
  auto lc2 = harness::LocalNode::Create(dir_.File("lc2"));
  ASSERT_TRUE(lc2.ok());
  ASSERT_TRUE((*lc2)->Enroll(*hub_, "LC").ok());
  {
    LocalTxn t;
    t.Create("consents", Id16::NewRandom(),
             {{"case_id", Value::Bytes(std::string(hn_case.view()))},
              {"scope", Value::Text("police")}});
    ASSERT_TRUE((*lc2)->replica().Write(t).ok());
  }
  absl::Status r2 = RefusedPush(**lc2);
  EXPECT_EQ(r2.code(), absl::StatusCode::kPermissionDenied) << r2;
  EXPECT_EQ(*hub->LogHead(), *head_after);
}

}  // namespace
}  // namespace fieldsync::testing

namespace fieldsync::testing {
namespace {

TEST_F(SyncTest, ANodeCannotWidenItsScopeByRewritingLinks) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId lc_case = NewCase(lc.replica(), "LC", "Lò Thị Mai");
  const RowId hn_case = NewCase(hn.replica(), "HN", "Phạm Thị Lan");
  MustSync(lc);
  MustSync(hn);
  auto hn_row = hn.replica().Get("cases", hn_case);
  ASSERT_TRUE(hn_row.ok() && hn_row->has_value());
  const Value hn_person = (*hn_row)->values[1];  // person_id
  auto hub = OpenHubRows();
  const int64_t head = *hub->LogHead();

  // Pointing its own case at Hà Nội's victim.
  SetField(lc.replica(), "cases", lc_case, "person_id", hn_person);
  absl::Status r = RefusedPush(lc);
  EXPECT_EQ(r.code(), absl::StatusCode::kPermissionDenied) << r;
  EXPECT_NE(r.message().find("person"), std::string::npos) << r;
  EXPECT_EQ(*hub->LogHead(), head);

  // Moving a referral it can see onto a case it cannot.
  auto lc2 = harness::LocalNode::Create(dir_.File("lc2"));
  ASSERT_TRUE(lc2.ok());
  ASSERT_TRUE((*lc2)->Enroll(*hub_, "LC").ok());
  MustSync(**lc2);
  const RowId ref = Refer((*lc2)->replica(), lc_case, "LC", "HN");
  MustSync(**lc2);
  // (with a patched build: fieldnode refuses it on the laptop)
  ASSERT_TRUE(WriteAsPatchedBuild(**lc2, LocalTxn().Set("referrals", ref,
                                                        {{"case_id", Value::Bytes(std::string(
                                                                         hn_case.view()))}}))
                  .ok());
  absl::Status r2 = RefusedPush(**lc2);
  EXPECT_EQ(r2.code(), absl::StatusCode::kPermissionDenied) << r2;
  EXPECT_EQ(Rows((*lc2)->replica(), "cases").count(hn_case), 0u);
}

TEST_F(SyncTest, AMovedCaseStaysWritableForTheOfficeItLeft) {
  auto& lc = AddNode("LC");
  auto& lc_offline = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc);
  MustSync(lc_offline);
  MustSync(hn);
  // One Lào Cai laptop edits offline while another moves the case to Hà Nội.
  SetField(lc_offline.replica(), "cases", kase, "assigned_officer", Value::Text("Vàng A Dình"));
  SetField(lc.replica(), "cases", kase, "province", Value::Text("HN"));
  MustSync(lc);
  MustSync(hn);
  EXPECT_EQ(Rows(hn.replica(), "cases").count(kase), 1u);
  MustSync(lc_offline);  // accepted: Lào Cai still sees the case
  MustSync(hn);
  MustSync(lc);
  ExpectSameRowEverywhere(kase, {&lc, &lc_offline, &hn});
}

// A person moved to another office (session 21's notes: "that office's
// laptops may get only the move, not the person's earlier entries"). Hà
// Nội's laptop pulled past the person's creation (which it could not see)
// before Lào Cai moved the person to Hà Nội: it must hold the person whole,
// as a case referred or moved to it is, not the move alone. Before session
// 24 Hà Nội's pull after the move failed ABORTED ("1 pulled commits depend
// on commits this node does not hold") at every sync: the hub keyed the
// person's earlier entries under Hà Nội, behind the laptop's cursor, and
// installed whole only cases granted and contacts made public. The hub now
// records the move (hub_moves, both stores) and installs the person whole.
TEST_F(SyncTest, APersonMovedToAnotherOfficeReachesThatOfficesLaptopWhole) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId person = Id16::NewRandom();
  {
    LocalTxn t;
    t.Create("persons", person, {{"full_name", Value::Text("Lò Thị Mai")},
                                 {"province", Value::Text("LC")},
                                 {"sex", Value::Text("female")}});
    ASSERT_TRUE(lc.replica().Write(t).ok());
  }
  MustSync(lc);
  MustSync(hn);
  EXPECT_EQ(Rows(hn.replica(), "persons").count(person), 0u);
  SetField(lc.replica(), "persons", person, "province", Value::Text("HN"));
  MustSync(lc);
  MustSync(hn);
  ASSERT_EQ(Rows(hn.replica(), "persons").count(person), 1u);
  ExpectSameRowEverywhere(person, {&lc, &hn}, "persons");
}

TEST_F(SyncTest, AContactMadePublicReachesEveryProvinceWhole) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId contact = Id16::NewRandom();
  {
    LocalTxn t;
    t.Create("contacts", contact, {{"name", Value::Text("Đồn Biên phòng Bản Vược")},
                                   {"restriction", Value::Text("restricted")},
                                   {"province", Value::Text("LC")},
                                   {"desk_phone", Value::Text("0214 3880 123")}});
    ASSERT_TRUE(lc.replica().Write(t).ok());
  }
  SetField(lc.replica(), "contacts", contact, "on_call_hours", Value::Text("24/7"));
  MustSync(lc);
  MustSync(hn);
  EXPECT_EQ(Rows(hn.replica(), "contacts").count(contact), 0u);
  // Hà Nội may not lift the restriction (it cannot even see the entry);
  // Lào Cai makes it public.
  SetField(lc.replica(), "contacts", contact, "restriction", Value::Text("public"));
  MustSync(lc);
  const auto r = MustSync(hn);
  EXPECT_GE(r.rows_installed, 1u);
  ExpectSameRowEverywhere(contact, {&lc, &hn}, "contacts");
}

}  // namespace
}  // namespace fieldsync::testing

namespace fieldsync::testing {
namespace {

TEST_F(SyncTest, TheHubKeepsEachNodesSyncStateForTheAdministrator) {
  auto& a = AddNode("LC");
  auto& b = AddNode("LC");
  auto& hn = AddNode("HN");
  MustSync(b);
  MustSync(hn);
  NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  NewCase(a.replica(), "LC", "Lò Thị Mai");
  MustSync(a);
  MustSync(hn);
  auto list = hub_->Admin({"node", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  // b (Lào Cai) has two Lào Cai commits waiting; Hà Nội none.
  // One node's JSON object.
  auto entry = [](const std::string& out, const std::string& device) {
    const size_t at = out.find(absl::StrCat("\"device\": \"", device));
    return at == std::string::npos ? std::string() : out.substr(at, out.find('}', at) - at);
  };
  const std::string b_entry = entry(list.out, b.replica().device_id().ToString());
  const std::string hn_entry = entry(list.out, hn.replica().device_id().ToString());
  const std::string a_entry = entry(list.out, a.replica().device_id().ToString());
  EXPECT_NE(b_entry.find("\"pending\": 2,"), std::string::npos) << list.out;
  EXPECT_NE(hn_entry.find("\"pending\": 0,"), std::string::npos) << list.out;
  EXPECT_NE(a_entry.find("\"pending\": 0,"), std::string::npos) << list.out;  // its own
  EXPECT_NE(a_entry.find("\"acknowledged_seq\": 2,"), std::string::npos) << list.out;
  EXPECT_NE(b_entry.find("\"protocol_version\": 3,"), std::string::npos) << list.out;
  MustSync(b);
  MustSync(b);  // the second pull acknowledges the first
  list = hub_->Admin({"node", "list", "--json"});
  EXPECT_NE(entry(list.out, b.replica().device_id().ToString()).find("\"pending\": 0,"),
            std::string::npos)
      << list.out;
}

}  // namespace
}  // namespace fieldsync::testing

namespace fieldsync::testing {
namespace {

TEST_F(SyncTest, ALinkClearedWithoutADeleteIsRefusedSoItCannotBeRewritten) {
  auto& lc = AddNode("LC");
  const RowId kase = NewCase(lc.replica(), "LC", "Lò Thị Mai");
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  MustSync(lc);
  // Another laptop clears the referral's case (not a delete), to set
  // another one later.
  auto& clearer = AddNode("LC");
  MustSync(clearer);
  ASSERT_TRUE(WriteAsPatchedBuild(clearer, LocalTxn().Set("referrals", ref,
                                                          {{"case_id", Value::Null()}}))
                  .ok());  // a patched build: fieldnode refuses it on the laptop
  EXPECT_EQ(RefusedPush(clearer).code(), absl::StatusCode::kPermissionDenied);
  // The same for a case's person.
  auto& other = AddNode("LC");
  MustSync(other);
  SetField(other.replica(), "cases", kase, "person_id", Value::Null());
  EXPECT_EQ(RefusedPush(other).code(), absl::StatusCode::kPermissionDenied);
  // Deleting the referral (every field cleared) is allowed.
  LocalTxn del;
  del.Delete("referrals", ref);
  ASSERT_TRUE(lc.replica().Write(del).ok());
  MustSync(lc);
}

}  // namespace
TEST_F(SyncTest, AnOfficeACaseWasReferredToCannotDeleteItOrItsPerson) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng");
  Refer(lc.replica(), kase, "LC", "HN");
  for (int pass = 0; pass < 2; ++pass) {
    MustSync(lc);
    MustSync(hn);
  }
  auto held = hn.replica().Get("cases", kase);
  ASSERT_TRUE(held.ok() && held->has_value());  // Hà Nội sees the referred case
  const auto before = HubLogHead();
  ASSERT_TRUE(before.ok());
  LocalTxn t;
  t.Delete("cases", kase);
  ASSERT_TRUE(hn.replica().Write(t).ok());
  absl::Status refused = RefusedPush(hn);
  EXPECT_NE(refused.message().find("only its office may delete it"), absl::string_view::npos)
      << refused;
  EXPECT_EQ(*HubLogHead(), *before);
  auto at_hub = HubRowLive("cases", kase);
  ASSERT_TRUE(at_hub.ok() && at_hub->has_value()) << at_hub.status();
  EXPECT_TRUE(**at_hub);
}

}  // namespace fieldsync::testing
