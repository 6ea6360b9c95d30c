// Attacks on who a laptop takes as the owner of a case newly referred to
// its office, and on the referrals it takes from rows installed whole
// (store/keyring_seal.cc ReferredBy, KeyRing::Vouched, sync/row_witness.h;
// docs/PROTOCOL.md "Newly visible rows"), as a malicious hub and as a
// malicious office. Each test asserts the safe outcome: no key of the case
// sealed or granted by the receiving laptop to an office its owner did not
// choose. Real hub processes and laptops; where the attacker is the hub (or
// an office with the hub), a transport between the laptop and the real hub
// rewrites the pull's messages, and commits the test signs with a real
// device's key stand for what a patched build of that office signs.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

#include "support/referred_fixture.h"
#include "support/rewriting_hub.h"

namespace fieldsync::testing {
namespace {

class ReferredByAttackTest : public ReferredFixture {
 protected:
  // Lào Cai's case, referred to Hà Nội and held there, moved to Đà Nẵng by
  // a second laptop of Lào Cai, which Lào Cai's first laptop then removes
  // (pushed after the move reached the hub). With `seen_before`, Hà Nội's
  // laptop pulls the move and writes the case (sealed for Đà Nẵng) before
  // the removal reaches the hub. Then Hà Nội's laptop writes again.
  void MoveThenRemove(bool seen_before) {
    auto t = CaseOfLaoCai();
    auto& stolen = AddNode("LC");
    MustSync(stolen);
    MustSync(t.hn);
    ASSERT_TRUE(Holds(t.hn, "cases", t.kase));
    ASSERT_TRUE(Holds(stolen, "cases", t.kase));
    SetField(stolen.replica(), "cases", t.kase, "province", Value::Text("DN"));
    MustSync(stolen);
    if (seen_before) {
      MustSync(t.hn);
      ASSERT_EQ(t.hn.Read("cases", t.kase, "province").value.str(), "DN");
      absl::Status w = WriteNarrativeAndSync(t.hn, t.kase);
      ASSERT_TRUE(w.ok()) << w;
      ASSERT_EQ(GrantsTo(t.hn, t.kase, "DN"), 1) << "the mover was a member then";
    }
    ASSERT_TRUE(t.lc.keys()->Remove(stolen.replica().device_id()).ok());
    MustSync(t.lc);
    MustSync(t.hn);
    ASSERT_EQ(t.hn.Read("cases", t.kase, "province").value.str(), "DN");
    ASSERT_FALSE(t.hn.keys()->IsMember("LC", stolen.replica().device_id()).value());
    LocalTxn after;
    after.Set("cases", t.kase, {{"narrative", Value::Text("viết sau khi gỡ")}});
    absl::Status w = t.hn.replica().Write(after).status();
    t.hn.Sync().IgnoreError();
    EXPECT_EQ(w.code(), absl::StatusCode::kFailedPrecondition) << w;
    EXPECT_NE(w.message().find("no referral of it to this office"), std::string::npos) << w;
    EXPECT_EQ(GrantsTo(t.hn, t.kase, "DN"), seen_before ? 1 : 0);
    for (int i = 0; i < 2; ++i) t.dn.Sync().IgnoreError();
    const OpenedField got = t.dn.Read("cases", t.kase, "narrative");
    EXPECT_FALSE(got.state == OpenedField::State::kOpened &&
                 got.value == Value::Text("viết sau khi gỡ"))
        << "Đà Nẵng reads what Hà Nội wrote after the mover's removal";
  }
};

// Hub alone, with a device of a third office (or of the receiving office):
// the real referral of the case is left out, and one naming Lào Cai as the
// referring office, signed by a device of Đà Nẵng (then of Hà Nội), is
// served in its place, witnessed by its own commit. No member of Lào Cai
// made it: the laptop takes no owner from it. Held.
TEST_F(ReferredByAttackTest, AReferralFromTheOwnerSignedByAnotherOfficesDeviceNamesNoOwner) {
  auto t = CaseOfLaoCai();
  for (auto [signer, hn] : {std::pair{&t.dn, &t.hn}, std::pair{&t.hn, &t.hn2}}) {
    SCOPED_TRACE(signer == &t.dn ? "signed by Đà Nẵng" : "signed by Hà Nội");
    const RowId forged = Id16::NewRandom();
    const Signed made = SignedBy(*signer, {ReferralMade(forged, t.kase, "LC", "HN")});
    int served = 0;
    RewritingHub hub(hn->client().transport(), [&](sync::PullChunk& c) {
      auto real = std::remove_if(c.rows.begin(), c.rows.end(), [&](const RowSnapshot& r) {
        return r.table == "referrals" && r.row == t.ref;
      });
      if (real == c.rows.end()) return true;
      c.rows.erase(real, c.rows.end());
      c.rows.push_back(RowOf(made));
      c.witnesses.push_back(made.witness);
      ++served;
      return true;
    });
    MustSyncThrough(*hn, hub);
    ASSERT_EQ(served, 1);
    ASSERT_TRUE(Vouched(*hn, "cases", t.kase));
    ASSERT_TRUE(Holds(*hn, "referrals", forged));
    ASSERT_FALSE(Holds(*hn, "referrals", t.ref));
    absl::Status w = WriteNarrativeAndSync(*hn, t.kase);
    EXPECT_EQ(w.code(), absl::StatusCode::kFailedPrecondition) << w;
    EXPECT_NE(w.message().find("no referral of it to this office"), std::string::npos) << w;
    EXPECT_EQ(GrantsTo(*hn, t.kase, "LC"), 0);
    EXPECT_EQ(GrantsTo(*hn, t.kase, "DN"), 0) << "a key of the case granted to Đà Nẵng";
  }
}

// Hub with Đà Nẵng (or an office the hub's administrator made). Beside
// Lào Cai's real referral, a referral of the same case from Đà Nẵng to Hà
// Nội, made and signed by Đà Nẵng's device. The case still names Lào Cai:
// the write is sealed for Lào Cai, nothing for Đà Nẵng. Held.
TEST_F(ReferredByAttackTest, ASecondReferralFromAnotherOfficeDoesNotMakeItTheOwner) {
  auto t = CaseOfLaoCai();
  const RowId second = Id16::NewRandom();
  const Signed made = SignedBy(t.dn, {ReferralMade(second, t.kase, "DN", "HN", "accepted")});
  RewritingHub hub(t.hn.client().transport(), [&](sync::PullChunk& c) {
    for (const RowSnapshot& r : c.rows) {
      if (r.table != "referrals" || r.row != t.ref) continue;
      c.rows.push_back(RowOf(made));
      c.witnesses.push_back(made.witness);
      break;
    }
    return true;
  });
  MustSyncThrough(t.hn, hub);
  ASSERT_TRUE(Holds(t.hn, "referrals", second));
  absl::Status w = WriteNarrativeAndSync(t.hn, t.kase);
  EXPECT_TRUE(w.ok()) << w;
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "LC"), 1);
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "DN"), 0) << "a key of the case granted to Đà Nẵng";
}

