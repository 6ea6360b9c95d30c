// The devices an office removed (docs/CRYPTO.md, "Office membership"), as
// the hub computes them from the membership records (key record kind 6) it
// stores, with the laptops' own computation (crypto::ComputeMembership), so
// that it refuses a removed device's pushes and pulls without waiting for an
// administrator's revocation.
//
// The hub has no officer to pin an office's first device. Its root is the
// first first-device record it stored for the office (lowest hub_keys.seq)
// whose signature verifies against its subject's keys and whose chain still
// has a member the hub has not revoked (an office whose first laptop was
// lost and revoked keeps its chain, whoever starts the office anew since);
// if none has, the first whose subject is not revoked; if it revoked them
// all, the first stored. Normally
// that is the record of the office's real first laptop, the root every
// laptop of the office pinned. A first device an administrator planted
// before the office's laptops is the hub's root until the administrator
// revokes it (what the real first laptop, told "already has a first device",
// asks for): until then the hub enforces the planted chain's removals, not
// the office's -- no more than an administrator can do anyway by revoking
// laptops. Laptops never take the hub's root.
#ifndef FIELDSYNC_HUB_OFFICE_REMOVALS_H_
#define FIELDSYNC_HUB_OFFICE_REMOVALS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "change/id.h"
#include "hub/storage.h"

namespace fieldsync::hub {

struct OfficeRemoval {
  int64_t stored_at_millis = 0;  // when the hub stored the first removal that counts
  DeviceId by;                   // its signer
};

struct OfficeRemovals {
  std::optional<DeviceId> root;  // none: the office has no first device yet
  std::map<DeviceId, OfficeRemoval> removed;
  // Every device the root's chain reaches (members, removed, revoked): what
  // laptops take a move of the office's records from (a device enrolled and
  // never approved is not among them).
  std::set<DeviceId> approved;
};

// The removals of an office from the membership records the hub stored and
// the devices it revoked (storage, hub/storage.h). A record that does not
// parse counts for nothing (it was checked when pushed: a disk edit).
OfficeRemovals ComputeOfficeRemovals(const OfficeRecords& office);

// "device X was removed from office P by its office on DATE; enrol the
// laptop anew": what a removed device is told.
std::string RemovedMessage(const DeviceId& device, const std::string& province,
                           const OfficeRemoval& removal);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_OFFICE_REMOVALS_H_
