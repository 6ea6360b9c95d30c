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

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/synchronization/mutex.h"
#include "fieldsync/v1/sync.grpc.pb.h"
#include "crypto/credential_proof.h"
#include "node/client.h"
#include "proto/tls_files.h"
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

// A server certificate for localhost and 127.0.0.1 of its own, signed by
// the CA of `pki` (what anyone the CA issues a certificate to holds), in
// `dir`: a Pki whose cert() and key() are the new ones.
harness::Pki SameCaServer(const harness::Pki& pki, const std::string& dir) {
  const std::string script = absl::StrCat(
      "set -e; mkdir -p '", dir, "'; cd '", dir, "'; cp '", pki.ca(), "' ca.crt; ",
      "openssl ecparam -name prime256v1 -genkey -noout -out hub.key 2>/dev/null; ",
      "openssl req -new -key hub.key -subj /CN=localhost -out hub.csr; ",
      "printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature\\n",
      "extendedKeyUsage=serverAuth\\nsubjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext; ",
      "openssl x509 -req -in hub.csr -CA '", pki.ca(), "' -CAkey '", pki.dir, "/ca.key' ",
      "-set_serial 0x$(openssl rand -hex 8) -days 30 -sha256 -extfile ext -out hub.crt ",
      "2>/dev/null");
  harness::CommandResult r = harness::Run({"/bin/bash", "-c", script});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return harness::Pki{dir};
}

// A TLS server under the laptops' CA that answers Hello as a hub (another
// hub by default, or the laptop's own hub's id, repeated) and refuses
// every other call, recording the metadata of every call.
class RecordingHub final : public v1::Sync::Service {
 public:
  struct Options {
    // Every Hello refused PERMISSION_DENIED (a proxy answering 403).
    bool refuse_hello = false;
    // The hub id its Hello answers: another hub's unless given.
    std::string hub_id = std::string(16, '\x5a');
    // HelloResponse.credential_proof: whether it says it checks proofs.
    uint32_t credential_proof = 0;
    // 0: a port of the kernel's choice.
    int port = 0;
    // Not empty: Hello and Enroll are relayed to the hub at this address
    // (trusting `relay_ca`), their answers passed back and an enrolment's
    // secret recorded (a relay ending TLS with a certificate of its own).
    std::string relay_to = {};
    std::string relay_ca = {};
  };
  // Served with `pki`'s certificate and key.
  explicit RecordingHub(const harness::Pki& pki) : RecordingHub(pki, Options()) {}
  RecordingHub(const harness::Pki& pki, Options options) : options_(std::move(options)) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({ReadAll(pki.key()), ReadAll(pki.cert())});
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", options_.port),
                             grpc::SslServerCredentials(ssl), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~RecordingHub() override { server_->Shutdown(); }

  std::string address() const { return absl::StrCat("localhost:", port_); }
  int port() const { return port_; }
  // "CALL KEY=VALUE ..." a call.
  std::vector<std::string> calls() {
    absl::MutexLock l(&mu_);
    return calls_;
  }
  // Every credential it was sent ({metadata key, value}): a bearer or a
  // proof.
  std::vector<std::pair<std::string, std::string>> credentials() {
    absl::MutexLock l(&mu_);
    return credentials_;
  }

  grpc::Status Hello(grpc::ServerContext* ctx, const v1::HelloRequest* req,
                     v1::HelloResponse* resp) override {
    Record("hello", ctx);
    if (!options_.relay_to.empty()) {
      grpc::ClientContext out;
      out.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      return RelayStub()->Hello(&out, *req, resp);
    }
    if (options_.refuse_hello) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "forbidden");
    }
    resp->set_protocol_version(v1::PROTOCOL_VERSION_2);
    resp->set_hub_id(options_.hub_id);
    resp->set_hub_time_millis(absl::ToUnixMillis(absl::Now()));
    resp->set_province("LC");
    resp->set_credential_proof(options_.credential_proof);
    return grpc::Status::OK;
  }
  grpc::Status Enroll(grpc::ServerContext* ctx, const v1::EnrollRequest* req,
                      v1::EnrollResponse* resp) override {
    Record("enroll", ctx);
    if (options_.relay_to.empty()) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not this hub");
    }
    grpc::ClientContext out;
    out.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    grpc::Status s = RelayStub()->Enroll(&out, *req, resp);
    absl::MutexLock l(&mu_);
    if (s.ok()) secrets_.push_back(resp->secret());
    return s;
  }
  // The secrets it read in the enrolment answers it relayed.
  std::vector<std::string> secrets() {
    absl::MutexLock l(&mu_);
    return secrets_;
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
    absl::MutexLock l(&mu_);
    for (const auto& [k, v] : ctx->client_metadata()) {
      std::string key(k.data(), k.size()), value(v.data(), v.size());
      absl::StrAppend(&line, " ", key, "=", value);
      if (key == wire::kAuthKey || key == wire::kProofKey || key == wire::kLinkProofKey) {
        credentials_.emplace_back(key, value);
      }
    }
    calls_.push_back(line);
  }

  std::unique_ptr<v1::Sync::Stub> RelayStub() {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadAll(options_.relay_ca);
    return v1::Sync::NewStub(grpc::CreateChannel(options_.relay_to, grpc::SslCredentials(ssl)));
  }

  const Options options_;
  int port_ = 0;
  std::vector<std::string> secrets_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::Server> server_;
  absl::Mutex mu_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::string>> credentials_ ABSL_GUARDED_BY(mu_);
};

