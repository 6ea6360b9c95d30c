// What Maintain() (store/keyring_maintain.cc) does on each sync pass,
// decided here from what the key table holds: which revocations this
// laptop records as its office's removals, whether it makes, or rotates to,
// an office key, which key rings go to which offices, and whether a grant
// already made stands. Pure: the store reads the table, asks these, and
// writes the records they call for (docs/CRYPTO.md, "Key hierarchy",
// "Referral authority"); what needs a query comes as KeyFacts or as a
// callback asked only when the decision reaches it.
#ifndef FIELDSYNC_CRYPTO_MAINTAIN_PLAN_H_
#define FIELDSYNC_CRYPTO_MAINTAIN_PLAN_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "crypto/identity.h"
#include "crypto/key_policy.h"
#include "crypto/key_record.h"
#include "crypto/membership.h"
#include "crypto/referral_authority.h"

namespace fieldsync::crypto {

// The devices of an office a laptop of it records the removal of: revoked
// in its registry, approved by the office's chain (the keys to name), not
// removed yet by a signed record. A removal signed by the office itself is
// what no hub can undo for the laptops that have not seen the revocation.
std::vector<DevicePublic> RemovalsDue(const Membership& office);

// The devices a share to which exposes an office key: removed or revoked
// by the office's records, or revoked in this laptop's registry
// (`revoked_here`: those it lists in the office), whether or not the
// registry lists them.
std::set<DeviceId> DevicesGone(const Membership& office, const std::set<DeviceId>& revoked_here);

// The office keys of `office` that count (`keys` newest generation first,
// the order kept): made by `me` or by a member now. A key an unapproved or
// removed device published, of whatever generation, does not.
absl::StatusOr<std::vector<KeyRecord>> CountedOfficeKeys(std::vector<KeyRecord> keys,
                                                         const std::string& office,
                                                         const DeviceId& me, KeyFacts& facts);

// The office key this laptop makes on a pass: none (generation 0), or one
// of `generation` and why.
struct OfficeKeyPlan {
  uint32_t generation = 0;
  std::string why;
};

// From the office keys that count (CountedOfficeKeys), the generation of
// the one this device holds and seals under (nullopt: none reached it),
// and whether a key of that generation was shared with a device gone
// (`exposed`, asked per key of that generation): the first key if the
// office has none; one of the newest generation if none reached this
// device; the next generation after the newest if a gone device holds the
// one it seals under. FAILED_PRECONDITION once every generation is used.
absl::StatusOr<OfficeKeyPlan> PlanOfficeKey(
    const std::string& office, const std::vector<KeyRecord>& counted,
    std::optional<uint32_t> current_generation,
    const std::function<absl::StatusOr<bool>(const RowId& office_key)>& exposed);

// Which key rings go to which offices, from the authorised referrals.
struct GrantPlan {
  // (key ring, office): the case's ring and its person's, to each office
  // the case is referred to (never to `mine`).
  std::set<std::pair<RowId, std::string>> wanted;
  // The offices whose grants of a ring this laptop stands behind besides
  // its own: the owners of the cases that reached it.
  std::map<RowId, std::set<std::string>> granting;
  // The rings of cases `mine` owns and referred: the versions the offices
  // it referred them to made go on to its partners (RelayedDataKey).
  std::set<RowId> owned;
};
GrantPlan PlanGrants(const std::vector<AuthorisedReferral>& refs, const std::string& mine);

// The offices whose grants of `ring` this laptop stands behind: `mine`,
// and those the plan lists for it.
std::set<std::string> GrantersOf(const GrantPlan& plan, const RowId& ring, const std::string& mine);

// Whether a referral's letter (its own key ring) goes to office `to` from
// office `mine`, as soon as `mine` made the referral (change/referral_rules.h):
// `made`, the offices its creation wrote (null: its row is not vouched for
// here, or they do not hold: KeyRing's OfficesOf), are `mine` and `to`; and
// its creation is not a commit of this laptop set aside (`created_set_aside`,
// asked last): the hub refused it and holds no such referral, and the rows
// here may be rebuilt without it (attack review 72, LOW 4).
absl::StatusOr<bool> LetterGoesTo(const LetterOffices* made, const std::string& mine,
                                  const std::string& to,
                                  const std::function<absl::StatusOr<bool>()>& created_set_aside);

// Whether version's grant to an office already stands, from the records of
// it addressed to that office (`existing`): one signed by `me`, or a grant
// (kind 3, signed) under the office key granted to (`target`) by a member
// now of one of `granters`. Another office's own wrap (kind 5) is unsigned
// -- its signer is only a claim, so a hub could plant one to stop the
// grant -- and a record by anyone else may wrap a key of its own: neither
// stops the real grant (granting again costs one wrap).
absl::StatusOr<bool> GrantStands(const std::vector<KeyRecord>& existing, const RowId& target,
                                 const DeviceId& me, const std::set<std::string>& granters,
                                 KeyFacts& facts);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_MAINTAIN_PLAN_H_
