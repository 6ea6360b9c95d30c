// Referral authority from signatures, not from the last writer
// (sync-core/change/referral_rules.h, docs/CRYPTO.md "Referral authority"),
// tried against a real hub as a malicious or careless office would: a
// referral reopened or re-accepted after it was completed, re-targeted,
// created by an office that does not own the case, answered by the wrong
// office; and two laptops answering one referral while apart.
#include <gtest/gtest.h>

#include <string>

#include "crypto/envelope.h"
#include "crypto/key_record.h"
#include "store/row_meta.h"
#include "store/sqlite.h"
#include "support/raw_db.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

using State = OpenedField::State;

class ReferralAuthorityTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    ASSERT_TRUE(hub_->AddProvince("HG", "Hà Giang").ok());
  }

  static std::string StatusOf(Replica& r, const RowId& ref) {
    auto row = r.Get("referrals", ref);
    EXPECT_TRUE(row.ok() && row->has_value());
    if (!row.ok() || !row->has_value()) return "";
    const int i = r.schema().FindTable("referrals")->ColumnIndex("status");
    return (*row)->values[static_cast<size_t>(i)].str();
  }
  static std::string StatusOf(harness::LocalNode& n, const RowId& ref) {
    return StatusOf(n.replica(), ref);
  }
  static size_t StatusConflicts(Replica& r, const RowId& ref) {
    auto open = r.Conflicts("referrals", ref);
    EXPECT_TRUE(open.ok());
    size_t k = 0;
    for (const ConflictRecord& c : *open) k += c.column == "status";
    return k;
  }
  static size_t StatusConflicts(harness::LocalNode& n, const RowId& ref) {
    return StatusConflicts(n.replica(), ref);
  }
  // The same of the hub's row, on either store.
  std::string HubStatusOf(const RowId& ref) {
    auto row = OpenHubRows()->Get("referrals", ref);
    EXPECT_TRUE(row.ok() && row->has_value());
    if (!row.ok() || !row->has_value()) return "";
    const int i = FieldOfficeSchema().FindTable("referrals")->ColumnIndex("status");
    return (*row)->values[static_cast<size_t>(i)].str();
  }
  size_t HubStatusConflicts(const RowId& ref) {
    auto open = OpenHubRows()->Conflicts("referrals", ref);
    EXPECT_TRUE(open.ok()) << open.status();
    size_t k = 0;
    if (open.ok()) {
      for (const ConflictRecord& c : *open) k += c.column == "status";
    }
    return k;
  }
  // A grant of the key `kase`'s narrative is sealed under (as `holder`
  // holds it) to the newest office key of `to` that `holder` holds, made by
  // `signer` with a key of its own: a dud, whose key the test keeps.
  struct Dud {
    uint32_t version = 0;
    crypto::SecretBytes key = crypto::SecretBytes::Random(crypto::kDataKeyBytes);
    crypto::KeyRecord record;
  };
  static Dud DudGrant(harness::LocalNode& holder, harness::LocalNode& signer, const RowId& kase,
                      const std::string& to) {
    Dud d;
    const size_t col = static_cast<size_t>(
        holder.replica().schema().FindTable("cases")->ColumnIndex("narrative"));
    auto row = holder.replica().Get("cases", kase);
    EXPECT_TRUE(row.ok() && row->has_value());
    d.version = Must(crypto::ParseEnvelope((*row)->values[col].str())).key_version;
    auto newest = testing::RawDb(holder.replica()).Prepared(
        "SELECT bytes FROM _fs_keys WHERE kind = 1 AND province = ?1 ORDER BY generation DESC "
        "LIMIT 1");
    (*newest)->BindText(1, to);
    EXPECT_TRUE(*(*newest)->Step()) << "the laptop holds office " << to << "'s key";
    const crypto::KeyRecord office_key = Must(crypto::ParseKeyRecord((*newest)->ColumnString(0)));
    (*newest)->Reset();
    d.record = Must(crypto::WrapDataKey(signer.identity(), NowHlc(), kase, d.version, d.key,
                                        office_key, crypto::DataKeyPurpose::kReferral));
    return d;
  }

  // Lào Cai's case referred to Hà Nội, not yet answered, every laptop
  // synced; a laptop of Đà Nẵng beside them.
  struct ThreeOffices {
    harness::LocalNode& lc;
    harness::LocalNode& hn;
    harness::LocalNode& dn;
    RowId kase, ref;
  };
  ThreeOffices CaseOfLaoCaiReferredToHaNoi() {
    EXPECT_TRUE(hub_->AddProvince("DN", "Đà Nẵng").ok());
    auto& lc = AddNode("LC");
    auto& hn = AddNode("HN");
    auto& dn = AddNode("DN");
    const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng", "lời kể thật");
    const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
    for (auto* n : {&lc, &hn, &dn, &lc, &hn}) MustSync(*n);
    return {lc, hn, dn, kase, ref};
  }

  // A refused push: the hub stores nothing and says which rule.
  void ExpectRefused(harness::LocalNode& n, const std::string& rule) {
    const int64_t head = Must(HubLogHead());
    absl::Status r = RefusedPush(n);
    EXPECT_EQ(r.code(), absl::StatusCode::kPermissionDenied) << r;
    EXPECT_NE(r.message().find(rule), std::string::npos) << r;
    EXPECT_EQ(Must(HubLogHead()), head);
  }
};

