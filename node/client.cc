#include "node/client.h"

#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "change/commit_codec.h"
#include "crypto/enrolment_proof.h"
#include "fieldsync/v1/sync.grpc.pb.h"
#include "proto/address.h"
#include "proto/wire.h"
#include "store/legacy_seal.h"
#include "store/migrations.h"

namespace fieldsync::node {
namespace {

namespace pb = fieldsync::v1;

// Bytes of commits per push call: well under the 16 MiB message limit.
constexpr size_t kPushBytes = 4 << 20;

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& content,
                                 mode_t mode) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return absl::FailedPreconditionError(absl::StrCat("cannot write ", tmp));
  chmod(tmp.c_str(), mode);
  const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size() &&
                  std::fflush(f) == 0 && fsync(fileno(f)) == 0;
  std::fclose(f);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return absl::FailedPreconditionError(absl::StrCat("cannot write ", path, " (disk full?)"));
  }
  return absl::OkStatus();
}

std::string Hex(const std::string& raw) {
  std::string hex(2 * raw.size() + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                 raw.size());
  hex.pop_back();
  return hex;
}

// What a user can do about a failed call.
absl::Status Explain(const grpc::Status& g, const std::string& address, std::string_view call) {
  absl::Status s = wire::FromGrpc(g);
  if (g.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::UnavailableError(absl::StrCat(
        "cannot reach the hub at ", address, " (", AV(call), "): ", g.error_message(),
        ". Check the network and that the hub is running; if it runs, check that the CA file "
        "names the authority that signed the hub's certificate. The node keeps working offline"));
  }
  if (g.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::DeadlineExceededError(absl::StrCat(
        "the hub at ", address, " did not answer in time (", AV(call),
        "); the link may be slow: the next sync continues where this one stopped"));
  }
  return absl::Status(s.code(), absl::StrCat("the hub refused ", AV(call), ": ", s.message()));
}

}  // namespace

// ---------------------------------------------------------------------------
// Enrolment files

absl::Status SaveEnrolment(const std::string& dir, const HubConfig& hub, const Credential& cred) {
  std::string conf = absl::StrCat(
      "# fieldsync node: the hub this node syncs with (written by fieldnode enroll)\n",
      "hub = ", hub.address, "\n", "ca = ", hub.ca_file, "\n",
      "insecure = ", hub.insecure ? "true" : "false", "\n", "province = ", hub.province, "\n",
      "hub_id = ", hub.hub_id, "\n");
  FS_RETURN_IF_ERROR(
      WriteFileAtomically(dir + "/credential",
                          absl::StrCat(cred.device.ToString(), ".", Hex(cred.secret), "\n"),
                          0600));
  return WriteFileAtomically(dir + "/hub.conf", conf, 0644);
}

absl::StatusOr<HubConfig> LoadHubConfig(const std::string& dir) {
  absl::StatusOr<std::string> text = ReadWhole(dir + "/hub.conf");
  if (!text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this node is not enrolled with a hub (no ", dir,
        "/hub.conf): ask the hub administrator for an enrolment token, then run fieldnode "
        "enroll --hub HOST:PORT --ca CA.crt --token TOKEN"));
  }
  HubConfig c;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    const std::string value = line.substr(eq + 3);
    if (key == "hub") c.address = value;
    if (key == "ca") c.ca_file = value;
    if (key == "insecure") c.insecure = value == "true";
    if (key == "province") c.province = value;
    if (key == "hub_id") c.hub_id = value;
  }
  if (c.address.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, "/hub.conf names no hub; enrol again (fieldnode enroll)"));
  }
  return c;
}

absl::StatusOr<Credential> LoadCredential(const std::string& dir) {
  absl::StatusOr<std::string> text = ReadWhole(dir + "/credential");
  if (!text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this node has no credential (", dir, "/credential): enrol it with fieldnode enroll"));
  }
  std::string t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  Credential c;
  absl::Status s = wire::ParseBearer(absl::StrCat("Bearer ", t), &c.device, &c.secret);
  if (!s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, "/credential is damaged; enrol this node again with a new token"));
  }
  return c;
}

