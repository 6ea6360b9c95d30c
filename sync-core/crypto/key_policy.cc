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

absl::StatusOr<uint32_t> NewestSealableVersion(const std::vector<VersionRecord>& records,
                                               const std::string& owner, const DeviceId* me,
                                               KeyFacts& facts) {
  uint32_t best = 0;
  int64_t best_created = -1;
  for (const VersionRecord& r : records) {
    if (r.kind == KeyRecordKind::kDataKey) {
      // A version another office made, passed on by the owner: for reading.
      absl::StatusOr<KeyRecord> rec = ParseKeyRecord(r.bytes);
      if (!rec.ok() || rec->purpose == DataKeyPurpose::kRelayed) continue;
      const std::string* office = facts.RegisteredOffice(r.signer);
      bool by_owner = office != nullptr && !owner.empty() && *office == owner;
      if (by_owner) {
        // A member of the owning office now: a version a device removed
        // since made (it knows that key) is never sealed under again.
        FS_ASSIGN_OR_RETURN(by_owner, facts.Trusted(owner, r.signer, /*now=*/true));
      }
      const bool by_me = me != nullptr && r.signer == *me;
      if (!by_owner && !by_me) continue;
    }
    if (r.created > best_created) {
      best_created = r.created;
      best = r.version;
    }
  }
  return best;
}

std::set<std::string> EntitledOffices(std::set<std::string> referred, const std::string& mine,
                                      const std::string& owner, const std::string& receiver) {
  referred.insert(mine);
  if (!owner.empty()) referred.insert(owner);
  if (!receiver.empty()) referred.insert(receiver);
  return referred;
}

std::set<std::string> SealGranters(const std::string& mine, const std::string& owner) {
  std::set<std::string> granters = {mine};
  if (!owner.empty()) granters.insert(owner);
  return granters;
}

absl::StatusOr<bool> SealsUnderNewest(uint32_t newest,
                                      const std::function<absl::StatusOr<bool>()>& still_seals,
                                      const std::function<absl::StatusOr<bool>()>& ended_since) {
  if (newest == 0) return false;
  FS_ASSIGN_OR_RETURN(bool fresh, still_seals());
  if (!fresh) return false;
  // A referral of the case that ended since: its office may hold the
  // version through the owner (relayed), shown here or not.
  FS_ASSIGN_OR_RETURN(bool ended, ended_since());
  return !ended;
}

std::vector<std::pair<std::string, DataKeyPurpose>> NewVersionGrants(
    const std::set<std::string>& entitled, const std::string& mine, const std::string& owner) {
  std::vector<std::pair<std::string, DataKeyPurpose>> out;
  for (const std::string& o : entitled) {
    if (o == mine) continue;
    out.emplace_back(o, o == owner ? DataKeyPurpose::kOwner : DataKeyPurpose::kReferral);
  }
  return out;
}

}  // namespace fieldsync::crypto
