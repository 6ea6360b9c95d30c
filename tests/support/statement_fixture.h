// What the statement tests share (tests/sync_statement_test.cc and
// tests/sync_statement_attack_test.cc): laptops that make a statement every
// pass, a hub that loses one commit, the evidence of one kind a laptop holds,
// and pushing a statement by hand.
#ifndef FIELDSYNC_TESTS_SUPPORT_STATEMENT_FIXTURE_H_
#define FIELDSYNC_TESTS_SUPPORT_STATEMENT_FIXTURE_H_

#include <string>
#include <vector>

#include "store/sqlite.h"
#include "support/sync_fixture.h"
#include "sync/chain.h"
#include "sync/pass.h"
#include "sync/transport.h"

namespace fieldsync::testing {

class StatementFixture : public SyncTest {
 protected:
  // A laptop of `province` (a member of its office) stating what it saw at
  // every pass.
  harness::LocalNode& Laptop(const std::string& province) {
    harness::LocalNode& n = AddNode(province);
    n.client().set_statement_interval(0);
    return n;
  }

  // A laptop of `province` that tries a checkpoint at every pass.
  harness::LocalNode& CheckpointingLaptop(const std::string& province) {
    harness::LocalNode& n = Laptop(province);
    n.client().set_checkpoint_interval(0);
    return n;
  }

  // `n`'s replica state digest ("" and a test failure if it cannot be read).
  static std::string Digest(harness::LocalNode& n) {
    auto d = n.replica().StateDigest();
    EXPECT_TRUE(d.ok());
    return d.ok() ? *d : "";
  }

  // One pass of `n` through `hub` (the real hub wrapped), as a node's sync
  // would run it.
  static absl::StatusOr<node::SyncReport> SyncThrough(harness::LocalNode& n,
                                                      sync::Transport& hub) {
    return sync::RunPass(hub, n.replica(), *n.keys(), n.credential(), sync::PassOptions{});
  }

  // The hub loses `author`'s commit `seq`, body and header (TamperWithHub:
  // hub.db with the hub stopped, PostgreSQL while it serves).
  void DropAtHub(harness::LocalNode& author, uint64_t seq) {
    const std::vector<Value> which = {
        Value::Int(static_cast<int64_t>(seq)),
        Value::Bytes(std::string(author.replica().device_id().view()))};
    TamperWithHub({"DELETE FROM _fs_log WHERE seq = ?1 AND device = (SELECT idx FROM _fs_devices "
                   "WHERE id = ?2)",
                   "DELETE FROM hub_log WHERE seq = ?1 AND author = ?2"},
                  which);
    if (HasFatalFailure()) return;
    TamperWithHub("DELETE FROM hub_chain WHERE seq = ?1 AND device = ?2", which);
  }

  static std::vector<TrustEvidence> EvidenceOf(harness::LocalNode& n,
                                               sync::ChainEvidence::Kind k) {
    auto all = n.replica().Evidence();
    EXPECT_TRUE(all.ok());
    std::vector<TrustEvidence> out;
    for (const TrustEvidence& e : all.ok() ? *all : std::vector<TrustEvidence>{}) {
      if (e.kind == static_cast<int>(k)) out.push_back(e);
    }
    return out;
  }

  static DeviceId HubId(harness::LocalNode& n) {
    auto h = n.client().Hello(nullptr);
    EXPECT_TRUE(h.ok());
    return h.ok() ? h->hub_id : DeviceId();
  }

  // Pushes `bytes` as `n`'s statement; returns the hub's refusal ("" kept).
  static std::string PushStatement(harness::LocalNode& n, const std::string& bytes) {
    sync::PushRequest req;
    req.protocol_version = 3;
    req.credential = n.credential();
    req.statements.push_back(bytes);
    auto r = n.client().transport().Push(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->statement_refusal : "push failed";
  }

  static std::vector<StatementRow> StatementsHeld(harness::LocalNode& n) {
    auto s = n.replica().Statements();
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : std::vector<StatementRow>{};
  }
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_STATEMENT_FIXTURE_H_