// ---------------------------------------------------------------------------
// Client

class SyncClient::Impl {
 public:
  ClientOptions opts;
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Sync::Stub> stub;

  // A fresh channel. After a connection broke during its TLS handshake,
  // gRPC 1.51's channel was seen to never try again (calls failed at once,
  // no new connection for as long as we waited): a failed pass therefore
  // drops its channel and the next pass dials anew.
  void Reconnect() {
    channel = grpc::CreateCustomChannel(opts.address, creds, args);
    stub = pb::Sync::NewStub(channel);
  }

  void Prepare(grpc::ClientContext* ctx, int64_t timeout_millis, const Credential* cred) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(timeout_millis));
    if (opts.compress) ctx->set_compression_algorithm(GRPC_COMPRESS_GZIP);
    if (cred != nullptr) ctx->AddMetadata(wire::kAuthKey, wire::BearerToken(cred->device, cred->secret));
  }

  absl::StatusOr<SyncReport> Push(Replica& replica, const Credential& cred,
                                  const std::atomic<bool>* stop, SyncReport report);
  // Pushes the key records not pushed yet; refused ones are set aside.
  // With `resend_before`, then sends again records set aside before that
  // time (KeyRing::ResendRefused), once.
  absl::Status PushKeys(KeyRing& keys, const Credential& cred, SyncReport* report,
                        std::optional<int64_t> resend_before = std::nullopt);
  absl::Status PullAll(Replica& replica, KeyRing& keys, const Credential& cred,
                       const std::atomic<bool>* stop,
                       const std::function<void(const SyncReport&)>& progress,
                       SyncReport* report);
};

SyncClient::SyncClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SyncClient::~SyncClient() = default;

absl::StatusOr<std::unique_ptr<SyncClient>> SyncClient::Create(const ClientOptions& options) {
  if (options.address.empty() || options.address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hub address \"", options.address, "\" needs HOST:PORT, e.g. hub.example.org:7443"));
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.insecure) {
    if (!wire::IsLoopbackAddress(options.address)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--insecure (plain text) is allowed to loopback addresses only (127.0.0.0/8 written "
          "as 127.0.0.1, [::1], localhost), not ", Printable(options.address),
          "; give the CA file of the hub's certificate with --ca instead"));
    }
    creds = grpc::InsecureChannelCredentials();
  } else {
    absl::StatusOr<std::string> ca = ReadWhole(options.ca_file);
    if (!ca.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot read the CA file \"", options.ca_file,
          "\" that says which hub certificate to trust; ask the hub administrator for it (ca.crt)"));
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *ca;
    creds = grpc::SslCredentials(ssl);
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
  // timeout, left at its default: a TLS handshake on a slow link needs it.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  auto impl = std::make_unique<Impl>();
  impl->opts = options;
  impl->creds = creds;
  impl->args = args;
  impl->Reconnect();
  return std::unique_ptr<SyncClient>(new SyncClient(std::move(impl)));
}

absl::StatusOr<HelloInfo> SyncClient::Hello(const Credential* cred) {
  Impl& m = *impl_;
  grpc::ClientContext ctx;
  m.Prepare(&ctx, m.opts.call_timeout_millis, cred);
  pb::HelloRequest req;
  req.set_protocol_version(pb::PROTOCOL_VERSION_2);
  const int64_t sent = SystemClock::Get()->NowMillis();
  req.set_node_time_millis(sent);
  pb::HelloResponse resp;
  grpc::Status g = m.stub->Hello(&ctx, req, &resp);
  if (!g.ok()) return Explain(g, m.opts.address, "hello");
  FS_RETURN_IF_ERROR(wire::CheckProtocol(resp.protocol_version(), "hub"));
  const int64_t received = SystemClock::Get()->NowMillis();
  HelloInfo h;
  FS_ASSIGN_OR_RETURN(h.hub_id, Id16::FromBytes(resp.hub_id(), "hub id"));
  h.hub_time_millis = resp.hub_time_millis();
  h.skew_millis = (sent + received) / 2 - resp.hub_time_millis();
  h.province = resp.province();
  h.log_head = resp.log_head();
  h.enrol_challenge = resp.enrol_challenge();
  return h;
}

