// Referrals: sending a case to another office or to an agency, and the
// answer (accept, decline, complete). A referral needs a live consent that
// covers it, and only the owning office refers its case.
#ifndef FIELDSYNC_NODE_OPS_REFERRALS_H_
#define FIELDSYNC_NODE_OPS_REFERRALS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/ops/office.h"

namespace fieldsync::node::ops {

struct NewReferral {
  std::string case_ref;
  std::string to_office;  // a province code; or
  std::string to_org;     // an organisation (name or id): exactly one of them
  std::string reason;     // required; sealed
  std::optional<std::string> notes;  // sealed; travel with the file
  std::string service;    // "" none; a service's name or id
};
struct SentReferral {
  RowId id;
  std::string case_code;
  std::string to;  // the office code or the organisation as given
  // An office none of whose laptops is an approved member yet (as this
  // laptop knows): the referral waits, sent, and the reason (and, once
  // accepted, the file) is granted to the office at the first sync of a
  // laptop of this office after its first laptop was approved and synced.
  bool receiver_waits_for_members = false;
};
// Refused: another office's case, a closed case, an office this node does
// not know or its own, a destination already referred to, no consent.
absl::StatusOr<SentReferral> SendReferral(const Office& o, const NewReferral& in);

enum class Response { kAccept, kDecline, kComplete };
struct ReferralResponse {
  std::string referral_ref;
  Response response = Response::kAccept;
  std::string reason;  // kDecline: required; sealed
};
// An office answers for itself (for an agency, the referring office records
// its answer); accept and decline only a referral sent, complete only an
// accepted one. The referral's id.
absl::StatusOr<RowId> RespondToReferral(const Office& o, const ReferralResponse& in);

struct ReferralLine {
  std::string id;
  // out: this office sent it; in: addressed to this office; seen: another
  // office's referral of a case this office was given.
  std::string direction;
  std::string case_code, from_office;
  std::string to;  // office code, or the organisation's name
  // Sent to an organisation: the referring office records its answer.
  bool to_agency = false;
  std::string status, sent_at;
};
// Every referral held here; no sealed field.
absl::StatusOr<std::vector<ReferralLine>> ListReferrals(const Office& o);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_REFERRALS_H_