// HIGH (hub with another office, or alone with an office its administrator
// made). Đà Nẵng's device signs a write of Lào Cai's case's owner as Đà
// Nẵng, over Lào Cai's version, and a referral of the case from Đà Nẵng to
// Hà Nội. The hub serves the case with that owner and both commits as
// witnesses, beside Lào Cai's real referral. Each row is witnessed and the
// referral was made by a member of the office the case names, so Hà Nội's
// laptop sealed what it wrote of Lào Cai's case for Đà Nẵng (and not for
// Lào Cai): red before the fix (the write OK, GrantsTo DN = 1). Now the
// hub sends the owner's history and the row is witnessed only if each
// owner was written by the office owning the case then
// (sync/row_witness.h).
TEST_F(ReferredByAttackTest, AnOwnerTakenByAnotherOfficeThatThenRefersTheCaseIsNotTaken) {
  auto t = CaseOfLaoCai();
  const FieldVersion was = VersionOf(t.lc, "cases", t.kase, "province");
  const Signed take =
      SignedBy(t.dn, {Change("cases", t.kase, {W("province", Value::Text("DN"), was.version)})});
  const RowId second = Id16::NewRandom();
  const Signed refer = SignedBy(t.dn, {ReferralMade(second, t.kase, "DN", "HN")});
  int served = 0;
  RewritingHub hub(t.hn.client().transport(), [&](sync::PullChunk& c) {
    for (RowSnapshot& s : c.rows) {
      if (s.table != "cases" || s.row != t.kase) continue;
      FieldState* p = FieldOf(s, "province");
      if (p == nullptr) continue;
      p->value = Value::Text("DN");
      p->version.version = take.commit.version();
      p->version.base = was.version;
      c.witnesses.push_back(take.witness);
      c.rows.push_back(RowOf(refer));
      c.witnesses.push_back(refer.witness);
      ++served;
      break;
    }
    return true;
  });
  MustSyncThrough(t.hn, hub);
  ASSERT_EQ(served, 1);
  ASSERT_EQ(t.hn.Read("cases", t.kase, "province").value.str(), "DN");
  absl::Status w = WriteNarrativeAndSync(t.hn, t.kase);
  EXPECT_EQ(w.code(), absl::StatusCode::kFailedPrecondition) << w;
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "DN"), 0) << "Lào Cai's case sealed for Đà Nẵng";
}