// A Hello at the hub at `address` carrying metadata `key: value` as a
// laptop's would (what a party that recorded it can do with it).
grpc::Status HelloWith(const std::string& address, const harness::Pki& pki,
                       const std::string& key, const std::string& value,
                       v1::HelloResponse* resp) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadAll(pki.ca());
  auto stub = v1::Sync::NewStub(grpc::CreateChannel(address, grpc::SslCredentials(ssl)));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  ctx.AddMetadata(key, value);
  v1::HelloRequest req;
  req.set_protocol_version(v1::PROTOCOL_VERSION_2);
  return stub->Hello(&ctx, req, resp);
}

// The hub id `n` enrolment recorded (hub.conf), as the 16 bytes Hello
// carries.
std::string HubIdBytes(const harness::LocalNode& n) {
  absl::StatusOr<node::HubConfig> conf = node::LoadHubConfig(n.dir());
  EXPECT_TRUE(conf.ok()) << conf.status();
  if (!conf.ok()) return "";
  absl::StatusOr<DeviceId> id = Id16::Parse(conf->hub_id, "hub id");
  EXPECT_TRUE(id.ok()) << id.status();
  return id.ok() ? std::string(id->view()) : "";
}

// Every credential `recorder` was sent, replayed at `hub`: a line for each
// the hub took (answered with the laptop's province), none if it took none.
std::string TakenAtTheHub(const std::vector<std::pair<std::string, std::string>>& recorded,
                          const harness::HubProcess& hub, const harness::Pki& pki) {
  std::string taken;
  for (const auto& [key, value] : recorded) {
    v1::HelloResponse resp;
    grpc::Status s = HelloWith(hub.address(), pki, key, value, &resp);
    if (s.ok() || !resp.province().empty()) {
      absl::StrAppend(&taken, key, " recorded by the other server was taken by the hub (",
                      resp.province(), ")\n");
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
    }
  }
  return taken;
}

