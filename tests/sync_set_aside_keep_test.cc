// An officer resolves set-aside work (issue 13, story 5; docs/PROTOCOL.md,
// "Refusals per commit and set-aside work"): `keep` writes what a refused
// change tried to do again as a new record (the edit of a case deleted and
// collected while the laptop was away becomes a new case that reaches the
// hub and the colleagues), and a discard or keep puts the fields the
// refused change still showed back to the hub's versions, so that a later
// edit of them is not refused as depending on it.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "node/ops/set_aside.h"
#include "support/raw_db.h"
#include "support/rewriting_hub.h"
#include "support/sync_fixture.h"
#include "sync/pass.h"
#include "sync/report.h"

namespace fieldsync::testing {
namespace {

class SetAsideKeepTest : public SyncTest {
 protected:
  static node::ops::Office OfficeOf(harness::LocalNode& n) {
    return node::ops::Office{n.replica(), *n.keys(), "LC", "Lò Thị Mai", "unlock it"};
  }

  // `a` deletes `x`, both of its syncs acknowledge the delete, and the
  // administrator collects it with every other laptop counted as stale.
  void DeleteAndCollect(harness::LocalNode& a, const RowId& x) {
    LocalTxn t;
    t.Delete("cases", x);
    ASSERT_TRUE(a.replica().Write(t).ok());
    MustSync(a);
    MustSync(a);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto gc = hub_->Admin({"gc", "--min-age", "0s", "--stale-after", "10ms"});
    ASSERT_EQ(gc.exit_code, 0) << gc.err;
    ASSERT_NE(gc.out.find("collected 1 tombstones"), std::string::npos) << gc.out;
  }

  // Sets `n`'s commit `seq` aside by a hub that says it collected what it
  // writes (it stored it: for what the laptop does with its own records).
  void SetAsideBySaying(harness::LocalNode& n, uint64_t seq) {
    RewritingPushHub lying(n.client().transport(),
                           [&](const sync::PushRequest& req, sync::PushOutcome& out) {
                             for (const auto& c : req.commits) {
                               auto d = DecodeCommit(c.canonical);
                               if (d.ok() && d->seq == seq) {
                                 out.refusals.push_back({seq, sync::RefusalCode::kRowCollected,
                                                         "said collected", 0});
                               }
                             }
                           });
    sync::PassOptions o;
    auto r = sync::RunPass(lying, n.replica(), *n.keys(), n.credential(), o);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->set_aside, 1u);
  }

