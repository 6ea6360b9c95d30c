// What a call's credential must match of the node's stored secret_hash and
// link key, the one check both stores make (hub/sqlite_registry.cc,
// hub/pg/registry.cc): the node's secret itself (`Bearer`, from a laptop
// older than proofs), a version 1 proof keyed by the secret's hash, or a
// version 2 proof signed by the node's link key, each bound to a
// certificate this hub serves (crypto/credential_proof.h; docs/PROTOCOL.md,
// "Credentials"). Once the hub holds a device's link key only its version 2
// proof is taken: the bearer and the version 1 proof, which a copy of the
// hub's store or a secret taken from the laptop can make, are refused.
// Compared in constant time; never logged.
#ifndef FIELDSYNC_HUB_CREDENTIAL_CHECK_H_
#define FIELDSYNC_HUB_CREDENTIAL_CHECK_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "change/id.h"

namespace fieldsync::hub {

// What hub_nodes.link_pk holds for a device closed by a two-holders alarm
// of a session 25 hub (since session 26 an alarm closes nothing): never a
// public key (those are 32 bytes), so no proof verifies against it and no
// Hello registers a key over it; the device is refused until it is
// enrolled again (an enrolment clears link_pk). docs/PROTOCOL.md,
// "Credentials".
inline constexpr std::string_view kLinkKeyClosed = "closed: two holders";
// Whether a device's link_pk ("" for NULL) is a key, none, or the mark of
// a closed device.
enum class LinkKeyState { kNone, kHeld, kClosed };
LinkKeyState LinkKeyStateOf(std::string_view link_pk);
// The payload of a two-holders alarm's refusal: the link key the call did
// not prove with (named in the alarm's audit entry, hub/sync_handler.cc).
inline constexpr std::string_view kTwoHoldersAlarm = "fieldsync.v1/hub/two-holders";
// The stored link key of a refusal that raised the alarm, if it did.
std::optional<std::string> TwoHoldersAlarmKey(const absl::Status& s);

// The payload of a refused credential's status saying why, for the hub's
// own refusal line only (the laptop is told the words of a wrong secret,
// whatever did not match): "a bearer for a device that proves with its
// link key", "a proof over an unknown certificate", ... Never on the wire
// (wire::ToGrpc drops payloads).
inline constexpr std::string_view kCredentialRefusalWhy = "fieldsync.v1/hub/credential-refused";
// UNAUTHENTICATED in the words of a wrong secret, with `why` for the hub's
// line (empty: none).
absl::Status CredentialRefused(std::string_view why);
// The why of `s`, if any.
std::optional<std::string> CredentialRefusalWhy(const absl::Status& s);

class CredentialCheck {
 public:
  // The node's secret, as an older laptop's bearer sends it.
  static CredentialCheck Secret(std::string secret);
  // A version 1 proof by `device` for hub `hub`, good if made over one of
  // `certificate_digests` (SHA-256 of each certificate this hub is reached
  // through: its own, `serve --proof-cert`; crypto::NoCertificateDigest()
  // on plain-text loopback). `proof` may be empty when only a version 2
  // proof is given (WithLinkProof).
  static CredentialCheck Proof(const DeviceId& hub, const DeviceId& device, std::string proof,
                               std::vector<std::string> certificate_digests);
  // Adds a version 2 proof (a link key's signature) made over
  // `certificate_digest`, which the node says it saw.
  CredentialCheck& WithLinkProof(std::string link_proof, std::string certificate_digest);

  // OK if the credential matches: for a device with a link key
  // (`link_public_key`, hub_nodes.link_pk), its version 2 proof alone;
  // for one without, `secret_hash` (hub_nodes.secret_hash) by the bearer or
  // the version 1 proof. UNAUTHENTICATED otherwise, in the same words
  // whatever did not match, with a kCredentialRefusalWhy payload. A call
  // for a device with a link key whose version 2 proof fails while its
  // version 1 proof verifies against `secret_hash` is what the real laptop
  // sends once someone else registered a key for it from a copy of the
  // store, or what a store copy's holder sends for a device whose laptop
  // registered its own: two holders of one credential. Its refusal carries
  // kTwoHoldersAlarm too; nothing is changed by it. A closed device
  // (kLinkKeyClosed, session 25) is refused whatever the call carries.
  absl::Status Verify(std::string_view secret_hash, std::string_view link_public_key = {}) const;

  // Whether the version 2 proof is `link_public_key`'s over a certificate
  // this hub serves: what a Hello registering that key shows of it.
  bool LinkProofVerifies(std::string_view link_public_key) const;

  bool is_secret() const { return !secret_.empty(); }

 private:
  CredentialCheck() = default;
  // Whether the digest the version 2 proof names is one this hub serves.
  bool ServesLinkDigest() const;
  // Whether the version 1 proof is keyed by `secret_hash`.
  bool V1ProofVerifies(std::string_view secret_hash) const;

  std::string secret_;
  std::string proof_;
  std::string link_proof_;
  std::string link_digest_;
  DeviceId hub_;
  DeviceId device_;
  std::vector<std::string> digests_;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_CREDENTIAL_CHECK_H_
