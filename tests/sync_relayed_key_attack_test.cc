// Attacks on the versions a case's owner passes on to its partners
// (store/keyring_maintain.cc, purpose 3 "relayed"; docs/CRYPTO.md,
// "Referral authority"; docs/PROTOCOL.md, "Newly visible rows"): Lào Cai
// owns the case and referred it to Đà Nẵng and to Hà Nội; a version Hà
// Nội's laptop made goes to Đà Nẵng only through Lào Cai's laptop, and only
// while Lào Cai's own log shows Đà Nẵng's acceptance. Each test asserts
// the safe outcome: no key of what Hà Nội writes reaches an office Lào Cai
// did not accept, or no longer does. Real hub processes and laptops; where
// the attacker is the hub (with an office), a transport between the laptop
// and the real hub rewrites the pull's messages, and commits the test
// signs with a real device's key stand for what a patched build signs.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "support/referred_fixture.h"
#include "support/rewriting_hub.h"

namespace fieldsync::testing {
namespace {

class RelayedKeyAttackTest : public ReferredFixture {
 protected:
  // `n` writes `text` as the case's narrative, then syncs through `hub`.
  static absl::Status WriteThrough(harness::LocalNode& n, sync::Transport& hub, const RowId& kase,
                                   const std::string& text) {
    LocalTxn w;
    w.Set("cases", kase, {{"narrative", Value::Text(text)}});
    absl::Status s = n.replica().Write(w).status();
    SyncThrough(n, hub).IgnoreError();
    return s;
  }
  static bool ReadsAs(harness::LocalNode& n, const RowId& kase, const std::string& text) {
    const OpenedField got = n.Read("cases", kase, "narrative");
    return got.state == OpenedField::State::kOpened && got.value.str() == text;
  }
  // A hub that withholds every relayed key record from the laptop it serves
  // (the record that shows the laptop a version of its own went on).
  struct Withholding {
    int withheld = 0;
    RewritingHub hub;
    explicit Withholding(harness::LocalNode& n)
        : hub(n.client().transport(), [this](sync::PullChunk& c) {
            auto drop = std::remove_if(
                c.key_records.begin(), c.key_records.end(), [&](const std::string& b) {
                  absl::StatusOr<crypto::KeyRecord> r = crypto::ParseKeyRecord(b);
                  const bool relayed = r.ok() && r->kind == crypto::KeyRecordKind::kDataKey &&
                                       r->purpose == crypto::DataKeyPurpose::kRelayed;
                  withheld += relayed ? 1 : 0;
                  return relayed;
                });
            c.key_records.erase(drop, c.key_records.end());
            return true;
          }) {}
  };

