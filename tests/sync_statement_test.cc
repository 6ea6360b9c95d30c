// Signed statements of what each laptop has seen (protocol version 3;
// docs/PROTOCOL.md, "Statements"; issue 11 point 3): real hub processes and
// laptops; where the attacker is the hub, the test edits the hub's tables
// (SyncTest::TamperWithHub: hub.db while the hub is stopped, as someone with
// its disk would; PostgreSQL while it serves, as an administrator with psql).
//  - A hub that hides one commit from one laptop while a colleague received
//    it: the colleague's statement names it, the laptop asks for it, and the
//    hub's silence is kept as evidence (fieldnode sync exits 5).
//  - A statement that names another entry than the one a laptop holds is
//    evidence of two histories; it holds nobody's work back.
//  - Statements are taken only from members of the office they name, signed
//    with the key pinned for them: a hub that alters one, or relays one of a
//    device the office never approved, gets nothing taken.
//  - A colleague silent for a week is a warning; an office of one laptop has
//    nobody to compare with, and says so.
//  - Referral partners receive each other's statements; other offices not.
#include <gtest/gtest.h>

#include <string>

#include "crypto/statement.h"
#include "store/sqlite.h"
#include "support/statement_fixture.h"
#include "sync/chain.h"
#include "sync/statement_keeper.h"

namespace fieldsync::testing {
namespace {

class StatementTest : public StatementFixture {};

TEST_F(StatementTest, AHubThatHidesACommitFromOneLaptopIsCaughtByAColleaguesStatement) {
  auto& author = Laptop("LC");
  auto& hidden_from = Laptop("LC");
  auto& colleague = Laptop("LC");
  auto& hn = Laptop("HN");
  NewCase(author.replica(), "LC", "Lò Thị Mai");
  MustSync(author);
  MustSync(hidden_from);  // it tracks the author's chain from here
  MustSync(colleague);
  const RowId completed = NewCase(author.replica(), "LC", "Vàng Thị Dợ");
  const uint64_t seq = LastSeq(author);
  MustSync(author);
  // Later work in the hub's log, so that the hidden commit is not its end.
  NewOrg(hn.replica(), "Trung tâm Công tác xã hội Hà Nội");
  MustSync(hn);
  MustSync(colleague);  // receives the commit, and says so in its statement
  ASSERT_TRUE(Holds(colleague, "cases", completed));

  // The hub keeps the commit from hidden_from: it drops it from its files.
  DropAtHub(author, seq);
  node::SyncReport r = MustSync(hidden_from);
  EXPECT_FALSE(Holds(hidden_from, "cases", completed));
  EXPECT_GE(r.chain.new_evidence, 1u) << "fieldnode sync exits 5 on this";
  EXPECT_TRUE(Mentions(r, "withholds")) << (r.chain.problems.empty() ? "" : r.chain.problems[0]);
  std::vector<TrustEvidence> withheld = EvidenceOf(hidden_from, sync::ChainEvidence::Kind::kWithheld);
  ASSERT_FALSE(withheld.empty());
  EXPECT_EQ(withheld.front().device, author.replica().device_id());
  EXPECT_EQ(withheld.front().seq, seq);
  // Found once: the next sync records nothing new.
  node::SyncReport again = MustSync(hidden_from);
  EXPECT_EQ(again.chain.new_evidence, 0u);
}

TEST_F(StatementTest, AStatementThatContradictsWhatALaptopHoldsIsEvidenceAndHoldsNothingBack) {
  auto& author = Laptop("LC");
  auto& reader = Laptop("LC");
  auto& other = Laptop("LC");
  NewCase(author.replica(), "LC", "Lò Thị Mai");
  MustSync(author);
  MustSync(reader);
  MustSync(other);
  // `other` signs that it holds the author's last entry with another link:
  // what it would sign if the hub had shown it another history.
  crypto::Statement s;
  s.signer = other.replica().device_id();
  s.created_hlc = NowHlc().packed();
  s.province = "LC";
  s.hub_id = HubId(other);
  s.position = 1;
  s.heads.push_back(
      crypto::StatedHead{author.replica().device_id(), LastSeq(author), std::string(32, 'x')});
  const std::string bytes = Must(crypto::SignStatement(other.identity(), s));
  ASSERT_EQ(PushStatement(other, bytes), "");

  node::SyncReport r = MustSync(reader);
  EXPECT_EQ(r.chain.new_evidence, 1u);
  EXPECT_TRUE(Mentions(r, "two histories"));
  std::vector<TrustEvidence> ev =
      EvidenceOf(reader, sync::ChainEvidence::Kind::kStatementContradicts);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].other_header, bytes) << "the signed statement is kept as evidence";
  EXPECT_FALSE(ev[0].held_header.empty()) << "with the entry held here";
  EXPECT_EQ(MustSync(reader).chain.new_evidence, 0u) << "kept once";
  // The author's later work still arrives.
  const RowId later = NewCase(author.replica(), "LC", "Đỗ Thị Hoa");
  MustSync(author);
  MustSync(reader);
  EXPECT_TRUE(Holds(reader, "cases", later));
}

