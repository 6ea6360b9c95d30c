#include "crypto/referral_authority.h"

#include "base/status_macros.h"

namespace fieldsync::crypto {

bool ReferralOfficesMayGrant(std::string_view owner, std::string_view from_office,
                             std::string_view to_office) {
  return owner == from_office && to_office != owner;
}

absl::StatusOr<bool> ReferralAuthorises(const ReferralAuthorship& r, KeyFacts& facts) {
  const Version* created = r.to_office_written;
  if (created == nullptr || r.case_id == nullptr || r.from_office == nullptr ||
      r.status == nullptr) {
    return false;
  }
  if (*r.case_id != *created || *r.from_office != *created) return false;
  // The answer is based on that creation (not on a rewrite of it).
  if (r.status_base == nullptr || *r.status_base != *created) return false;
  // Made by a member of the owning office *now*; a current member refers
  // the case again if it should go on. The receiving office's answer may
  // come from a device removed since: the grant goes only to that office's
  // current key.
  FS_ASSIGN_OR_RETURN(bool by_owner,
                      facts.Trusted(r.owner, created->device, /*now=*/true));
  if (!by_owner) return false;
  return facts.Trusted(r.to_office, r.status->device, /*now=*/false);
}

absl::StatusOr<bool> LetterOfficesHold(const LetterAuthorship& r, KeyFacts& facts) {
  if (!r.live || r.created == nullptr || r.from_office == nullptr || r.to_office == nullptr) {
    return false;
  }
  if (r.from_office->kind() != Value::Kind::kText) return false;
  if (!r.to_office->is_null() && r.to_office->kind() != Value::Kind::kText) return false;
  if (r.case_id == nullptr || *r.case_id != *r.created) return false;
  for (const Version* v : {r.to_office_written, r.to_organisation}) {
    if (v != nullptr && *v != *r.created) return false;
  }
  return facts.Trusted(r.from_office->str(), r.created->device, /*now=*/false);
}

}  // namespace fieldsync::crypto
