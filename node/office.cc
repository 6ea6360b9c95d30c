#include "node/office.h"

#include <map>

#include "node/commands/command.h"
#include "node/help_texts.h"
#include "node/session.h"

namespace fieldsync::node {

const std::set<std::string>& OfficeValuedFlags() {
  static const std::set<std::string> f = {
      "data-dir", "passphrase-file", "new-passphrase-file", "officer", "name", "other-names",
      "dob", "id-number",
      "phones", "address", "home-address", "family", "health", "sex", "birth-year", "origin",
      "nationality", "channel", "narrative", "notes", "places", "perpetrators", "exploitation",
      "office", "status", "urgency", "since", "scope", "org", "given-by", "to-office", "to-org",
      "reason", "service", "kind", "province", "phone", "position", "desk-phone", "mobile",
      "email", "other-channels", "on-call", "consent-on", "restriction", "focal-provinces",
      "focal-kinds", "verified-on", "provinces", "eligibility", "procedure", "documents",
      "hours", "keep", "value", "threshold", "for"};
  return f;
}

const std::set<std::string>& OfficeSwitches() {
  static const std::set<std::string> s = {"json", "help", "urgent", "yes", "codes"};
  return s;
}

const std::string& HelpText(const std::string& cmd) {
  static const std::string kNone;
  static const auto* texts = [] {
    auto* m = new std::map<std::string, std::string, std::less<>>;
    for (const help::Text& t : help::kTexts) m->emplace(t.command, t.text);
    return m;
  }();
  auto it = texts->find(cmd);
  return it == texts->end() ? kNone : it->second;
}

int RunOfficeCommand(const Args& args) {
  const std::string cmd = args.positional[0];
  if (cmd == "unlock") return RunUnlockCommand(args);
  if (cmd == "lock") return RunLockCommand(args);
  if (cmd == "status") return RunStatusCommand(args);
  // Writing commands and those that open sealed fields ask for the
  // passphrase on a terminal when no agent holds the keys; the lists that
  // show no sealed field and the report never ask.
  const std::string sub = args.positional.size() > 1 ? args.positional[1] : "";
  const bool clear_only =
      cmd == "report" || (sub == "list" && (cmd == "case" || cmd == "referral" ||
                                            cmd == "org" || cmd == "consent"));
  auto context = OpenOfficeContext(args, /*ask=*/!clear_only);
  if (!context.ok()) return Fail(context.status());
  OfficeContext& c = **context;
  if (cmd == "case") return RunCaseCommand(c);
  if (cmd == "consent") return RunConsentCommand(c);
  if (cmd == "referral") return RunReferralCommand(c);
  if (cmd == "org") return RunOrgCommand(c);
  if (cmd == "contact") return RunContactCommand(c);
  if (cmd == "service") return RunServiceCommand(c);
  if (cmd == "conflict") return RunConflictCommand(c);
  return RunReportCommand(c);
}

}  // namespace fieldsync::node