absl::StatusOr<Credential> SyncClient::Enroll(const std::string& token,
                                              const crypto::DeviceIdentity& id,
                                              const std::string& device_name,
                                              std::string* province, std::string* hub_id) {
  const crypto::DevicePublic& keys = id.public_keys();
  const DeviceId& device = keys.device;
  Impl& m = *impl_;
  // The hub's challenge, for the proof that this request comes from the
  // device's keystore (what lets a lost answer be retried, by it alone).
  FS_ASSIGN_OR_RETURN(HelloInfo hello, Hello(nullptr));
  pb::EnrollRequest req;
  req.set_protocol_version(pb::PROTOCOL_VERSION_2);
  req.set_token(token);
  req.set_device_id(std::string(device.view()));
  req.set_device_name(device_name);
  req.set_sign_public_key(keys.sign_pk);
  req.set_box_public_key(keys.box_pk);
  if (!hello.enrol_challenge.empty()) {
    FS_ASSIGN_OR_RETURN(std::string proof, crypto::SignEnrolment(id, hello.hub_id,
                                                                 hello.enrol_challenge, token));
    req.set_challenge(hello.enrol_challenge);
    req.set_proof(proof);
  }
  grpc::ClientContext ctx;
  m.Prepare(&ctx, m.opts.call_timeout_millis, nullptr);
  pb::EnrollResponse resp;
  grpc::Status g = m.stub->Enroll(&ctx, req, &resp);
  if (!g.ok()) return Explain(g, m.opts.address, "the enrolment");
  if (resp.secret().size() != 32) {
    return absl::InternalError("the hub returned a credential of the wrong size");
  }
  *province = resp.province();
  FS_ASSIGN_OR_RETURN(DeviceId hub, Id16::FromBytes(resp.hub_id(), "hub id"));
  *hub_id = hub.ToString();
  return Credential{device, resp.secret()};
}

absl::StatusOr<SyncReport> SyncClient::Impl::Push(Replica& replica, const Credential& cred,
                                                  const std::atomic<bool>* stop,
                                                  SyncReport report) {
  FS_ASSIGN_OR_RETURN(int64_t pushed, replica.GetCursor(kPushedCursor));
  FS_ASSIGN_OR_RETURN(int64_t since_seq, replica.GetCursor(kSchemaSinceSeqCursor));
  while (true) {
    if (stop != nullptr && stop->load()) return absl::CancelledError("stopped before pushing all");
    FS_ASSIGN_OR_RETURN(std::vector<Commit> commits,
                        replica.LocalCommitsAfter(static_cast<uint64_t>(pushed), opts.push_batch));
    if (commits.empty()) return report;
    pb::PushRequest req;
    req.set_protocol_version(pb::PROTOCOL_VERSION_2);
    req.set_schema_version(static_cast<uint32_t>(replica.schema().version()));
    req.set_schema_since_seq(static_cast<uint64_t>(since_seq));
    // At most kPushBytes a call (the hub takes 16 MiB); a lone commit over
    // the limit can never travel, and says so.
    size_t bytes = 0;
    for (const Commit& c : commits) {
      std::string encoded = EncodeCommit(c);
      if (encoded.size() > static_cast<size_t>(wire::kMaxMessageBytes) - 4096) {
        return absl::FailedPreconditionError(absl::StrCat(
            "commit ", c.Name(), " is ", encoded.size(),
            " bytes, more than a sync message may carry (16 MiB); it cannot be pushed. Split "
            "such changes into smaller transactions"));
      }
      if (req.commits_size() > 0 && bytes + encoded.size() > kPushBytes) break;
      bytes += encoded.size();
      auto* e = req.add_commits();
      e->set_canonical(std::move(encoded));
      e->set_signature(c.signature);
    }
    const uint64_t last_sent = commits[static_cast<size_t>(req.commits_size()) - 1].seq;
    grpc::ClientContext ctx;
    Prepare(&ctx, opts.call_timeout_millis, &cred);
    pb::PushResponse resp;
    grpc::Status g = stub->Push(&ctx, req, &resp);
    if (!g.ok()) return Explain(g, opts.address, "the push");
    const auto acked = static_cast<int64_t>(resp.acknowledged_seq());
    if (acked <= pushed) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the hub acknowledged none of commits ", pushed + 1, "..", last_sent,
          " of this node; it holds this node's commits up to ", acked,
          ". Ask the hub administrator"));
    }
    // Acknowledged means durably stored at the hub: never sent again.
    FS_RETURN_IF_ERROR(replica.SetCursor(kPushedCursor, acked));
    report.pushed += resp.applied();
    report.push_duplicates += resp.duplicates();
    pushed = acked;
  }
}