TEST_F(ReferralAuthorityTest, ACompletedReferralReacceptedByTheReceivingOfficeGrantsNothing) {
  auto& lc = AddNode("LC");
  auto& hn1 = AddNode("HN");
  auto& hn2 = AddNode("HN");
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng", "trước khi hoàn tất");
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  MustSync(lc);
  MustSync(hn2);  // hn2 holds the referral as sent, then stays offline
  AcceptReferral(lc, hn1, ref);
  ASSERT_EQ(hn1.Read("cases", kase, "narrative").value.str(), "trước khi hoàn tất");
  // Hà Nội completes it; Lào Cai writes on: a new key version, not for HN.
  SetField(hn1.replica(), "referrals", ref, "status", Value::Text("completed"));
  MustSync(hn1);
  MustSync(lc);
  SetField(lc.replica(), "cases", kase, "narrative", Value::Text("sau khi hoàn tất"));
  MustSync(lc);
  MustSync(hn1);
  ASSERT_EQ(hn1.Read("cases", kase, "narrative").state, State::kNoKey);

  // hn2, which never saw the acceptance nor the completion, "accepts" the
  // referral: to the hub a legal answer written while apart. It wins the
  // merge (it is newer), the completion is kept as a conflict, and Lào Cai
  // grants nothing: a referral seen completed is final.
  SetField(hn2.replica(), "referrals", ref, "status", Value::Text("accepted"));
  MustSync(hn2);
  for (int i = 0; i < 2; ++i) {
    MustSync(lc);
    MustSync(hn1);
    MustSync(hn2);
  }
  EXPECT_EQ(StatusOf(lc, ref), "accepted");
  EXPECT_EQ(StatusConflicts(lc, ref), 1u);
  EXPECT_EQ(hn1.Read("cases", kase, "narrative").state, State::kNoKey);
  EXPECT_EQ(hn2.Read("cases", kase, "narrative").state, State::kNoKey);
  SetField(lc.replica(), "cases", kase, "narrative", Value::Text("vẫn của Lào Cai"));
  for (int i = 0; i < 2; ++i) {
    MustSync(lc);
    MustSync(hn1);
  }
  EXPECT_EQ(hn1.Read("cases", kase, "narrative").state, State::kNoKey);

  // hn1 sets the status back to sent: the hub refuses, storing nothing.
  SetField(hn1.replica(), "referrals", ref, "status", Value::Text("sent"));
  ExpectRefused(hn1, "cannot go from \"accepted\" to \"sent\"");
}

TEST_F(ReferralAuthorityTest, AnAcceptanceBasedOnACompletionIsRefusedByTheHub) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId kase = NewCase(lc.replica(), "LC", "Lò Thị Mai");
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  AcceptReferral(lc, hn, ref);
  SetField(hn.replica(), "referrals", ref, "status", Value::Text("completed"));
  MustSync(hn);
  SetField(hn.replica(), "referrals", ref, "status", Value::Text("accepted"));
  ExpectRefused(hn, "cannot go from \"completed\" to \"accepted\"");
}