  static Value Opened(harness::LocalNode& n, const std::string& table, const RowId& row,
                      const std::string& column) {
    OpenedField f = n.Read(table, row, column);
    EXPECT_TRUE(f.state == OpenedField::State::kOpened || f.state == OpenedField::State::kClear)
        << table << "." << column << ": " << f.problem;
    return f.value;
  }
};

// The scenario: a laptop away past fieldhub gc edits a case its
// colleague deleted; the edit is set aside; the officer keeps it: a new
// case with every field the laptop knew of the old one and the edit on
// top, reaching the hub and the colleague, who reads its sealed fields;
// the set-aside edit is withdrawn (no gap, no fork, nothing held).
TEST_F(SetAsideKeepTest, KeepMakesTheEditOfACollectedCaseANewCaseThatReachesTheColleague) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng", "Bị lừa sang biên giới");
  MustSync(a);
  MustSync(away);
  MustSync(a);
  auto old = away.replica().Get("cases", x);
  ASSERT_TRUE(old.ok() && old->has_value());
  const Value person = (*old)->values[static_cast<size_t>(
      FieldOfficeSchema().FindTable("cases")->ColumnIndex("person_id"))];
  {
    LocalTxn t;
    t.Set("cases", x, {{"status", Value::Text("assisting")},
                       {"interview_notes", Value::Text("Gặp lại ở Sa Pa, đã an toàn")}});
    ASSERT_TRUE(away.replica().Write(t).ok());
  }
  const uint64_t edit = LastSeq(away);
  DeleteAndCollect(a, x);
  auto r = away.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->set_aside, 1u);
  ASSERT_FALSE(Holds(away, "cases", x)) << "the stale laptop was rebuilt from the hub";

  const node::ops::Office o = OfficeOf(away);
  auto kept = node::ops::KeepSetAside(o, edit);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_EQ(kept->records.size(), 1u);
  const node::ops::KeptRecord& rec = kept->records.front();
  EXPECT_TRUE(rec.created);
  EXPECT_EQ(rec.table, "cases");
  EXPECT_NE(rec.row, x);
  EXPECT_EQ(rec.was, absl::StrCat("LC-", x.ToString().substr(0, 8)));
  EXPECT_EQ(rec.code.substr(0, 3), "LC-");
  EXPECT_NE(rec.code, rec.was);
  // Resolved: neither kept nor discarded again, nothing written.
  const uint64_t after_keep = LastSeq(away);
  auto again = node::ops::KeepSetAside(o, edit);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition) << again.status();
  EXPECT_NE(again.status().message().find("resolved already"), std::string::npos);
  EXPECT_EQ(node::ops::DiscardSetAside(away.replica(), edit, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(LastSeq(away), after_keep);

  const node::SyncReport w = MustSync(away);
  EXPECT_EQ(w.set_aside, 0u) << "the new case was refused";
  EXPECT_EQ(w.withdrawals_pushed, 1u);
  EXPECT_EQ(w.set_aside_open, 0u);
  const node::SyncReport ra = MustSync(a);
  EXPECT_EQ(ra.chain.held, 0u);
  EXPECT_EQ(ra.chain.evidence, 0u);
  ASSERT_TRUE(Holds(a, "cases", rec.row));
  EXPECT_EQ(Opened(a, "cases", rec.row, "case_code"), Value::Text(rec.code));
  EXPECT_EQ(Opened(a, "cases", rec.row, "status"), Value::Text("assisting"));
  EXPECT_EQ(Opened(a, "cases", rec.row, "narrative"), Value::Text("Bị lừa sang biên giới"));
  EXPECT_EQ(Opened(a, "cases", rec.row, "interview_notes"),
            Value::Text("Gặp lại ở Sa Pa, đã an toàn"));
  EXPECT_EQ(Opened(a, "cases", rec.row, "person_id"), person) << "the same person";
  auto listed = node::ops::ListSetAside(away.replica(), true);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE(listed->front().discarded);
  EXPECT_TRUE(listed->front().withdrawn);
}

// Attack review 89, LOW: keep makes the record of a case this laptop no
// longer holds from the newest write of each field in its log, and signs
// them anew. Someone able to write this laptop's database rewrote a
// colleague's decision in the log (trafficking_status "confirmed" made
// "not_trafficking"), and keep signed the rewrite as this laptop's and sent
// it to the colleague. Each write keep takes must verify against its
// author's signature: refused in one line, nothing written, the item open.
TEST_F(SetAsideKeepTest, KeepTakesNoWriteAlteredInTheLogOnThisLaptopsDisk) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng", "Bị lừa sang biên giới");
  SetField(a.replica(), "cases", x, "trafficking_status", Value::Text("confirmed"));
  const uint64_t decided = LastSeq(a);
  MustSync(a);
  MustSync(away);
  MustSync(a);
  SetField(away.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t edit = LastSeq(away);
  DeleteAndCollect(a, x);
  auto r = away.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->set_aside, 1u);
  ASSERT_FALSE(Holds(away, "cases", x));

  // The colleague's commit, as away's log holds it, rewritten.
  sqlite::Db& db = RawDb(away.replica());
  auto get = db.Prepared("SELECT pos, body FROM _fs_log WHERE seq = ?1 AND device = (SELECT idx "
                         "FROM _fs_devices WHERE id = ?2)");
  ASSERT_TRUE(get.ok()) << get.status();
  (*get)->BindInt(1, static_cast<int64_t>(decided));
  (*get)->BindBlob(2, a.replica().device_id().view());
  ASSERT_TRUE(*(*get)->Step()) << "the colleague's decision is not in the log";
  const int64_t pos = (*get)->ColumnInt(0);
  Commit altered = Must(DecodeCommit((*get)->ColumnString(1)));
  (*get)->Reset();
  bool rewritten = false;
  for (RowChange& rc : altered.changes) {
    for (FieldWrite& f : rc.fields) {
      if (rc.row == x && f.column == "trafficking_status") {
        f.value = Value::Text("not_trafficking");
        rewritten = true;
      }
    }
  }
  ASSERT_TRUE(rewritten);
  auto put = db.Prepared("UPDATE _fs_log SET body = ?1 WHERE pos = ?2");
  ASSERT_TRUE(put.ok()) << put.status();
  (*put)->BindBlob(1, EncodeCommit(altered));
  (*put)->BindInt(2, pos);
  ASSERT_TRUE((*put)->Run().ok());

  const uint64_t before = LastSeq(away);
  auto kept = node::ops::KeepSetAside(OfficeOf(away), edit);
  ASSERT_FALSE(kept.ok()) << "keep signed anew a write altered on the disk: the new case says "
                          << Opened(away, "cases", kept->records.front().row,
                                    "trafficking_status").str();
  EXPECT_EQ(kept.status().code(), absl::StatusCode::kFailedPrecondition) << kept.status();
  const std::string said(kept.status().message());
  EXPECT_NE(said.find(absl::StrCat("at position ", pos, " of this laptop's log no longer "
                                   "matches its signature")),
            std::string::npos)
      << said;
  EXPECT_NE(said.find(absl::StrCat("then discard ", edit)), std::string::npos) << said;
  EXPECT_EQ(said.find('\n'), std::string::npos) << said;
  EXPECT_EQ(LastSeq(away), before) << "something was written";
  auto open = node::ops::ListSetAside(away.replica(), false);
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u) << "the item was resolved";
}

