// The hub's write and read transactions (hub/storage.h: Write() with
// HubWriteTxn::MergeTransaction, Read()) the same on both stores: SQLite
// (hub/sqlite_storage.h) and PostgreSQL (hub/pg/storage.h, on a private
// cluster). The engine's merge (merge/commit_merge.h) runs over each
// store's primitives; a node's replica that applied the same commits is the
// reference: rows, field versions and conflict records must come out as it
// holds them, the log as positions 1, 2, 3 ..., duplicates acknowledged
// once, a failed batch leaving nothing, and a snapshot seeing a prefix of
// the log.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "change/commit_codec.h"
#include "hub/pg/connection.h"
#include "hub/enrolment.h"
#include "hub/pg/schema.h"
#include "hub/pg/storage.h"
#include "hub/sqlite_storage.h"
#include "merge/commit_merge.h"
#include "support/pg_cluster.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync::hub {
namespace {

using fieldsync::testing::kTestEpochMillis;
using fieldsync::testing::OpenReplica;
using fieldsync::testing::T;

enum class Store { kSqlite, kPostgres };

std::string StoreName(const ::testing::TestParamInfo<Store>& info) {
  return info.param == Store::kSqlite ? "sqlite" : "postgresql";
}

std::string Show(const std::optional<Version>& v) { return v ? v->ToString() : "-"; }

// A row's whole state as text, for comparing a hub's with a node's.
std::string Show(const std::optional<RowSnapshot>& s) {
  if (!s) return "(none)";
  std::string out = absl::StrCat(s->table, " ", s->row.ToString(), "\n");
  for (const FieldState& f : s->fields) {
    absl::StrAppend(&out, "  ", f.column, " = ", f.value.DebugString(), " @ ",
                    f.version.version.ToString(), " base ", Show(f.version.base), "\n");
  }
  for (const ConflictRecord& c : s->conflicts) {
    absl::StrAppend(&out, "  conflict ", c.column, " = ", c.value.DebugString(), " @ ",
                    c.version.ToString(), " base ", Show(c.base), "\n");
  }
  return out;
}

class HubWriteStoreTest : public ::testing::TestWithParam<Store> {
 protected:
  void SetUp() override {
    a_ = OpenReplica(dir_.File("a.db"), &clock_a_);
    b_ = OpenReplica(dir_.File("b.db"), &clock_b_);
    node_ = OpenReplica(dir_.File("node.db"), &clock_hub_);
    ASSERT_TRUE(a_ && b_ && node_);
    if (GetParam() == Store::kPostgres) {
      absl::Status s = db_.Create();
      ASSERT_TRUE(s.ok()) << s;
      auto hub = PostgresHubStorage::Open(db_.uri(), &clock_hub_);
      ASSERT_TRUE(hub.ok()) << hub.status();
      hub_ = std::move(hub).value();
    } else {
      auto hub = SqliteHubStorage::Open(dir_.File("hub.db"), &clock_hub_);
      ASSERT_TRUE(hub.ok()) << hub.status();
      hub_ = std::move(hub).value();
    }
  }

  std::vector<Commit> CommitsOf(Replica& r, uint64_t after = 0) {
    auto c = r.LocalCommitsAfter(after, 1000);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : std::vector<Commit>{};
  }

  // `commits` merged by the engine over the hub's storage, with `hooks`.
  absl::StatusOr<ApplyResult> HubMerge(const std::vector<Commit>& commits,
                                       const ApplyHooks* hooks = nullptr) {
    ApplyResult out;
    absl::Status s = hub_->Write([&](HubWriteTxn& w) {
      return w.MergeTransaction([&](MergeStore& rows) -> absl::Status {
        auto r = MergeCommits(rows, commits, hooks);
        if (!r.ok()) return r.status();
        out = *r;
        return absl::OkStatus();
      });
    });
    if (!s.ok()) return s;
    return out;
  }

