#include "node/grpc_transport.h"

#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "crypto/credential_proof.h"
#include "fieldsync/v1/sync.grpc.pb.h"
#include "node/call_proof.h"
#include "node/tls_sessions.h"
#include "proto/address.h"
#include "proto/tls_files.h"
#include "proto/wire.h"
#include "sync/retry.h"

namespace fieldsync::node {
namespace {

namespace pb = fieldsync::v1;

std::string Day(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

// Why the hub's certificate was not accepted, in the words a user can act
// on: this laptop's clock before the certificates begin (a clock days
// behind) or after they end, else the CA file.
std::string CertificateRefused(const std::string& ca_pem, const std::string& ca_file) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  absl::StatusOr<wire::ValidityWindow> w = wire::CertificatesValidity(ca_pem);
  if (w.ok() && now < w->not_before) {
    return absl::StrCat("this laptop's clock reads ", Day(now), ", before the hub's "
                        "certificates became valid (", Day(w->not_before), "): the date or time "
                        "of this laptop is wrong. Set them right, then sync again");
  }
  if (w.ok() && now > w->not_after) {
    return absl::StrCat("by this laptop's clock (", Day(now), ") the hub's certificates "
                        "expired on ", Day(w->not_after), ": if the date of this laptop is "
                        "right, ask the hub administrator to renew them (tools/make-certs) and "
                        "give this laptop the new ca.crt; else set the date right");
  }
  return absl::StrCat("the hub's certificate was not accepted: check that the CA file ", ca_file,
                      " is the hub's ca.crt, and the date and time of this laptop");
}

// What a link gone silent is, and what to do, for the lines below.
constexpr char kSilentAdvice[] =
    "packets are being lost without the connection being closed: a weak or dropped mobile "
    "signal, a stalled router or modem";

// A failed call (`took` from its start): the link's failures explained
// (what a user can check); the hub's answers as it gave them
// (sync::Refused words them).
absl::Status Explain(const grpc::Status& g, const ClientOptions& opts, const std::string& ca_pem,
                     std::string_view call, absl::Duration took) {
  const std::string& address = opts.address;
  // A stream reset or a socket lost halfway comes as INTERNAL or UNKNOWN:
  // it is the link's failure, said and retried as UNAVAILABLE.
  const bool link_broke = LinkBroke(g);
  if (g.error_code() == grpc::StatusCode::UNAVAILABLE || link_broke) {
    const std::string& m = g.error_message();
    auto says = [&](std::string_view what) { return m.find(what) != std::string::npos; };
    // A keepalive ping unanswered (GRPC_ARG_KEEPALIVE_TIMEOUT_MS): the
    // connection was open and went quiet.
    if (says("keepalive")) {
      return absl::UnavailableError(absl::StrCat(
          "the link to the hub at ", address, " went silent during ", AV(call), ": nothing came "
          "back for ", opts.keepalive_timeout_millis / 1000, " s, not even the answer to a "
          "keepalive ping (", kSilentAdvice, "). What the hub acknowledged is kept, and the "
          "next sync continues where this one stopped: sync again where the signal is better. "
          "The node keeps working offline"));
    }
    // The TLS handshake's bytes stopped coming (gRPC's connect timeout,
    // 20 s) or its connection closed before any certificate was checked.
    if (says("andshake read failed") || says("andshake write failed")) {
      if (took >= absl::Milliseconds(opts.keepalive_timeout_millis)) {
        return absl::UnavailableError(absl::StrCat(
            "the link to the hub at ", address, " went silent during the TLS handshake (",
            AV(call), "): nothing came back for ", absl::ToInt64Seconds(took), " s (",
            kSilentAdvice, "; TLS: ", m, "). Nothing was sent yet: sync again where the signal "
            "is better. The node keeps working offline"));
      }
      return absl::UnavailableError(absl::StrCat(
          "the link to the hub at ", address, " broke during the TLS handshake (", AV(call),
          "), before the hub's certificate could be checked: the network closed the connection "
          "(TLS: ", m, "). Nothing was sent yet: sync again. The node keeps working offline"));
    }
    if (says("andshake") || says("certificate") || says("SSL")) {
      return absl::UnavailableError(absl::StrCat(
          "cannot reach the hub at ", address, " (", AV(call), "): ",
          CertificateRefused(ca_pem, opts.ca_file), " (TLS: ", m, "). The node keeps working "
          "offline"));
    }
    if (says("failed to connect") || says("onnection refused") || says("DNS") ||
        says("resolution") || says("No route")) {
      return absl::UnavailableError(absl::StrCat(
          "cannot reach the hub at ", address, " (", AV(call), "): ", m,
          ". Check the network and that the hub is running. The node keeps working offline"));
    }
    // Reached, then lost: a reset, a closed socket, a link that dropped.
    return absl::UnavailableError(absl::StrCat(
        "the link to the hub at ", address, " broke during ", AV(call), " (", m, "): what the "
        "hub acknowledged is kept, and the next sync continues where this one stopped. The "
        "node keeps working offline"));
  }
  if (g.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::DeadlineExceededError(absl::StrCat(
        "the hub at ", address, " did not answer in time (", AV(call),
        "); the link may be slow: the next sync continues where this one stopped"));
  }
  return wire::FromGrpc(g);
}

}  // namespace

bool LinkBroke(const grpc::Status& g) {
  if (g.error_code() != grpc::StatusCode::INTERNAL &&
      g.error_code() != grpc::StatusCode::UNKNOWN) {
    return false;
  }
  return SaysTheLinkBroke(g.error_message()) || g.error_details() != wire::kHubErrorDetails;
}

bool SaysTheLinkBroke(std::string_view grpc_message) {
  const std::string m = absl::AsciiStrToLower(AV(grpc_message));
  for (const char* words :
       {"rst_stream", "stream removed", "socket closed", "connection reset", "broken pipe",
        "transport closed", "endpoint closing", "fd shutdown", "goaway", "connection aborted",
        "failed parsing http/2", "keepalive watchdog"}) {
    if (m.find(words) != std::string::npos) return true;
  }
  return false;
}

namespace {

// Cancels the call of `ctx` once *stop becomes true (SIGTERM): a blocking
// gRPC call does not look at the flag, and one over a slow link may run for
// its whole deadline. Looks every kDaemonStopPollMillis, on a thread of its
// own that ends with the call.
class CancelOnStop {
 public:
  CancelOnStop(const std::atomic<bool>* stop, grpc::ClientContext* ctx) {
    if (stop == nullptr) return;
    watcher_ = std::thread([this, stop, ctx] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!done_) {
        if (stop->load()) {
          ctx->TryCancel();
          cancelled_ = true;
          return;
        }
        cv_.wait_for(lock, std::chrono::milliseconds(tuning::kDaemonStopPollMillis));
      }
    });
  }
  ~CancelOnStop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
  }
  CancelOnStop(const CancelOnStop&) = delete;
  CancelOnStop& operator=(const CancelOnStop&) = delete;

  // Why the call failed, if this cancelled it.
  std::optional<absl::Status> Stopped(std::string_view call) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cancelled_) return std::nullopt;
    return sync::OwnStop(absl::StrCat(
        "stopped during ", AV(call), " (the call under way was cancelled); what the hub "
        "acknowledged and what was applied is kept"));
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool cancelled_ = false;
  std::thread watcher_;
};

