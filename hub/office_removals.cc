#include "hub/office_removals.h"

#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "crypto/key_record.h"
#include "crypto/membership.h"

namespace fieldsync::hub {

OfficeRemovals ComputeOfficeRemovals(const OfficeRecords& office) {
  OfficeRemovals out;
  // The office's membership records in the order the hub stored them.
  std::vector<crypto::KeyRecord> records;
  std::map<std::string, int64_t> stored_at;  // by record id
  for (const auto& [bytes, at] : office.membership) {
    absl::StatusOr<crypto::KeyRecord> k = crypto::ParseKeyRecord(bytes);
    if (!k.ok()) continue;  // checked when pushed; a disk edit counts for nothing
    stored_at[k->Id()] = at;
    records.push_back(*std::move(k));
  }
  const std::set<DeviceId>& revoked = office.revoked;
  // The root: the first first-device record stored whose chain still has
  // a member (neither removed nor revoked): an office whose first laptop
  // was lost and revoked keeps its chain, whatever laptop starts an office
  // anew since (any laptop that knows only revoked first devices may, an
  // unapproved one included, and would otherwise remove the office's
  // laptops here). Else the first whose subject is not revoked (a planted
  // first device, revoked, gives way to the office's own), else the first
  // stored.
  const std::vector<const crypto::KeyRecord*> firsts = crypto::FirstDeviceRecords(records);
  if (firsts.empty()) return out;
  const crypto::KeyRecord* root = nullptr;
  std::optional<crypto::Membership> m;
  for (const crypto::KeyRecord* f : firsts) {
    crypto::Membership chain = crypto::ComputeMembership(f->subject, records, revoked);
    if (!chain.members.empty()) {
      root = f;
      m = std::move(chain);
      break;
    }
  }
  if (root == nullptr) {
    root = firsts.front();
    for (const crypto::KeyRecord* f : firsts) {
      if (revoked.count(f->subject.device) == 0) {
        root = f;
        break;
      }
    }
    m = crypto::ComputeMembership(root->subject, records, revoked);
  }
  out.root = root->subject.device;
  for (const auto& [device, keys] : m->approved) out.approved.insert(device);
  for (const DeviceId& d : m->removed) {
    // For people: the first removal of it stored, by a device of the chain
    // if there is one.
    const crypto::KeyRecord* first = nullptr;
    bool first_by_chain = false;
    for (const crypto::KeyRecord& r : records) {
      if (r.action != crypto::MembershipAction::kRemove || r.subject.device != d) continue;
      const bool by_chain = m->approved.count(r.signer) > 0;
      if (first == nullptr || (by_chain && !first_by_chain)) {
        first = &r;
        first_by_chain = by_chain;
      }
    }
    OfficeRemoval removal;
    if (first != nullptr) {
      removal.stored_at_millis = stored_at[first->Id()];
      removal.by = first->signer;
    }
    out.removed.emplace(d, removal);
  }
  return out;
}

std::string RemovedMessage(const DeviceId& device, const std::string& province,
                           const OfficeRemoval& removal) {
  return absl::StrCat("device ", device.ToString(), " was removed from office ", province,
                      " by its office on ", FormatTimeMillis(removal.stored_at_millis),
                      "; enrol the laptop anew");
}

}  // namespace fieldsync::hub
