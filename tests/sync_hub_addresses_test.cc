// A node given several addresses of its hub (`fieldnode enroll --hub A,B`,
// node/hub_links.h) moves to the next when one does not answer: here A is
// a closed port on loopback and B a real `fieldhub serve` over TLS. (Two
// hub processes serving one store need the PostgreSQL store, issue 15
// point 2; two SQLite copies would be two hubs, not one.)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/synchronization/mutex.h"
#include "fieldsync/v1/sync.grpc.pb.h"
#include "proto/wire.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

// A loopback port nothing listens on: bound by the kernel's choice, then
// closed, so that a connection to it is refused.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A TLS server under the laptops' CA (the hub's certificate: "another hub
// of the same administrator") that answers Hello as another hub and
// refuses every other call, recording the metadata of every call.
class RecordingHub final : public v1::Sync::Service {
 public:
  // `refuse_hello`: every Hello refused PERMISSION_DENIED too (a proxy
  // answering 403).
  explicit RecordingHub(const harness::Pki& pki, bool refuse_hello = false)
      : refuse_hello_(refuse_hello) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({ReadAll(pki.key()), ReadAll(pki.cert())});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~RecordingHub() override { server_->Shutdown(); }

  std::string address() const { return absl::StrCat("localhost:", port_); }
  // "CALL KEY=VALUE ..." a call.
  std::vector<std::string> calls() {
    absl::MutexLock l(&mu_);
    return calls_;
  }

  grpc::Status Hello(grpc::ServerContext* ctx, const v1::HelloRequest*,
                     v1::HelloResponse* resp) override {
    Record("hello", ctx);
    if (refuse_hello_) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "forbidden");
    resp->set_protocol_version(v1::PROTOCOL_VERSION_2);
    resp->set_hub_id(std::string(16, '\x5a'));
    resp->set_hub_time_millis(absl::ToUnixMillis(absl::Now()));
    return grpc::Status::OK;
  }
  grpc::Status Enroll(grpc::ServerContext* ctx, const v1::EnrollRequest*,
                      v1::EnrollResponse*) override {
    Record("enroll", ctx);
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not this hub");
  }
  grpc::Status Push(grpc::ServerContext* ctx, const v1::PushRequest*, v1::PushResponse*) override {
    Record("push", ctx);
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not this hub");
  }
  grpc::Status Pull(grpc::ServerContext* ctx, const v1::PullRequest*,
                    grpc::ServerWriter<v1::PullResponse>*) override {
    Record("pull", ctx);
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not this hub");
  }

 private:
  void Record(std::string_view call, grpc::ServerContext* ctx) {
    std::string line(call);
    for (const auto& [k, v] : ctx->client_metadata()) {
      absl::StrAppend(&line, " ", std::string(k.data(), k.size()), "=",
                      std::string(v.data(), v.size()));
    }
    absl::MutexLock l(&mu_);
    calls_.push_back(line);
  }

  const bool refuse_hello_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  absl::Mutex mu_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

// Every recorded call, and whether one carried a credential.
bool SawACredential(const std::vector<std::string>& calls, std::string* all) {
  bool saw = false;
  for (const std::string& c : calls) {
    absl::StrAppend(all, c, "\n");
    saw |= c.find(absl::StrCat(" ", wire::kAuthKey, "=")) != std::string::npos ||
           c.find("Bearer") != std::string::npos;
  }
  return saw;
}

class HubAddressesTest : public SyncProcessTest {
 protected:
  std::string Silent() const { return absl::StrCat("127.0.0.1:", silent_); }
  const int silent_ = ClosedPort();
};

TEST_F(HubAddressesTest, ANodeEnrolsAndSyncsThroughTheNextAddressWhenTheFirstDoesNotAnswer) {
  const std::string both = absl::StrCat(Silent(), ",", hub_->address());
  auto& n = AddNode("LC", both);
  ASSERT_FALSE(HasFailure()) << "enrolment through " << both;
  // Written to hub.conf as given: the daemon and fieldnode sync read it.
  EXPECT_NE(ReadAll(n.dir() + "/hub.conf").find("hub = " + both + "\n"), std::string::npos);
  auto& colleague = AddNode("LC");
  const RowId kase = NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  ASSERT_TRUE(n.Connect(both).ok());
  auto pushed = n.Sync();
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(pushed->pushed, 1u);
  MustSync(colleague);
  auto got = colleague.replica().Get("cases", kase);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->has_value()) << "the case did not reach the colleague";
}