  // Đà Nẵng accepted Lào Cai's referral, then Lào Cai referred the case to
  // Hà Nội, whose laptop wrote through a hub withholding relayed records;
  // Đà Nẵng reads it (through Lào Cai). Then the partnership ends (`end`
  // on Đà Nẵng's or Lào Cai's laptop), and Hà Nội writes again: that must
  // not reach Đà Nẵng.
  void EndedPartnership(const std::function<void(Referred&, const RowId&)>& end) {
    auto t = CaseOfLaoCai(/*refer_to_ha_noi=*/false);
    const RowId partner = Refer(t.lc.replica(), t.kase, "LC", "DN");
    AcceptReferral(t.lc, t.dn, partner);
    Refer(t.lc.replica(), t.kase, "LC", "HN");
    MustSync(t.lc);
    Withholding w(t.hn);
    MustSyncThrough(t.hn, w.hub);
    ASSERT_TRUE(WriteThrough(t.hn, w.hub, t.kase, "trước khi kết thúc").ok());
    const uint32_t before = SealedVersion(t.hn, t.kase);
    for (auto* n : {&t.lc, &t.dn, &t.lc, &t.dn}) MustSync(*n);
    ASSERT_EQ(Relays(t.lc, t.kase, "DN"), 1);
    ASSERT_TRUE(ReadsAs(t.dn, t.kase, "trước khi kết thúc")) << "the legitimate passing on";
    end(t, partner);
    MustSync(t.lc);
    MustSyncThrough(t.hn, w.hub);
    EXPECT_GT(w.withheld, 0) << "the hub had no relayed record to withhold";
    ASSERT_TRUE(WriteThrough(t.hn, w.hub, t.kase, "sau khi kết thúc").ok());
    EXPECT_NE(SealedVersion(t.hn, t.kase), before)
        << "sealed under a version the former partner holds";
    for (auto* n : {&t.lc, &t.dn, &t.lc, &t.dn}) MustSync(*n);
    EXPECT_EQ(Relays(t.lc, t.kase, "DN"), 1) << "passed on to a former partner";
    EXPECT_FALSE(ReadsAs(t.dn, t.kase, "sau khi kết thúc")) << "a former partner read it";
  }
};

// Đà Nẵng completes the referral; the hub withholds from Hà Nội's laptop
// the record that shows its version went to Đà Nẵng. Hà Nội's laptop sees
// the completion, dated after its version was made, and seals its next
// write under a new one, which Lào Cai (the completion final in its log)
// passes on to no one. Red before EndedSince (sealed under the version Đà
// Nẵng holds, and Đà Nẵng read it).
TEST_F(RelayedKeyAttackTest, AFormerPartnerGetsNothingWrittenAfterItCompleted) {
  EndedPartnership([](Referred& t, const RowId& partner) {
    SetField(t.dn.replica(), "referrals", partner, "status", Value::Text("completed"));
    MustSync(t.dn);
  });
}

// The same, the referral deleted by Lào Cai (its owner's right).
TEST_F(RelayedKeyAttackTest, AFormerPartnerGetsNothingWrittenAfterTheOwnerDeletedItsReferral) {
  EndedPartnership([](Referred& t, const RowId& partner) {
    LocalTxn del;
    del.Delete("referrals", partner);
    ASSERT_TRUE(t.lc.replica().Write(del).ok());
    MustSync(t.lc);
  });
}

// Hub with Đà Nẵng (or with Hà Nội and Đà Nẵng): a referral of Lào Cai's
// case from Lào Cai to Đà Nẵng that Lào Cai never made, its creation
// signed by a device of Đà Nẵng (then of Hà Nội), accepted by Đà Nẵng,
// served to Lào Cai's laptop whole with both commits as witnesses (the
// honest hub refuses both: only the owner refers). Lào Cai's laptop passes
// nothing on to Đà Nẵng: no member of Lào Cai made the referral. Held.
TEST_F(RelayedKeyAttackTest, AReferralToItselfForgedByAnOfficeGetsItNothingPassedOn) {
  auto t = CaseOfLaoCai();
  MustSync(t.hn);
  ASSERT_TRUE(WriteNarrativeAndSync(t.hn, t.kase).ok());
  MustSync(t.lc);
  for (harness::LocalNode* signer : {&t.dn, &t.hn}) {
    SCOPED_TRACE(signer == &t.dn ? "made by Đà Nẵng" : "made by Hà Nội");
    const RowId forged = Id16::NewRandom();
    const Signed made = SignedBy(*signer, {ReferralMade(forged, t.kase, "LC", "DN")});
    const Signed accepted = SignedBy(
        t.dn, {Change("referrals", forged,
                      {W("status", Value::Text("accepted"), made.commit.version())})});
    RowSnapshot row = RowOf(made);
    FieldState* st = FieldOf(row, "status");
    ASSERT_NE(st, nullptr);
    st->value = Value::Text("accepted");
    st->version.version = accepted.commit.version();
    st->version.base = made.commit.version();
    int served = 0;
    RewritingHub hub(t.lc.client().transport(), [&](sync::PullChunk& c) {
      if (served > 0) return true;
      c.rows.push_back(row);
      if (c.rows_position == 0) c.rows_position = std::max<int64_t>(c.log_head, 1);
      c.witnesses.push_back(made.witness);
      c.witnesses.push_back(accepted.witness);
      ++served;
      return true;
    });
    MustSyncThrough(t.lc, hub);
    ASSERT_EQ(served, 1);
    ASSERT_TRUE(Holds(t.lc, "referrals", forged)) << "the forged referral was not installed";
    ASSERT_TRUE(Vouched(t.lc, "referrals", forged)) << "its commits witness it";
    MustSync(t.lc);
    EXPECT_EQ(Relays(t.lc, t.kase, "DN"), 0) << "passed on to an office Lào Cai never referred";
    EXPECT_EQ(GrantsTo(t.lc, t.kase, "DN"), 0);
  }
}

// Hub alone: Đà Nẵng accepted, Hà Nội wrote (passed on to Đà Nẵng), then
// Đà Nẵng completed. A second laptop of Hà Nội receives the case whole with
// the referral to Đà Nẵng served "accepted" (its real, signed acceptance,
// replayed) and the relayed record withheld. It seals under no version it
// did not make (the one Đà Nẵng holds): its write reaches no former
// partner. Red before EndedSince took a referral taken whole into account.
TEST_F(RelayedKeyAttackTest, AnAcceptanceReplayedToAnotherLaptopAfterCompletionGetsNothingNew) {
  auto t = CaseOfLaoCai(/*refer_to_ha_noi=*/false);
  const RowId partner = Refer(t.lc.replica(), t.kase, "LC", "DN");
  AcceptReferral(t.lc, t.dn, partner);
  const FieldVersion accepted = VersionOf(t.lc, "referrals", partner, "status");
  Refer(t.lc.replica(), t.kase, "LC", "HN");
  MustSync(t.lc);
  MustSync(t.hn);
  ASSERT_TRUE(WriteNarrativeAndSync(t.hn, t.kase).ok());
  for (auto* n : {&t.lc, &t.dn, &t.lc, &t.dn, &t.hn}) MustSync(*n);
  ASSERT_EQ(Relays(t.lc, t.kase, "DN"), 1);
  SetField(t.dn.replica(), "referrals", partner, "status", Value::Text("completed"));
  MustSync(t.dn);
  MustSync(t.lc);
  const sync::PulledEntry accept = HubWitness(accepted.version);
  ASSERT_FALSE(accept.signature.empty());
  int served = 0;
  Withholding w(t.hn2);
  RewritingHub hub(w.hub, [&](sync::PullChunk& c) {
    for (RowSnapshot& s : c.rows) {
      if (s.table != "referrals" || s.row != partner) continue;
      FieldState* st = FieldOf(s, "status");
      if (st == nullptr) continue;
      st->value = Value::Text("accepted");
      st->version = accepted;
      c.witnesses.push_back(accept);
      ++served;
    }
    return true;
  });
  MustSyncThrough(t.hn2, hub);
  ASSERT_EQ(served, 1);
  ASSERT_TRUE(Vouched(t.hn2, "referrals", partner)) << "the replay is witnessed";
  ASSERT_TRUE(WriteThrough(t.hn2, hub, t.kase, "của máy thứ hai").ok());
  for (auto* n : {&t.lc, &t.dn, &t.lc, &t.dn}) MustSync(*n);
  EXPECT_EQ(Relays(t.lc, t.kase, "DN"), 1) << "passed on to a former partner";
  EXPECT_FALSE(ReadsAs(t.dn, t.kase, "của máy thứ hai")) << "a former partner read it";
}

// LOW (an office the case was referred to, which declined it, with the
// hub relaying its record): Quảng Ninh's laptop grants Lào Cai a key of
// its own for the version Hà Nội made. Before, Lào Cai's laptop took
// grants from every office it referred the case to, whatever the answer:
// two grants of one version opening to different keys, the version went
// to no one, and Đà Nẵng, a partner, could not read what Hà Nội wrote. A
// grant by an office whose referral ended (declined, completed, deleted)
// is taken only for a version no office still referred to granted here
// (a version a former partner made while it was one). Red before (Đà Nẵng:
// "no key", nothing passed on).
TEST_F(RelayedKeyAttackTest, AnOfficeThatDeclinedCannotBlockWhatThePartnersPassOn) {
  ASSERT_TRUE(hub_->AddProvince("QN", "Quảng Ninh").ok());
  auto t = CaseOfLaoCai(/*refer_to_ha_noi=*/false);
  auto& qn = AddNode("QN");
  MustSync(qn);
  const RowId partner = Refer(t.lc.replica(), t.kase, "LC", "DN");
  AcceptReferral(t.lc, t.dn, partner);
  const RowId declined = Refer(t.lc.replica(), t.kase, "LC", "QN");
  MustSync(t.lc);
  MustSync(qn);
  SetField(qn.replica(), "referrals", declined, "status", Value::Text("declined"));
  MustSync(qn);
  Refer(t.lc.replica(), t.kase, "LC", "HN");
  MustSync(t.lc);
  MustSync(t.hn);
  // Hà Nội writes (a version of its own, granted to Lào Cai).
  ASSERT_TRUE(WriteNarrativeAndSync(t.hn, t.kase).ok());
  const uint32_t made_by_hn = SealedVersion(t.hn, t.kase);
  // Quảng Ninh's dud of that version, under Lào Cai's newest office key.
  auto newest = RawDb(t.lc.replica()).Prepared(
      "SELECT bytes FROM _fs_keys WHERE kind = 1 AND province = 'LC' ORDER BY generation DESC "
      "LIMIT 1");
  ASSERT_TRUE(*(*newest)->Step());
  const crypto::KeyRecord office = Must(crypto::ParseKeyRecord((*newest)->ColumnString(0)));
  (*newest)->Reset();
  const crypto::SecretBytes dud = crypto::SecretBytes::Random(crypto::kDataKeyBytes);
  const crypto::KeyRecord planted = Must(crypto::WrapDataKey(
      qn.identity(), NowHlc(), t.kase, made_by_hn, dud, office, crypto::DataKeyPurpose::kOwner));
  int served = 0;
  RewritingHub hub(t.lc.client().transport(), [&](sync::PullChunk& c) {
    if (served++ == 0) c.key_records.insert(c.key_records.begin(), planted.bytes);
    return true;
  });
  MustSyncThrough(t.lc, hub);
  MustSyncThrough(t.lc, hub);
  ASSERT_GT(served, 0);
  for (auto* n : {&t.dn, &t.lc, &t.dn}) MustSync(*n);
  EXPECT_EQ(Relays(t.lc, t.kase, "DN"), 1) << "the version Hà Nội made was passed on to no one";
  EXPECT_TRUE(ReadsAs(t.dn, t.kase, "ghi chép của Hà Nội")) << "Đà Nẵng cannot read Hà Nội";
  EXPECT_EQ(Relays(t.lc, t.kase, "QN"), 0);
}

// LOW (a laptop of the former partner whose clock is behind, as a patched
// build back-dating would be, with a hub withholding relayed records from
// the maker). Đà Nẵng accepted; Hà Nội's laptop made a version, which Lào
// Cai passed on to Đà Nẵng; a second laptop of Đà Nẵng, its clock 200 s
// behind (within what laptops accept) and not synced since, completes the
// referral: dated before the version. An ending is dated by its ender's HLC, so Hà Nội's
// laptop took it as older than its version and sealed its next write
// under the version Đà Nẵng holds. The version is this laptop's own, and
// the ending reached its log after it made it: that order, its own, the
// ender cannot choose. Red before (the same version, and Đà Nẵng read it).
TEST_F(RelayedKeyAttackTest, ACompletionDatedBeforeTheMakersVersionStillEndsIt) {
  static FakeClock behind(0);
  behind.Set(SystemClock::Get()->NowMillis() - 200 * 1000);
  auto t = CaseOfLaoCai(/*refer_to_ha_noi=*/false);
  auto& dn2 = AddNode("DN", "", &behind);
  MustSync(dn2);
  const RowId partner = Refer(t.lc.replica(), t.kase, "LC", "DN");
  AcceptReferral(t.lc, t.dn, partner);
  MustSync(dn2);
  ASSERT_TRUE(Holds(dn2, "referrals", partner));
  Refer(t.lc.replica(), t.kase, "LC", "HN");
  MustSync(t.lc);
  Withholding w(t.hn);
  MustSyncThrough(t.hn, w.hub);
  ASSERT_TRUE(WriteThrough(t.hn, w.hub, t.kase, "trước khi kết thúc").ok());
  const uint32_t before = SealedVersion(t.hn, t.kase);
  const FieldVersion written = VersionOf(t.hn, "cases", t.kase, "narrative");
  for (auto* n : {&t.lc, &t.dn, &t.lc, &t.dn}) MustSync(*n);
  ASSERT_EQ(Relays(t.lc, t.kase, "DN"), 1);
  ASSERT_TRUE(ReadsAs(t.dn, t.kase, "trước khi kết thúc")) << "the legitimate passing on";
  SetField(dn2.replica(), "referrals", partner, "status", Value::Text("completed"));
  ASSERT_LT(VersionOf(dn2, "referrals", partner, "status").version.hlc.packed(),
            written.version.hlc.packed())
      << "the completion is not dated before the version";
  MustSync(dn2);
  MustSync(t.lc);
  MustSyncThrough(t.hn, w.hub);
  ASSERT_EQ(t.hn.Read("referrals", partner, "status").value.str(), "completed");
  EXPECT_GT(w.withheld, 0) << "the hub had no relayed record to withhold";
  ASSERT_TRUE(WriteThrough(t.hn, w.hub, t.kase, "sau khi kết thúc").ok());
  EXPECT_NE(SealedVersion(t.hn, t.kase), before)
      << "sealed under a version the former partner holds";
  for (auto* n : {&t.lc, &t.dn, &t.lc, &t.dn}) MustSync(*n);
  EXPECT_FALSE(ReadsAs(t.dn, t.kase, "sau khi kết thúc")) << "a former partner read it";
}

}  // namespace
}  // namespace fieldsync::testing
