#include "hub/office_removals.h"

#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "crypto/key_record.h"
#include "crypto/membership.h"

namespace fieldsync::hub {

absl::StatusOr<OfficeRemovals> ComputeOfficeRemovals(sqlite::Db& db, const std::string& province) {
  OfficeRemovals out;
  // The office's membership records in the order the hub stored them.
  std::vector<crypto::KeyRecord> records;
  std::map<std::string, int64_t> stored_at;  // by record id
  {
    FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT bytes, stored_at FROM hub_keys WHERE kind = "
                                             "6 AND province = ?1 ORDER BY seq"));
    st->BindText(1, province);
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      absl::StatusOr<crypto::KeyRecord> k = crypto::ParseKeyRecord(st->ColumnBlob(0));
      if (!k.ok()) continue;  // checked when pushed; a disk edit counts for nothing
      stored_at[k->Id()] = st->ColumnInt(1);
      records.push_back(*std::move(k));
    }
  }
  std::set<DeviceId> revoked;
  {
    FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT device FROM hub_nodes WHERE province = ?1 "
                                             "AND revoked_at IS NOT NULL"));
    st->BindText(1, province);
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(DeviceId d, Id16::FromBytes(st->ColumnBlob(0), "node device"));
      revoked.insert(d);
    }
  }
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
