// Proof, in an enrolment request, that it comes from the keystore whose
// public keys it registers (docs/CRYPTO.md, "Enrolment proof"; docs/
// PROTOCOL.md, "Credentials"). A device id and its public keys are public
// (in every commit, in the registry relayed to every laptop), and a used
// token stays valid for its device's retries until it expires: without a
// proof, anyone holding both could enrol the id again and lock the real
// laptop out (its credential replaced).
//
//   proof = Ed25519 signature by the device, domain "fieldsync enrolment v1",
//           over hub id 16 || challenge 32 || BLAKE2b-256(token) 32
//                || device 16 || Ed25519 public key 32 || X25519 public key 32
//
// The challenge is the hub's (HelloResponse.enrol_challenge): fresh, made
// by that hub, so a proof is good for one hub and a few minutes. The token
// is hashed so that a proof never carries it.
//
// Version 2 (session 23; attack review 23, MED 1) is also bound to the
// connection: domain "fieldsync enrolment v2", the same bytes followed by
// the digest of the server certificate the laptop saw on its Hello's
// connection (crypto/credential_proof.h: SHA-256 of the leaf, DER; 32 zero
// bytes over plain-text loopback). A party answering with a certificate of
// its own (under the laptops' CA) that relays the enrolment to the real hub
// gets it refused there, and so never reads the secret in the answer. A
// hub takes version 1 from laptops older than this.
#ifndef FIELDSYNC_CRYPTO_ENROLMENT_PROOF_H_
#define FIELDSYNC_CRYPTO_ENROLMENT_PROOF_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/identity.h"

namespace fieldsync::crypto {

inline constexpr std::string_view kEnrolmentDomain = "fieldsync enrolment v1";
inline constexpr std::string_view kEnrolmentDomainV2 = "fieldsync enrolment v2";
inline constexpr size_t kEnrolChallengeBytes = 32;

// The bytes signed (above). `challenge` must be kEnrolChallengeBytes long.
std::string EnrolmentMessage(const DeviceId& hub, std::string_view challenge,
                             std::string_view token, const DevicePublic& keys);

// The proof of `id` for an enrolment with `token` at `hub` under `challenge`:
// version 2 bound to `certificate_digest` if given, else version 1; an
// error only if a delegated identity's agent could not sign.
absl::StatusOr<std::string> SignEnrolment(const DeviceIdentity& id, const DeviceId& hub,
                                          std::string_view challenge, std::string_view token,
                                          std::string_view certificate_digest = {});

// UNAUTHENTICATED unless `proof` is `keys`' signature of that enrolment:
// version 2 bound to one of `certificate_digests` (the certificates the hub
// serves), or version 1 (INVALID_ARGUMENT for a challenge of the wrong
// length).
absl::Status VerifyEnrolment(const DevicePublic& keys, const DeviceId& hub,
                             std::string_view challenge, std::string_view token,
                             std::string_view proof,
                             const std::vector<std::string>& certificate_digests = {});

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_ENROLMENT_PROOF_H_