absl::Status SyncClient::Impl::PushKeys(KeyRing& keys, const Credential& cred,
                                        SyncReport* report, std::optional<int64_t> resend_before) {
  bool resent = !resend_before.has_value();
  while (true) {
    FS_ASSIGN_OR_RETURN(std::vector<std::string> records,
                        keys.UnpushedRecords(static_cast<size_t>(wire::kMaxPushKeyRecords) / 2));
    if (records.empty() && !resent) {
      resent = true;
      FS_ASSIGN_OR_RETURN(size_t again,
                          keys.ResendRefused(tuning::kKeyRecordsResentPerPass, *resend_before));
      if (again > 0) continue;
    }
    if (records.empty()) return absl::OkStatus();
    pb::PushRequest req;
    req.set_protocol_version(pb::PROTOCOL_VERSION_2);
    for (const std::string& r : records) req.add_key_records(r);
    grpc::ClientContext ctx;
    Prepare(&ctx, opts.call_timeout_millis, &cred);
    pb::PushResponse resp;
    grpc::Status g = stub->Push(&ctx, req, &resp);
    if (!g.ok()) {
      absl::Status s = Explain(g, opts.address, "the push of key records");
      if (!PermanentRefusal(s)) return s;
      // Refused for good: find which records, one by one; those are kept
      // aside (never sent again) and reported, the others go.
      for (const std::string& r : records) {
        pb::PushRequest one;
        one.set_protocol_version(pb::PROTOCOL_VERSION_2);
        one.add_key_records(r);
        grpc::ClientContext c1;
        Prepare(&c1, opts.call_timeout_millis, &cred);
        pb::PushResponse r1;
        grpc::Status g1 = stub->Push(&c1, one, &r1);
        if (g1.ok()) {
          FS_RETURN_IF_ERROR(keys.MarkPushed({r}));
          report->key_records_pushed += 1;
          continue;
        }
        absl::Status s1 = Explain(g1, opts.address, "the push of a key record");
        if (!PermanentRefusal(s1)) return s1;
        FS_RETURN_IF_ERROR(keys.MarkRefused({r}, std::string(s1.message())));
        report->key_records_refused_by_hub += 1;
        if (report->key_push_refusal.empty()) report->key_push_refusal = std::string(s1.message());
      }
      continue;
    }
    FS_RETURN_IF_ERROR(keys.MarkPushed(records));
    report->key_records_pushed += records.size();
  }
}