TEST_F(ReferralAuthorityTest, OnlyTheOwningOfficeRefersItsCaseAndNoReferralChangesItsOffices) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  auto& hg = AddNode("HG");
  const RowId kase = NewCase(lc.replica(), "LC", "Vàng Thị Dợ");
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  AcceptReferral(lc, hn, ref);
  // Hà Nội, which holds the case, refers it on to Hà Giang (naming itself,
  // or Lào Cai, as the referring office): refused.
  Refer(hn.replica(), kase, "HN", "HG");
  ExpectRefused(hn, "only the office that owns a case refers it");
  auto& hn_b = AddNode("HN");
  MustSync(hn_b);
  Refer(hn_b.replica(), kase, "LC", "HG");
  ExpectRefused(hn_b, "only the office that owns a case refers it");
  // Re-targeting the accepted referral to Hà Giang, by either office: the
  // laptop refuses it, and the hub refuses it from a patched build.
  auto& hn_c = AddNode("HN");
  MustSync(hn_c);
  LocalTxn retarget;
  retarget.Set("referrals", ref, {{"to_office", Value::Text("HG")}});
  auto refused = hn_c.replica().Write(retarget);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_NE(refused.status().message().find("cannot change its to_office"), std::string::npos)
      << refused.status();
  ASSERT_TRUE(WriteAsPatchedBuild(hn_c, retarget).ok());
  ExpectRefused(hn_c, "cannot change its to_office");
  auto& lc_b = AddNode("LC");
  MustSync(lc_b);
  EXPECT_EQ(lc_b.replica().Write(retarget).status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(WriteAsPatchedBuild(lc_b, retarget).ok());
  ExpectRefused(lc_b, "cannot change its to_office");
  // A referral created already accepted, and one the owner "accepts" for
  // the receiving office.
  auto& lc_c = AddNode("LC");
  MustSync(lc_c);
  Refer(lc_c.replica(), kase, "LC", "HG", "accepted");
  ExpectRefused(lc_c, "a referral is created \"sent\"");
  auto& lc_d = AddNode("LC");
  MustSync(lc_d);
  const RowId to_hg = Refer(lc_d.replica(), kase, "LC", "HG");
  MustSync(lc_d);
  SetField(lc_d.replica(), "referrals", to_hg, "status", Value::Text("accepted"));
  ExpectRefused(lc_d, "is answered only by office HG");
  // Hà Nội deleting Lào Cai's referral.
  auto& hn_d = AddNode("HN");
  MustSync(hn_d);
  LocalTxn del;
  del.Delete("referrals", ref);
  ASSERT_TRUE(hn_d.replica().Write(del).ok());
  ExpectRefused(hn_d, "may be deleted only by office LC");
  // Hà Giang never received a key of the case.
  for (int i = 0; i < 2; ++i) {
    MustSync(lc);
    MustSync(hg);
  }
  EXPECT_FALSE(hg.replica().Get("cases", kase)->has_value() &&
               hg.Read("cases", kase, "narrative").state == State::kOpened);
}

// Attack review 88: a referral to "*" from a patched build was accepted,
// and its grant keyed the case's log, and every entry written to it after,
// under the key every office's pull reads (hub_log_scope): a cost one office
// chose for all. A to_office that is not an office's code is refused.
TEST_F(ReferralAuthorityTest, AReferralToNoOfficesCodeIsRefusedByTheHub) {
  auto& lc = AddNode("LC");
  const RowId kase = NewCase(lc.replica(), "LC", "Vàng Thị Dợ");
  MustSync(lc);
  for (const char* to : {"*", "hn"}) {
    auto& sender = AddNode("LC");
    MustSync(sender);
    LocalTxn t;
    t.Create("referrals", Id16::NewRandom(),
             {{"case_id", Value::Bytes(std::string(kase.view()))},
              {"from_office", Value::Text("LC")},
              {"to_office", Value::Text(to)},
              {"status", Value::Text("sent")}});
    ASSERT_TRUE(WriteAsPatchedBuild(sender, t).ok()) << to;
    ExpectRefused(sender, "not an office's code");
  }
}

