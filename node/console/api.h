// The console's JSON API under /api/ (docs/CONSOLE.md, "Routes"): requests
// already admitted by the server (Host, Origin, session header: auth.h)
// handled one at a time over the node library (node/ops/), the same calls
// as the fieldnode commands. An error answers {"error": KEY, "detail":
// the library's words, "message": {key, params}}, KEY from the message
// catalogue (assets/messages.js), the message's key from its library part
// (assets/messages_library.js): the page says it in Vietnamese or English,
// never the library's English words when there is a key; nothing was
// changed.
#ifndef FIELDSYNC_NODE_CONSOLE_API_H_
#define FIELDSYNC_NODE_CONSOLE_API_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/message.h"
#include "base/json.h"
#include "node/console/keys.h"
#include "node/console/sync_runner.h"

namespace fieldsync::node::console {

struct ApiRequest {
  std::string method;  // GET, POST
  std::string path;    // after /api/: "today", "case"
  std::map<std::string, std::string> query;
  std::string body;    // JSON for POST
  std::string Param(const std::string& k) const {
    auto it = query.find(k);
    return it == query.end() ? "" : it->second;
  }
};
struct ApiReply {
  int status = 200;
  Json body = Json::object();
};

// {"error": key, "detail": status's message, "message": its key and
// parameters} with the HTTP status of its kind: 400 a wrong value, 404 not
// found, 409 refused (or already there), 403 another office's, 423 locked,
// 503 the database busy (err.busy), the disk failing (err.disk_error) or
// another unavailability (err.unavailable),
// 507 the disk full (err.disk_full), 500 a damaged file (err.damaged) or
// otherwise (err.internal).
ApiReply ErrorReply(const absl::Status& s, bool locked);
ApiReply ErrorKey(int http, const std::string& key, const std::string& detail = "");
// ErrorKey with `s`'s message as detail, and its key and parameters.
ApiReply ErrorKey(int http, const std::string& key, const absl::Status& s);
// The key and parameters the library attached to `s` (base/message.h), as
// the page renders them from its catalogue: {"key": K, "params": {NAME:
// VALUE}}; null if none.
Json MessageJson(const absl::Status& s);
Json MessageJson(const Message& m);

// A POST's body as a JSON object; a discarded value if it is not one.
Json BodyObject(const ApiRequest& r);
// in[key] as text normalised to NFC ("" if absent or null); INVALID_ARGUMENT
// if it is not text or not valid UTF-8.
absl::StatusOr<std::string> TextOf(const Json& in, const char* key);
// in[key] as a flag: false if absent; INVALID_ARGUMENT if it is anything but
// a JSON boolean (text, a number, null, an object: never guessed).
absl::StatusOr<bool> FlagOf(const Json& in, const char* key);
// 423 err.locked if the keys are locked (every change is signed), saying
// what needed them; nullopt if unlocked.
std::optional<ApiReply> NeedsKeys(const ConsoleOffice& o, std::string_view what);

class Api {
 public:
  Api(KeyWatch& keys, std::string officer) : keys_(keys), officer_(std::move(officer)) {}
  ApiReply Handle(const ApiRequest& r);

 private:
  ApiReply State();
  // Each page's routes (api_today.cc, api_cases.cc).
  ApiReply Today(ConsoleOffice& o);
  ApiReply Cases(ConsoleOffice& o, const ApiRequest& r);
  ApiReply Search(ConsoleOffice& o, const ApiRequest& r);
  ApiReply Intake(ConsoleOffice& o, const ApiRequest& r);
  ApiReply CaseFile(ConsoleOffice& o, const ApiRequest& r);
  ApiReply SetField(ConsoleOffice& o, const ApiRequest& r);
  ApiReply Close(ConsoleOffice& o, const ApiRequest& r);
  // Consents and referrals (api_referrals.cc): the case file's actions and
  // the Referrals page.
  ApiReply AddConsent(ConsoleOffice& o, const ApiRequest& r);
  ApiReply WithdrawConsent(ConsoleOffice& o, const ApiRequest& r);
  ApiReply Referrals(ConsoleOffice& o);
  ApiReply Refer(ConsoleOffice& o, const ApiRequest& r);
  ApiReply Respond(ConsoleOffice& o, const ApiRequest& r);
  // The office's devices (api_devices.cc): the list with the codes to
  // compare, approving with the code the other laptop shows, removing.
  ApiReply Devices(ConsoleOffice& o);
  ApiReply Approve(ConsoleOffice& o, const ApiRequest& r);
  ApiReply Remove(ConsoleOffice& o, const ApiRequest& r);
  // The Conflicts page (api_conflicts.cc): both values of each open
  // conflict; one resolved. The Set-aside page (api_set_aside.cc): the
  // changes the hub refused; one kept or discarded.
  ApiReply Conflicts(ConsoleOffice& o);
  ApiReply ResolveConflict(ConsoleOffice& o, const ApiRequest& r);
  ApiReply SetAside(ConsoleOffice& o);
  ApiReply SetAsideAction(ConsoleOffice& o, const ApiRequest& r);
  // The Directories page (api_directory.cc): organisations, contacts,
  // services, restricted fields masked as the CLI masks them.
  ApiReply DirectoryPage(ConsoleOffice& o, const ApiRequest& r);
  // The Report page (api_report.cc): the anonymised figures.
  ApiReply Report(ConsoleOffice& o, const ApiRequest& r);
  // The Import page (api_import.cc): a register's dry run, then its import.
  ApiReply Import(ConsoleOffice& o, const ApiRequest& r);
  // The Sync page (api_sync.cc): a pass started in the background; its
  // progress, polled without counting as activity.
  ApiReply SyncStart(std::unique_ptr<ConsoleOffice> o);
  ApiReply SyncState();

  KeyWatch& keys_;
  const std::string officer_;
  std::mutex mu_;  // one request at a time: one social worker, one replica
  SyncRunner sync_{keys_};  // destroyed first: a pass under way stops
};

// Cases per page of the case list.
inline constexpr size_t kCasesPerPage = 20;

}  // namespace fieldsync::node::console

#endif  // FIELDSYNC_NODE_CONSOLE_API_H_