absl::Status SyncClient::Impl::PullAll(Replica& replica, KeyRing& keys, const Credential& cred,
                                       const std::atomic<bool>* stop,
                                       const std::function<void(const SyncReport&)>& progress,
                                       SyncReport* report) {
  FS_ASSIGN_OR_RETURN(int64_t cursor, replica.GetCursor(kPulledCursor));
  FS_ASSIGN_OR_RETURN(int64_t bootstrapped, replica.GetCursor(kBootstrappedCursor));
  // A removed or revoked device's work is taken up to the end of the first
  // pull, caught up, that began after the hub held its removal (KeyRing).
  FS_RETURN_IF_ERROR(keys.BeginPull());
  struct Abandon {
    KeyRing& keys;
    bool ended = false;
    ~Abandon() {
      if (!ended) keys.AbandonPull();
    }
  } abandon{keys};
  pb::PullRequest req;
  req.set_protocol_version(pb::PROTOCOL_VERSION_2);
  req.set_cursor(cursor);
  req.set_bootstrapped(bootstrapped == 1);
  FS_ASSIGN_OR_RETURN(int64_t gc_epoch, replica.GetCursor(kGcEpochCursor));
  req.set_gc_epoch(static_cast<uint64_t>(gc_epoch));
  req.set_max_batch(opts.pull_batch);
  FS_ASSIGN_OR_RETURN(int64_t key_cursor, replica.GetCursor(kKeyCursor));
  req.set_key_cursor(key_cursor);
  req.set_registry_digest(keys.RegistryDigest());
  req.set_schema_version(static_cast<uint32_t>(replica.schema().version()));
  grpc::ClientContext ctx;
  Prepare(&ctx, opts.pull_timeout_millis, &cred);
  std::unique_ptr<grpc::ClientReader<pb::PullResponse>> reader = stub->Pull(&ctx, req);
  bool caught_up = false;
  report->cursor = cursor;
  // Each message is parsed into an arena freed at once after it is applied:
  // a bootstrap message holds thousands of small strings.
  google::protobuf::Arena arena;
  while (true) {
    arena.Reset();
    auto* parsed = google::protobuf::Arena::CreateMessage<pb::PullResponse>(&arena);
    if (!reader->Read(parsed)) break;
    const pb::PullResponse& msg = *parsed;
    // The registry and key records come first: pulled commits are verified
    // against the registry.
    absl::Status keys_bad;
    if (msg.registry_included()) {
      std::vector<RegisteredDevice> devices;
      for (const auto& d : msg.registry()) {
        RegisteredDevice rd;
        absl::StatusOr<DeviceId> id = Id16::FromBytes(d.device(), "registered device");
        if (!id.ok()) {
          keys_bad = id.status();
          break;
        }
        rd.keys.device = *id;
        rd.keys.sign_pk = d.sign_public_key();
        rd.keys.box_pk = d.box_public_key();
        rd.province = d.province();
        rd.name = d.name();
        rd.revoked_position = d.revoked_position();
        rd.revoked_at_millis = d.revoked_at_millis();
        devices.push_back(std::move(rd));
      }
      if (keys_bad.ok()) keys_bad = keys.SetRegistry(devices);
    }
    if (keys_bad.ok() && msg.key_records_size() > 0) {
      std::vector<std::string> records(msg.key_records().begin(), msg.key_records().end());
      absl::StatusOr<KeyRecordsReport> kr = keys.AddRecords(records);
      if (!kr.ok()) {
        keys_bad = kr.status();
      } else {
        report->key_records_received += kr->added;
        report->key_records_refused += kr->refused;
        if (report->key_refusal.empty()) report->key_refusal = kr->first_refusal;
        if (msg.key_cursor() > 0) keys_bad = replica.SetCursor(kKeyCursor, msg.key_cursor());
      }
    }
    if (!keys_bad.ok()) {
      ctx.TryCancel();
      reader->Finish().IgnoreError();
      return absl::Status(keys_bad.code(),
                          absl::StrCat("the hub's registry or key records could not be taken "
                                       "in: ", keys_bad.message()));
    }
    PulledBatch batch;
    batch.reset = msg.reset();
    batch.pushed_cursor = kPushedCursor;  // guards resets and installed rows
    if (msg.reset()) report->bootstrapped = true;
    if (!msg.notice().empty()) report->notice = msg.notice();
    batch.rows_position = msg.rows_position();
    batch.rows.reserve(static_cast<size_t>(msg.rows_size()));
    absl::Status bad;
    for (const auto& r : msg.rows()) {
      absl::StatusOr<RowSnapshot> snap = wire::FromProto(r);
      if (!snap.ok()) {
        bad = snap.status();
        break;
      }
      batch.rows.push_back(*std::move(snap));
    }
    for (const auto& p : msg.purged()) {
      absl::StatusOr<RowId> id = Id16::FromBytes(p.row(), "purged row");
      if (!id.ok()) {
        bad = id.status();
        break;
      }
      batch.purged.emplace_back(p.table(), *id);
    }
    for (const auto& c : msg.commits()) {
      if (!bad.ok()) break;
      absl::StatusOr<Commit> commit = DecodeCommit(c.canonical());
      if (!commit.ok()) {
        bad = commit.status();
        break;
      }
      commit->signature = c.signature();
      for (const auto& o : c.omitted()) commit->omitted.emplace_back(o.index(), o.digest());
      batch.commits.emplace_back(c.position(), *std::move(commit));
    }
    if (!bad.ok()) {
      ctx.TryCancel();
      reader->Finish().IgnoreError();
      return absl::DataLossError(absl::StrCat(
          "the hub sent a malformed pull batch (nothing of it was applied): ", bad.message()));
    }
    // A bootstrap starts by forgetting the last one, and is complete only
    // with its last message: a cut in between starts it over.
    if (msg.reset()) batch.cursors.emplace_back(kBootstrappedCursor, 0);
    if (msg.cursor() > 0 || msg.caught_up()) {
      batch.cursors.emplace_back(kPulledCursor, msg.cursor());
      batch.cursors.emplace_back(kBootstrappedCursor, 1);
      batch.cursors.emplace_back(kGcEpochCursor, static_cast<int64_t>(msg.gc_epoch()));
    }
    absl::StatusOr<PullResult> r = replica.ApplyPulled(batch);
    if (!r.ok()) {
      ctx.TryCancel();
      reader->Finish().IgnoreError();
      if (r.status().code() == absl::StatusCode::kUnauthenticated ||
          r.status().code() == absl::StatusCode::kPermissionDenied) {
        // Another device's commit failed verification here: not this node's
        // credential. Nothing of the batch was applied; the pass fails and
        // is retried, and the administrator must look.
        return absl::DataLossError(absl::StrCat(
            "the hub relayed a commit that does not verify, so nothing of that batch was "
            "applied (tell the hub administrator): ", r.status().message()));
      }
      return r.status();
    }
    if (r->deferred > 0) {
      ctx.TryCancel();
      reader->Finish().IgnoreError();
      return absl::AbortedError(absl::StrCat(
          r->deferred, " pulled commits depend on commits this node does not hold; the batch "
                       "was applied without moving the cursor, sync again"));
    }
    report->pulled += r->applied;
    report->rows_installed += r->rows_installed;
    report->tombstones_purged += r->tombstones_purged;
    report->pull_messages += 1;
    report->log_head = msg.log_head();
    if (msg.cursor() > 0) report->cursor = msg.cursor();
    if (progress) progress(*report);
    if (msg.caught_up()) caught_up = true;
    if (stop != nullptr && stop->load() && !caught_up) {
      ctx.TryCancel();
      reader->Finish().IgnoreError();
      return absl::CancelledError("stopped during the pull; what was applied is kept");
    }
  }
  grpc::Status g = reader->Finish();
  if (!g.ok()) return Explain(g, opts.address, "the pull");
  if (!caught_up) {
    return absl::UnavailableError("the pull ended before the hub said it was complete; sync again");
  }
  abandon.ended = true;
  return keys.EndPull();
}