// Attack review 89, LOW: the hub checked a referral's to_office by its form
// alone, and "ZZ", an office it does not have, was taken and granted sight
// of the case (its log keyed under "ZZ", read by any office registered with
// that code later). The registry decides: refused in one line, nothing of
// the commit stored, nothing granted.
TEST_F(ReferralAuthorityTest, AReferralToAnOfficeTheHubDoesNotHaveIsRefusedAndGrantsNothing) {
  auto& lc = AddNode("LC");
  const RowId kase = NewCase(lc.replica(), "LC", "Vàng Thị Dợ");
  MustSync(lc);
  Refer(lc.replica(), kase, "LC", "ZZ");
  const int64_t head = Must(HubLogHead());
  absl::Status r = RefusedPush(lc);
  EXPECT_EQ(r.code(), absl::StatusCode::kPermissionDenied) << r;
  const std::string said(r.message());
  EXPECT_NE(said.find("names to_office ZZ, which is not an office's code at this hub"),
            std::string::npos)
      << said;
  EXPECT_EQ(said.find('\n'), std::string::npos) << said;
  EXPECT_EQ(Must(HubLogHead()), head) << "something of the commit was stored";
  EXPECT_EQ(HubQueryInt("SELECT count(*) FROM hub_grants WHERE province = 'ZZ'"), 0)
      << "sight of the case granted to ZZ";
}

// Found by the simulation (tests/sim): two laptops of the receiving office
// both accept a referral while apart. The merge keeps the second
// "accepted" as a conflict record, and the owning office took that for a
// contested answer and never granted the case's keys: no one could read the
// case. The same answer twice is not a disagreement.
TEST_F(ReferralAuthorityTest, TheSameAcceptanceWrittenOnTwoLaptopsApartStillGrantsTheCase) {
  auto& lc = AddNode("LC");
  auto& hn1 = AddNode("HN");
  auto& hn2 = AddNode("HN");
  const RowId kase = NewCase(lc.replica(), "LC", "Lù Thị Dung", "lời kể của Lào Cai");
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  MustSync(lc);
  MustSync(hn1);
  MustSync(hn2);
  SetField(hn1.replica(), "referrals", ref, "status", Value::Text("accepted"));
  SetField(hn2.replica(), "referrals", ref, "status", Value::Text("accepted"));
  for (int i = 0; i < 3; ++i) {
    MustSync(hn1);
    MustSync(hn2);
    MustSync(lc);
  }
  MustSync(hn1);
  MustSync(hn2);
  EXPECT_EQ(StatusOf(lc, ref), "accepted");
  EXPECT_EQ(hn1.Read("cases", kase, "narrative").value.str(), "lời kể của Lào Cai");
  EXPECT_EQ(hn2.Read("cases", kase, "narrative").value.str(), "lời kể của Lào Cai");
}

TEST_F(ReferralAuthorityTest, AcceptAndDeclineWrittenWhileApartMakeOneConflictEverywhere) {
  auto& lc = AddNode("LC");
  auto& hn1 = AddNode("HN");
  auto& hn2 = AddNode("HN");
  const RowId kase = NewCase(lc.replica(), "LC", "Đỗ Thị Hoa");
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  MustSync(lc);
  MustSync(hn1);
  MustSync(hn2);
  // Apart: one accepts, the other declines.
  SetField(hn1.replica(), "referrals", ref, "status", Value::Text("accepted"));
  SetField(hn2.replica(), "referrals", ref, "status", Value::Text("declined"));
  for (int i = 0; i < 2; ++i) {
    MustSync(hn1);
    MustSync(hn2);
    MustSync(lc);
  }
  // The same winner and one conflict on every replica and the hub.
  const std::string winner = StatusOf(lc, ref);
  for (auto* n : {&lc, &hn1, &hn2}) {
    EXPECT_EQ(StatusOf(*n, ref), winner);
    EXPECT_EQ(StatusConflicts(*n, ref), 1u);
  }
  EXPECT_EQ(HubStatusOf(ref), winner);
  EXPECT_EQ(HubStatusConflicts(ref), 1u);
  // While the answer is contested, Lào Cai grants nothing.
  EXPECT_EQ(hn1.Read("cases", kase, "narrative").state, State::kNoKey);
  // Resolving it is Hà Nội's, and only to a final answer: a laptop refuses
  // the resolutions the hub would, nothing stored, so that no refused commit
  // stays behind to block its later pushes.
  auto resolve = [&](harness::LocalNode& n, const char* value) {
    return n.replica().Write(LocalTxn().Resolve("referrals", ref, "status", Value::Text(value)));
  };
  auto by_owner = resolve(lc, "declined");
  EXPECT_EQ(by_owner.status().code(), absl::StatusCode::kPermissionDenied) << by_owner.status();
  EXPECT_NE(by_owner.status().message().find("not by office HN"), std::string::npos)
      << by_owner.status();
  auto away = resolve(hn1, "accepted");
  EXPECT_EQ(away.status().code(), absl::StatusCode::kPermissionDenied) << away.status();
  EXPECT_NE(away.status().message().find("away from a final answer"), std::string::npos)
      << away.status();
  EXPECT_EQ(StatusConflicts(lc, ref), 1u);
  EXPECT_EQ(StatusConflicts(hn1, ref), 1u);
  // Hà Nội declines for good: taken everywhere, the conflict closed.
  ASSERT_TRUE(resolve(hn1, "declined").ok());
  for (auto* n : {&hn1, &lc, &hn2}) MustSync(*n);
  for (auto* n : {&lc, &hn1, &hn2}) {
    EXPECT_EQ(StatusOf(*n, ref), "declined");
    EXPECT_EQ(StatusConflicts(*n, ref), 0u);
  }
}

