#include "store/replica.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "change/commit_codec.h"
#include "schema/validate_commit.h"
#include "support/replica_fixture.h"

namespace fieldsync {
namespace {

using testing::Deliver;
using testing::Digest;
using testing::kTestEpochMillis;
using testing::OpenReplica;
using testing::T;

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = OpenReplica(dir_.File("a.db"), &clock_a_);
    b_ = OpenReplica(dir_.File("b.db"), &clock_b_);
    ASSERT_TRUE(a_ && b_);
  }

  // A case created on `r`.
  RowId NewCase(Replica& r, FakeClock& clock) {
    const RowId id = RowId::NewV7(&clock);
    auto c = r.Write(LocalTxn().Create("cases", id, {{"case_code", T("LC-0001")},
                                                     {"province", T("lao-cai")},
                                                     {"status", T("intake")},
                                                     {"narrative", T("Được giải cứu tại cửa khẩu")}}));
    EXPECT_TRUE(c.ok()) << c.status();
    return id;
  }

  Value Field(Replica& r, const RowId& id, const char* col, const char* table = "cases") {
    auto row = r.Get(table, id);
    EXPECT_TRUE(row.ok() && row->has_value());
    const int ci = r.schema().FindTable(table)->ColumnIndex(col);
    return (*row)->values[static_cast<size_t>(ci)];
  }

  void Sync() {
    Deliver(*a_, *b_);
    Deliver(*b_, *a_);
  }

  testing::TempDir dir_;
  FakeClock clock_a_{kTestEpochMillis};
  FakeClock clock_b_{kTestEpochMillis};
  std::unique_ptr<Replica> a_, b_;
};

TEST_F(ReplicaTest, ALocalTransactionIsOneCommitWithTheNextSequence) {
  const RowId id = NewCase(*a_, clock_a_);
  auto c = a_->Write(LocalTxn()
                         .Set("cases", id, {{"status", T("verifying")}, {"urgency", T("urgent")}})
                         .Create("persons", RowId::NewV7(&clock_a_),
                                 {{"full_name", T("Nguyễn Thị Hằng")}, {"sex", T("female")}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->seq, 2u);
  EXPECT_EQ(c->author, a_->device_id());
  ASSERT_EQ(c->changes.size(), 2u);
  // The edit names the version it replaced as its base.
  const FieldWrite& status = c->changes[0].fields[0];
  EXPECT_EQ(status.column, "status");
  ASSERT_TRUE(status.base.has_value());
  EXPECT_EQ(status.base->device, a_->device_id());
  EXPECT_EQ(Field(*a_, id, "status"), T("verifying"));
  auto local = a_->LocalCommitsAfter(0, 10);
  ASSERT_TRUE(local.ok());
  ASSERT_EQ(local->size(), 2u);
  EXPECT_EQ((*local)[1], *c);
}

TEST_F(ReplicaTest, BadLocalWritesChangeNothing) {
  const RowId id = NewCase(*a_, clock_a_);
  const std::string before = Digest(*a_);
  const RowId other = RowId::NewV7(&clock_a_);
  struct BadCase {
    LocalTxn txn;
    absl::StatusCode code;
  };
  std::vector<BadCase> bad;
  bad.push_back({LocalTxn().Create("victims", other, {}), absl::StatusCode::kInvalidArgument});
  bad.push_back({LocalTxn().Set("cases", id, {{"colour", T("red")}}),
                 absl::StatusCode::kInvalidArgument});
  bad.push_back({LocalTxn().Set("cases", id, {{"status", Value::Int(3)}}),
                 absl::StatusCode::kInvalidArgument});
  bad.push_back({LocalTxn().Set("cases", other, {{"status", T("closed")}}),
                 absl::StatusCode::kNotFound});
  bad.push_back({LocalTxn().Create("cases", id, {}), absl::StatusCode::kAlreadyExists});
  // A good op followed by a bad one: the whole transaction is refused.
  bad.push_back({LocalTxn().Set("cases", id, {{"status", T("closed")}})
                     .Set("cases", id, {{"opened_on", T("2025-02-30")}}),
                 absl::StatusCode::kInvalidArgument});
  for (auto& b : bad) {
    auto r = a_->Write(b.txn);
    EXPECT_EQ(r.status().code(), b.code) << r.status();
  }
  EXPECT_EQ(Digest(*a_), before);
  auto stats = a_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->local_seq, 1u);
  EXPECT_EQ(stats->log_commits, 1u);
}

TEST_F(ReplicaTest, ConcurrentEditsOfDifferentFieldsBothSurvive) {
  const RowId id = NewCase(*a_, clock_a_);
  Sync();
  ASSERT_TRUE(a_->Write(LocalTxn().Set("cases", id, {{"status", T("verifying")}})).ok());
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", id, {{"urgency", T("urgent")}})).ok());
  Sync();
  for (Replica* r : {a_.get(), b_.get()}) {
    EXPECT_EQ(Field(*r, id, "status"), T("verifying"));
    EXPECT_EQ(Field(*r, id, "urgency"), T("urgent"));
    EXPECT_TRUE(r->Conflicts()->empty());
  }
  EXPECT_EQ(Digest(*a_), Digest(*b_));
}

TEST_F(ReplicaTest, ConcurrentEditsOfOneFieldKeepTheLoserAsAConflictOnEveryReplica) {
  const RowId id = NewCase(*a_, clock_a_);
  Sync();
  clock_a_.Advance(10);
  clock_b_.Advance(20);  // b writes later: b wins
  ASSERT_TRUE(a_->Write(LocalTxn().Set("cases", id, {{"narrative", T("bản của A")}})).ok());
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", id, {{"narrative", T("bản của B")}})).ok());
  Sync();
  for (Replica* r : {a_.get(), b_.get()}) {
    EXPECT_EQ(Field(*r, id, "narrative"), T("bản của B"));
    auto conflicts = r->Conflicts("cases", id);
    ASSERT_TRUE(conflicts.ok());
    ASSERT_EQ(conflicts->size(), 1u);
    EXPECT_EQ((*conflicts)[0].column, "narrative");
    EXPECT_EQ((*conflicts)[0].value, T("bản của A"));
    EXPECT_EQ((*conflicts)[0].version.device, a_->device_id());
  }
  EXPECT_EQ(Digest(*a_), Digest(*b_));
  EXPECT_EQ(a_->Stats()->open_conflicts, 1u);

  // A social worker on A resolves it with a new value; the record goes away
  // everywhere once synced.
  auto resolved = a_->Write(LocalTxn().Resolve("cases", id, "narrative", T("bản hợp nhất")));
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->changes[0].fields[0].resolves.size(), 1u);
  Sync();
  for (Replica* r : {a_.get(), b_.get()}) {
    EXPECT_EQ(Field(*r, id, "narrative"), T("bản hợp nhất"));
    EXPECT_TRUE(r->Conflicts()->empty());
  }
  EXPECT_EQ(Digest(*a_), Digest(*b_));
}

