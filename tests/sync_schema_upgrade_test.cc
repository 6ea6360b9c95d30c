// Laptops one schema version apart during an upgrade (docs/PROTOCOL.md,
// "Nodes of an older schema"). A laptop still on a build before schema
// version 4 cannot take a column it does not know or a sealed value in a
// column it calls clear: the hub sends it what it can take, then says in
// plain words to install the current fieldsync. A laptop of version 4 may
// no longer send clear values of the columns sealed from version 4, except
// in commits it wrote before its upgrade.
//
// The older build is played with the wire as it sent it: requests without
// the schema fields.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "change/commit_codec.h"
#include "fieldsync/v1/sync.grpc.pb.h"
#include "proto/wire.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

namespace pb = fieldsync::v1;

struct RawPull {
  grpc::Status status;
  std::vector<pb::PullResponse> messages;
  bool caught_up = false;
  int64_t cursor = 0;
  // Tables written by the commits and rows received.
  std::set<std::string> tables;
  std::set<std::string> rows;  // ids of the rows received whole or written
};

class SchemaUpgradeTest : public SyncProcessTest {
 protected:
  std::unique_ptr<pb::Sync::Stub> Stub() {
    std::ifstream in(pki_->ca());
    std::stringstream ca;
    ca << in.rdbuf();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca.str();
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    return pb::Sync::NewStub(
        grpc::CreateCustomChannel(hub_->address(), grpc::SslCredentials(ssl), args));
  }

  // As the laptop of `c` authenticates its calls (its proofs).
  void Auth(grpc::ClientContext* ctx, const node::Credential& c) {
    for (const auto& [key, value] : LaptopCallMetadata(c)) ctx->AddMetadata(key, value);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  }

  // A pull as `n` sends it; `schema_version` 0 leaves the field out, as
  // builds before schema version 4 did.
  RawPull Pull(harness::LocalNode& n, int64_t cursor, bool bootstrapped,
               uint32_t schema_version, uint32_t max_batch = 1) {
    auto stub = Stub();
    pb::PullRequest req;
    req.set_protocol_version(pb::PROTOCOL_VERSION_2);
    req.set_cursor(cursor);
    req.set_bootstrapped(bootstrapped);
    req.set_max_batch(max_batch);
    if (schema_version != 0) req.set_schema_version(schema_version);
    grpc::ClientContext ctx;
    Auth(&ctx, n.credential());
    auto reader = stub->Pull(&ctx, req);
    RawPull out;
    pb::PullResponse m;
    while (reader->Read(&m)) {
      for (const auto& r : m.rows()) {
        out.tables.insert(r.table());
        out.rows.insert(r.row());
      }
      for (const auto& c : m.commits()) {
        auto commit = DecodeCommit(c.canonical());
        EXPECT_TRUE(commit.ok()) << commit.status();
        if (!commit.ok()) continue;
        for (const RowChange& rc : commit->changes) {
          out.tables.insert(rc.table);
          out.rows.insert(std::string(rc.row.view()));
        }
      }
      if (m.cursor() > 0) out.cursor = m.cursor();
      out.caught_up |= m.caught_up();
      out.messages.push_back(m);
    }
    out.status = reader->Finish();
    return out;
  }

  static RowId NewOrganisation(Replica& r, const std::string& name) {
    const RowId org = Id16::NewRandom();
    LocalTxn t;
    t.Create("organisations", org, {{"name", Value::Text(name)},
                                    {"kind", Value::Text("ngo")},
                                    {"province", Value::Text("LC")}});
    auto c = r.Write(t);
    EXPECT_TRUE(c.ok()) << c.status();
    return org;
  }

  // The exact opening date of `kase` written in clear, as a version 3
  // laptop wrote it (signed, nothing sealed).
  static Commit ClearOpeningDate(harness::LocalNode& n, const RowId& kase) {
    auto c = WriteAsPatchedBuild(
        n, LocalTxn().Set("cases", kase, {{"opened_on", Value::Text("2025-11-24")}}));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : Commit{};
  }

  // A push of `c` as `n` sends it; 0 leaves a schema field out, as builds
  // before schema version 4 did.
  grpc::Status Push(harness::LocalNode& n, const Commit& c, uint32_t schema_version,
                    uint64_t since_seq, pb::PushResponse* resp) {
    auto stub = Stub();
    pb::PushRequest req;
    req.set_protocol_version(pb::PROTOCOL_VERSION_2);
    if (schema_version != 0) req.set_schema_version(schema_version);
    if (since_seq != 0) req.set_schema_since_seq(since_seq);
    auto* e = req.add_commits();
    e->set_canonical(EncodeCommit(c));
    e->set_signature(c.signature);
    // Its chain began when the laptop was enrolled by today's build.
    e->set_header(c.header);
    e->set_header_signature(c.header_signature);
    grpc::ClientContext ctx;
    Auth(&ctx, n.credential());
    return stub->Push(&ctx, req, resp);
  }