TEST_F(StatementTest, AStatementTheHubAlteredOrOfADeviceTheOfficeNeverApprovedIsNotTaken) {
  auto& a = Laptop("LC");
  auto& b = Laptop("LC");
  NewCase(a.replica(), "LC", "Lò Thị Mai");
  MustSync(a);
  MustSync(b);
  MustSync(a);  // a's statement now names its own chain and b's
  // The hub flips one byte of a's stored statement (a head's link).
  const Value a_id = Value::Bytes(std::string(a.replica().device_id().view()));
  std::vector<std::string> stored =
      HubQueryStrings("SELECT bytes FROM hub_statements WHERE device = ?1", {a_id});
  ASSERT_EQ(stored.size(), 1u);
  std::string bytes = stored[0];
  bytes[bytes.size() - 70] ^= 0x01;
  TamperWithHub("UPDATE hub_statements SET bytes = ?1, seq = seq + 1000 WHERE device = ?2",
                {Value::Bytes(bytes), a_id});
  node::SyncReport r = MustSync(b);
  EXPECT_TRUE(Mentions(r, "signature does not verify"));
  EXPECT_EQ(r.chain.new_evidence, 0u) << "a hub cannot make evidence against anyone";

  // A laptop the administrator enrolled for LC that no officer approved:
  // its statements are not taken either.
  join_offices_ = false;
  auto& intruder = Laptop("LC");
  join_offices_ = true;
  MustSync(intruder);
  node::SyncReport r2 = MustSync(b);
  EXPECT_TRUE(Mentions(r2, "not a member of its office"));
  for (const StatementRow& row : StatementsHeld(b)) {
    EXPECT_NE(row.signer, intruder.replica().device_id());
  }
}

TEST_F(StatementTest, TheHubKeepsOnlyALaptopsOwnStatementOfThisHub) {
  auto& a = Laptop("LC");
  auto& b = Laptop("LC");
  MustSync(a);
  MustSync(b);
  MustSync(a);
  std::vector<StatementRow> held = StatementsHeld(a);
  ASSERT_EQ(held.size(), 1u);
  ASSERT_EQ(held[0].signer, b.replica().device_id());
  // a replays b's statement as its own: refused, nothing else concerned.
  EXPECT_NE(PushStatement(a, held[0].bytes).find("in the name of device"), std::string::npos);
  // A statement of another hub.
  crypto::Statement s;
  s.signer = a.replica().device_id();
  s.created_hlc = NowHlc().packed();
  s.province = "LC";
  s.hub_id = Id16::NewRandom();
  EXPECT_NE(PushStatement(a, Must(crypto::SignStatement(a.identity(), s))).find("not this hub"),
            std::string::npos);
  // Of another province.
  s.hub_id = HubId(a);
  s.province = "HN";
  EXPECT_NE(PushStatement(a, Must(crypto::SignStatement(a.identity(), s))).find("province"),
            std::string::npos);
  // Garbage.
  EXPECT_NE(PushStatement(a, "not a statement"), "");
}

TEST_F(StatementTest, AColleagueSilentForAWeekIsAWarningAndALoneLaptopSaysItHasNobody) {
  auto& a = Laptop("LC");
  auto& b = Laptop("LC");
  auto& hn = Laptop("HN");
  MustSync(a);
  MustSync(b);
  MustSync(a);
  MustSync(hn);
  const int64_t now = SystemClock::Get()->NowMillis();
  auto fresh = sync::StatementWarnings(a.replica(), *a.keys(), now);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->empty()) << fresh->front();
  auto week = sync::StatementWarnings(a.replica(), *a.keys(), now + 8LL * 24 * 3600 * 1000);
  ASSERT_TRUE(week.ok());
  ASSERT_EQ(week->size(), 1u);
  EXPECT_NE(week->front().find("no statement from laptop"), std::string::npos) << week->front();
  auto lone = sync::StatementWarnings(hn.replica(), *hn.keys(), now);
  ASSERT_TRUE(lone.ok());
  ASSERT_EQ(lone->size(), 1u);
  EXPECT_NE(lone->front().find("one laptop"), std::string::npos);
}

TEST_F(StatementTest, ReferralPartnersReceiveEachOthersStatementsAndOtherOfficesDoNot) {
  ASSERT_TRUE(hub_->AddProvince("DN", "Đà Nẵng").ok());
  auto& lc = Laptop("LC");
  auto& hn = Laptop("HN");
  auto& dn = Laptop("DN");
  const RowId kase = NewCase(lc.replica(), "LC", "Lò Thị Mai");
  MustSync(lc);
  MustSync(hn);
  MustSync(dn);
  EXPECT_TRUE(StatementsHeld(hn).empty());
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  AcceptReferral(lc, hn, ref);
  MustSync(lc);
  MustSync(hn);
  MustSync(dn);
  std::vector<StatementRow> at_hn = StatementsHeld(hn);
  ASSERT_EQ(at_hn.size(), 1u);
  EXPECT_EQ(at_hn[0].signer, lc.replica().device_id());
  std::vector<StatementRow> at_lc = StatementsHeld(lc);
  ASSERT_EQ(at_lc.size(), 1u);
  EXPECT_EQ(at_lc[0].signer, hn.replica().device_id());
  EXPECT_TRUE(StatementsHeld(dn).empty());
}

}  // namespace
}  // namespace fieldsync::testing
