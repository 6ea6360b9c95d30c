#include "node/setup.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "crypto/keystore.h"
#include "proto/tls_files.h"

namespace fieldsync::node {

absl::StatusOr<crypto::DeviceIdentity> CreateNode(const DataDir& dir, const std::string& keystore,
                                                  const std::string& passphrase) {
  if (access(keystore.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(
        "already initialised: ", keystore, " exists; use it, or choose another --data-dir"));
  }
  auto replica = CreateReplicaIn(dir);
  if (!replica.ok()) return replica.status();
  crypto::DeviceIdentity identity = crypto::DeviceIdentity::Generate((*replica)->device_id());
  absl::Status s = crypto::CreateKeystoreFile(keystore, identity, passphrase);
  if (!s.ok()) {
    // No replica without its keys: init can simply be run again.
    replica->reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove((dir.ReplicaPath() + suffix).c_str());
    }
    return s;
  }
  return identity;
}

absl::StatusOr<EnrolPlan> PlanEnrolment(const DataDir& dir, const EnrolRequest& request) {
  auto replica = OpenReplicaIn(dir);
  if (!replica.ok()) return replica.status();
  if (LoadHubConfig(dir.path).ok()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "this replica is already enrolled (", dir.path,
        "/hub.conf); a replica syncs with one hub. To start over, make a new one with "
        "fieldnode init in another directory"));
  }
  EnrolPlan plan;
  plan.conf.address = request.hub;
  plan.conf.insecure = request.insecure;
  if (!request.insecure) {
    const std::string& ca = request.ca_file;
    std::ifstream in(ca, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot read the CA file ", ca, "; nothing was changed"));
    }
    plan.ca_pem = ss.str();
    // Checked here: gRPC would only say "empty address list", as if the hub
    // were unreachable.
    if (absl::StatusOr<int> n = wire::CountCertificates(plan.ca_pem); !n.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the CA file ", ca, " holds no valid certificate (", n.status().message(),
          "): use the ca.crt the hub administrator gave you (tools/make-certs writes it); "
          "nothing was changed"));
    }
    // Used from where it is until the enrolment succeeds; then it travels
    // with the data directory (nothing is left behind by a failed one).
    plan.conf.ca_file = ca;
  }
  auto client = ClientFor(plan.conf);
  if (!client.ok()) return client.status();
  plan.client = *std::move(client);
  return plan;
}

absl::StatusOr<Enrolment> Enrol(const DataDir& dir, const EnrolRequest& request, EnrolPlan& plan,
                                const crypto::DeviceIdentity& identity) {
  std::string province, hub_id;
  auto cred = plan.client->Enroll(request.token, identity, request.name, &province, &hub_id);
  if (!cred.ok()) return cred.status();
  HubConfig conf = plan.conf;
  conf.province = province;
  conf.hub_id = hub_id;
  if (!request.insecure) {
    const std::string copy = dir.path + "/hub-ca.crt";
    std::ofstream out(copy, std::ios::binary | std::ios::trunc);
    out << plan.ca_pem;
    out.close();
    if (!out) {
      std::remove(copy.c_str());
      return absl::FailedPreconditionError(absl::StrCat(
          "the hub enrolled this laptop, but ", copy, " could not be written: free some space "
          "and run the same enroll again (the hub takes a retry with the same keys)"));
    }
    conf.ca_file = copy;
  }
  if (absl::Status s = SaveEnrolment(dir.path, conf, *cred); !s.ok()) return s;
  return Enrolment{*cred, conf};
}

absl::StatusOr<std::unique_ptr<SyncClient>> ClientFor(const HubConfig& hub, uint32_t pull_batch) {
  ClientOptions o;
  o.pull_batch = pull_batch;
  o.address = hub.address;
  o.hub_id = hub.hub_id;
  o.ca_file = hub.ca_file;
  o.insecure = hub.insecure;
  return SyncClient::Create(o);
}

}  // namespace fieldsync::node