absl::StatusOr<RegisteredDevice> FromProto(const pb::RegisteredDevice& d) {
  RegisteredDevice rd;
  FS_ASSIGN_OR_RETURN(rd.keys.device, Id16::FromBytes(d.device(), "registered device"));
  rd.keys.sign_pk = d.sign_public_key();
  rd.keys.box_pk = d.box_public_key();
  rd.province = d.province();
  rd.name = d.name();
  rd.revoked_position = d.revoked_position();
  rd.revoked_at_millis = d.revoked_at_millis();
  return rd;
}

sync::PulledEntry FromProto(pb::PulledCommit& pc) {
  sync::PulledEntry e;
  e.position = pc.position();
  e.canonical = std::move(*pc.mutable_canonical());
  e.signature = std::move(*pc.mutable_signature());
  for (const auto& o : pc.omitted()) {
    e.omitted.emplace_back(o.index(), o.digest());
    e.omitted_tags.push_back(o.row_tag());
  }
  e.header = std::move(*pc.mutable_header());
  e.header_signature = std::move(*pc.mutable_header_signature());
  e.header_prev_link = std::move(*pc.mutable_header_prev_link());
  return e;
}

// A pull message as the engine reads it; DATA_LOSS if malformed.
absl::Status FromProto(pb::PullResponse& m, sync::PullChunk* c) {
  c->reset = m.reset();
  c->rows.reserve(static_cast<size_t>(m.rows_size()));
  for (const auto& r : m.rows()) {
    absl::StatusOr<RowSnapshot> snap = wire::FromProto(r);
    if (!snap.ok()) return snap.status();
    c->rows.push_back(*std::move(snap));
  }
  c->rows_position = m.rows_position();
  c->commits.reserve(static_cast<size_t>(m.commits_size()));
  for (auto& pc : *m.mutable_commits()) c->commits.push_back(FromProto(pc));
  for (auto& pc : *m.mutable_witnesses()) c->witnesses.push_back(FromProto(pc));
  c->cursor = m.cursor();
  c->caught_up = m.caught_up();
  c->log_head = m.log_head();
  c->call_id = std::move(*m.mutable_call_id());
  c->gc_epoch = m.gc_epoch();
  c->gc_id = m.gc_id();
  for (const auto& p : m.purged()) {
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(p.row(), "purged row"));
    c->purged.emplace_back(p.table(), id);
  }
  c->purged_done = m.purged_done();
  c->notice = m.notice();
  c->registry_included = m.registry_included();
  for (const auto& d : m.registry()) {
    FS_ASSIGN_OR_RETURN(RegisteredDevice rd, FromProto(d));
    c->registry.push_back(std::move(rd));
  }
  c->key_records.reserve(static_cast<size_t>(m.key_records_size()));
  for (auto& k : *m.mutable_key_records()) c->key_records.push_back(std::move(k));
  c->key_cursor = m.key_cursor();
  c->key_mark = m.key_mark();
  c->statements.reserve(static_cast<size_t>(m.statements_size()));
  for (auto& st : *m.mutable_statements()) c->statements.push_back(std::move(st));
  c->statement_cursor = m.statement_cursor();
  c->checkpoint = std::move(*m.mutable_checkpoint());
  c->cursor_hash = std::move(*m.mutable_cursor_hash());
  c->rows_hash = std::move(*m.mutable_rows_hash());
  if (m.has_went_back()) c->went_back = sync::LogWentBack{m.went_back().from(), m.went_back().to()};
  for (const auto& h : m.held_heads()) {
    FS_ASSIGN_OR_RETURN(DeviceId d, Id16::FromBytes(h.device(), "held head device"));
    c->held_heads.emplace_back(d, h.seq());
  }
  if (m.has_bootstrap()) {
    BootstrapCut b;
    b.position = m.bootstrap().position();
    b.position_hash = m.bootstrap().position_hash();
    b.gc_epoch = m.bootstrap().gc_epoch();
    c->bootstrap = std::move(b);
  }
  if (m.has_page()) {
    sync::CheckpointPage p;
    p.checkpoint = std::move(*m.mutable_page()->mutable_checkpoint());
    p.first = m.page().first();
    for (auto& st : *m.mutable_page()->mutable_states()) p.states.push_back(std::move(st));
    for (auto& h : *m.mutable_page()->mutable_proof()) p.proof.push_back(std::move(h));
    p.proof_delta = m.page().proof_delta();
    c->page = std::move(p);
  }
  return absl::OkStatus();
}

}  // namespace