// A grant of the case's key version to the receiving office, made by
// someone who does not hold that key (a laptop of a third office, a laptop
// its office removed, or planted by the hub), wraps a key of its own. It
// must neither stop the owning office from granting the real key, nor stop
// the receiving office from reading with it (attack review, low).
TEST_F(ReferralAuthorityTest, ADudGrantToTheReceivingOfficeBlocksNeitherTheGrantNorTheReading) {
  const ThreeOffices w = CaseOfLaoCaiReferredToHaNoi();
  harness::LocalNode &lc = w.lc, &hn = w.hn, &dn = w.dn;
  const RowId kase = w.kase, ref = w.ref;
  SetField(hn.replica(), "referrals", ref, "status", Value::Text("accepted"));
  MustSync(hn);
  // Before Lào Cai's laptop hears of the acceptance, a dud grant reaches it
  // and Hà Nội's laptop, signed by Đà Nẵng's laptop, for the version the
  // case is sealed under, to Hà Nội's office key.
  const Dud dud = DudGrant(lc, dn, kase, "HN");
  for (auto* n : {&lc, &hn}) {
    auto added = n->keys()->AddRecords({dud.record.bytes});
    ASSERT_TRUE(added.ok()) << added.status();
  }
  // And a hub's plant on Lào Cai's laptop: an office wrap (kind 5, which is
  // unsigned) claiming a Hà Nội laptop made it, of a key of nobody's.
  const crypto::KeyRecord planted = crypto::WrapDataKeyForOffice(
      hn.replica().device_id(), NowHlc(), kase, dud.version, dud.key,
      crypto::NewOfficeKey("HN", 9));
  auto added = lc.keys()->AddRecords({planted.bytes});
  ASSERT_TRUE(added.ok()) << added.status();
  for (int i = 0; i < 2; ++i) {
    MustSync(lc);
    MustSync(hn);
  }
  const OpenedField f = hn.Read("cases", kase, "narrative");
  EXPECT_EQ(f.state, State::kOpened) << f.problem;
  EXPECT_EQ(f.value, Value::Text("lời kể thật"));
}

