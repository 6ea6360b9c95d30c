// What the hub refuses, and with which code: missing or wrong credentials,
// revoked nodes, expired or reused enrolment tokens, commits of another
// node, unknown protocol versions, oversized and malformed input, clocks
// far ahead. Each refusal leaves the hub's log as it was.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "clock/clock_source.h"
#include "crypto/commit_signature.h"
#include "crypto/enrolment_proof.h"
#include "crypto/identity.h"
#include "fieldsync/v1/sync.grpc.pb.h"
#include "proto/wire.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

namespace pb = fieldsync::v1;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Signs with `signer`'s keys whatever keys it claims: someone who knows a
// device's public keys (they are public) but not its keystore.
class ClaimedKeys : public crypto::KeyOperations {
 public:
  explicit ClaimedKeys(crypto::DeviceIdentity signer) : signer_(std::move(signer)) {}
  absl::StatusOr<std::string> Sign(std::string_view domain, std::string_view message) override {
    return signer_.Sign(domain, message);
  }
  absl::StatusOr<crypto::SecretBytes> OpenSealed(std::string_view sealed) override {
    return signer_.OpenSealed(sealed);
  }

 private:
  crypto::DeviceIdentity signer_;
};

crypto::DeviceIdentity Claiming(const crypto::DevicePublic& claimed,
                                const crypto::DeviceIdentity& signer) {
  return crypto::DeviceIdentity::Delegated(claimed, std::make_shared<ClaimedKeys>(signer.Clone()));
}

class RefusalTest : public SyncTest {
 protected:
  std::unique_ptr<pb::Sync::Stub> Stub(const std::string& ca_file = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadAll(ca_file.empty() ? pki_->ca() : ca_file);
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    args.SetMaxReceiveMessageSize(64 << 20);
    return pb::Sync::NewStub(
        grpc::CreateCustomChannel(hub_->address(), grpc::SslCredentials(ssl), args));
  }

  // As the laptop of `c` authenticates its calls (its proofs).
  void Auth(grpc::ClientContext* ctx, const node::Credential& c) {
    for (const auto& [key, value] : LaptopCallMetadata(c)) ctx->AddMetadata(key, value);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  }

  static pb::PushRequest PushOf(const std::vector<Commit>& commits) {
    pb::PushRequest req;
    req.set_protocol_version(pb::PROTOCOL_VERSION_2);
    for (const Commit& c : commits) {
      auto* e = req.add_commits();
      e->set_canonical(EncodeCommit(c));
      e->set_signature(c.signature);
    }
    return req;
  }

  int64_t HubHead() {
    auto head = HubLogHead();
    EXPECT_TRUE(head.ok());
    return head.ok() ? *head : -1;
  }

  static std::vector<Commit> Unpushed(Replica& r) {
    auto c = r.LocalCommitsAfter(0, 100000);
    EXPECT_TRUE(c.ok());
    return c.ok() ? *c : std::vector<Commit>{};
  }
};

// RefusalTest against a `fieldhub serve` process: the tests that call the hub over
// gRPC themselves, start fieldnode, or kill the hub.
class RefusalProcessTest : public RefusalTest {
 protected:
  bool NeedsHubProcess() const override { return true; }
};

