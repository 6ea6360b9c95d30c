// The fixture of the attack tests on cases referred to an office after
// the owner referred them elsewhere (tests/sync_referred_by_attack_test.cc,
// tests/sync_relayed_key_attack_test.cc): Lào Cai's case, laptops of Hà
// Nội and Đà Nẵng, commits signed with a real device's key as a patched
// build would sign them, and what the laptops granted.
#ifndef FIELDSYNC_TESTS_SUPPORT_REFERRED_FIXTURE_H_
#define FIELDSYNC_TESTS_SUPPORT_REFERRED_FIXTURE_H_

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "change/commit_codec.h"
#include "crypto/commit_signature.h"
#include "crypto/envelope.h"
#include "crypto/key_record.h"
#include "support/must.h"
#include "support/raw_db.h"
#include "support/sync_fixture.h"
#include "sync/pass.h"
#include "sync/transport.h"

namespace fieldsync::testing {

class ReferredFixture : public SyncTest {
 protected:
  // Lào Cai's case referred to Hà Nội (sent), pushed; Hà Nội's laptop has
  // not pulled since; a laptop of Đà Nẵng has published its office key and
  // Hà Nội's laptop holds it.
  struct Referred {
    harness::LocalNode& lc;
    harness::LocalNode& hn;
    harness::LocalNode& dn;
    harness::LocalNode& hn2;  // a second laptop of Hà Nội, as the first
    RowId kase, ref;
  };
  Referred CaseOfLaoCai(bool refer_to_ha_noi = true) {
    EXPECT_TRUE(hub_->AddProvince("DN", "Đà Nẵng").ok());
    auto& lc = AddNode("LC");
    auto& hn = AddNode("HN");
    auto& dn = AddNode("DN");
    auto& hn2 = AddNode("HN");
    for (auto* n : {&lc, &hn, &dn, &hn2}) MustSync(*n);
    for (auto* n : {&hn, &hn2}) MustSync(*n);  // hold Đà Nẵng's office key
    const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng", "lời kể của Lào Cai");
    RowId ref;
    if (refer_to_ha_noi) ref = Refer(lc.replica(), kase, "LC", "HN");
    MustSync(lc);
    return {lc, hn, dn, hn2, kase, ref};
  }

  // A commit signed by `signer`'s device key (what a patched build of its
  // office would sign), and the same as a witness the hub may send.
  struct Signed {
    Commit commit;
    sync::PulledEntry witness;
  };
  static Signed SignedBy(harness::LocalNode& signer, std::vector<RowChange> changes,
                         std::optional<Hlc> dated = std::nullopt) {
    static uint64_t counter = 0;
    Signed s;
    s.commit.author = signer.replica().device_id();
    s.commit.seq = LastSeq(signer) + 1;
    s.commit.hlc = dated ? *dated : Hlc::FromParts(SystemClock::Get()->NowMillis(), ++counter);
    s.commit.changes = std::move(changes);
    s.witness.position = 1;
    s.witness.canonical = EncodeCommit(s.commit);
    s.witness.signature = Must(crypto::SignCommit(signer.identity(), s.commit));
    return s;
  }
  static FieldWrite W(const std::string& column, Value v,
                      std::optional<Version> base = std::nullopt) {
    FieldWrite f;
    f.column = column;
    f.value = std::move(v);
    f.base = base;
    return f;
  }
  static RowChange Change(const std::string& table, const RowId& row,
                          std::vector<FieldWrite> fields) {
    RowChange rc;
    rc.table = table;
    rc.row = row;
    rc.fields = std::move(fields);
    return rc;
  }
  // A referral as its creation writes it.
  static RowChange ReferralMade(const RowId& ref, const RowId& kase, const std::string& from,
                                const std::string& to, const std::string& status = "sent") {
    return Change("referrals", ref,
                  {W(std::string(kLiveColumn), Value::Int(1)),
                   W("case_id", Value::Bytes(std::string(kase.view()))),
                   W("from_office", Value::Text(from)), W("to_office", Value::Text(to)),
                   W("status", Value::Text(status))});
  }
  // The row a commit's first change makes, as a hub serves it whole.
  static RowSnapshot RowOf(const Signed& s) {
    const RowChange& rc = s.commit.changes.front();
    RowSnapshot snap;
    snap.table = rc.table;
    snap.row = rc.row;
    for (const FieldWrite& f : rc.fields) {
      FieldState st;
      st.column = f.column;
      st.value = f.value;
      st.version.version = s.commit.version();
      st.version.base = f.base;
      snap.fields.push_back(std::move(st));
    }
    return snap;
  }
  static FieldState* FieldOf(RowSnapshot& snap, const std::string& column) {
    for (FieldState& f : snap.fields) {
      if (f.column == column) return &f;
    }
    return nullptr;
  }
  static bool Touches(const sync::PulledEntry& w, const std::string& table, const RowId& row) {
    absl::StatusOr<Commit> c = DecodeCommit(w.canonical);
    if (!c.ok()) return false;
    for (const RowChange& rc : c->changes) {
      if (rc.table == table && rc.row == row) return true;
    }
    return false;
  }