// The user's errors, each one clear line and nothing changed: a change
// not set aside, a delete, a case whose keys were erased, one resolved
// already.
TEST_F(SetAsideKeepTest, KeepRefusesWhatItCannotKeepAndChangesNothing) {
  auto& n = AddNode("LC");
  const RowId y = NewCase(n.replica(), "LC", "Lò Thị Mai");
  const RowId z = NewCase(n.replica(), "LC", "Hà Thị Sáu");
  MustSync(n);
  const node::ops::Office o = OfficeOf(n);
  const uint64_t stored = LastSeq(n);
  auto none = node::ops::KeepSetAside(o, stored);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound) << none.status();
  EXPECT_NE(none.status().message().find("was not set aside"), std::string::npos);
  EXPECT_EQ(node::ops::KeepSetAside(o, 999).status().code(), absl::StatusCode::kNotFound);

  {
    LocalTxn t;
    t.Delete("cases", y);
    ASSERT_TRUE(n.replica().Write(t).ok());
  }
  const uint64_t deletes = LastSeq(n);
  SetAsideBySaying(n, deletes);
  auto del = node::ops::KeepSetAside(o, deletes);
  EXPECT_EQ(del.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(del.status().message().find("deletes a record"), std::string::npos) << del.status();

  SetField(n.replica(), "cases", z, "narrative", Value::Text("lời kể mới"));
  const uint64_t edit = LastSeq(n);
  SetAsideBySaying(n, edit);
  ASSERT_TRUE(n.keys()->Erase({z}).ok());
  const uint64_t before = LastSeq(n);
  auto erased = node::ops::KeepSetAside(o, edit);
  EXPECT_EQ(erased.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(erased.status().message().find("erased"), std::string::npos) << erased.status();
  EXPECT_EQ(LastSeq(n), before) << "something was written";

  ASSERT_TRUE(node::ops::DiscardSetAside(n.replica(), deletes, 1).ok());
  auto resolved = node::ops::KeepSetAside(o, deletes);
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(resolved.status().message().find("resolved already"), std::string::npos)
      << resolved.status();
  EXPECT_EQ(LastSeq(n), before) << "something was written";
  auto open = node::ops::ListSetAside(n.replica(), false);
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ(open->front().seq, edit) << "the erased case's edit stays open (discard it)";
}

// MEDIUM 3 of session 11: after a discard the refused version stayed in
// the laptop's row, so the next edit of that field named it as its base and
// the hub refused it as DEPENDS_ON_REFUSED: set aside again, and again.
// Now the discard puts the field back to the hub's version.
TEST_F(SetAsideKeepTest, AnEditAfterADiscardOfTheSameFieldIsStoredNotSetAsideAgain) {
  auto& n = AddNode("LC");
  auto& colleague = AddNode("LC");
  const RowId c = Id16::NewRandom();
  {
    LocalTxn t;
    t.Create("contacts", c, {{"name", Value::Text("Cán bộ A")},
                             {"mobile", Value::Text("0912 000 111")},
                             {"restriction", Value::Text("restricted")},
                             {"province", Value::Text("LC")}});
    ASSERT_TRUE(n.replica().Write(t).ok());
  }
  MustSync(n);
  // A build that does not seal writes the restricted contact's mobile in
  // clear: the hub refuses it for good (SEALING), the laptop sets it aside.
  {
    LocalTxn t;
    t.Set("contacts", c, {{"mobile", Value::Text("0912 999 999")}});
    ASSERT_TRUE(WriteAsPatchedBuild(n, t).ok());
  }
  const uint64_t refused = LastSeq(n);
  auto r = n.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->set_aside, 1u);
  ASSERT_EQ(r->set_aside_code, static_cast<int>(sync::RefusalCode::kSealing));

  auto discarded = node::ops::DiscardSetAside(n.replica(), refused, 1);
  ASSERT_TRUE(discarded.ok()) << discarded.status();
  EXPECT_EQ(discarded->fields_left, 0u);
  EXPECT_EQ(Opened(n, "contacts", c, "mobile"), Value::Text("0912 000 111"))
      << "the laptop still shows the discarded change";

  SetField(n.replica(), "contacts", c, "mobile", Value::Text("0912 222 333"));
  auto later = n.Sync();
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_TRUE(later->push_refused.ok()) << later->push_refused;
  EXPECT_EQ(later->set_aside, 0u) << "the edit after the discard was set aside again: "
                                  << later->set_aside_reason;
  MustSync(colleague);
  EXPECT_EQ(Opened(colleague, "contacts", c, "mobile"), Value::Text("0912 222 333"));
  ExpectSameRowEverywhere(c, {&n, &colleague}, "contacts");
}

