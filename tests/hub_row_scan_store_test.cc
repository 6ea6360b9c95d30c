// The hub's rows read as a replica's are (store/row_scan.h, HubReadTxn::
// ScanRows), the same on both stores: what `fieldhub audit` and `fieldhub
// report` read. Compared with the laptop's replica that wrote the rows.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "support/hub_stores.h"

namespace fieldsync::testing {
namespace {

class HubRowScanStoreTest : public HubStoresTest {};

struct Scanned {
  RowId id;
  bool live = false;
  std::vector<Value> values;
  bool operator==(const Scanned& o) const {
    return id == o.id && live == o.live && values == o.values;
  }
};

std::vector<Scanned> ScanAll(RowScan& rows, const std::string& table,
                             const std::vector<std::string>& columns, bool include_deleted) {
  std::vector<Scanned> out;
  absl::Status s = rows.ScanRows(table, columns, include_deleted,
                                 [&](const RowId& id, bool live, const std::vector<Value>& v) {
                                   out.push_back(Scanned{id, live, v});
                                   return absl::OkStatus();
                                 });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// More rows than one page of the PostgreSQL store's scan (1,000), some
// deleted, some fields never written: every row once, in id order, with
// the values and liveness the laptop's replica gives.
TEST_P(HubRowScanStoreTest, EveryRowIsScannedOnceInIdOrderAsTheReplicaHoldsIt) {
  LocalTxn t;
  std::vector<RowId> ids;
  for (int i = 0; i < 1'203; ++i) {
    const RowId id = Id16::NewRandom();
    ids.push_back(id);
    std::vector<std::pair<std::string, Value>> v = {
        {"case_code", Value::Text(absl::StrCat("LC-", i))}, {"province", T("LC")}};
    if (i % 3 == 0) v.push_back({"status", T("verifying")});
    t.Create("cases", id, v);
  }
  auto c = a_->Write(t);
  ASSERT_TRUE(c.ok()) << c.status();
  LocalTxn del;
  for (int i = 0; i < 1'203; i += 100) del.Delete("cases", ids[static_cast<size_t>(i)]);
  auto d = a_->Write(del);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(HubMerge({*c, *d}).ok());

  const std::vector<std::string> columns = {"status", "case_code", "province"};
  ReplicaRowScan laptop(*a_);
  for (bool include_deleted : {false, true}) {
    const std::vector<Scanned> want = ScanAll(laptop, "cases", columns, include_deleted);
    ASSERT_EQ(want.size(), include_deleted ? 1'203u : 1'203u - 13u);
    Read([&](hub::HubReadTxn& r) {
      const std::vector<Scanned> got = ScanAll(r, "cases", columns, include_deleted);
      EXPECT_EQ(got.size(), want.size());
      EXPECT_TRUE(got == want) << "include_deleted " << include_deleted;
      return absl::OkStatus();
    });
  }
  Read([&](hub::HubReadTxn& r) {
    EXPECT_EQ(r.ScanRows("cases", {"no_such"}, false, nullptr).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(r.ScanRows("victims", {}, false, nullptr).code(),
              absl::StatusCode::kInvalidArgument);
    return absl::OkStatus();
  });
}

INSTANTIATE_TEST_SUITE_P(Stores, HubRowScanStoreTest,
                         ::testing::Values(HubStore::kSqlite, HubStore::kPostgres),
                         HubStoreName);

}  // namespace
}  // namespace fieldsync::testing
