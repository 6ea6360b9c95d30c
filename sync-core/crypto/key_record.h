// Key records: the signed, self-contained objects through which keys travel
// between devices by way of the hub, which stores and relays them but can
// open none (format version 1; docs/CRYPTO.md, "Key records").
//
//   offset size
//        0    1  magic 0xF6
//        1    1  format version (1)
//        2    1  kind: 1 office key, 2 office share, 3 data key, 4 erasure
//        3   16  signer device id
//       19    8  created: HLC of the signer, big-endian
//       27    .  body, by kind (strings: one length byte, then UTF-8)
//                1 office key:   province, generation u32, office key id 16,
//                                X25519 public key 32
//                2 office share: province, generation u32, office key id 16,
//                                recipient device 16, sealed 96
//                                (crypto_box_seal to the recipient's X25519
//                                key of office key id || office secret key)
//                3 data key:     key ring 16, key version u32, province,
//                                office key id 16, purpose u8 (1 owner,
//                                2 referral), sealed 100 (crypto_box_seal to
//                                the office public key of key ring || key
//                                version || data key)
//                4 erasure:      key ring 16
//                5 office data key: key ring 16, key version u32, province,
//                                office key id 16, sealed 92 (nonce 24 ||
//                                XChaCha20-Poly1305 under the office's wrap
//                                key of key ring || key version || data
//                                key, with every record byte before the
//                                nonce as additional data)
//                6 membership:   province, action u8 (1 first device, 2
//                                approve, 3 remove), subject device 16,
//                                subject Ed25519 key 32, subject X25519 key
//                                32, kept count u8 (0 unless remove), kept
//                                approval record ids 16 each (at most 16):
//                                the approvals signed by the removed device
//                                that stay valid (docs/CRYPTO.md, "Office
//                                membership")
//      end-64  64  Ed25519 signature by the signer over
//                  "fieldsync key record v1" 0x00 || every byte before it
//                  (kinds 1-4 and 6; kind 5 carries none: only a member of the
//                  office can make or open it, which the AEAD proves, and
//                  one is made for every new case, where a signature would
//                  double the cost of writing it)
//
// An office key's secret is an X25519 secret key; its wrap key is
// BLAKE2b-256 keyed with that secret over "fieldsync office wrap key v1".
// What is sealed names what it belongs to, so a sealed key lifted into a
// record for another case, version or office does not open as that; and the
// signature covers every byte, so no field can be edited.
#ifndef FIELDSYNC_CRYPTO_KEY_RECORD_H_
#define FIELDSYNC_CRYPTO_KEY_RECORD_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "clock/hlc.h"
#include "crypto/identity.h"
#include "crypto/secret.h"

namespace fieldsync::crypto {

inline constexpr uint8_t kKeyRecordMagic = 0xF6;
inline constexpr uint8_t kKeyRecordVersion = 1;
inline constexpr size_t kMaxKeyRecordBytes = 512;
// An office moves to a new generation at each revocation: a million is
// beyond any real office, and keeps generation + 1 from wrapping.
inline constexpr uint32_t kMaxOfficeGeneration = 1'000'000;
inline constexpr std::string_view kKeyRecordSignDomain = "fieldsync key record v1";

enum class KeyRecordKind : uint8_t {
  kOfficeKey = 1,
  kOfficeShare = 2,
  kDataKey = 3,
  kErasure = 4,
  kOfficeDataKey = 5,
  kMembership = 6,
};
inline constexpr uint8_t kMaxKeyRecordKind = 6;

// What a membership record (kind 6) says of its subject device.
enum class MembershipAction : uint8_t {
  kFirstDevice = 1,  // the office's first device, signed by itself
  kApprove = 2,      // a member approved the subject after comparing codes
  kRemove = 3,       // a member removed the subject from the office
};
std::string_view MembershipActionName(MembershipAction a);
// A removal lists at most this many approvals (by record id) signed by the
// removed device that stay valid; a record stays within 512 bytes.
inline constexpr size_t kMaxKeptApprovals = 16;
std::string_view KeyRecordKindName(KeyRecordKind k);
// The kind as stored (its number), nullopt for a number no kind has.
std::optional<KeyRecordKind> KeyRecordKindOf(int64_t stored);
// The one place SQL text names kinds: the stored numbers, joined by ", "
// (KindsSql({KeyRecordKind::kDataKey, KeyRecordKind::kOfficeDataKey}) is
// "3, 5"), for `kind = ...` and `kind IN (...)`.
std::string KindsSql(std::initializer_list<KeyRecordKind> kinds);

enum class DataKeyPurpose : uint8_t {
  kOwner = 1,     // for the office that owns the key ring
  kReferral = 2,  // a grant to an office the case was referred to
  // A version another office made, passed on by a laptop of the office that
  // owns the key ring to an office it referred the case to: for reading
  // only; no laptop seals under it or grants it on (docs/CRYPTO.md,
  // "Referral authority").
  kRelayed = 3,
};

struct KeyRecord {
  KeyRecordKind kind = KeyRecordKind::kOfficeKey;
  DeviceId signer;
  Hlc created;
  std::string province;     // office key, share, data key
  uint32_t generation = 0;  // office key, share
  RowId office_key_id;      // office key, share, data key
  std::string office_pk;    // office key: X25519 public key
  DeviceId recipient;       // share
  RowId keyring;            // data key, erasure
  uint32_t key_version = 0; // data key
  DataKeyPurpose purpose = DataKeyPurpose::kOwner;  // data key
  MembershipAction action = MembershipAction::kApprove;  // membership
  DevicePublic subject;               // membership: the device and its keys
  std::vector<std::string> kept;      // membership (remove): record ids, 16 bytes
  std::string sealed;       // share, data key
  std::string signature;    // 64 bytes
  std::string bytes;        // the whole encoded record