  // One pass of `n` through `hub`, as a node's sync would run it.
  static absl::StatusOr<node::SyncReport> SyncThrough(harness::LocalNode& n,
                                                      sync::Transport& hub) {
    return sync::RunPass(hub, n.replica(), *n.keys(), n.credential(), sync::PassOptions{});
  }
  static void MustSyncThrough(harness::LocalNode& n, sync::Transport& hub) {
    auto r = SyncThrough(n, hub);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  static bool Vouched(harness::LocalNode& n, const std::string& table, const RowId& row) {
    auto v = n.replica().RowVouched(table, row);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() && *v;
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
  // Key records `n` made that pass a version of `ring` another office made
  // on to office `to` (purpose 3, relayed).
  static int64_t Relays(harness::LocalNode& n, const RowId& ring, const std::string& to) {
    auto st = RawDb(n.replica()).Prepared(
        "SELECT bytes FROM _fs_keys WHERE kind = 3 AND keyring = ?1 AND province = ?2 AND "
        "signer = ?3");
    (*st)->BindBlob(1, ring.view());
    (*st)->BindText(2, to);
    (*st)->BindBlob(3, n.replica().device_id().view());
    int64_t relays = 0;
    while (*(*st)->Step()) {
      auto r = crypto::ParseKeyRecord((*st)->ColumnBlob(0));
      relays += r.ok() && r->purpose == crypto::DataKeyPurpose::kRelayed;
    }
    return relays;
  }
  // The key version the case's narrative, as `n` holds it, is sealed under.
  static uint32_t SealedVersion(harness::LocalNode& n, const RowId& kase) {
    auto got = n.replica().Get("cases", kase);
    EXPECT_TRUE(got.ok() && got->has_value());
    if (!got.ok() || !got->has_value()) return 0;
    const int ci = n.replica().schema().FindTable("cases")->ColumnIndex("narrative");
    const Value& v = (*got)->values[static_cast<size_t>(ci)];
    auto h = crypto::ParseEnvelope(v.kind() == Value::Kind::kBytes ? v.str() : "");
    EXPECT_TRUE(h.ok()) << h.status();
    return h.ok() ? h->key_version : 0;
  }
  // `n` writes a narrative on the case, then syncs (its key maintenance
  // grants what it would): the write's status.
  static absl::Status WriteNarrativeAndSync(harness::LocalNode& n, const RowId& kase) {
    LocalTxn w;
    w.Set("cases", kase, {{"narrative", Value::Text("ghi chép của Hà Nội")}});
    absl::Status s = n.replica().Write(w).status();
    n.Sync().IgnoreError();
    return s;
  }
  static FieldVersion VersionOf(harness::LocalNode& n, const std::string& table, const RowId& row,
                                const std::string& column) {
    auto got = n.replica().Get(table, row);
    EXPECT_TRUE(got.ok() && got->has_value());
    const int ci = n.replica().schema().FindTable(table)->ColumnIndex(column);
    return *(*got)->versions[static_cast<size_t>(ci)];
  }
  // The log entry of `version` as the hub stores it, as a witness.
  sync::PulledEntry HubWitness(const Version& version) {
    sync::PulledEntry w;
    auto hub = OpenHubRows();
    auto raw = hub->LogEntryOf(version);
    EXPECT_TRUE(raw.ok() && raw->has_value());
    if (!raw.ok() || !raw->has_value()) return w;
    w.position = (*raw)->position;
    w.canonical = (*raw)->body;
    w.signature = (*raw)->signature;
    return w;
  }
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_REFERRED_FIXTURE_H_
