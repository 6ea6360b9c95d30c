// Rows of a case newly referred to an office, installed whole, checked
// against the signed commits that wrote them (sync/row_witness.h,
// docs/PROTOCOL.md "Newly visible rows"; issue 11 point 3): tried as a hub
// that edits its own database while stopped would, against real hub
// processes and laptops.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

#include "store/row_meta.h"
#include "store/sqlite.h"
#include "support/raw_db.h"
#include "support/sync_fixture.h"
#include "sync/chain.h"

namespace fieldsync::testing {
namespace {

using State = OpenedField::State;

class ReferredRowsTest : public SyncTest {
 protected:
  // Lào Cai's case referred to Hà Nội, pushed; Hà Nội's laptop has not
  // pulled since; a laptop of Đà Nẵng has published its office key.
  struct Referred {
    harness::LocalNode& lc;
    harness::LocalNode& hn;
    harness::LocalNode& dn;
    RowId kase, ref;
  };
  Referred CaseOfLaoCaiReferredToHaNoi() {
    EXPECT_TRUE(hub_->AddProvince("DN", "Đà Nẵng").ok());
    auto& lc = AddNode("LC");
    auto& hn = AddNode("HN");
    auto& dn = AddNode("DN");
    for (auto* n : {&lc, &hn, &dn}) MustSync(*n);
    MustSync(hn);  // holds Đà Nẵng's office key
    const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng", "lời kể của Lào Cai");
    const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
    MustSync(lc);
    return {lc, hn, dn, kase, ref};
  }

  static bool Vouched(harness::LocalNode& n, const std::string& table, const RowId& row) {
    auto v = n.replica().RowVouched(table, row);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() && *v;
  }
  static size_t EvidenceOf(harness::LocalNode& n, sync::ChainEvidence::Kind k) {
    auto all = n.replica().Evidence();
    EXPECT_TRUE(all.ok());
    size_t out = 0;
    for (const TrustEvidence& e : all.ok() ? *all : std::vector<TrustEvidence>{}) {
      out += e.kind == static_cast<int>(k);
    }
    return out;
  }
  // Key records `n` made that grant a version of `ring` to office `to`.
  static int64_t GrantsTo(harness::LocalNode& n, const RowId& ring, const std::string& to) {
    auto st = RawDb(n.replica()).Prepared(
        "SELECT count(*) FROM _fs_keys WHERE kind = 3 AND keyring = ?1 AND province = ?2 AND "
        "signer = ?3");
    (*st)->BindBlob(1, ring.view());
    (*st)->BindText(2, to);
    (*st)->BindBlob(3, n.replica().device_id().view());
    EXPECT_TRUE(*(*st)->Step());
    return (*st)->ColumnInt(0);
  }
  // Moves the version of `column` of the hub's row `row` of `table` to an
  // HLC no commit has (the hub says someone wrote it; nobody signed it).
  void VersionNobodyWrote(const std::string& table, const RowId& row, const std::string& column) {
    const TableDef* t = hub_schema().FindTable(table);
    if (HubOnPostgres()) {  // the field's register, slot 1 + the column's index
      TamperWithHub(absl::StrCat("UPDATE hub_fields SET hlc = hlc + (1000::bigint << 16) WHERE "
                                 "tbl = '", table, "' AND row = ?1 AND slot = ",
                                 1 + t->ColumnIndex(column)),
                    {Value::Bytes(std::string(row.view()))});
      return;
    }
    hub_->Stop();
    {
      auto db = sqlite::Db::Open(hub_->data_dir() + "/hub.db", "");
      ASSERT_TRUE(db.ok());
      auto get = (*db)->Prepared(absl::StrCat("SELECT _ver FROM ", table, " WHERE id = ?1"));
      ASSERT_TRUE(get.ok());
      (*get)->BindBlob(1, row.view());
      ASSERT_TRUE(*(*get)->Step());
      std::vector<SlotMeta> meta;
      ASSERT_TRUE(DecodeRowMeta((*get)->ColumnBlob(0), t->columns.size() + 1, &meta).ok());
      (*get)->Reset();
      meta[1 + static_cast<size_t>(t->ColumnIndex(column))].hlc += uint64_t{1000} << 16;
      std::string blob;
      EncodeRowMeta(meta, &blob);
      auto up = (*db)->Prepared(absl::StrCat("UPDATE ", table, " SET _ver = ?1 WHERE id = ?2"));
      ASSERT_TRUE(up.ok());
      (*up)->BindBlob(1, blob);
      (*up)->BindBlob(2, row.view());
      ASSERT_TRUE((*up)->Run().ok());
      ASSERT_EQ((*db)->Changes(), 1);
    }
    ASSERT_TRUE(hub_->Start().ok());
  }
  const Schema& hub_schema() { return FieldOfficeSchema(); }
};

TEST_F(ReferredRowsTest, ACaseNewlyReferredIsTakenAsItsAuthorsSignedIt) {
  auto t = CaseOfLaoCaiReferredToHaNoi();
  const node::SyncReport r = MustSync(t.hn);
  ASSERT_TRUE(Holds(t.hn, "cases", t.kase));
  EXPECT_EQ(r.chain.rows_unvouched, 0u);
  EXPECT_TRUE(Vouched(t.hn, "cases", t.kase));
  EXPECT_TRUE(Vouched(t.hn, "referrals", t.ref));
  auto kase = t.hn.replica().Get("cases", t.kase);
  const RowId person = *Id16::FromBytes(
      (*kase)->values[static_cast<size_t>(
                          t.hn.replica().schema().FindTable("cases")->ColumnIndex("person_id"))]
          .str(),
      "person");
  EXPECT_TRUE(Vouched(t.hn, "persons", person));
  // What the receiving office writes on the case is sealed for its owner.
  SetField(t.hn.replica(), "cases", t.kase, "narrative", Value::Text("ghi chép của Hà Nội"));
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "LC"), 1);
  MustSync(t.hn);
  MustSync(t.lc);
  EXPECT_EQ(t.lc.Read("cases", t.kase, "narrative").value.str(), "ghi chép của Hà Nội");
}