  // `a_`'s device enrolled for province LC.
  void EnrolA() {
    ASSERT_TRUE(hub_->AddProvince("LC", "Lao Cai", "admin").ok());
    auto token = hub_->MakeEnrollToken("LC", 86'400'000, "admin");
    ASSERT_TRUE(token.ok()) << token.status();
    const crypto::DeviceIdentity id = crypto::DeviceIdentity::Generate(a_->device_id());
    absl::Status enrolled = hub_->EnrolTransaction([&](HubEnrolTxn& txn) {
      return EnrolNode(txn, token->token, id.device(), "laptop", id.public_keys(), false,
                       clock_hub_.NowMillis())
          .status();
    });
    ASSERT_TRUE(enrolled.ok()) << enrolled;
  }

  // A case created on `a_` and delivered to `b_`.
  RowId NewCase() {
    const RowId id = RowId::NewV7(&clock_a_);
    auto c = a_->Write(LocalTxn().Create("cases", id, {{"case_code", T("LC-0001")},
                                                       {"province", T("lao-cai")},
                                                       {"status", T("intake")}}));
    EXPECT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(b_->Apply({*c}).ok());
    return id;
  }

  // The row as a snapshot of the hub reads it.
  std::string HubRow(const std::string& table, const RowId& id) {
    std::string out;
    absl::Status s = hub_->Read([&](HubReadTxn& r) -> absl::Status {
      auto row = r.ExportRow(table, id);
      if (!row.ok()) return row.status();
      out = Show(*row);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::string NodeRow(const std::string& table, const RowId& id) {
    auto row = node_->ExportRow(table, id);
    EXPECT_TRUE(row.ok()) << row.status();
    return row.ok() ? Show(*row) : "";
  }

  // The log as a snapshot reads it: position, author, seq, body, signature.
  std::vector<std::string> HubLog() {
    std::vector<std::string> out;
    absl::Status s = hub_->Read([&](HubReadTxn& r) -> absl::Status {
      auto entries = r.LogEntriesAfter(0, 1000);
      if (!entries.ok()) return entries.status();
      for (const LogEntry& e : *entries) {
        out.push_back(absl::StrCat(e.position, " ", e.author.ToString(), " ", e.seq, " ",
                                   e.body.size(), "B sig ", e.signature.size(), "B"));
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::vector<std::string> NodeLog(const std::vector<Commit>& in_order) {
    std::vector<std::string> out;
    int64_t pos = 0;
    for (const Commit& c : in_order) {
      std::string body;
      EncodeCommitTo(c, &body);
      out.push_back(absl::StrCat(++pos, " ", c.author.ToString(), " ", c.seq, " ", body.size(),
                                 "B sig ", c.signature.size(), "B"));
    }
    return out;
  }

  fieldsync::testing::TempDir dir_;
  fieldsync::testing::PgDatabase db_;
  FakeClock clock_a_{kTestEpochMillis};
  FakeClock clock_b_{kTestEpochMillis + 5};
  FakeClock clock_hub_{kTestEpochMillis + 60'000};
  std::unique_ptr<Replica> a_, b_, node_;
  std::unique_ptr<HubStorage> hub_;
};

TEST_P(HubWriteStoreTest, ConcurrentEditsMergeIntoTheSameRowAndConflictAsOnANode) {
  const RowId id = NewCase();
  clock_a_.Advance(10);
  clock_b_.Advance(10);
  ASSERT_TRUE(a_->Write(LocalTxn().Set("cases", id, {{"status", T("verifying")}})).ok());
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", id, {{"status", T("closed")},
                                                     {"case_code", T("LC-0002")}})).ok());
  std::vector<Commit> commits = CommitsOf(*a_);
  for (Commit& c : CommitsOf(*b_)) commits.push_back(std::move(c));
  ASSERT_EQ(commits.size(), 3u);

  auto merged = HubMerge(commits);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->applied, 3u);
  auto on_node = node_->Apply(commits);
  ASSERT_TRUE(on_node.ok()) << on_node.status();

  const std::string row = HubRow("cases", id);
  EXPECT_EQ(row, NodeRow("cases", id));
  EXPECT_NE(row.find("conflict status"), std::string::npos) << row;
  EXPECT_EQ(HubLog(), NodeLog(commits));
  EXPECT_EQ(*hub_->LogHead(), 3);

  // A later edit resolving the conflict drops its record, as on the node.
  ASSERT_TRUE(a_->Apply(CommitsOf(*b_)).ok());
  clock_a_.Advance(10);
  ASSERT_TRUE(a_->Write(LocalTxn().Set("cases", id, {{"status", T("closed")}})).ok());
  std::vector<Commit> more = CommitsOf(*a_, commits[1].seq);
  ASSERT_EQ(more.size(), 1u);
  ASSERT_TRUE(HubMerge(more).ok());
  ASSERT_TRUE(node_->Apply(more).ok());
  EXPECT_EQ(HubRow("cases", id), NodeRow("cases", id));

  // What the writer reads of the log and its authors.
  absl::Status s = hub_->Write([&](HubWriteTxn& w) -> absl::Status {
    EXPECT_EQ(*w.AcknowledgedSeq(a_->device_id()), more[0].seq);
    EXPECT_EQ(*w.AcknowledgedSeq(b_->device_id()), commits[2].seq);
    auto logged = w.LoggedCommit(b_->device_id(), commits[2].seq);
    EXPECT_TRUE(logged.ok() && logged->has_value()) << logged.status();
    if (logged.ok() && logged->has_value()) {
      EXPECT_EQ((*logged)->position, 3);
    }
    auto of = w.CommitOfVersion(Version{more[0].hlc, more[0].author});
    EXPECT_TRUE(of.ok() && of->has_value()) << of.status();
    if (of.ok() && of->has_value()) {
      EXPECT_EQ((*of)->position, 4);
    }
    auto values = w.CurrentValues("cases", id, {"status", "case_code"});
    EXPECT_TRUE(values.ok() && values->has_value()) << values.status();
    if (values.ok() && values->has_value()) {
      EXPECT_EQ((**values)[0], T("closed"));
      EXPECT_EQ((**values)[1], T("LC-0002"));
    }
    auto none = w.LoggedCommit(b_->device_id(), 99);
    EXPECT_TRUE(none.ok() && !none->has_value());
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

TEST_P(HubWriteStoreTest, ACommitHeldIsADuplicateAndOneWithoutItsBaseWaits) {
  const RowId id = NewCase();
  clock_b_.Advance(10);
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", id, {{"status", T("closed")}})).ok());
  const std::vector<Commit> create = CommitsOf(*a_);
  const std::vector<Commit> edit = CommitsOf(*b_);

  auto r = HubMerge(edit);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->deferred, 1u);
  EXPECT_EQ(*hub_->LogHead(), 0);
  EXPECT_EQ(HubRow("cases", id), "(none)");

  r = HubMerge({edit[0], create[0]});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->applied, 2u);
  EXPECT_EQ(HubLog(), NodeLog({create[0], edit[0]}));

  // Pushed again (a retried push): acknowledged, stored once.
  r = HubMerge({create[0], edit[0]});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->duplicates, 2u);
  EXPECT_EQ(r->applied, 0u);
  EXPECT_EQ(*hub_->LogHead(), 2);
  EXPECT_EQ(HubLog().size(), 2u);
}

// The scope rules read a row's liveness as a column (kLiveColumn), as
// hub.db's tables hold it: the same on both stores (PostgreSQL refused the
// name until session 22, and every push of a new row with it).
TEST_P(HubWriteStoreTest, TheLivenessColumnReadsAsTheRowsTablesHoldIt) {
  const RowId id = NewCase();
  ASSERT_TRUE(HubMerge(CommitsOf(*a_)).ok());
  absl::Status s = hub_->Write([&](HubWriteTxn& w) -> absl::Status {
    auto values = w.CurrentValues("cases", id, {std::string(kLiveColumn), "status"});
    EXPECT_TRUE(values.ok() && values->has_value()) << values.status();
    if (values.ok() && values->has_value()) {
      EXPECT_EQ((**values)[0], Value::Int(1));
      EXPECT_EQ((**values)[1], T("intake"));
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

TEST_P(HubWriteStoreTest, AFailedBatchStoresNothing) {
  const RowId id = NewCase();
  const std::vector<Commit> create = CommitsOf(*a_);
  ApplyHooks hooks;
  hooks.at_end = [] { return absl::PermissionDeniedError("refused by the rules"); };
  auto r = HubMerge(create, &hooks);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(*hub_->LogHead(), 0);
  EXPECT_EQ(HubRow("cases", id), "(none)");
  EXPECT_TRUE(HubLog().empty());
  // The author's commits are not held: the same batch is merged later.
  r = HubMerge(create);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->applied, 1u);
  EXPECT_EQ(*hub_->LogHead(), 1);
}

TEST_P(HubWriteStoreTest, ASnapshotSeesTheLogAsItWasWhenItBegan) {
  NewCase();
  const std::vector<Commit> create = CommitsOf(*a_);
  absl::Status s = hub_->Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(*r.LogHead(), 0);
    // A push stored meanwhile (committed) ...
    auto w = HubMerge(create);
    EXPECT_TRUE(w.ok()) << w.status();
    // ... is not in this snapshot, whole or in part.
    EXPECT_EQ(*r.LogHead(), 0);
    EXPECT_TRUE(r.LogEntriesAfter(0, 10)->empty());
    EXPECT_EQ(*r.AcknowledgedSeq(a_->device_id()), 0u);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(HubLog().size(), 1u);
}

// A commit refused for good is passed over (MergeStore::PassOver): the
// author's commits count as held up to it, for the node list as for a push.
TEST_P(HubWriteStoreTest, ACommitPassedOverCountsAsHeldInTheNodeListToo) {
  EnrolA();
  NewCase();
  NewCase();
  const std::vector<Commit> two = CommitsOf(*a_);
  ASSERT_EQ(two.size(), 2u);
  ASSERT_TRUE(HubMerge(two).ok());
  absl::Status s = hub_->Write([&](HubWriteTxn& w) {
    return w.MergeTransaction(
        [&](MergeStore& rows) { return rows.PassOver(a_->device_id(), two[1].seq + 1); });
  });
  ASSERT_TRUE(s.ok()) << s;

  s = hub_->Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(*r.AcknowledgedSeq(a_->device_id()), two[1].seq + 1);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  auto nodes = hub_->Nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_EQ((*nodes)[0].acknowledged_seq, two[1].seq + 1);
  EXPECT_EQ(*hub_->LogHead(), 2) << "a commit passed over is not logged";
}

// The scope tables (hub/scope.h) keep what the writer records, and a
// snapshot reads it back, in the same order on both stores.
TEST_P(HubWriteStoreTest, TheScopeTablesKeepWhatTheWriterRecords) {
  NewCase();
  NewCase();
  const std::vector<Commit> two = CommitsOf(*a_);
  ASSERT_TRUE(HubMerge(two).ok());
  // Ids in a known byte order: lo < mid < hi.
  auto id = [](char b) { return *Id16::FromBytes(std::string(16, b), "test id"); };
  const RowId case1 = id('\x10'), case2 = id('\x20'), person = id('\x30'), contact = id('\x40');
  absl::Status s = hub_->Write([&](HubWriteTxn& w) {
    return w.Atomically([&]() -> absl::Status {
      for (absl::Status st : {
               w.UpsertRowScope("cases", case2, "LC", std::nullopt, false),
               w.UpsertRowScope("cases", case1, "HN", std::nullopt, std::nullopt),
               w.UpsertRowScope("persons", person, "LC", std::nullopt, std::nullopt),
               w.UpsertRowScope("contacts", contact, "LC", case1, true),
               // An empty owner, no case, no restriction: what it had stays.
               w.UpsertRowScope("contacts", contact, "", std::nullopt, std::nullopt),
               w.LinkPerson(person, case2), w.LinkPerson(person, case1),
               w.LinkPerson(person, case1),
               w.AddGrant(case1, "LC", 2), w.AddGrant(case1, "LC", 9),  // kept at 2
               w.AddGrant(case2, "HN", 1), w.AddGrant(case1, "b", 2),
               w.AddLogScope({"LC", "*"}, 1), w.AddLogScope({"HN"}, 2),
               w.AddPublic("contacts", contact, 2), w.AddPublic("contacts", contact, 5),
               w.SetDeleted("cases", case2, true, 2, 1000),
               w.SetDeleted("cases", case2, true, 7, 2000),  // the first kept
               w.SetDeleted("persons", person, true, 1, 5000),
               w.SetDeleted("persons", person, false, 0, 0),  // restored
           }) {
        if (!st.ok()) return st;
      }
      auto first = w.MarkEverPublic("contacts", contact);
      auto again = w.MarkEverPublic("contacts", contact);
      if (!first.ok()) return first.status();
      if (!again.ok()) return again.status();
      EXPECT_TRUE(*first);
      EXPECT_FALSE(*again);
      return absl::OkStatus();
    });
  });
  ASSERT_TRUE(s.ok()) << s;

  auto text = [](const std::vector<RowId>& ids) {
    std::string out;
    for (const RowId& i : ids) absl::StrAppend(&out, i.ToString().substr(0, 2), " ");
    return out;
  };
  s = hub_->Read([&](HubReadTxn& r) -> absl::Status {
    auto contact_scope = r.RowScope("contacts", contact);
    EXPECT_TRUE(contact_scope.ok() && contact_scope->has_value());
    if (contact_scope.ok() && contact_scope->has_value()) {
      const RowScopeEntry& e = **contact_scope;
      EXPECT_EQ(e.owner, "LC");
      EXPECT_EQ(e.case_id, std::optional<RowId>(case1));
      EXPECT_TRUE(e.restricted);
      EXPECT_TRUE(e.ever_public);
    }
    EXPECT_FALSE(r.RowScope("cases", contact)->has_value());
    EXPECT_EQ(*r.TableOf(person, {"cases", "persons"}), std::optional<std::string>("persons"));
    EXPECT_EQ(*r.TableOf(person, {"cases"}), std::nullopt);
    EXPECT_EQ(*r.TableOf(person, {}), std::nullopt);
    EXPECT_TRUE(*r.CaseGranted(case1, "LC"));
    EXPECT_FALSE(*r.CaseGranted(case2, "LC"));
    EXPECT_EQ(text(*r.CasesGrantedTo("LC")), text({case1}));
    EXPECT_EQ(text(*r.GrantsBetween("LC", 1, 2)), text({case1}));
    EXPECT_EQ(text(*r.GrantsBetween("LC", 2, 9)), "");
    EXPECT_EQ(*r.GrantedCaseProvinces("LC"), (std::vector<std::string>{"HN", "LC", "b"}));
    EXPECT_EQ(text(*r.CasesNaming(person)), text({case1, case2}));
    EXPECT_EQ(*r.PersonOfCase(case2), std::optional<RowId>(person));
    EXPECT_EQ(*r.PersonOfCase(contact), std::nullopt);
    auto persons = r.PersonsOfCase(case1);
    EXPECT_EQ(persons->size(), 1u);
    if (!persons->empty()) {
      EXPECT_EQ((*persons)[0].second, std::optional<std::string>("LC"));
    }
    EXPECT_EQ(r.PersonLinks()->size(), 2u);
    auto cases = r.ScopeRows("cases");
    EXPECT_EQ(cases->size(), 2u);
    if (cases->size() == 2) {
      EXPECT_EQ((*cases)[0].row, case1);
      EXPECT_EQ((*cases)[0].entry.owner, "HN");
      EXPECT_FALSE((*cases)[0].entry.restricted);
      EXPECT_EQ((*cases)[1].entry.owner, "LC");
    }
    EXPECT_EQ(text(*r.ScopeRowsOwnedBy("cases", "LC")), text({case2}));
    auto of_case = r.RowsOfCase(case1);
    EXPECT_EQ(of_case->size(), 1u);
    if (!of_case->empty()) {
      EXPECT_EQ((*of_case)[0].first, "contacts");
    }
    auto made_public = r.MadePublicBetween(0, 10);
    EXPECT_EQ(made_public->size(), 1u);
    if (!made_public->empty()) {
      EXPECT_EQ((*made_public)[0].row, contact);
    }
    EXPECT_TRUE(r.MadePublicBetween(2, 10)->empty()) << "kept at its first position";
    auto lc = r.LogEntriesUnder({"LC"}, 0, 10, 10);
    auto all = r.LogEntriesUnder({"HN", "*"}, 0, 10, 10);
    auto first = r.LogEntriesUnder({"HN", "*", "LC"}, 0, 10, 1);
    EXPECT_TRUE(lc.ok() && all.ok() && first.ok());
    if (lc.ok() && all.ok() && first.ok()) {
      EXPECT_EQ(lc->size(), 1u);
      EXPECT_EQ(all->size(), 2u);
      EXPECT_EQ(first->size(), 1u);
      if (all->size() == 2) {
        EXPECT_EQ((*all)[0].position, 1);
        EXPECT_EQ((*all)[1].position, 2);
        EXPECT_EQ((*all)[1].author, a_->device_id());
      }
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;

  s = hub_->Write([&](HubWriteTxn& w) -> absl::Status {
    auto gone = w.TombstonesDeletedBy(1500);
    EXPECT_TRUE(gone.ok()) << gone.status();
    if (gone.ok()) {
      EXPECT_EQ(gone->size(), 1u);
      if (!gone->empty()) {
        EXPECT_EQ((*gone)[0].row, case2);
        EXPECT_EQ((*gone)[0].deleted_pos, 2);
      }
    }
    EXPECT_TRUE(w.TombstonesDeletedBy(999)->empty());
    EXPECT_EQ(w.TombstonesDeletedBy(10'000)->size(), 1u) << "a restored row is no tombstone";
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

// The registry as the writer and a snapshot read it, and the audit trail
// the writer appends to (with a change, or alone).
TEST_P(HubWriteStoreTest, TheViewsReadTheRegistryAndTheWriterAppendsToTheAuditTrail) {
  EnrolA();
  absl::Status s = hub_->Write([&](HubWriteTxn& w) -> absl::Status {
    auto reg = w.Registry();
    EXPECT_TRUE(reg.ok()) << reg.status();
    if (reg.ok()) {
      EXPECT_EQ(reg->size(), 1u);
      if (!reg->empty()) {
        EXPECT_EQ((*reg)[0].keys.device, a_->device_id());
        EXPECT_EQ((*reg)[0].province, "LC");
        EXPECT_EQ((*reg)[0].revoked_at_millis, 0);
      }
    }
    absl::Status with = w.Atomically(
        [&] { return w.AppendAudit(clock_hub_.NowMillis(), "tester", "with-change", "one"); });
    if (!with.ok()) return with;
    return w.AppendAudit(clock_hub_.NowMillis(), "tester", "alone", "two");
  });
  ASSERT_TRUE(s.ok()) << s;
  auto trail = hub_->AuditTrail();
  ASSERT_TRUE(trail.ok()) << trail.status();
  ASSERT_GE(trail->entries.size(), 2u);
  EXPECT_EQ(trail->entries[trail->entries.size() - 2].action, "with-change");
  EXPECT_EQ(trail->entries.back().action, "alone");
  EXPECT_EQ(trail->entries.back().detail, "two");

  clock_hub_.Advance(1000);
  ASSERT_TRUE(hub_->RevokeNode(a_->device_id(), "admin", [] {}).ok());
  s = hub_->Write([&](HubWriteTxn& w) -> absl::Status {
    auto office = w.OfficeRecordsOf("LC");
    EXPECT_TRUE(office.ok()) << office.status();
    if (office.ok()) {
      EXPECT_EQ(office->revoked.count(a_->device_id()), 1u);
    }
    EXPECT_FALSE(*w.NodeActive(a_->device_id()));
    EXPECT_TRUE(*w.NodeRevoked(a_->device_id()));
    EXPECT_FALSE(*w.NodeRevoked(Id16::NewRandom())) << "a device not enrolled is not revoked";
    EXPECT_TRUE(*w.DeviceOf(a_->device_id(), "LC", /*active=*/false));
    EXPECT_FALSE(*w.DeviceOf(a_->device_id(), "LC", /*active=*/true));
    EXPECT_TRUE(*w.ProvinceExists("LC"));
    EXPECT_EQ(*w.ProvinceCodes(), std::vector<std::string>{"LC"});
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  s = hub_->Read([&](HubReadTxn& r) -> absl::Status {
    auto reg = r.Registry();
    EXPECT_TRUE(reg.ok() && reg->size() == 1u);
    if (reg.ok() && reg->size() == 1u) {
      EXPECT_EQ((*reg)[0].revoked_at_millis, clock_hub_.NowMillis());
      EXPECT_EQ((*reg)[0].keys.sign_pk.size(), 32u);
      EXPECT_EQ((*reg)[0].keys.box_pk.size(), 32u);
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

INSTANTIATE_TEST_SUITE_P(Stores, HubWriteStoreTest,
                         ::testing::Values(Store::kSqlite, Store::kPostgres), StoreName);

// What only PostgreSQL claims: several hub processes on one database (here
// two stores, each with its own connections), and its schema's migrations.
class PgHubWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = db_.Create();
    ASSERT_TRUE(s.ok()) << s;
  }
  std::unique_ptr<PostgresHubStorage> Open() {
    auto hub = PostgresHubStorage::Open(db_.uri(), &clock_hub_);
    EXPECT_TRUE(hub.ok()) << hub.status();
    return hub.ok() ? std::move(hub).value() : nullptr;
  }
  // `n` cases created on `r`, one commit each.
  std::vector<Commit> Cases(Replica& r, FakeClock& clock, int n) {
    for (int i = 0; i < n; ++i) {
      clock.Advance(1);
      auto c = r.Write(LocalTxn().Create("cases", RowId::NewV7(&clock),
                                         {{"case_code", T("LC-0001")},
                                          {"province", T("lao-cai")}}));
      EXPECT_TRUE(c.ok()) << c.status();
    }
    auto all = r.LocalCommitsAfter(0, 1000);
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? *all : std::vector<Commit>{};
  }

  fieldsync::testing::TempDir dir_;
  fieldsync::testing::PgDatabase db_;
  FakeClock clock_a_{kTestEpochMillis};
  FakeClock clock_b_{kTestEpochMillis + 5};
  FakeClock clock_c_{kTestEpochMillis + 7};
  FakeClock clock_hub_{kTestEpochMillis + 60'000};
};

// Two hub processes store pushes at once, one commit per write, a third
// laptop's pushes retried through both: positions stay dense and in
// order, and every commit is in the log once.
TEST_F(PgHubWriteTest, TwoProcessesOnOneDatabaseAssignDensePositionsAndStoreEachCommitOnce) {
  auto a = OpenReplica(dir_.File("a.db"), &clock_a_);
  auto b = OpenReplica(dir_.File("b.db"), &clock_b_);
  auto c = OpenReplica(dir_.File("c.db"), &clock_c_);
  ASSERT_TRUE(a && b && c);
  const std::vector<Commit> of_a = Cases(*a, clock_a_, 15);
  const std::vector<Commit> of_b = Cases(*b, clock_b_, 15);
  const std::vector<Commit> of_c = Cases(*c, clock_c_, 10);
  auto one = Open();
  auto two = Open();
  ASSERT_TRUE(one && two);

  struct Tally {
    size_t applied = 0, duplicates = 0;
    std::vector<std::string> errors;
  };
  auto push = [](PostgresHubStorage& hub, const std::vector<Commit>& own,
                 const std::vector<Commit>& shared, Tally& t) {
    for (size_t i = 0; i < own.size(); ++i) {
      for (const Commit* commit : {&own[i], i < shared.size() ? &shared[i] : nullptr}) {
        if (commit == nullptr) continue;
        absl::Status s = hub.Write([&](HubWriteTxn& w) {
          return w.MergeTransaction([&](MergeStore& rows) -> absl::Status {
            auto r = MergeCommits(rows, {*commit}, nullptr);
            if (!r.ok()) return r.status();
            t.applied += r->applied;
            t.duplicates += r->duplicates;
            return absl::OkStatus();
          });
        });
        if (!s.ok()) t.errors.push_back(std::string(s.message()));
      }
    }
  };
  Tally t1, t2;
  std::thread first([&] { push(*one, of_a, of_c, t1); });
  std::thread second([&] { push(*two, of_b, of_c, t2); });
  first.join();
  second.join();
  EXPECT_TRUE(t1.errors.empty()) << t1.errors[0];
  EXPECT_TRUE(t2.errors.empty()) << t2.errors[0];
  EXPECT_EQ(t1.applied + t2.applied, 40u);
  EXPECT_EQ(t1.duplicates + t2.duplicates, 10u);

  absl::Status s = one->Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(*r.LogHead(), 40);
    auto log = r.LogEntriesAfter(0, 100);
    EXPECT_TRUE(log.ok()) << log.status();
    std::set<std::pair<std::string, uint64_t>> commits;
    for (size_t i = 0; i < log->size(); ++i) {
      EXPECT_EQ((*log)[i].position, static_cast<int64_t>(i + 1));
      commits.insert({(*log)[i].author.ToString(), (*log)[i].seq});
    }
    EXPECT_EQ(log->size(), 40u);
    EXPECT_EQ(commits.size(), 40u);
    EXPECT_EQ(*r.AcknowledgedSeq(c->device_id()), of_c.back().seq);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

// A database of schema version 1 (the registry only, as session 19 left
// it) is brought to the current version when a hub opens it: its registry and hub id
// kept, the new tables made, pushes stored.
TEST_F(PgHubWriteTest, AVersion1DatabaseIsUpgradedAndKeepsItsRegistry) {
  {
    auto conn = pg::Connection::Open(db_.uri());
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE(pg::Migrate(**conn, kTestEpochMillis, /*up_to=*/1).ok());
    EXPECT_EQ(*pg::SchemaVersion(**conn), 1);
    ASSERT_TRUE((*conn)->Exec("INSERT INTO hub_provinces(code, name, created_at) VALUES "
                              "('lao-cai', 'Lao Cai', 1)")
                    .ok());
    EXPECT_FALSE((*conn)->Exec("SELECT 1 FROM hub_fields").ok());  // not made yet
  }
  std::string id_before;
  {
    auto conn = pg::Connection::Open(db_.uri());
    ASSERT_TRUE(conn.ok());
    id_before = (*conn)->Exec("SELECT value FROM hub_meta WHERE key = 'hub_id'")->Bytes(0, 0);
  }
  auto hub = Open();
  ASSERT_TRUE(hub);
  EXPECT_EQ(std::string(hub->hub_id().view()), id_before);
  auto provinces = hub->Provinces();
  ASSERT_TRUE(provinces.ok()) << provinces.status();
  ASSERT_EQ(provinces->size(), 1u);
  EXPECT_EQ((*provinces)[0].code, "lao-cai");
  {
    auto conn = pg::Connection::Open(db_.uri());
    ASSERT_TRUE(conn.ok());
    EXPECT_EQ(*pg::SchemaVersion(**conn), pg::kPgSchemaVersion);
  }
  auto a = OpenReplica(dir_.File("a.db"), &clock_a_);
  ASSERT_TRUE(a);
  const std::vector<Commit> cases = Cases(*a, clock_a_, 2);
  absl::Status s = hub->Write([&](HubWriteTxn& w) {
    return w.MergeTransaction(
        [&](MergeStore& rows) { return MergeCommits(rows, cases, nullptr).status(); });
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(*hub->LogHead(), 2);
}

}  // namespace
}  // namespace fieldsync::hub
