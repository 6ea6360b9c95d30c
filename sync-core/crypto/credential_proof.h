// The credential proof a laptop sends its hub instead of its secret
// (docs/PROTOCOL.md, "Credentials", proof version 1; attack review 22,
// MED 1). The hub keeps only BLAKE2b-256 of a node's secret
// (hub_nodes.secret_hash); the proof is keyed by that hash and bound to
// the TLS certificate the laptop saw on the connection carrying the call
// (RFC 5929's "tls-server-end-point": SHA-256 of the server's leaf
// certificate, DER):
//
//   proof = BLAKE2b-256 keyed by BLAKE2b-256(secret), over
//           "fieldsync credential proof v1" 0x00 || hub id 16 || device 16
//           || certificate digest 32
//
// A party that answers at the hub's address with a certificate of its own
// (another hub or anyone under the same CA, a relay) receives a proof
// bound to its own certificate, which the real hub refuses: the hub checks
// it against the digests of the certificates it serves (its own, and any
// `fieldhub serve --proof-cert` of a TLS-terminating proxy in front). No
// new key and no new enrolment: every enrolled laptop has its secret.
// What it does not stop: whoever holds the hub's stored secret_hash (a copy
// of hub.db or of the database) can make proofs (docs/PROTOCOL.md).
#ifndef FIELDSYNC_CRYPTO_CREDENTIAL_PROOF_H_
#define FIELDSYNC_CRYPTO_CREDENTIAL_PROOF_H_

#include <string>
#include <string_view>

#include "change/id.h"

namespace fieldsync::crypto {

// The version of the proof above (HelloResponse.credential_proof).
inline constexpr int kCredentialProofVersion = 1;
inline constexpr std::string_view kCredentialProofDomain = "fieldsync credential proof v1";
inline constexpr size_t kCertificateDigestBytes = 32;

// What the hub keeps of a node's secret, and the key of its proofs:
// BLAKE2b-256 (32 bytes).
std::string SecretHash(std::string_view secret);

// The digest a proof over a plain-text loopback link (`--insecure`, tests)
// is bound to, there being no certificate: 32 zero bytes.
std::string NoCertificateDigest();

// The proof above (32 bytes). `secret_hash` is SecretHash(secret);
// `certificate_digest` is kCertificateDigestBytes long.
std::string CredentialProof(std::string_view secret_hash, const DeviceId& hub,
                            const DeviceId& device, std::string_view certificate_digest);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_CREDENTIAL_PROOF_H_
