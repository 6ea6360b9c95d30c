#include "node/client.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cstdio>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "proto/wire.h"
#include "sync/pass.h"

namespace fieldsync::node {
namespace {

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
  absl::StatusOr<std::string> text = ReadWholeFile(dir + "/hub.conf");
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
  absl::StatusOr<std::string> text = ReadWholeFile(dir + "/credential");
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
// Client: the engine's pass over the gRPC transport

SyncClient::SyncClient(std::unique_ptr<sync::Transport> transport, HubLinks* grpc,
                       const ClientOptions& options)
    : transport_(std::move(transport)), grpc_(grpc), options_(options) {}
SyncClient::~SyncClient() = default;

absl::StatusOr<std::unique_ptr<SyncClient>> SyncClient::Create(const ClientOptions& options) {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<HubLinks> t, HubLinks::Create(options));
  HubLinks* grpc = t.get();
  return std::unique_ptr<SyncClient>(new SyncClient(std::move(t), grpc, options));
}

std::unique_ptr<SyncClient> SyncClient::Over(std::unique_ptr<sync::Transport> transport,
                                             const ClientOptions& options) {
  return std::unique_ptr<SyncClient>(new SyncClient(std::move(transport), nullptr, options));
}

sync::Transport& SyncClient::transport() { return *transport_; }

absl::StatusOr<HelloInfo> SyncClient::Hello(const Credential* cred) {
  return sync::SayHello(*transport_, cred, *SystemClock::Get());
}

absl::StatusOr<Credential> SyncClient::Enroll(const std::string& token,
                                              const crypto::DeviceIdentity& id,
                                              const std::string& device_name,
                                              std::string* province, std::string* hub_id) {
  FS_ASSIGN_OR_RETURN(sync::EnrollReply e,
                      sync::Enrol(*transport_, token, id, device_name, *SystemClock::Get()));
  *province = e.province;
  *hub_id = e.hub_id.ToString();
  Credential cred{id.public_keys().device, e.secret};
  // The link key registered at once (docs/PROTOCOL.md, "Credentials",
  // version 2): from then on no proof made from the secret's hash (which
  // the hub's store holds) is taken for this laptop. A Hello that fails
  // here changes nothing: the next pass's Hello registers it.
  Hello(&cred).IgnoreError();
  return cred;
}

absl::StatusOr<SyncReport> SyncClient::Sync(
    Replica& replica, KeyRing& keys, const Credential& cred, const std::atomic<bool>* stop,
    const std::function<void(const SyncReport&)>& progress, bool* progressed) {
  sync::PassOptions o;
  o.push.max_commits = options_.push_batch;
  o.pull.max_batch = options_.pull_batch;
  o.statement_interval_millis = statement_interval_millis_;
  o.checkpoint_interval_millis = checkpoint_interval_millis_;
  o.clock = clock_;
  // Between batches the pass looks at *stop itself; the transport cancels
  // a call under way (one over a slow link may last its whole deadline).
  if (grpc_ != nullptr) grpc_->SetStop(stop);
  absl::StatusOr<SyncReport> r =
      sync::RunPass(*transport_, replica, keys, cred, o, stop, progress, progressed);
  if (grpc_ != nullptr) grpc_->SetStop(nullptr);
  return r;
}

}  // namespace fieldsync::node
