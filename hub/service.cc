#include "hub/service.h"

#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "change/commit_codec.h"
#include "crypto/enrolment_proof.h"
#include "fieldsync/v1/sync.grpc.pb.h"
#include "hub/enrol_challenge.h"
#include "proto/address.h"
#include "proto/wire.h"
#include "schema/schema.h"

namespace fieldsync::hub {
namespace {

namespace pb = fieldsync::v1;

absl::StatusOr<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the hub's ", AV(what), " ", path,
        ": make one with tools/make-certs, or pass --tls-cert/--tls-key"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The lowest schema version that can take everything in `c` (rows,
// their conflict records, commits), 0 when any can.
int VersionToTake(const Schema& schema, const PullChunk& c) {
  int need = 0;
  for (const RowSnapshot& r : c.rows) {
    for (const FieldState& f : r.fields) {
      need = std::max(need, schema.VersionToTake(r.table, f.column, f.value));
    }
    for (const ConflictRecord& k : r.conflicts) {
      need = std::max(need, schema.VersionToTake(k.table, k.column, k.value));
    }
  }
  for (const PulledEntry& e : c.commits) {
    absl::StatusOr<Commit> commit = DecodeCommit(e.canonical);
    if (!commit.ok()) continue;  // the hub stored it; the node will say it is malformed
    for (const RowChange& rc : commit->changes) {
      for (const FieldWrite& f : rc.fields) {
        need = std::max(need, schema.VersionToTake(rc.table, f.column, f.value));
      }
    }
  }
  return need;
}

class SyncService final : public pb::Sync::Service {
 public:
  SyncService(HubStore* store, ClockSource* clock, bool verbose)
      : store_(store), clock_(clock), verbose_(verbose) {}

  grpc::Status Hello(grpc::ServerContext* ctx, const pb::HelloRequest* req,
                     pb::HelloResponse* resp) override {
    if (absl::Status s = wire::CheckProtocol(req->protocol_version(), "node"); !s.ok()) {
      return Fail("hello", s);
    }
    resp->set_protocol_version(pb::PROTOCOL_VERSION_2);
    resp->set_hub_id(std::string(store_->hub_id().view()));
    const int64_t now = clock_->NowMillis();
    resp->set_hub_time_millis(now);
    absl::StatusOr<int64_t> head = store_->LogHead();
    if (!head.ok()) return Fail("hello", head.status());
    resp->set_log_head(*head);
    resp->set_enrol_challenge(challenges_.Issue(now));
    // A credential is optional here; if one is sent it must be valid.
    if (ctx->client_metadata().count(wire::kAuthKey) > 0) {
      absl::StatusOr<NodeInfo> node = Authenticate(ctx);
      if (!node.ok()) return Fail("hello", node.status());
      resp->set_province(node->province);
      // Clamped: a node's clock value is not trusted to stay in range.
      constexpr int64_t kYearMillis = int64_t{366} * 24 * 3600 * 1000;
      const int64_t t = std::clamp<int64_t>(req->node_time_millis(), now - 100 * kYearMillis,
                                            now + 100 * kYearMillis);
      const std::optional<int64_t> skew =
          req->node_time_millis() != 0 ? std::optional<int64_t>(t - now) : std::nullopt;
      store_->RecordCall(node->device, req->protocol_version(), skew, std::nullopt).IgnoreError();
    }
    return grpc::Status::OK;
  }

  grpc::Status Enroll(grpc::ServerContext*, const pb::EnrollRequest* req,
                      pb::EnrollResponse* resp) override {
    if (absl::Status s = wire::CheckProtocol(req->protocol_version(), "node"); !s.ok()) {
      return Fail("enroll", s);
    }
    if (req->token().size() > 200 || req->device_name().size() > 200) {
      return Fail("enroll", absl::InvalidArgumentError(
                                "token or device name over 200 bytes: not an enrolment"));
    }
    absl::StatusOr<DeviceId> device = Id16::FromBytes(req->device_id(), "device id");
    if (!device.ok()) return Fail("enroll", device.status());
    crypto::DevicePublic keys;
    keys.device = *device;
    keys.sign_pk = req->sign_public_key();
    keys.box_pk = req->box_public_key();
    // A proof that the request comes from the keystore of those keys: checked
    // whenever sent; the store requires it to enrol an enrolled device again.
    bool proven = false;
    if (!req->challenge().empty() || !req->proof().empty()) {
      if (absl::Status c = challenges_.Check(req->challenge(), clock_->NowMillis(),
                                             wire::kEnrolChallengeMillis);
          !c.ok()) {
        return Fail("enroll", c);
      }
      if (!crypto::CheckDevicePublic(keys).ok() ||
          !crypto::VerifyEnrolment(keys, store_->hub_id(), req->challenge(), req->token(),
                                   req->proof())
               .ok()) {
        return Fail("enroll", absl::PermissionDeniedError(absl::StrCat(
                                  "the enrolment of device ", device->ToString(),
                                  " carries a proof that does not verify against the public "
                                  "keys it registers: it was not sent from that device's "
                                  "keystore; nothing was changed")));
      }
      proven = true;
    }
    absl::StatusOr<Enrolment> e =
        store_->Enroll(req->token(), *device, req->device_name(), keys, proven);
    if (!e.ok()) return Fail("enroll", e.status());
    resp->set_secret(e->secret);
    resp->set_province(e->province);
    resp->set_hub_id(std::string(store_->hub_id().view()));
    Log(absl::StrCat("enroll device=", device->ToString(), " province=", e->province));
    return grpc::Status::OK;
  }

  grpc::Status Push(grpc::ServerContext* ctx, const pb::PushRequest* req,
                    pb::PushResponse* resp) override {
    if (absl::Status s = wire::CheckProtocol(req->protocol_version(), "node"); !s.ok()) {
      return Fail("push", s);
    }
    absl::StatusOr<NodeInfo> node = Authenticate(ctx);
    if (!node.ok()) return Fail("push", node.status());
    store_->RecordCall(node->device, req->protocol_version(), std::nullopt, std::nullopt)
        .IgnoreError();
    if (req->commits_size() > wire::kMaxPushCommits) {
      return Fail("push", absl::InvalidArgumentError(absl::StrCat(
                              "a push carries at most ", wire::kMaxPushCommits, " commits, this "
                              "one ", req->commits_size(), "; nothing was stored")));
    }
    if (req->key_records_size() > wire::kMaxPushKeyRecords) {
      return Fail("push", absl::InvalidArgumentError(absl::StrCat(
                              "a push carries at most ", wire::kMaxPushKeyRecords,
                              " key records, this one ", req->key_records_size(),
                              "; nothing was stored")));
    }
    std::vector<PushedCommit> commits;
    commits.reserve(static_cast<size_t>(req->commits_size()));
    for (const auto& c : req->commits()) commits.push_back(PushedCommit{c.canonical(), c.signature()});
    std::vector<std::string> key_records(req->key_records().begin(), req->key_records().end());
    const auto start = std::chrono::steady_clock::now();
    PushOrigin origin;
    origin.schema_version = std::max<int>(static_cast<int>(req->schema_version()), 3);
    origin.schema_since_seq = req->schema_since_seq();
    absl::StatusOr<PushOutcome> out = store_->Push(*node, origin, commits, key_records);
    if (!out.ok()) return Fail("push", out.status(), &*node);
    resp->set_acknowledged_seq(out->acknowledged_seq);
    resp->set_applied(out->applied);
    resp->set_duplicates(out->duplicates);
    resp->set_log_head(out->log_head);
    if (verbose_) {
      Log(absl::StrCat("push node=", node->device.ToString(), " province=", node->province,
                       " commits=", commits.size(), " key_records=", key_records.size(),
                       " applied=", out->applied,
                       " duplicates=", out->duplicates, " acked=", out->acknowledged_seq, " ms=",
                       Millis(start)));
    }
    return grpc::Status::OK;
  }

  grpc::Status Pull(grpc::ServerContext* ctx, const pb::PullRequest* req,
                    grpc::ServerWriter<pb::PullResponse>* writer) override {
    if (absl::Status s = wire::CheckProtocol(req->protocol_version(), "node"); !s.ok()) {
      return Fail("pull", s);
    }
    absl::StatusOr<NodeInfo> node = Authenticate(ctx);
    if (!node.ok()) return Fail("pull", node.status());
    size_t batch = req->max_batch() == 0 ? wire::kDefaultPullBatch : req->max_batch();
    if (batch > static_cast<size_t>(wire::kMaxPullBatch)) batch = wire::kMaxPullBatch;
    const auto start = std::chrono::steady_clock::now();
    size_t rows = 0;
    size_t commits = 0;
    // Each message is built in an arena freed at once after it is written.
    google::protobuf::Arena arena;
    PullParams params;
    params.cursor = req->cursor();
    params.bootstrapped = req->bootstrapped();
    params.gc_epoch = req->gc_epoch();
    params.max_batch = batch;
    params.key_cursor = req->key_cursor();
    params.registry_digest = req->registry_digest();
    size_t key_records = 0;
    int64_t delivered = 0;
    // A node of an older schema gets what it can take, then a plain answer
    // (PullRequest.schema_version; 0 is a build before schema version 4).
    const Schema& schema = FieldOfficeSchema();
    const int node_schema = std::max<int>(static_cast<int>(req->schema_version()), 3);
    int held_back = 0;
    absl::Status s = store_->Pull(*node, params, [&](PullChunk& c) {
      if (ctx->IsCancelled()) return false;
      if (node_schema < schema.version()) {
        if (const int need = VersionToTake(schema, c); need > node_schema) {
          held_back = need;
          return false;
        }
      }
      arena.Reset();
      pb::PullResponse& m = *google::protobuf::Arena::CreateMessage<pb::PullResponse>(&arena);
      m.set_reset(c.reset);
      for (const RowSnapshot& r : c.rows) wire::ToProto(r, m.add_rows());
      m.set_rows_position(c.rows_position);
      for (PulledEntry& e : c.commits) {
        auto* pc = m.add_commits();
        pc->set_position(e.position);
        pc->set_canonical(std::move(e.canonical));
        pc->set_signature(std::move(e.signature));
        for (auto& [index, digest] : e.omitted) {
          auto* o = pc->add_omitted();
          o->set_index(index);
          o->set_digest(std::move(digest));
        }
      }
      m.set_registry_included(c.registry_included);
      for (const RegisteredDevice& d : c.registry) {
        auto* r = m.add_registry();
        r->set_device(std::string(d.keys.device.view()));
        r->set_province(d.province);
        r->set_name(d.name);
        r->set_sign_public_key(d.keys.sign_pk);
        r->set_box_public_key(d.keys.box_pk);
        r->set_revoked_position(d.revoked_position);
        r->set_revoked_at_millis(d.revoked_at_millis);
      }
      for (std::string& k : c.key_records) m.add_key_records(std::move(k));
      m.set_key_cursor(c.key_cursor);
      key_records += c.key_records.size();
      m.set_cursor(c.cursor);
      if (c.cursor != 0) delivered = c.cursor;
      m.set_caught_up(c.caught_up);
      m.set_log_head(c.log_head);
      m.set_notice(c.notice);
      m.set_gc_epoch(c.gc_epoch);
      for (const auto& [table, row] : c.purged) {
        auto* ref = m.add_purged();
        ref->set_table(table);
        ref->set_row(std::string(row.view()));
      }
      rows += c.rows.size();
      commits += c.commits.size();
      return writer->Write(m);
    });
    if (held_back > 0) {
      store_->RecordCall(node->device, req->protocol_version(), std::nullopt, req->cursor())
          .IgnoreError();
      if (delivered > 0) store_->RecordDelivered(node->device, delivered).IgnoreError();
      return Fail("pull", absl::FailedPreconditionError(absl::StrCat(
          "this laptop's fieldsync is older than what its colleagues now write (replica schema "
          "version ", node_schema, req->schema_version() == 0 ? " or older" : "", "; the next "
          "changes need version ", held_back, "): install the current fieldsync on this laptop "
          "and sync again. Nothing is lost: this laptop's own changes were sent, and what it "
          "has not received yet waits at the hub")), &*node);
    }
    if (!s.ok()) return Fail("pull", s, &*node);
    // The cursor, now known to be valid, acknowledges everything before it.
    store_->RecordCall(node->device, req->protocol_version(), std::nullopt, req->cursor())
        .IgnoreError();
    if (delivered > 0) store_->RecordDelivered(node->device, delivered).IgnoreError();
    if (verbose_) {
      Log(absl::StrCat("pull node=", node->device.ToString(), " province=", node->province,
                       " from=", req->cursor(), " rows=", rows, " commits=", commits,
                       " key_records=", key_records,
                       " ms=", Millis(start)));
    }
    return grpc::Status::OK;
  }

 private:
  absl::StatusOr<NodeInfo> Authenticate(grpc::ServerContext* ctx) {
    const auto& md = ctx->client_metadata();
    auto it = md.find(wire::kAuthKey);
    if (it == md.end()) {
      return absl::UnauthenticatedError(
          "the call carries no node credential: enrol this node first (fieldnode enroll "
          "--token TOKEN, with a token from the hub administrator)");
    }
    DeviceId device;
    std::string secret;
    absl::Status s = wire::ParseBearer(std::string_view(it->second.data(), it->second.size()),
                                       &device, &secret);
    if (!s.ok()) return s;
    return store_->Authenticate(device, secret);
  }

  grpc::Status Fail(std::string_view call, const absl::Status& s,
                    const NodeInfo* node = nullptr) {
    Log(absl::StrCat(AV(call), " refused", node ? absl::StrCat(" node=", node->device.ToString())
                                                : std::string(),
                     ": ", absl::StatusCodeToString(s.code()), ": ", s.message()));
    return wire::ToGrpc(s);
  }

  static int64_t Millis(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - start)
        .count();
  }

  void Log(const std::string& line) {
    std::fprintf(stderr, "fieldhub: %s\n", line.c_str());
  }

  HubStore* store_;
  ClockSource* clock_;
  bool verbose_;
  const EnrolChallenges challenges_;
};

}  // namespace

RunningServer::~RunningServer() {
  if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(const ServerOptions& options,
                                                           HubStore* store) {
  if (options.listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address \"", options.listen, "\" has no port; use HOST:PORT, e.g. 0.0.0.0:7443"));
  }
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (options.insecure) {
    if (!wire::IsLoopbackAddress(options.listen)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--insecure serves plain text and is allowed on loopback only (127.0.0.0/8 written "
          "as 127.0.0.1, [::1], localhost), not on ", Printable(options.listen),
          "; give the hub a TLS certificate instead"));
    }
    creds = grpc::InsecureServerCredentials();
  } else {
    absl::StatusOr<std::string> cert = ReadFile(options.tls_cert, "TLS certificate");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(options.tls_key, "TLS key");
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    creds = grpc::SslServerCredentials(ssl);
  }
  auto service = std::make_shared<SyncService>(
      store, options.clock ? options.clock : SystemClock::Get(), options.verbose);
  grpc::ServerBuilder builder;
  auto running = std::make_unique<RunningServer>();
  builder.AddListeningPort(options.listen, creds, &running->port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(wire::kMaxMessageBytes);
  builder.SetMaxSendMessageSize(wire::kMaxMessageBytes);
  if (options.compress) builder.SetDefaultCompressionAlgorithm(GRPC_COMPRESS_GZIP);
  // Idle or dead links are noticed rather than held forever.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.RegisterService(service.get());
  running->server = builder.BuildAndStart();
  if (!running->server || running->port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "could not listen on ", options.listen,
        ": the address is in use or not available here; choose another with --listen"));
  }
  running->service = service;
  return running;
}

}  // namespace fieldsync::hub
