// A pull answer of an earlier call delivered before the real one (a hub or
// a proxy that replays a stream; the simulation's `stale_pull`), or an
// answer delivered again after its end (`duplicate_pull`).
// - From a hub of an earlier build (no call ids): an earlier bootstrap's
//   answer wipes the laptop's rows and moves its cursor back to where that
//   bootstrap was; the real answer then continues from the cursor the
//   laptop asked from, so the commits between the two were lost for good.
//   The laptop refuses a message that takes it back before the position it
//   asked from, in a pull where it holds a complete state up to it, unless
//   the same pull said the hub's log went back; nothing of it is applied.
// - The rows of a case newly visible in an earlier answer come in messages
//   with no position (session 16's seeds 1972368084445297313 and others):
//   they replaced the case as the laptop held it, a colleague's later edit
//   behind its cursor lost for good, before a later message of that answer
//   was refused. Every message now echoes its call's id
//   (PullRequest.call_id); one that answers another call is refused.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "support/sync_fixture.h"
#include "sync/checkpoint_keeper.h"
#include "sync/forwarding_transport.h"
#include "sync/pass.h"
#include "sync/report.h"

namespace fieldsync::testing {
namespace {

// The real hub; each pull's answer kept, and, while `replay` is on, the
// kept answer `replayed` delivered whole before each call's own; with
// `twice`, each call's answer delivered again after its end.
class ReplayingHub : public sync::ForwardingTransport {
 public:
  explicit ReplayingHub(sync::Transport& real) : ForwardingTransport(real) {}
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override {
    auto deliver = [&](const std::vector<sync::PullChunk>& answer) -> absl::Status {
      for (const sync::PullChunk& kept : answer) {
        sync::PullChunk copy = kept;
        if (absl::Status s = on_chunk(copy); !s.ok()) return s;
      }
      return absl::OkStatus();
    };
    if (replay && replayed < answers_.size()) {
      if (absl::Status s = deliver(answers_[replayed]); !s.ok()) return s;
    }
    std::vector<sync::PullChunk> answer;
    absl::Status s = ForwardingTransport::Pull(req, [&](sync::PullChunk& c) {
      if (earlier_build) c.call_id.clear();
      answer.push_back(c);
      return on_chunk(c);
    });
    if (s.ok() && twice) s = deliver(answer);
    answers_.push_back(std::move(answer));
    return s;
  }
  // The first kept answer with rows (a bootstrap's, or of records newly
  // visible), if any.
  std::optional<size_t> AnswerWithRows() const {
    for (size_t i = 0; i < answers_.size(); ++i) {
      for (const sync::PullChunk& c : answers_[i]) {
        if (!c.rows.empty()) return i;
      }
    }
    return std::nullopt;
  }
  bool replay = false;
  size_t replayed = 0;
  bool twice = false;
  bool earlier_build = false;  // a hub before call ids: its answers echo none

 private:
  std::vector<std::vector<sync::PullChunk>> answers_;
};

// One item a message: the rows of an answer come in messages of their own,
// without a position.
sync::PassOptions OneItemAMessage() {
  sync::PassOptions o;
  o.pull.max_batch = 1;
  return o;
}

TEST_F(SyncTest, AnEarlierPullsAnswerCannotTakeALaptopBackPastCommits) {
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");
  const RowId first = NewCase(writer.replica(), "LC", "Lò Thị Mai");
  MustSync(writer);
  // The reader's next pull is a bootstrap (reset, the hub's rows), kept.
  ASSERT_TRUE(reader.replica().SetCursor(sync::kBootstrappedCursor, 0).ok());
  ASSERT_TRUE(reader.replica().SetCursor(sync::kCheckpointRefusedCursor, 1).ok());
  ReplayingHub hub(reader.client().transport());
  hub.earlier_build = true;
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

// Lào Cai's case referred to Hà Nội: Hà Nội's laptop receives it whole
// (newly visible, sealed values it cannot open yet) in an answer that is
// kept; Lào Cai edits its narrative, which Hà Nội's laptop takes at its
// next pull. That earlier answer, replayed before the next call's own,
// would install the case as it was (its rows come before any message with
// a position), the edit behind the laptop's cursor lost for good. Refused
// at its first message: it echoes another call's id.
TEST_F(SyncTest, AnEarlierAnswersRowsDoNotReplaceALaterEdit) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  MustSync(lc);
  MustSync(hn);
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng", "lời kể đầu tiên");
  Refer(lc.replica(), kase, "LC", "HN");  // Hà Nội sees the case from here on
  MustSync(lc);
  ASSERT_FALSE(Holds(hn, "cases", kase));
  ReplayingHub hub(hn.client().transport());
  auto got = sync::RunPass(hub, hn.replica(), *hn.keys(), hn.credential(), OneItemAMessage());
  ASSERT_TRUE(got.ok()) << got.status();
  const std::optional<size_t> with_rows = hub.AnswerWithRows();
  ASSERT_TRUE(with_rows.has_value()) << "the case came whole";
  ASSERT_TRUE(Holds(hn, "cases", kase));

  SetField(lc.replica(), "cases", kase, "narrative", Value::Text("lời kể sau"));
  MustSync(lc);
  MustSync(hn);
  ExpectSameRowEverywhere(kase, {&lc, &hn});
  const int64_t asked_from = hn.replica().GetCursor(sync::kPulledCursor).value_or(-1);

  hub.replay = true;
  hub.replayed = *with_rows;
  auto stale = sync::RunPass(hub, hn.replica(), *hn.keys(), hn.credential(), OneItemAMessage());
  EXPECT_FALSE(stale.ok()) << "the earlier answer is refused";
  if (!stale.ok()) {
    EXPECT_EQ(stale.status().code(), absl::StatusCode::kDataLoss) << stale.status();
    EXPECT_NE(stale.status().message().find("answers another pull"), std::string::npos)
        << stale.status();
  }
  EXPECT_EQ(hn.replica().GetCursor(sync::kPulledCursor).value_or(-1), asked_from);
  ExpectSameRowEverywhere(kase, {&lc, &hn});  // nothing of it was applied

  MustSync(hn);
  MustSync(lc);
  ExpectSameRowEverywhere(kase, {&lc, &hn});
}

// A call's answer delivered again after its end (the simulation's
// `duplicate_pull`): nothing comes after the last message of an answer;
// the copy is refused, and what the answer brought stays.
TEST_F(SyncTest, AnAnswerDeliveredAgainAfterItsEndIsRefused) {
  auto& writer = AddNode("LC");
  auto& reader = AddNode("LC");
  MustSync(reader);
  const RowId kase = NewCase(writer.replica(), "LC", "Lò Thị Mai");
  MustSync(writer);
  ReplayingHub hub(reader.client().transport());
  hub.twice = true;
  auto r = sync::RunPass(hub, reader.replica(), *reader.keys(), reader.credential(),
                         OneItemAMessage());
  EXPECT_FALSE(r.ok()) << "the copy is refused";
  if (!r.ok()) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
    EXPECT_NE(r.status().message().find("after the last one"), std::string::npos) << r.status();
  }
  EXPECT_TRUE(Holds(reader, "cases", kase));
  hub.twice = false;
  MustSync(writer);
  MustSync(reader);
  EXPECT_EQ(Digest(reader.replica()), Digest(writer.replica()));
}

}  // namespace
}  // namespace fieldsync::testing