  // 16 bytes: BLAKE2b-128 of `bytes`. Equal records have equal ids.
  std::string Id() const;
  std::string Describe() const;  // for messages: kind, province, ring, version
};

// Structure only (strict: exact lengths, no trailing bytes, known kind and
// version, province valid UTF-8 of 1..64 bytes). INVALID_ARGUMENT naming the
// byte, FAILED_PRECONDITION for an unknown format version.
absl::StatusOr<KeyRecord> ParseKeyRecord(std::string_view bytes);

// UNAUTHENTICATED unless the record's signature verifies against `signer`
// (whose id must be the record's signer). Kind 5 has no signature: this
// only checks that its fields are its bytes and the signer id matches;
// "verified" then does NOT mean authentic -- only OpenDataKey, which proves
// it was made with the office key, does. The hub accepts kind 5 only from
// an enrolled device of the office it names, pushing its own records.
absl::Status VerifyKeyRecord(const KeyRecord& record, const DevicePublic& signer);

// An office key pair of one generation. The secret half never leaves a
// device except sealed to another member device.
struct OfficeKey {
  RowId id;
  std::string province;
  uint32_t generation = 0;
  std::string public_key;  // 32 bytes
  SecretBytes secret_key;  // 32 bytes
};
OfficeKey NewOfficeKey(const std::string& province, uint32_t generation);

// The records below that are signed are errors, never records with a bad
// signature, when `signer` is delegated and its agent could not sign
// (DeviceIdentity::Sign).

// The public record of an office key (kind 1), signed by `signer`.
absl::StatusOr<KeyRecord> OfficeKeyRecord(const DeviceIdentity& signer, Hlc created, const OfficeKey& key);
// The office key sealed to one member device (kind 2).
absl::StatusOr<KeyRecord> ShareOfficeKey(const DeviceIdentity& signer, Hlc created,
                                         const OfficeKey& key, const DevicePublic& recipient);
// Opens a share addressed to `me`, checked against the office key's public
// record (whose signature the caller verified). PERMISSION_DENIED if it is
// addressed to another device; INVALID_ARGUMENT if the records are not a
// share and an office key; UNAUTHENTICATED if it does not open or does not
// match. Any other code: `me` is delegated and its agent could not be asked
// (DeviceIdentity::OpenSealed) -- not a fault of the share.
absl::StatusOr<OfficeKey> OpenOfficeShare(const DeviceIdentity& me, const KeyRecord& share,
                                          const KeyRecord& office_key);

// A case's data key (version `key_version`) sealed to an office (kind 3).
// `office_key` is that office's public record.
absl::StatusOr<KeyRecord> WrapDataKey(const DeviceIdentity& signer, Hlc created,
                                      const RowId& keyring, uint32_t key_version,
                                      const SecretBytes& data_key, const KeyRecord& office_key,
                                      DataKeyPurpose purpose);
// Opens a data key record (kind 3 or 5) with the office key it names.
// UNAUTHENTICATED if it does not open, or opens to another key ring or
// version than it claims.
absl::StatusOr<SecretBytes> OpenDataKey(const OfficeKey& office, const KeyRecord& wrap);

// A case's data key wrapped for the creator's own office under its office
// key (kind 5): the common case, symmetric and unsigned.
KeyRecord WrapDataKeyForOffice(const DeviceId& creator, Hlc created, const RowId& keyring,
                               uint32_t key_version, const SecretBytes& data_key,
                               const OfficeKey& office);

// The order to destroy every key of a key ring (kind 4).
absl::StatusOr<KeyRecord> ErasureRecord(const DeviceIdentity& signer, Hlc created,
                                        const RowId& keyring);

// A membership record (kind 6) of `province` about `subject`, signed by
// `signer` (for kFirstDevice, `subject` must be the signer itself). `kept`:
// for kRemove, ids of approvals signed by the subject that stay valid.
absl::StatusOr<KeyRecord> MembershipRecord(const DeviceIdentity& signer, Hlc created,
                                           const std::string& province, MembershipAction action,
                                           const DevicePublic& subject,
                                           std::vector<std::string> kept = {});

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_KEY_RECORD_H_
