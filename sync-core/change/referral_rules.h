// Who may do what to a referral (docs/CRYPTO.md, "Referral authority"):
// the one place the rules live, read by the hub (which refuses what breaks
// them, storing nothing), by every laptop (which grants a case's keys only
// along them, from the signed authors of the fields) and by the CLI.
//
//   - Only the office that owns a case refers it: the referral is created by
//     a device of that office, with from_office = that office and status
//     "sent"; to_office (or to_organisation) names the destination.
//   - case_id, from_office, to_office and to_organisation never change.
//   - Legal status transitions, each judged against the version the write
//     was based on (so that two laptops writing "accepted" and "declined"
//     while apart make one conflict every replica sees the same way):
//       sent     -> accepted | declined   by the receiving office
//       accepted -> completed             by the receiving office
//     declined and completed are final. For a referral to an organisation
//     (no receiving office on fieldsync), the referring office records the
//     organisation's answers.
//   - Only the referring (owning) office deletes a referral.
//   - The referral's letter (reason, decline_reason; sealed from schema
//     version 4) is sealed under the referral's own key ring, granted to the
//     receiving office when the referral is made: it reads why before it
//     accepts, and nothing else of the case until then. Its notes travel
//     with the case's file (the case's key ring, granted on acceptance).
#ifndef FIELDSYNC_CHANGE_REFERRAL_RULES_H_
#define FIELDSYNC_CHANGE_REFERRAL_RULES_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "change/commit.h"

namespace fieldsync::referral {

// A referral's status. StatusName and ParseStatus are the one place its
// stored text is written: the schema's allowed values, the SQL and the
// commands all go through them.
enum class Status { kSent, kAccepted, kDeclined, kCompleted };

// The stored text: "sent", "accepted", "declined", "completed".
std::string_view StatusName(Status s);
// The status stored as `text`, nullopt for any other text (NULL included).
std::optional<Status> ParseStatus(std::string_view text);
// Every status's name, in declaration order (the schema's allowed values).
std::vector<std::string_view> StatusNames();

// case_id, from_office, to_office, to_organisation: set once, at creation.
bool IsFixedColumn(std::string_view column);

// PERMISSION_DENIED when `c`, written on this laptop, rewrites a fixed
// column of a referral it already held (a write based on an earlier
// version): laptops refuse what the hub would refuse, nothing stored.
absl::Status CheckFixedColumns(const Commit& c);

// Whether `column` of a referral is sealed under the referral's own key
// ring (the letter both offices read) rather than its case's.
bool SealedUnderReferral(std::string_view column);

// Whether a status no later write may change (declined, completed); false
// for a text that is no status.
bool IsFinal(std::string_view status);

// The office that answers for the receiving side: to_office, or the
// referring office for a referral to an organisation.
std::string Answerer(const std::string& from_office, const std::string& to_office);

// OK if `writer_office` may move a referral from `base_status` (the value of
// the version the write was based on; "" if it had none) to `new_status`;
// PERMISSION_DENIED saying why otherwise ("cannot go from ...", "is
// answered only by office ...": to follow "referral ID ").
absl::Status CheckTransition(std::string_view base_status, std::string_view new_status,
                             const std::string& writer_office, const std::string& from_office,
                             const std::string& to_office);

// OK if `writer_office` may resolve a conflict on a referral's status by
// choosing `chosen` among `among` (the current value and those in
// conflict): only the answering office resolves, only to one of those
// values, and never away from a final one. PERMISSION_DENIED saying why
// otherwise (to follow "referral ID ").
absl::Status CheckResolution(const std::vector<std::string>& among, std::string_view chosen,
                             const std::string& writer_office, const std::string& from_office,
                             const std::string& to_office);

}  // namespace fieldsync::referral

#endif  // FIELDSYNC_CHANGE_REFERRAL_RULES_H_