TEST_F(ReferredRowsTest, AnOwnerTheHubRewroteInANewlyReferredCaseIsRefusedAndGetsNoGrant) {
  auto t = CaseOfLaoCaiReferredToHaNoi();
  // The hub names Đà Nẵng the case's owner, keeping the version of Lào
  // Cai's creation: a real signed version, paired with a value of its own.
  TamperWithHub(SetHubText("cases", "province", "DN"), {Value::Bytes(std::string(t.kase.view()))});
  auto r = t.hn.Sync();
  ASSERT_TRUE(r.ok()) << r.status() << " (a forged row must not stop the sync)";
  EXPECT_EQ(EvidenceOf(t.hn, sync::ChainEvidence::Kind::kForgedInstalledRow), 1u);
  EXPECT_TRUE(Mentions(*r, "the hub altered the row it served")) << r->chain.problems.size();
  EXPECT_FALSE(Vouched(t.hn, "cases", t.kase));
  EXPECT_TRUE(Vouched(t.hn, "referrals", t.ref)) << "the other rows are as their authors wrote";
  // Hà Nội writes on the case: nothing is sealed for Đà Nẵng.
  LocalTxn w;
  w.Set("cases", t.kase, {{"narrative", Value::Text("ghi chép của Hà Nội")}});
  auto c = t.hn.replica().Write(w);
  EXPECT_FALSE(c.ok()) << "sealed for the office the hub named";
  if (!c.ok()) {
    EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition) << c.status();
    EXPECT_NE(c.status().message().find("as the hub served it"), std::string::npos) << c.status();
  }
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "DN"), 0) << "a key of the case granted to Đà Nẵng";
}

TEST_F(ReferredRowsTest, AnOwnerNoSignedCommitShowsDecidesNothing) {
  auto t = CaseOfLaoCaiReferredToHaNoi();
  // As a hub of an earlier build, or one that withholds the commit: the
  // owner's version names no commit the hub can show.
  TamperWithHub(SetHubText("cases", "province", "DN"), {Value::Bytes(std::string(t.kase.view()))});
  VersionNobodyWrote("cases", t.kase, "province");
  const node::SyncReport r = MustSync(t.hn);
  EXPECT_EQ(r.chain.rows_unvouched, 1u);
  EXPECT_EQ(EvidenceOf(t.hn, sync::ChainEvidence::Kind::kForgedInstalledRow), 0u);
  EXPECT_FALSE(Vouched(t.hn, "cases", t.kase));
  LocalTxn w;
  w.Set("cases", t.kase, {{"narrative", Value::Text("ghi chép của Hà Nội")}});
  EXPECT_FALSE(t.hn.replica().Write(w).ok());
  EXPECT_EQ(GrantsTo(t.hn, t.kase, "DN"), 0);
}

// A laptop bootstrapped unverified (the hub withheld its office's
// checkpoints) holds its office's referrals as the hub served them: one
// whose receiving office the hub rewrote (creation's version kept) must not
// make the laptop grant the referral's letter to that office.
TEST_F(ReferredRowsTest, ALetterIsNotGrantedFromAReferralTakenAsTheHubServedIt) {
  auto t = CaseOfLaoCaiReferredToHaNoi();
  MustSync(t.hn);
  MustSync(t.lc);
  TamperWithHub(SetHubText("referrals", "to_office", "DN"),
                {Value::Bytes(std::string(t.ref.view()))});
  for (const StoreSql& sql : WithholdCheckpoints()) TamperWithHub(sql, {}, /*must_change=*/false);
  auto& lc2 = AddNode("LC");
  MustSync(lc2);
  MustSync(lc2);
  ASSERT_TRUE(Holds(lc2, "referrals", t.ref));
  EXPECT_FALSE(Vouched(lc2, "referrals", t.ref));
  EXPECT_EQ(GrantsTo(lc2, t.ref, "DN"), 0) << "the letter granted to the office the hub named";
}

}  // namespace
}  // namespace fieldsync::testing
