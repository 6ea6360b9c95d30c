// The hub refuses a referral change that breaks the rules of
// sync-core/change/referral_rules.h, judged against what it holds (through
// the storage's view, hub/storage.h) before the commit is merged, so that
// nothing of the push is stored; and it keeps the status versions it stored
// (hub_referral_status), to judge a later write against the version it was
// based on, even one replaced since.
#ifndef FIELDSYNC_HUB_REFERRAL_CHECK_H_
#define FIELDSYNC_HUB_REFERRAL_CHECK_H_

#include <string>

#include "absl/status/status.h"
#include "change/commit.h"
#include "hub/storage.h"

namespace fieldsync::hub {

inline constexpr char kReferralStatusTableSql[] =
    "CREATE TABLE IF NOT EXISTS hub_referral_status(referral BLOB NOT NULL, hlc INTEGER NOT "
    "NULL, device BLOB NOT NULL, status TEXT NOT NULL, PRIMARY KEY(referral, hlc, device)) "
    "WITHOUT ROWID";

// PERMISSION_DENIED naming the commit and the rule if a referral change of
// `c`, pushed by a device of `province`, breaks the rules. The writer's
// view: a referral names an office of the registry.
absl::Status CheckReferralChanges(HubWriteTxn& hub, const std::string& province, const Commit& c);

// Records the status versions `c` wrote (after it was applied).
absl::Status RecordReferralStatus(HubWriteTxn& hub, const Commit& c);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_REFERRAL_CHECK_H_