class GrpcTransport::Impl {
 public:
  ClientOptions opts;
  std::string ca_pem;  // empty with --insecure
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Sync::Stub> stub;

  void Reconnect() {
    channel = grpc::CreateCustomChannel(opts.address, creds, args);
    stub = pb::Sync::NewStub(channel);
  }

  absl::Time call_start;  // of the call under way (calls do not overlap)
  const std::atomic<bool>* stop = nullptr;  // SetStop
  // The hub's id a proof is made for: hub.conf's, else the one a Hello
  // without a credential answered (a node enrolled before hub.conf kept
  // it). Not a matter of trust: the proof's binding to the certificate is;
  // a wrong id only makes a proof no hub takes.
  std::optional<DeviceId> hub_id;

  // With `cred`, the call carries its proof, never the secret
  // (node/call_proof.h). `hub_id` is known.
  void Prepare(grpc::ClientContext* ctx, int64_t timeout_millis, const sync::Credential* cred) {
    call_start = absl::Now();
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(timeout_millis));
    if (opts.compress) ctx->set_compression_algorithm(GRPC_COMPRESS_GZIP);
    if (cred != nullptr) AttachProof(ctx, *cred, *hub_id, opts.insecure);
  }

  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& r);
  // Learns the hub's id if not known, by a Hello without a credential.
  absl::Status KnowHubId();
};

