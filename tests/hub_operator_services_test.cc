// What `fieldhub serve` offers whoever operates it (docs/OPERATING.md), on a
// real `fieldhub serve` process over its TLS port: gRPC health checks
// (grpc.health.v1.Health: SERVING once it serves, NOT_SERVING once it is
// stopping), server reflection (the services grpcurl would list), and its
// log: one line per event, with sd-daemon's priority prefix when stderr is
// the journal ($JOURNAL_STREAM) and none otherwise.
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/impl/codegen/sync_stream.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fieldsync/v1/sync.grpc.pb.h"
#include "google/protobuf/descriptor.pb.h"
#include "hub/operator_streams.h"
#include "operator_client.pb.h"
#include "support/temp_dir.h"
#include "tools/lib/cutting_proxy.h"
#include "tools/lib/sync_harness.h"

namespace fieldsync {
namespace {

namespace op = fieldsync::test::probe;
using harness::HubProcess;

constexpr char kCheck[] = "/grpc.health.v1.Health/Check";
constexpr char kWatch[] = "/grpc.health.v1.Health/Watch";
constexpr char kReflection[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::chrono::system_clock::time_point In(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

// A Hello of a protocol the hub does not speak: a refusal, logged.
void HelloOfAnUnknownProtocol(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::Sync::NewStub(channel);
  v1::HelloRequest req;
  req.set_protocol_version(static_cast<v1::ProtocolVersion>(99));
  v1::HelloResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(In(10));
  EXPECT_FALSE(stub->Hello(&ctx, req, &resp).ok());
}

// The lines of a log; fails the test on a last line without its newline.
std::vector<std::string> Lines(const std::string& log) {
  EXPECT_TRUE(!log.empty() && log.back() == '\n') << log;
  std::vector<std::string> lines = absl::StrSplit(log, '\n');
  lines.pop_back();
  return lines;
}

// Every line is one of fieldhub's: no gRPC or abseil line, no control
// character (no ANSI colour, no line of its own forged by a node's bytes).
void ExpectOnlyFieldhubLines(const std::vector<std::string>& lines, const std::string& prefix) {
  const std::regex line(prefix + "fieldhub: [^\\x00-\\x1f\\x7f]+");
  for (const std::string& l : lines) EXPECT_TRUE(std::regex_match(l, line)) << "'" << l << "'";
}

class OperatorServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = harness::MakePki(dir_.File("pki"));
    ASSERT_TRUE(pki.ok()) << pki.status();
    hub_ = std::make_unique<HubProcess>(dir_.File("hub"), *pki);
  }

  // A channel as a monitoring probe opens it: TLS with the hub's CA, no
  // node credential.
  std::shared_ptr<grpc::Channel> TlsChannel() const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadAll(hub_->pki().ca());
    return grpc::CreateChannel(absl::StrCat("localhost:", hub_->port()),
                               grpc::SslCredentials(ssl));
  }

  static grpc::Status Check(grpc::Channel* channel, const std::string& service,
                            op::HealthCheckResponse* out) {
    op::HealthCheckRequest req;
    req.set_service(service);
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10));
    const grpc::internal::RpcMethod method(kCheck, grpc::internal::RpcMethod::NORMAL_RPC);
    return grpc::internal::BlockingUnaryCall(channel, method, &ctx, req, out);
  }

  // Serves with $JOURNAL_STREAM set to `journal_stream`, makes one refused
  // call, stops: the lines the hub wrote to its stderr (the harness's
  // serve.log).
  std::vector<std::string> ServeOnceWithJournalStream(const std::string& journal_stream) {
    EXPECT_EQ(setenv("JOURNAL_STREAM", journal_stream.c_str(), 1), 0);
    const absl::Status started = hub_->Start();
    unsetenv("JOURNAL_STREAM");
    EXPECT_TRUE(started.ok()) << started;
    if (!started.ok()) return {};
    HelloOfAnUnknownProtocol(TlsChannel());
    EXPECT_EQ(hub_->Stop(), 0);
    return Lines(ReadAll(hub_->log_path()));
  }

  fieldsync::testing::TempDir dir_;
  std::unique_ptr<HubProcess> hub_;
};

