// Compact commit headers over the real hub and gRPC (sync/compact_header.h;
// docs/PROTOCOL.md, "Compact headers"): laptops and a hub of this build
// send commits with their header's signature only (and a prev link for the
// first entry of an author in a message), both ways; every chain a laptop
// holds is its author's own, link for link, and the hub stores whole
// headers. Negotiated: a laptop sends none to a hub of the previous build
// (its Hello does not offer them; it would refuse them), and a hub sends
// none to a laptop that did not ask.
//
// The transport between laptop and hub records what travels (the engine's
// messages are the wire's fields one for one) and can play the hub of the
// previous build: the real hub with its Hello's offer and the pull's request
// for compact headers taken out, which is all that build differs in.
#include <gtest/gtest.h>

#include <string>

#include "crypto/commit_header.h"
#include "store/sqlite.h"
#include "sync/forwarding_transport.h"
#include "sync/compact_header.h"
#include "sync/pass.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

class Recording : public sync::ForwardingTransport {
 public:
  Recording(sync::Transport& real, bool previous_hub)
      : ForwardingTransport(real), previous_hub_(previous_hub) {}

  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& req) override {
    absl::StatusOr<sync::HelloReply> r = ForwardingTransport::Hello(req);
    if (r.ok() && previous_hub_) r->compact_headers = 0;
    if (r.ok()) offered = r->compact_headers;
    return r;
  }
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    for (const sync::PushedCommit& c : req.commits) {
      if (sync::IsCompactHeader(c.header, c.header_signature)) {
        ++pushed_compact;
      } else if (!c.header.empty()) {
        ++pushed_whole;
      }
      if (!c.header_prev_link.empty()) ++pushed_prev_links;
    }
    if (previous_hub_ && sync::AnyCompact(req.commits)) {
      // What that build answers: it reads an empty header as a malformed one.
      return absl::InvalidArgumentError("malformed commit header (a hub of the previous build)");
    }
    return ForwardingTransport::Push(req);
  }
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override {
    asked = req.params.compact_headers;
    sync::PullRequest sent = req;
    if (previous_hub_) sent.params.compact_headers = 0;  // a field it does not know
    return ForwardingTransport::Pull(sent, [&](sync::PullChunk& c) {
      ++messages;
      for (const sync::PulledEntry& e : c.commits) {
        if (sync::IsCompactHeader(e.header, e.header_signature)) {
          ++pulled_compact;
        } else if (!e.header.empty() && !e.canonical.empty()) {
          ++pulled_whole;
        } else if (!e.header.empty()) {
          ++pulled_header_only;
        }
        if (!e.header_prev_link.empty()) ++pulled_prev_links;
      }
      return on_chunk(c);
    });
  }

  int offered = -1, asked = -1;
  size_t pushed_compact = 0, pushed_whole = 0, pushed_prev_links = 0;
  size_t pulled_compact = 0, pulled_whole = 0, pulled_header_only = 0, pulled_prev_links = 0;
  size_t messages = 0;

 private:
  bool previous_hub_;
};

class ChainCompactSyncTest : public SyncTest {
 protected:
  static node::SyncReport SyncVia(harness::LocalNode& n, sync::Transport& t,
                                  const sync::PassOptions& o = {}) {
    absl::StatusOr<node::SyncReport> r =
        sync::RunPass(t, n.replica(), *n.keys(), n.credential(), o);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(!r.ok() || r->push_refused.ok()) << r->push_refused;
    EXPECT_TRUE(!r.ok() || r->protocol_version == 3);
    if (r.ok()) {
      EXPECT_EQ(r->chain.held, 0u);
      EXPECT_EQ(r->chain.new_evidence, 0u);
      EXPECT_TRUE(r->chain.problems.empty()) << r->chain.problems.front();
    }
    return r.ok() ? *r : node::SyncReport{};
  }