// The same with the owner's version passed off as the case's creation (no
// base): a case is created by the commit that writes its `_live` first,
// not by a later one writing its owner alone. HIGH: red before the fix
// above (the write OK, GrantsTo DN = 1).
TEST_F(ReferredByAttackTest, AnOwnerPassedOffAsTheCreationByAnotherOfficeIsNotTaken) {
  auto t = CaseOfLaoCai();
  const Signed take = SignedBy(t.dn, {Change("cases", t.kase, {W("province", Value::Text("DN"))})});
  const RowId second = Id16::NewRandom();
  const Signed refer = SignedBy(t.dn, {ReferralMade(second, t.kase, "DN", "HN")});
  RewritingHub hub(t.hn.client().transport(), [&](sync::PullChunk& c) {
    for (RowSnapshot& s : c.rows) {
      if (s.table != "cases" || s.row != t.kase) continue;
      FieldState* p = FieldOf(s, "province");
      if (p == nullptr) continue;
      p->value = Value::Text("DN");
      p->version.version = take.commit.version();
      p->version.base.reset();
      c.witnesses.push_back(take.witness);
      c.rows.push_back(RowOf(refer));
      c.witnesses.push_back(refer.witness);
      break;
    }
    return true;
  });
  MustSyncThrough(t.hn, hub);
  ASSERT_EQ(t.hn.Read("cases", t.kase, "province").value.str(), "DN");
  absl::Status w = WriteNarrativeAndSync(t.hn, t.kase);
  EXPECT_EQ(w.code(), absl::StatusCode::kFailedPrecondition) << w;
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "DN"), 0) << "Lào Cai's case sealed for Đà Nẵng";
}

// The same as a creation dated before the real one: Đà Nẵng's commit
// writes the case's `_live` and owner with no base, a second before Lào
// Cai created it, and the hub serves both with that version, so no
// version the row holds is older than this "creation". Lào Cai's real
// creation, the witness of the row's other fields, created it too: a row
// is created once. Red before (the write OK, GrantsTo DN = 1).
TEST_F(ReferredByAttackTest, ACreationDatedBeforeTheRealOneIsNotTaken) {
  auto t = CaseOfLaoCai();
  // The case's creation (its owner has not been written since).
  const FieldVersion real = VersionOf(t.lc, "cases", t.kase, "province");
  ASSERT_FALSE(real.base.has_value());
  const Hlc before = Hlc::FromParts(real.version.hlc.wall_millis() - 1000, 0);
  const Signed take = SignedBy(t.dn,
                               {Change("cases", t.kase,
                                       {W(std::string(kLiveColumn), Value::Int(1)),
                                        W("province", Value::Text("DN"))})},
                               before);
  const RowId second = Id16::NewRandom();
  const Signed refer = SignedBy(t.dn, {ReferralMade(second, t.kase, "DN", "HN")});
  int served = 0;
  RewritingHub hub(t.hn.client().transport(), [&](sync::PullChunk& c) {
    for (RowSnapshot& s : c.rows) {
      if (s.table != "cases" || s.row != t.kase) continue;
      for (const char* column : {"province", "_live"}) {
        FieldState* f = FieldOf(s, column);
        if (f == nullptr) continue;
        f->value = std::string(column) == "province" ? Value::Text("DN") : Value::Int(1);
        f->version.version = take.commit.version();
        f->version.base.reset();
        ++served;
      }
      c.witnesses.push_back(take.witness);
      c.rows.push_back(RowOf(refer));
      c.witnesses.push_back(refer.witness);
      break;
    }
    return true;
  });
  MustSyncThrough(t.hn, hub);
  ASSERT_EQ(served, 2);
  ASSERT_EQ(t.hn.Read("cases", t.kase, "province").value.str(), "DN");
  absl::Status w = WriteNarrativeAndSync(t.hn, t.kase);
  EXPECT_EQ(w.code(), absl::StatusCode::kFailedPrecondition) << w;
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "DN"), 0) << "Lào Cai's case sealed for Đà Nẵng";
}

