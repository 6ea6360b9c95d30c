#include "change/referral_rules.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace fieldsync::referral {

namespace {

constexpr Status kAllStatuses[] = {Status::kSent, Status::kAccepted, Status::kDeclined,
                                   Status::kCompleted};

}  // namespace

std::string_view StatusName(Status s) {
  switch (s) {
    case Status::kSent: return "sent";
    case Status::kAccepted: return "accepted";
    case Status::kDeclined: return "declined";
    case Status::kCompleted: return "completed";
  }
  return "?";
}

std::optional<Status> ParseStatus(std::string_view text) {
  for (Status s : kAllStatuses) {
    if (StatusName(s) == text) return s;
  }
  return std::nullopt;
}

std::vector<std::string_view> StatusNames() {
  std::vector<std::string_view> out;
  for (Status s : kAllStatuses) out.push_back(StatusName(s));
  return out;
}

bool IsFixedColumn(std::string_view column) {
  return column == "case_id" || column == "from_office" || column == "to_office" ||
         column == "to_organisation";
}

absl::Status CheckFixedColumns(const Commit& c) {
  for (const RowChange& rc : c.changes) {
    if (rc.table != "referrals") continue;
    bool deletes = false;  // a tombstone clears every field
    for (const FieldWrite& f : rc.fields) deletes |= f.column == kLiveColumn && f.value == Value::Int(0);
    if (deletes) continue;
    for (const FieldWrite& f : rc.fields) {
      if (IsFixedColumn(f.column) && f.base.has_value()) {
        return absl::PermissionDeniedError(absl::StrCat(
            "referral ", rc.row.ToString(), " cannot change its ", f.column, ": a referral's "
            "case and offices are fixed when it is made (make a new referral instead); nothing "
            "was changed"));
      }
    }
  }
  return absl::OkStatus();
}

bool SealedUnderReferral(std::string_view column) {
  return column == "reason" || column == "decline_reason";
}

bool IsFinal(std::string_view status) {
  const std::optional<Status> s = ParseStatus(status);
  return s == Status::kDeclined || s == Status::kCompleted;
}

std::string Answerer(const std::string& from_office, const std::string& to_office) {
  return to_office.empty() ? from_office : to_office;
}

absl::Status CheckTransition(std::string_view base_status, std::string_view new_status,
                             const std::string& writer_office, const std::string& from_office,
                             const std::string& to_office) {
  const std::optional<Status> from = ParseStatus(base_status);
  const std::optional<Status> to = ParseStatus(new_status);
  const bool legal =
      (from == Status::kSent && (to == Status::kAccepted || to == Status::kDeclined)) ||
      (from == Status::kAccepted && to == Status::kCompleted);
  if (!legal) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot go from \"", base_status.empty() ? "nothing" : AV(base_status),
        "\" to \"", AV(new_status), "\" (sent -> accepted or declined -> nothing more; accepted -> "
        "completed; declined and completed are final)"));
  }
  const std::string answerer = Answerer(from_office, to_office);
  if (writer_office != answerer) {
    return absl::PermissionDeniedError(absl::StrCat(
        "is answered only by office ", answerer, " (", AV(new_status), "), not by office ",
        writer_office));
  }
  return absl::OkStatus();
}

absl::Status CheckResolution(const std::vector<std::string>& among, std::string_view chosen,
                             const std::string& writer_office, const std::string& from_office,
                             const std::string& to_office) {
  const bool final_among = std::any_of(among.begin(), among.end(),
                                       [](const std::string& v) { return IsFinal(v); });
  if (final_among && !IsFinal(chosen)) {
    return absl::PermissionDeniedError(
        "resolves its status away from a final answer (declined or completed), which stays "
        "final");
  }
  const std::string answerer = Answerer(from_office, to_office);
  if (std::find(among.begin(), among.end(), chosen) == among.end() || writer_office != answerer) {
    return absl::PermissionDeniedError(absl::StrCat(
        "resolves its status to \"", AV(chosen), "\", which is not one of the values in "
        "conflict, or not by office ", answerer));
  }
  return absl::OkStatus();
}

}  // namespace fieldsync::referral
