// Who belongs to an office, decided from the office's own signed records
// (docs/CRYPTO.md, "Office membership"), never from the hub's registry.
//
// An office has one first device (its root), which each laptop pins. Every
// other member was approved, in a membership record (key record kind 6), by
// a member, after two officers compared a pairing code. A removal, signed by
// a member, takes a device out for good; the approvals the removed device
// had signed stay valid only if the removal lists them as kept (so a stolen
// laptop cannot add devices with a back-dated approval once removed).
//
// The computation is a pure function of the records: every laptop that
// holds the same records reaches the same members, in any order of arrival.
// Each record's signature is checked here against the keys its signer was
// approved with (the root's, for the first link), so the chain does not
// depend on the keys the hub lists.
#ifndef FIELDSYNC_CRYPTO_MEMBERSHIP_H_
#define FIELDSYNC_CRYPTO_MEMBERSHIP_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "crypto/identity.h"
#include "crypto/key_record.h"

namespace fieldsync::crypto {

struct Membership {
  DevicePublic root;
  // Devices that may hold the office's keys, with the keys they were
  // approved with (the root among them unless removed or revoked).
  std::map<DeviceId, DevicePublic> members;
  // Removed by a member's signed record.
  std::set<DeviceId> removed;
  // Approved at some point but revoked in this laptop's registry.
  std::set<DeviceId> revoked;
  // Who approved each member (the root approves itself), for people.
  std::map<DeviceId, DeviceId> approved_by;
  // Every device the chain reaches (members, removed, revoked) with the keys
  // it was approved with: its records and commits are verified against
  // these, never against other keys a hub lists for it.
  std::map<DeviceId, DevicePublic> approved;
  // Records that were not taken, and why (a bad signature, an approval of a
  // known device with other keys...): for status and the daemon's log.
  std::vector<std::string> problems;

  bool IsMember(const DeviceId& d) const { return members.count(d) > 0; }
};

// The members of `root`'s office from `records` (membership records of that
// office, in any order; others are ignored), less the devices revoked in
// this laptop's own registry.
Membership ComputeMembership(const DevicePublic& root, const std::vector<KeyRecord>& records,
                             const std::set<DeviceId>& revoked);

// The first-device records among `records` whose signature verifies
// against the subject's own keys: the candidates for an office's root.
std::vector<const KeyRecord*> FirstDeviceRecords(const std::vector<KeyRecord>& records);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_MEMBERSHIP_H_
