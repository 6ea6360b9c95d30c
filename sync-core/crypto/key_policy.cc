#include "crypto/key_policy.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace fieldsync::crypto {

bool OfficeBound(KeyRecordKind kind) {
  return kind == KeyRecordKind::kOfficeKey || kind == KeyRecordKind::kOfficeShare ||
         kind == KeyRecordKind::kOfficeDataKey || kind == KeyRecordKind::kMembership;
}

bool TrustedSigner(const Membership* office, const DeviceId& signer,
                   const DevicePublic* registered, bool now) {
  if (office == nullptr) return false;
  auto approved = office->approved.find(signer);
  if (approved == office->approved.end()) return false;
  // Its records were verified against the keys this laptop's registry
  // holds for it: they must be the keys it was approved with.
  if (registered == nullptr || registered->sign_pk != approved->second.sign_pk ||
      registered->box_pk != approved->second.box_pk) {
    return false;
  }
  if (office->IsMember(signer)) return true;
  return !now;
}

std::optional<std::string> RecordRefusal(const KeyRecord& r, const DevicePublic* signer_keys,
                                         std::string_view signer_office,
                                         const std::string* cut_off, const DeviceId& self,
                                         std::string_view mine) {
  if (signer_keys == nullptr) {
    return absl::StrCat(r.Describe(), ": its signer is not in the hub's registry");
  }
  // A device removed or revoked: nothing more of it once this laptop
  // completed a pull after the hub held that (never judged by the record's
  // own `created`, which its signer chooses). A grant to another office is
  // still taken: it only tells who holds which key version, and knowing
  // more of that never makes this laptop seal under a key it should not.
  const bool bookkeeping = r.kind == KeyRecordKind::kDataKey && r.province != mine;
  if (cut_off != nullptr && r.signer != self && !bookkeeping) {
    return absl::StrCat(r.Describe(), ": its signer was ", *cut_off,
                        " before this record arrived");
  }
  absl::Status v = VerifyKeyRecord(r, *signer_keys);
  if (!v.ok()) return std::string(v.message());
  if (OfficeBound(r.kind) && signer_office != r.province) {
    return absl::StrCat(r.Describe(), ": signed by a device of office ", AV(signer_office));
  }
  return std::nullopt;
}

absl::StatusOr<bool> SignedByTrusted(const DeviceId& signer, const std::string& office,
                                     const DeviceId* me, bool now, KeyFacts& facts) {
  if (me != nullptr && signer == *me) return true;
  return facts.Trusted(office, signer, now);
}

absl::StatusOr<const KeyRecord*> NewestTrustedOfficeKey(const std::vector<KeyRecord>& keys,
                                                        const std::string& office,
                                                        const DeviceId* me, KeyFacts& facts) {
  for (const KeyRecord& k : keys) {
    FS_ASSIGN_OR_RETURN(bool trusted, SignedByTrusted(k.signer, office, me, /*now=*/true, facts));
    if (trusted) return &k;
  }
  return nullptr;
}

absl::StatusOr<WrapRank> RankGrant(const KeyRecord& w, const DeviceId& me,
                                   const std::set<std::string>* granters, KeyFacts& facts) {
  // A version another office made, passed on by the owning office: its
  // maker knows it, and whoever else planted a record of it there; for
  // reading only, never sealed under nor granted on.
  if (granters != nullptr && w.purpose == DataKeyPurpose::kRelayed) return WrapRank::kOther;
  if (w.signer == me) return WrapRank::kTrustedGrant;
  if (granters != nullptr) {
    for (const std::string& g : *granters) {
      FS_ASSIGN_OR_RETURN(bool member, facts.Trusted(g, w.signer, /*now=*/true));
      if (member) return WrapRank::kTrustedGrant;
    }
    return WrapRank::kOther;
  }
  const std::string* office = facts.RegisteredOffice(w.signer);
  if (office == nullptr) return WrapRank::kOther;
  FS_ASSIGN_OR_RETURN(bool member, facts.Trusted(*office, w.signer, /*now=*/true));
  return member ? WrapRank::kTrustedGrant : WrapRank::kOther;
}

WrapRank RankOfficeWrap(const KeyRecord& w, const RowId* newest_office_key) {
  return newest_office_key != nullptr && *newest_office_key == w.office_key_id
             ? WrapRank::kNewestOfficeWrap
             : WrapRank::kOlderOfficeWrap;
}

absl::StatusOr<bool> VersionStillSeals(
    const std::vector<std::pair<std::string, int64_t>>& wraps, const std::string& mine,
    const std::set<std::string>& entitled,
    const std::function<absl::StatusOr<int64_t>(const std::string& office)>& newest_generation) {
  bool for_me = false;
  for (const auto& [office, generation] : wraps) {
    if (entitled.count(office) == 0 || generation < 0) return false;
    FS_ASSIGN_OR_RETURN(int64_t newest, newest_generation(office));
    if (generation != newest) return false;
    for_me |= office == mine;
  }
  return for_me;
}

}  // namespace fieldsync::crypto