// The same dud grant, but reaching the receiving office's laptop before the
// owning office's real grant: Hà Nội's laptop must never seal what it
// writes under the dud's key, which Đà Nẵng's laptop (or an office the hub
// invented, whose first device is trusted on first sight) knows. Found by
// the attack review of session 5 (H1): a grant counted as trusted when its
// signer was a current member of *any* office.
TEST_F(ReferralAuthorityTest, TheReceivingOfficeNeverSealsUnderAThirdOfficesGrant) {
  const ThreeOffices w = CaseOfLaoCaiReferredToHaNoi();
  harness::LocalNode &lc = w.lc, &hn = w.hn, &dn = w.dn;
  const RowId kase = w.kase, ref = w.ref;
  // Đà Nẵng's laptop wraps a key of its own for that version to Hà Nội's
  // newest office key; it reaches Hà Nội's laptop first.
  const Dud dud = DudGrant(hn, dn, kase, "HN");
  auto added = hn.keys()->AddRecords({dud.record.bytes});
  ASSERT_TRUE(added.ok()) << added.status();
  // Hà Nội accepts; Lào Cai grants the real key of that version.
  SetField(hn.replica(), "referrals", ref, "status", Value::Text("accepted"));
  for (auto* n : {&hn, &lc, &hn}) MustSync(*n);
  ASSERT_EQ(hn.Read("cases", kase, "narrative").value, Value::Text("lời kể thật"));
  // Hà Nội writes the narrative.
  SetField(hn.replica(), "cases", kase, "narrative", Value::Text("lời kể của Hà Nội"));
  const size_t col =
      static_cast<size_t>(hn.replica().schema().FindTable("cases")->ColumnIndex("narrative"));
  auto mine = hn.replica().Get("cases", kase);
  ASSERT_TRUE(mine.ok() && mine->has_value());
  const Value& stored = (*mine)->values[col];
  ASSERT_EQ(Must(crypto::ParseEnvelope(stored.str())).key_version, dud.version)
      << "Hà Nội sealed under a new version: the test no longer tries the dud's version";
  const auto& v = (*mine)->versions[col];
  ASSERT_TRUE(v.has_value());
  crypto::FieldContext where{"cases", kase, "narrative", v->version.hlc, v->version.device};
  EXPECT_FALSE(crypto::OpenValue(dud.key, stored.str(), where).ok())
      << "Hà Nội sealed the case under the key Đà Nẵng's laptop wrapped";
  for (auto* n : {&hn, &lc}) MustSync(*n);
  const OpenedField f = lc.Read("cases", kase, "narrative");
  EXPECT_EQ(f.state, State::kOpened) << f.problem;
  EXPECT_EQ(f.value, Value::Text("lời kể của Hà Nội"));
}

// Attack review of session 6 (helper-23, of 657fa79): kind 5 is unsigned, so a hub
// forges any number of office wraps naming the receiving office's newest
// office key (and one of its laptops as creator) that do not open. Each
// ranks first (0) and each counts against the 64 records a reader opens per
// version, so 64 of them (a few kilobytes, once per version) put the real
// grant (kind 3, rank 1) out of reach for good: Hà Nội's laptop cannot read
// a case it was granted. Before the cap, each dud cost one failed AEAD and
// the real grant was still found.
TEST_F(ReferralAuthorityTest, SixtyFourForgedOfficeWrapsDoNotHideTheRealGrant) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng", "lời kể thật");
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  for (auto* n : {&lc, &hn, &lc, &hn}) MustSync(*n);
  const size_t col =
      static_cast<size_t>(lc.replica().schema().FindTable("cases")->ColumnIndex("narrative"));
  auto row = lc.replica().Get("cases", kase);
  ASSERT_TRUE(row.ok() && row->has_value());
  const uint32_t version = Must(crypto::ParseEnvelope((*row)->values[col].str())).key_version;
  auto newest = testing::RawDb(hn.replica()).Prepared(
      "SELECT bytes FROM _fs_keys WHERE kind = 1 AND province = 'HN' ORDER BY generation DESC "
      "LIMIT 1");
  ASSERT_TRUE(*(*newest)->Step());
  const crypto::KeyRecord hn_key = Must(crypto::ParseKeyRecord((*newest)->ColumnString(0)));
  (*newest)->Reset();
  // The hub's plant: office wraps claiming Hà Nội's newest office key, made
  // with a key of nobody's, "by" Hà Nội's laptop (kind 5 carries no
  // signature to check).
  crypto::OfficeKey fake = crypto::NewOfficeKey("HN", hn_key.generation);
  fake.id = hn_key.office_key_id;
  std::vector<std::string> plants;
  for (int i = 0; i < 64; ++i) {
    plants.push_back(crypto::WrapDataKeyForOffice(
                         hn.replica().device_id(), NowHlc(), kase, version,
                         crypto::SecretBytes::Random(crypto::kDataKeyBytes), fake)
                         .bytes);
  }
  auto added = hn.keys()->AddRecords(plants);
  ASSERT_TRUE(added.ok()) << added.status();
  // Hà Nội accepts; Lào Cai grants the real key of that version.
  SetField(hn.replica(), "referrals", ref, "status", Value::Text("accepted"));
  for (auto* n : {&hn, &lc, &hn}) MustSync(*n);
  const OpenedField f = hn.Read("cases", kase, "narrative");
  EXPECT_EQ(f.state, State::kOpened) << f.problem;
  EXPECT_EQ(f.value, Value::Text("lời kể thật"));
}