absl::StatusOr<SyncReport> SyncClient::Sync(
    Replica& replica, KeyRing& keys, const Credential& cred, const std::atomic<bool>* stop,
    const std::function<void(const SyncReport&)>& progress) {
  Impl& m = *impl_;
  if (cred.device != replica.device_id()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the credential belongs to device ", cred.device.ToString(), " but this replica is device ",
        replica.device_id().ToString(), "; enrol this replica (fieldnode enroll)"));
  }
  auto pass = [&]() -> absl::StatusOr<SyncReport> {
    const int64_t pass_start = SystemClock::Get()->NowMillis();
    FS_ASSIGN_OR_RETURN(HelloInfo hello, Hello(&cred));
    SyncReport report;
    report.skew_millis = hello.skew_millis;
    // Everything of ours first: a bootstrap never discards unpushed work.
    // Commits, then key records (the hub checks some records against the
    // rows they are for: those must be there first).
    absl::StatusOr<SyncReport> pushed = m.Push(replica, cred, stop, report);
    if (pushed.ok()) {
      report = *pushed;
    } else if (PermanentRefusal(pushed.status())) {
      // The hub will never take that commit as it is: do not let it stop
      // the node from receiving the others' work.
      report.push_refused = pushed.status();
    } else {
      return pushed.status();
    }
    // Key records refused for good are set aside inside; only a failure to
    // reach the hub stops the pass. Then those the hub refused at earlier
    // passes, a few, approvals and removals first: it may have been fixed
    // since, and an approval it never relays leaves the office as it was
    // on every other laptop (KeyRing::MarkRefused). Never twice a pass.
    FS_RETURN_IF_ERROR(m.PushKeys(keys, cred, &report, pass_start));
    FS_RETURN_IF_ERROR(m.PullAll(replica, keys, cred, stop, progress, &report));
    // Values this laptop wrote clear before their column was sealed
    // (schema version 4), rewritten sealed once the pull brought what
    // colleagues wrote since (a rewrite never undoes an edit it has not
    // seen), then pushed. A failure here is reported, never stops the pass.
    if (keys.unlocked()) {
      absl::StatusOr<int64_t> resealed =
          SealLegacyValues(replica, keys, tuning::kLegacySealRowsPerPass);
      if (!resealed.ok()) {
        report.key_notes.push_back(absl::StrCat("values written in clear before schema version 4 "
                                                "were not sealed: ", resealed.status().message()));
      } else if (*resealed > 0) {
        report.key_notes.push_back(absl::StrCat(
            "sealed ", *resealed, " values this laptop wrote in clear before schema version 4"));
        absl::StatusOr<SyncReport> again = m.Push(replica, cred, stop, report);
        if (again.ok()) report = *again;
      }
    }
    // Now that the registry and the office's records are current: office
    // keys, shares for new devices, a new generation after a revocation,
    // grants for referrals; sent at once.
    if (keys.unlocked()) {
      FS_ASSIGN_OR_RETURN(MaintainReport mr, keys.Maintain());
      report.key_notes.insert(report.key_notes.end(), mr.notes.begin(), mr.notes.end());
      FS_RETURN_IF_ERROR(m.PushKeys(keys, cred, &report));
    }
    return report;
  };
  absl::StatusOr<SyncReport> r = pass();
  if (!r.ok() && Retryable(r.status())) m.Reconnect();
  return r;
}