// Hub alone. The referral is witnessed, the case's commits are left out:
// the case is installed as served and names no owner; the write is
// refused, nothing granted. Held.
TEST_F(ReferredByAttackTest, AWitnessedReferralOfAnUnwitnessedCaseDecidesNothing) {
  auto t = CaseOfLaoCai();
  size_t dropped = 0;
  RewritingHub hub(t.hn.client().transport(), [&](sync::PullChunk& c) {
    const size_t before = c.witnesses.size();
    c.witnesses.erase(std::remove_if(c.witnesses.begin(), c.witnesses.end(),
                                     [&](const sync::PulledEntry& w) {
                                       return Touches(w, "cases", t.kase);
                                     }),
                      c.witnesses.end());
    dropped += before - c.witnesses.size();
    return true;
  });
  MustSyncThrough(t.hn, hub);
  ASSERT_GT(dropped, 0u);
  ASSERT_FALSE(Vouched(t.hn, "cases", t.kase));
  ASSERT_TRUE(Vouched(t.hn, "referrals", t.ref));
  absl::Status w = WriteNarrativeAndSync(t.hn, t.kase);
  EXPECT_EQ(w.code(), absl::StatusCode::kFailedPrecondition) << w;
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "LC"), 0);
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "DN"), 0);
}

// Hub alone. Witnesses in reverse order (or any order): each is found by
// its version, and the legitimate referral works as before. Held.
TEST_F(ReferredByAttackTest, WitnessesInAnyOrderWitnessTheSame) {
  auto t = CaseOfLaoCai();
  size_t seen = 0;
  RewritingHub hub(t.hn.client().transport(), [&](sync::PullChunk& c) {
    std::reverse(c.witnesses.begin(), c.witnesses.end());
    seen += c.witnesses.size();
    return true;
  });
  MustSyncThrough(t.hn, hub);
  ASSERT_GT(seen, 1u);
  EXPECT_TRUE(Vouched(t.hn, "cases", t.kase));
  EXPECT_TRUE(Vouched(t.hn, "referrals", t.ref));
  absl::Status w = WriteNarrativeAndSync(t.hn, t.kase);
  EXPECT_TRUE(w.ok()) << w;
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "LC"), 1);
}

// HIGH (malicious hub alone). Lào Cai referred its case to Đà Nẵng, which
// accepted and later completed it; then Lào Cai refers it to Hà Nội. The
// hub serves the referral to Đà Nẵng rolled back to its acceptance (Đà
// Nẵng's real signed commit as witness, the completion left out). Nothing
// in the rows installed whole can show a later version exists, and Hà
// Nội's laptop granted Đà Nẵng, a former partner, the keys of what it
// wrote. A referral taken whole may decide the owner (it names who
// referred the case here); only a referral whose answer came in a commit
// applied here sends keys to a third office (Lào Cai's laptops, which
// hold the referral's log, grant as before). Red before the fix
// (GrantsTo DN = 1).
TEST_F(ReferredByAttackTest, ACompletedReferralReplayedAsAcceptedGrantsNothingToThePartner) {
  auto t = CaseOfLaoCai(/*refer_to_ha_noi=*/false);
  const RowId old = Refer(t.lc.replica(), t.kase, "LC", "DN");
  AcceptReferral(t.lc, t.dn, old);
  const FieldVersion accepted = VersionOf(t.lc, "referrals", old, "status");
  SetField(t.dn.replica(), "referrals", old, "status", Value::Text("completed"));
  MustSync(t.dn);
  MustSync(t.lc);
  const RowId ref = Refer(t.lc.replica(), t.kase, "LC", "HN");
  MustSync(t.lc);
  const sync::PulledEntry accept = HubWitness(accepted.version);
  ASSERT_FALSE(accept.signature.empty());
  int served = 0;
  RewritingHub hub(t.hn.client().transport(), [&](sync::PullChunk& c) {
    for (RowSnapshot& s : c.rows) {
      if (s.table != "referrals" || s.row != old) continue;
      FieldState* st = FieldOf(s, "status");
      if (st == nullptr) continue;
      st->value = Value::Text("accepted");
      st->version = accepted;
      c.witnesses.push_back(accept);
      ++served;
    }
    return true;
  });
  MustSyncThrough(t.hn, hub);
  ASSERT_EQ(served, 1);
  ASSERT_TRUE(Vouched(t.hn, "referrals", old)) << "the replay is witnessed";
  ASSERT_TRUE(Holds(t.hn, "referrals", ref));
  absl::Status w = WriteNarrativeAndSync(t.hn, t.kase);
  EXPECT_TRUE(w.ok()) << w;
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "LC"), 1);
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "DN"), 0) << "a former partner granted Hà Nội's writes";
}

