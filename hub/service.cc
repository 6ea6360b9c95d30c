#include "hub/service.h"

#include <google/protobuf/arena.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "fieldsync/v1/sync.grpc.pb.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "crypto/credential_proof.h"
#include "hub/operator_streams.h"
#include "hub/refusal_log.h"
#include "hub/serve_log.h"
#include "hub/store_gate.h"
#include "hub/sync_handler.h"
#include "proto/address.h"
#include "proto/tls_files.h"
#include "proto/wire.h"

namespace fieldsync::hub {

// gRPC's Server::Shutdown(deadline) waits until every client has hung up or
// the deadline passes, and laptops keep their connections open between
// passes: counting the calls lets the hub stop as soon as none is running.
class CallsInProgress {
 public:
  class Guard {
   public:
    explicit Guard(CallsInProgress* c) : c_(c) { c_->Enter(); }
    ~Guard() { c_->Leave(); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    CallsInProgress* c_;
  };
  // Whether no call was in progress before `deadline`.
  bool WaitIdle(std::chrono::system_clock::time_point deadline) {
    absl::MutexLock l(&mu_);
    return mu_.AwaitWithDeadline(absl::Condition(this, &CallsInProgress::Idle),
                                 absl::FromChrono(deadline));
  }

 private:
  // Not in Guard's constructor and destructor: clang's thread-safety
  // analysis does not check constructors and destructors.
  void Enter() {
    absl::MutexLock l(&mu_);
    ++n_;
  }
  void Leave() {
    absl::MutexLock l(&mu_);
    --n_;  // WaitIdle's condition is evaluated again on release
  }
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return n_ == 0; }

  absl::Mutex mu_;
  int n_ ABSL_GUARDED_BY(mu_) = 0;
};

namespace {

namespace pb = fieldsync::v1;

absl::StatusOr<std::string> ReadFile(const std::string& path, std::string_view what) {
  absl::StatusOr<std::string> bytes = ReadWholeFile(path);
  if (!bytes.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the hub's ", AV(what), " ", path,
        ": make one with tools/make-certs, or pass --tls-cert/--tls-key"));
  }
  return bytes;
}

// A pulled commit as the wire carries it (its fields moved out of `e`).
void ToProto(sync::PulledEntry& e, pb::PulledCommit* pc) {
  pc->set_position(e.position);
  pc->set_canonical(std::move(e.canonical));
  pc->set_signature(std::move(e.signature));
  pc->set_header(std::move(e.header));
  pc->set_header_signature(std::move(e.header_signature));
  pc->set_header_prev_link(std::move(e.header_prev_link));
  for (size_t i = 0; i < e.omitted.size(); ++i) {
    auto* o = pc->add_omitted();
    o->set_index(e.omitted[i].first);
    o->set_digest(std::move(e.omitted[i].second));
    if (i < e.omitted_tags.size()) o->set_row_tag(std::move(e.omitted_tags[i]));
  }
}

// The peer of the call this thread serves (the synchronous API serves a
// call on one thread), for the refusal lines the handler logs.
thread_local std::string t_peer;

class PeerScope {
 public:
  explicit PeerScope(const grpc::ServerContext* ctx) { t_peer = PeerAddress(ctx->peer()); }
  ~PeerScope() { t_peer.clear(); }
  PeerScope(const PeerScope&) = delete;
  PeerScope& operator=(const PeerScope&) = delete;
};

// fieldsync.v1 to and from the protocol's messages; the hub's side of the
// protocol itself is SyncHandler's.
class SyncService final : public pb::Sync::Service {
 public:
  // `proof_certificates`: the digests a node's credential proof may be
  // bound to (StartServer).
  SyncService(HubStore* store, ClockSource* clock, bool verbose, CallsInProgress* calls,
              const StoreGate* gate, std::vector<std::string> proof_certificates)
      : calls_(calls),
        gate_(gate),
        handler_(
            store, clock, verbose,
            [](const std::string& line, bool refusal) {
              if (refusal) {
                LogRefusal(line, t_peer);
              } else {
                ServeLog(LogPriority::kInfo, line);
              }
            },
            std::move(proof_certificates)) {
    handler_.set_peer([] { return t_peer; });
  }

