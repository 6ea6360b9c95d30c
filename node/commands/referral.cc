// fieldnode referral: send, list, accept, decline, complete
// (node/help/referral.txt), over node/ops/referrals.h.
#include <string>

#include "absl/strings/str_cat.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/ops/referrals.h"
#include "text/text.h"

namespace fieldsync::node {
namespace {

int Send(OfficeContext& c) {
  if (c.Words() != 3) return Usage("referral send needs CASE");
  ops::NewReferral in;
  in.case_ref = c.args.positional[2];
  in.to_office = c.args.Flag("to-office");
  in.to_org = c.args.Flag("to-org");
  in.reason = c.args.Flag("reason");
  if (c.args.flags.count("notes") > 0) in.notes = c.args.Flag("notes");
  in.service = c.args.Flag("service");
  auto sent = ops::SendReferral(c.office, in);
  if (!sent.ok()) return Failed(sent.status());
  Print(absl::StrCat("referral ", sent->id.ToString(), " of case ", sent->case_code, " sent to ",
                     sent->to,
                     "; it travels at the next sync. The receiving office sees the referral and "
                     "the case's clear fields; the whole file once it accepts.\n"));
  if (sent->receiver_waits_for_members) {
    Print(absl::StrCat("Office ", sent->to, " has no approved laptop yet: it can read the "
                       "referral's reason, and the file once it accepts, only after its first "
                       "laptop is approved there (fieldnode device approve --first) and has "
                       "synced, and a laptop of this office syncs after that; nothing more is "
                       "needed here.\n"));
  }
  return 0;
}

int Respond(OfficeContext& c, const std::string& sub) {
  if (c.Words() != 3) {
    return Usage(absl::StrCat("referral ", sub, " needs REFERRAL (its id or the start of it)"));
  }
  const ops::Response response = sub == "accept"    ? ops::Response::kAccept
                                 : sub == "decline" ? ops::Response::kDecline
                                                    : ops::Response::kComplete;
  auto id = ops::RespondToReferral(c.office,
                                   {c.args.positional[2], response, c.args.Flag("reason")});
  if (!id.ok()) return Failed(id.status());
  const char* said =
      response == ops::Response::kAccept
          ? "accepted; once the owning office has synced it grants this office the case's key, "
            "and the whole file opens here at the sync after"
      : response == ops::Response::kDecline
          ? "declined; the referring office sees why at its next sync"
          : "completed; the case's key is renewed, so what is written from now on stays with "
            "the owning office";
  Print(absl::StrCat("referral ", id->ToString(), " ", said, "\n"));
  return 0;
}

int List(OfficeContext& c) {
  auto lines = ops::ListReferrals(c.office);
  if (!lines.ok()) return Failed(lines.status());
  if (c.json) {
    Json out = Json::array();
    for (const ops::ReferralLine& l : *lines) {
      out.push_back({{"id", l.id}, {"direction", l.direction}, {"case_code", l.case_code},
                     {"from_office", l.from_office}, {"to", l.to}, {"status", l.status},
                     {"sent_at", l.sent_at}});
    }
    Print(JsonLine(out));
    return 0;
  }
  if (lines->empty()) {
    Print("no referrals sent or received\n");
    return 0;
  }
  std::string out = absl::StrCat(PadTo("REFERRAL", 36), "  ", PadTo("DIR", 4), "  ",
                                 PadTo("CASE", 15), " ", PadTo("FROM", 4), " ", PadTo("TO", 20),
                                 " ", PadTo("STATUS", 9), " SENT\n");
  for (const ops::ReferralLine& l : *lines) {
    absl::StrAppend(&out, l.id, "  ", PadTo(l.direction, 4), "  ", PadTo(l.case_code, 15), " ",
                    PadTo(l.from_office, 4), " ", PadTo(l.to, 20), " ", PadTo(l.status, 9), " ",
                    l.sent_at, "\n");
  }
  Print(out);
  return 0;
}

}  // namespace

int RunReferralCommand(OfficeContext& c) {
  const std::string sub = c.Sub();
  if (sub == "send") return Send(c);
  if (sub == "accept" || sub == "decline" || sub == "complete") return Respond(c, sub);
  if (sub == "list") return List(c);
  return Usage(sub.empty() ? "referral needs send, list, accept, decline or complete"
                           : absl::StrCat("unknown referral subcommand \"", sub, "\""));
}

}  // namespace fieldsync::node
