#include "crypto/referral_authority.h"

#include "base/status_macros.h"
#include "change/referral_rules.h"

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
  FS_ASSIGN_OR_RETURN(bool by_receiver, facts.Trusted(r.to_office, r.status->device,
                                                      /*now=*/false));
  if (!by_receiver || !r.created_set_aside) return by_receiver;
  FS_ASSIGN_OR_RETURN(bool set_aside, r.created_set_aside());
  return !set_aside;
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

absl::StatusOr<SourceStanding> ReferralSourceStanding(const std::string& mine,
                                                      const std::string& to,
                                                      const SourceReferral& r, KeyFacts& facts) {
  if (r.letter == nullptr || r.letter->from != mine || r.letter->to != to) {
    return SourceStanding::kNone;
  }
  if (r.created == nullptr) return SourceStanding::kNone;
  FS_ASSIGN_OR_RETURN(bool by_member, facts.Trusted(mine, r.created->device, /*now=*/true));
  if (!by_member) return SourceStanding::kNone;
  // Ended: declined or completed as held, or seen so here (a later answer
  // the merge did not keep). Such an office's grants do not stand beside
  // an open partner's (RelayedDataKey).
  bool ended = r.status != nullptr && r.status->kind() == Value::Kind::kText &&
               referral::IsFinal(r.status->str());
  if (!ended && r.noted_final) {
    FS_ASSIGN_OR_RETURN(ended, r.noted_final());
  }
  return ended ? SourceStanding::kEnded : SourceStanding::kOpen;
}

void AddReferralSource(ReferralSources& sources, const std::string& to, SourceStanding s) {
  switch (s) {
    case SourceStanding::kNone:
      return;
    case SourceStanding::kEnded:
      sources.ended.insert(to);
      return;
    case SourceStanding::kOpen:
      sources.open.insert(to);
      sources.ended.erase(to);
      return;
  }
}

bool SourceSettled(const ReferralSources& sources, const std::string& to) {
  return sources.open.count(to) > 0;
}

bool DeletionEndsVersion(const std::string& to, uint64_t deleted_hlc,
                         const std::set<std::string>& entitled, uint64_t made) {
  return entitled.count(to) == 0 && deleted_hlc > made;
}

absl::StatusOr<bool> ReferralEndsVersion(const HeldReferral& r,
                                         const std::set<std::string>& entitled, uint64_t made) {
  if (entitled.count(r.to) > 0) return false;
  // Taken whole with its case, its answer one the hub chose among its real
  // versions (an acceptance since ended, the rest withheld): a version this
  // laptop did not make itself (before the case came here) may be one the
  // owner passed on to that office.
  bool answered = false;
  if (r.answer != nullptr) {
    FS_ASSIGN_OR_RETURN(answered, r.answered_here(*r.answer));
  }
  if (!answered) {
    FS_ASSIGN_OR_RETURN(bool made_here, r.made_here());
    if (!made_here) return true;
  }
  const bool final_status = r.status != nullptr && r.status->kind() == Value::Kind::kText &&
                            referral::IsFinal(r.status->str());
  if (r.live && !final_status) {
    FS_ASSIGN_OR_RETURN(bool final_here, r.final_here());
    if (!final_here) return false;
  }
  // When it ended: its deletion, else the answer that ended it (written by
  // the office that ended it, after what it had seen).
  const Version* ended = !r.live ? r.deletion : r.answer;
  if (ended == nullptr || ended->hlc.packed() > made) return true;
  // Dated before the version: the ender's word (a laptop of the partner
  // whose clock is behind, or a patched build). A version this laptop made,
  // before the ending reached it, may have gone to the partner all the
  // same (docs/CRYPTO.md, "Endings dated by the ender").
  return r.ended_after_made_here(*ended);
}

}  // namespace fieldsync::crypto