  // `serve --refuse-bearer` (ServerOptions::refuse_bearer).
  void RefuseBearer(bool refuse) { handler_.set_refuse_bearer(refuse); }

  grpc::Status Hello(grpc::ServerContext* ctx, const pb::HelloRequest* req,
                     pb::HelloResponse* resp) override {
    CallsInProgress::Guard in_progress(calls_);
    PeerScope peer(ctx);
    if (absl::Status s = gate_->Admit(); !s.ok()) return wire::ToGrpc(s);
    sync::HelloRequest r;
    r.protocol_version = req->protocol_version();
    if (absl::Status s = wire::CheckProtocol(r.protocol_version, "node"); !s.ok()) {
      return Refuse("hello", s);
    }
    r.node_time_millis = req->node_time_millis();
    r.max_protocol_version = req->max_protocol_version();
    // A credential is optional here; if one is sent it must be valid.
    if (ctx->client_metadata().count(wire::kAuthKey) > 0 ||
        ctx->client_metadata().count(wire::kProofKey) > 0 ||
        ctx->client_metadata().count(wire::kLinkProofKey) > 0) {
      absl::StatusOr<sync::Credential> cred = Credential(ctx);
      if (!cred.ok()) return Refuse("hello", cred.status());
      r.credential = *cred;
      r.link_public_key = req->link_public_key();
    }
    absl::StatusOr<sync::HelloReply> out = handler_.Hello(r);
    if (!out.ok()) return wire::ToGrpc(out.status());
    resp->set_protocol_version(static_cast<pb::ProtocolVersion>(out->protocol_version));
    resp->set_hub_id(std::string(out->hub_id.view()));
    resp->set_hub_time_millis(out->hub_time_millis);
    resp->set_province(out->province);
    resp->set_log_head(out->log_head);
    resp->set_enrol_challenge(out->enrol_challenge);
    resp->set_compact_headers(static_cast<uint32_t>(out->compact_headers));
    // What a node of session 23 on needs to hear before it sends a proof
    // (1 and 2: this hub checks both).
    resp->set_credential_proof(crypto::kLinkProofVersion);
    resp->set_link_key(out->link_key);
    if (out->own) {
      resp->mutable_own()->set_acknowledged_seq(out->own->acknowledged_seq);
      resp->mutable_own()->set_accounted_seq(out->own->accounted_seq);
      if (out->own->key_records) resp->mutable_own()->set_key_records(*out->own->key_records);
    }
    return grpc::Status::OK;
  }

  grpc::Status Enroll(grpc::ServerContext* ctx, const pb::EnrollRequest* req,
                      pb::EnrollResponse* resp) override {
    CallsInProgress::Guard in_progress(calls_);
    PeerScope peer(ctx);
    if (absl::Status s = gate_->Admit(); !s.ok()) return wire::ToGrpc(s);
    if (absl::Status s = wire::CheckProtocol(req->protocol_version(), "node"); !s.ok()) {
      return Refuse("enroll", s);
    }
    sync::EnrollRequest r;
    r.protocol_version = req->protocol_version();
    absl::StatusOr<DeviceId> device = Id16::FromBytes(req->device_id(), "device id");
    if (!device.ok()) return Refuse("enroll", device.status());
    r.token = req->token();
    r.device = *device;
    r.device_name = req->device_name();
    r.sign_public_key = req->sign_public_key();
    r.box_public_key = req->box_public_key();
    r.challenge = req->challenge();
    r.proof = req->proof();
    absl::StatusOr<sync::EnrollReply> out = handler_.Enroll(r);
    if (!out.ok()) return wire::ToGrpc(out.status());
    resp->set_secret(out->secret);
    resp->set_province(out->province);
    resp->set_hub_id(std::string(out->hub_id.view()));
    return grpc::Status::OK;
  }

