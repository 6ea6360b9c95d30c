// The PEM files of TLS -- the hub's certificate and key, the CA file a node
// trusts -- checked when they are loaded. gRPC parses them only when a
// connection is made, and then says "empty address list" (a node, exit 3
// as if the hub were unreachable) or fails to listen (a hub). Parsed with
// OpenSSL, the library Debian's gRPC itself uses.
#ifndef FIELDSYNC_PROTO_TLS_FILES_H_
#define FIELDSYNC_PROTO_TLS_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fieldsync::wire {

// The number of certificates in PEM text `pem`. INVALID_ARGUMENT saying
// what OpenSSL found if there is none (no PEM block, or garbage between
// the markers) or if a block after them cannot be read.
absl::StatusOr<int> CountCertificates(std::string_view pem);

// When the certificates of PEM text `pem` are valid, as seconds since the
// epoch: from the earliest start of one to the latest end of one (a node
// compares its clock with its CA file when the hub's certificate was not
// accepted). INVALID_ARGUMENT if none can be read.
struct ValidityWindow {
  int64_t not_before = 0;
  int64_t not_after = 0;
};
absl::StatusOr<ValidityWindow> CertificatesValidity(std::string_view pem);

// OK if `pem` holds a private key that reads without a passphrase;
// INVALID_ARGUMENT otherwise.
absl::Status CheckPrivateKey(std::string_view pem);

// OK if `key_pem` is the private key of the first certificate of
// `cert_pem` (both readable); INVALID_ARGUMENT otherwise.
absl::Status CheckKeyPair(std::string_view cert_pem, std::string_view key_pem);

// SHA-256 of the DER of the first certificate of PEM text `pem`: the
// "tls-server-end-point" digest a credential proof is bound to
// (crypto/credential_proof.h). INVALID_ARGUMENT if none reads.
absl::StatusOr<std::string> LeafCertificateDigest(std::string_view pem);

}  // namespace fieldsync::wire

#endif  // FIELDSYNC_PROTO_TLS_FILES_H_
