// Referral authority: whether a referral lets its case's keys go to the
// office it is addressed to, and which offices its letter is sealed for --
// judged from the signed authors of its fields (change/referral_rules.h),
// never from its current values alone (docs/CRYPTO.md, "Referral
// authority"). Functions over the versions that wrote each field and the
// offices' memberships (crypto::KeyFacts); the store reads the referral and
// adds what needs its log (signed commits showing those versions, an answer
// applied here, no concurrent answer left open: store/keyring_referrals.cc).
#ifndef FIELDSYNC_CRYPTO_REFERRAL_AUTHORITY_H_
#define FIELDSYNC_CRYPTO_REFERRAL_AUTHORITY_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "change/commit.h"
#include "change/value.h"
#include "crypto/key_policy.h"

namespace fieldsync::crypto {

// Whether a referral from `from_office` to `to_office` of a case `owner`
// owns (as held) can grant at all: only the owning office refers its case's
// keys, and never to itself. Asked before the referral is read.
bool ReferralOfficesMayGrant(std::string_view owner, std::string_view from_office,
                             std::string_view to_office);

// A referral's fields as held: the version that wrote each (null: none),
// and the version its status write was based on.
struct ReferralAuthorship {
  const std::string& owner;      // the office that owns the case (its from_office)
  const std::string& to_office;  // the office it is addressed to
  const Version* case_id = nullptr;
  const Version* from_office = nullptr;
  const Version* to_office_written = nullptr;  // the creation
  const Version* status = nullptr;             // the answer
  const Version* status_base = nullptr;
};

// Whether the referral's creation and answer authorise its case's keys to
// go to to_office: case_id, from_office and to_office written in one write
// (its creation) by a member *now* of the owning office (a referral made by
// a device removed since grants nothing more, however it was dated: a
// creation's HLC is its author's choice), answered by a device to_office
// approved (a member then or now), in a write based on that creation.
absl::StatusOr<bool> ReferralAuthorises(const ReferralAuthorship& r, KeyFacts& facts);

// A referral's offices as this laptop holds them, for its letter.
struct LetterAuthorship {
  bool live = false;
  const Value* from_office = nullptr;      // its value
  const Value* to_office = nullptr;        // its value
  const Version* created = nullptr;        // the version of from_office
  const Version* case_id = nullptr;
  const Version* to_office_written = nullptr;
  const Version* to_organisation = nullptr;
};

// Whether the referral holds the offices its referring office wrote when
// it made it: live, from_office text and to_office text or NULL, case_id
// written in the creation, to_office and to_organisation never rewritten
// since (written in it, or never), and the creation by a device from_office
// approved. A rewrite the hub should have refused must not choose who
// reads a letter.
absl::StatusOr<bool> LetterOfficesHold(const LetterAuthorship& r, KeyFacts& facts);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_REFERRAL_AUTHORITY_H_
