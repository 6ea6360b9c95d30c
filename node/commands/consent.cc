// fieldnode consent: add, list, withdraw (node/help/consent.txt), over
// node/ops/consents.h.
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/ops/consents.h"
#include "text/text.h"

namespace fieldsync::node {
namespace {

int Add(OfficeContext& c) {
  if (c.Words() != 3) return Usage("consent add needs CASE");
  ops::NewConsent in{c.args.positional[2], c.args.Flag("scope"), c.args.Flag("org"),
                     std::nullopt};
  if (c.args.flags.count("given-by") > 0) in.given_by = c.args.Flag("given-by");
  auto done = ops::AddConsent(c.office, in);
  if (!done.ok()) return Failed(done.status());
  Print(absl::StrCat("consent ", done->id.ToString(), " recorded for case ", done->case_code,
                     ": ", done->scope, "\n"));
  return 0;
}

int Withdraw(OfficeContext& c) {
  if (c.Words() != 3) return Usage("consent withdraw needs CONSENT (its id)");
  auto id = ops::WithdrawConsent(c.office, c.args.positional[2]);
  if (!id.ok()) return Failed(id.status());
  Print(absl::StrCat("consent ", id->ToString(), " withdrawn; referrals it covered stay as "
                     "they are, new ones need a consent again\n"));
  return 0;
}

int List(OfficeContext& c) {
  if (c.Words() != 3) return Usage("consent list needs CASE");
  auto lines = ops::ListConsents(c.office, c.args.positional[2]);
  if (!lines.ok()) return Failed(lines.status());
  if (c.json) {
    Json out = Json::array();
    for (const ops::ConsentLine& l : *lines) {
      out.push_back({{"id", l.id}, {"scope", l.scope}, {"organisation_id", l.organisation_id},
                     {"organisation", l.organisation}, {"given_by", l.given_by},
                     {"recorded_by", l.recorded_by}, {"given_at", l.given_at},
                     {"withdrawn_at", l.withdrawn_at}});
    }
    Print(JsonLine(out));
    return 0;
  }
  if (lines->empty()) {
    Print("no consents recorded for this case\n");
    return 0;
  }
  std::string out;
  for (const ops::ConsentLine& l : *lines) {
    absl::StrAppend(&out, l.id, "  ", PadTo(l.scope, 21),
                    l.organisation.empty() ? "" : absl::StrCat(" with ", l.organisation, ","),
                    " by ", l.given_by, ", recorded by ", l.recorded_by, " at ", l.given_at,
                    l.withdrawn_at.empty() ? "" : absl::StrCat("  WITHDRAWN ", l.withdrawn_at),
                    "\n");
  }
  Print(out);
  return 0;
}

}  // namespace

int RunConsentCommand(OfficeContext& c) {
  const std::string sub = c.Sub();
  if (sub == "add") return Add(c);
  if (sub == "withdraw") return Withdraw(c);
  if (sub == "list") return List(c);
  return Usage(sub.empty() ? "consent needs add, list or withdraw"
                           : absl::StrCat("unknown consent subcommand \"", sub, "\""));
}

}  // namespace fieldsync::node