GrpcTransport::GrpcTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcTransport::~GrpcTransport() = default;

void GrpcTransport::Reset() { impl_->Reconnect(); }

void GrpcTransport::SetStop(const std::atomic<bool>* stop) { impl_->stop = stop; }

absl::StatusOr<std::unique_ptr<GrpcTransport>> GrpcTransport::Create(
    const ClientOptions& options) {
  if (options.address.empty() || options.address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hub address \"", options.address, "\" needs HOST:PORT, e.g. hub.example.org:7443"));
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  std::string ca_pem;
  if (options.insecure) {
    if (!wire::IsLoopbackAddress(options.address)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--insecure (plain text) is allowed to loopback addresses only (127.0.0.0/8 written "
          "as 127.0.0.1, [::1], localhost), not ", Printable(options.address),
          "; give the CA file of the hub's certificate with --ca instead"));
    }
    creds = grpc::InsecureChannelCredentials();
  } else {
    absl::StatusOr<std::string> ca = ReadWholeFile(options.ca_file);
    if (!ca.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot read the CA file \"", options.ca_file,
          "\" that says which hub certificate to trust; ask the hub administrator for it (ca.crt)"));
    }
    // Checked here: gRPC would only say "empty address list", as if the hub
    // were unreachable.
    if (absl::StatusOr<int> n = wire::CountCertificates(*ca); !n.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the CA file ", options.ca_file, " holds no valid certificate (", n.status().message(),
          "): ask the hub administrator for the hub's ca.crt (tools/make-certs writes it)"));
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *ca;
    creds = grpc::SslCredentials(ssl);
    ca_pem = *ca;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(wire::kMaxMessageBytes);
  args.SetMaxSendMessageSize(wire::kMaxMessageBytes);
  if (options.compress) args.SetCompressionAlgorithm(GRPC_COMPRESS_GZIP);
  // A channel of its own: gRPC otherwise shares connections between
  // channels to one address, and a shared connection keeps the settings
  // (compression among them) of the channel that opened it.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // Reconnect quickly after a cut rather than waiting out a long backoff
  // (the daemon has its own). MIN_RECONNECT_BACKOFF is gRPC's connect
  // timeout: 20 s, its default (a TLS handshake on a slow link needs it),
  // unless the options say otherwise (tests of a silent handshake).
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, static_cast<int>(options.connect_timeout_millis));
  // Keepalive pings, during calls and between them, with no cap on pings
  // sent while this side sends no data (a pull only receives; gRPC's
  // default stops after two): a link gone silent, packets lost without a
  // reset, closes the connection once a ping goes unanswered, and the call
  // fails (Explain says the link went silent) instead of waiting out its
  // deadline (30 minutes for a pull). The hub allows them (hub/service.cc).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options.keepalive_time_millis));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options.keepalive_timeout_millis));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // TLS session resumption: a new connection to the hub (after a cut, or
  // the channel a failed pass drops) resumes the session of an earlier one
  // instead of carrying the hub's certificate again; only sessions of
  // channels pinned to this same CA (node/tls_sessions.h).
  if (!options.insecure) UseTlsSessionCache(options.address, ca_pem, args);
  auto impl = std::make_unique<Impl>();
  impl->opts = options;
  impl->ca_pem = std::move(ca_pem);
  impl->creds = creds;
  impl->args = args;
  // hub.conf's; one that does not read is learnt from the hub (KnowHubId).
  if (absl::StatusOr<DeviceId> id = Id16::Parse(options.hub_id, "hub id"); id.ok()) {
    impl->hub_id = *id;
  }
  impl->Reconnect();
  return std::unique_ptr<GrpcTransport>(new GrpcTransport(std::move(impl)));
}