  static bool Mentions(const RawPull& p, const RowId& row) {
    return p.rows.count(std::string(row.view())) > 0;
  }
};

TEST_F(SchemaUpgradeTest, ALaptopOfAnOlderSchemaGetsWhatItCanTakeThenAPlainAnswer) {
  auto& a = AddNode("LC");
  auto& old = AddNode("LC");
  MustSync(a);
  const RowId org1 = NewOrganisation(a.replica(), "Trung tâm Công tác xã hội Lào Cai");
  MustSync(a);

  // Nothing of version 4 yet: the old laptop bootstraps and catches up.
  RawPull first = Pull(old, 0, false, 0);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_TRUE(first.caught_up);
  EXPECT_TRUE(Mentions(first, org1));
  ASSERT_GT(first.cursor, 0);

  // Then an organisation (clear: any version takes it), then a case, which
  // a version 4 laptop writes with sealed values and a month column.
  const RowId org2 = NewOrganisation(a.replica(), "Hội Liên hiệp Phụ nữ Bát Xát");
  MustSync(a);
  const RowId kase = NewCase(a.replica(), "LC", "Lò Thị Mai");
  MustSync(a);

  RawPull next = Pull(old, first.cursor, true, 0);
  EXPECT_EQ(next.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << next.status.error_message();
  EXPECT_NE(next.status.error_message().find("install the current fieldsync"), std::string::npos)
      << next.status.error_message();
  EXPECT_NE(next.status.error_message().find("Nothing is lost"), std::string::npos);
  EXPECT_TRUE(Mentions(next, org2)) << "what it can take comes first";
  EXPECT_FALSE(Mentions(next, kase)) << "the case is held back";
  EXPECT_FALSE(next.caught_up);
  EXPECT_EQ(next.tables.count("cases"), 0u);
  EXPECT_EQ(next.tables.count("persons"), 0u);

  // Its bootstrap from nothing stops the same way.
  RawPull again = Pull(old, 0, false, 0, 100);
  EXPECT_EQ(again.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << again.status.error_message();
  EXPECT_EQ(again.tables.count("cases"), 0u);

  // The same laptop, upgraded, takes everything.
  RawPull upgraded = Pull(old, first.cursor, true, 4, 100);
  ASSERT_TRUE(upgraded.status.ok()) << upgraded.status.error_message();
  EXPECT_TRUE(upgraded.caught_up);
  EXPECT_TRUE(Mentions(upgraded, kase));
  // And the laptop's own client, which sends its version, syncs.
  MustSync(old);
  auto got = old.replica().Get("cases", kase);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->has_value());
}

TEST_F(SchemaUpgradeTest, AClearValueOfANewlySealedColumnIsTakenOnlyFromBeforeTheUpgrade) {
  auto& n = AddNode("LC");
  const RowId kase = NewCase(n.replica(), "LC", "Lò Thị Mai");
  MustSync(n);
  // The exact opening date in clear, as a version 3 laptop wrote it.
  const Commit c = ClearOpeningDate(n, kase);
  auto head = [&] {
    auto hub = OpenHubReplica();
    auto h = hub->LogHead();
    EXPECT_TRUE(h.ok());
    return h.ok() ? *h : -1;
  };
  const int64_t before = head();
  pb::PushResponse resp;
  auto push = [&](uint32_t schema_version, uint64_t since_seq) {
    return Push(n, c, schema_version, since_seq, &resp);
  };

  // From a laptop of version 4 since before this commit (or always): refused,
  // nothing stored, and the value is not repeated in the answer.
  for (uint64_t since : {uint64_t{0}, c.seq}) {
    grpc::Status s = push(4, since);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << since << s.error_message();
    EXPECT_NE(s.error_message().find("in clear"), std::string::npos) << s.error_message();
    EXPECT_EQ(s.error_message().find("2025-11-24"), std::string::npos) << s.error_message();
    EXPECT_EQ(head(), before);
  }
  // Written before the laptop's upgrade: taken (its author rewrites it
  // sealed once unlocked).
  grpc::Status s = push(4, c.seq + 1);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(head(), before + 1);
}

TEST_F(SchemaUpgradeTest, ALaptopOfAnOlderSchemaStillPushesClearValues) {
  auto& n = AddNode("LC");
  const RowId kase = NewCase(n.replica(), "LC", "Lò Thị Mai");
  MustSync(n);
  const Commit c = ClearOpeningDate(n, kase);
  pb::PushResponse resp;
  grpc::Status s = Push(n, c, 0, 0, &resp);  // no schema fields: a build before version 4
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.acknowledged_seq(), c.seq);
}

}  // namespace
}  // namespace fieldsync::testing