// Key records `n` signed that grant a version of `ring` to office `to`.
int64_t GrantsTo(harness::LocalNode& n, const RowId& ring, const std::string& to) {
  auto st = RawDb(n.replica()).Prepared(
      "SELECT count(*) FROM _fs_keys WHERE kind = 3 AND keyring = ?1 AND province = ?2 AND "
      "signer = ?3");
  EXPECT_TRUE(st.ok()) << st.status();
  if (!st.ok()) return -1;
  (*st)->BindBlob(1, ring.view());
  (*st)->BindText(2, to);
  (*st)->BindBlob(3, n.replica().device_id().view());
  EXPECT_TRUE(*(*st)->Step());
  return (*st)->ColumnInt(0);
}

// A referral the hub refused is set aside: until the officer resolves it,
// the hub holds no such referral, whatever the rows here still show. Its
// letter's key ring goes to the receiving office from no Maintain pass, nor
// the case's key ring on an acceptance that arrives all the same (a hub
// that said it refused the referral and served it to the receiving office
// anyway: attack review 72, H1, LOW 4). Before, Maintain granted the
// letter's ring to Hà Nội as soon as its office key came (it checked that
// the referral was live and vouched for, not that it was set aside), and
// the case's ring once the acceptance came.
TEST_F(SetAsideKeepTest, ASetAsideReferralGrantsNoKeyToItsReceivingOffice) {
  auto& lc = AddNode("LC");
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng", "Bị lừa sang biên giới");
  MustSync(lc);
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  SetAsideBySaying(lc, LastSeq(lc));  // the hub stored it all the same
  // Hà Nội's first laptop publishes its office key, receives the referral
  // from the hub, and accepts it.
  auto& hn = AddNode("HN");
  MustSync(hn);
  ASSERT_TRUE(Holds(hn, "referrals", ref)) << "the hub served the referral it said it refused";
  SetField(hn.replica(), "referrals", ref, "status", Value::Text("accepted"));
  MustSync(hn);
  for (int pass = 0; pass < 2; ++pass) {
    auto r = lc.Sync();
    ASSERT_TRUE(r.ok()) << r.status();
  }
  auto row = lc.replica().Get("referrals", ref);
  ASSERT_TRUE(row.ok() && row->has_value() && (*row)->live) << "still shown until resolved";
  EXPECT_EQ(GrantsTo(lc, ref, "HN"), 0) << "the set-aside referral's letter was granted";
  EXPECT_EQ(GrantsTo(lc, kase, "HN"), 0) << "the set-aside referral's case key was granted";
}

}  // namespace
}  // namespace fieldsync::testing
