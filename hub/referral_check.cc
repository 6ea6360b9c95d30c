#include "hub/referral_check.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "change/referral_rules.h"
#include "schema/province_code.h"
#include "schema/relations.h"

namespace fieldsync::hub {
namespace {

const FieldWrite* WriteOf(const RowChange& rc, std::string_view column) {
  for (const FieldWrite& f : rc.fields) {
    if (f.column == column) return &f;
  }
  return nullptr;
}

std::string TextOf(const Value& v) {
  return v.kind() == Value::Kind::kText ? v.str() : std::string();
}

absl::Status Denied(const Commit& c, const RowChange& rc, std::string_view why) {
  return absl::PermissionDeniedError(absl::StrCat(
      "commit ", c.Name(), " refused, nothing of the batch stored: referral ",
      rc.row.ToString(), " ", AV(why)));
}

// The office that owns case `case_id` as the hub recorded it; "" if unknown.
absl::StatusOr<std::string> CaseOwner(HubReadTxn& hub, std::string_view case_id) {
  absl::StatusOr<RowId> id = Id16::FromBytes(case_id, "case id");
  if (!id.ok()) return std::string();  // no such case
  const TableDef* cases = CasesTable(hub.schema());
  if (cases == nullptr) return std::string();
  FS_ASSIGN_OR_RETURN(std::optional<RowScopeEntry> e, hub.RowScope(std::string(cases->name), *id));
  return e ? e->owner : std::string();
}

// The status the version `base` wrote: from the hub's record of status
// versions, the current value, or a conflict; nullopt if unknown.
absl::StatusOr<std::optional<std::string>> StatusAt(HubReadTxn& hub, const RowId& referral,
                                                    const ReferralState& cur,
                                                    const Version& base) {
  FS_ASSIGN_OR_RETURN(std::optional<std::string> recorded,
                      hub.RecordedReferralStatus(referral, base));
  if (recorded) return recorded;
  if (cur.status_version && *cur.status_version == base) {
    return std::optional<std::string>(cur.status);
  }
  for (const auto& [version, status] : cur.status_conflicts) {
    if (version == base) return std::optional<std::string>(status);
  }
  return std::optional<std::string>();
}

std::vector<std::string> ConcurrentStatuses(const ReferralState& cur) {
  std::vector<std::string> out = {cur.status};
  for (const auto& [version, status] : cur.status_conflicts) out.push_back(status);
  return out;
}

absl::Status CheckOne(HubWriteTxn& hub, const std::string& province, const Commit& c,
                      const RowChange& rc) {
  FS_ASSIGN_OR_RETURN(std::optional<ReferralState> row, hub.Referral(rc.row));
  const FieldWrite* live = WriteOf(rc, kLiveColumn);
  const bool deleting = live != nullptr && live->value.kind() == Value::Kind::kInt &&
                        live->value.int_value() == 0;
  if (!row) {
    // Created by this commit: by the office that owns the case, as sent.
    const FieldWrite* case_id = WriteOf(rc, "case_id");
    if (case_id == nullptr || case_id->value.kind() != Value::Kind::kBytes) {
      return Denied(c, rc, "is new and names no case");
    }
    FS_ASSIGN_OR_RETURN(std::string owner, CaseOwner(hub, case_id->value.str()));
    const FieldWrite* from = WriteOf(rc, "from_office");
    const FieldWrite* to = WriteOf(rc, "to_office");
    const FieldWrite* org = WriteOf(rc, "to_organisation");
    const FieldWrite* status = WriteOf(rc, "status");
    const std::string from_office = from ? TextOf(from->value) : "";
    const std::string to_office = to ? TextOf(to->value) : "";
    if (owner != province || from_office != province) {
      return Denied(c, rc, absl::StrCat("refers a case of office ", owner.empty() ? "?" : owner,
                                        " from office ", province,
                                        ": only the office that owns a case refers it, "
                                        "naming itself in from_office"));
    }
    if (to_office == from_office) {
      return Denied(c, rc, "refers a case to its own office");
    }
    // A grant to '*' (the key of entries every office reads) or to a name
    // no office has would key the case's log under it for good (attack
    // review 88): the office must be one the hub's registry holds (no
    // office is ever taken out of it; attack review 89, LOW: "ZZ" was
    // taken for having an office code's form).
    if (!to_office.empty() && !IsProvinceCode(to_office)) {
      return Denied(c, rc, "names a to_office that is not an office's code (two or three "
                           "capital letters)");
    }
    if (!to_office.empty()) {
      FS_ASSIGN_OR_RETURN(const bool registered, hub.ProvinceExists(to_office));
      if (!registered) {
        return Denied(c, rc, absl::StrCat("names to_office ", AV(to_office), ", which is not "
                                          "an office's code at this hub (no such office is "
                                          "registered)"));
      }
    }
    if (to_office.empty() && (org == nullptr || org->value.is_null())) {
      return Denied(c, rc, "names no destination (to_office or to_organisation)");
    }
    if (status == nullptr ||
        referral::ParseStatus(TextOf(status->value)) != referral::Status::kSent) {
      return Denied(c, rc, "is new: a referral is created \"sent\"; the receiving office "
                           "answers it");
    }
    return absl::OkStatus();
  }
  const ReferralState& cur = *row;
  const std::string& from_office = cur.from_office;
  const std::string& to_office = cur.to_office;
  if (deleting) {
    if (province != from_office) {
      return Denied(c, rc, absl::StrCat("may be deleted only by office ", from_office,
                                        ", which sent it"));
    }
    return absl::OkStatus();
  }
  for (const FieldWrite& f : rc.fields) {
    if (referral::IsFixedColumn(f.column)) {
      return Denied(c, rc, absl::StrCat("cannot change its ", f.column, ": a referral's case "
                                        "and offices are set once; send a new referral"));
    }
  }
  const FieldWrite* status = WriteOf(rc, "status");
  if (status == nullptr) return absl::OkStatus();
  const std::string next = TextOf(status->value);
  if (!status->resolves.empty()) {
    // A resolution chooses among the values written concurrently.
    const std::vector<std::string> among = ConcurrentStatuses(cur);
    absl::Status ok = referral::CheckResolution(among, next, province, from_office, to_office);
    if (!ok.ok()) return Denied(c, rc, std::string(ok.message()));
    return absl::OkStatus();
  }
  std::optional<std::string> base_status;
  if (status->base) {
    FS_ASSIGN_OR_RETURN(base_status, StatusAt(hub, rc.row, cur, *status->base));
    if (!base_status) {
      return Denied(c, rc, "changes its status from a version the hub does not hold; sync, "
                           "then answer again");
    }
  }
  absl::Status legal = referral::CheckTransition(base_status.value_or(""), next, province,
                                                 from_office, to_office);
  if (!legal.ok()) return Denied(c, rc, std::string(legal.message()));
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckReferralChanges(HubWriteTxn& hub, const std::string& province, const Commit& c) {
  for (const RowChange& rc : c.changes) {
    if (rc.table != "referrals") continue;
    FS_RETURN_IF_ERROR(CheckOne(hub, province, c, rc));
  }
  return absl::OkStatus();
}

absl::Status RecordReferralStatus(HubWriteTxn& hub, const Commit& c) {
  for (const RowChange& rc : c.changes) {
    if (rc.table != "referrals") continue;
    const FieldWrite* status = WriteOf(rc, "status");
    if (status == nullptr || status->value.kind() != Value::Kind::kText) continue;
    FS_RETURN_IF_ERROR(
        hub.RecordReferralStatus(rc.row, Version{c.hlc, c.author}, status->value.str()));
  }
  return absl::OkStatus();
}

}  // namespace fieldsync::hub
