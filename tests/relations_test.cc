// The domain relations the schema declares (schema/relations.h), and the
// one place each is answered: the case a row belongs to (from its values,
// and in a real replica where a person's case must be looked up), what
// makes a write urgent, what restricts a row; the referral statuses and key
// record kinds as enums with one text form.
#include "schema/relations.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "change/referral_rules.h"
#include "clock/clock_source.h"
#include "crypto/key_record.h"
#include "store/row_case.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync {
namespace {

using testing::OpenReplica;
using testing::TempDir;

const Schema& S() { return FieldOfficeSchema(); }

Value IdV(const RowId& id) { return Value::Bytes(std::string(id.view())); }

// CaseOfRow over a map of the row's values.
absl::StatusOr<RowCase> CaseOf(std::string_view table, const RowId& row,
                               const std::map<std::string, Value>& values) {
  return CaseOfRow(S(), table, row, [&](std::string_view column) -> const Value* {
    auto it = values.find(std::string(column));
    return it == values.end() ? nullptr : &it->second;
  });
}

TEST(RelationsTest, TheDeclarationsNameColumnsThatExist) {
  EXPECT_TRUE(CheckRelations(S()).ok()) << CheckRelations(S());
}

TEST(RelationsTest, EachTableDeclaresItsRelationToItsCase) {
  const std::map<std::string, std::pair<CaseLink, std::string>> want = {
      {"cases", {CaseLink::kSelf, ""}},
      {"persons", {CaseLink::kNamedBy, "person_id"}},
      {"referrals", {CaseLink::kColumn, "case_id"}},
      {"consents", {CaseLink::kColumn, "case_id"}},
      {"contacts", {CaseLink::kNone, ""}},
      {"organisations", {CaseLink::kNone, ""}},
      {"services", {CaseLink::kNone, ""}},
      // It names the case that was read, but belongs to the reading office.
      {"access_log", {CaseLink::kNone, ""}},
  };
  // Every table of the schema is listed above: a new one must say its relation.
  ASSERT_EQ(S().tables().size(), want.size());
  for (const TableDef& t : S().tables()) {
    auto it = want.find(std::string(t.name));
    ASSERT_NE(it, want.end()) << t.name << " has no expected relation in this test";
    absl::StatusOr<CaseRelation> rel = CaseRelationOf(S(), t.name);
    ASSERT_TRUE(rel.ok()) << rel.status();
    EXPECT_EQ(rel->link, it->second.first) << t.name;
    EXPECT_EQ(std::string(rel->column), it->second.second) << t.name;
  }
  ASSERT_NE(CasesTable(S()), nullptr);
  EXPECT_EQ(CasesTable(S())->name, "cases");
}

TEST(RelationsTest, ARowOfAnUnknownTableIsRefused) {
  const RowId row = RowId::NewRandom();
  absl::StatusOr<CaseRelation> rel = CaseRelationOf(S(), "victims");
  EXPECT_EQ(rel.status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<RowCase> c = CaseOf("victims", row, {{"case_id", IdV(RowId::NewRandom())}});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("victims"), std::string_view::npos) << c.status();
  // The table name is matched exactly: no case folding, no prefix.
  EXPECT_FALSE(CaseRelationOf(S(), "Cases").ok());
  EXPECT_FALSE(CaseRelationOf(S(), "case").ok());
  EXPECT_FALSE(CaseRelationOf(S(), "").ok());
}

TEST(RelationsTest, TheCaseOfARowFromItsValues) {
  const RowId row = RowId::NewRandom();
  const RowId kase = RowId::NewRandom();
  // A case is its own.
  absl::StatusOr<RowCase> c = CaseOf("cases", row, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kind, RowCase::Kind::kCase);
  EXPECT_EQ(c->case_id, row);
  // Referrals and consents: the case their case_id names.
  for (const char* table : {"referrals", "consents"}) {
    c = CaseOf(table, row, {{"case_id", IdV(kase)}});
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->kind, RowCase::Kind::kCase) << table;
    EXPECT_EQ(c->case_id, kase) << table;
    // NULL, or no value given: no case.
    c = CaseOf(table, row, {{"case_id", Value::Null()}});
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->kind, RowCase::Kind::kNone) << table;
    c = CaseOf(table, row, {});
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->kind, RowCase::Kind::kNone) << table;
    // Anything else in the case column is refused, not read as no case.
    EXPECT_EQ(CaseOf(table, row, {{"case_id", Value::Text("abc")}}).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_FALSE(CaseOf(table, row, {{"case_id", Value::Bytes("short")}}).ok());
  }
  // A person: the cases naming them, by cases.person_id (a lookup).
  c = CaseOf("persons", row, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kind, RowCase::Kind::kNamedBy);
  EXPECT_EQ(c->naming_column, "person_id");
  // The directories and the access log belong to no case, whatever they hold.
  for (const char* table : {"contacts", "organisations", "services", "access_log"}) {
    c = CaseOf(table, row, {{"case_id", IdV(kase)}});
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->kind, RowCase::Kind::kNone) << table;
  }
}

class RowCaseReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override { replica_ = OpenReplica(dir_.File("r.db"), &clock_); }

  RowId Create(const std::string& table, LocalTxn::Fields fields) {
    const RowId id = RowId::NewV7(&clock_);
    auto c = replica_->Write(LocalTxn().Create(table, id, std::move(fields)));
    EXPECT_TRUE(c.ok()) << c.status();
    return id;
  }
  std::optional<RowId> CaseOfStored(const std::string& table, const RowId& id) {
    auto row = replica_->Get(table, id);
    EXPECT_TRUE(row.ok() && *row) << table;
    if (!row.ok() || !*row) return std::nullopt;
    auto c = CaseOfRecord(*replica_, table, **row);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : std::nullopt;
  }

  TempDir dir_;
  FakeClock clock_{testing::kTestEpochMillis};
  std::unique_ptr<Replica> replica_;
};

TEST_F(RowCaseReplicaTest, EveryTableAnsweredInAReplica) {
  ASSERT_NE(replica_, nullptr);
  const RowId person = Create("persons", {{"province", Value::Text("LC")}});
  const RowId kase = Create("cases", {{"province", Value::Text("LC")}, {"person_id", IdV(person)}});
  const RowId referral = Create("referrals", {{"case_id", IdV(kase)},
                                              {"from_office", Value::Text("LC")},
                                              {"to_office", Value::Text("HN")},
                                              {"status", Value::Text("sent")}});
  const RowId consent = Create("consents", {{"case_id", IdV(kase)},
                                            {"scope", Value::Text("services")}});
  const RowId contact = Create("contacts", {{"province", Value::Text("LC")}});
  const RowId org = Create("organisations", {{"name", Value::Text("Police")}});
  EXPECT_EQ(CaseOfStored("cases", kase), kase);
  EXPECT_EQ(CaseOfStored("persons", person), kase);
  EXPECT_EQ(CaseOfStored("referrals", referral), kase);
  EXPECT_EQ(CaseOfStored("consents", consent), kase);
  EXPECT_EQ(CaseOfStored("contacts", contact), std::nullopt);
  EXPECT_EQ(CaseOfStored("organisations", org), std::nullopt);
  // A consent that names no case belongs to none.
  const RowId loose = Create("consents", {{"scope", Value::Text("police")}});
  EXPECT_EQ(CaseOfStored("consents", loose), std::nullopt);
}

TEST_F(RowCaseReplicaTest, APersonBelongsToTheCaseNamingThemElseToThemselves) {
  ASSERT_NE(replica_, nullptr);
  const RowId alone = Create("persons", {{"province", Value::Text("LC")}});
  EXPECT_EQ(CaseOfStored("persons", alone), alone);
  const RowId person = Create("persons", {{"province", Value::Text("LC")}});
  const RowId kase = Create("cases", {{"province", Value::Text("LC")}, {"person_id", IdV(person)}});
  ASSERT_TRUE(replica_->Write(LocalTxn().Delete("cases", kase)).ok());
  // A delete clears the fields of the case: the person is their own again.
  EXPECT_EQ(CaseOfStored("persons", person), person);
  const RowId other = Create("cases", {{"province", Value::Text("LC")}, {"person_id", IdV(person)}});
  EXPECT_EQ(CaseOfStored("persons", person), other);
}