absl::StatusOr<sync::HelloReply> GrpcTransport::Impl::Hello(const sync::HelloRequest& r) {
  Impl& m = *this;
  grpc::ClientContext ctx;
  m.Prepare(&ctx, m.opts.call_timeout_millis, r.credential ? &*r.credential : nullptr);
  pb::HelloRequest req;
  req.set_protocol_version(static_cast<pb::ProtocolVersion>(r.protocol_version));
  req.set_node_time_millis(r.node_time_millis);
  req.set_max_protocol_version(static_cast<pb::ProtocolVersion>(r.max_protocol_version));
  // The link key's public half, for a hub that holds none for this device
  // yet (its proof, which it is registered on, goes with the call).
  if (r.credential) req.set_link_public_key(crypto::LinkKey(r.credential->secret).public_key());
  pb::HelloResponse resp;
  grpc::Status g;
  // The connection the answer came on, as its far end showed itself.
  std::shared_ptr<const grpc::AuthContext> auth;
  {
    CancelOnStop watch(m.stop, &ctx);
    g = m.stub->Hello(&ctx, req, &resp);
    if (auto stopped = watch.Stopped("hello"); !g.ok() && stopped) return *stopped;
    auth = ctx.auth_context();
  }
  // A connection the hub lost without this laptop knowing (the hub
  // restarted, a router forgot it) fails the first call written on it, at
  // once. Hello changes nothing at the hub: tried again once, on a new
  // connection. A hub really gone fails the second try as fast.
  if (g.error_code() == grpc::StatusCode::UNAVAILABLE &&
      absl::Now() - m.call_start < absl::Milliseconds(tuning::kStaleConnectionRetryMillis)) {
    m.Reconnect();
    grpc::ClientContext again;
    m.Prepare(&again, m.opts.call_timeout_millis, r.credential ? &*r.credential : nullptr);
    CancelOnStop watch(m.stop, &again);
    g = m.stub->Hello(&again, req, &resp);
    if (auto stopped = watch.Stopped("hello"); !g.ok() && stopped) return *stopped;
    auth = again.auth_context();
  }
  if (!g.ok()) return Explain(g, m.opts, m.ca_pem, "hello", absl::Now() - m.call_start);
  // A node of this version sends its credential only as a proof: a hub
  // that does not say it checks one (older than session 23) ignored it,
  // and would refuse the push for want of a bearer. Nothing more goes
  // there; the bearer is never sent, as a party answering at the hub's
  // address could say the same (docs/PROTOCOL.md, "Credentials").
  if (r.credential && resp.credential_proof() < crypto::kCredentialProofVersion) {
    return absl::UnavailableError(absl::StrCat(
        "the hub at ", m.opts.address, " does not check credential proofs (a hub older than "
        "this laptop's fieldnode, or not a fieldsync hub): this laptop sends its credential "
        "only as a proof, so nothing was pushed or pulled. Ask the hub administrator to "
        "upgrade the hub; the node keeps working offline"));
  }
  sync::HelloReply h;
  h.protocol_version = resp.protocol_version();  // checked by the engine (sync::SayHello)
  FS_ASSIGN_OR_RETURN(h.hub_id, Id16::FromBytes(resp.hub_id(), "hub id"));
  if (!m.hub_id) m.hub_id = h.hub_id;
  h.hub_time_millis = resp.hub_time_millis();
  h.province = resp.province();
  h.log_head = resp.log_head();
  h.enrol_challenge = resp.enrol_challenge();
  h.compact_headers = static_cast<int>(std::min<uint32_t>(resp.compact_headers(), 1000));
  h.credential_proof = static_cast<int>(std::min<uint32_t>(resp.credential_proof(), 1000));
  h.link_key = resp.link_key();
  // The certificate this Hello's connection showed: an enrolment's proof
  // is bound to it (crypto/enrolment_proof.h, version 2).
  h.certificate_digest = crypto::NoCertificateDigest();
  if (!m.opts.insecure) {
    h.certificate_digest.clear();
    if (auth) {
      const std::vector<grpc::string_ref> pem =
          auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
      if (pem.size() == 1) {
        absl::StatusOr<std::string> digest =
            wire::LeafCertificateDigest(std::string_view(pem[0].data(), pem[0].size()));
        if (digest.ok()) h.certificate_digest = *std::move(digest);
      }
    }
  }
  if (resp.has_own()) {
    h.own = sync::OwnCommitsHeld{resp.own().acknowledged_seq(), resp.own().accounted_seq(),
                                 std::nullopt};
    if (resp.own().has_key_records()) h.own->key_records = resp.own().key_records();
  }
  return h;
}