TEST_F(RefusalProcessTest, ACallWithoutCredentialIsUnauthenticated) {
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  auto stub = Stub();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  pb::PushResponse resp;
  grpc::Status s = stub->Push(&ctx, PushOf(Unpushed(n.replica())), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_NE(s.error_message().find("enrol"), std::string::npos) << s.error_message();
  EXPECT_EQ(HubHead(), 0);
}

TEST_F(RefusalProcessTest, AWrongSecretIsUnauthenticated) {
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  node::Credential forged = n.credential();
  forged.secret[0] ^= 1;
  auto stub = Stub();
  grpc::ClientContext ctx;
  Auth(&ctx, forged);
  pb::PushResponse resp;
  grpc::Status s = stub->Push(&ctx, PushOf(Unpushed(n.replica())), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_EQ(HubHead(), 0);
}

TEST_F(RefusalTest, ARevokedNodeIsRefusedWithPermissionDenied) {
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(n);
  const int64_t head = HubHead();
  auto r = hub_->Admin({"node", "revoke", n.replica().device_id().ToString()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  auto s = n.Sync();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied) << s.status();
  EXPECT_NE(s.status().message().find("revoked"), std::string::npos) << s.status();
  EXPECT_EQ(HubHead(), head);
  auto list = hub_->Admin({"node", "list"});
  EXPECT_NE(list.out.find("REVOKED"), std::string::npos) << list.out;
}

TEST_F(RefusalProcessTest, ALaptopItsOfficeRemovedIsRefusedAndCannotRemoveOthers) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  auto& lc3 = AddNode("LC");
  const RowId kase = NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  for (auto* n : {&lc1, &lc2, &lc3, &lc1}) MustSync(*n);
  // The office removes lc2 (a lost laptop); nobody revokes it at the hub.
  ASSERT_TRUE(lc1.keys()->Remove(lc2.replica().device_id()).ok());
  MustSync(lc1);
  const int64_t head = HubHead();
  // lc2, which has not seen its removal, removes lc1 and edits the case.
  ASSERT_TRUE(lc2.keys()->Remove(lc1.replica().device_id()).ok());
  SetField(lc2.replica(), "cases", kase, "status", Value::Text("closed"));
  auto r = lc2.Sync();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  const std::string line = absl::StrCat("device ", lc2.replica().device_id().ToString(),
                                        " was removed from office LC by its office on ");
  EXPECT_NE(r.status().message().find(line), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("; enrol the laptop anew"), std::string::npos)
      << r.status();
  // A program that skips Hello is refused its push and its pull alike.
  auto stub = Stub();
  {
    grpc::ClientContext ctx;
    Auth(&ctx, lc2.credential());
    pb::PushRequest push = PushOf(Unpushed(lc2.replica()));
    auto mine = lc2.keys()->UnpushedRecords(100);
    ASSERT_TRUE(mine.ok());
    ASSERT_FALSE(mine->empty());
    for (const std::string& k : *mine) push.add_key_records(k);
    pb::PushResponse resp;
    grpc::Status s = stub->Push(&ctx, push, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_message().find(line), std::string::npos) << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    Auth(&ctx, lc2.credential());
    pb::PullRequest pull;
    pull.set_protocol_version(pb::PROTOCOL_VERSION_2);
    auto reader = stub->Pull(&ctx, pull);
    pb::PullResponse msg;
    EXPECT_FALSE(reader->Read(&msg));
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  }
  EXPECT_EQ(HubHead(), head);
  auto list = hub_->Admin({"node", "list"});
  EXPECT_NE(list.out.find("[REMOVED BY ITS OFFICE]"), std::string::npos) << list.out;
  // lc2's removal of lc1 never reached the office: lc1 still syncs, and
  // for lc3 it is a member and lc2 is not.
  MustSync(lc1);
  MustSync(lc3);
  EXPECT_TRUE(lc3.keys()->IsMember("LC", lc1.replica().device_id()).value());
  EXPECT_FALSE(lc3.keys()->IsMember("LC", lc2.replica().device_id()).value());
  EXPECT_EQ(lc3.Read("cases", kase, "status").value, Value::Text("intake"));
}

TEST_F(RefusalTest, TheHubFollowsTheOfficesRootOnceAPlantedFirstDeviceIsRevoked) {
  // The administrator's laptop became LC's first device before the office's
  // own; once it is revoked, the office starts anew (docs/CRYPTO.md), and
  // the hub enforces the new root's removals.
  auto& planted = AddNode("LC");
  join_offices_ = false;
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  MustSync(planted);
  ASSERT_EQ(hub_->Admin({"node", "revoke", planted.replica().device_id().ToString()}).exit_code,
            0);
  MustSync(lc1);
  ASSERT_TRUE(lc1.BecomeFirstDevice().ok());
  MustSync(lc1);
  MustSync(lc2);
  MustSync(lc1);
  // lc2 has seen two first devices: its officer types the code lc1 shows.
  const std::string code = CodeShownFor(lc1, lc2.replica().device_id());
  ASSERT_TRUE(lc1.keys()->Approve(lc2.replica().device_id(), code).ok());
  ASSERT_TRUE(lc2.keys()->Join(code).ok());
  MustSync(lc1);
  MustSync(lc2);
  ASSERT_TRUE(lc1.keys()->IsMember("LC", lc2.replica().device_id()).value());
  ASSERT_TRUE(lc1.keys()->Remove(lc2.replica().device_id()).ok());
  MustSync(lc1);
  auto r = lc2.Sync();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_NE(r.status().message().find("removed from office LC by its office"), std::string::npos)
      << r.status();
  MustSync(lc1);
}

TEST_F(RefusalTest, AFirstDeviceStartedAfterTheOfficesFirstLaptopIsRevokedDoesNotRemoveItsMembers) {
  // LC's first laptop is lost and revoked; its colleagues, approved by it,
  // go on. A laptop enrolled in LC but never approved (the administrator's
  // own, or a new one set up wrongly) may then start the office anew, as
  // any laptop that knows only revoked first devices may, and remove the
  // office's laptops from its own chain. The hub must go on enforcing the
  // removals of the chain the office's laptops live in, not this one's.
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  auto& lc3 = AddNode("LC");
  for (auto* n : {&lc1, &lc2, &lc3}) MustSync(*n);
  ASSERT_EQ(hub_->Admin({"node", "revoke", lc1.replica().device_id().ToString()}).exit_code, 0);
  MustSync(lc2);
  MustSync(lc3);
  MustSync(lc2);
  join_offices_ = false;
  auto& other = AddNode("LC");
  ASSERT_TRUE(other.BecomeFirstDevice().ok());
  ASSERT_TRUE(other.keys()->Remove(lc2.replica().device_id()).ok());
  ASSERT_TRUE(other.keys()->Remove(lc3.replica().device_id()).ok());
  MustSync(other);
  // Neither lc2 nor lc3 is refused for a removal outside its office's chain.
  auto r2 = lc2.Sync();
  EXPECT_TRUE(r2.ok()) << r2.status();
  auto r3 = lc3.Sync();
  EXPECT_TRUE(r3.ok()) << r3.status();
  // The office's own removal of lc3 (stolen since) is still enforced.
  ASSERT_TRUE(lc2.keys()->Remove(lc3.replica().device_id()).ok());
  ASSERT_TRUE(lc2.Sync().ok());
  r3 = lc3.Sync();
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.status().code(), absl::StatusCode::kPermissionDenied) << r3.status();
  EXPECT_NE(r3.status().message().find("removed from office LC by its office"), std::string::npos)
      << r3.status();
}

TEST_F(RefusalProcessTest, AnExpiredEnrolmentTokenIsRefused) {
  auto token = hub_->Token("LC", "1ms");
  ASSERT_TRUE(token.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto n = harness::LocalNode::Create(dir_.File("late"));
  ASSERT_TRUE(n.ok());
  node::ClientOptions o;
  o.address = hub_->address();
  o.ca_file = pki_->ca();
  auto client = node::SyncClient::Create(o);
  ASSERT_TRUE(client.ok());
  std::string province, hub_id;
  auto cred = (*client)->Enroll(*token, (*n)->identity(), "late", &province, &hub_id);
  ASSERT_FALSE(cred.ok());
  EXPECT_EQ(cred.status().code(), absl::StatusCode::kPermissionDenied) << cred.status();
  EXPECT_NE(cred.status().message().find("expired"), std::string::npos) << cred.status();
}

TEST_F(RefusalProcessTest, AReusedEnrolmentTokenIsRefused) {
  auto token = hub_->Token("LC");
  ASSERT_TRUE(token.ok());
  node::ClientOptions o;
  o.address = hub_->address();
  o.ca_file = pki_->ca();
  auto client = node::SyncClient::Create(o);
  ASSERT_TRUE(client.ok());
  std::string province, hub_id;
  auto first = harness::LocalNode::Create(dir_.File("first"));
  auto second = harness::LocalNode::Create(dir_.File("second"));
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE((*client)->Enroll(*token, (*first)->identity(), "a", &province, &hub_id).ok());
  auto again = (*client)->Enroll(*token, (*second)->identity(), "b", &province, &hub_id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kPermissionDenied) << again.status();
  EXPECT_NE(again.status().message().find("already used"), std::string::npos) << again.status();
  // A token for an unknown province cannot even be made.
  auto bad = hub_->Admin({"enroll-token", "--province", "XX"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("unknown province"), std::string::npos) << bad.err;
}

TEST_F(RefusalProcessTest, ANodePushingAnotherNodesCommitIsRefused) {
  auto& a = AddNode("LC");
  auto& b = AddNode("LC");
  NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  auto stub = Stub();
  grpc::ClientContext ctx;
  Auth(&ctx, b.credential());
  pb::PushResponse resp;
  grpc::Status s = stub->Push(&ctx, PushOf(Unpushed(a.replica())), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("own commits"), std::string::npos) << s.error_message();
  EXPECT_EQ(HubHead(), 0);
}

TEST_F(RefusalProcessTest, AnUnknownProtocolVersionIsRefusedNamingBothVersions) {
  auto stub = Stub();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  pb::HelloRequest req;
  req.set_protocol_version(static_cast<pb::ProtocolVersion>(99));
  pb::HelloResponse resp;
  grpc::Status s = stub->Hello(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("version 99"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("versions 2 to 3"), std::string::npos) << s.error_message();
  // Push and Pull check it too: a node of protocol version 1 (unsigned
  // commits) is refused.
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  grpc::ClientContext ctx2;
  Auth(&ctx2, n.credential());
  pb::PushRequest push = PushOf(Unpushed(n.replica()));
  push.set_protocol_version(pb::PROTOCOL_VERSION_1);
  pb::PushResponse presp;
  s = stub->Push(&ctx2, push, &presp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_EQ(HubHead(), 0);
  grpc::ClientContext ctx3;
  Auth(&ctx3, n.credential());
  pb::PullRequest pull;
  pull.set_protocol_version(pb::PROTOCOL_VERSION_1);
  auto reader = stub->Pull(&ctx3, pull);
  pb::PullResponse msg;
  EXPECT_FALSE(reader->Read(&msg));
  s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("version 1"), std::string::npos) << s.error_message();
}

TEST_F(RefusalProcessTest, AForgedPullStillReceivesOnlyTheNodesScope) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId lc_case = NewCase(lc.replica(), "LC", "Lò Thị Mai");
  for (int i = 0; i < 5; ++i) NewCase(hn.replica(), "HN", "Phạm Thị Lan");
  MustSync(lc);
  MustSync(hn);
  // Every combination a node could send: bootstrap or not, any cursor,
  // any epoch, a huge batch.
  auto stub = Stub();
  int lc_cases_seen = 0;
  for (bool bootstrapped : {false, true}) {
    for (int64_t cursor : {int64_t{0}, int64_t{1}, int64_t{3}}) {
      grpc::ClientContext ctx;
      Auth(&ctx, lc.credential());
      pb::PullRequest req;
      req.set_protocol_version(pb::PROTOCOL_VERSION_2);
      req.set_cursor(cursor);
      req.set_bootstrapped(bootstrapped);
      req.set_gc_epoch(12345);
      req.set_max_batch(4000000000u);
      req.set_schema_version(static_cast<uint32_t>(FieldOfficeSchema().version()));
      auto reader = stub->Pull(&ctx, req);
      pb::PullResponse msg;
      while (reader->Read(&msg)) {
        for (const auto& row : msg.rows()) {
          if (row.table() == "cases") {
            EXPECT_EQ(row.row(), std::string(lc_case.view()));
            ++lc_cases_seen;
          }
          for (const auto& f : row.fields()) {
            if (f.column() == "province") {
              EXPECT_EQ(f.value().text_value(), "LC");
            }
          }
        }
        for (const auto& c : msg.commits()) {
          auto commit = DecodeCommit(c.canonical());
          ASSERT_TRUE(commit.ok());
          for (const RowChange& rc : commit->changes) {
            for (const FieldWrite& f : rc.fields) {
              if (f.column == "province") {
                EXPECT_EQ(f.value, Value::Text("LC"));
              }
            }
          }
        }
      }
      grpc::Status s = reader->Finish();
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
  }
  // The three bootstraps did deliver Lào Cai's own case.
  EXPECT_EQ(lc_cases_seen, 3);
}

TEST_F(RefusalProcessTest, AnEnrolmentWhoseAnswerWasLostCanBeRetriedWithTheSameToken) {
  auto token = hub_->Token("LC");
  ASSERT_TRUE(token.ok());
  auto n = harness::LocalNode::Create(dir_.File("retry"));
  ASSERT_TRUE(n.ok());
  node::ClientOptions o;
  o.address = hub_->address();
  o.ca_file = pki_->ca();
  auto client = node::SyncClient::Create(o);
  ASSERT_TRUE(client.ok());
  std::string province, hub_id;
  const DeviceId device = (*n)->replica().device_id();
  const crypto::DeviceIdentity& keys = (*n)->identity();
  auto first = (*client)->Enroll(*token, keys, "laptop", &province, &hub_id);
  ASSERT_TRUE(first.ok()) << first.status();
  // The answer "never arrived": the same device asks again with the token.
  auto second = (*client)->Enroll(*token, keys, "laptop", &province, &hub_id);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(first->secret, second->secret);
  // Only the newest secret works.
  EXPECT_FALSE((*client)->Hello(&*first).ok());
  auto hello = (*client)->Hello(&*second);
  ASSERT_TRUE(hello.ok()) << hello.status();
  EXPECT_EQ(hello->province, "LC");
  // A revoked device cannot come back with a fresh token.
  ASSERT_EQ(hub_->Admin({"node", "revoke", device.ToString()}).exit_code, 0);
  auto fresh = hub_->Token("LC");
  ASSERT_TRUE(fresh.ok());
  auto back = (*client)->Enroll(*fresh, keys, "laptop", &province, &hub_id);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), absl::StatusCode::kPermissionDenied) << back.status();
}

TEST_F(RefusalProcessTest, AnEnrolmentRetryOrReEnrolmentWithOtherKeysIsRefusedAndChangesNothing) {
  // Issue 11's takeover: a device id is public (it is in every commit), and a
  // used token stays valid for its device's retries until it expires. With
  // both, anyone could re-enrol the id with keys of their own.
  auto token = hub_->Token("LC");
  ASSERT_TRUE(token.ok());
  auto n = harness::LocalNode::Create(dir_.File("victim"));
  ASSERT_TRUE(n.ok());
  node::ClientOptions o;
  o.address = hub_->address();
  o.ca_file = pki_->ca();
  auto client = node::SyncClient::Create(o);
  ASSERT_TRUE(client.ok());
  std::string province, hub_id;
  const DeviceId device = (*n)->replica().device_id();
  const crypto::DevicePublic keys = (*n)->identity().public_keys();
  auto enrolled = (*client)->Enroll(*token, (*n)->identity(), "laptop", &province, &hub_id);
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  const std::string fingerprint = crypto::Fingerprint(keys);
  auto fresh = hub_->Token("LC");  // a second token, as a colleague's
  ASSERT_TRUE(fresh.ok());
  const int64_t audit_entries = [&] {
    auto a = hub_->Admin({"audit"});
    return static_cast<int64_t>(std::count(a.out.begin(), a.out.end(), '\n'));
  }();

  const crypto::DeviceIdentity attacker = crypto::DeviceIdentity::Generate(device);
  const crypto::DevicePublic other = attacker.public_keys();
  crypto::DevicePublic other_sign = keys;  // only the Ed25519 key changed
  other_sign.sign_pk = other.sign_pk;
  crypto::DevicePublic other_box = keys;  // only the X25519 key changed
  other_box.box_pk = other.box_pk;
  struct Attempt {
    const char* what;
    std::string token;
    crypto::DeviceIdentity id;
    const char* refusal;
  };
  // Each signs its proof with the attacker's Ed25519 key, whatever keys it
  // claims: with the device's own Ed25519 key claimed, the proof fails.
  const Attempt attempts[] = {
      {"retry, both keys changed", *token, attacker.Clone(), "other public keys"},
      {"retry, Ed25519 changed", *token, Claiming(other_sign, attacker), "other public keys"},
      {"retry, X25519 changed", *token, Claiming(other_box, attacker), "does not verify"},
      {"new token, other keys", *fresh, attacker.Clone(), "other public keys"},
  };
  for (const Attempt& a : attempts) {
    auto taken = (*client)->Enroll(a.token, a.id, "attacker", &province, &hub_id);
    ASSERT_FALSE(taken.ok()) << a.what;
    EXPECT_EQ(taken.status().code(), absl::StatusCode::kPermissionDenied)
        << a.what << ": " << taken.status();
    EXPECT_NE(taken.status().message().find(a.refusal), std::string::npos)
        << a.what << ": " << taken.status();
  }
  // Nothing changed: the device's credential still works, its registered keys
  // are the first ones, no enrolment was recorded, and the fresh token is unused.
  auto hello = (*client)->Hello(&*enrolled);
  ASSERT_TRUE(hello.ok()) << hello.status();
  auto list = hub_->Admin({"node", "list"});
  EXPECT_NE(list.out.find(fingerprint), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find(crypto::Fingerprint(other)), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find("attacker"), std::string::npos) << list.out;
  {
    auto audit = hub_->Admin({"audit"});
    EXPECT_EQ(static_cast<int64_t>(std::count(audit.out.begin(), audit.out.end(), '\n')),
              audit_entries) << audit.out;
  }
  auto second = harness::LocalNode::Create(dir_.File("colleague"));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE((*client)->Enroll(*fresh, (*second)->identity(), "colleague", &province,
                                &hub_id).ok());
  // The honest retry, from the device's keystore, still works.
  auto retry = (*client)->Enroll(*token, (*n)->identity(), "laptop", &province, &hub_id);
  ASSERT_TRUE(retry.ok()) << retry.status();
}

TEST_F(RefusalProcessTest, AnEnrolmentRetryNotFromTheDevicesKeystoreIsRefusedAndChangesNothing) {
  // The device's id and public keys are public, and its used token stays
  // valid for its retries until it expires: someone holding the three must
  // not get a new credential for it (the laptop's own would stop working).
  auto token = hub_->Token("LC");
  ASSERT_TRUE(token.ok());
  auto n = harness::LocalNode::Create(dir_.File("victim"));
  ASSERT_TRUE(n.ok());
  node::ClientOptions o;
  o.address = hub_->address();
  o.ca_file = pki_->ca();
  auto client = node::SyncClient::Create(o);
  ASSERT_TRUE(client.ok());
  std::string province, hub_id;
  const DeviceId device = (*n)->replica().device_id();
  const crypto::DevicePublic keys = (*n)->identity().public_keys();
  auto enrolled = (*client)->Enroll(*token, (*n)->identity(), "laptop", &province, &hub_id);
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  auto trail = [&] {
    auto a = hub_->Admin({"audit"});
    return static_cast<int64_t>(std::count(a.out.begin(), a.out.end(), '\n'));
  };
  const int64_t audit_entries = trail();
  // With the token, the id and the keys, and no proof (as an older
  // fieldnode sends it).
  {
    auto stub = Stub();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    pb::EnrollRequest req;
    req.set_protocol_version(pb::PROTOCOL_VERSION_2);
    req.set_token(*token);
    req.set_device_id(std::string(device.view()));
    req.set_device_name("attacker");
    req.set_sign_public_key(keys.sign_pk);
    req.set_box_public_key(keys.box_pk);
    pb::EnrollResponse resp;
    grpc::Status s = stub->Enroll(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_message().find("its own keystore"), std::string::npos)
        << s.error_message();
  }
  // With a proof the device's keystore signed, but not over a challenge of
  // this hub (one it could have been tricked into signing elsewhere).
  {
    auto stub = Stub();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto hello = (*client)->Hello(nullptr);
    ASSERT_TRUE(hello.ok()) << hello.status();
    const std::string challenge(crypto::kEnrolChallengeBytes, 'x');
    pb::EnrollRequest req;
    req.set_protocol_version(pb::PROTOCOL_VERSION_2);
    req.set_token(*token);
    req.set_device_id(std::string(device.view()));
    req.set_device_name("attacker");
    req.set_sign_public_key(keys.sign_pk);
    req.set_box_public_key(keys.box_pk);
    req.set_challenge(challenge);
    req.set_proof(Must(crypto::SignEnrolment((*n)->identity(), hello->hub_id, challenge, *token)));
    pb::EnrollResponse resp;
    grpc::Status s = stub->Enroll(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_message().find("not made by this hub"), std::string::npos)
        << s.error_message();
  }
  // With a proof signed by other keys than those it claims.
  auto forged = (*client)->Enroll(
      *token, Claiming(keys, crypto::DeviceIdentity::Generate(device)), "attacker", &province,
      &hub_id);
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.status().code(), absl::StatusCode::kPermissionDenied) << forged.status();
  EXPECT_NE(forged.status().message().find("does not verify"), std::string::npos)
      << forged.status();
  // Nothing changed: the laptop's credential works, no enrolment recorded.
  auto hello = (*client)->Hello(&*enrolled);
  ASSERT_TRUE(hello.ok()) << hello.status();
  EXPECT_EQ(trail(), audit_entries);
  auto list = hub_->Admin({"node", "list"});
  EXPECT_EQ(list.out.find("attacker"), std::string::npos) << list.out;
}

TEST_F(RefusalProcessTest, AHubCertificateFromAnotherAuthorityIsRefusedWithAnExplanation) {
  auto other = harness::MakePki(dir_.File("other-tls"));
  ASSERT_TRUE(other.ok());
  node::ClientOptions o;
  o.address = hub_->address();
  o.ca_file = other->ca();
  o.call_timeout_millis = 5000;
  auto client = node::SyncClient::Create(o);
  ASSERT_TRUE(client.ok());
  auto hello = (*client)->Hello(nullptr);
  ASSERT_FALSE(hello.ok());
  EXPECT_EQ(hello.status().code(), absl::StatusCode::kUnavailable) << hello.status();
  EXPECT_NE(hello.status().message().find("CA file"), std::string::npos) << hello.status();
}

TEST_F(RefusalTest, PlainTextIsRefusedOffLoopback) {
  // Names that merely start like a loopback address are other machines
  // (proto/address.h; the full table is tests/address_test.cc).
  for (const char* listen : {"0.0.0.0:0", "127.0.0.1.evil:0", "localhost.evil.example:0"}) {
    auto r = harness::Run({harness::BinDir() + "/fieldhub", "serve", "--data-dir",
                           hub_->data_dir(), "--insecure", "--listen", listen});
    EXPECT_EQ(r.exit_code, 1) << listen;
    EXPECT_NE(r.err.find("loopback only"), std::string::npos) << listen << ": " << r.err;
  }
  for (const char* address : {"10.1.2.3:7443", "127.evil.example:7443", "127.1:7443"}) {
    node::ClientOptions o;
    o.address = address;
    o.insecure = true;
    auto client = node::SyncClient::Create(o);
    ASSERT_FALSE(client.ok()) << address;
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_NE(client.status().message().find("loopback"), std::string::npos) << client.status();
  }
  // Loopback itself still works in plain text (the tests' own channel).
  node::ClientOptions o;
  o.address = "[::1]:7443";
  o.insecure = true;
  EXPECT_TRUE(node::SyncClient::Create(o).ok());
}

TEST_F(RefusalProcessTest, AnOversizedPushIsRefusedAndNothingStored) {
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  // A real commit followed by 20 MiB: over the hub's 16 MiB message limit.
  pb::PushRequest req = PushOf(Unpushed(n.replica()));
  req.add_commits()->set_canonical(std::string(20 << 20, 'x'));
  auto stub = Stub();
  grpc::ClientContext ctx;
  Auth(&ctx, n.credential());
  pb::PushResponse resp;
  grpc::Status s = stub->Push(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(HubHead(), 0);
}

TEST_F(RefusalProcessTest, TooManyCommitsInOnePushAreRefused) {
  auto& n = AddNode("LC");
  std::vector<LocalTxn> txns(wire::kMaxPushCommits + 1);
  for (auto& t : txns) {
    t.Create("organisations", Id16::NewRandom(), {{"name", Value::Text("Hội LHPN")}});
  }
  ASSERT_TRUE(n.replica().WriteMany(txns).ok());
  auto stub = Stub();
  grpc::ClientContext ctx;
  Auth(&ctx, n.credential());
  pb::PushResponse resp;
  grpc::Status s = stub->Push(&ctx, PushOf(Unpushed(n.replica())), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(HubHead(), 0);
}

TEST_F(RefusalProcessTest, ABatchWithOneMalformedCommitIsRefusedWhole) {
  join_offices_ = false;  // no sync before the pushes this test makes by hand
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  pb::PushRequest req = PushOf(Unpushed(n.replica()));
  std::string* second = req.mutable_commits(1)->mutable_canonical();
  second->resize(second->size() - 3);  // truncated
  auto stub = Stub();
  grpc::ClientContext ctx;
  Auth(&ctx, n.credential());
  pb::PushResponse resp;
  grpc::Status s = stub->Push(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("commit 1 of 2"), std::string::npos) << s.error_message();
  EXPECT_EQ(HubHead(), 0);
  // Unknown field in a well-formed commit: refused by schema validation.
  auto& m = AddNode("LC");
  Commit c;
  c.author = m.replica().device_id();
  c.seq = 1;
  c.hlc = Hlc::FromParts(static_cast<uint64_t>(SystemClock::Get()->NowMillis()), 0);
  c.changes.push_back(RowChange{"cases", Id16::NewRandom(),
                                {FieldWrite{"_live", Value::Int(1), std::nullopt, {}},
                                 FieldWrite{"no_such_column", Value::Text("x"), std::nullopt, {}}}});
  c.signature = Must(crypto::SignCommit(m.identity(), c));  // well signed, badly made
  grpc::ClientContext ctx2;
  Auth(&ctx2, m.credential());
  s = stub->Push(&ctx2, PushOf({c}), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("no_such_column"), std::string::npos) << s.error_message();
  EXPECT_EQ(HubHead(), 0);
}

// Refused alone (CLOCK_AHEAD, protocol version 3): never stored as
// stamped. The laptop's clock is right by the time it syncs, so it re-dates
// the commit and sends it (docs/PROTOCOL.md, "Work stamped by a clock
// ahead"); before, the pass failed FAILED_PRECONDITION for ever.
TEST_F(RefusalTest, ACommitStampedFarInTheFutureIsRefusedAndReDatedByItsLaptop) {
  auto& n = AddNode("LC");
  // A replica whose clock is two hours ahead writes the commit.
  FakeClock ahead(SystemClock::Get()->NowMillis() + 2 * 3600 * 1000);
  ReplicaOptions o;
  o.path = n.dir() + "/replica.db";
  o.clock = &ahead;
  auto skewed = Replica::Open(o);
  ASSERT_TRUE(skewed.ok());
  auto keys = KeyRing::Open(skewed->get(), "LC");
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_TRUE((*keys)->Unlock(n.identity().Clone()).ok());
  (*skewed)->SetSecurity((*keys)->Security());
  NewCase(**skewed, "LC", "Nguyễn Thị Hằng");
  auto r = n.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->push_refused.ok()) << r->push_refused;
  EXPECT_EQ(r->redated, 1u);
  EXPECT_NE(r->redate_note.find("this laptop's clock was 2 hours ahead; 1 change was re-dated "
                                "and sent"),
            std::string::npos)
      << r->redate_note;
  auto hub = OpenHubRows();
  auto logged = hub->LogAfter(0, 100);
  ASSERT_TRUE(logged.ok()) << logged.status();
  ASSERT_EQ(logged->size(), 1u);
  EXPECT_EQ(logged->front().second.seq, 3u) << "seq 1 refused, 2 its withdrawal";
  EXPECT_LT(static_cast<int64_t>(logged->front().second.hlc.wall_millis()),
            SystemClock::Get()->NowMillis() + 60'000)
      << "stored as stamped: " << logged->front().second.hlc.ToString();
}

// A pull from a cursor past the end of the hub's log (a hub restored from
// an older backup): a node that does not follow the hub's log chain (a
// build before it) is refused, as before; one that does pulls again from
// its newest mark the hub still holds (docs/PROTOCOL.md, "A hub put back
// from a backup").
TEST_F(RefusalTest, APullFromACursorPastTheHubsLogIsRefusedUnlessTheNodeFollowsTheLogChain) {
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  node::SyncReport first = MustSync(n);
  sync::PullRequest old;
  old.protocol_version = 3;
  old.credential = n.credential();
  old.params.cursor = 1'000'000;
  old.params.bootstrapped = true;
  old.params.chains = true;
  absl::Status s = n.client().transport().Pull(
      old, [](sync::PullChunk&) -> absl::Status { return absl::OkStatus(); });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("past the end"), std::string::npos) << s;
  ASSERT_TRUE(n.replica().SetCursor(node::kPulledCursor, 1'000'000).ok());
  auto r = n.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->hub_went_back);
  EXPECT_EQ(r->went_back_from, 1'000'000);
  EXPECT_EQ(r->went_back_to, first.cursor);
}

}  // namespace
}  // namespace fieldsync::testing