TEST_F(HubAddressesTest, TheFirstAddressAloneDoesNotAnswer) {
  // The control of the test above: A alone, the node cannot sync.
  auto& n = AddNode("LC");
  ASSERT_TRUE(n.Connect(Silent()).ok());
  auto r = n.Sync();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST_F(HubAddressesTest, WhenNoAddressAnswersTheFailureNamesEachAndIsRetried) {
  auto& n = AddNode("LC");
  const std::string other = absl::StrCat("127.0.0.1:", ClosedPort());
  ASSERT_TRUE(n.Connect(absl::StrCat(Silent(), ",", other)).ok());
  auto r = n.Sync();
  ASSERT_FALSE(r.ok());
  // UNAVAILABLE: the daemon retries it as any unreachable hub.
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  const std::string m(r.status().message());
  EXPECT_NE(m.find("none of the hub's 2 addresses answered"), std::string::npos) << m;
  EXPECT_NE(m.find(Silent()), std::string::npos) << m;
  EXPECT_NE(m.find(other), std::string::npos) << m;
}

TEST_F(HubAddressesTest, ANodeSyncsAgainOnceItsHubIsBackAfterNoAddressAnswered) {
  // The second and third addresses are this hub, by its name and by its
  // IP. The hub stopped, a pass fails naming all three (the round starts
  // at the address that answered last); the hub back on the same port, the
  // node syncs again.
  const std::string both = absl::StrCat(Silent(), ",", hub_->address(), ",127.0.0.1:",
                                        hub_->port());
  auto& n = AddNode("LC");
  ASSERT_TRUE(n.Connect(both).ok());
  ASSERT_TRUE(n.Sync().ok());
  ASSERT_EQ(hub_->Stop(), 0);
  auto down = n.Sync();
  ASSERT_FALSE(down.ok());
  EXPECT_NE(std::string(down.status().message()).find("none of the hub's 3 addresses answered"),
            std::string::npos)
      << down.status();
  ASSERT_TRUE(hub_->Start().ok());
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  auto up = n.Sync();
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->pushed, 1u);
}

// Attack review 21, MED 1 and 2: an address that answers as another hub
// (here a second `fieldhub serve` under the same CA, which does not know
// this laptop: a retired hub, another province's, a proxy answering
// 401/403) is passed over like one that does not answer. Before, the
// laptop stayed with it and took its refusal for its own credential being
// revoked: the daemon stops for good (exit 1, not restarted), its hub
// healthy at the other address. With this laptop's hub listed after it,
// the pass goes there.
TEST_F(HubAddressesTest, AnAddressAnsweringAsAnotherHubIsPassedOverNeverTakenForARevocation) {
  harness::HubProcess other(dir_.File("other-hub"), *pki_);
  ASSERT_TRUE(other.Start().ok());
  auto& n = AddNode("LC");
  ASSERT_TRUE(n.Connect(absl::StrCat(Silent(), ",", other.address())).ok());
  auto r = n.Sync();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_NE(std::string(r.status().message()).find("answered as this laptop's hub"),
            std::string::npos)
      << r.status();
  ASSERT_TRUE(n.Connect(absl::StrCat(Silent(), ",", other.address(), ",", hub_->address())).ok());
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  auto ok = n.Sync();
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->pushed, 1u);
}

// Attack review 21, MED 2: the first address does not answer, the second
// is a real TLS server under the same CA that answers as another hub and
// records what it receives. The laptop's bearer secret must never reach it:
// the first Hello to an address not yet confirmed carries no credential.
// The pass goes on at the third address, this laptop's hub.
TEST_F(HubAddressesTest, AFallbackAnsweringAsAnotherHubNeverSeesTheSecret) {
  RecordingHub other(*pki_);
  auto& n = AddNode("LC");
  ASSERT_TRUE(
      n.Connect(absl::StrCat(Silent(), ",", other.address(), ",", hub_->address())).ok());
  NewCase(n.replica(), "LC", "Hoàng Văn Thụ");
  auto ok = n.Sync();
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->pushed, 1u);
  // Again, as the daemon's next pass would: still nothing sent to it.
  auto again = n.Sync();
  ASSERT_TRUE(again.ok()) << again.status();
  std::string all;
  const std::vector<std::string> calls = other.calls();
  EXPECT_FALSE(SawACredential(calls, &all)) << all;
  ASSERT_FALSE(calls.empty()) << "the laptop never called the second address";
  for (const std::string& c : calls) EXPECT_EQ(c.rfind("hello", 0), 0u) << c;
}

// Attack review 22, MED 1 (d): an address not confirmed yet that refuses
// the Hello without a credential (a proxy's 403) is passed over, never
// taken for this laptop's refusal (which stops the daemon for good): the
// pass goes on at this laptop's hub.
TEST_F(HubAddressesTest, AnAddressRefusingAHelloWithoutCredentialIsPassedOver) {
  RecordingHub other(*pki_, /*refuse_hello=*/true);
  auto& n = AddNode("LC");
  ASSERT_TRUE(n.Connect(absl::StrCat(other.address(), ",", hub_->address())).ok());
  NewCase(n.replica(), "LC", "Lường Thị Sen");
  auto ok = n.Sync();
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->pushed, 1u);
  std::string all;
  EXPECT_FALSE(SawACredential(other.calls(), &all)) << all;
}

TEST_F(HubAddressesTest, AnAddressAloneAnsweringAsAnotherHubGetsNoSecretAndNoPush) {
  RecordingHub other(*pki_);
  auto& n = AddNode("LC");
  ASSERT_TRUE(n.Connect(other.address()).ok());
  NewCase(n.replica(), "LC", "Vi Thị Đào");
  auto r = n.Sync();
  ASSERT_FALSE(r.ok());
  // UNAVAILABLE: retried as an unreachable hub, never a revocation.
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_NE(std::string(r.status().message()).find("answered as another hub"), std::string::npos)
      << r.status();
  std::string all;
  const std::vector<std::string> calls = other.calls();
  EXPECT_FALSE(SawACredential(calls, &all)) << all;
  for (const std::string& c : calls) EXPECT_EQ(c.rfind("hello", 0), 0u) << c;
}

}  // namespace
}  // namespace fieldsync::testing