// Attack review of session 6 (helper-23, of f0938a2): the offices whose grants a
// receiving office "stands behind" when it seals include the case's owner,
// and Seal takes that owner from the case row's current `province`. Only
// the hub refuses a rewrite of it; a laptop verifies a pulled commit's
// signature and nothing of its scope. A malicious hub relays a commit,
// signed by a device of another office (a third office, or one the hub
// invented, whose first device is trusted on first sight), that rewrites
// the case's province to that office. Hà Nội's laptop then seals what it
// writes for the case under a version that office holds: it grants the new
// version to the "owner", or seals under a grant that office signed. A
// laptop now refuses such a move, as the hub does (KeyRing::CheckOwnerMoves).
TEST_F(ReferralAuthorityTest, ARewrittenCaseProvinceNeverMakesTheReceivingOfficeSealForAThirdOffice) {
  const ThreeOffices w = CaseOfLaoCaiReferredToHaNoi();
  harness::LocalNode &lc = w.lc, &hn = w.hn, &dn = w.dn;
  const RowId kase = w.kase, ref = w.ref;
  AcceptReferral(lc, hn, ref);
  ASSERT_EQ(hn.Read("cases", kase, "narrative").value, Value::Text("lời kể thật"));
  // Đà Nẵng's laptop (given the row by the hub) signs a rewrite of the
  // case's province; the hub relays it to Hà Nội's laptop.
  auto snap = lc.replica().ExportRow("cases", kase);
  ASSERT_TRUE(snap.ok() && snap->has_value());
  PulledBatch give;
  give.rows = {**snap};
  give.rows_position = 1;
  ASSERT_TRUE(dn.replica().ApplyPulled(give).ok());
  LocalTxn t;
  t.Set("cases", kase, {{"province", Value::Text("DN")}});
  absl::StatusOr<Commit> rewrite = WriteAsPatchedBuild(dn, t);
  ASSERT_TRUE(rewrite.ok()) << rewrite.status();
  PulledBatch relay;
  relay.commits = {{1000000, *rewrite}};
  auto applied = hn.replica().ApplyPulled(relay);
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kPermissionDenied) << applied.status();
  EXPECT_NE(applied.status().message().find("away from office LC"), std::string::npos)
      << applied.status();
  // Hà Nội writes the narrative.
  SetField(hn.replica(), "cases", kase, "narrative", Value::Text("lời kể của Hà Nội"));
  const size_t col =
      static_cast<size_t>(hn.replica().schema().FindTable("cases")->ColumnIndex("narrative"));
  auto mine = hn.replica().Get("cases", kase);
  ASSERT_TRUE(mine.ok() && mine->has_value());
  const uint32_t sealed_under =
      Must(crypto::ParseEnvelope((*mine)->values[col].str())).key_version;
  // No record on Hà Nội's laptop gives that version to Đà Nẵng, and none
  // signed by Đà Nẵng's laptop was what it opened it through.
  auto to_dn = testing::RawDb(hn.replica()).Prepared(
      "SELECT count(*) FROM _fs_keys WHERE kind = 3 AND keyring = ?1 AND version = ?2 AND "
      "province = 'DN'");
  (*to_dn)->BindBlob(1, kase.view());
  (*to_dn)->BindInt(2, sealed_under);
  ASSERT_TRUE(*(*to_dn)->Step());
  EXPECT_EQ((*to_dn)->ColumnInt(0), 0)
      << "Hà Nội's laptop granted the key it seals the case under to Đà Nẵng's office";
  (*to_dn)->Reset();
}