TEST_F(ReplicaTest, ResolvingWithoutAConflictIsRefused) {
  const RowId id = NewCase(*a_, clock_a_);
  auto r = a_->Write(LocalTxn().Resolve("cases", id, "status", T("closed")));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ReplicaTest, RowsWhereFindsRowsByAColumnValue) {
  const RowId kase = Id16::NewRandom();
  const Value kase_ref = Value::Bytes(std::string(kase.view()));
  std::vector<RowId> refs;
  for (int i = 0; i < 3; ++i) {
    refs.push_back(Id16::NewRandom());
    ASSERT_TRUE(a_->Write(LocalTxn().Create("referrals", refs.back(),
                                            {{"case_id", kase_ref}, {"to_office", T("HN")}}))
                    .ok());
  }
  ASSERT_TRUE(a_->Write(LocalTxn().Create("referrals", Id16::NewRandom(),
                                          {{"case_id", Value::Bytes(std::string(
                                                           Id16::NewRandom().view()))}}))
                  .ok());
  ASSERT_TRUE(a_->Write(LocalTxn().Delete("referrals", refs[1])).ok());
  auto live = a_->RowsWhere("referrals", "case_id", kase_ref, /*include_deleted=*/false);
  ASSERT_TRUE(live.ok()) << live.status();
  std::vector<RowId> want = {refs[0], refs[2]};
  std::sort(want.begin(), want.end(),
            [](const RowId& x, const RowId& y) { return x.view() < y.view(); });
  EXPECT_EQ(*live, want);
  // A deleted row's fields are cleared: it no longer names the case.
  auto all = a_->RowsWhere("referrals", "case_id", kase_ref, /*include_deleted=*/true);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  auto to = a_->RowsWhere("referrals", "to_office", T("HN"), false);
  ASSERT_TRUE(to.ok());
  EXPECT_EQ(to->size(), 2u);
  EXPECT_EQ(a_->RowsWhere("referrals", "no_such", T("x"), false).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a_->RowsWhere("victims", "case_id", kase_ref, false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReplicaTest, ScanLiveRowsGivesTheAskedColumnsOfLiveRowsInIdOrder) {
  const RowId one = NewCase(*a_, clock_a_);
  const RowId two = NewCase(*a_, clock_a_);
  const RowId gone = NewCase(*a_, clock_a_);
  ASSERT_TRUE(a_->Write(LocalTxn().Set("cases", two, {{"status", T("verifying")}})).ok());
  ASSERT_TRUE(a_->Write(LocalTxn().Delete("cases", gone)).ok());
  std::vector<std::pair<RowId, std::vector<Value>>> seen;
  ASSERT_TRUE(a_->ScanLiveRows("cases", {"status", "province"},
                               [&](const RowId& id, const std::vector<Value>& v) {
                                 seen.emplace_back(id, v);
                                 return absl::OkStatus();
                               })
                  .ok());
  std::vector<RowId> want = {one, two};
  std::sort(want.begin(), want.end(),
            [](const RowId& x, const RowId& y) { return x.view() < y.view(); });
  ASSERT_EQ(seen.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(seen[i].first, want[i]);
    ASSERT_EQ(seen[i].second.size(), 2u);
    EXPECT_EQ(seen[i].second[0], T(seen[i].first == two ? "verifying" : "intake"));
    EXPECT_EQ(seen[i].second[1], T("lao-cai"));
  }
  // The callback's error stops the scan and is returned.
  int calls = 0;
  EXPECT_EQ(a_->ScanLiveRows("cases", {"status"},
                             [&](const RowId&, const std::vector<Value>&) {
                               ++calls;
                               return absl::AbortedError("enough");
                             })
                .code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(calls, 1);
  auto ignore = [](const RowId&, const std::vector<Value>&) { return absl::OkStatus(); };
  EXPECT_EQ(a_->ScanLiveRows("cases", {"no_such"}, ignore).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a_->ScanLiveRows("victims", {}, ignore).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ReplicaTest, FindLiveRowsMatchesAnIdPrefixOrATextInAnyCase) {
  const RowId kase = NewCase(*a_, clock_a_);  // case_code LC-0001
  const RowId gone = NewCase(*a_, clock_a_);
  ASSERT_TRUE(a_->Write(LocalTxn().Delete("cases", gone)).ok());
  std::string upper;  // the id as SQLite's hex() writes it
  for (char ch : kase.ToString()) {
    if (ch != '-') upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  }
  auto by_id = a_->FindLiveRows("cases", upper.substr(0, 24), "", "", 3);
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(*by_id, std::vector<RowId>{kase});
  auto by_code = a_->FindLiveRows("cases", "", "case_code", "lc-0001", 3);
  ASSERT_TRUE(by_code.ok()) << by_code.status();
  EXPECT_EQ(*by_code, std::vector<RowId>{kase}) << "the deleted case does not match";
  // Neither asked: nothing matches.
  auto none = a_->FindLiveRows("cases", "", "", "LC-0001", 3);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(a_->FindLiveRows("cases", "", "no_such", "x", 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a_->FindLiveRows("victims", "AB", "", "", 3).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReplicaTest, DeleteIsATombstoneThatClearsTheRow) {
  const RowId id = NewCase(*a_, clock_a_);
  ASSERT_TRUE(a_->Write(LocalTxn().Delete("cases", id)).ok());
  auto row = a_->Get("cases", id);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_FALSE((*row)->live);
  ASSERT_TRUE((*row)->live_version.has_value());
  for (const Value& v : (*row)->values) EXPECT_TRUE(v.is_null());
  EXPECT_TRUE(a_->ListRows("cases", false)->empty());
  EXPECT_EQ(a_->ListRows("cases", true)->size(), 1u);
  // Editing a deleted row is refused; restoring brings it back.
  EXPECT_EQ(a_->Write(LocalTxn().Set("cases", id, {{"status", T("closed")}})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(a_->Write(LocalTxn().Delete("cases", id)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(a_->Write(LocalTxn().Restore("cases", id, {{"status", T("intake")}})).ok());
  EXPECT_EQ(a_->ListRows("cases", false)->size(), 1u);
  EXPECT_EQ(Field(*a_, id, "status"), T("intake"));
  // The tombstone travels: b sees the same history and the same state.
  Sync();
  EXPECT_EQ(Digest(*a_), Digest(*b_));
}

TEST_F(ReplicaTest, AnEditConcurrentWithADeleteIsNotLostSilently) {
  const RowId id = NewCase(*a_, clock_a_);
  Sync();
  clock_a_.Advance(10);
  clock_b_.Advance(5);
  ASSERT_TRUE(a_->Write(LocalTxn().Delete("cases", id)).ok());
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", id, {{"narrative", T("ghi chú mới")}})).ok());
  Sync();
  EXPECT_EQ(Digest(*a_), Digest(*b_));
  for (Replica* r : {a_.get(), b_.get()}) {
    auto row = r->Get("cases", id);
    EXPECT_FALSE((*row)->live);
    auto conflicts = r->Conflicts("cases", id);
    ASSERT_EQ(conflicts->size(), 1u);
    EXPECT_EQ((*conflicts)[0].value, T("ghi chú mới"));
  }
  // The editor restores the case and keeps the edit.
  ASSERT_TRUE(b_->Write(LocalTxn()
                            .Restore("cases", id, {})
                            .Resolve("cases", id, "narrative", T("ghi chú mới")))
                  .ok());
  Sync();
  EXPECT_EQ(Digest(*a_), Digest(*b_));
  EXPECT_TRUE((*a_->Get("cases", id))->live);
  EXPECT_EQ(Field(*a_, id, "narrative"), T("ghi chú mới"));
  EXPECT_TRUE(a_->Conflicts()->empty());
}

TEST_F(ReplicaTest, ApplyIsIdempotent) {
  NewCase(*a_, clock_a_);
  NewCase(*a_, clock_a_);
  const ApplyResult first = Deliver(*a_, *b_);
  EXPECT_EQ(first.applied, 2u);
  const std::string d = Digest(*b_);
  const ApplyResult again = Deliver(*a_, *b_);
  EXPECT_EQ(again.applied, 0u);
  EXPECT_EQ(again.duplicates, 2u);
  EXPECT_EQ(Digest(*b_), d);
  EXPECT_EQ(b_->Stats()->log_commits, 2u);
  // A replica's own commits coming back are duplicates too.
  EXPECT_EQ(Deliver(*b_, *a_).duplicates, 2u);
}

TEST_F(ReplicaTest, ACommitArrivingBeforeItsDependencyIsDeferredThenApplied) {
  const RowId id = NewCase(*a_, clock_a_);
  ASSERT_TRUE(a_->Write(LocalTxn().Set("cases", id, {{"status", T("assisting")}})).ok());
  auto log = a_->LocalCommitsAfter(0, 10);
  ASSERT_TRUE(log.ok());
  auto r = b_->Apply({(*log)[1]});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcomes[0], ApplyOutcome::kDeferred);
  EXPECT_EQ(b_->Stats()->log_commits, 0u);
  // In one batch, in the wrong order: both applied.
  r = b_->Apply({(*log)[1], (*log)[0]});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->applied, 2u);
  EXPECT_EQ(Digest(*a_), Digest(*b_));
}

TEST_F(ReplicaTest, ADependencyOnAnotherDeviceIsWaitedFor) {
  const RowId id = NewCase(*a_, clock_a_);
  Deliver(*a_, *b_);
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", id, {{"status", T("closed")}})).ok());
  // A third replica gets b's edit before a's creation.
  FakeClock clock_c(kTestEpochMillis);
  auto c = OpenReplica(dir_.File("c.db"), &clock_c);
  auto b_log = b_->LocalCommitsAfter(0, 10);
  auto r = c->Apply(*b_log);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->deferred, 1u);
  Deliver(*a_, *c);
  Deliver(*b_, *c);
  EXPECT_EQ(Digest(*c), Digest(*b_));
}

class BadRemoteCommitTest : public ReplicaTest {
 protected:
  // A valid batch of two commits from a, the second of which `mutate` spoils.
  void ExpectBatchRefused(const std::function<void(Commit&)>& mutate, absl::StatusCode code,
                          const std::string& needle) {
    const RowId id = NewCase(*a_, clock_a_);
    ASSERT_TRUE(a_->Write(LocalTxn().Set("cases", id, {{"status", T("verifying")}})).ok());
    auto log = a_->LocalCommitsAfter(0, 10);
    ASSERT_TRUE(log.ok());
    std::vector<Commit> batch = *log;
    mutate(batch.back());
    ASSERT_TRUE(b_->SetCursor("pull", 7).ok());
    const std::string before = Digest(*b_);
    auto r = b_->Apply(batch, std::make_pair(std::string("pull"), int64_t{9}));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status();
    EXPECT_NE(r.status().message().find(needle), absl::string_view::npos) << r.status();
    EXPECT_NE(r.status().message().find("nothing applied"), absl::string_view::npos);
    // Nothing of the batch, not even its valid first commit, nor the cursor.
    EXPECT_EQ(Digest(*b_), before);
    EXPECT_EQ(b_->Stats()->log_commits, 0u);
    EXPECT_EQ(*b_->GetCursor("pull"), 7);
    // And the replica still works.
    EXPECT_EQ(Deliver(*a_, *b_).applied, 2u);
  }
};

TEST_F(BadRemoteCommitTest, UnknownTable) {
  ExpectBatchRefused([](Commit& c) { c.changes[0].table = "vitims"; },
                     absl::StatusCode::kInvalidArgument, "unknown table \"vitims\"");
}

TEST_F(BadRemoteCommitTest, UnknownColumn) {
  ExpectBatchRefused([](Commit& c) { c.changes[0].fields[0].column = "statu"; },
                     absl::StatusCode::kInvalidArgument, "unknown column \"statu\"");
}

TEST_F(BadRemoteCommitTest, WrongType) {
  ExpectBatchRefused([](Commit& c) { c.changes[0].fields[0].value = Value::Int(1); },
                     absl::StatusCode::kInvalidArgument, "cases.status");
}

TEST_F(BadRemoteCommitTest, MalformedId) {
  ExpectBatchRefused([](Commit& c) { c.changes[0].row = Id16(); },
                     absl::StatusCode::kInvalidArgument, "malformed row id");
}

TEST_F(BadRemoteCommitTest, ClockTooFarAhead) {
  ExpectBatchRefused(
      [](Commit& c) { c.hlc = Hlc::FromParts(kTestEpochMillis + 24 * 3600 * 1000, 0); },
      absl::StatusCode::kFailedPrecondition, "ahead of this machine's clock");
}

TEST_F(ReplicaTest, StateDigestIgnoresDeliveryOrderButNotContent) {
  NewCase(*a_, clock_a_);
  NewCase(*b_, clock_b_);
  Sync();
  EXPECT_EQ(Digest(*a_), Digest(*b_));
  NewCase(*a_, clock_a_);
  EXPECT_NE(Digest(*a_), Digest(*b_));
}

TEST_F(ReplicaTest, ReopeningKeepsTheDeviceAndNeverReusesATimestamp) {
  const RowId id = NewCase(*a_, clock_a_);
  const DeviceId dev = a_->device_id();
  auto last = a_->LocalCommitsAfter(0, 10);
  const Hlc before = last->back().hlc;
  a_.reset();
  clock_a_.Set(kTestEpochMillis - 3'600'000);  // the machine's clock went back an hour
  a_ = OpenReplica(dir_.File("a.db"), &clock_a_);
  EXPECT_EQ(a_->device_id(), dev);
  auto c = a_->Write(LocalTxn().Set("cases", id, {{"status", T("closed")}}));
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c->hlc, before);
  EXPECT_EQ(c->seq, 2u);
}

TEST_F(ReplicaTest, CursorsPersist) {
  EXPECT_EQ(*a_->GetCursor("pull"), 0);
  ASSERT_TRUE(a_->SetCursor("pull", 41).ok());
  a_.reset();
  a_ = OpenReplica(dir_.File("a.db"), &clock_a_);
  EXPECT_EQ(*a_->GetCursor("pull"), 41);
}

TEST_F(ReplicaTest, VietnameseTextIsStoredExactly) {
  const RowId id = RowId::NewV7(&clock_a_);
  const char* name = "Nguyễn Thị Hằng";
  ASSERT_TRUE(a_->Write(LocalTxn().Create("persons", id, {{"full_name", T(name)}})).ok());
  Sync();
  EXPECT_EQ(Field(*b_, id, "full_name", "persons"), T(name));
}

TEST_F(ReplicaTest, ANonReplicaSqliteFileIsRefused) {
  {
    auto db = OpenReplica(dir_.File("x.db"), &clock_a_);
  }
  // Damage: a file that is not SQLite at all.
  const std::string junk = dir_.File("junk.db");
  FILE* f = fopen(junk.c_str(), "wb");
  fputs("this is not a database, it is a shopping list: rice, fish sauce", f);
  fclose(f);
  ReplicaOptions o;
  o.path = junk;
  o.clock = &clock_a_;
  auto r = Replica::Open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
}

TEST_F(ReplicaTest, TwoHandlesOnOneFileStayConsistent) {
  // The daemon and a command line, say, each with their own Replica on one file.
  auto other = OpenReplica(dir_.File("a.db"), &clock_a_);
  ASSERT_NE(other, nullptr);
  const RowId id = NewCase(*a_, clock_a_);
  // A remote edit stamped ahead of the local clock arrives through `a_`.
  clock_b_.Advance(50'000);
  Deliver(*a_, *b_);
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", id, {{"status", T("verifying")}})).ok());
  Deliver(*b_, *a_);
  // The other handle writes next: it must see a_'s commits (next sequence
  // number) and a_'s clock (a timestamp after the base it edits).
  auto c = other->Write(LocalTxn().Set("cases", id, {{"status", T("assisting")}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->seq, 2u);
  EXPECT_GT(c->hlc, c->changes[0].fields[0].base->hlc);
  EXPECT_TRUE(ValidateCommit(FieldOfficeSchema(), *c).ok());
  EXPECT_EQ(Field(*a_, id, "status"), T("assisting"));
  EXPECT_TRUE(a_->Conflicts()->empty());
  // And the first handle continues after the other's commit.
  auto d = a_->Write(LocalTxn().Set("cases", id, {{"urgency", T("urgent")}}));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->seq, 3u);
  Deliver(*a_, *b_);
  EXPECT_EQ(Digest(*a_), Digest(*b_));
}

TEST_F(ReplicaTest, AHandleReadsRowsWrittenByAnotherHandleFromANewDevice) {
  auto reader = OpenReplica(dir_.File("a.db"), &clock_a_);  // opened before the device is known
  ASSERT_NE(reader, nullptr);
  const RowId id = NewCase(*b_, clock_b_);
  Deliver(*b_, *a_);  // a_ learns b's device; `reader` has not seen it
  auto row = reader->Get("cases", id);
  ASSERT_TRUE(row.ok()) << row.status();
  ASSERT_TRUE(row->has_value());
  EXPECT_EQ((*row)->live_version->version.device, b_->device_id());
  EXPECT_EQ(Digest(*reader), Digest(*a_));
}

TEST_F(ReplicaTest, TheCursorDoesNotMovePastADeferredCommit) {
  const RowId id = NewCase(*a_, clock_a_);
  ASSERT_TRUE(a_->Write(LocalTxn().Set("cases", id, {{"status", T("assisting")}})).ok());
  auto log = a_->LocalCommitsAfter(0, 10);
  ASSERT_TRUE(b_->SetCursor("pull", 3).ok());
  auto r = b_->Apply({(*log)[1]}, std::make_pair(std::string("pull"), int64_t{5}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->deferred, 1u);
  EXPECT_FALSE(r->cursor_set);
  EXPECT_EQ(*b_->GetCursor("pull"), 3);
  r = b_->Apply(*log, std::make_pair(std::string("pull"), int64_t{5}));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cursor_set);
  EXPECT_EQ(*b_->GetCursor("pull"), 5);
}

TEST_F(ReplicaTest, AnEditWaitsForItsRowsCreation) {
  // b edits a field the creation left unset: the edit has no base to wait on.
  const RowId id = NewCase(*a_, clock_a_);
  Deliver(*a_, *b_);
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", id, {{"urgency", T("urgent")}})).ok());
  FakeClock clock_c(kTestEpochMillis);
  auto c = OpenReplica(dir_.File("c.db"), &clock_c);
  auto r = c->Apply(*b_->LocalCommitsAfter(0, 10));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->deferred, 1u);
  EXPECT_FALSE(c->Get("cases", id)->has_value());
  Deliver(*a_, *c);
  Deliver(*b_, *c);
  EXPECT_EQ(Digest(*c), Digest(*b_));
  EXPECT_TRUE(c->Conflicts()->empty());
  EXPECT_TRUE((*c->Get("cases", id))->live);
}

TEST_F(ReplicaTest, FieldsOfADeletedRowAreResolvedOnlyAfterRestoring) {
  const RowId id = NewCase(*a_, clock_a_);
  Sync();
  clock_a_.Advance(10);
  clock_b_.Advance(5);
  ASSERT_TRUE(a_->Write(LocalTxn().Delete("cases", id)).ok());
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", id, {{"status", T("closed")}})).ok());
  Sync();
  ASSERT_EQ(a_->Conflicts()->size(), 1u);
  EXPECT_EQ(a_->Write(LocalTxn().Resolve("cases", id, "status", T("closed"))).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(
      a_->Write(LocalTxn().Restore("cases", id, {}).Resolve("cases", id, "status", T("closed")))
          .ok());
  EXPECT_TRUE(a_->Conflicts()->empty());
}

TEST_F(ReplicaTest, ManyDifferentSetsOfEditedColumnsAllLand) {
  // More combinations of edited columns than the replica keeps statements for.
  const RowId id = NewCase(*a_, clock_a_);
  const TableDef& t = *a_->schema().FindTable("cases");
  std::vector<std::string> text_columns;
  for (const ColumnDef& c : t.columns) {
    if (c.type == ColumnType::kText) text_columns.emplace_back(c.name);
  }
  ASSERT_GE(text_columns.size(), 7u);
  int n = 0;
  for (unsigned mask = 1; mask < (1u << 7); ++mask, ++n) {
    LocalTxn::Fields f;
    for (unsigned b = 0; b < 7; ++b) {
      if (mask & (1u << b)) f.emplace_back(text_columns[b], Value::Text("v" + std::to_string(n)));
    }
    ASSERT_TRUE(a_->Write(LocalTxn().Set("cases", id, f)).ok());
    for (const auto& [col, v] : f) ASSERT_EQ(Field(*a_, id, col.c_str()), v) << col;
  }
  EXPECT_EQ(n, 127);
  Deliver(*a_, *b_);
  EXPECT_EQ(Digest(*a_), Digest(*b_));
}

// Every ordering of three concurrent writes of one field, from three
// devices, delivered to a fresh replica: one state, the greatest write wins,
// the other two are conflict records.
TEST(ReplicaMergeOrderTest, ThreeConcurrentWritesInEveryOrderGiveOneState) {
  testing::TempDir dir;
  FakeClock clock(kTestEpochMillis);
  auto origin = OpenReplica(dir.File("origin.db"), &clock);
  const RowId id = RowId::NewV7(&clock);
  ASSERT_TRUE(origin->Write(LocalTxn().Create("cases", id, {{"status", T("intake")}})).ok());
  auto create = origin->LocalCommitsAfter(0, 1);
  std::vector<Commit> edits;
  const char* values[] = {"verifying", "assisting", "referred"};
  for (int i = 0; i < 3; ++i) {
    FakeClock c(kTestEpochMillis + 10 * (i + 1));
    auto r = OpenReplica(dir.File("w" + std::to_string(i) + ".db"), &c);
    ASSERT_TRUE(r->Apply(*create).ok());
    auto e = r->Write(LocalTxn().Set("cases", id, {{"status", T(values[i])}}));
    ASSERT_TRUE(e.ok());
    edits.push_back(*e);
  }
  std::vector<int> order = {0, 1, 2};
  std::string digest;
  int n = 0;
  do {
    auto r = OpenReplica(dir.File("perm" + std::to_string(n++) + ".db"), &clock);
    ASSERT_TRUE(r->Apply(*create).ok());
    for (int i : order) ASSERT_EQ(r->Apply({edits[static_cast<size_t>(i)]})->applied, 1u);
    const std::string d = Digest(*r);
    if (digest.empty()) digest = d;
    EXPECT_EQ(d, digest);
    auto row = r->Get("cases", id);
    EXPECT_EQ((*row)->values[6], T("referred"));  // status: the latest write
    auto conflicts = r->Conflicts();
    ASSERT_EQ(conflicts->size(), 2u);
    EXPECT_EQ((*conflicts)[0].value, T("verifying"));
    EXPECT_EQ((*conflicts)[1].value, T("assisting"));
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(n, 6);
}

}  // namespace
}  // namespace fieldsync
