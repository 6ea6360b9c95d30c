// Convergence through a real hub: one hub, three nodes in two provinces, each
// editing offline (including the same fields of a case one province referred
// to the other), syncing in random orders. At the end every replica that
// sees a record holds it identically -- values, versions and conflict
// records -- and the nodes of one province have identical digests.
//
// Randomized: the seed is printed; FIELDSYNC_SEED=<n> replays a run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "change/referral_rules.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {


uint64_t Seed() {
  if (const char* s = std::getenv("FIELDSYNC_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// The same registers and conflict records of a row, in any order (the
// hub's PostgreSQL store lists them in its own).
void ExpectSameRow(absl::StatusOr<std::optional<RowSnapshot>> x,
                   absl::StatusOr<std::optional<RowSnapshot>> y, const std::string& table,
                   const RowId& row, const std::string& who) {
  ASSERT_TRUE(x.ok() && y.ok());
  ASSERT_TRUE(x->has_value()) << who << ": missing " << table << " " << row.ToString();
  ASSERT_TRUE(y->has_value()) << who << ": missing " << table << " " << row.ToString();
  RowSnapshot& p = **x;
  RowSnapshot& q = **y;
  for (RowSnapshot* r : {&p, &q}) {
    std::sort(r->fields.begin(), r->fields.end(),
              [](const FieldState& f, const FieldState& g) { return f.column < g.column; });
    std::sort(r->conflicts.begin(), r->conflicts.end(),
              [](const ConflictRecord& c, const ConflictRecord& d) {
                return std::make_pair(c.column, c.version) < std::make_pair(d.column, d.version);
              });
  }
  ASSERT_EQ(p.fields.size(), q.fields.size()) << who << " " << table << " " << row.ToString();
  for (size_t i = 0; i < p.fields.size(); ++i) {
    EXPECT_EQ(p.fields[i].column, q.fields[i].column) << who;
    EXPECT_EQ(p.fields[i].value, q.fields[i].value) << who << " " << p.fields[i].column;
    EXPECT_EQ(p.fields[i].version.version, q.fields[i].version.version) << who;
    EXPECT_EQ(p.fields[i].version.base, q.fields[i].version.base) << who;
  }
  ASSERT_EQ(p.conflicts.size(), q.conflicts.size()) << who << " conflicts of " << row.ToString();
  for (size_t i = 0; i < p.conflicts.size(); ++i) {
    EXPECT_EQ(p.conflicts[i].version, q.conflicts[i].version) << who;
    EXPECT_EQ(p.conflicts[i].value, q.conflicts[i].value) << who;
  }
}

void ExpectSameRow(Replica& a, Replica& b, const std::string& table, const RowId& row,
                   const std::string& who) {
  ExpectSameRow(a.ExportRow(table, row), b.ExportRow(table, row), table, row, who);
}

TEST_F(SyncTest, ThreeNodesInTwoProvincesConvergeThroughTheHubInAnySyncOrder) {
  const uint64_t seed = Seed();
  std::cout << "FIELDSYNC_SEED=" << seed << "\n";
  SCOPED_TRACE(::testing::Message() << "replay with FIELDSYNC_SEED=" << seed);
  std::mt19937_64 rng(seed);

  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  auto& hn = AddNode("HN");
  std::vector<harness::LocalNode*> all = {&lc1, &lc2, &hn};

  // Each province opens cases; Hà Nội refers one to Lào Cai.
  std::vector<RowId> lc_cases, hn_cases;
  for (int i = 0; i < 4; ++i) lc_cases.push_back(NewCase(lc1.replica(), "LC", "Lò Thị Mai"));
  for (int i = 0; i < 4; ++i) hn_cases.push_back(NewCase(hn.replica(), "HN", "Phạm Thị Lan"));
  const RowId shared = hn_cases[0];
  const RowId shared_ref = Refer(hn.replica(), shared, "HN", "LC");
  const RowId org = Id16::NewRandom();
  {
    LocalTxn t;
    t.Create("organisations", org, {{"name", Value::Text("Hội Liên hiệp Phụ nữ")}});
    ASSERT_TRUE(lc2.replica().Write(t).ok());
  }
  for (auto* n : all) MustSync(*n);
  for (auto* n : all) MustSync(*n);
  // Lào Cai accepts the referral: Hà Nội then grants it the case's keys.
  SetField(lc1.replica(), "referrals", shared_ref, "status", Value::Text("accepted"));
  for (auto* n : all) MustSync(*n);
  for (auto* n : all) MustSync(*n);

  // Concurrent edits of the same field of the shared case on all three.
  SetField(lc1.replica(), "cases", shared, "narrative", Value::Text("Lời kể, bản Lào Cai 1"));
  SetField(lc2.replica(), "cases", shared, "narrative", Value::Text("Lời kể, bản Lào Cai 2"));
  SetField(hn.replica(), "cases", shared, "narrative", Value::Text("Lời kể, bản Hà Nội"));
  for (auto* n : all) MustSync(*n);
  for (auto* n : all) MustSync(*n);
  // The conflict surfaces on every node that sees the case: one winner, the
  // two other versions kept for review.
  for (auto* n : all) {
    auto open = n->replica().Conflicts("cases", shared);
    ASSERT_TRUE(open.ok());
    EXPECT_EQ(open->size(), 2u) << "node of " << n->province();
  }

  std::vector<RowId> referred = {shared};
  // Referrals sent during the traffic, accepted by their office at the end.
  std::vector<std::pair<RowId, std::string>> pending;
  const char* statuses[] = {"intake", "verifying", "assisting", "referred", "closed"};
  const char* officers[] = {"Trần Văn Nam", "Nguyễn Thị Hoa", "Lê Văn Tú", "Vàng A Dình"};
  auto live_cases = [&](harness::LocalNode& n) {
    auto ids = n.replica().ListRows("cases", /*include_deleted=*/false);
    EXPECT_TRUE(ids.ok());
    return ids.ok() ? *ids : std::vector<RowId>{};
  };
  for (int round = 0; round < 30; ++round) {
    for (int op = 0; op < 6; ++op) {
      harness::LocalNode& n = *all[rng() % all.size()];
      const std::string province = n.province();
      const int kind = static_cast<int>(rng() % 10);
      std::vector<RowId> cases = live_cases(n);
      if (kind == 0 || cases.empty()) {
        const RowId fresh = NewCase(n.replica(), province, "Hà Thị Sáu");
        // Now and then a new case is referred to the other province at
        // once: it becomes visible there in the middle of the traffic.
        if (rng() % 3 == 0) {
          const std::string to = province == "LC" ? "HN" : "LC";
          pending.emplace_back(Refer(n.replica(), fresh, province, to), to);
          referred.push_back(fresh);
        }
        continue;
      }
      const RowId kase = rng() % 3 == 0 ? shared : cases[rng() % cases.size()];
      auto row = n.replica().Get("cases", kase);
      ASSERT_TRUE(row.ok());
      if (!row->has_value() || !(*row)->live) continue;
      // Only the owning office deletes a case (the hub refuses others).
      const size_t owner_col = static_cast<size_t>(
          FieldOfficeSchema().FindTable("cases")->ColumnIndex("province"));
      if (kind == 1 && kase != shared && (*row)->values[owner_col] == Value::Text(province)) {
        LocalTxn t;
        t.Delete("cases", kase);
        ASSERT_TRUE(n.replica().Write(t).ok());
      } else if (kind == 2) {
        SetField(n.replica(), "organisations", org, "public_phone",
                 Value::Text(absl::StrCat("024 38", rng() % 100000)));
      } else if (kind <= 5) {
        SetField(n.replica(), "cases", kase, "status", Value::Text(statuses[rng() % 5]));
      } else if (kind <= 7) {
        SetField(n.replica(), "cases", kase, "assigned_officer",
                 Value::Text(officers[rng() % 4]));
      } else {
        // Resolve an open conflict, or write the narrative.
        auto open = n.replica().Conflicts("cases", kase);
        ASSERT_TRUE(open.ok());
        LocalTxn t;
        if (!open->empty() && open->front().column != kLiveColumn) {
          // Choose the version that lost: valid for any column. A sealed
          // value is opened first and written anew (sealed again, for this
          // write's place and time).
          const ConflictRecord& lost = open->front();
          OpenedField f = n.keys()->Read("cases", kase, lost.column, lost.value, lost.version);
          if (f.state == OpenedField::State::kNoKey) {
            // Written under a key version whose grant has not reached this
            // device yet (it travels with the writer's next sync): later.
            continue;
          }
          ASSERT_TRUE(f.state == OpenedField::State::kClear ||
                      f.state == OpenedField::State::kOpened)
              << lost.column << ": " << f.problem;
          t.Resolve("cases", kase, lost.column, f.value);
        } else {
          t.Set("cases", kase, {{"narrative", Value::Text(absl::StrCat("bản ", rng() % 1000))}});
        }
        auto w = n.replica().Write(t);
        ASSERT_TRUE(w.ok()) << w.status();
      }
    }
    // Some nodes sync, in a random order.
    std::vector<harness::LocalNode*> order = all;
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(1 + rng() % order.size());
    for (auto* n : order) MustSync(*n);
  }
  // The receiving offices accept what was referred to them (the owning
  // office grants the keys only then), once two rounds brought every
  // referral to them.
  for (auto* n : all) MustSync(*n);
  for (auto* n : all) MustSync(*n);
  for (const auto& [ref, to] : pending) {
    harness::LocalNode& receiver = to == "LC" ? lc2 : hn;
    auto row = receiver.replica().Get("referrals", ref);
    ASSERT_TRUE(row.ok());
    // Not held there (its case deleted before the referral was pushed, the
    // hub refusing it, ...): nothing to answer, and nothing held to read.
    if (!row->has_value() || !(*row)->live) continue;
    SetField(receiver.replica(), "referrals", ref, "status", Value::Text("accepted"));
  }
  // Everyone syncs until nothing moves: keys need a round more than rows
  // (a device shares its office key with one it saw in the previous pull).
  for (int pass = 0; pass < 3; ++pass) {
    for (auto* n : all) MustSync(*n);
  }
  // Every sealed value a node holds -- fields and conflict records -- opens
  // there: office keys, shares and grants reached everyone who sees it.
  // Except a person none of whose cases is live: a case deleted before its
  // owner granted its referral keeps its person's key to the owning office
  // (the person row still reaches the other office, unreadable: right).
  size_t opened = 0;
  for (auto* n : all) {
    std::set<RowId> live_persons, deleted_cases;
    const int person_col = FieldOfficeSchema().FindTable("cases")->ColumnIndex("person_id");
    for (const RowId& k : Rows(n->replica(), "cases")) {
      auto c = n->replica().Get("cases", k);
      ASSERT_TRUE(c.ok() && c->has_value());
      const Value& p = (*c)->values[static_cast<size_t>(person_col)];
      if ((*c)->live && p.kind() == Value::Kind::kBytes) {
        live_persons.insert(*Id16::FromBytes(p.str(), "person"));
      }
    }
    for (const TableDef& t : n->replica().schema().tables()) {
      const std::string table(t.name);
      for (const RowId& row : Rows(n->replica(), table)) {
        if (table == "persons" && live_persons.count(row) == 0) continue;
        auto r = n->replica().Get(table, row);
        ASSERT_TRUE(r.ok() && r->has_value());
        // A deleted case grants nothing: a value written concurrently with
        // its delete (it outlives the delete in the merge) stays with the
        // office that wrote it.
        if (table == "cases" && !(*r)->live) {
          deleted_cases.insert(row);
          continue;
        }
        // The same for a referral or consent of a deleted case: what is
        // sealed under the case's key (an absent value too, from schema
        // version 4) stays with its office; a referral's letter does not.
        bool of_deleted_case = false;
        if (table == "referrals" || table == "consents") {
          const Value& c = (*r)->values[static_cast<size_t>(t.ColumnIndex("case_id"))];
          of_deleted_case = c.kind() == Value::Kind::kBytes &&
                            deleted_cases.count(*Id16::FromBytes(c.str(), "case")) > 0;
        }
        for (size_t i = 0; i < t.columns.size(); ++i) {
          const Value& v = (*r)->values[i];
          if (v.is_null()) continue;
          if (of_deleted_case &&
              !(table == "referrals" && referral::SealedUnderReferral(t.columns[i].name))) {
            continue;
          }
          std::optional<Version> ver;
          if ((*r)->versions[i]) ver = (*r)->versions[i]->version;
          OpenedField f = n->keys()->Read(table, row, std::string(t.columns[i].name), v, ver);
          EXPECT_TRUE(f.state == OpenedField::State::kClear ||
                      f.state == OpenedField::State::kOpened)
              << "node of " << n->province() << ": " << table << "." << t.columns[i].name
              << ": " << f.problem;
          opened += f.state == OpenedField::State::kOpened;
        }
      }
      auto conflicts = n->replica().Conflicts(table);
      ASSERT_TRUE(conflicts.ok());
      for (const ConflictRecord& c : *conflicts) {
        if (c.value.is_null() || (table == "cases" && deleted_cases.count(c.row))) continue;
        OpenedField f = n->keys()->Read(table, c.row, c.column, c.value, c.version);
        EXPECT_TRUE(f.state == OpenedField::State::kClear ||
                    f.state == OpenedField::State::kOpened)
            << "node of " << n->province() << ", conflict on " << table << "." << c.column
            << " written by " << c.version.device.ToString() << ": " << f.problem;
      }
    }
  }
  EXPECT_GT(opened, 0u);

  EXPECT_EQ(Digest(lc1.replica()), Digest(lc2.replica()));
  // The shared case and the directory are the same everywhere, conflicts too.
  for (auto* n : {&lc2, &hn}) {
    ExpectSameRow(lc1.replica(), n->replica(), "cases", shared, "shared case");
    ExpectSameRow(lc1.replica(), n->replica(), "organisations", org, "directory");
  }
  // Every node holds exactly what the hub holds of every row it sees.
  // The hub's rows on either store (support/hub_rows.h).
  auto hub = OpenHubRows();
  ASSERT_NE(hub, nullptr);
  auto hub_cases = hub->RowIds("cases");
  ASSERT_TRUE(hub_cases.ok()) << hub_cases.status();
  // ...and every case it should see: its province's, and those referred to
  // it (or from it), with nothing missing.
  for (auto* n : all) {
    std::set<RowId> expected;
    for (const RowId& row : *hub_cases) {
      auto r = hub->Get("cases", row);
      ASSERT_TRUE(r.ok() && r->has_value());
      const Value& owner = (*r)->values[2];  // province
      const bool deleted = !(*r)->live;
      if (!deleted && owner == Value::Text(n->province())) expected.insert(row);
    }
    for (const RowId& k : referred) expected.insert(k);
    std::set<RowId> live;
    auto ids = n->replica().ListRows("cases", /*include_deleted=*/false);
    ASSERT_TRUE(ids.ok());
    live.insert(ids->begin(), ids->end());
    for (const RowId& k : expected) {
      auto hub_row = hub->Get("cases", k);
      if (hub_row.ok() && hub_row->has_value() && !(*hub_row)->live) continue;
      EXPECT_EQ(live.count(k), 1u) << "node of " << n->province() << " lacks case "
                                   << k.ToString();
    }
  }
  for (auto* n : all) {
    for (const TableDef& t : n->replica().schema().tables()) {
      const std::string table(t.name);
      for (const RowId& row : Rows(n->replica(), table)) {
        ExpectSameRow(hub->ExportRow(table, row), n->replica().ExportRow(table, row), table, row,
                      absl::StrCat("node of ", n->province()));
      }
    }
    EXPECT_TRUE(n->replica().CheckIntegrity().ok());
  }
  // Lào Cai never saw Hà Nội's other cases.
  for (size_t i = 1; i < hn_cases.size(); ++i) {
    EXPECT_EQ(Rows(lc1.replica(), "cases").count(hn_cases[i]), 0u);
  }
  if (!HubOnPostgres()) {
    auto file = OpenHubReplica();
    ASSERT_NE(file, nullptr);
    EXPECT_TRUE(file->CheckIntegrity().ok());
  }
}

}  // namespace
}  // namespace fieldsync::testing