// Legitimate, beside the replay above: Lào Cai's referral to Đà Nẵng is
// still accepted when Lào Cai refers the case to Hà Nội. Hà Nội's laptop
// grants only Lào Cai (it took the answer whole, and cannot tell it from
// the replay above); Lào Cai's laptop, which holds the referral's log,
// passes the version Hà Nội made on to Đà Nẵng, marked relayed (purpose
// 3): Đà Nẵng reads it, and never seals under it. Red before (state
// kNoKey: the owner's laptops did not pass on a version another office
// made).
TEST_F(ReferredByAttackTest, APartnerAcceptedBeforeTheCaseCameHereReadsItThroughTheOwner) {
  auto t = CaseOfLaoCai(/*refer_to_ha_noi=*/false);
  const RowId partner = Refer(t.lc.replica(), t.kase, "LC", "DN");
  AcceptReferral(t.lc, t.dn, partner);
  Refer(t.lc.replica(), t.kase, "LC", "HN");
  MustSync(t.lc);
  MustSync(t.hn);
  ASSERT_TRUE(Vouched(t.hn, "referrals", partner));
  absl::Status w = WriteNarrativeAndSync(t.hn, t.kase);
  ASSERT_TRUE(w.ok()) << w;
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "LC"), 1);
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "DN"), 0);
  const uint32_t made_by_hn = SealedVersion(t.hn, t.kase);
  for (auto* n : {&t.lc, &t.dn, &t.lc, &t.dn}) MustSync(*n);
  EXPECT_EQ(Relays(t.lc, t.kase, "DN"), 1);
  const OpenedField got = t.dn.Read("cases", t.kase, "narrative");
  EXPECT_EQ(got.state, OpenedField::State::kOpened) << got.problem;
  EXPECT_EQ(got.value.str(), "ghi chép của Hà Nội");
  // What Đà Nẵng writes is sealed under a version its office or the owner
  // made, not under Hà Nội's key.
  ASSERT_TRUE(WriteNarrativeAndSync(t.dn, t.kase).ok());
  EXPECT_NE(SealedVersion(t.dn, t.kase), made_by_hn);
}

// Hub with Lào Cai's device, or alone with a device its administrator
// enrolled in Đà Nẵng: the referral to Đà Nẵng served "accepted" by a
// device that is not Đà Nẵng's member. No grant to Đà Nẵng. Held.
TEST_F(ReferredByAttackTest, AnAnswerWrittenByANonMemberOfTheReceivingOfficeGrantsNothing) {
  auto t = CaseOfLaoCai();
  const RowId other = Refer(t.lc.replica(), t.kase, "LC", "DN");
  MustSync(t.lc);
  join_offices_ = false;
  auto& rogue = AddNode("DN");  // enrolled by the hub's administrator, approved by nobody
  join_offices_ = true;
  const FieldVersion made = VersionOf(t.lc, "referrals", other, "status");
  for (harness::LocalNode* signer : {&t.lc, &rogue}) {
    SCOPED_TRACE(signer == &t.lc ? "answered by Lào Cai" : "answered by a rogue device");
    auto& hn = signer == &t.lc ? t.hn : t.hn2;
    const Signed answer = SignedBy(
        *signer, {Change("referrals", other, {W("status", Value::Text("accepted"), made.version)})});
    int served = 0;
    RewritingHub hub(hn.client().transport(), [&](sync::PullChunk& c) {
      for (RowSnapshot& s : c.rows) {
        if (s.table != "referrals" || s.row != other) continue;
        FieldState* st = FieldOf(s, "status");
        if (st == nullptr) continue;
        st->value = Value::Text("accepted");
        st->version.version = answer.commit.version();
        st->version.base = made.version;
        c.witnesses.push_back(answer.witness);
        ++served;
      }
      return true;
    });
    MustSyncThrough(hn, hub);
    ASSERT_EQ(served, 1);
    absl::Status w = WriteNarrativeAndSync(hn, t.kase);
    EXPECT_TRUE(w.ok()) << w;
    EXPECT_EQ(GrantsTo(hn, t.kase, "DN"), 0) << "granted on an answer Đà Nẵng never gave";
  }
}