  grpc::Status Push(grpc::ServerContext* ctx, const pb::PushRequest* req,
                    pb::PushResponse* resp) override {
    CallsInProgress::Guard in_progress(calls_);
    PeerScope peer(ctx);
    if (absl::Status s = gate_->Admit(); !s.ok()) return wire::ToGrpc(s);
    sync::PushRequest r;
    r.protocol_version = req->protocol_version();
    if (absl::Status s = wire::CheckProtocol(r.protocol_version, "node"); !s.ok()) {
      return Refuse("push", s);
    }
    absl::StatusOr<sync::Credential> cred = Credential(ctx);
    if (!cred.ok()) return Refuse("push", cred.status());
    r.credential = *cred;
    // Counted before anything is copied.
    if (absl::Status s = SyncHandler::CheckPushLimits(static_cast<size_t>(req->commits_size()),
                                                      static_cast<size_t>(req->key_records_size()));
        !s.ok()) {
      return Refuse("push", s);
    }
    r.commits.reserve(static_cast<size_t>(req->commits_size()));
    for (const auto& c : req->commits()) {
      r.commits.push_back(sync::PushedCommit{c.canonical(), c.signature(), c.header(),
                                             c.header_signature(), c.header_prev_link()});
    }
    if (req->backfill_headers_size() > sync::kMaxPushCommits) {
      return Refuse("push", absl::InvalidArgumentError(absl::StrCat(
                                "a push carries at most ", sync::kMaxPushCommits,
                                " backfilled headers; nothing was stored")));
    }
    for (const auto& b : req->backfill_headers()) {
      r.backfill_headers.push_back(sync::ChainEntryBytes{b.header(), b.signature()});
    }
    if (req->withdrawals_size() > sync::kMaxPushWithdrawals) {
      return Refuse("push", absl::InvalidArgumentError(absl::StrCat(
                                "a push carries at most ", sync::kMaxPushWithdrawals,
                                " withdrawals; nothing was stored")));
    }
    for (const auto& w : req->withdrawals()) {
      r.withdrawals.push_back(sync::ChainEntryBytes{w.header(), w.signature()});
    }
    if (req->refused_size() > sync::kMaxPushCommits) {
      return Refuse("push", absl::InvalidArgumentError(absl::StrCat(
                                "a push carries at most ", sync::kMaxPushCommits,
                                " refused headers; nothing was stored")));
    }
    for (const auto& f : req->refused()) {
      r.refused.push_back(sync::RefusedEntryBytes{
          sync::ChainEntryBytes{f.entry().header(), f.entry().signature()},
          static_cast<sync::RefusalCode>(f.code()),
          sync::ChainEntryBytes{f.withdrawn_by().header(), f.withdrawn_by().signature()}});
    }
    r.key_records.assign(req->key_records().begin(), req->key_records().end());
    if (req->statements_size() > 1) {
      return Refuse("push", absl::InvalidArgumentError(
                                "a push carries at most one statement; nothing was stored"));
    }
    r.statements.assign(req->statements().begin(), req->statements().end());
    r.schema_version = req->schema_version();
    r.schema_since_seq = req->schema_since_seq();
    if (!req->relayed_author().empty()) {
      absl::StatusOr<DeviceId> a = Id16::FromBytes(req->relayed_author(), "relayed author");
      if (!a.ok()) return Refuse("push", a.status());
      r.relayed_author = *a;
    }
    absl::StatusOr<sync::PushOutcome> out = handler_.Push(r);
    if (!out.ok()) return wire::ToGrpc(out.status());
    resp->set_acknowledged_seq(out->acknowledged_seq);
    resp->set_applied(out->applied);
    resp->set_duplicates(out->duplicates);
    resp->set_log_head(out->log_head);
    resp->set_accounted_seq(out->accounted_seq);
    resp->set_accounted_link(out->accounted_link);
    resp->set_statement_refusal(out->statement_refusal);
    resp->set_checkpoint_adopted(out->checkpoint_adopted);
    resp->set_checkpoint_note(out->checkpoint_note);
    for (const sync::CommitRefusal& f : out->refusals) {
      pb::CommitRefusal* m = resp->add_refusals();
      m->set_seq(f.seq);
      m->set_code(static_cast<pb::RefusalCode>(f.code));
      m->set_reason(f.reason);
      m->set_depends_on(f.depends_on);
      for (const Version& v : f.never_coming) wire::VersionToProto(v, m->add_never_coming());
      for (const auto& [author, seq] : f.never_after) {
        pb::ChainHead* h = m->add_never_after();
        h->set_device(std::string(author.view()));
        h->set_seq(seq);
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status Pull(grpc::ServerContext* ctx, const pb::PullRequest* req,
                    grpc::ServerWriter<pb::PullResponse>* writer) override {
    CallsInProgress::Guard in_progress(calls_);
    PeerScope peer(ctx);
    if (absl::Status s = gate_->Admit(); !s.ok()) return wire::ToGrpc(s);
    sync::PullRequest r;
    r.protocol_version = req->protocol_version();
    if (absl::Status s = wire::CheckProtocol(r.protocol_version, "node"); !s.ok()) {
      return Refuse("pull", s);
    }
    absl::StatusOr<sync::Credential> cred = Credential(ctx);
    if (!cred.ok()) return Refuse("pull", cred.status());
    r.credential = *cred;
    r.params.cursor = req->cursor();
    r.params.bootstrapped = req->bootstrapped();
    r.params.gc_epoch = req->gc_epoch();
    r.params.gc_id = req->gc_id();
    r.params.max_batch = req->max_batch();
    r.params.max_message_bytes = req->max_message_bytes();
    r.params.key_cursor = req->key_cursor();
    r.params.key_mark = req->key_mark();
    r.params.registry_digest = req->registry_digest();
    r.schema_version = req->schema_version();
    r.params.chains = r.protocol_version >= 3;
    if (req->chain_heads_size() > sync::kMaxChainHeads) {
      return Refuse("pull", absl::InvalidArgumentError(absl::StrCat(
                                "a pull names at most ", sync::kMaxChainHeads,
                                " chain heads; this one ", req->chain_heads_size())));
    }
    for (const auto& h : req->chain_heads()) {
      absl::StatusOr<DeviceId> d = Id16::FromBytes(h.device(), "chain head device");
      if (!d.ok()) return Refuse("pull", d.status());
      r.params.chain_heads.emplace_back(*d, h.seq());
    }
    if (req->chain_wants_size() > sync::kMaxChainHeads) {
      return Refuse("pull", absl::InvalidArgumentError(absl::StrCat(
                                "a pull names at most ", sync::kMaxChainHeads,
                                " chain wants; this one ", req->chain_wants_size())));
    }
    for (const auto& h : req->chain_wants()) {
      absl::StatusOr<DeviceId> d = Id16::FromBytes(h.device(), "chain want device");
      if (!d.ok()) return Refuse("pull", d.status());
      r.params.chain_wants.emplace_back(*d, h.seq());
    }
    r.params.statement_cursor = req->statement_cursor();
    r.params.checkpoint_pages = req->checkpoint_pages();
    if (req->has_resume()) {
      r.params.resume_checkpoint = req->resume().checkpoint();
      r.params.resume_index = req->resume().next_index();
      r.params.proof_kept = req->resume().proof_kept();
    }
    r.params.proof_deltas = req->proof_deltas();
    r.params.compact_headers = static_cast<int>(std::min<uint32_t>(req->compact_headers(), 1000));
    r.params.log_chain = req->log_chain();
    if (req->marks_size() > sync::kMaxLogMarks) {
      return Refuse("pull", absl::InvalidArgumentError(absl::StrCat(
                                "a pull carries at most ", sync::kMaxLogMarks,
                                " log marks; this one ", req->marks_size())));
    }
    for (const auto& mk : req->marks()) r.params.marks.push_back({mk.position(), mk.hash()});
    if (req->call_id().size() > sync::kMaxPullCallIdBytes) {
      return Refuse("pull", absl::InvalidArgumentError(absl::StrCat(
                                "a pull's call id is at most ", sync::kMaxPullCallIdBytes,
                                " bytes; this one ", req->call_id().size())));
    }
    r.params.call_id = req->call_id();
    if (req->has_bootstrap_cut()) {
      const pb::BootstrapCut& b = req->bootstrap_cut();
      BootstrapCut cut;
      cut.position = b.position();
      cut.position_hash = b.position_hash();
      cut.gc_epoch = b.gc_epoch();
      if (b.has_after()) {
        absl::StatusOr<RowId> row = Id16::FromBytes(b.after().row(), "bootstrap cut row");
        if (!row.ok()) return Refuse("pull", row.status());
        cut.table = b.after().table();
        cut.row = *row;
      }
      r.params.bootstrap_cut = std::move(cut);
    }
    if (req->has_purged_after()) {
      const pb::PurgedCut& p = req->purged_after();
      absl::StatusOr<RowId> row = Id16::FromBytes(p.after().row(), "purged cut row");
      if (!row.ok()) return Refuse("pull", row.status());
      PurgedCut cut;
      cut.asked = p.asked();
      cut.epoch = p.epoch();
      cut.epoch_id = p.epoch_id();
      cut.table = p.after().table();
      cut.row = *row;
      r.params.purged_after = std::move(cut);
    }
    // Each message is built in an arena freed at once after it is written.
    google::protobuf::Arena arena;
    absl::Status s = handler_.Pull(r, [&](sync::PullChunk& c) -> absl::Status {
      if (ctx->IsCancelled()) return absl::CancelledError("the node has gone");
      arena.Reset();
      pb::PullResponse& m = *google::protobuf::Arena::CreateMessage<pb::PullResponse>(&arena);
      m.set_reset(c.reset);
      for (const RowSnapshot& row : c.rows) wire::ToProto(row, m.add_rows());
      m.set_rows_position(c.rows_position);
      for (sync::PulledEntry& e : c.commits) ToProto(e, m.add_commits());
      for (sync::PulledEntry& e : c.witnesses) ToProto(e, m.add_witnesses());
      m.set_registry_included(c.registry_included);
      for (const RegisteredDevice& d : c.registry) {
        auto* rd = m.add_registry();
        rd->set_device(std::string(d.keys.device.view()));
        rd->set_province(d.province);
        rd->set_name(d.name);
        rd->set_sign_public_key(d.keys.sign_pk);
        rd->set_box_public_key(d.keys.box_pk);
        rd->set_revoked_position(d.revoked_position);
        rd->set_revoked_at_millis(d.revoked_at_millis);
      }
      for (std::string& k : c.key_records) m.add_key_records(std::move(k));
      m.set_key_cursor(c.key_cursor);
      m.set_key_mark(c.key_mark);
      for (std::string& st : c.statements) m.add_statements(std::move(st));
      m.set_statement_cursor(c.statement_cursor);
      if (!c.checkpoint.empty()) m.set_checkpoint(std::move(c.checkpoint));
      if (c.page) {
        auto* p = m.mutable_page();
        p->set_checkpoint(std::move(c.page->checkpoint));
        p->set_first(c.page->first);
        for (std::string& st : c.page->states) p->add_states(std::move(st));
        for (std::string& h : c.page->proof) p->add_proof(std::move(h));
        p->set_proof_delta(c.page->proof_delta);
      }
      m.set_cursor(c.cursor);
      m.set_caught_up(c.caught_up);
      if (!c.cursor_hash.empty()) m.set_cursor_hash(std::move(c.cursor_hash));
      if (!c.rows_hash.empty()) m.set_rows_hash(std::move(c.rows_hash));
      if (c.went_back) {
        m.mutable_went_back()->set_from(c.went_back->from);
        m.mutable_went_back()->set_to(c.went_back->to);
      }
      for (const auto& [device, seq] : c.held_heads) {
        auto* h = m.add_held_heads();
        h->set_device(std::string(device.view()));
        h->set_seq(seq);
      }
      if (c.bootstrap) {
        pb::BootstrapCut* b = m.mutable_bootstrap();
        b->set_position(c.bootstrap->position);
        b->set_position_hash(c.bootstrap->position_hash);
        b->set_gc_epoch(c.bootstrap->gc_epoch);
      }
      m.set_log_head(c.log_head);
      if (!c.call_id.empty()) m.set_call_id(c.call_id);
      m.set_notice(c.notice);
      m.set_gc_epoch(c.gc_epoch);
      m.set_gc_id(c.gc_id);
      for (const auto& [table, row] : c.purged) {
        auto* ref = m.add_purged();
        ref->set_table(table);
        ref->set_row(std::string(row.view()));
      }
      m.set_purged_done(c.purged_done);
      if (!writer->Write(m)) return absl::CancelledError("the node has gone");
      return absl::OkStatus();
    });
    return wire::ToGrpc(s);
  }

 private:
  // The node's credential from the call's metadata: its proofs (version 1,
  // and version 2 from a node of session 24 on: both, for one device),
  // else an older node's bearer. UNAUTHENTICATED-free when there is none
  // (the handler says how to enrol), UNAUTHENTICATED if it cannot be read.
  static absl::StatusOr<sync::Credential> Credential(grpc::ServerContext* ctx) {
    const auto& md = ctx->client_metadata();
    sync::Credential cred;
    const auto proof = md.find(wire::kProofKey);
    const auto link = md.find(wire::kLinkProofKey);
    if (link != md.end()) {
      FS_RETURN_IF_ERROR(wire::ParseLinkProofHeader(
          std::string_view(link->second.data(), link->second.size()), &cred.device,
          &cred.link_digest, &cred.link_proof));
    }
    if (proof != md.end()) {
      DeviceId device;
      FS_RETURN_IF_ERROR(wire::ParseProofHeader(
          std::string_view(proof->second.data(), proof->second.size()), &device, &cred.proof));
      if (link != md.end() && device != cred.device) {
        return absl::UnauthenticatedError(
            "the call's two credential proofs name two devices: not a node's call");
      }
      cred.device = device;
    }
    if (proof != md.end() || link != md.end()) return cred;
    auto it = md.find(wire::kAuthKey);
    if (it == md.end()) return cred;
    FS_RETURN_IF_ERROR(wire::ParseBearer(
        std::string_view(it->second.data(), it->second.size()), &cred.device, &cred.secret));
    return cred;
  }

  static grpc::Status Refuse(std::string_view call, const absl::Status& s) {
    LogRefusal(absl::StrCat(AV(call), " refused: ", absl::StatusCodeToString(s.code()), ": ",
                            s.message()),
               t_peer);
    return wire::ToGrpc(s);
  }

  CallsInProgress* calls_;
  const StoreGate* gate_;
  SyncHandler handler_;
};

// gRPC's health service (grpc.health.v1.Health) and server reflection
// (grpc.reflection.v1alpha.ServerReflection), for load balancers, systemd
// and grpcurl (docs/OPERATING.md). Both are switched on process-wide, for
// every server built after: once, before the first.
void EnableOperatorServices() {
  static const bool once = [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    return true;
  }();
  (void)once;
}

}  // namespace

RunningServer::~RunningServer() {
  if (!server) return;
  // Health checks say NOT_SERVING from now on, while the calls under way
  // finish: a load balancer sends the next laptop elsewhere.
  if (grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService()) {
    health->Shutdown();
  }
  const auto grace = std::chrono::system_clock::now() +
                     std::chrono::milliseconds(tuning::kHubShutdownGraceMillis);
  // A call starting after the wait is cancelled by Shutdown: its laptop
  // retries at its next pass, as after any cut.
  const auto deadline =
      calls && calls->WaitIdle(grace)
          ? std::chrono::system_clock::now() +
                std::chrono::milliseconds(tuning::kHubShutdownGoawayMillis)
          : grace;
  server->Shutdown(deadline);
}

void RunningServer::SetServing(bool serving) {
  if (gate) {
    if (serving) {
      gate->Open();
    } else {
      gate->Close();
    }
  }
  if (!server) return;
  if (grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService()) {
    health->SetServingStatus(serving);
  }
}

absl::Status CheckListen(const ServerOptions& options) {
  // A port over 65535 would wrap around to another one (process attack 80).
  if (absl::StatusOr<wire::HostPort> hp = wire::ParseHostPort(options.listen); !hp.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: ", hp.status().message()));
  }
  if (options.insecure && !wire::IsLoopbackAddress(options.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--insecure serves plain text and is allowed on loopback only (127.0.0.0/8 written "
        "as 127.0.0.1, [::1], localhost), not on ", Printable(options.listen),
        "; give the hub a TLS certificate instead"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(const ServerOptions& options,
                                                           HubStore* store) {
  if (absl::Status s = CheckListen(options); !s.ok()) return s;
  std::shared_ptr<grpc::ServerCredentials> creds;
  // What a node's credential proof may be bound to: the certificate this
  // hub serves (none on plain-text loopback), and those of proxies that
  // end TLS in front of it (--proof-cert).
  std::vector<std::string> proof_certificates;
  for (const std::string& file : options.proof_certs) {
    absl::StatusOr<std::string> pem = ReadWholeFile(file);
    absl::StatusOr<std::string> digest =
        pem.ok() ? wire::LeafCertificateDigest(*pem) : absl::StatusOr<std::string>(pem.status());
    if (!digest.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--proof-cert ", file, " holds no readable certificate (", digest.status().message(),
          "): give the PEM certificate the proxy in front of the hub serves"));
    }
    proof_certificates.push_back(*std::move(digest));
  }
  if (options.insecure) {
    creds = grpc::InsecureServerCredentials();
    proof_certificates.push_back(crypto::NoCertificateDigest());
  } else {
    absl::StatusOr<std::string> cert = ReadFile(options.tls_cert, "TLS certificate");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(options.tls_key, "TLS key");
    if (!key.ok()) return key.status();
    // Checked here: gRPC would only fail to listen, or fail each handshake.
    if (absl::StatusOr<int> n = wire::CountCertificates(*cert); !n.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the hub's TLS certificate ", options.tls_cert, " holds no valid certificate (",
          n.status().message(), "): make one with tools/make-certs, or pass --tls-cert"));
    }
    if (absl::Status s = wire::CheckPrivateKey(*key); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the hub's TLS key ", options.tls_key, " holds no valid private key without a "
          "passphrase (", s.message(), "): make one with tools/make-certs, or pass --tls-key"));
    }
    if (absl::Status s = wire::CheckKeyPair(*cert, *key); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the hub's TLS key ", options.tls_key, " is not the key of its certificate ",
          options.tls_cert, ": give the two files tools/make-certs made together"));
    }
    absl::StatusOr<std::string> digest = wire::LeafCertificateDigest(*cert);
    if (!digest.ok()) return absl::FailedPreconditionError(digest.status().message());
    proof_certificates.push_back(*std::move(digest));
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    creds = grpc::SslServerCredentials(ssl);
  }
  auto running = std::make_unique<RunningServer>();
  running->calls = std::make_shared<CallsInProgress>();
  running->gate = std::make_shared<StoreGate>();
  auto service = std::make_shared<SyncService>(
      store, options.clock ? options.clock : SystemClock::Get(), options.verbose,
      running->calls.get(), running->gate.get(), std::move(proof_certificates));
  service->RefuseBearer(options.refuse_bearer);
  EnableOperatorServices();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, creds, &running->port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(wire::kMaxMessageBytes);
  builder.SetMaxSendMessageSize(wire::kMaxMessageBytes);
  if (options.compress) builder.SetDefaultCompressionAlgorithm(GRPC_COMPRESS_GZIP);
  // Idle or dead links are noticed rather than held forever.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, tuning::kHubKeepaliveTimeMillis);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, tuning::kHubKeepaliveTimeoutMillis);
  // Nodes ping every 10 s, in calls and between them, to notice a link gone
  // silent (node/grpc_transport.cc): allowed, rather than answered with
  // GOAWAY "too_many_pings" after two (gRPC's default minimum is 5 minutes).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             tuning::kHubMinPingIntervalMillis);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.RegisterService(service.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> caps;
  caps.push_back(std::make_unique<OperatorStreamsCap>());
  builder.experimental().SetInterceptorCreators(std::move(caps));
  running->server = builder.BuildAndStart();
  if (!running->server || running->port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "could not listen on ", options.listen,
        ": the address is in use or not available here; choose another with --listen"));
  }
  // The health service answers SERVING for "" from the start (the store is
  // open and checked by now); the sync service by its name too.
  if (grpc::HealthCheckServiceInterface* health = running->server->GetHealthCheckService()) {
    health->SetServingStatus(pb::Sync::service_full_name(), true);
  }
  running->service = service;
  return running;
}

}  // namespace fieldsync::hub
