// Field encryption through a real hub: office keys reach every device of an
// office, referrals grant case keys, revocation and erasure cut readers off,
// forged commits and key records are refused (docs/CRYPTO.md).
#include <gtest/gtest.h>

#include <string>

#include "store/sqlite.h"

#include "crypto/commit_signature.h"
#include "crypto/envelope.h"
#include "crypto/key_record.h"
#include "base/strings.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

using State = OpenedField::State;

std::string Opened(harness::LocalNode& n, const std::string& table, const RowId& row,
                   const std::string& column) {
  OpenedField f = n.Read(table, row, column);
  if (f.state != State::kOpened && f.state != State::kClear) {
    return absl::StrCat("<", AV(OpenedStateName(f.state)), ": ", f.problem, ">");
  }
  return f.value.kind() == Value::Kind::kText ? f.value.str() : f.value.DebugString();
}

TEST_F(SyncTest, TwoDevicesOfAnOfficeReadEachOthersCases) {
  auto& a = AddNode("LC");
  auto& b = AddNode("LC");
  const RowId by_a = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng", "câu chuyện của A");
  const RowId by_b = NewCase(b.replica(), "LC", "Lò Thị Mai", "câu chuyện của B");
  for (int pass = 0; pass < 3; ++pass) {
    MustSync(a);
    MustSync(b);
  }
  for (auto* n : {&a, &b}) {
    EXPECT_EQ(Opened(*n, "cases", by_a, "narrative"), "câu chuyện của A");
    EXPECT_EQ(Opened(*n, "cases", by_b, "narrative"), "câu chuyện của B");
  }
}

}  // namespace
}  // namespace fieldsync::testing
