// Holes found in protocol version 3's commit chains (issue 11 point 3;
// docs/PROTOCOL.md, "Version 3: commit chains") by attacking them as a
// malicious hub: each test names the behaviour that should hold and fails
// on the build of 10704bd. Real hub processes and laptops; the hub is
// attacked by editing its tables (SyncTest::TamperWithHub: hub.db while it
// is stopped, as someone with its disk would; PostgreSQL while it serves).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

#include "crypto/commit_header.h"
#include "store/sqlite.h"
#include "sync/report.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

class ChainHolesTest : public SyncTest {
 protected:
  // Runs statements on the hub's tables (TamperWithHub); `device` binds ?1
  // in each.
  void EditHub(const std::vector<StoreSql>& sqls, const DeviceId& device) {
    for (const StoreSql& sql : sqls) {
      TamperWithHub(sql, {Value::Bytes(std::string(device.view()))});
      if (HasFatalFailure()) return;
    }
  }
  // The hub's log entry of lc1's commit `seq` (?1: lc1's id), on either
  // store: "FROM ... WHERE ...", its position column named `pos`.
  static StoreSql EntryOf(const std::string& before, uint64_t seq,
                          const std::string& after = "") {
    return {absl::StrCat(before, " _fs_log WHERE seq = ", seq,
                         " AND device = (SELECT idx FROM _fs_devices WHERE id = ?1)", after),
            absl::StrCat(before, " hub_log WHERE seq = ", seq, " AND author = ?1", after)};
  }
};

// A hub that drops commit b of lc1 and strips the header off the commit c
// after it (its hub_chain row deleted, so the pull carries c's body and v1
// signature with no header): lc2 tracks lc1's chain, and every commit lc1
// writes since version 3 has a header, yet ChainKeeper::Sort applies a
// header-less entry as "unchecked" without looking at whether its author
// is tracked. The gap at b is never seen and c is applied past it: the
// very drop that version 3 exists to reveal.
TEST_F(ChainHolesTest, AHeaderlessCommitOfATrackedLaptopIsNotAppliedPastAGapInItsChain) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  const RowId a = NewCase(lc1.replica(), "LC", "Lò Thị Mai");
  MustSync(lc1);
  MustSync(lc2);
  ASSERT_TRUE(Holds(lc2, "cases", a));
  const RowId b = NewCase(lc1.replica(), "LC", "Vàng Thị Dợ");
  const uint64_t b_seq = LastSeq(lc1);
  const RowId c = NewCase(lc1.replica(), "LC", "Đỗ Thị Hoa");
  const uint64_t c_seq = LastSeq(lc1);
  MustSync(lc1);

  EditHub({EntryOf("DELETE FROM", b_seq),
           absl::StrCat("DELETE FROM hub_chain WHERE device = ?1 AND seq IN (", b_seq, ", ",
                        c_seq, ")")},
          lc1.replica().device_id());

  node::SyncReport r = MustSync(lc2);
  EXPECT_FALSE(Holds(lc2, "cases", b));
  EXPECT_FALSE(Holds(lc2, "cases", c))
      << "c was applied without its header, past the gap the hub made at b (unchecked: "
      << r.chain.unchecked << ", held: " << r.chain.held << ")";
}

// A hub that once sends, for an author lc1 that Hà Nội's laptop tracks, the
// header of a commit hn cannot see (a Lào Cai case) with the body of a
// commit it can see: hn holds that entry (the body is not the header's)
// and, behind the gap, lc1's next commit. The hub is honest again, and
// bridges the gap the only way it may for hn: the header alone. But
// ChainKeeper::Sort prefers a held copy that has a body over a header-only
// entry that came, even when that body is not the header's: the entry is
// never offered, the gap never closes, and every later commit of lc1 waits
// on hn for good, although the hub is honest again.
TEST_F(ChainHolesTest, AnHonestHeaderOnlyBridgeReleasesWhatAHeldForeignBodyBlocked) {
  auto& lc1 = AddNode("LC");
  auto& hn = AddNode("HN");
  NewOrg(lc1.replica(), "Hội Liên hiệp Phụ nữ Lào Cai");
  MustSync(lc1);
  MustSync(hn);  // hn tracks lc1 from here
  NewCase(lc1.replica(), "LC", "Vàng Thị Dợ");  // hn never sees it: header only
  const uint64_t hidden_seq = LastSeq(lc1);
  const RowId org2 = NewOrg(lc1.replica(), "Trung tâm Bảo trợ xã hội Lào Cai");
  const uint64_t org2_seq = LastSeq(lc1);
  MustSync(lc1);
  // The honest entry kept aside, in a table of the hub's database.
  TamperWithHub({"CREATE TABLE kept_log AS SELECT * FROM _fs_log WHERE false",
                 "CREATE TABLE kept_log AS SELECT * FROM hub_log WHERE false"},
                {}, /*must_change=*/false);
  EditHub({EntryOf("INSERT INTO kept_log SELECT * FROM", hidden_seq)}, lc1.replica().device_id());

  // The hub puts org2's body under the hidden commit's position and lets hn see it.
  TamperWithHub({absl::StrCat("UPDATE _fs_log SET body = (SELECT body FROM _fs_log l2 WHERE "
                              "l2.device = _fs_log.device AND l2.seq = ", org2_seq,
                              ") WHERE pos = (SELECT pos FROM kept_log)"),
                 absl::StrCat("UPDATE hub_log SET body = (SELECT body FROM hub_log l2 WHERE "
                              "l2.author = hub_log.author AND l2.seq = ", org2_seq,
                              ") WHERE position = (SELECT position FROM kept_log)")},
                {});
  TamperWithHub({"INSERT INTO hub_log_scope(province, position) SELECT 'HN', pos FROM kept_log",
                 "INSERT INTO hub_log_scope(province, position) SELECT 'HN', position FROM "
                 "kept_log"},
                {});
  node::SyncReport bent = MustSync(hn);
  ASSERT_GE(bent.chain.held, 1u) << "the foreign body is held against its header";
  ASSERT_FALSE(Holds(hn, "organisations", org2)) << "org2 waits behind the gap";

  // Honest again; lc1 writes on, and the hub bridges hn's gap.
  TamperWithHub({"UPDATE _fs_log SET body = (SELECT body FROM kept_log) WHERE pos = (SELECT pos "
                 "FROM kept_log)",
                 "UPDATE hub_log SET body = (SELECT body FROM kept_log) WHERE position = (SELECT "
                 "position FROM kept_log)"},
                {});
  TamperWithHub({"DELETE FROM hub_log_scope WHERE province = 'HN' AND position = (SELECT pos "
                 "FROM kept_log)",
                 "DELETE FROM hub_log_scope WHERE province = 'HN' AND position = (SELECT "
                 "position FROM kept_log)"},
                {});
  const RowId org3 = NewOrg(lc1.replica(), "Văn phòng Tổ chức Di cư Quốc tế");
  MustSync(lc1);
  node::SyncReport healed = MustSync(hn);
  EXPECT_TRUE(Holds(hn, "organisations", org2))
      << "held: " << healed.chain.held << ", released: " << healed.chain.released
      << (healed.chain.problems.empty() ? "" : ", " + healed.chain.problems.front());
  EXPECT_TRUE(Holds(hn, "organisations", org3));
  EXPECT_EQ(healed.chain.held, 0u);
}

