#include "crypto/membership.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"

namespace fieldsync::crypto {

namespace {

bool SameKeys(const DevicePublic& a, const DevicePublic& b) {
  return a.device == b.device && a.sign_pk == b.sign_pk && a.box_pk == b.box_pk;
}

}  // namespace

Membership ComputeMembership(const DevicePublic& root, const std::vector<KeyRecord>& records,
                             const std::set<DeviceId>& revoked) {
  Membership m;
  m.root = root;
  // A deterministic order, whatever the order of arrival.
  std::vector<const KeyRecord*> approvals, removals;
  for (const KeyRecord& r : records) {
    if (r.kind != KeyRecordKind::kMembership) continue;
    if (r.action == MembershipAction::kApprove) approvals.push_back(&r);
    if (r.action == MembershipAction::kRemove) removals.push_back(&r);
  }
  auto order = [](const KeyRecord* a, const KeyRecord* b) {
    if (a->created != b->created) return a->created < b->created;
    return a->Id() < b->Id();
  };
  std::sort(approvals.begin(), approvals.end(), order);
  std::sort(removals.begin(), removals.end(), order);

  // Every link whose signature verifies against the keys its signer was
  // approved with. `allowed` decides which approvals count.
  auto close = [&](const std::function<bool(const KeyRecord&)>& allowed, bool report) {
    std::map<DeviceId, DevicePublic> keys{{root.device, root}};
    std::map<DeviceId, DeviceId> by{{root.device, root.device}};
    std::set<const KeyRecord*> done;
    bool grew = true;
    while (grew) {
      grew = false;
      for (const KeyRecord* a : approvals) {
        if (done.count(a) > 0) continue;
        auto signer = keys.find(a->signer);
        if (signer == keys.end()) continue;
        done.insert(a);
        if (!VerifyKeyRecord(*a, signer->second).ok()) {
          if (report) {
            m.problems.push_back(absl::StrCat(a->Describe(), ": its signature does not verify "
                                              "against the keys its signer was approved with"));
          }
          continue;
        }
        if (!allowed(*a)) continue;
        auto known = keys.find(a->subject.device);
        if (known != keys.end()) {
          if (!SameKeys(known->second, a->subject) && report) {
            m.problems.push_back(absl::StrCat(a->Describe(), ": names other keys than the ones "
                                              "the device was approved with; ignored"));
          }
          continue;
        }
        keys[a->subject.device] = a->subject;
        by[a->subject.device] = a->signer;
        grew = true;
      }
    }
    return std::make_pair(keys, by);
  };

  // Removals count when signed by a device approved at some point (even one
  // removed since: mutual removals remove both, which is the safe side).
  // A removal's kept list counts only if its signer is not removed itself,
  // and only for approvals the removed device signed: a removed device
  // cannot bring anyone back through a removal of its own.
  std::map<std::string, DeviceId> approval_signer;
  for (const KeyRecord* a : approvals) approval_signer[a->Id()] = a->signer;
  // The removals signed by a device of `signers` (with the keys it was
  // approved with), and the approvals they keep: only approvals the removed
  // device signed (a removed device cannot bring anyone back through a
  // removal of its own: what it approved after its removal is not its
  // subject's). A remover removed later keeps its kept lists: the office
  // must not lose its members when two laptops are revoked in turn.
  auto removals_by = [&](const std::map<DeviceId, DevicePublic>& signers, bool report,
                         std::set<DeviceId>* removed, std::set<std::string>* kept) {
    std::vector<const KeyRecord*> counted;
    for (const KeyRecord* r : removals) {
      auto signer = signers.find(r->signer);
      if (signer == signers.end()) continue;
      if (!VerifyKeyRecord(*r, signer->second).ok()) {
        if (report) {
          m.problems.push_back(absl::StrCat(r->Describe(), ": its signature does not verify"));
        }
        continue;
      }
      removed->insert(r->subject.device);
      counted.push_back(r);
    }
    for (const KeyRecord* r : counted) {
      for (const std::string& k : r->kept) {
        auto a = approval_signer.find(k);
        if (a != approval_signer.end() && a->second == r->subject.device) kept->insert(k);
      }
    }
  };
  auto valid = [&](const std::set<DeviceId>& removed, const std::set<std::string>& kept) {
    return [&removed, &kept](const KeyRecord& a) {
      return removed.count(a.signer) == 0 || kept.count(a.Id()) > 0;
    };
  };
  // Removals count when signed by a device approved at some point, even one
  // removed since: mutual removals remove both, the safe side. (The price:
  // a removed laptop can still remove others, if the hub relays it:
  // docs/CRYPTO.md, "Office membership", limits.)
  auto all = close([](const KeyRecord&) { return true; }, false).first;
  std::set<std::string> kept;
  removals_by(all, true, &m.removed, &kept);
  auto [keys, by] = close(valid(m.removed, kept), true);
  m.approved = keys;
  for (const auto& [device, pub] : keys) {
    if (m.removed.count(device) > 0) continue;
    if (revoked.count(device) > 0) {
      m.revoked.insert(device);
      continue;
    }
    m.members[device] = pub;
  }
  m.approved_by = std::move(by);
  return m;
}

std::vector<const KeyRecord*> FirstDeviceRecords(const std::vector<KeyRecord>& records) {
  std::vector<const KeyRecord*> out;
  for (const KeyRecord& r : records) {
    if (r.kind != KeyRecordKind::kMembership || r.action != MembershipAction::kFirstDevice) {
      continue;
    }
    if (r.signer != r.subject.device || !VerifyKeyRecord(r, r.subject).ok()) continue;
    out.push_back(&r);
  }
  return out;
}

}  // namespace fieldsync::crypto