// Đà Nẵng's own case, referred by Đà Nẵng to Hà Nội and then moved by Đà
// Nẵng to Lào Cai (its owner's right), through an honest hub. Hà Nội's
// laptop takes no owner from a referral Lào Cai never made: no key to Đà
// Nẵng, which no longer owns it; the write is refused, saying why. Held.
TEST_F(ReferredByAttackTest, ACaseItsOwnerMovedAfterReferringItSealsForNoFormerOwner) {
  auto t = CaseOfLaoCai(/*refer_to_ha_noi=*/false);
  const RowId own = NewCase(t.dn.replica(), "DN", "Lò Thị Mai", "lời kể của Đà Nẵng");
  Refer(t.dn.replica(), own, "DN", "HN");
  SetField(t.dn.replica(), "cases", own, "province", Value::Text("LC"));
  MustSync(t.dn);
  MustSync(t.hn);
  ASSERT_TRUE(Holds(t.hn, "cases", own));
  ASSERT_TRUE(Vouched(t.hn, "cases", own));
  absl::Status w = WriteNarrativeAndSync(t.hn, own);
  EXPECT_EQ(w.code(), absl::StatusCode::kFailedPrecondition) << w;
  EXPECT_EQ(GrantsTo(t.hn, own, "DN"), 0) << "sealed for an office that no longer owns it";
}

// Legitimate: Lào Cai moves its case to Đà Nẵng, which refers it to Hà
// Nội. Hà Nội's laptop takes Đà Nẵng as the owner (its version written by
// Lào Cai, which owned the case then) and seals for it.
TEST_F(ReferredByAttackTest, ACaseMovedByItsOwnerThenReferredIsSealedForItsNewOwner) {
  auto t = CaseOfLaoCai(/*refer_to_ha_noi=*/false);
  SetField(t.lc.replica(), "cases", t.kase, "province", Value::Text("DN"));
  MustSync(t.lc);
  MustSync(t.dn);
  ASSERT_TRUE(Holds(t.dn, "cases", t.kase));
  Refer(t.dn.replica(), t.kase, "DN", "HN");
  MustSync(t.dn);
  MustSync(t.hn);
  ASSERT_TRUE(Holds(t.hn, "cases", t.kase));
  absl::Status w = WriteNarrativeAndSync(t.hn, t.kase);
  EXPECT_TRUE(w.ok()) << w;
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "DN"), 1);
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "LC"), 0);
}

// Legitimate: Lào Cai refers its case to Hà Nội, whose laptop receives
// it; then Lào Cai moves the case to Đà Nẵng (its owner's right). Hà Nội's
// laptop took Lào Cai as the owner from its referral, and the move came in
// a commit applied here, by a member of Lào Cai: it seals for Đà Nẵng.
// Red before (FAILED_PRECONDITION: no referral from Đà Nẵng, the laptop
// stuck on every write to the case).
TEST_F(ReferredByAttackTest, ACaseMovedByItsOwnerAfterItCameHereIsSealedForItsNewOwner) {
  auto t = CaseOfLaoCai();
  MustSync(t.hn);
  ASSERT_TRUE(Holds(t.hn, "cases", t.kase));
  ASSERT_TRUE(Vouched(t.hn, "cases", t.kase));
  SetField(t.lc.replica(), "cases", t.kase, "province", Value::Text("DN"));
  MustSync(t.lc);
  MustSync(t.hn);
  absl::Status w = WriteNarrativeAndSync(t.hn, t.kase);
  EXPECT_TRUE(w.ok()) << w;
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "DN"), 1);
}

