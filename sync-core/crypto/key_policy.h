// Key policy: who stands behind which key, which record of a key version
// is tried first, whether a version may still seal, which relayed record a
// laptop takes -- decided from signed records and an office's membership
// (crypto/membership.h), as functions over crypto/'s types (docs/CRYPTO.md,
// "Key hierarchy", "Office membership").
//
// The key table these decide over -- key records, the registry, pinned first
// devices, in the replica's file -- is store/'s (store/keyring_impl.h): the
// store reads, these decide, the store writes. Nothing here reads or writes
// SQL. What a decision needs of the table it asks through KeyFacts, lazily,
// so that a question the decision does not reach costs no query.
#ifndef FIELDSYNC_CRYPTO_KEY_POLICY_H_
#define FIELDSYNC_CRYPTO_KEY_POLICY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "crypto/identity.h"
#include "crypto/key_record.h"
#include "crypto/membership.h"

namespace fieldsync::crypto {

// Records only a device of the record's own office may sign: an office
// key, its shares, a data key wrapped under it, a membership record.
bool OfficeBound(KeyRecordKind kind);

// Whether `signer` stands behind keys of the office whose membership this
// laptop computed as `office` (null: no first device pinned, nobody does):
// approved by the office's chain with the keys this laptop's registry holds
// for it (`registered`; null if the registry does not list it: a hub that
// lists other keys for a device cannot make its records count), and, with
// `now`, a member today (not removed or revoked since). Without `now`, a
// device approved once still counts: its past records open what was sealed
// under them.
bool TrustedSigner(const Membership* office, const DeviceId& signer,
                   const DevicePublic* registered, bool now);

// Why a key record relayed to this laptop is not taken, or nullopt. Checked
// in this order: its signer is in the registry (`signer_keys`, null if not;
// `signer_office` the office the registry lists it in); the signer was not
// cut off (`cut_off`: why, if it was removed or revoked and this laptop has
// completed a pull since the hub held that; never for `self`'s own records,
// nor for a grant to another office than `mine`, which only tells who holds
// which version); its signature; and an office-bound record is signed by a
// device of its own office.
std::optional<std::string> RecordRefusal(const KeyRecord& r, const DevicePublic* signer_keys,
                                         std::string_view signer_office,
                                         const std::string* cut_off, const DeviceId& self,
                                         std::string_view mine);

// What the policy asks of the key table. Each answer may cost a query: the
// functions below ask only what their decision reaches.
class KeyFacts {
 public:
  virtual ~KeyFacts() = default;
  // TrustedSigner() for `office` as this laptop holds it.
  virtual absl::StatusOr<bool> Trusted(const std::string& office, const DeviceId& signer,
                                       bool now) = 0;
  // The office this laptop's registry lists `device` in; null if it does
  // not list it.
  virtual const std::string* RegisteredOffice(const DeviceId& device) = 0;
};

// Whether a key record of `office` signed by `signer` is one this laptop
// stands behind: signed by `me` (if given: this laptop's own), or by a
// device `office` trusts (KeyFacts::Trusted, with `now`).
absl::StatusOr<bool> SignedByTrusted(const DeviceId& signer, const std::string& office,
                                     const DeviceId* me, bool now, KeyFacts& facts);

// The newest office key of `office` that its members stand behind: the
// first of `keys` (its office key records, newest generation first) signed
// by a member now, or by `me` if given. Null if none: an office key a
// device the hub registered, unapproved, published -- of any generation --
// is never it.
absl::StatusOr<const KeyRecord*> NewestTrustedOfficeKey(const std::vector<KeyRecord>& keys,
                                                        const std::string& office,
                                                        const DeviceId* me, KeyFacts& facts);

// The order in which the records of one data key version (kinds 3 and 5)
// are tried when this laptop opens it. A removed device (a stolen laptop)
// knows the office's earlier keys and may wrap a version made since with a
// key of its own, and a hub may relay that first: it must not become the
// key this laptop seals under.
enum class WrapRank : uint8_t {
  kNewestOfficeWrap = 0,  // a kind 5 wrap under its office's newest trusted key
  kTrustedGrant = 1,      // a grant (kind 3) by `me` or a member now of a granting office
  kOlderOfficeWrap = 2,   // a kind 5 wrap under an older (or untrusted) office key
  kOther = 3,             // anything else: tried for reading only, never for sealing
};

// The rank of grant `w` (kind 3). With `granters` (sealing, granting on):
// by `me` or a member now of one of those offices, and never a version
// passed on (purpose kRelayed: its maker chose it); without (reading): by
// `me` or a member now of the office the registry lists the signer in.
absl::StatusOr<WrapRank> RankGrant(const KeyRecord& w, const DeviceId& me,
                                   const std::set<std::string>* granters, KeyFacts& facts);

// The rank of office wrap `w` (kind 5), given the id of the newest office
// key of its office this laptop stands behind (NewestTrustedOfficeKey; null
// if none).
WrapRank RankOfficeWrap(const KeyRecord& w, const RowId* newest_office_key);

// Whether a data key version may still seal new values, from its wraps
// (the office each is for, and the generation of the office key it is
// under; -1 if that key is unknown here): wrapped for `mine`, every office
// it is wrapped for still `entitled` to it (a referral that ended, was
// deleted or re-addressed is not), and each wrap under its office's newest
// generation (`newest_generation`, asked once per wrap: no revoked device
// of any of those offices holds the key it is under).
absl::StatusOr<bool> VersionStillSeals(
    const std::vector<std::pair<std::string, int64_t>>& wraps, const std::string& mine,
    const std::set<std::string>& entitled,
    const std::function<absl::StatusOr<int64_t>(const std::string& office)>& newest_generation);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_KEY_POLICY_H_
