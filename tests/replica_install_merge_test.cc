// A row installed whole over one the node holds (Replica::ApplyPulled,
// store/replica_install_merge.cc): the copy's writes the node has not
// applied are merged into the held row, never put in its place. Each test
// is one of the rules docs/MERGE.md ("Rows installed over held ones") says
// the merge must keep, and fails on a merge that does not keep it.
#include <gtest/gtest.h>

#include "support/replica_fixture.h"

namespace fieldsync::testing {
namespace {

constexpr size_t kName = 0;   // organisations.name
constexpr size_t kPhone = 4;  // organisations.public_phone

class InstallMergeTest : public ::testing::Test {
 protected:
  InstallMergeTest()
      : clock_(kTestEpochMillis),
        author_(OpenReplica(dir_.File("author.db"), &clock_)),
        node_(OpenReplica(dir_.File("node.db"), &clock_)) {}

  Commit Write(Replica& r, LocalTxn t) {
    clock_.Advance(1);
    auto c = r.Write(t);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : Commit{};
  }
  Commit Write(LocalTxn t) { return Write(*author_, std::move(t)); }

  RowSnapshot Export(Replica& r, const RowId& row) {
    auto snap = r.ExportRow("organisations", row);
    EXPECT_TRUE(snap.ok() && snap->has_value());
    return snap.ok() && snap->has_value() ? **snap : RowSnapshot{};
  }