// MEDIUM (stolen laptop, with the office it moves the case to). A laptop
// of Lào Cai moves the case, referred to Hà Nội, to Đà Nẵng; Lào Cai's
// office then removes that laptop (it was stolen). A move's HLC is its
// author's word: one written after the removal and dated before it cannot
// be told from this one, written before. So a move by a laptop removed
// since decides no owner any more, as a referral by it grants nothing
// more (store/keyring_seal.cc ReferredBy, docs/CRYPTO.md "Referral
// authority"): Hà Nội's laptop, which took Đà Nẵng as the owner through
// that move, stops sealing for it once the removal is here; its write is
// refused, saying why, and Đà Nẵng reads nothing written after. Red before
// (the write OK and sealed for Đà Nẵng, which opened it).
TEST_F(ReferredByAttackTest, AMoveSeenBeforeItsAuthorsRemovalDecidesNoOwnerAfterIt) {
  MoveThenRemove(/*seen_before=*/true);
}

// The same with the move and the removal in one pull.
TEST_F(ReferredByAttackTest, AMoveByALaptopRemovedInTheSamePullDecidesNoOwner) {
  MoveThenRemove(/*seen_before=*/false);
}

// A former partner reopens a completed referral: Đà Nẵng's laptop (a
// patched build, none of its own checks) writes "accepted" again over its
// completion; Lào Cai then refers the case to Hà Nội. The honest hub
// refuses the reopening (a completed referral is final); a hub that
// relays it serves Hà Nội the referral with that answer, witnessed by Đà
// Nẵng's signed commit. Either way Hà Nội's laptop grants Đà Nẵng
// nothing (an answer not based on the referral's creation authorises
// nothing). Held.
TEST_F(ReferredByAttackTest, AReferralReopenedByAFormerPartnerGrantsItNothing) {
  auto t = CaseOfLaoCai(/*refer_to_ha_noi=*/false);
  const RowId old = Refer(t.lc.replica(), t.kase, "LC", "DN");
  AcceptReferral(t.lc, t.dn, old);
  SetField(t.dn.replica(), "referrals", old, "status", Value::Text("completed"));
  MustSync(t.dn);
  const FieldVersion completed = VersionOf(t.dn, "referrals", old, "status");
  LocalTxn reopen;
  reopen.Set("referrals", old, {{"status", Value::Text("accepted")}});
  ASSERT_TRUE(WriteAsPatchedBuild(t.dn, reopen).ok());
  // Refused by the honest hub (since version 3 pushes are judged per
  // commit, the reopening alone, set aside on DN's laptop).
  EXPECT_FALSE(RefusedPush(t.dn).ok()) << "the honest hub relayed the reopening";
  MustSync(t.lc);
  Refer(t.lc.replica(), t.kase, "LC", "HN");
  MustSync(t.lc);
  // The relayed reopening first, to a laptop that makes the key version
  // of what it writes (the second seals under it, its office's).
  for (bool relayed : {true, false}) {
    SCOPED_TRACE(relayed ? "relayed by the hub" : "refused by the hub");
    harness::LocalNode& hn = relayed ? t.hn : t.hn2;
    const Signed again = SignedBy(
        t.dn, {Change("referrals", old, {W("status", Value::Text("accepted"), completed.version)})});
    int served = 0;
    RewritingHub hub(hn.client().transport(), [&](sync::PullChunk& c) {
      if (!relayed) return true;
      for (RowSnapshot& s : c.rows) {
        if (s.table != "referrals" || s.row != old) continue;
        FieldState* st = FieldOf(s, "status");
        if (st == nullptr) continue;
        st->value = Value::Text("accepted");
        st->version.version = again.commit.version();
        st->version.base = completed.version;
        c.witnesses.push_back(again.witness);
        ++served;
      }
      return true;
    });
    MustSyncThrough(hn, hub);
    ASSERT_EQ(served, relayed ? 1 : 0);
    if (relayed) {
      ASSERT_TRUE(Vouched(hn, "referrals", old));
    }
    absl::Status w = WriteNarrativeAndSync(hn, t.kase);
    EXPECT_TRUE(w.ok()) << w;
    if (relayed) {
      EXPECT_EQ(GrantsTo(hn, t.kase, "LC"), 1);
    }
    EXPECT_EQ(GrantsTo(hn, t.kase, "DN"), 0) << "a former partner granted Hà Nội's writes";
  }
}

}  // namespace
}  // namespace fieldsync::testing
