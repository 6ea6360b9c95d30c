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
//
// Version 2 (session 24; attack review 23, MED 2): a signature by the
// node's link key, an Ed25519 key pair whose seed is derived from the
// secret, over the same parts:
//
//   seed  = BLAKE2b-256("fieldsync link key v1" 0x00 || secret)
//   proof = Ed25519 signature by the link key of
//           "fieldsync credential proof v2" 0x00 || hub id 16 || device 16
//           || certificate digest 32
//
// The hub keeps the link key's public half (hub_nodes.link_pk), which
// verifies proofs and makes none: a copy of the hub's store is no
// credential for a device whose link key the hub holds.
#ifndef FIELDSYNC_CRYPTO_CREDENTIAL_PROOF_H_
#define FIELDSYNC_CRYPTO_CREDENTIAL_PROOF_H_

#include <string>
#include <string_view>

#include "change/id.h"
#include "crypto/secret.h"

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

// Version 2: the link key's proofs (HelloResponse.credential_proof 2 from
// a hub that checks them).
inline constexpr int kLinkProofVersion = 2;
inline constexpr std::string_view kLinkKeyDomain = "fieldsync link key v1";
inline constexpr std::string_view kLinkProofDomain = "fieldsync credential proof v2";
inline constexpr size_t kLinkPublicKeyBytes = 32;
inline constexpr size_t kLinkProofBytes = 64;

// The link key of a node's secret, whose public half the hub keeps.
class LinkKey {
 public:
  explicit LinkKey(std::string_view secret);
  LinkKey(LinkKey&&) noexcept = default;
  LinkKey& operator=(LinkKey&&) noexcept = default;

  const std::string& public_key() const { return public_key_; }
  // The version 2 proof above (kLinkProofBytes).
  std::string Proof(const DeviceId& hub, const DeviceId& device,
                    std::string_view certificate_digest) const;

 private:
  std::string public_key_;
  SecretBytes secret_key_;  // Ed25519, 64 bytes
};

// Whether `proof` is `link_public_key`'s version 2 proof for (hub, device,
// certificate_digest).
bool VerifyLinkProof(std::string_view link_public_key, const DeviceId& hub,
                     const DeviceId& device, std::string_view certificate_digest,
                     std::string_view proof);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_CREDENTIAL_PROOF_H_
