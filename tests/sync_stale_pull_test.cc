// A pull answer of an earlier call delivered before the real one (a hub or
// a proxy that replays a stream; the simulation's `stale_pull`): an earlier
// bootstrap's answer wipes the laptop's rows and moves its cursor back to
// where that bootstrap was; the real answer then continues from the cursor
// the laptop asked from, so the commits between the two were lost for good.
// The laptop refuses a message that takes it back before the position it
// asked from, in a pull where it holds a complete state up to it, unless the
// same pull said the hub's log went back; nothing of it is applied.
#include <gtest/gtest.h>

#include <vector>

#include "support/sync_fixture.h"
#include "sync/checkpoint_keeper.h"
#include "sync/forwarding_transport.h"
#include "sync/pass.h"
#include "sync/report.h"

namespace fieldsync::testing {
namespace {

// The real hub; each pull's answer kept, and, while `replay` is on, the
// first kept answer delivered whole before each call's own.
class ReplayingHub : public sync::ForwardingTransport {
 public:
  explicit ReplayingHub(sync::Transport& real) : ForwardingTransport(real) {}
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override {
    if (replay && !answers_.empty()) {
      for (const sync::PullChunk& kept : answers_.front()) {
        sync::PullChunk copy = kept;
        if (absl::Status s = on_chunk(copy); !s.ok()) return s;
      }
    }
    std::vector<sync::PullChunk> answer;
    absl::Status s = ForwardingTransport::Pull(req, [&](sync::PullChunk& c) {
      answer.push_back(c);
      return on_chunk(c);
    });
    answers_.push_back(std::move(answer));
    return s;
  }
  bool replay = false;

 private:
  std::vector<std::vector<sync::PullChunk>> answers_;
};

TEST_F(SyncTest, AnEarlierPullsAnswerCannotTakeALaptopBackPastCommits) {
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");
  const RowId first = NewCase(writer.replica(), "LC", "Lò Thị Mai");
  MustSync(writer);
  // The reader's next pull is a bootstrap (reset, the hub's rows), kept.
  ASSERT_TRUE(reader.replica().SetCursor(sync::kBootstrappedCursor, 0).ok());
  ASSERT_TRUE(reader.replica().SetCursor(sync::kCheckpointRefusedCursor, 1).ok());
  ReplayingHub hub(reader.client().transport());
  auto boot = sync::RunPass(hub, reader.replica(), *reader.keys(), reader.credential(), {});
  ASSERT_TRUE(boot.ok()) << boot.status();
  ASSERT_TRUE(boot->bootstrapped);

  const RowId between = NewCase(writer.replica(), "LC", "Vàng Thị Dợ");
  MustSync(writer);
  MustSync(reader);
  ASSERT_TRUE(Holds(reader, "cases", between));
  const int64_t asked_from = reader.replica().GetCursor(sync::kPulledCursor).value_or(-1);
  const RowId after = NewCase(writer.replica(), "LC", "Hà Thị Lan");
  MustSync(writer);

  hub.replay = true;
  auto stale = sync::RunPass(hub, reader.replica(), *reader.keys(), reader.credential(), {});
  EXPECT_FALSE(stale.ok()) << "the earlier answer is refused";
  if (!stale.ok()) {
    EXPECT_EQ(stale.status().code(), absl::StatusCode::kDataLoss) << stale.status();
    EXPECT_NE(stale.status().message().find("before the position"), std::string::npos)
        << stale.status();
  }
  EXPECT_TRUE(Holds(reader, "cases", between)) << "nothing of it was applied";
  EXPECT_EQ(reader.replica().GetCursor(sync::kPulledCursor).value_or(-1), asked_from);

  MustSync(reader);
  for (const RowId& kase : {first, between, after}) EXPECT_TRUE(Holds(reader, "cases", kase));
  MustSync(writer);
  EXPECT_EQ(Digest(reader.replica()), Digest(writer.replica()));
}

}  // namespace
}  // namespace fieldsync::testing