absl::Status GrpcTransport::Impl::KnowHubId() {
  if (hub_id) return absl::OkStatus();
  sync::HelloRequest probe;
  probe.node_time_millis = absl::ToUnixMillis(absl::Now());
  return Hello(probe).status();
}

absl::StatusOr<sync::HelloReply> GrpcTransport::Hello(const sync::HelloRequest& r) {
  if (r.credential) FS_RETURN_IF_ERROR(impl_->KnowHubId());
  return impl_->Hello(r);
}

absl::StatusOr<sync::EnrollReply> GrpcTransport::Enroll(const sync::EnrollRequest& r) {
  Impl& m = *impl_;
  pb::EnrollRequest req;
  req.set_protocol_version(static_cast<pb::ProtocolVersion>(r.protocol_version));
  req.set_token(r.token);
  req.set_device_id(std::string(r.device.view()));
  req.set_device_name(r.device_name);
  req.set_sign_public_key(r.sign_public_key);
  req.set_box_public_key(r.box_public_key);
  req.set_challenge(r.challenge);
  req.set_proof(r.proof);
  grpc::ClientContext ctx;
  m.Prepare(&ctx, m.opts.call_timeout_millis, nullptr);
  pb::EnrollResponse resp;
  grpc::Status g;
  {
    CancelOnStop watch(m.stop, &ctx);
    g = m.stub->Enroll(&ctx, req, &resp);
    if (auto stopped = watch.Stopped("the enrolment"); !g.ok() && stopped) return *stopped;
  }
  if (!g.ok()) return Explain(g, m.opts, m.ca_pem, "the enrolment", absl::Now() - m.call_start);
  sync::EnrollReply e;
  e.secret = resp.secret();
  e.province = resp.province();
  FS_ASSIGN_OR_RETURN(e.hub_id, Id16::FromBytes(resp.hub_id(), "hub id"));
  return e;
}

