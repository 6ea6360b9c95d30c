// Admission: which commits and key records a node's push may store, and why
// not (docs/PROTOCOL.md, "Push"; docs/CRYPTO.md). The hub's rules, written
// once over the storage's view (hub/storage.h), whatever store keeps them.
// Every refusal refuses the whole push: nothing of it is stored.
//
// In the order the engine (hub/engine.cc) applies them:
//   AdmitCommits, AdmitKeyRecords -- what needs nothing but the push and the
//     node's registered keys: each commit and record is the node's own and
//     signed by it; sensitive fields are sealed; office keys are of the
//     node's office;
//   CheckBeforeMerge -- each commit against what the hub holds, just before
//     it is merged: rows collected for good, fields sealed once their row is
//     restricted, the node's scope (hub/scope.h), referral rules
//     (hub/referral_check.h);
//   RecordAfterMerge -- what the scope and referral rules keep of it;
//   StoreKeyRecords -- the key records against what the hub holds (members
//     of the office, the record a grant is for, erased rings, who may
//     erase), stored with the commits, each grant, membership record and
//     erasure audited once.
#ifndef FIELDSYNC_HUB_ADMISSION_H_
#define FIELDSYNC_HUB_ADMISSION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/commit.h"
#include "clock/clock_source.h"
#include "crypto/key_record.h"
#include "hub/scope.h"
#include "hub/storage.h"
#include "hub/store.h"
#include "schema/schema.h"
#include "sync/messages.h"

namespace fieldsync::hub {

// Decodes the push's commits. INVALID_ARGUMENT if one is malformed or
// writes a sensitive field in clear, PERMISSION_DENIED if one is another
// device's, UNAUTHENTICATED if its signature does not verify against the
// node's key. `crypto_checks` off (the benchmark's baseline only): no
// signature or seal is checked.
absl::StatusOr<std::vector<Commit>> AdmitCommits(const NodeInfo& node, const PushOrigin& origin,
                                                 const std::vector<PushedCommit>& encoded,
                                                 const Schema& schema, bool crypto_checks);

// Parses the push's key records: INVALID_ARGUMENT if malformed,
// PERMISSION_DENIED if another device made one or it is of another office
// than the node's, UNAUTHENTICATED if its signature does not verify.
absl::StatusOr<std::vector<crypto::KeyRecord>> AdmitKeyRecords(
    const NodeInfo& node, const std::vector<std::string>& key_records);

// `scope` is the push's (hub/scope.h), over `hub`.
// Just before `c` is merged (inside the push's transaction).
// `gc_horizon`: above 0 once tombstones were collected. A refusal for good
// sets `*code` (if given): ROW_COLLECTED, SEALING, OUT_OF_SCOPE or RULE; an
// error that leaves it kUnspecified is not about the commit (storage).
absl::Status CheckBeforeMerge(HubWriteTxn& hub, Scope& scope, const NodeInfo& node,
                              const PushOrigin& origin,
                              const Commit& c, int64_t gc_horizon, bool crypto_checks,
                              sync::RefusalCode* code = nullptr);

// Just after `c` was merged at log `position`.
absl::Status RecordAfterMerge(HubWriteTxn& hub, Scope& scope, const Commit& c,
                              int64_t position);

// Once the commits are merged, in the same transaction: checks and stores
// the push's key records (checked already by AdmitKeyRecords), applies
// erasures. PERMISSION_DENIED refuses the push. True if a ring was erased.
absl::StatusOr<bool> StoreKeyRecords(HubWriteTxn& hub, Scope& scope, const NodeInfo& node,
                                     const std::vector<crypto::KeyRecord>& records,
                                     ClockSource& clock);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_ADMISSION_H_