  // Every entry `reader` holds of `author`'s chain is the author's own, by
  // link; returns how many.
  static size_t SameChain(harness::LocalNode& reader, harness::LocalNode& author) {
    auto own = author.replica().OwnChainAfter(0, 10000);
    EXPECT_TRUE(own.ok()) << own.status();
    size_t same = 0;
    for (const ChainRow& mine : own.ok() ? *own : std::vector<ChainRow>{}) {
      auto held = reader.replica().ChainEntryAt(author.replica().device_id(), mine.seq);
      EXPECT_TRUE(held.ok()) << held.status();
      if (!held.ok() || !held->has_value()) continue;
      EXPECT_EQ((*held)->link, mine.link) << "seq " << mine.seq;
      EXPECT_EQ((*held)->header, mine.header) << "seq " << mine.seq;
      same += (*held)->link == mine.link ? 1 : 0;
    }
    return same;
  }

  int64_t HubQuery(const std::string& sql) {
    auto db = sqlite::Db::Open(hub_->data_dir() + "/hub.db", "");
    EXPECT_TRUE(db.ok());
    auto st = (*db)->Prepared(sql);
    EXPECT_TRUE(st.ok()) << st.status();
    auto r = (*st)->Step();
    EXPECT_TRUE(r.ok() && *r) << sql;
    return (*st)->ColumnInt(0);
  }

  // A case of `province` and a shared organisation in one commit: an office
  // of another province receives it trimmed to the organisation.
  static void CaseAndOrg(Replica& r, const std::string& province, const std::string& name) {
    const RowId person = Id16::NewRandom();
    LocalTxn t;
    t.Create("persons", person, {{"full_name", Value::Text(name)},
                                 {"province", Value::Text(province)},
                                 {"sex", Value::Text("female")}});
    t.Create("organisations", Id16::NewRandom(),
             {{"name", Value::Text(absl::StrCat("Nhà tạm lánh ", name))},
              {"kind", Value::Text("ngo")}});
    auto c = r.Write(t);
    EXPECT_TRUE(c.ok()) << c.status();
  }
};

TEST_F(ChainCompactSyncTest, LaptopsAndHubWithCompactHeadersConvergeAndEveryChainIsTheAuthors) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  auto& hn = AddNode("HN");
  Recording t1(lc1.client().transport(), false), t2(lc2.client().transport(), false),
      t3(hn.client().transport(), false);
  RowId last;
  for (int i = 0; i < 5; ++i) last = NewCase(lc1.replica(), "LC", absl::StrCat("Lò Thị Mai ", i));
  CaseAndOrg(lc1.replica(), "LC", "Vàng Thị Dợ");
  node::SyncReport r1 = SyncVia(lc1, t1);
  EXPECT_EQ(t1.offered, sync::kCompactHeaderForm);
  EXPECT_EQ(r1.pushed, 6u);
  EXPECT_EQ(t1.pushed_compact, 6u) << "every commit pushed with its signature only";
  EXPECT_EQ(t1.pushed_whole, 0u);
  EXPECT_LE(t1.pushed_prev_links, 1u) << "a prev link for the first commit of a push at most";

  // lc2 pulls in messages of 2: the first entry of an author in each
  // message names its prev link, the others take it from the one before.
  for (int i = 0; i < 3; ++i) NewCase(lc2.replica(), "LC", absl::StrCat("Đỗ Thị Hoa ", i));
  sync::PassOptions small;
  small.pull.max_batch = 2;
  node::SyncReport r2 = SyncVia(lc2, t2, small);
  EXPECT_EQ(t2.asked, sync::kCompactHeaderForm);
  EXPECT_EQ(r2.pulled, 6u);
  EXPECT_EQ(t2.pulled_compact, 6u);
  EXPECT_EQ(t2.pulled_whole, 0u);
  EXPECT_GE(t2.pulled_prev_links, 2u) << "messages of 2: a prev link in each after the first";
  EXPECT_EQ(t2.pushed_compact, 3u);
  EXPECT_TRUE(Holds(lc2, "cases", last));

  // Hà Nội sees the organisation of the mixed commit, trimmed: its header
  // is rebuilt from the digests and row tags of what was left out.
  SyncVia(hn, t3);
  EXPECT_EQ(t3.pulled_compact, 1u) << "the trimmed commit";
  EXPECT_EQ(t3.pulled_prev_links, 1u) << "lc1's first entry Hà Nội receives";
  EXPECT_EQ(t3.pulled_whole, 0u);
  SyncVia(lc1, t1);
  SyncVia(lc2, t2);

  EXPECT_EQ(SameChain(lc2, lc1), 6u);
  EXPECT_EQ(SameChain(lc1, lc2), 3u);
  EXPECT_EQ(SameChain(hn, lc1), 1u) << "tracked from the trimmed commit on";
  ExpectSameRowEverywhere(last, {&lc1, &lc2});
  // Stored whole at the hub, as before: compact is the wire's only.
  EXPECT_EQ(HubQuery("SELECT count(*) FROM hub_chain"), 9);
  EXPECT_EQ(HubQuery("SELECT count(*) FROM hub_chain WHERE length(header) <> 136"), 0);
}

