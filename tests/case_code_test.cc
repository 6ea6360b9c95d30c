// Case codes (docs/FORMATS.md, "Case codes"): a new case's code is never one
// a live case of the laptop holds (5 random characters a month: about a 37%
// chance of a repeat at 5,000 cases a month); a code two laptops of the
// office drew offline, met after a sync, is shown and taken told apart by
// the end of each case's id, never as one case for the other.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "clock/clock_source.h"
#include "crypto/identity.h"
#include "node/ops/cases.h"
#include "node/ops/office.h"
#include "node/ops/resolve.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync::node::ops {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'795'521'600'000;  // 2026-11-24T12:00:00Z

class CaseCodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    replica_ = testing::OpenReplica(dir_.path() + "/replica.db", &clock_);
    ASSERT_NE(replica_, nullptr);
    auto keys = KeyRing::Open(replica_.get(), "LC");
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = *std::move(keys);
    ASSERT_TRUE(keys_->Unlock(crypto::DeviceIdentity::Generate(replica_->device_id())).ok());
    replica_->SetSecurity(keys_->Security());
    office_ = std::make_unique<Office>(
        Office{*replica_, *keys_, "LC", "Lò Thị Mai", "unlock it", &clock_});
  }
  const Office& o() { return *office_; }

  // A case for `name`, written with the code `code` (as a colleague's
  // laptop that drew it offline wrote it, then synced); its id.
  RowId CaseWithCode(const std::string& name, const std::string& code) {
    NewCase in;
    in.person = {{"full_name", name}};
    auto c = PrepareCase(o(), in);
    EXPECT_TRUE(c.ok()) << c.status();
    for (auto& [col, v] : c->kase) {
      if (col == "case_code") v = Value::Text(code);
    }
    EXPECT_TRUE(o().Commit(LocalTxn()
                               .Create("persons", c->opened.person_id, c->person)
                               .Create("cases", c->opened.case_id, c->kase))
                    .ok());
    return c->opened.case_id;
  }

  FakeClock clock_{kNow};
  testing::TempDir dir_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<KeyRing> keys_;
  std::unique_ptr<Office> office_;
};

TEST_F(CaseCodeTest, ADrawnCodeALiveCaseHoldsIsDrawnAgain) {
  NewCase in;
  in.person = {{"full_name", "Nguyễn Thị Hằng"}};
  auto held = OpenCase(o(), in);
  ASSERT_TRUE(held.ok()) << held.status();
  int draws = 0;
  auto code = UniqueCaseCode(o(), [&] { return ++draws <= 3 ? held->code : "LC-2611-ZZZZZ"; });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, "LC-2611-ZZZZZ");
  EXPECT_EQ(draws, 4);
  // In any letter case (codes are typed).
  std::string lower = held->code;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  draws = 0;
  auto again = UniqueCaseCode(o(), [&] { return ++draws == 1 ? lower : "LC-2611-YYYYY"; });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, "LC-2611-YYYYY");
  auto never = UniqueCaseCode(o(), [&] { return held->code; });
  EXPECT_EQ(never.status().code(), absl::StatusCode::kResourceExhausted) << never.status();
}

TEST_F(CaseCodeTest, ACodeTwoLaptopsDrewOfflineIsShownAndTakenToldApart) {
  const RowId a = CaseWithCode("Nguyễn Thị Hằng", "LC-2611-K3QX7");
  const RowId b = CaseWithCode("Lò Thị Mai", "LC-2611-K3QX7");
  const RowId c = CaseWithCode("Vàng Thị Mỷ", "LC-2611-AAAAA");
  auto lines = ListCases(o(), {});
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->size(), 3u);
  std::set<std::string> shown;
  for (const CaseLine& l : *lines) shown.insert(l.code);
  EXPECT_EQ(shown.size(), 3u) << "two cases shown under one code";
  EXPECT_TRUE(shown.count("LC-2611-AAAAA")) << "a code only one case holds is shown as it is";
  EXPECT_TRUE(shown.count(CaseCodeShown("LC-2611-K3QX7", a)));
  EXPECT_TRUE(shown.count(CaseCodeShown("LC-2611-K3QX7", b)));

  // The bare code names neither: refused, naming both as shown.
  auto bare = Resolve(o(), "cases", "LC-2611-K3QX7", "case");
  EXPECT_EQ(bare.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bare.status().message()),
              HasSubstr(CaseCodeShown("LC-2611-K3QX7", a)));
  EXPECT_THAT(std::string(bare.status().message()),
              HasSubstr(CaseCodeShown("LC-2611-K3QX7", b)));
  // Each shown code opens its own case, in any letter case; a wrong tail
  // opens none.
  for (const RowId& id : {a, b}) {
    auto r = Resolve(o(), "cases", CaseCodeShown("LC-2611-K3QX7", id), "case");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, id);
    std::string lower = CaseCodeShown("LC-2611-K3QX7", id);
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto l = Resolve(o(), "cases", lower, "case");
    ASSERT_TRUE(l.ok()) << l.status();
    EXPECT_EQ(*l, id);
  }
  EXPECT_EQ(Resolve(o(), "cases", "LC-2611-K3QX7/000000", "case").status().code(),
            absl::StatusCode::kNotFound);
  auto single = Resolve(o(), "cases", "LC-2611-AAAAA", "case");
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ(*single, c);
}

}  // namespace
}  // namespace fieldsync::node::ops
