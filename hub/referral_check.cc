#include "hub/referral_check.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "change/referral_rules.h"
#include "store/replica_internal.h"
#include "store/sqlite.h"

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
absl::StatusOr<std::string> CaseOwner(Replica& hub, std::string_view case_id) {
  FS_ASSIGN_OR_RETURN(auto st, ReplicaInternal::HubStorageDb(hub).Prepared("SELECT owner FROM hub_row_scope WHERE tbl = "
                                                 "'cases' AND row = ?1"));
  st->BindBlob(1, case_id);
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  return found ? st->ColumnString(0) : std::string();
}

class Current {
 public:
  Current(Replica& hub, const Row& row) : hub_(hub), row_(row) {
    t_ = hub.schema().FindTable("referrals");
  }
  const Value& value(std::string_view column) const {
    static const Value kNull;
    const int i = t_->ColumnIndex(column);
    return i < 0 ? kNull : row_.values[static_cast<size_t>(i)];
  }
  const std::optional<FieldVersion>& version(std::string_view column) const {
    static const std::optional<FieldVersion> kNone;
    const int i = t_->ColumnIndex(column);
    return i < 0 ? kNone : row_.versions[static_cast<size_t>(i)];
  }

  // The status the version `base` wrote: from the hub's record of status
  // versions, the current value, or a conflict; nullopt if unknown.
  absl::StatusOr<std::optional<std::string>> StatusAt(const Version& base) {
    FS_ASSIGN_OR_RETURN(auto st, ReplicaInternal::HubStorageDb(hub_).Prepared("SELECT status FROM hub_referral_status "
                                                    "WHERE referral = ?1 AND hlc = ?2 AND "
                                                    "device = ?3"));
    st->BindBlob(1, row_.id.view());
    st->BindInt(2, static_cast<int64_t>(base.hlc.packed()));
    st->BindBlob(3, base.device.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (found) return std::optional<std::string>(st->ColumnString(0));
    const auto& v = version("status");
    if (v && v->version == base) return std::optional<std::string>(TextOf(value("status")));
    FS_ASSIGN_OR_RETURN(std::vector<ConflictRecord> conflicts,
                        hub_.Conflicts(std::string("referrals"), row_.id));
    for (const ConflictRecord& k : conflicts) {
      if (k.column == "status" && k.version == base) {
        return std::optional<std::string>(TextOf(k.value));
      }
    }
    return std::optional<std::string>();
  }
  absl::StatusOr<std::vector<std::string>> ConcurrentStatuses() {
    std::vector<std::string> out = {TextOf(value("status"))};
    FS_ASSIGN_OR_RETURN(std::vector<ConflictRecord> conflicts,
                        hub_.Conflicts(std::string("referrals"), row_.id));
    for (const ConflictRecord& k : conflicts) {
      if (k.column == "status") out.push_back(TextOf(k.value));
    }
    return out;
  }

 private:
  Replica& hub_;
  const Row& row_;
  const TableDef* t_;
};

absl::Status CheckOne(Replica& hub, const std::string& province, const Commit& c,
                      const RowChange& rc) {
  FS_ASSIGN_OR_RETURN(std::optional<Row> row, hub.Get("referrals", rc.row));
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
    if (to_office.empty() && (org == nullptr || org->value.is_null())) {
      return Denied(c, rc, "names no destination (to_office or to_organisation)");
    }
    if (status == nullptr || TextOf(status->value) != referral::kSent) {
      return Denied(c, rc, "is new: a referral is created \"sent\"; the receiving office "
                           "answers it");
    }
    return absl::OkStatus();
  }
  Current cur(hub, *row);
  const std::string from_office = TextOf(cur.value("from_office"));
  const std::string to_office = TextOf(cur.value("to_office"));
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
    FS_ASSIGN_OR_RETURN(std::vector<std::string> among, cur.ConcurrentStatuses());
    absl::Status ok = referral::CheckResolution(among, next, province, from_office, to_office);
    if (!ok.ok()) return Denied(c, rc, std::string(ok.message()));
    return absl::OkStatus();
  }
  std::optional<std::string> base_status;
  if (status->base) {
    FS_ASSIGN_OR_RETURN(base_status, cur.StatusAt(*status->base));
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

absl::Status CheckReferralChanges(Replica& hub, const std::string& province, const Commit& c) {
  for (const RowChange& rc : c.changes) {
    if (rc.table != "referrals") continue;
    FS_RETURN_IF_ERROR(CheckOne(hub, province, c, rc));
  }
  return absl::OkStatus();
}

absl::Status RecordReferralStatus(Replica& hub, const Commit& c) {
  for (const RowChange& rc : c.changes) {
    if (rc.table != "referrals") continue;
    const FieldWrite* status = WriteOf(rc, "status");
    if (status == nullptr || status->value.kind() != Value::Kind::kText) continue;
    FS_ASSIGN_OR_RETURN(auto st, ReplicaInternal::HubStorageDb(hub).Prepared("INSERT OR IGNORE INTO hub_referral_status("
                                                   "referral, hlc, device, status) VALUES "
                                                   "(?1, ?2, ?3, ?4)"));
    st->BindBlob(1, rc.row.view());
    st->BindInt(2, static_cast<int64_t>(c.hlc.packed()));
    st->BindBlob(3, c.author.view());
    st->BindText(4, status->value.str());
    FS_RETURN_IF_ERROR(st->Run());
  }
  return absl::OkStatus();
}

}  // namespace fieldsync::hub