TEST_F(ChainCompactSyncTest, ALaptopSendsAHubOfThePreviousBuildNoCompactHeader) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  Recording old1(lc1.client().transport(), true), old2(lc2.client().transport(), true);
  const RowId a = NewCase(lc1.replica(), "LC", "Lò Thị Mai");
  NewCase(lc1.replica(), "LC", "Vàng Thị Dợ");
  node::SyncReport r1 = SyncVia(lc1, old1);
  EXPECT_EQ(old1.offered, 0);
  EXPECT_EQ(r1.pushed, 2u);
  EXPECT_EQ(old1.pushed_compact, 0u) << "the hub did not say it reads them";
  EXPECT_EQ(old1.pushed_whole, 2u);
  EXPECT_EQ(old1.pushed_prev_links, 0u);
  node::SyncReport r2 = SyncVia(lc2, old2);
  EXPECT_EQ(r2.pulled, 2u);
  EXPECT_EQ(old2.asked, 0) << "nothing asked of a hub that offered nothing";
  EXPECT_EQ(old2.pulled_compact, 0u);
  EXPECT_EQ(old2.pulled_whole, 2u);
  EXPECT_TRUE(Holds(lc2, "cases", a));
  EXPECT_EQ(SameChain(lc2, lc1), 2u);
}

TEST_F(ChainCompactSyncTest, AHubSendsNoCompactHeaderToALaptopThatDidNotAsk) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  auto& lc3 = AddNode("LC");
  Recording t1(lc1.client().transport(), false), t2(lc2.client().transport(), false),
      t3(lc3.client().transport(), false);
  sync::PassOptions previous_build;
  previous_build.compact_headers = false;
  const RowId a = NewCase(lc1.replica(), "LC", "Lò Thị Mai");
  NewCase(lc1.replica(), "LC", "Vàng Thị Dợ");
  // A laptop of the previous build pushes whole headers although offered.
  node::SyncReport r1 = SyncVia(lc1, t1, previous_build);
  EXPECT_EQ(t1.offered, sync::kCompactHeaderForm);
  EXPECT_EQ(r1.pushed, 2u);
  EXPECT_EQ(t1.pushed_whole, 2u);
  EXPECT_EQ(t1.pushed_compact, 0u);
  // ... and receives whole headers, not having asked.
  node::SyncReport r2 = SyncVia(lc2, t2, previous_build);
  EXPECT_EQ(t2.asked, 0);
  EXPECT_EQ(r2.pulled, 2u);
  EXPECT_EQ(t2.pulled_compact, 0u);
  EXPECT_EQ(t2.pulled_whole, 2u);
  EXPECT_TRUE(Holds(lc2, "cases", a));
  EXPECT_EQ(SameChain(lc2, lc1), 2u);
  // A laptop of this build beside them receives the same commits compact.
  node::SyncReport r3 = SyncVia(lc3, t3);
  EXPECT_EQ(r3.pulled, 2u);
  EXPECT_EQ(t3.pulled_compact, 2u);
  EXPECT_EQ(SameChain(lc3, lc1), 2u);
}

}  // namespace
}  // namespace fieldsync::testing