TEST_F(RowCaseReplicaTest, AStoredRowOfAnUnknownTableIsRefused) {
  ASSERT_NE(replica_, nullptr);
  Row row;
  row.id = RowId::NewRandom();
  row.live = true;
  auto c = CaseOfRecord(*replica_, "victims", row);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RelationsTest, TheKeyRingEachSealedFieldIsSealedUnder) {
  const RowId row = Id16::NewRandom();
  const RowId kase = Id16::NewRandom();
  auto naming = [&](const Value& case_id) {
    return [case_id](std::string_view column) -> absl::StatusOr<Value> {
      if (column == "case_id") return case_id;
      return Value::Null();
    };
  };
  auto ring = [&](std::string_view table, std::string_view column, const Value& case_id) {
    return KeyRingOfField(S(), table, row, column, naming(case_id));
  };
  // A case, a person: the row itself.
  EXPECT_EQ(*ring("cases", "summary", Value::Null()), row);
  EXPECT_EQ(*ring("persons", "full_name", Value::Null()), row);
  // A referral's letter: the referral; its other fields and a consent's:
  // the case it names.
  EXPECT_EQ(*ring("referrals", "reason", IdV(kase)), row);
  EXPECT_EQ(*ring("referrals", "notes", IdV(kase)), kase);
  EXPECT_EQ(*ring("consents", "scope", IdV(kase)), kase);
  // Naming no case: no key to seal under.
  EXPECT_EQ(ring("referrals", "notes", Value::Null()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ring("no_such_table", "x", Value::Null()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RelationsTest, WhatMakesAWriteUrgent) {
  EXPECT_TRUE(IsUrgentWrite(S(), "cases", "urgency", Value::Text("urgent")));
  EXPECT_FALSE(IsUrgentWrite(S(), "cases", "urgency", Value::Text("normal")));
  EXPECT_FALSE(IsUrgentWrite(S(), "cases", "urgency", Value::Null()));
  // A crime report: its clear hour, and its exact time while still clear.
  EXPECT_TRUE(IsUrgentWrite(S(), "cases", "crime_reported_hour", Value::Int(3'600'000)));
  EXPECT_FALSE(IsUrgentWrite(S(), "cases", "crime_reported_hour", Value::Null()));
  EXPECT_TRUE(IsUrgentWrite(S(), "cases", "crime_reported_at", Value::Int(1'764'000'123'456)));
  EXPECT_FALSE(IsUrgentWrite(S(), "cases", "crime_reported_at", Value::Null()));
  // Sealed (NULL included) it says nothing: the clear hour in the same change does.
  EXPECT_FALSE(IsUrgentWrite(S(), "cases", "crime_reported_at", Value::Bytes("\xF5sealed")));
  // Nothing else is urgent: other columns, other tables, unknown tables.
  EXPECT_FALSE(IsUrgentWrite(S(), "cases", "status", Value::Text("urgent")));
  EXPECT_FALSE(IsUrgentWrite(S(), "cases", "opened_on", Value::Text("2025-11-24")));
  EXPECT_FALSE(IsUrgentWrite(S(), "persons", "urgency", Value::Text("urgent")));
  EXPECT_FALSE(IsUrgentWrite(S(), "referrals", "sent_at", Value::Int(1)));
  EXPECT_FALSE(IsUrgentWrite(S(), "victims", "urgency", Value::Text("urgent")));
}

TEST(RelationsTest, WhatRestrictsARow) {
  EXPECT_TRUE(IsRestricted(Value::Text("restricted")));
  EXPECT_FALSE(IsRestricted(Value::Text("public")));
  EXPECT_FALSE(IsRestricted(Value::Text("internal")));
  EXPECT_FALSE(IsRestricted(Value::Text("Restricted")));
  EXPECT_FALSE(IsRestricted(Value::Null()));  // unset: public
  EXPECT_FALSE(IsRestricted(Value::Bytes("restricted")));
  // The tables that may be restricted, by which column.
  for (const TableDef& t : S().tables()) {
    const bool restrictable = t.name == "contacts" || t.name == "services";
    EXPECT_EQ(std::string(t.restriction), restrictable ? "restriction" : "") << t.name;
  }
}

TEST(RelationsTest, WrongDeclarationsAreFound) {
  auto check = [](TableDef extra) {
    std::vector<TableDef> tables = FieldOfficeSchema().tables();
    tables.push_back(std::move(extra));
    return CheckRelations(Schema(99, std::move(tables)));
  };
  // A case named by a text column.
  TableDef bad{"notes", "test", {{"case_ref", ColumnType::kText, Sensitivity::kClear, {}, 1, ""}}};
  bad.case_relation = {CaseLink::kColumn, "case_ref"};
  EXPECT_EQ(check(bad).code(), absl::StatusCode::kInternal);
  // A case named by a column that does not exist.
  bad.case_relation = {CaseLink::kColumn, "case_id"};
  EXPECT_EQ(check(bad).code(), absl::StatusCode::kInternal);
  // Named by a column cases lack.
  bad.case_relation = {CaseLink::kNamedBy, "note_id"};
  EXPECT_EQ(check(bad).code(), absl::StatusCode::kInternal);
  // A second table of cases.
  bad.case_relation = {CaseLink::kSelf};
  EXPECT_EQ(check(bad).code(), absl::StatusCode::kInternal);
  // Urgent on a value the column does not allow, or on a sealed column.
  TableDef urgent{"alerts", "test", {
      {"level", ColumnType::kEnum, Sensitivity::kClear, {"low", "high"}, 1, ""},
      {"secret", ColumnType::kText, Sensitivity::kSensitive, {}, 1, ""}}};
  urgent.urgent_when = {{"level", "urgent"}};
  EXPECT_EQ(check(urgent).code(), absl::StatusCode::kInternal);
  urgent.urgent_when = {{"secret"}};
  EXPECT_EQ(check(urgent).code(), absl::StatusCode::kInternal);
  urgent.urgent_when = {{"level", "high"}};
  EXPECT_TRUE(check(urgent).ok()) << check(urgent);
  // A restriction that cannot hold kRestrictedValue; sealed-when-restricted
  // without a restriction column.
  TableDef open{"places", "test", {
      {"visibility", ColumnType::kEnum, Sensitivity::kClear, {"public", "internal"}, 1, ""},
      {"address", ColumnType::kText, Sensitivity::kSensitiveWhenRestricted, {}, 1, ""}}};
  open.restriction = "visibility";
  EXPECT_EQ(check(open).code(), absl::StatusCode::kInternal);
  open.restriction = {};
  EXPECT_EQ(check(open).code(), absl::StatusCode::kInternal);
}

TEST(RelationsTest, EachTableDeclaresWhoOwnsItsRows) {
  struct Want {
    OwnerLink link;
    std::string column;
    bool listed;
  };
  const std::map<std::string, Want> want = {
      {"cases", {OwnerLink::kColumn, "province", false}},
      {"persons", {OwnerLink::kColumn, "province", false}},
      // Seen by every office, unless restricted to its own.
      {"contacts", {OwnerLink::kColumn, "province", true}},
      // The reading office's alone.
      {"access_log", {OwnerLink::kColumn, "province", false}},
      {"referrals", {OwnerLink::kCase, "", false}},
      {"consents", {OwnerLink::kCase, "", false}},
      // The shared directory: an organisation's province says where it
      // works, not whose it is.
      {"organisations", {OwnerLink::kShared, "", false}},
      {"services", {OwnerLink::kShared, "", false}},
  };
  // Every table of the schema is listed above: a new one must say its owner.
  ASSERT_EQ(S().tables().size(), want.size());
  for (const TableDef& t : S().tables()) {
    auto it = want.find(std::string(t.name));
    ASSERT_NE(it, want.end()) << t.name << " has no expected owner in this test";
    absl::StatusOr<OwnerRelation> own = OwnerOf(S(), t.name);
    ASSERT_TRUE(own.ok()) << own.status();
    EXPECT_EQ(own->link, it->second.link) << t.name;
    EXPECT_EQ(std::string(own->column), it->second.column) << t.name;
    EXPECT_EQ(own->listed, it->second.listed) << t.name;
    EXPECT_EQ(IsShared(S(), t.name), it->second.link == OwnerLink::kShared) << t.name;
    // A referral alone grants its case to the office it names.
    EXPECT_EQ(std::string(t.grants_case_to), t.name == "referrals" ? "to_office" : "")
        << t.name;
  }
  // Key rings are rows of the tables with a sealed column (consents,
  // organisations and the access log have none).
  EXPECT_EQ(KeyRingTables(S()),
            (std::vector<std::string>{"cases", "persons", "contacts", "services", "referrals"}));
}

TEST(RelationsTest, AnUndeclaredTableIsNoOnesAndNotShared) {
  absl::StatusOr<OwnerRelation> own = OwnerOf(S(), "victims");
  EXPECT_EQ(own.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(own.status().message().find("victims"), std::string_view::npos) << own.status();
  EXPECT_FALSE(IsShared(S(), "victims"));
  EXPECT_FALSE(IsShared(S(), ""));
  // A table declared without an owner is no office's either (the hub
  // neither shows nor takes its rows): the default is not "shared".
  EXPECT_EQ(OwnerRelation{}.link, OwnerLink::kNone);
  Schema bare(99, {TableDef{"notes", "test", {{"text", ColumnType::kText, Sensitivity::kClear,
                                                {}, 1, ""}}}});
  ASSERT_TRUE(OwnerOf(bare, "notes").ok());
  EXPECT_EQ(OwnerOf(bare, "notes")->link, OwnerLink::kNone);
  EXPECT_FALSE(IsShared(bare, "notes"));
  EXPECT_TRUE(KeyRingTables(bare).empty());
}

TEST(RelationsTest, WrongOwnersAreFound) {
  auto check = [](TableDef extra) {
    std::vector<TableDef> tables = FieldOfficeSchema().tables();
    tables.push_back(std::move(extra));
    return CheckRelations(Schema(99, std::move(tables)));
  };
  TableDef t{"notes", "test", {
      {"case_id", ColumnType::kId, Sensitivity::kClear, {}, 1, ""},
      {"office", ColumnType::kText, Sensitivity::kClear, {}, 1, ""},
      {"secret_office", ColumnType::kText, Sensitivity::kSensitive, {}, 1, ""},
      {"count", ColumnType::kInteger, Sensitivity::kClear, {}, 1, ""}}};
  t.owner = {OwnerLink::kColumn, "office"};
  EXPECT_TRUE(check(t).ok()) << check(t);
  t.owner = {OwnerLink::kColumn, "office", /*listed=*/true};
  EXPECT_TRUE(check(t).ok()) << check(t);
  // Owned by a column that is missing, sealed, or not text.
  for (std::string_view column : {"desk", "secret_office", "count"}) {
    t.owner = {OwnerLink::kColumn, column};
    EXPECT_EQ(check(t).code(), absl::StatusCode::kInternal) << column;
  }
  // A column named where none is used.
  t.owner = {OwnerLink::kShared, "office"};
  EXPECT_EQ(check(t).code(), absl::StatusCode::kInternal);
  // Its case's owner's, but it names no case.
  t.owner = {OwnerLink::kCase};
  EXPECT_EQ(check(t).code(), absl::StatusCode::kInternal);
  t.case_relation = {CaseLink::kColumn, "case_id"};
  EXPECT_TRUE(check(t).ok()) << check(t);
  // Listed to every office, but a row of a case (or not an office's).
  t.owner = {OwnerLink::kColumn, "office", /*listed=*/true};
  EXPECT_EQ(check(t).code(), absl::StatusCode::kInternal);
  t.owner = {OwnerLink::kShared, {}, /*listed=*/true};
  EXPECT_EQ(check(t).code(), absl::StatusCode::kInternal);
  // Granting its case to an office: a clear text column of a row of a case.
  t.owner = {OwnerLink::kCase};
  t.grants_case_to = "office";
  EXPECT_TRUE(check(t).ok()) << check(t);
  t.grants_case_to = "secret_office";
  EXPECT_EQ(check(t).code(), absl::StatusCode::kInternal);
  t.grants_case_to = "office";
  t.case_relation = {};
  t.owner = {OwnerLink::kShared};
  EXPECT_EQ(check(t).code(), absl::StatusCode::kInternal);
}

TEST(RelationsTest, ReferralStatusesHaveOneTextForm) {
  using referral::Status;
  for (Status s : {Status::kSent, Status::kAccepted, Status::kDeclined, Status::kCompleted}) {
    EXPECT_EQ(referral::ParseStatus(referral::StatusName(s)), s);
  }
  EXPECT_EQ(referral::StatusName(Status::kAccepted), "accepted");
  EXPECT_EQ(referral::ParseStatus("Sent"), std::nullopt);
  EXPECT_EQ(referral::ParseStatus(""), std::nullopt);
  // The schema allows exactly these values, in this order.
  const ColumnDef* status = S().FindTable("referrals")->FindColumn("status");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->allowed, referral::StatusNames());
  EXPECT_EQ(referral::StatusNames(),
            (std::vector<std::string_view>{"sent", "accepted", "declined", "completed"}));
  EXPECT_TRUE(referral::IsFinal("declined"));
  EXPECT_TRUE(referral::IsFinal("completed"));
  EXPECT_FALSE(referral::IsFinal("accepted"));
  EXPECT_FALSE(referral::IsFinal("bogus"));
}

TEST(RelationsTest, KeyRecordKindsInSqlText) {
  using crypto::KeyRecordKind;
  EXPECT_EQ(crypto::KindsSql({KeyRecordKind::kDataKey, KeyRecordKind::kOfficeDataKey}), "3, 5");
  EXPECT_EQ(crypto::KindsSql({KeyRecordKind::kMembership}), "6");
  EXPECT_EQ(crypto::KindsSql({KeyRecordKind::kOfficeKey}), "1");
  EXPECT_EQ(crypto::KeyRecordKindOf(2), KeyRecordKind::kOfficeShare);
  EXPECT_EQ(crypto::KeyRecordKindOf(0), std::nullopt);
  EXPECT_EQ(crypto::KeyRecordKindOf(7), std::nullopt);
}

}  // namespace
}  // namespace fieldsync
