// Consents: what a victim agreed to share, and with whom. A referral is
// refused unless a live consent covers it (node/ops/referrals.h).
#ifndef FIELDSYNC_NODE_OPS_CONSENTS_H_
#define FIELDSYNC_NODE_OPS_CONSENTS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/ops/office.h"

namespace fieldsync::node::ops {

struct NewConsent {
  std::string case_ref;
  std::string scope;     // services, share_with_org, police, anonymous_statistics
  std::string org_ref;   // with whom: share_with_org only (and required there)
  std::optional<std::string> given_by;  // victim (default), guardian
};
struct RecordedConsent {
  RowId id;
  std::string case_code;
  std::string scope;
};
// Recorded by the office's officer, given now.
absl::StatusOr<RecordedConsent> AddConsent(const Office& o, const NewConsent& in);

// Withdrawn now; FAILED_PRECONDITION if it already was. Referrals it
// covered stay as they are.
absl::StatusOr<RowId> WithdrawConsent(const Office& o, const std::string& consent_ref);

struct ConsentLine {
  std::string id, scope;
  std::string organisation_id, organisation;  // share_with_org: with whom
  std::string given_by, recorded_by;
  std::string given_at, withdrawn_at;  // times as text; "" if none
};
// The case's consents (clear fields only).
absl::StatusOr<std::vector<ConsentLine>> ListConsents(const Office& o, const std::string& case_ref);

// A consent that counts: live and not withdrawn.
bool ConsentLive(const Office& o, const Row& consent);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_CONSENTS_H_