TEST_F(OperatorServicesTest, HealthCheckSaysServingOverTheHubsTlsWithoutACredential) {
  ASSERT_TRUE(hub_->Start().ok());
  auto channel = TlsChannel();
  for (const std::string service : {"", "fieldsync.v1.Sync"}) {
    op::HealthCheckResponse resp;
    grpc::Status s = Check(channel.get(), service, &resp);
    ASSERT_TRUE(s.ok()) << "'" << service << "': " << s.error_message();
    EXPECT_EQ(resp.status(), op::HealthCheckResponse::SERVING) << "'" << service << "'";
  }
  // A service the hub does not serve is not found, not said healthy.
  op::HealthCheckResponse resp;
  EXPECT_EQ(Check(channel.get(), "fieldsync.v1.Admin", &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(OperatorServicesTest, HealthCheckHasNoPlainTextDoorBesideTheHubsTls) {
  ASSERT_TRUE(hub_->Start().ok());
  auto plain = grpc::CreateChannel(absl::StrCat("localhost:", hub_->port()),
                                   grpc::InsecureChannelCredentials());
  op::HealthCheckResponse resp;
  grpc::Status s = Check(plain.get(), "", &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(resp.status(), op::HealthCheckResponse::UNKNOWN);
}

TEST_F(OperatorServicesTest, HealthWatchTurnsNotServingOnSigterm) {
  ASSERT_TRUE(hub_->Start().ok());
  auto channel = TlsChannel();
  op::HealthCheckRequest req;  // "": the hub as a whole
  grpc::ClientContext ctx;
  ctx.set_deadline(In(30));
  const grpc::internal::RpcMethod method(kWatch, grpc::internal::RpcMethod::SERVER_STREAMING);
  std::unique_ptr<grpc::ClientReader<op::HealthCheckResponse>> watch(
      grpc::internal::ClientReaderFactory<op::HealthCheckResponse>::Create(channel.get(), method,
                                                                           &ctx, req));
  op::HealthCheckResponse resp;
  ASSERT_TRUE(watch->Read(&resp));
  EXPECT_EQ(resp.status(), op::HealthCheckResponse::SERVING);
  ASSERT_EQ(kill(hub_->pid(), SIGTERM), 0);
  ASSERT_TRUE(watch->Read(&resp)) << "the watch ended without a word: " << watch->Finish().error_message();
  EXPECT_EQ(resp.status(), op::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(hub_->Stop(), 0);
}

// A server reflection stream, open until `ctx` ends.
std::unique_ptr<
    grpc::ClientReaderWriter<op::ServerReflectionRequest, op::ServerReflectionResponse>>
Reflection(grpc::Channel* channel, grpc::ClientContext* ctx) {
  const grpc::internal::RpcMethod method(kReflection, grpc::internal::RpcMethod::BIDI_STREAMING);
  return std::unique_ptr<
      grpc::ClientReaderWriter<op::ServerReflectionRequest, op::ServerReflectionResponse>>(
      grpc::internal::ClientReaderWriterFactory<op::ServerReflectionRequest,
                                                op::ServerReflectionResponse>::Create(channel,
                                                                                      method,
                                                                                      ctx));
}

// A health Watch of the hub as a whole, open until `ctx` ends.
std::unique_ptr<grpc::ClientReader<op::HealthCheckResponse>> Watch(grpc::Channel* channel,
                                                                   grpc::ClientContext* ctx) {
  op::HealthCheckRequest req;
  ctx->set_deadline(In(60));
  const grpc::internal::RpcMethod method(kWatch, grpc::internal::RpcMethod::SERVER_STREAMING);
  return std::unique_ptr<grpc::ClientReader<op::HealthCheckResponse>>(
      grpc::internal::ClientReaderFactory<op::HealthCheckResponse>::Create(channel, method, ctx,
                                                                           req));
}

// A TLS channel to the hub through a proxy that connects from `source` (a
// loopback address other than 127.0.0.1): another peer to the hub.
std::shared_ptr<grpc::Channel> TlsChannelAt(const std::string& ca, int port) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadAll(ca);
  return grpc::CreateChannel(absl::StrCat("localhost:", port), grpc::SslCredentials(ssl));
}

// Whether a Watch opened now on `channel` is served (its first answer
// read); the stream is kept open in `held` when it is.
bool WatchServed(grpc::Channel* channel,
                 std::vector<std::unique_ptr<grpc::ClientContext>>* contexts,
                 std::vector<std::unique_ptr<grpc::ClientReader<op::HealthCheckResponse>>>* held) {
  contexts->push_back(std::make_unique<grpc::ClientContext>());
  held->push_back(Watch(channel, contexts->back().get()));
  op::HealthCheckResponse resp;
  if (held->back()->Read(&resp)) return resp.status() == op::HealthCheckResponse::SERVING;
  EXPECT_EQ(held->back()->Finish().error_code(), grpc::StatusCode::CANCELLED);
  held->pop_back();
  contexts->pop_back();
  return false;
}

void CancelAll(std::vector<std::unique_ptr<grpc::ClientContext>>* contexts,
               std::vector<std::unique_ptr<grpc::ClientReader<op::HealthCheckResponse>>>* held) {
  for (size_t i = 0; i < held->size(); ++i) {
    (*contexts)[i]->TryCancel();
    (*held)[i]->Finish();
  }
  held->clear();
  contexts->clear();
}

// Attack review 22, LOW 4: the cap was only global, so one client holding
// 32 idle Watch streams shut out every real monitor.
TEST_F(OperatorServicesTest, OperatorStreamsPastAPeersCapAreCancelledAndAnotherPeersAreServed) {
  ASSERT_TRUE(hub_->Start().ok());
  auto channel = TlsChannel();
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<op::HealthCheckResponse>>> watches;
  for (int i = 0; i < hub::kMaxOperatorStreamsAPeer; ++i) {
    ASSERT_TRUE(WatchServed(channel.get(), &contexts, &watches)) << i;
  }
  // One more from the same peer (a new connection is the same peer):
  // cancelled as it starts.
  EXPECT_FALSE(WatchServed(TlsChannel().get(), &contexts, &watches))
      << "a watch past the peer's cap was served";
  // A reflection stream counts with them.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10));
    auto stream = Reflection(channel.get(), &ctx);
    op::ServerReflectionRequest list;
    list.set_list_services("*");
    stream->Write(list);
    op::ServerReflectionResponse resp;
    EXPECT_FALSE(stream->Read(&resp)) << "a reflection stream past the cap was served";
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // Another peer's monitor is served.
  testing::CuttingProxy other("127.0.0.1", hub_->port());
  other.SetSourceAddress("127.0.0.2");
  ASSERT_TRUE(other.Start().ok());
  EXPECT_TRUE(WatchServed(TlsChannelAt(hub_->pki().ca(), other.port()).get(), &contexts, &watches))
      << "another peer's watch was shut out by one peer's streams";
  // The sync service is not capped, nor is a health Check.
  {
    auto stub = v1::Sync::NewStub(channel);
    v1::HelloRequest req;
    req.set_protocol_version(v1::PROTOCOL_VERSION_2);
    v1::HelloResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10));
    grpc::Status s = stub->Hello(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    op::HealthCheckResponse health;
    EXPECT_TRUE(Check(channel.get(), "", &health).ok());
  }
  // One of the peer's watches ends: it can start another.
  contexts.front()->TryCancel();
  watches.front()->Finish();
  watches.erase(watches.begin());
  contexts.erase(contexts.begin());
  bool served = false;
  for (int tries = 0; tries < 50 && !served; ++tries) {
    served = WatchServed(channel.get(), &contexts, &watches);
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(served);
  CancelAll(&contexts, &watches);
  other.Stop();
  EXPECT_EQ(hub_->Stop(), 0);
}

TEST_F(OperatorServicesTest, OperatorStreamsPastTheHubsCapAreCancelledWhateverTheirPeer) {
  ASSERT_TRUE(hub_->Start().ok());
  std::vector<std::unique_ptr<testing::CuttingProxy>> peers;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<op::HealthCheckResponse>>> watches;
  constexpr int kPeers = hub::kMaxOperatorStreams / hub::kMaxOperatorStreamsAPeer + 1;
  for (int p = 0; p < kPeers; ++p) {
    peers.push_back(std::make_unique<testing::CuttingProxy>("127.0.0.1", hub_->port()));
    peers.back()->SetSourceAddress(absl::StrCat("127.0.1.", p + 1));
    ASSERT_TRUE(peers.back()->Start().ok());
    channels.push_back(TlsChannelAt(hub_->pki().ca(), peers.back()->port()));
  }
  for (int p = 0; p + 1 < kPeers; ++p) {
    for (int i = 0; i < hub::kMaxOperatorStreamsAPeer; ++i) {
      ASSERT_TRUE(WatchServed(channels[p].get(), &contexts, &watches)) << p << " " << i;
    }
  }
  ASSERT_EQ(static_cast<int>(watches.size()), hub::kMaxOperatorStreams);
  EXPECT_FALSE(WatchServed(channels.back().get(), &contexts, &watches))
      << "a watch past the hub's cap was served";
  CancelAll(&contexts, &watches);
  for (auto& p : peers) p->Stop();
  EXPECT_EQ(hub_->Stop(), 0);
}

// What a health Check of the hub as a whole says within `seconds`, once it
// says `want` (or what it said last).
op::HealthCheckResponse::ServingStatus AwaitHealth(grpc::Channel* channel,
                                                   op::HealthCheckResponse::ServingStatus want,
                                                   int seconds) {
  op::HealthCheckResponse::ServingStatus last = op::HealthCheckResponse::UNKNOWN;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    op::HealthCheckRequest req;
    op::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10));
    const grpc::internal::RpcMethod method(kCheck, grpc::internal::RpcMethod::NORMAL_RPC);
    if (grpc::internal::BlockingUnaryCall(channel, method, &ctx, req, &resp).ok()) {
      last = resp.status();
      if (last == want) return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return last;
}

TEST_F(OperatorServicesTest, HealthSaysNotServingWhileTheHubsFileIsGoneThenServingAgain) {
  ASSERT_TRUE(hub_->Start().ok());
  auto channel = TlsChannel();
  ASSERT_EQ(AwaitHealth(channel.get(), op::HealthCheckResponse::SERVING, 10),
            op::HealthCheckResponse::SERVING);
  const std::string db = hub_->data_dir() + "/hub.db";
  ASSERT_EQ(std::rename(db.c_str(), (db + ".moved").c_str()), 0);
  EXPECT_EQ(AwaitHealth(channel.get(), op::HealthCheckResponse::NOT_SERVING, 15),
            op::HealthCheckResponse::NOT_SERVING);
  ASSERT_EQ(std::rename((db + ".moved").c_str(), db.c_str()), 0);
  EXPECT_EQ(AwaitHealth(channel.get(), op::HealthCheckResponse::SERVING, 15),
            op::HealthCheckResponse::SERVING);
  ASSERT_EQ(hub_->Stop(), 0);
  const std::vector<std::string> lines = Lines(ReadAll(hub_->log_path()));
  ExpectOnlyFieldhubLines(lines, "");
  int gone = 0;
  int back = 0;
  for (const std::string& l : lines) {
    gone += l == absl::StrCat("fieldhub: the hub's file ", db,
                              " is gone (deleted or moved) (health: NOT_SERVING)");
    back += l == "fieldhub: the store answers again (health: SERVING)";
  }
  EXPECT_EQ(gone, 1) << ReadAll(hub_->log_path());
  EXPECT_EQ(back, 1);
}

TEST_F(OperatorServicesTest, ReflectionListsTheHubsServicesAndDescribesSync) {
  ASSERT_TRUE(hub_->Start().ok());
  auto channel = TlsChannel();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(10));
  auto stream = Reflection(channel.get(), &ctx);
  // What `grpcurl localhost:PORT list` asks.
  op::ServerReflectionRequest list;
  list.set_list_services("*");
  ASSERT_TRUE(stream->Write(list));
  op::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp)) << stream->Finish().error_message();
  ASSERT_TRUE(resp.has_list_services_response()) << resp.DebugString();
  std::set<std::string> names;
  for (const op::ServiceResponse& s : resp.list_services_response().service()) {
    names.insert(s.name());
  }
  EXPECT_EQ(names, (std::set<std::string>{"fieldsync.v1.Sync", "grpc.health.v1.Health",
                                          "grpc.reflection.v1alpha.ServerReflection"}));
  // What `grpcurl localhost:PORT describe fieldsync.v1.Sync` asks.
  op::ServerReflectionRequest symbol;
  symbol.set_file_containing_symbol("fieldsync.v1.Sync");
  ASSERT_TRUE(stream->Write(symbol));
  ASSERT_TRUE(stream->Read(&resp)) << stream->Finish().error_message();
  ASSERT_TRUE(resp.has_file_descriptor_response()) << resp.DebugString();
  ASSERT_GE(resp.file_descriptor_response().file_descriptor_proto_size(), 1);
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(file.ParseFromString(resp.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(file.name(), "fieldsync/v1/sync.proto");
  ASSERT_EQ(file.service_size(), 1);
  std::set<std::string> methods;
  for (const auto& m : file.service(0).method()) methods.insert(m.name());
  EXPECT_EQ(methods, (std::set<std::string>{"Hello", "Enroll", "Push", "Pull"}));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(OperatorServicesTest, LogLinesCarrySdDaemonPrioritiesWhenStderrIsTheJournal) {
  // stderr is the file the harness appends to: made by a first run, then
  // emptied (the same inode) so that $JOURNAL_STREAM can name it, as
  // systemd names the journal's stream socket.
  ASSERT_TRUE(hub_->Start().ok());
  ASSERT_EQ(hub_->Stop(), 0);
  { std::ofstream empty(hub_->log_path(), std::ios::trunc); }
  struct stat st {};
  ASSERT_EQ(stat(hub_->log_path().c_str(), &st), 0);
  const std::vector<std::string> lines = ServeOnceWithJournalStream(
      absl::StrCat(static_cast<unsigned long long>(st.st_dev), ":",
                   static_cast<unsigned long long>(st.st_ino)));
  ExpectOnlyFieldhubLines(lines, "<[3-6]>");
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines.front().rfind("<5>fieldhub: serving ", 0), 0u) << lines.front();
  EXPECT_EQ(lines.back(), "<5>fieldhub: stopped");
  int refusals = 0;
  for (const std::string& l : lines) refusals += l.rfind("<4>fieldhub: hello refused: ", 0) == 0;
  EXPECT_EQ(refusals, 1);
}

TEST_F(OperatorServicesTest, AFloodOfRefusalsFromOnePeerIsLoggedTenTimesThenCounted) {
  ASSERT_TRUE(hub_->Start().ok());
  auto channel = TlsChannel();
  for (int i = 0; i < 40; ++i) HelloOfAnUnknownProtocol(channel);
  // A refusal of another kind from the same peer is still written.
  {
    auto stub = v1::Sync::NewStub(channel);
    v1::PullRequest req;
    req.set_protocol_version(static_cast<v1::ProtocolVersion>(99));
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10));
    v1::PullResponse resp;
    auto reader = stub->Pull(&ctx, req);
    while (reader->Read(&resp)) {
    }
    EXPECT_FALSE(reader->Finish().ok());
  }
  ASSERT_EQ(hub_->Stop(), 0);
  const std::vector<std::string> lines = Lines(ReadAll(hub_->log_path()));
  ExpectOnlyFieldhubLines(lines, "");
  int hellos = 0;
  int pulls = 0;
  std::vector<std::string> summaries;
  for (const std::string& l : lines) {
    hellos += l.rfind("fieldhub: hello refused: ", 0) == 0;
    pulls += l.rfind("fieldhub: pull refused: ", 0) == 0;
    if (l.find(" more like this suppressed ") != std::string::npos) summaries.push_back(l);
  }
  EXPECT_EQ(hellos, 10);
  EXPECT_EQ(pulls, 1);
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_TRUE(std::regex_match(
      summaries[0], std::regex("fieldhub: 30 more like this suppressed in the last [0-9]+ s: "
                               "hello refused: [A-Z_]+ from ipv[46]:(127\\.0\\.0\\.1|\\[::1\\])")))
      << summaries[0];
  // Said before the hub says it stopped.
  EXPECT_EQ(lines.back(), "fieldhub: stopped");
}

TEST_F(OperatorServicesTest, LogLinesHaveNoPrefixOnATerminalOrAFile) {
  // $JOURNAL_STREAM naming another file (stderr redirected under a unit)
  // is not the journal either.
  const std::vector<std::string> lines = ServeOnceWithJournalStream("1:1");
  ExpectOnlyFieldhubLines(lines, "");
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines.front().rfind("fieldhub: serving ", 0), 0u) << lines.front();
  EXPECT_EQ(lines.back(), "fieldhub: stopped");
}

}  // namespace
}  // namespace fieldsync
