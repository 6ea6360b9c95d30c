#include "node/ops/consents.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "node/ops/messages.h"
#include "node/ops/resolve.h"
#include "node/ops/values.h"

namespace fieldsync::node::ops {

bool ConsentLive(const Office& o, const Row& r) {
  return r.live && o.Stored(r, "consents", "withdrawn_at").is_null();
}

absl::StatusOr<RecordedConsent> AddConsent(const Office& o, const NewConsent& in) {
  if (in.scope.empty()) {
    return Coded(
        IncompleteRequest(
            "consent add needs --scope services|share_with_org|police|anonymous_statistics"),
        Msg::kConsentScopeNeeded);
  }
  FS_ASSIGN_OR_RETURN(RowId case_id, Resolve(o, "cases", in.case_ref, "case"));
  FS_ASSIGN_OR_RETURN(Row kase, o.MustGet("cases", case_id));
  const TableDef& t = o.Table("consents");
  Fields f = {{"case_id", IdValue(case_id)}};
  FS_ASSIGN_OR_RETURN(Value scope_value, ParseColumnValue(o, t, *t.FindColumn("scope"), in.scope));
  f.emplace_back("scope", scope_value);
  if (in.given_by) {
    FS_ASSIGN_OR_RETURN(Value by, ParseColumnValue(o, t, *t.FindColumn("given_by"), *in.given_by));
    f.emplace_back("given_by", by);
  }
  const std::string scope = absl::AsciiStrToLower(in.scope);
  if (scope == "share_with_org") {
    if (in.org_ref.empty()) {
      return Coded(IncompleteRequest("consent add --scope share_with_org needs --org ORG (with whom)"),
                   Msg::kConsentOrgNeeded);
    }
    FS_ASSIGN_OR_RETURN(RowId org, ResolveOrg(o, in.org_ref));
    f.emplace_back("organisation_id", IdValue(org));
  } else if (!in.org_ref.empty()) {
    return Coded(IncompleteRequest("--org goes with --scope share_with_org only"),
                 Msg::kConsentOrgOnlyShare);
  }
  if (!in.given_by || in.given_by->empty()) f.emplace_back("given_by", Value::Text("victim"));
  f.emplace_back("recorded_by", Value::Text(o.officer));
  f.emplace_back("given_at", Value::Int(o.NowMillis()));
  const RowId id = Id16::NewV7(o.clock);
  FS_RETURN_IF_ERROR(o.Commit(LocalTxn().Create("consents", id, f)));
  return RecordedConsent{id, o.Clear(kase, "cases", "case_code"), scope};
}

absl::StatusOr<RowId> WithdrawConsent(const Office& o, const std::string& consent_ref) {
  FS_ASSIGN_OR_RETURN(RowId id, Resolve(o, "consents", consent_ref, "consent"));
  FS_ASSIGN_OR_RETURN(Row row, o.MustGet("consents", id));
  if (!ConsentLive(o, row)) {
    return Coded(Refused("this consent was already withdrawn"), Msg::kConsentWithdrawn);
  }
  FS_RETURN_IF_ERROR(
      o.Commit(LocalTxn().Set("consents", id, {{"withdrawn_at", Value::Int(o.NowMillis())}})));
  return id;
}

absl::StatusOr<std::vector<ConsentLine>> ListConsents(const Office& o,
                                                      const std::string& case_ref) {
  FS_ASSIGN_OR_RETURN(RowId case_id, Resolve(o, "cases", case_ref, "case"));
  FS_ASSIGN_OR_RETURN(std::vector<Row> rows, RowsOfCase(o, "consents", case_id));
  std::vector<ConsentLine> out;
  for (const Row& r : rows) {
    const Value& w = o.Stored(r, "consents", "withdrawn_at");
    const Value& g = o.Stored(r, "consents", "given_at");
    ConsentLine l;
    l.id = r.id.ToString();
    l.scope = o.Clear(r, "consents", "scope");
    l.organisation_id = o.Clear(r, "consents", "organisation_id");
    if (auto org = IdOf(o.Stored(r, "consents", "organisation_id"))) {
      auto row = o.Get("organisations", *org);
      l.organisation = row.ok() && *row ? o.Clear(**row, "organisations", "name") : org->ToString();
    }
    l.given_by = o.Clear(r, "consents", "given_by");
    l.recorded_by = o.Clear(r, "consents", "recorded_by");
    l.given_at = g.kind() == Value::Kind::kInt ? FormatTimeMillis(g.int_value()) : "";
    l.withdrawn_at = w.kind() == Value::Kind::kInt ? FormatTimeMillis(w.int_value()) : "";
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace fieldsync::node::ops
