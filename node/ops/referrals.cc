#include "node/ops/referrals.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "change/referral_rules.h"
#include "node/ops/consents.h"
#include "node/ops/messages.h"
#include "node/ops/resolve.h"
#include "node/ops/values.h"

namespace fieldsync::node::ops {
namespace {

// A referral status as the value of its column.
Value StatusValue(referral::Status s) { return Value::Text(std::string(referral::StatusName(s))); }

// Whether a laptop of `office` is an approved member of it, by the chain
// this laptop holds: the office key that a referral's letter and the file's
// keys are granted to exists only then.
absl::StatusOr<bool> HasMembers(const Office& o, const std::string& office) {
  for (const RegisteredDevice& d : o.keys.Registry()) {
    if (d.province != office || d.revoked()) continue;
    FS_ASSIGN_OR_RETURN(bool member, o.keys.IsMember(office, d.keys.device));
    if (member) return true;
  }
  return false;
}

// OK if a live consent of the case covers a referral to `to_office` or
// `org`; else the refusal naming the consent that is missing.
absl::Status CheckConsent(const Office& o, const RowId& case_id, const std::string& code,
                          const std::string& to_office, const std::optional<RowId>& org) {
  FS_ASSIGN_OR_RETURN(auto consents, RowsOfCase(o, "consents", case_id));
  std::string org_kind;
  if (org) {
    FS_ASSIGN_OR_RETURN(auto row, o.Get("organisations", *org));
    if (row) org_kind = o.Clear(*row, "organisations", "kind");
  }
  const bool police = org_kind == "police" || org_kind == "border_guard";
  for (const Row& r : consents) {
    if (!ConsentLive(o, r)) continue;
    const std::string scope = o.Clear(r, "consents", "scope");
    if (!org && scope == "services") return absl::OkStatus();
    if (org && police && scope == "police") return absl::OkStatus();
    if (org && scope == "share_with_org") {
      auto with = IdOf(o.Stored(r, "consents", "organisation_id"));
      if (with && *with == *org) return absl::OkStatus();
    }
  }
  if (!org) {
    return Coded(
        NoConsent(absl::StrCat("case ", code,
                               " has no consent to be referred for services (consent scope "
                               "\"services\"), so it cannot be sent to ",
                               to_office,
                               ": record the victim's consent "
                               "with `fieldnode consent add ",
                               code,
                               " --scope services --given-by victim`, then send "
                               "it again")),
        Msg::kNoConsentServices, {{"code", code}, {"office", to_office}});
  }
  return Coded(NoConsent(absl::StrCat(
                   "case ", code, " has no consent to share with this organisation (consent scope ",
                   police ? "\"police\" or " : "", "\"share_with_org\" for ", org->ToString(),
                   "): record it with `fieldnode consent add ", code, " --scope ",
                   police ? "police" : "share_with_org --org ", police ? "" : org->ToString(),
                   "`, then send it again")),
               Msg::kNoConsentOrg, {{"code", code}});
}

}  // namespace

absl::StatusOr<SentReferral> SendReferral(const Office& o, const NewReferral& in) {
  if (in.to_office.empty() == in.to_org.empty()) {
    return Coded(
        IncompleteRequest("referral send needs --to-office CODE or --to-org ORG (one of them)"),
        Msg::kReferralTarget);
  }
  if (in.reason.empty()) {
    return Coded(IncompleteRequest("referral send needs --reason TEXT"), Msg::kReferralReason);
  }
  FS_ASSIGN_OR_RETURN(RowId id, Resolve(o, "cases", in.case_ref, "case"));
  FS_ASSIGN_OR_RETURN(Row kase, o.MustGet("cases", id));
  const std::string code = o.Clear(kase, "cases", "case_code");
  const std::string owner = o.Clear(kase, "cases", "province");
  if (owner != o.province) {
    return Coded(
        absl::PermissionDeniedError(absl::StrCat("case ", code, " belongs to office ", owner,
                                                 "; only its office refers it. Nothing was "
                                                 "changed")),
        Msg::kCaseOtherOffice, {{"code", code}, {"office", owner}});
  }
  if (o.Clear(kase, "cases", "status") == "closed") {
    return Coded(Refused(absl::StrCat("case ", code,
                                      " is closed; reopen it first (fieldnode case "
                                      "set ",
                                      code, " status assisting)")),
                 Msg::kReferralCaseClosed, {{"code", code}});
  }
  std::optional<RowId> org;
  if (!in.to_office.empty()) {
    const std::set<std::string> known = KnownOffices(o);
    if (known.count(in.to_office) == 0) {
      // No list of provinces reaches a laptop: an office is known here once
      // one of its laptops has enrolled at the hub and this laptop synced.
      return Coded(
          absl::NotFoundError(absl::StrCat(
              "unknown province office \"", in.to_office, "\": this laptop knows ",
              absl::StrJoin(known, ", "),
              " (the offices with a laptop enrolled at the hub, as of "
              "its last sync). Check the code; if it is right, no laptop of ",
              in.to_office,
              " has enrolled yet, and a referral can reach that office only once one has (the hub "
              "administrator makes its token: fieldhub enroll-token --province ",
              in.to_office, ") and this laptop has synced since. Nothing was changed")),
          Msg::kReferralUnknownOffice,
          {{"office", Printable(in.to_office)}, {"known", absl::StrJoin(known, ", ")}});
    }
    if (in.to_office == o.province) {
      return Coded(Refused("a case cannot be referred to its own office"), Msg::kReferralOwnOffice);
    }
  } else {
    FS_ASSIGN_OR_RETURN(org, ResolveOrg(o, in.to_org));
  }
  // One open referral per destination.
  FS_ASSIGN_OR_RETURN(std::vector<Row> existing, RowsOfCase(o, "referrals", id));
  for (const Row& r : existing) {
    const std::string st = o.Clear(r, "referrals", "status");
    const std::optional<referral::Status> open = referral::ParseStatus(st);
    if (open != referral::Status::kSent && open != referral::Status::kAccepted) continue;
    const bool same = org ? IdOf(o.Stored(r, "referrals", "to_organisation")) == org
                          : o.Clear(r, "referrals", "to_office") == in.to_office;
    if (same) {
      return Coded(Refused(absl::StrCat("case ", code, " is already referred there (referral ",
                                        r.id.ToString(), ", ", st, ")")),
                   Msg::kReferralAlready, {{"code", code}, {"status", st}});
    }
  }
  FS_RETURN_IF_ERROR(CheckConsent(o, id, code, in.to_office, org));
  Fields f = {{"case_id", IdValue(id)},
              {"from_office", Value::Text(o.province)},
              {"status", StatusValue(referral::Status::kSent)},
              {"sent_at", Value::Int(o.NowMillis())}};
  if (!in.to_office.empty()) f.emplace_back("to_office", Value::Text(in.to_office));
  if (org) f.emplace_back("to_organisation", IdValue(*org));
  const TableDef& t = o.Table("referrals");
  FS_ASSIGN_OR_RETURN(Value reason, ParseColumnValue(o, t, *t.FindColumn("reason"), in.reason));
  f.emplace_back("reason", reason);
  if (in.notes) {
    FS_ASSIGN_OR_RETURN(Value notes, ParseColumnValue(o, t, *t.FindColumn("notes"), *in.notes));
    f.emplace_back("notes", notes);
  }
  if (!in.service.empty()) {
    FS_ASSIGN_OR_RETURN(RowId svc, ResolveByName(o, "services", in.service, "service"));
    f.emplace_back("service_id", IdValue(svc));
  }
  // Asked before the commit: once it is written, a failure must not be
  // reported as if nothing had been.
  bool receiver_has_members = true;
  if (!in.to_office.empty()) {
    FS_ASSIGN_OR_RETURN(receiver_has_members, HasMembers(o, in.to_office));
  }
  const RowId rid = Id16::NewV7(o.clock);
  FS_RETURN_IF_ERROR(o.Commit(LocalTxn()
                                  .Create("referrals", rid, f)
                                  .Set("cases", id, {{"status", Value::Text("referred")}})));
  SentReferral sent{rid, code, in.to_office.empty() ? in.to_org : in.to_office};
  sent.receiver_waits_for_members = !receiver_has_members;
  return sent;
}

absl::StatusOr<RowId> RespondToReferral(const Office& o, const ReferralResponse& in) {
  FS_ASSIGN_OR_RETURN(RowId id, Resolve(o, "referrals", in.referral_ref, "referral"));
  FS_ASSIGN_OR_RETURN(Row ref, o.MustGet("referrals", id));
  const std::string status = o.Clear(ref, "referrals", "status");
  const std::string to = o.Clear(ref, "referrals", "to_office");
  const std::string from = o.Clear(ref, "referrals", "from_office");
  // An office answers for itself; for an agency, the referring office
  // records the agency's answer.
  const bool mine = to.empty() ? from == o.province : to == o.province;
  if (!mine) {
    return Coded(
        absl::PermissionDeniedError(absl::StrCat(
            "referral ", id.ToString(), " is addressed to ", to.empty() ? "an agency" : to,
            "; only ", to.empty() ? absl::StrCat("office ", from) : absl::StrCat("office ", to),
            " records its answer. Nothing was changed")),
        Msg::kReferralNotAddressed, {{"office", to.empty() ? from : to}});
  }
  Fields f;
  if (in.response == Response::kAccept || in.response == Response::kDecline) {
    const bool accept = in.response == Response::kAccept;
    const referral::Status answer =
        accept ? referral::Status::kAccepted : referral::Status::kDeclined;
    if (referral::ParseStatus(status) != referral::Status::kSent) {
      return Coded(Refused(absl::StrCat("referral ", id.ToString(), " is ", status,
                                        "; only a referral that was sent can be ",
                                        AV(referral::StatusName(answer)))),
                   Msg::kReferralNotSent, {{"status", status}});
    }
    f = {{"status", StatusValue(answer)},
         {"responded_at", Value::Int(o.NowMillis())}};
    if (!accept) {
      if (in.reason.empty()) {
        return Coded(IncompleteRequest("referral decline needs --reason TEXT"),
                     Msg::kDeclineReason);
      }
      const TableDef& t = o.Table("referrals");
      FS_ASSIGN_OR_RETURN(Value reason,
                          ParseColumnValue(o, t, *t.FindColumn("decline_reason"), in.reason));
      f.emplace_back("decline_reason", reason);
    }
  } else {
    if (referral::ParseStatus(status) != referral::Status::kAccepted) {
      return Coded(Refused(absl::StrCat("referral ", id.ToString(), " is ", status,
                                        "; only an accepted referral can be completed")),
                   Msg::kReferralNotAccepted, {{"status", status}});
    }
    f = {{"status", StatusValue(referral::Status::kCompleted)},
         {"completed_at", Value::Int(o.NowMillis())}};
  }
  FS_RETURN_IF_ERROR(o.Commit(LocalTxn().Set("referrals", id, f)));
  return id;
}

absl::StatusOr<std::vector<ReferralLine>> ListReferrals(const Office& o) {
  FS_ASSIGN_OR_RETURN(std::vector<RowId> ids, o.replica.ListRows("referrals", false));
  std::vector<ReferralLine> out;
  for (const RowId& id : ids) {
    FS_ASSIGN_OR_RETURN(auto row, o.Get("referrals", id));
    if (!row) continue;
    const Row& r = *row;
    ReferralLine l;
    l.id = id.ToString();
    if (auto cid = IdOf(o.Stored(r, "referrals", "case_id"))) {
      auto kase = o.Get("cases", *cid);
      if (kase.ok() && *kase) l.case_code = o.Clear(**kase, "cases", "case_code");
    }
    l.from_office = o.Clear(r, "referrals", "from_office");
    l.to = o.Clear(r, "referrals", "to_office");
    if (l.to.empty()) {
      l.to_agency = true;
      if (auto org = IdOf(o.Stored(r, "referrals", "to_organisation"))) {
        auto row_org = o.Get("organisations", *org);
        l.to = row_org.ok() && *row_org ? o.Clear(**row_org, "organisations", "name")
                                        : org->ToString();
      }
    }
    l.direction = l.from_office == o.province                                ? "out"
                  : o.Clear(r, "referrals", "to_office") == o.province ? "in"
                                                                       : "seen";
    l.status = o.Clear(r, "referrals", "status");
    const Value& sent = o.Stored(r, "referrals", "sent_at");
    l.sent_at = sent.kind() == Value::Kind::kInt ? FormatTimeMillis(sent.int_value()) : "";
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace fieldsync::node::ops
