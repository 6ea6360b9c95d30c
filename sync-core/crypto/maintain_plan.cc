#include "crypto/maintain_plan.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace fieldsync::crypto {

std::vector<DevicePublic> RemovalsDue(const Membership& office) {
  std::vector<DevicePublic> out;
  for (const DeviceId& revoked : office.revoked) {
    if (office.removed.count(revoked) > 0) continue;
    auto keys = office.approved.find(revoked);
    if (keys == office.approved.end()) continue;
    out.push_back(keys->second);
  }
  return out;
}

std::set<DeviceId> DevicesGone(const Membership& office, const std::set<DeviceId>& revoked_here) {
  std::set<DeviceId> gone(office.removed.begin(), office.removed.end());
  gone.insert(office.revoked.begin(), office.revoked.end());
  gone.insert(revoked_here.begin(), revoked_here.end());
  return gone;
}

absl::StatusOr<std::vector<KeyRecord>> CountedOfficeKeys(std::vector<KeyRecord> keys,
                                                         const std::string& office,
                                                         const DeviceId& me, KeyFacts& facts) {
  std::vector<KeyRecord> out;
  for (KeyRecord& k : keys) {
    FS_ASSIGN_OR_RETURN(bool t, SignedByTrusted(k.signer, office, &me, /*now=*/true, facts));
    if (t) out.push_back(std::move(k));
  }
  return out;
}

absl::StatusOr<OfficeKeyPlan> PlanOfficeKey(
    const std::string& office, const std::vector<KeyRecord>& counted,
    std::optional<uint32_t> current_generation,
    const std::function<absl::StatusOr<bool>(const RowId& office_key)>& exposed) {
  if (counted.empty()) return OfficeKeyPlan{1, "the office had none"};
  const uint32_t newest = counted.front().generation;
  // Another member made the office key but has not shared it with this
  // one yet: a key of the newest generation lets it work now.
  if (!current_generation) return OfficeKeyPlan{newest, "no key of the office has reached this device"};
  // The key this laptop seals under, or one of its generation, shared with
  // a device since revoked or removed: a new generation, shared only with
  // the members.
  bool any = false;
  for (const KeyRecord& k : counted) {
    if (k.generation != *current_generation) continue;
    FS_ASSIGN_OR_RETURN(bool shared, exposed(k.office_key_id));
    any |= shared;
  }
  if (!any) return OfficeKeyPlan{};
  const uint32_t g = std::max(newest, *current_generation);
  if (g >= kMaxOfficeGeneration) {
    return absl::FailedPreconditionError(absl::StrCat(
        "office ", office, " has used every office key generation; nothing was rotated "
        "(report this)"));
  }
  return OfficeKeyPlan{g + 1, "a device of the office was revoked or removed"};
}

GrantPlan PlanGrants(const std::vector<AuthorisedReferral>& refs, const std::string& mine) {
  GrantPlan plan;
  for (const AuthorisedReferral& a : refs) {
    if (a.to_office == mine) continue;
    if (a.owner == mine) {
      plan.owned.insert(a.case_id);
      if (a.person) plan.owned.insert(*a.person);
    }
    plan.wanted.emplace(a.case_id, a.to_office);
    plan.granting[a.case_id].insert(a.owner);
    if (a.person) {
      plan.wanted.emplace(*a.person, a.to_office);
      plan.granting[*a.person].insert(a.owner);
    }
  }
  return plan;
}

std::set<std::string> GrantersOf(const GrantPlan& plan, const RowId& ring,
                                 const std::string& mine) {
  std::set<std::string> granters = {mine};
  if (auto g = plan.granting.find(ring); g != plan.granting.end()) {
    granters.insert(g->second.begin(), g->second.end());
  }
  return granters;
}

absl::StatusOr<bool> LetterGoesTo(const LetterOffices* made, const std::string& mine,
                                  const std::string& to,
                                  const std::function<absl::StatusOr<bool>()>& created_set_aside) {
  if (made == nullptr || made->from != mine || made->to != to) return false;
  if (!created_set_aside) return true;
  FS_ASSIGN_OR_RETURN(bool set_aside, created_set_aside());
  return !set_aside;
}

absl::StatusOr<bool> GrantStands(const std::vector<KeyRecord>& existing, const RowId& target,
                                 const DeviceId& me, const std::set<std::string>& granters,
                                 KeyFacts& facts) {
  for (const KeyRecord& w : existing) {
    if (w.signer == me) return true;
    if (w.kind != KeyRecordKind::kDataKey || w.office_key_id != target) continue;
    for (const std::string& granter : granters) {
      FS_ASSIGN_OR_RETURN(bool member, facts.Trusted(granter, w.signer, /*now=*/true));
      if (member) return true;
    }
  }
  return false;
}

}  // namespace fieldsync::crypto
