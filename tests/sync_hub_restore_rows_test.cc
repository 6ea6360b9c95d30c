// A hub put back from a backup under a laptop whose pull was cut after
// rows newly visible (docs/PROTOCOL.md, "Rows installed above the
// cursor"): the rows hold every write up to the hub's head when they were
// served, above the laptop's cursor. The hub put back and grown again
// agrees with the laptop at its cursor and differs above it; the laptop
// keeps the log chain's hash at the rows' position as a mark
// (PullResponse.rows_hash), and the hub, finding it differ, says it went
// back: the rows count as installed at the cursor, and the writes the new
// log holds at those positions are applied, not skipped as inside them.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "support/sync_fixture.h"
#include "sync/forwarding_transport.h"
#include "sync/pass.h"

namespace fieldsync::testing {
namespace {

// A link cut, once rows newly visible came, after `entries` more messages
// with log entries (the laptop applied them; the rest of the pull is lost).
class CutAfterRows : public sync::ForwardingTransport {
 public:
  CutAfterRows(sync::Transport& inner, int entries)
      : ForwardingTransport(inner), entries_(entries) {}
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on) override {
    return ForwardingTransport::Pull(req, [&](sync::PullChunk& c) -> absl::Status {
      rows_ = rows_ || (!c.rows.empty() && !c.reset);
      absl::StrAppend(&trail, " [rows ", c.rows.size(), " commits ", c.commits.size(), " cursor ",
                      c.cursor, " at ", c.rows_position, "]");
      const bool entries = !c.commits.empty();
      FS_RETURN_IF_ERROR(on(c));
      if (rows_ && entries && ++seen_ >= entries_) {
        ++cuts;
        return absl::UnavailableError("the link was cut after the rows");
      }
      return absl::OkStatus();
    });
  }
  int cuts = 0;
  std::string trail;  // what each message carried, for a failure's message

 private:
  int entries_;
  bool rows_ = false;
  int seen_ = 0;
};

class HubRestoreRowsTest : public SyncTest {};

TEST_F(HubRestoreRowsTest, ACutPullAfterAReferredCaseSeesTheHubGoBackAboveItsCursor) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  auto& hn = AddNode("HN");
  for (auto* n : {&lc1, &lc2, &hn, &lc1, &lc2, &hn}) MustSync(*n);
  const RowId kase = NewCase(lc1.replica(), "LC", "Vàng Thị Dính", "Bị lừa sang biên giới");
  Refer(lc1.replica(), kase, "LC", "HN");
  // Two entries of the shared directory after the referral: Hà Nội pulls
  // them as commits, its cursor past the grant.
  NewOrg(lc1.replica(), "Trung tâm Công tác xã hội Lào Cai");
  MustSync(lc1);
  NewOrg(lc1.replica(), "Hội Liên hiệp Phụ nữ Sa Pa");
  MustSync(lc1);
  MustSync(lc2);
  const std::string backup = CopyHubFile("backup.db");
  // Lào Cai's own work after the backup: the hub's head moves on.
  for (const char* name : {"Lò Thị Mai", "Giàng Thị Dế", "Hà Thị Sáu", "Sùng Thị Mỷ"}) {
    NewCase(lc1.replica(), "LC", name, "Bị bỏ rơi");
    MustSync(lc1);
  }
  // Hà Nội's pull is cut after the referred case's rows (installed as
  // holding every write up to the head) and the two directory entries:
  // its cursor past the grant, below the head.
  CutAfterRows cut(hn.client().transport(), 2);
  sync::PassOptions small;
  small.pull.max_batch = 1;
  auto r = sync::RunPass(cut, hn.replica(), *hn.keys(), hn.credential(), small);
  ASSERT_FALSE(r.ok()) << cut.trail;
  ASSERT_EQ(cut.cuts, 1) << cut.trail;
  ASSERT_TRUE(hn.replica().Get("cases", kase).value().has_value());

  PutHubFileBack(backup);
  // Lào Cai's colleague writes the case first: at a position below the
  // one the rows claimed to hold, in the log grown again.
  SetField(lc2.replica(), "cases", kase, "status", Value::Text("assisting"));
  MustSync(lc2);
  MustSync(lc1);  // sends its four cases again
  node::SyncReport seen = MustSync(hn);
  EXPECT_TRUE(seen.hub_went_back) << "the hub's log differs above the laptop's cursor";
  MustSync(hn);
  auto row = hn.replica().Get("cases", kase);
  ASSERT_TRUE(row.ok() && row->has_value()) << row.status();
  auto at_lc = lc2.replica().Get("cases", kase);
  ASSERT_TRUE(at_lc.ok() && at_lc->has_value());
  EXPECT_EQ((*row)->values, (*at_lc)->values) << "Hà Nội skipped Lào Cai's later write";
}

}  // namespace
}  // namespace fieldsync::testing