// Every recorded call, and whether one carried a credential.
bool SawACredential(const std::vector<std::string>& calls, std::string* all) {
  bool saw = false;
  for (const std::string& c : calls) {
    absl::StrAppend(all, c, "\n");
    saw |= c.find(absl::StrCat(" ", wire::kAuthKey, "=")) != std::string::npos ||
           c.find("Bearer") != std::string::npos ||
           c.find(absl::StrCat(" ", wire::kProofKey, "=")) != std::string::npos ||
           c.find(absl::StrCat(" ", wire::kLinkProofKey, "=")) != std::string::npos;
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
  RecordingHub other(*pki_, {.refuse_hello = true});
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

// Attack review 22, MED 1 (a): a server holding a certificate of the
// laptops' CA for the hub's name of its own (another hub, a retired one,
// anyone the CA issues one to) repeats the hub's id, which is no secret, and
// records what the laptop sends. Before: the probe confirmed it and it got
// `Bearer <device>.<secret>`, which the real hub took from anyone. Now it
// gets a proof bound to its own certificate: replayed at the real hub,
// UNAUTHENTICATED.
TEST_F(HubAddressesTest, AServerOfTheSameCaRepeatingTheHubsIdRecordsNothingTheHubTakes) {
  auto& n = AddNode("LC");
  const harness::Pki own = SameCaServer(*pki_, dir_.File("same-ca"));
  RecordingHub impostor(own, {.hub_id = HubIdBytes(n), .credential_proof = 1});
  ASSERT_TRUE(n.Connect(impostor.address()).ok());
  NewCase(n.replica(), "LC", "Hà Thị Lan");
  auto r = n.Sync();
  EXPECT_FALSE(r.ok());
  std::string all;
  // Not vacuous: it was taken for the hub and sent a credential.
  ASSERT_TRUE(SawACredential(impostor.calls(), &all)) << all;
  EXPECT_EQ(TakenAtTheHub(impostor.credentials(), *hub_, *pki_), "") << all;
}

// Attack review 23, MED 1: a server of the laptops' CA with a certificate
// of its own relays the enrolment, Hello and Enroll unchanged, to the real
// hub. The laptop's enrolment proof is bound to the certificate it saw
// (the relay's): the hub refuses it, and the relay reads no secret. Before:
// the proof named no connection, the hub took it and the relay read the
// secret in the answer.
TEST_F(HubAddressesTest, ARelayOfTheSameCaEnrollingALaptopAtTheHubReadsNoSecret) {
  const harness::Pki own = SameCaServer(*pki_, dir_.File("same-ca"));
  RecordingHub relay(own, {.relay_to = hub_->address(), .relay_ca = pki_->ca()});
  auto n = harness::LocalNode::Create(dir_.File("relayed"));
  ASSERT_TRUE(n.ok()) << n.status();
  absl::Status enrolled = (*n)->Enroll(*hub_, "LC", relay.address());
  EXPECT_FALSE(enrolled.ok()) << "enrolled through a relay";
  std::string all;
  for (const std::string& c : relay.calls()) absl::StrAppend(&all, c, "\n");
  // Not vacuous: the enrolment went through the relay to the hub.
  ASSERT_NE(all.find("enroll"), std::string::npos) << all;
  EXPECT_TRUE(relay.secrets().empty()) << "the relay read the secret of an enrolment";
  // The same laptop enrols at the hub itself.
  ASSERT_TRUE((*n)->Enroll(*hub_, "LC").ok());
}

// Attack review 22, MED 1 (b): the address was confirmed (a pass went
// through), then another machine answers at it (here: the hub stops and a
// server of the same CA with its own certificate listens on its port; in
// the field a DNS change, a retired hub back). gRPC connects again by
// itself, no probe is made, and whatever the new connection carries is
// bound to what that connection showed: nothing it records is taken at
// the hub. Before: the bearer went on the new connection.
TEST_F(HubAddressesTest, ANewConnectionAtAConfirmedAddressCarriesNothingTheHubTakesFromAnother) {
  auto& n = AddNode("LC");
  ASSERT_TRUE(n.Connect(hub_->address()).ok());
  auto first = n.Sync();
  ASSERT_TRUE(first.ok()) << first.status();
  const int port = hub_->port();
  const harness::Pki own = SameCaServer(*pki_, dir_.File("same-ca"));
  ASSERT_EQ(hub_->Stop(), 0);
  std::string all;
  std::vector<std::pair<std::string, std::string>> recorded;
  {
    RecordingHub impostor(own, {.hub_id = HubIdBytes(n), .credential_proof = 1, .port = port});
    ASSERT_EQ(impostor.port(), port);
    NewCase(n.replica(), "LC", "Sùng Thị Mỷ");
    auto r = n.Sync();
    EXPECT_FALSE(r.ok());
    ASSERT_TRUE(SawACredential(impostor.calls(), &all)) << all;
    recorded = impostor.credentials();
  }
  ASSERT_TRUE(hub_->Start().ok());
  EXPECT_EQ(TakenAtTheHub(recorded, *hub_, *pki_), "") << all;
  // The laptop's own pass, back at its hub, goes through as before.
  auto back = n.Sync();
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->pushed, 1u);
}

// Attack review 22, MED 1 (c): a laptop whose hub.conf has no hub id
// (enrolled before it was kept) made no probe and sent the bearer in its
// first Hello to whatever answered. Now its transport learns the id from a
// Hello without a credential and sends a proof, bound to the certificate
// of the server it reached: a server of the same CA records nothing the
// hub takes.
TEST_F(HubAddressesTest, ALaptopWithoutTheHubsIdGivesAServerOfTheSameCaNothingTheHubTakes) {
  auto& n = AddNode("LC");
  const harness::Pki own = SameCaServer(*pki_, dir_.File("same-ca"));
  RecordingHub impostor(own, {.hub_id = HubIdBytes(n), .credential_proof = 1});
  node::ClientOptions o;
  o.address = impostor.address();
  o.ca_file = pki_->ca();  // and no hub_id
  auto client = node::SyncClient::Create(o);
  ASSERT_TRUE(client.ok()) << client.status();
  NewCase(n.replica(), "LC", "Thào Thị Dua");
  auto r = (*client)->Sync(n.replica(), *n.keys(), n.credential());
  EXPECT_FALSE(r.ok());
  std::string all;
  ASSERT_TRUE(SawACredential(impostor.calls(), &all)) << all;
  EXPECT_EQ(TakenAtTheHub(impostor.credentials(), *hub_, *pki_), "") << all;
}

// A server answering as the laptop's hub that says it checks no proof (a
// hub older than session 23, or anyone claiming to be one to get the
// bearer): the laptop sends it nothing more than the proof of its Hello,
// never the bearer, and no push; UNAVAILABLE (retried) saying to upgrade
// the hub. Before: the bearer.
TEST_F(HubAddressesTest, AHubThatSaysItChecksNoProofGetsNoBearerAndNoPush) {
  auto& n = AddNode("LC");
  const harness::Pki own = SameCaServer(*pki_, dir_.File("same-ca"));
  RecordingHub old(own, {.hub_id = HubIdBytes(n)});
  ASSERT_TRUE(n.Connect(old.address()).ok());
  NewCase(n.replica(), "LC", "Giàng Thị Pà");
  auto r = n.Sync();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_NE(std::string(r.status().message()).find("does not check credential proofs"),
            std::string::npos)
      << r.status();
  std::string all;
  for (const std::string& c : old.calls()) {
    absl::StrAppend(&all, c, "\n");
    EXPECT_EQ(c.rfind("hello", 0), 0u) << c;
    EXPECT_EQ(c.find("Bearer"), std::string::npos) << c;
    EXPECT_EQ(c.find(absl::StrCat(" ", wire::kAuthKey, "=")), std::string::npos) << c;
  }
  EXPECT_EQ(TakenAtTheHub(old.credentials(), *hub_, *pki_), "") << all;
}

// `fieldhub serve --proof-cert FILE`: a proxy that ends TLS in front of the
// hub shows its own certificate; a proof made over it is taken as over the
// hub's own, one over any other certificate of the CA is not. (The proof
// made by hand here is the laptop's: crypto/credential_proof.h, version 2,
// the laptop's link key being registered at its enrolment.)
TEST_F(HubAddressesTest, AProofOverAProxyCertificateGivenToServeIsTakenAndOverAnotherIsNot) {
  const harness::Pki proxy = SameCaServer(*pki_, dir_.File("proxy"));
  const harness::Pki stranger = SameCaServer(*pki_, dir_.File("stranger"));
  ASSERT_EQ(hub_->Stop(), 0);
  hub_->set_serve_args({"--proof-cert", proxy.cert()});
  ASSERT_TRUE(hub_->Start().ok());
  auto& n = AddNode("LC");
  const std::string hub_id = HubIdBytes(n);
  ASSERT_EQ(hub_id.size(), 16u);
  const DeviceId hub = *Id16::FromBytes(hub_id, "hub id");
  const DeviceId device = n.credential().device;
  auto proof_over = [&](const harness::Pki& p) {
    absl::StatusOr<std::string> digest = wire::LeafCertificateDigest(ReadAll(p.cert()));
    EXPECT_TRUE(digest.ok()) << digest.status();
    const std::string over = digest.ok() ? *digest : std::string(32, '\0');
    return wire::LinkProofHeader(device, over,
                                 crypto::LinkKey(n.credential().secret).Proof(hub, device, over));
  };
  for (const harness::Pki* taken : std::vector<const harness::Pki*>{pki_, &proxy}) {
    v1::HelloResponse resp;
    grpc::Status s =
        HelloWith(hub_->address(), *pki_, wire::kLinkProofKey, proof_over(*taken), &resp);
    EXPECT_TRUE(s.ok()) << taken->cert() << ": " << s.error_message();
    EXPECT_EQ(resp.province(), "LC") << taken->cert();
    EXPECT_EQ(resp.credential_proof(), 2u);
  }
  v1::HelloResponse resp;
  grpc::Status s =
      HelloWith(hub_->address(), *pki_, wire::kLinkProofKey, proof_over(stranger), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_EQ(resp.province(), "");
  // And the laptop itself, through the hub's own certificate.
  NewCase(n.replica(), "LC", "Lò Văn Pọm");
  auto r = n.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pushed, 1u);
}

}  // namespace
}  // namespace fieldsync::testing