// A hub whose stored entry has a body that is not its header's (lc1's
// commit Y at its position, with the body of lc1's next commit Z: a
// hub-side inconsistency, made here by editing hub.db). Before a commit of
// an author the node tracks, the hub sends that author's entries the node
// lacks (hub/pull_plan.cc, `bridge`), up to the commit's seq; on the build
// of 02281dd it took the author and seq from the decoded body, so Y's
// entry was bridged up to Z's seq: Y itself came twice in one pull, the
// second time before its own position. The bridge goes by the stored
// header, and an entry whose body and header disagree bridges nothing and
// is never a bridge's body: it comes once, where the log has it, and the
// node holds it back against its header.
TEST_F(ChainHolesTest, AStoredEntryWhoseBodyIsNotItsHeadersBridgesNothing) {
  auto& lc1 = AddNode("LC");
  auto& hn = AddNode("HN");
  NewOrg(lc1.replica(), "Hội Liên hiệp Phụ nữ Lào Cai");
  const uint64_t head = LastSeq(lc1);
  MustSync(lc1);
  MustSync(hn);  // hn tracks lc1 from `head`
  auto cursor = hn.replica().GetCursor(sync::kPulledCursor);
  ASSERT_TRUE(cursor.ok());
  NewCase(lc1.replica(), "LC", "Vàng Thị Dợ");  // X: hn never sees it (header only)
  const uint64_t x_seq = LastSeq(lc1);
  NewOrg(lc1.replica(), "Trung tâm Bảo trợ xã hội Lào Cai");  // Y
  const uint64_t y_seq = LastSeq(lc1);
  NewOrg(lc1.replica(), "Văn phòng Tổ chức Di cư Quốc tế");  // Z
  const uint64_t z_seq = LastSeq(lc1);
  MustSync(lc1);
  EditHub({{absl::StrCat("UPDATE _fs_log SET body = (SELECT body FROM _fs_log l2 WHERE "
                         "l2.device = _fs_log.device AND l2.seq = ", z_seq, ") WHERE seq = ",
                         y_seq, " AND device = (SELECT idx FROM _fs_devices WHERE id = ?1)"),
            absl::StrCat("UPDATE hub_log SET body = (SELECT body FROM hub_log l2 WHERE "
                         "l2.author = hub_log.author AND l2.seq = ", z_seq, ") WHERE seq = ",
                         y_seq, " AND author = ?1")}},
          lc1.replica().device_id());

  // hn's next pull, as its sync pass asks it.
  sync::PullRequest req;
  req.protocol_version = 3;
  req.credential = hn.credential();
  req.params.cursor = *cursor;
  req.params.bootstrapped = true;
  req.params.key_cursor = *hn.replica().GetCursor(sync::kKeyCursor);
  req.params.registry_digest = hn.keys()->RegistryDigest();
  req.params.chains = true;
  req.params.chain_heads = {{lc1.replica().device_id(), head}};
  req.schema_version = static_cast<uint32_t>(hn.replica().schema().version());
  std::vector<uint64_t> sent;  // the header seqs of lc1's entries, in order
  absl::Status s = hn.client().transport().Pull(req, [&](sync::PullChunk& chunk) {
    for (const sync::PulledEntry& e : chunk.commits) {
      auto h = crypto::DecodeCommitHeader(e.header);
      EXPECT_TRUE(h.ok()) << h.status();
      if (h.ok() && h->author == lc1.replica().device_id()) sent.push_back(h->seq);
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  std::string order;
  for (uint64_t seq : sent) absl::StrAppend(&order, order.empty() ? "" : ", ", seq);
  EXPECT_EQ(std::count(sent.begin(), sent.end(), y_seq), 1)
      << "Y came more than once; lc1's entries sent: " << order;
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.front(), y_seq)
      << "something was bridged before Y on the strength of Y's body (Z's seq " << z_seq
      << "); lc1's entries sent: " << order;
  EXPECT_EQ(std::count(sent.begin(), sent.end(), x_seq), 1)
      << "Z, consistent, bridges hn's chain over X; lc1's entries sent: " << order;
}

}  // namespace
}  // namespace fieldsync::testing