bool PermanentRefusal(const absl::Status& s) {
  // After a successful Hello (the node is enrolled and not revoked), these
  // are the hub's verdict on a commit: outside the node's scope, a record
  // collected, malformed. FAILED_PRECONDITION is not among them: it also
  // means a clock far ahead or a hub restored from a backup, which must stop
  // the pass rather than let it pull as if nothing had happened.
  return s.code() == absl::StatusCode::kPermissionDenied ||
         s.code() == absl::StatusCode::kInvalidArgument;
}

bool Retryable(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<bool> HasUrgentUnpushed(Replica& replica, uint64_t after_seq) {
  FS_ASSIGN_OR_RETURN(int64_t pushed, replica.GetCursor(kPushedCursor));
  uint64_t from = std::max(static_cast<uint64_t>(pushed), after_seq);
  while (true) {
    FS_ASSIGN_OR_RETURN(std::vector<Commit> commits, replica.LocalCommitsAfter(from, 1000));
    if (commits.empty()) return false;
    for (const Commit& c : commits) {
      for (const RowChange& rc : c.changes) {
        for (const FieldWrite& f : rc.fields) {
          if (f.column == "urgency" && f.value.kind() == Value::Kind::kText &&
              f.value.str() == "urgent") {
            return true;
          }
          // The report's clear hour (its exact time is sealed, NULL included).
          if (f.column == "crime_reported_hour" && !f.value.is_null()) return true;
        }
      }
    }
    from = commits.back().seq;
  }
}

}  // namespace fieldsync::node
