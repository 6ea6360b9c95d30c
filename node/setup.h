// Setting a laptop up, as a library (fieldnode init and enroll call it; a
// local console would too): creating the replica and the keystore sealed
// under a passphrase, and enrolling with the hub. Nothing here prints or
// asks: the passphrase and the unlocked identity come from the caller.
#ifndef FIELDSYNC_NODE_SETUP_H_
#define FIELDSYNC_NODE_SETUP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "crypto/identity.h"
#include "node/client.h"
#include "store/data_dir.h"

namespace fieldsync::node {

// A new replica in `dir` with this laptop's keys in a keystore (`keystore`)
// sealed under `passphrase`, which must meet the rule (checked by the
// caller). ALREADY_EXISTS if the keystore is there; on a failure nothing is
// left behind (init can simply be run again). The new identity.
absl::StatusOr<crypto::DeviceIdentity> CreateNode(const DataDir& dir, const std::string& keystore,
                                                  const std::string& passphrase);

// Enrolment with the hub. `ca_file` is read and checked before anything
// is asked (unless `insecure`).
struct EnrolRequest {
  std::string hub;       // HOST:PORT
  std::string ca_file;   // the CA certificate that signed the hub's
  std::string token;     // the one-time enrolment token
  std::string name;      // this device's name, NFC
  bool insecure = false;  // plain text, to a hub on this machine
};

// The checks made before the passphrase is asked: the replica is not
// enrolled yet, the CA file holds a certificate, the address is one a
// client takes. The hub's settings so far, the CA's PEM, the client.
struct EnrolPlan {
  HubConfig conf;
  std::string ca_pem;
  std::unique_ptr<SyncClient> client;
};
absl::StatusOr<EnrolPlan> PlanEnrolment(const DataDir& dir, const EnrolRequest& request);

// Enrols `identity` with the hub, then keeps the CA certificate in the data
// directory (hub-ca.crt) and the hub's settings and credential. Errors from
// the hub are its own (UNAVAILABLE when it cannot be reached).
struct Enrolment {
  Credential credential;
  HubConfig hub;
};
absl::StatusOr<Enrolment> Enrol(const DataDir& dir, const EnrolRequest& request, EnrolPlan& plan,
                                const crypto::DeviceIdentity& identity);

// A sync client for the hub of `hub` (`pull_batch` records per pull message;
// 0: the hub's default).
absl::StatusOr<std::unique_ptr<SyncClient>> ClientFor(const HubConfig& hub,
                                                      uint32_t pull_batch = 0);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_SETUP_H_
