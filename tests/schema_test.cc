#include "schema/schema.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace fieldsync {
namespace {

const TableDef& Table(std::string_view name) {
  const TableDef* t = FieldOfficeSchema().FindTable(name);
  EXPECT_NE(t, nullptr) << name;
  return *t;
}

absl::Status Check(std::string_view table, std::string_view column, const Value& v) {
  const TableDef& t = Table(table);
  const ColumnDef* c = t.FindColumn(column);
  EXPECT_NE(c, nullptr) << column;
  return ValidateValue(t, *c, v);
}

TEST(SchemaTest, DeclaresTheFieldOfficeTables) {
  std::set<std::string> names;
  for (const TableDef& t : FieldOfficeSchema().tables()) names.insert(std::string(t.name));
  EXPECT_EQ(names, (std::set<std::string>{"cases", "persons", "contacts", "organisations",
                                          "services", "referrals", "consents", "access_log"}));
}

TEST(SchemaTest, VictimIdentityAndNarrativeAreSensitive) {
  for (const char* col : {"full_name", "other_names", "date_of_birth", "id_number", "phones",
                          "home_address", "current_address", "family_contacts", "health_notes"}) {
    EXPECT_EQ(Table("persons").FindColumn(col)->sensitivity, Sensitivity::kSensitive) << col;
  }
  for (const char* col : {"narrative", "interview_notes", "exact_places", "perpetrator_details"}) {
    EXPECT_EQ(Table("cases").FindColumn(col)->sensitivity, Sensitivity::kSensitive) << col;
  }
  for (const char* col : {"name", "mobile", "email"}) {
    EXPECT_EQ(Table("contacts").FindColumn(col)->sensitivity,
              Sensitivity::kSensitiveWhenRestricted)
        << col;
  }
  // What the hub needs for routing and statistics stays clear.
  EXPECT_EQ(Table("cases").FindColumn("province")->sensitivity, Sensitivity::kClear);
  EXPECT_EQ(Table("cases").FindColumn("status")->sensitivity, Sensitivity::kClear);
}

TEST(SchemaTest, ReferralStatusesAreTheFourOfTheWorkflow) {
  const ColumnDef* c = Table("referrals").FindColumn("status");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->allowed, (std::vector<std::string_view>{"sent", "accepted", "declined",
                                                        "completed"}));
}

TEST(SchemaTest, ColumnNamesAreUniqueAndNotReserved) {
  for (const TableDef& t : FieldOfficeSchema().tables()) {
    std::set<std::string_view> seen;
    for (const ColumnDef& c : t.columns) {
      EXPECT_TRUE(seen.insert(c.name).second) << t.name << "." << c.name;
      EXPECT_NE(c.name, "id");
      EXPECT_NE(c.name.substr(0, 1), "_") << "leading underscore is reserved: " << c.name;
      if (c.type == ColumnType::kEnum || c.type == ColumnType::kEnumSet) {
        EXPECT_FALSE(c.allowed.empty()) << c.name;
      } else {
        EXPECT_TRUE(c.allowed.empty()) << c.name;
      }
    }
  }
}

// New columns must be appended: the row version blob addresses columns by
// their position in the declaration (docs/FORMATS.md).
TEST(SchemaTest, ColumnsAreDeclaredInOrderOfTheVersionThatAddedThem) {
  for (const TableDef& t : FieldOfficeSchema().tables()) {
    int prev = 1;
    for (const ColumnDef& c : t.columns) {
      EXPECT_GE(c.since_version, prev) << t.name << "." << c.name;
      EXPECT_LE(c.since_version, FieldOfficeSchema().version()) << c.name;
      prev = c.since_version;
    }
  }
}

TEST(ValidateValueTest, AcceptsWellTypedValuesAndNull) {
  EXPECT_TRUE(Check("persons", "full_name", Value::Text("Nguyễn Thị Hằng")).ok());
  EXPECT_TRUE(Check("persons", "full_name", Value::Null()).ok());
  EXPECT_TRUE(Check("persons", "birth_year", Value::Int(2001)).ok());
  EXPECT_TRUE(Check("persons", "is_child", Value::Int(1)).ok());
  EXPECT_TRUE(Check("cases", "person_id", Value::Bytes(std::string(16, 'x'))).ok());
  EXPECT_TRUE(Check("cases", "opened_on", Value::Text("2024-02-29")).ok());
  EXPECT_TRUE(Check("cases", "status", Value::Text("verifying")).ok());
  EXPECT_TRUE(Check("cases", "exploitation_types", Value::Text("sexual,labour,other")).ok());
  EXPECT_TRUE(Check("referrals", "sent_at", Value::Int(1'764'000'000'000)).ok());
}

TEST(ValidateValueTest, RefusesWrongTypesNamingTheColumn) {
  const absl::Status s = Check("persons", "birth_year", Value::Text("2001"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("persons.birth_year"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("integer"), absl::string_view::npos) << s;
  EXPECT_FALSE(Check("persons", "full_name", Value::Int(3)).ok());
  EXPECT_FALSE(Check("persons", "is_child", Value::Int(2)).ok());
  EXPECT_FALSE(Check("cases", "person_id", Value::Bytes("short")).ok());
  EXPECT_FALSE(Check("cases", "person_id", Value::Text(std::string(16, 'x'))).ok());
  EXPECT_FALSE(Check("referrals", "sent_at", Value::Int(-1)).ok());
}

TEST(ValidateValueTest, RefusesBadDatesEnumsAndText) {
  EXPECT_FALSE(Check("cases", "opened_on", Value::Text("2023-02-29")).ok());
  EXPECT_FALSE(Check("cases", "opened_on", Value::Text("2023-13-01")).ok());
  EXPECT_FALSE(Check("cases", "opened_on", Value::Text("01/02/2023")).ok());
  const absl::Status s = Check("cases", "status", Value::Text("lost"));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("intake, verifying"), absl::string_view::npos) << s;
  EXPECT_FALSE(Check("cases", "exploitation_types", Value::Text("labour,sexual")).ok());
  EXPECT_FALSE(Check("cases", "exploitation_types", Value::Text("labour,labour")).ok());
  EXPECT_FALSE(Check("cases", "exploitation_types", Value::Text("")).ok());
  EXPECT_FALSE(Check("persons", "full_name", Value::Text("bad \xC3")).ok());
  EXPECT_FALSE(Check("persons", "full_name", Value::Text(std::string(300 * 1024, 'a'))).ok());
}

// Dates are calendar days: month lengths and leap years (2000 was one, 2100
// will not be), and the shape YYYY-MM-DD exactly.
TEST(ValidateValueTest, DatesAreDaysOfTheCalendar) {
  for (const char* good : {"2024-02-29", "2000-02-29", "2026-12-31", "2026-04-30", "1900-01-01",
                           "0001-01-01", "9999-12-31"}) {
    EXPECT_TRUE(Check("cases", "closed_on", Value::Text(good)).ok()) << good;
  }
  for (const char* bad : {"2025-02-29", "2100-02-29", "2026-04-31", "2026-13-01", "2026-00-10",
                          "2026-01-00", "2026-1-01", "2026-01-1", "26-01-01", "2026/01/01",
                          "2026-01-01T00:00", " 2026-01-01", "+202-01-01", "2026-0a-01", ""}) {
    absl::Status s = Check("cases", "closed_on", Value::Text(bad));
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("is not a calendar date of the form YYYY-MM-DD"),
              std::string_view::npos)
        << bad << ": " << s;
  }
}

}  // namespace
}  // namespace fieldsync
