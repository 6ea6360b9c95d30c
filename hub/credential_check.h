// What a call's credential must match of the node's stored secret_hash, the
// one check both stores make (hub/sqlite_registry.cc, hub/pg/registry.cc):
// the node's secret itself (`Bearer`, from a laptop older than proofs) or a
// proof bound to a certificate this hub serves (crypto/credential_proof.h;
// docs/PROTOCOL.md, "Credentials"). Compared in constant time; never logged.
#ifndef FIELDSYNC_HUB_CREDENTIAL_CHECK_H_
#define FIELDSYNC_HUB_CREDENTIAL_CHECK_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "change/id.h"

namespace fieldsync::hub {

class CredentialCheck {
 public:
  // The node's secret, as an older laptop's bearer sends it.
  static CredentialCheck Secret(std::string secret);
  // A proof by `device` for hub `hub`, good if made over one of
  // `certificate_digests` (SHA-256 of each certificate this hub is reached
  // through: its own, `serve --proof-cert`; crypto::NoCertificateDigest()
  // on plain-text loopback).
  static CredentialCheck Proof(const DeviceId& hub, const DeviceId& device, std::string proof,
                               std::vector<std::string> certificate_digests);

  // OK if the credential matches `secret_hash` (hub_nodes.secret_hash);
  // UNAUTHENTICATED otherwise, in the same words whatever did not match.
  absl::Status Verify(std::string_view secret_hash) const;

 private:
  CredentialCheck() = default;
  std::string secret_;
  std::string proof_;
  DeviceId hub_;
  DeviceId device_;
  std::vector<std::string> digests_;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_CREDENTIAL_CHECK_H_