// A hub that forges the receiving office's answer in a referral row it
// serves whole (a new laptop's bootstrap), without any commit, and drops
// its checkpoints so that the laptop takes its rows unverified: the laptop
// installs it, but a referral's offices and answer are taken only from
// signed commits or verified checkpoint pages (Replica::VersionSigned), so
// it grants nothing.
TEST_F(ReferralAuthorityTest, AForgedAnswerInAReferralRowInstalledWholeGrantsNothing) {
  auto t = CaseOfLaoCaiReferredToHaNoi();
  NewOrg(t.hn.replica(), "Trung tâm Công tác xã hội Hà Nội");  // the hub knows hn's device
  MustSync(t.hn);
  ASSERT_EQ(t.hn.Read("cases", t.kase, "narrative").state, State::kNoKey);
  // The hub writes "accepted" by hn's device, based on the referral's
  // creation, into its own row: no commit, no signature.
  const TableDef* refs = FieldOfficeSchema().FindTable("referrals");
  if (HubOnPostgres()) {  // the registers, slot 1 + the column's index
    TamperWithHub(absl::StrCat("UPDATE hub_fields f SET sval = convert_to('accepted', 'UTF8'), "
                               "hlc = m.hlc + (1000::bigint << 16), device = ?2, base_hlc = "
                               "m.hlc, base_device = m.device FROM hub_fields m WHERE f.tbl = "
                               "'referrals' AND f.row = ?1 AND f.slot = ",
                               1 + refs->ColumnIndex("status"), " AND m.tbl = 'referrals' AND "
                               "m.row = ?1 AND m.slot = ", 1 + refs->ColumnIndex("to_office")),
                  {Value::Bytes(std::string(t.ref.view())),
                   Value::Bytes(std::string(t.hn.replica().device_id().view()))});
    for (const StoreSql& sql : WithholdCheckpoints()) TamperWithHub(sql, {}, false);
  } else {
    hub_->Stop();
    {
      auto db = sqlite::Db::Open(hub_->data_dir() + "/hub.db", "");
      ASSERT_TRUE(db.ok());
      const size_t slots = refs->columns.size() + 1;
      auto get = (*db)->Prepared("SELECT _ver FROM referrals WHERE id = ?1");
      ASSERT_TRUE(get.ok());
      (*get)->BindBlob(1, t.ref.view());
      ASSERT_TRUE(*(*get)->Step());
      std::vector<SlotMeta> meta;
      ASSERT_TRUE(DecodeRowMeta((*get)->ColumnBlob(0), slots, &meta).ok());
      auto idx = (*db)->Prepared("SELECT idx FROM _fs_devices WHERE id = ?1");
      ASSERT_TRUE(idx.ok());
      (*idx)->BindBlob(1, t.hn.replica().device_id().view());
      ASSERT_TRUE(*(*idx)->Step());
      const SlotMeta made = meta[1 + static_cast<size_t>(refs->ColumnIndex("to_office"))];
      SlotMeta& status = meta[1 + static_cast<size_t>(refs->ColumnIndex("status"))];
      status.set = true;
      status.hlc = made.hlc + (uint64_t{1000} << 16);
      status.device = static_cast<uint32_t>((*idx)->ColumnInt(0));
      status.has_base = true;
      status.base_hlc = made.hlc;
      status.base_device = made.device;
      std::string blob;
      EncodeRowMeta(meta, &blob);
      auto up =
          (*db)->Prepared("UPDATE referrals SET status = 'accepted', _ver = ?1 WHERE id = ?2");
      ASSERT_TRUE(up.ok());
      (*up)->BindBlob(1, blob);
      (*up)->BindBlob(2, t.ref.view());
      ASSERT_TRUE((*up)->Run().ok());
      ASSERT_EQ((*db)->Changes(), 1);
      // A checkpoint of Lào Cai's would bootstrap the new laptop in pages its
      // colleague signed (sync_checkpoint_test.cc): the hub withholds them.
      ASSERT_TRUE((*db)->Exec("DELETE FROM hub_checkpoint_rows").ok());
      ASSERT_TRUE((*db)->Exec("DELETE FROM hub_checkpoints").ok());
    }
    ASSERT_TRUE(hub_->Start().ok());
  }
  // A new laptop of Lào Cai bootstraps: the forged row comes whole.
  auto& lc2 = AddNode("LC");
  MustSync(lc2);
  ASSERT_EQ(StatusOf(lc2, t.ref), "accepted") << "installed as the hub served it";
  MustSync(lc2);
  MustSync(t.hn);
  EXPECT_EQ(t.hn.Read("cases", t.kase, "narrative").state, State::kNoKey)
      << "a laptop granted Lào Cai's case on an answer nobody signed";
}

}  // namespace
}  // namespace fieldsync::testing
