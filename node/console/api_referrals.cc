// The routes of consents and referrals (docs/CONSOLE.md, "Routes"):
//   POST /api/consent {ref, scope, org, given_by}     recorded, given now
//   POST /api/withdraw {id}                           a consent withdrawn
//   GET  /api/referrals                               incoming, outgoing, seen
//   POST /api/refer {ref, to_office | to_org, reason, notes, service}
//   POST /api/respond {id, response, reason}          accept, decline, complete
// Each over the node library's call of the fieldnode command (consent add,
// consent withdraw, referral list, send, accept, decline, complete), with
// its validation. A referral no consent covers answers 409 err.no_consent,
// which the page says in its own words, then the library's.
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "node/console/api.h"
#include "node/ops/consents.h"
#include "node/ops/referrals.h"

namespace fieldsync::node::console {
namespace {

// The first field of `keys` in `in` that is not text, as an error reply
// naming it; the texts, NFC, in `out`.
std::optional<ApiReply> Texts(const Json& in, std::initializer_list<const char*> keys,
                              std::map<std::string, std::string>* out) {
  for (const char* k : keys) {
    auto v = TextOf(in, k);
    if (!v.ok()) {
      ApiReply e = ErrorReply(v.status(), false);
      e.body["field"] = k;
      return e;
    }
    (*out)[k] = *std::move(v);
  }
  return std::nullopt;
}

}  // namespace

ApiReply Api::AddConsent(ConsoleOffice& o, const ApiRequest& r) {
  const Json in = BodyObject(r);
  if (in.is_discarded()) return ErrorKey(400, "err.invalid", "not a JSON object");
  std::map<std::string, std::string> t;
  if (auto e = Texts(in, {"ref", "scope", "org", "given_by"}, &t)) return *e;
  if (auto e = NeedsKeys(o, "recording a consent")) return *e;
  ops::NewConsent c{t["ref"], t["scope"], t["org"], std::nullopt};
  if (!t["given_by"].empty()) c.given_by = t["given_by"];
  auto done = ops::AddConsent(*o.office, c);
  if (!done.ok()) {
    ApiReply e = ErrorReply(done.status(), false);
    // The form's field the library's words are about ("--org" before
    // "scope": the organisation share_with_org needs names both).
    const std::string m(done.status().message());
    for (const char* f : {"--org", "given_by", "scope"}) {
      if (m.find(f) != std::string::npos) {
        e.body["field"] = f[0] == '-' ? "org" : f;
        break;
      }
    }
    return e;
  }
  ApiReply out;
  out.body = {{"id", done->id.ToString()}, {"case_code", done->case_code},
              {"scope", done->scope}};
  return out;
}

ApiReply Api::WithdrawConsent(ConsoleOffice& o, const ApiRequest& r) {
  const Json in = BodyObject(r);
  if (in.is_discarded()) return ErrorKey(400, "err.invalid", "not a JSON object");
  std::map<std::string, std::string> t;
  if (auto e = Texts(in, {"id"}, &t)) return *e;
  if (t["id"].empty()) return ErrorKey(400, "err.invalid", "id");
  if (auto e = NeedsKeys(o, "withdrawing a consent")) return *e;
  auto id = ops::WithdrawConsent(*o.office, t["id"]);
  if (!id.ok()) return ErrorReply(id.status(), false);
  ApiReply out;
  out.body = {{"id", id->ToString()}};
  return out;
}

ApiReply Api::Referrals(ConsoleOffice& o) {
  auto lines = ops::ListReferrals(*o.office);
  if (!lines.ok()) return ErrorReply(lines.status(), !o.keys->unlocked());
  Json in = Json::array(), out = Json::array(), seen = Json::array();
  for (const ops::ReferralLine& l : *lines) {
    // What this office may record of it: its own answer to a referral
    // addressed to it, or an agency's answer to one it sent there.
    const bool answers = l.direction == "in" || (l.direction == "out" && l.to_agency);
    Json actions = Json::array();
    if (answers && l.status == "sent") actions = {"accept", "decline"};
    if (answers && l.status == "accepted") actions = {"complete"};
    Json one = {{"id", l.id},         {"case_code", l.case_code}, {"from_office", l.from_office},
                {"to", l.to},         {"to_agency", l.to_agency}, {"status", l.status},
                {"sent_at", l.sent_at}, {"actions", actions}};
    (l.direction == "in" ? in : l.direction == "out" ? out : seen).push_back(std::move(one));
  }
  ApiReply reply;
  reply.body = {{"incoming", in}, {"outgoing", out}, {"seen", seen}};
  return reply;
}

ApiReply Api::Refer(ConsoleOffice& o, const ApiRequest& r) {
  const Json in = BodyObject(r);
  if (in.is_discarded()) return ErrorKey(400, "err.invalid", "not a JSON object");
  std::map<std::string, std::string> t;
  if (auto e = Texts(in, {"ref", "to_office", "to_org", "reason", "notes", "service"}, &t)) {
    return *e;
  }
  if (auto e = NeedsKeys(o, "sending a referral")) return *e;
  ops::NewReferral n;
  n.case_ref = t["ref"];
  n.to_office = t["to_office"];
  n.to_org = t["to_org"];
  n.reason = t["reason"];
  if (!t["notes"].empty()) n.notes = t["notes"];
  n.service = t["service"];
  auto sent = ops::SendReferral(*o.office, n);
  if (!sent.ok()) {
    if (ops::IsNoConsent(sent.status())) {
      ApiReply e = ErrorKey(409, "err.no_consent", sent.status());
      e.body["field"] = "consent";
      return e;
    }
    ApiReply e = ErrorReply(sent.status(), false);
    if (n.reason.empty()) {
      e.body["field"] = "reason";
    } else if (sent.status().code() == absl::StatusCode::kNotFound && !n.to_office.empty()) {
      e.body["field"] = "to_office";
    }
    return e;
  }
  ApiReply out;
  out.body = {{"id", sent->id.ToString()}, {"case_code", sent->case_code}, {"to", sent->to},
              {"receiver_waits_for_members", sent->receiver_waits_for_members}};
  return out;
}

ApiReply Api::Respond(ConsoleOffice& o, const ApiRequest& r) {
  const Json in = BodyObject(r);
  if (in.is_discarded()) return ErrorKey(400, "err.invalid", "not a JSON object");
  std::map<std::string, std::string> t;
  if (auto e = Texts(in, {"id", "response", "reason"}, &t)) return *e;
  const std::string& what = t["response"];
  if (t["id"].empty()) return ErrorKey(400, "err.invalid", "id");
  if (what != "accept" && what != "decline" && what != "complete") {
    return ErrorKey(400, "err.invalid", "response is accept, decline or complete");
  }
  if (auto e = NeedsKeys(o, "answering a referral")) return *e;
  const ops::Response response = what == "accept"    ? ops::Response::kAccept
                                 : what == "decline" ? ops::Response::kDecline
                                                     : ops::Response::kComplete;
  auto id = ops::RespondToReferral(*o.office, {t["id"], response, t["reason"]});
  if (!id.ok()) {
    ApiReply e = ErrorReply(id.status(), false);
    if (response == ops::Response::kDecline && t["reason"].empty()) e.body["field"] = "reason";
    return e;
  }
  ApiReply out;
  out.body = {{"id", id->ToString()}, {"response", what}};
  return out;
}

}  // namespace fieldsync::node::console