absl::StatusOr<sync::PushOutcome> GrpcTransport::Push(const sync::PushRequest& r) {
  Impl& m = *impl_;
  pb::PushRequest req;
  req.set_protocol_version(static_cast<pb::ProtocolVersion>(r.protocol_version));
  for (const sync::PushedCommit& c : r.commits) {
    auto* e = req.add_commits();
    e->set_canonical(c.canonical);
    e->set_signature(c.signature);
    e->set_header(c.header);
    e->set_header_signature(c.header_signature);
    e->set_header_prev_link(c.header_prev_link);
  }
  for (const sync::ChainEntryBytes& b : r.backfill_headers) {
    auto* e = req.add_backfill_headers();
    e->set_header(b.header);
    e->set_signature(b.signature);
  }
  for (const sync::ChainEntryBytes& w : r.withdrawals) {
    auto* e = req.add_withdrawals();
    e->set_header(w.header);
    e->set_signature(w.signature);
  }
  for (const sync::RefusedEntryBytes& f : r.refused) {
    auto* e = req.add_refused();
    e->mutable_entry()->set_header(f.entry.header);
    e->mutable_entry()->set_signature(f.entry.signature);
    e->set_code(static_cast<pb::RefusalCode>(f.code));
    if (!f.withdrawn_by.header.empty()) {
      e->mutable_withdrawn_by()->set_header(f.withdrawn_by.header);
      e->mutable_withdrawn_by()->set_signature(f.withdrawn_by.signature);
    }
  }
  for (const std::string& k : r.key_records) req.add_key_records(k);
  for (const std::string& st : r.statements) req.add_statements(st);
  if (r.relayed_author) req.set_relayed_author(std::string(r.relayed_author->view()));
  req.set_schema_version(r.schema_version);
  req.set_schema_since_seq(r.schema_since_seq);
  FS_RETURN_IF_ERROR(m.KnowHubId());
  grpc::ClientContext ctx;
  m.Prepare(&ctx, m.opts.call_timeout_millis, &r.credential);
  pb::PushResponse resp;
  grpc::Status g;
  {
    CancelOnStop watch(m.stop, &ctx);
    g = m.stub->Push(&ctx, req, &resp);
    if (auto stopped = watch.Stopped("the push"); !g.ok() && stopped) return *stopped;
  }
  if (!g.ok()) return Explain(g, m.opts, m.ca_pem, "the push", absl::Now() - m.call_start);
  sync::PushOutcome out;
  out.acknowledged_seq = resp.acknowledged_seq();
  out.applied = resp.applied();
  out.duplicates = resp.duplicates();
  out.log_head = resp.log_head();
  out.accounted_seq = resp.accounted_seq();
  out.accounted_link = resp.accounted_link();
  out.statement_refusal = resp.statement_refusal();
  out.checkpoint_adopted = resp.checkpoint_adopted();
  out.checkpoint_note = resp.checkpoint_note();
  for (const pb::CommitRefusal& f : resp.refusals()) {
    sync::CommitRefusal r{f.seq(), static_cast<sync::RefusalCode>(f.code()), f.reason(),
                          f.depends_on(), {}, {}};
    // A version not well formed names nothing: it is left out, and a
    // resolution of the commit passes over no version of it.
    for (const pb::Version& v : f.never_coming()) {
      if (absl::StatusOr<Version> nv = wire::VersionFromProto(v); nv.ok()) {
        r.never_coming.push_back(*nv);
      }
    }
    for (const pb::ChainHead& h : f.never_after()) {
      if (absl::StatusOr<DeviceId> d = Id16::FromBytes(h.device(), "device"); d.ok()) {
        r.never_after.emplace_back(*d, h.seq());
      }
    }
    out.refusals.push_back(std::move(r));
  }
  return out;
}

