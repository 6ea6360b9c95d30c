// The lines fieldnode sync and fieldnode daemon print of a sync pass
// (stderr; every value from the hub or a replica escaped).
#ifndef FIELDSYNC_NODE_SYNC_LINES_H_
#define FIELDSYNC_NODE_SYNC_LINES_H_

#include <cstdint>
#include <string>

#include "node/client.h"
#include "store/keyring.h"

namespace fieldsync::node {

// "pushed 3, pulled 5 commits ..., at position P of H, N ms".
std::string Describe(const SyncReport& r, int64_t millis);
// What the key ring did and what the hub refused, each line after `prefix`.
void ReportKeys(const SyncReport& r, const KeyRing& keys, const std::string& prefix);
// A clock more than two minutes off the hub's.
void WarnSkew(const SyncReport& r);
// Protocol version 3: what the authors' commit chains showed (held
// commits, missing ranges, evidence), each line after `prefix`.
void ReportHistory(const SyncReport& r, const std::string& prefix);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_SYNC_LINES_H_