  void Pull(PulledBatch b) {
    auto r = node_->ApplyPulled(b);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // The log's commits at their positions, then a copy installed as holding
  // the log up to `position`.
  void PullLog(std::vector<std::pair<int64_t, Commit>> commits) {
    PulledBatch b;
    b.commits = std::move(commits);
    Pull(std::move(b));
  }
  void Install(const RowSnapshot& copy, int64_t position) {
    PulledBatch b;
    b.rows = {copy};
    b.rows_position = position;
    Pull(std::move(b));
  }

  Value NodeValue(const RowId& row, size_t column) {
    auto got = node_->Get("organisations", row);
    EXPECT_TRUE(got.ok() && got->has_value());
    return got.ok() && got->has_value() ? (*got)->values[column] : Value::Null();
  }

  std::vector<ConflictRecord> NodeConflicts(const RowId& row) {
    auto c = node_->Conflicts(std::string("organisations"), row);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : std::vector<ConflictRecord>{};
  }

  std::vector<Commit> LateLineOverAnInstall(const RowId& a, const std::vector<std::string>& late);
  void AuthorAppliesTheLateLine(const std::vector<Commit>& line);

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Replica> author_;
  std::unique_ptr<Replica> node_;
};

// A hub put back from a backup serves its older copy of a row again when
// the node's cursor went back before the row became visible (a referral);
// the node, holding the newer commits, skips them as held when they come
// again. Put in its place, the copy took the newer field back for good
// (the simulation, FIELDSYNC_SIM_WITHOUT=gc FIELDSYNC_SIM_SEED=
// 1946042172048994136: an assigned officer gone from one laptop). A field
// the copy holds newer still comes in.
TEST_F(InstallMergeTest, AnOlderCopyOfAHeldRowTakesBackNoFieldHeldNewer) {
  const RowId a = Id16::NewRandom();
  const Commit c1 = Write(LocalTxn().Create("organisations", a, {{"name", T("one")},
                                                                 {"public_phone", T("024 1")}}));
  const RowSnapshot old_copy = Export(*author_, a);
  const Commit c2 = Write(LocalTxn().Set("organisations", a, {{"name", T("two")}}));
  PulledBatch log;
  log.commits = {{1, c1}, {2, c2}};
  Pull(log);
  // The phone changes on the hub's side after the node pulled: the copy
  // served next holds the older name and the newer phone.
  const Commit c3 = Write(LocalTxn().Set("organisations", a, {{"public_phone", T("024 3")}}));
  RowSnapshot mixed = old_copy;
  const RowSnapshot newest = Export(*author_, a);
  for (FieldState& f : mixed.fields) {
    if (f.column != "public_phone") continue;
    for (const FieldState& g : newest.fields) {
      if (g.column == f.column) f = g;
    }
  }
  PulledBatch install;
  install.rows = {mixed};
  install.rows_position = 1;
  Pull(install);
  EXPECT_EQ(NodeValue(a, kName), T("two")) << "the name held newer was taken back";
  EXPECT_EQ(NodeValue(a, kPhone), T("024 3"));
  // c3 comes again later: inside the row, skipped; the node is the author.
  PulledBatch later;
  later.commits = {{3, c3}};
  Pull(later);
  EXPECT_EQ(Digest(*node_), Digest(*author_));
}

// Rule (1): a field the held row keeps is vouched for by the batch only if
// the held row was, or the node's log shows it. Else a hub plants a value
// with a copy it does not vouch for (newer than the true one), then serves
// the true row witnessed: the planted value would stay, witnessed, and the
// node would seal for the owner it names.
TEST_F(InstallMergeTest, AFieldPlantedByAnUnvouchedCopyIsNotVouchedForByALaterWitnessedOne) {
  const RowId a = Id16::NewRandom();
  Write(LocalTxn().Create("organisations", a, {{"name", T("true name")}}));
  const RowSnapshot truth = Export(*author_, a);
  RowSnapshot planted = truth;
  for (FieldState& f : planted.fields) {
    if (f.column != "name") continue;
    f.value = T("planted");
    f.version.version.hlc = Hlc::FromPacked(f.version.version.hlc.packed() + (10u << 16));
  }
  PulledBatch first;
  first.rows = {planted};
  first.rows_position = 1;
  Pull(first);
  PulledBatch second;
  second.rows = {truth};
  second.rows_position = 1;
  second.witnessed = {{"organisations", a}};
  Pull(second);
  EXPECT_EQ(NodeValue(a, kName), T("planted"));  // the newer version, the hub's word
  auto vouched = node_->RowVouched("organisations", a);
  ASSERT_TRUE(vouched.ok()) << vouched.status();
  EXPECT_FALSE(*vouched) << "a planted field was vouched for by the witnessed copy";
  auto signed_name = node_->VersionSigned("organisations", a, "name");
  ASSERT_TRUE(signed_name.ok()) << signed_name.status();
  EXPECT_FALSE(*signed_name);
}

// Rule (1), review 21's HIGH: on a row served as the hub chose, a held
// field kept by a signed commit is not vouched for either. Any office's
// device may sign a write keeping the owner a laptop holds, so a hub plants
// an owner with a copy it does not vouch for, has a colluding office sign a
// write keeping it, then serves the true row witnessed: the laptop would
// seal for the planted owner.
TEST_F(InstallMergeTest, AHeldFieldOnAServedRowKeptByAnotherOfficesCommitIsNotVouchedFor) {
  std::unique_ptr<Replica> colluding = OpenReplica(dir_.File("colluding.db"), &clock_);
  const RowId a = Id16::NewRandom();
  Write(LocalTxn().Create("organisations", a, {{"name", T("true owner")}}));
  const RowSnapshot truth = Export(*author_, a);
  RowSnapshot planted = truth;
  for (FieldState& f : planted.fields) {
    if (f.column == "name") f.value = T("planted");
  }
  for (Replica* r : {node_.get(), colluding.get()}) {
    PulledBatch first;
    first.rows = {planted};
    first.rows_position = 1;
    ASSERT_TRUE(r->ApplyPulled(first).ok());
  }
  const Commit keep = Write(*colluding, LocalTxn().Set("organisations", a,
                                                       {{"name", T("planted")}}));
  PulledBatch log;
  log.commits = {{2, keep}};
  Pull(log);
  PulledBatch second;
  second.rows = {truth};
  second.rows_position = 1;
  second.witnessed = {{"organisations", a}};
  Pull(second);
  EXPECT_EQ(NodeValue(a, kName), T("planted"));
  auto vouched = node_->RowVouched("organisations", a);
  ASSERT_TRUE(vouched.ok()) << vouched.status();
  EXPECT_FALSE(*vouched) << "a planted value kept by a colluding commit was vouched for";
}

// Rule (2): this laptop's own field, acknowledged by the hub and held
// newer than the copy, stays. The replay after an install brings back
// only what was not acknowledged (ReplayUnpushed), so a merge that took
// the copy's value for the laptop's own fields let a hub roll them back.
TEST_F(InstallMergeTest, AnAcknowledgedFieldOfThisLaptopHeldNewerStays) {
  const RowId a = Id16::NewRandom();
  const Commit c1 = Write(LocalTxn().Create("organisations", a, {{"name", T("one")}}));
  const RowSnapshot old_copy = Export(*author_, a);
  PulledBatch log;
  log.commits = {{1, c1}};
  Pull(log);
  clock_.Advance(1);
  auto mine = node_->Write(LocalTxn().Set("organisations", a, {{"name", T("mine")}}));
  ASSERT_TRUE(mine.ok()) << mine.status();
  ASSERT_TRUE(node_->SetCursor("hub:pushed", static_cast<int64_t>(mine->seq)).ok());
  PulledBatch install;
  install.rows = {old_copy};
  install.rows_position = 1;
  install.pushed_cursor = "hub:pushed";
  Pull(install);
  EXPECT_EQ(NodeValue(a, kName), T("mine")) << "a hub rolled back this laptop's acknowledged write";
}

// Rule (2), the other half: this laptop's own write the hub refused (set
// aside) and an officer has not resolved yet stays in a row installed over
// it, as work not at the hub does (re-dating a write refused for a clock
// ahead rewrites only the rows that hold it); once discarded, the discard
// puts the field back and a copy installed again agrees with it.
TEST_F(InstallMergeTest, AnUnresolvedRefusedFieldOfThisLaptopStaysThroughAnInstall) {
  const RowId a = Id16::NewRandom();
  Write(LocalTxn().Create("organisations", a, {{"name", T("one")}, {"public_phone", T("024 1")}}));
  const RowSnapshot copy = Export(*author_, a);
  PulledBatch first;
  first.rows = {copy};
  first.rows_position = 1;
  Pull(first);
  clock_.Advance(1);
  auto mine = node_->Write(LocalTxn().Set("organisations", a, {{"public_phone", T("refused")}}));
  ASSERT_TRUE(mine.ok()) << mine.status();
  SetAsideRow refused;
  refused.seq = mine->seq;
  refused.code = 1;
  refused.reason = "refused by the hub";
  refused.at_millis = kTestEpochMillis;
  ASSERT_TRUE(node_->SetAside({refused}).ok());
  ASSERT_TRUE(node_->SetCursor("hub:pushed", static_cast<int64_t>(mine->seq)).ok());
  PulledBatch again;
  again.rows = {copy};
  again.rows_position = 1;
  again.pushed_cursor = "hub:pushed";
  Pull(again);
  EXPECT_EQ(NodeValue(a, kPhone), T("refused")) << "work an officer has not resolved was dropped";
  auto discarded = node_->DiscardSetAside(mine->seq, kTestEpochMillis + 5);
  ASSERT_TRUE(discarded.ok()) << discarded.status();
  Pull(again);
  EXPECT_EQ(NodeValue(a, kPhone), T("024 1")) << "a discarded write outlived the install";
  EXPECT_EQ(Digest(*node_), Digest(*author_));
}

// The same through a bootstrap (a laptop rebuilt after a collection it
// was away for: every row installed again, its own work after what the hub
// acknowledged replayed). A commit the hub refused sits at or under the
// acknowledged seq (the hub passes over it); replayed only if an officer
// has not resolved it. Left out, the refused work was gone from the rows
// while its commit waited to be re-dated, and re-dating rewrites only the
// rows that hold it (the simulation with every condition on,
// FIELDSYNC_SIM_SEED=16123241541781893439: a case HG2 deleted with its
// clock ahead, live at HG2 again after its rebuild).
TEST_F(InstallMergeTest, AnUnresolvedRefusedWriteOfThisLaptopStaysThroughABootstrap) {
  const RowId a = Id16::NewRandom();
  Write(LocalTxn().Create("organisations", a, {{"name", T("one")}, {"public_phone", T("024 1")}}));
  const RowSnapshot copy = Export(*author_, a);
  PulledBatch first;
  first.rows = {copy};
  first.rows_position = 1;
  Pull(first);
  clock_.Advance(1);
  auto mine = node_->Write(LocalTxn().Set("organisations", a, {{"public_phone", T("refused")}}));
  ASSERT_TRUE(mine.ok()) << mine.status();
  SetAsideRow refused;
  refused.seq = mine->seq;
  refused.code = 7;  // CLOCK_AHEAD: re-dated once the clock is right
  refused.reason = "stamped ahead of the hub's clock";
  refused.at_millis = kTestEpochMillis;
  ASSERT_TRUE(node_->SetAside({refused}).ok());
  ASSERT_TRUE(node_->SetCursor("hub:pushed", static_cast<int64_t>(mine->seq)).ok());
  PulledBatch rebuild;
  rebuild.reset = true;
  rebuild.rows = {copy};
  rebuild.pushed_cursor = "hub:pushed";
  Pull(rebuild);
  EXPECT_EQ(NodeValue(a, kPhone), T("refused"))
      << "work an officer has not resolved was dropped by the bootstrap";
  auto discarded = node_->DiscardSetAside(mine->seq, kTestEpochMillis + 5);
  ASSERT_TRUE(discarded.ok()) << discarded.status();
  Pull(rebuild);
  EXPECT_EQ(NodeValue(a, kPhone), T("024 1")) << "a discarded write outlived the bootstrap";
  EXPECT_EQ(Digest(*node_), Digest(*author_));
}

// But a refused delete of a row the hub collected (ROW_COLLECTED, or a
// delete set aside for the clock whose row a colleague's delete and a
// collection took since) is not brought back by the bootstrap as a
// tombstone: the reset names no collected row, so nothing would ever drop
// it (attack review 25, MED 1).
TEST_F(InstallMergeTest, ARefusedDeleteOfARowTheHubCollectedIsNotBroughtBackByABootstrap) {
  for (const int code : {1, 7}) {
    const RowId a = Id16::NewRandom();
    Write(LocalTxn().Create("organisations", a, {{"name", T("one")}}));
    PulledBatch first;
    first.rows = {Export(*author_, a)};
    first.rows_position = 1;
    Pull(first);
    clock_.Advance(1);
    auto mine = node_->Write(LocalTxn().Delete("organisations", a));
    ASSERT_TRUE(mine.ok()) << mine.status();
    SetAsideRow refused;
    refused.seq = mine->seq;
    refused.code = code;
    refused.reason = "refused by the hub";
    refused.at_millis = kTestEpochMillis;
    ASSERT_TRUE(node_->SetAside({refused}).ok());
    ASSERT_TRUE(node_->SetCursor("hub:pushed", static_cast<int64_t>(mine->seq)).ok());
    PulledBatch rebuild;  // the row collected at the hub: not in the reset
    rebuild.reset = true;
    rebuild.pushed_cursor = "hub:pushed";
    Pull(rebuild);
    auto got = node_->Get("organisations", a);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_FALSE(got->has_value()) << "code " << code << ": a collected row came back as a tombstone";
  }
}

// Rule (3): a copy pairing the version held with another value. Where a
// commit in the node's log wrote the value held, the copy lies: the value
// held stays, signed. Where the value held came in a copy of its own (the
// hub's word), the new copy's is taken, and the row counts as served, never
// as vouched for.
TEST_F(InstallMergeTest, ACopyPairingAHeldVersionWithAnotherValueNeverReplacesASignedOne) {
  const RowId a = Id16::NewRandom();
  const Commit c1 = Write(LocalTxn().Create("organisations", a, {{"name", T("one")}}));
  const RowSnapshot truth = Export(*author_, a);
  RowSnapshot other_value = truth;
  for (FieldState& f : other_value.fields) {
    if (f.column == "name") f.value = T("other");
  }
  PulledBatch log;
  log.commits = {{1, c1}};
  Pull(log);
  PulledBatch install;
  install.rows = {other_value};
  install.rows_position = 1;
  Pull(install);
  EXPECT_EQ(NodeValue(a, kName), T("one")) << "a hub's value replaced a signed one";
  auto signed_name = node_->VersionSigned("organisations", a, "name");
  ASSERT_TRUE(signed_name.ok()) << signed_name.status();
  EXPECT_TRUE(*signed_name);
}

TEST_F(InstallMergeTest, ACopyPairingAServedVersionWithAnotherValueIsTakenAndNotVouchedFor) {
  const RowId a = Id16::NewRandom();
  Write(LocalTxn().Create("organisations", a, {{"name", T("one")}}));
  const RowSnapshot truth = Export(*author_, a);
  RowSnapshot other_value = truth;
  for (FieldState& f : other_value.fields) {
    if (f.column == "name") f.value = T("other");
  }
  for (const RowSnapshot* copy : std::vector<const RowSnapshot*>{&truth, &other_value}) {
    PulledBatch install;
    install.rows = {*copy};
    install.rows_position = 1;
    Pull(install);
  }
  EXPECT_EQ(NodeValue(a, kName), T("other"));
  auto vouched = node_->RowVouched("organisations", a);
  ASSERT_TRUE(vouched.ok()) << vouched.status();
  EXPECT_FALSE(*vouched);
  auto signed_name = node_->VersionSigned("organisations", a, "name");
  ASSERT_TRUE(signed_name.ok()) << signed_name.status();
  EXPECT_FALSE(*signed_name) << "the hub's value passed for the signed one";
}

// A write the copy holds and the node never applied, concurrent with the
// field it holds newer, becomes a conflict record there (its commit, inside
// the row, is skipped when it comes): the node shows what a replica that
// applied every commit shows.
TEST_F(InstallMergeTest, AConcurrentWriteOnlyTheCopyHoldsBecomesAConflictRecord) {
  std::unique_ptr<Replica> other = OpenReplica(dir_.File("other.db"), &clock_);
  const RowId a = Id16::NewRandom();
  const Commit c1 = Write(LocalTxn().Create("organisations", a, {{"name", T("one")}}));
  ASSERT_TRUE(other->Apply({c1}).ok());
  const Commit three = Write(*other, LocalTxn().Set("organisations", a, {{"name", T("three")}}));
  const Commit c2 = Write(LocalTxn().Set("organisations", a, {{"name", T("two")}}));
  ASSERT_TRUE(author_->Apply({three}).ok());
  const RowSnapshot copy = Export(*author_, a);  // "two", with "three" as a record
  ASSERT_EQ(copy.conflicts.size(), 1u);
  const Commit c4 = Write(LocalTxn().Set("organisations", a, {{"name", T("four")}}));
  PullLog({{1, c1}, {2, c2}, {4, c4}});
  Install(copy, 3);
  EXPECT_EQ(NodeValue(a, kName), T("four"));
  const std::vector<ConflictRecord> records = NodeConflicts(a);
  ASSERT_EQ(records.size(), 1u) << "the concurrent write was lost";
  EXPECT_EQ(records[0].value, T("three"));
  PullLog({{3, three}});
  EXPECT_EQ(Digest(*node_), Digest(*author_));
}

// A conflict record this laptop holds from a commit it applied, which a
// hub put back from a backup lost: the hub's copy holds the same winner
// without the record. Taken with the copy's records, the record was gone at
// this laptop alone, and the commit, when its author sent it again, was
// skipped as held (the simulation, FIELDSYNC_SEED=76: FIELDSYNC_SIM_SEED=
// 13600282762158962425, "conflict records differ").
TEST_F(InstallMergeTest, AConflictRecordAppliedHereStaysWhenTheCopyHoldsTheSameWinnerWithout) {
  std::unique_ptr<Replica> other = OpenReplica(dir_.File("other.db"), &clock_);
  const RowId a = Id16::NewRandom();
  const Commit c1 = Write(LocalTxn().Create("organisations", a, {{"name", T("one")}}));
  ASSERT_TRUE(other->Apply({c1}).ok());
  const Commit three = Write(*other, LocalTxn().Set("organisations", a, {{"name", T("three")}}));
  const Commit c2 = Write(LocalTxn().Set("organisations", a, {{"name", T("two")}}));
  const RowSnapshot copy = Export(*author_, a);  // "two", no record: the hub put back
  ASSERT_TRUE(copy.conflicts.empty());
  PullLog({{1, c1}, {2, c2}, {3, three}});
  ASSERT_EQ(NodeConflicts(a).size(), 1u);
  Install(copy, 2);
  EXPECT_EQ(NodeValue(a, kName), T("two"));
  const std::vector<ConflictRecord> records = NodeConflicts(a);
  ASSERT_EQ(records.size(), 1u) << "the concurrent write applied here was lost";
  EXPECT_EQ(records[0].value, T("three"));
  // Its commit comes again (its author sent it again), skipped as held.
  PullLog({{3, three}});
  ASSERT_TRUE(author_->Apply({three}).ok());
  EXPECT_EQ(Digest(*node_), Digest(*author_));
}

// A write this laptop applied from its commit, older than a colleague's
// concurrent one and lost by a hub put back from a backup: the restored
// hub's copy holds the newer write alone. Taken with the copy's records,
// the older write was gone from this laptop, which skips its commit as held
// when its author sends it again, while every other replica keeps it as a
// conflict record (the simulation, FIELDSYNC_SIM_SEED=11859962690857931247:
// LC1's narrative edit of a case referred to HG, lost at HG1 alone). Red
// before: no record.
TEST_F(InstallMergeTest, AHeldWriteOlderThanTheCopysConcurrentFieldStaysAsARecord) {
  std::unique_ptr<Replica> other = OpenReplica(dir_.File("other.db"), &clock_);
  const RowId a = Id16::NewRandom();
  const Commit c1 = Write(LocalTxn().Create("organisations", a, {{"name", T("một")}}));
  ASSERT_TRUE(other->Apply({c1}).ok());
  const Commit three = Write(*other, LocalTxn().Set("organisations", a, {{"name", T("ba")}}));
  PullLog({{1, c1}, {2, three}});
  const Commit c2 = Write(LocalTxn().Set("organisations", a, {{"name", T("hai")}}));
  const RowSnapshot copy = Export(*author_, a);  // "hai", no record: the hub lost "ba"
  ASSERT_TRUE(copy.conflicts.empty());
  Install(copy, 2);
  EXPECT_EQ(NodeValue(a, kName), T("hai"));
  const std::vector<ConflictRecord> records = NodeConflicts(a);
  ASSERT_EQ(records.size(), 1u) << "the older concurrent write applied here was lost";
  EXPECT_EQ(records[0].value, T("ba"));
  // Its commit comes again (its author sent it again), skipped as held.
  PullLog({{3, three}});
  ASSERT_TRUE(author_->Apply({three}).ok());
  EXPECT_EQ(Digest(*node_), Digest(*author_));
}

// The other side of it: a held write that a write between it and the copy's
// field superseded (not shown in the copy) is no record. The copy's winner
// names that write as its base, newer than the held one, so the held one
// may be on its line: nothing is kept.
TEST_F(InstallMergeTest, AHeldWriteAWriteTheCopyDoesNotShowSupersededIsNoRecord) {
  std::unique_ptr<Replica> other = OpenReplica(dir_.File("other.db"), &clock_);
  const RowId a = Id16::NewRandom();
  const Commit c1 = Write(LocalTxn().Create("organisations", a, {{"name", T("một")}}));
  ASSERT_TRUE(other->Apply({c1}).ok());
  const Commit three = Write(*other, LocalTxn().Set("organisations", a, {{"name", T("ba")}}));
  const Commit four = Write(*other, LocalTxn().Set("organisations", a, {{"name", T("bốn")}}));
  PullLog({{1, c1}, {2, three}});
  ASSERT_TRUE(author_->Apply({three, four}).ok());
  const Commit five = Write(LocalTxn().Set("organisations", a, {{"name", T("năm")}}));
  const RowSnapshot copy = Export(*author_, a);  // "năm" based on "bốn", no record
  ASSERT_TRUE(copy.conflicts.empty());
  Install(copy, 4);
  EXPECT_EQ(NodeValue(a, kName), T("năm"));
  EXPECT_TRUE(NodeConflicts(a).empty()) << "a held write superseded between was kept";
  PullLog({{3, four}, {4, five}});
  EXPECT_EQ(Digest(*node_), Digest(*author_));
}

// Attack review 26, MED 1: the held record the copy shows superseded is
// not kept beside it. A colleague's losing edit over it ("four", based on
// "three") replaced the record at the hub; the copy carries "four", whose
// commit, inside the row, this laptop then skips: keeping "three" showed a
// conflict no other replica had, for good. Red before: records {three, four}.
TEST_F(InstallMergeTest, AHeldRecordTheCopysRecordSupersedesByItsBaseIsNotKept) {
  std::unique_ptr<Replica> other = OpenReplica(dir_.File("other.db"), &clock_);
  const RowId a = Id16::NewRandom();
  const Commit c1 = Write(LocalTxn().Create("organisations", a, {{"name", T("one")}}));
  ASSERT_TRUE(other->Apply({c1}).ok());
  const Commit three = Write(*other, LocalTxn().Set("organisations", a, {{"name", T("three")}}));
  const Commit four = Write(*other, LocalTxn().Set("organisations", a, {{"name", T("four")}}));
  const Commit c2 = Write(LocalTxn().Set("organisations", a, {{"name", T("two")}}));
  ASSERT_TRUE(author_->Apply({three, four}).ok());
  const RowSnapshot copy = Export(*author_, a);  // "two", with "four" as its record
  ASSERT_EQ(copy.conflicts.size(), 1u);
  PullLog({{1, c1}, {2, c2}, {3, three}});
  Install(copy, 4);
  const std::vector<ConflictRecord> records = NodeConflicts(a);
  ASSERT_EQ(records.size(), 1u) << "a record the copy shows superseded was kept";
  EXPECT_EQ(records[0].value, T("four"));
  PullLog({{4, four}});
  EXPECT_EQ(Digest(*node_), Digest(*author_));
}

// Review 21, MED 2: a conflict record of the copy older than what an
// earlier install brought, which this laptop never held (a colleague's
// offline write pushed late, concurrent), is kept: its commit, inside the
// row, is skipped when it comes, so taking it as held lost it for good.
TEST_F(InstallMergeTest, AConflictRecordOlderThanAnEarlierInstallIsKeptNotTakenAsHeld) {
  const RowId a = Id16::NewRandom();
  const Commit c1 = Write(LocalTxn().Create("organisations", a, {{"name", T("one")}}));
  const RowSnapshot copy = Export(*author_, a);
  const Commit c2 = Write(LocalTxn().Set("organisations", a, {{"name", T("two")}}));
  PulledBatch first;
  first.rows = {copy};
  first.rows_position = 1;
  Pull(first);
  PulledBatch log;
  log.commits = {{2, c2}};
  Pull(log);
  RowSnapshot with_late = copy;
  ConflictRecord late;
  late.table = "organisations";
  late.row = a;
  late.column = "name";
  late.version = Version{Hlc::FromPacked(c1.hlc.packed() - 1), Id16::NewRandom()};
  late.value = T("late");
  with_late.conflicts.push_back(late);
  PulledBatch again;
  again.rows = {with_late};
  again.rows_position = 3;
  Pull(again);
  EXPECT_EQ(NodeValue(a, kName), T("two"));
  const std::vector<ConflictRecord> records = NodeConflicts(a);
  ASSERT_EQ(records.size(), 1u) << "a late write was taken as held, and lost";
  EXPECT_EQ(records[0].value, T("late"));
}

// Review 21, MED 3: a copy's conflict record newer than its field's value
// (in no replica's row) or stamped far ahead would pin the field and drag
// this laptop's clock: the batch is refused, nothing of it kept.
TEST_F(InstallMergeTest, AConflictRecordNewerThanItsValueOrFarAheadIsRefused) {
  const RowId a = Id16::NewRandom();
  const Commit c1 = Write(LocalTxn().Create("organisations", a, {{"name", T("one")}}));
  const RowSnapshot copy = Export(*author_, a);
  PulledBatch log;
  log.commits = {{1, c1}};
  Pull(log);
  for (uint64_t ahead_millis : {uint64_t{1}, uint64_t{400} * 24 * 3600 * 1000}) {
    RowSnapshot bad = copy;
    ConflictRecord r;
    r.table = "organisations";
    r.row = a;
    r.column = "name";
    r.version = Version{Hlc::FromParts(c1.hlc.wall_millis() + ahead_millis, 0), Id16::NewRandom()};
    r.value = T("pinned");
    bad.conflicts.push_back(r);
    PulledBatch install;
    install.rows = {bad};
    install.rows_position = 1;
    auto got = node_->ApplyPulled(install);
    EXPECT_FALSE(got.ok()) << "ahead " << ahead_millis;
    EXPECT_EQ(NodeValue(a, kName), T("one"));
    EXPECT_TRUE(NodeConflicts(a).empty());
  }
}

// A copy's version the held field superseded through writes the node
// applied after an earlier install (not in its log: that install brought
// it) is no conflict: the node's log shows the chain of bases back to it.
TEST_F(InstallMergeTest, AVersionTheHeldFieldSupersededIsNoConflictThoughNeverLogged) {
  const RowId a = Id16::NewRandom();
  Write(LocalTxn().Create("organisations", a, {{"name", T("one")}}));
  const RowSnapshot copy = Export(*author_, a);
  const Commit c2 = Write(LocalTxn().Set("organisations", a, {{"name", T("two")}}));
  const Commit c3 = Write(LocalTxn().Set("organisations", a, {{"name", T("three")}}));
  PulledBatch first;
  first.rows = {copy};
  first.rows_position = 1;
  Pull(first);
  PulledBatch log;
  log.commits = {{2, c2}, {3, c3}};
  Pull(log);
  PulledBatch again;  // the same copy served again (a hub put back)
  again.rows = {copy};
  again.rows_position = 1;
  Pull(again);
  EXPECT_EQ(NodeValue(a, kName), T("three"));
  EXPECT_TRUE(NodeConflicts(a).empty()) << "a superseded version shown as a conflict";
  EXPECT_EQ(Digest(*node_), Digest(*author_));
}


// A colleague's offline line of writes `late` (each on the one before, the
// first on the row's creation c1), all older than the author's c2, which saw
// none: the node installs the row as the hub held it (c1, c2), then the copy
// of a hub put back to a backup that holds c1 and the late line, not c2.
// The late commits are returned, for the author to apply afterwards.
std::vector<Commit> InstallMergeTest::LateLineOverAnInstall(const RowId& a,
                                                            const std::vector<std::string>& late) {
  std::unique_ptr<Replica> offline = OpenReplica(dir_.File("late.db"), &clock_);
  std::unique_ptr<Replica> restored = OpenReplica(dir_.File("restored.db"), &clock_);
  const Commit c1 = Write(LocalTxn().Create("organisations", a, {{"name", T("one")}}));
  PulledBatch first_commit;
  first_commit.commits = {{1, c1}};
  EXPECT_TRUE(offline->ApplyPulled(first_commit).ok());
  EXPECT_TRUE(restored->ApplyPulled(first_commit).ok());
  std::vector<Commit> line;
  for (const std::string& v : late) {
    line.push_back(Write(*offline, LocalTxn().Set("organisations", a, {{"name", T(v.c_str())}})));
  }
  const Commit c2 = Write(LocalTxn().Set("organisations", a, {{"name", T("two")}}));
  EXPECT_LT(line.back().hlc, c2.hlc);
  PulledBatch first;
  first.rows = {Export(*author_, a)};
  first.rows_position = 2;
  Pull(first);
  PulledBatch late_commits;
  for (size_t i = 0; i < line.size(); ++i) late_commits.commits.push_back({static_cast<int64_t>(2 + i), line[i]});
  EXPECT_TRUE(restored->ApplyPulled(late_commits).ok());
  PulledBatch again;
  again.rows = {Export(*restored, a)};
  again.rows_position = static_cast<int64_t>(1 + line.size());
  Pull(again);
  return line;
}

// Every replica that applied every commit holds the same.
void InstallMergeTest::AuthorAppliesTheLateLine(const std::vector<Commit>& line) {
  PulledBatch both;
  for (size_t i = 0; i < line.size(); ++i) both.commits.push_back({static_cast<int64_t>(3 + i), line[i]});
  ASSERT_TRUE(author_->ApplyPulled(both).ok());
  EXPECT_EQ(Digest(*node_), Digest(*author_));
}

// A colleague's offline write pushed late, the copy's winner now (a hub put
// back to a backup holding it but not the write the node installed since),
// older than the held field and based on the same version: concurrent with
// it, so a conflict record, as at the hub and every laptop that applied both
// commits. Taken as inside the earlier install because it is older, it was
// lost at this laptop alone (the simulation, FIELDSYNC_SIM_WITHOUT=gc
// FIELDSYNC_SIM_SEED=6219099193868288868: a status write of AG1's on the case
// AG referred to HG, recorded at HG1 and the hub, not at HG2).
TEST_F(InstallMergeTest, ALateWriteOlderThanTheInstalledFieldButBasedOnItsBaseIsAConflict) {
  const RowId a = Id16::NewRandom();
  const std::vector<Commit> line = LateLineOverAnInstall(a, {"late"});
  EXPECT_EQ(NodeValue(a, kName), T("two"));
  const std::vector<ConflictRecord> records = NodeConflicts(a);
  ASSERT_EQ(records.size(), 1u) << "the late concurrent write was taken as inside the install";
  EXPECT_EQ(records[0].value, T("late"));
  AuthorAppliesTheLateLine(line);
}

// The same, with the colleague's offline line two writes long: the copy's
// winner is the second, based on the first, which this laptop never held
// (not in its log, not in the row), so the base alone cannot show it
// branched off. It is newer than the oldest version of the held field's
// line (where every base is known), so nothing of that line can have
// superseded it by its base: concurrent. Taken as inside the earlier
// install because it is older than the installed field, it was lost at this
// laptop alone (the simulation, FIELDSYNC_SIM_WITHOUT=gc
// FIELDSYNC_SIM_SEED=12696364027395367963: HG2's two narrative edits of the
// case HG referred to LC, a conflict record at LC1 and LC3, not at LC2).
TEST_F(InstallMergeTest, ALateLineOfTwoWritesOlderThanTheInstalledFieldIsAConflict) {
  const RowId a = Id16::NewRandom();
  const std::vector<Commit> line = LateLineOverAnInstall(a, {"late", "later"});
  EXPECT_EQ(NodeValue(a, kName), T("two"));
  const std::vector<ConflictRecord> records = NodeConflicts(a);
  ASSERT_EQ(records.size(), 1u) << "the late line's head was taken as inside the install";
  EXPECT_EQ(records[0].value, T("later"));
  AuthorAppliesTheLateLine(line);
}

}  // namespace
}  // namespace fieldsync::testing