absl::Status GrpcTransport::Pull(const sync::PullRequest& r,
                                 const std::function<absl::Status(sync::PullChunk&)>& on_chunk) {
  Impl& m = *impl_;
  pb::PullRequest req;
  req.set_protocol_version(static_cast<pb::ProtocolVersion>(r.protocol_version));
  req.set_cursor(r.params.cursor);
  req.set_bootstrapped(r.params.bootstrapped);
  req.set_gc_epoch(r.params.gc_epoch);
  req.set_gc_id(r.params.gc_id);
  req.set_max_batch(static_cast<uint32_t>(r.params.max_batch));
  req.set_max_message_bytes(static_cast<uint32_t>(
      std::min<size_t>(r.params.max_message_bytes, std::numeric_limits<uint32_t>::max())));
  req.set_key_cursor(r.params.key_cursor);
  req.set_key_mark(r.params.key_mark);
  req.set_registry_digest(r.params.registry_digest);
  req.set_schema_version(r.schema_version);
  for (const auto& [device, seq] : r.params.chain_heads) {
    auto* h = req.add_chain_heads();
    h->set_device(std::string(device.view()));
    h->set_seq(seq);
  }
  for (const auto& [device, seq] : r.params.chain_wants) {
    auto* h = req.add_chain_wants();
    h->set_device(std::string(device.view()));
    h->set_seq(seq);
  }
  req.set_statement_cursor(r.params.statement_cursor);
  req.set_checkpoint_pages(r.params.checkpoint_pages);
  req.set_proof_deltas(r.params.proof_deltas);
  if (!r.params.resume_checkpoint.empty()) {
    req.mutable_resume()->set_checkpoint(r.params.resume_checkpoint);
    req.mutable_resume()->set_next_index(r.params.resume_index);
    req.mutable_resume()->set_proof_kept(r.params.proof_kept);
  }
  req.set_compact_headers(static_cast<uint32_t>(r.params.compact_headers));
  req.set_log_chain(r.params.log_chain);
  req.set_call_id(r.params.call_id);
  for (const sync::LogMark& mk : r.params.marks) {
    auto* p = req.add_marks();
    p->set_position(mk.position);
    p->set_hash(mk.hash);
  }
  if (r.params.bootstrap_cut) {
    const BootstrapCut& cut = *r.params.bootstrap_cut;
    pb::BootstrapCut* b = req.mutable_bootstrap_cut();
    b->set_position(cut.position);
    b->set_position_hash(cut.position_hash);
    b->set_gc_epoch(cut.gc_epoch);
    if (!cut.table.empty()) {
      b->mutable_after()->set_table(cut.table);
      b->mutable_after()->set_row(std::string(cut.row.view()));
    }
  }
  if (r.params.purged_after) {
    const PurgedCut& cut = *r.params.purged_after;
    pb::PurgedCut* p = req.mutable_purged_after();
    p->set_asked(cut.asked);
    p->set_epoch(cut.epoch);
    p->set_epoch_id(cut.epoch_id);
    p->mutable_after()->set_table(cut.table);
    p->mutable_after()->set_row(std::string(cut.row.view()));
  }
  FS_RETURN_IF_ERROR(m.KnowHubId());
  grpc::ClientContext ctx;
  m.Prepare(&ctx, m.opts.pull_timeout_millis, &r.credential);
  CancelOnStop watch(m.stop, &ctx);
  std::unique_ptr<grpc::ClientReader<pb::PullResponse>> reader = m.stub->Pull(&ctx, req);
  // Each message is parsed into an arena freed at once after it is applied:
  // a bootstrap message holds thousands of small strings.
  google::protobuf::Arena arena;
  while (true) {
    arena.Reset();
    auto* parsed = google::protobuf::Arena::CreateMessage<pb::PullResponse>(&arena);
    if (!reader->Read(parsed)) break;
    sync::PullChunk chunk;
    // Its size as it came, before FromProto moves its key records and
    // statements out (measured after, a message of key records counted a
    // few bytes, and the budget learnt nothing from it).
    chunk.wire_bytes = parsed->ByteSizeLong();
    absl::Status s = FromProto(*parsed, &chunk);
    if (!s.ok()) {
      s = absl::DataLossError(absl::StrCat(
          "the hub sent a malformed pull batch (nothing of it was applied): ", s.message()));
    } else {
      s = on_chunk(chunk);
    }
    if (!s.ok()) {
      ctx.TryCancel();
      reader->Finish().IgnoreError();
      return s;
    }
  }
  grpc::Status g = reader->Finish();
  if (auto stopped = watch.Stopped("the pull"); !g.ok() && stopped) return *stopped;
  if (!g.ok()) return Explain(g, m.opts, m.ca_pem, "the pull", absl::Now() - m.call_start);
  return absl::OkStatus();
}

}  // namespace fieldsync::node
