// The dispatcher of /api/ and the routes of the keys: state, unlock, lock.
#include "node/console/api.h"

#include <sodium.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "base/message.h"
#include "store/store_messages.h"
#include "text/text.h"

namespace fieldsync::node::console {

ApiReply ErrorKey(int http, const std::string& key, const std::string& detail) {
  ApiReply r;
  r.status = http;
  r.body = {{"error", key}};
  if (!detail.empty()) r.body["detail"] = detail;
  return r;
}

Json MessageJson(const Message& m) {
  Json params = Json::object();
  for (const auto& [name, value] : m.params) params[name] = value;
  return {{"key", m.key}, {"params", std::move(params)}};
}

Json MessageJson(const absl::Status& s) {
  std::optional<Message> m = MessageOf(s);
  return m ? MessageJson(*m) : Json();
}

ApiReply ErrorKey(int http, const std::string& key, const absl::Status& s) {
  ApiReply r = ErrorKey(http, key, std::string(s.message()));
  Json m = MessageJson(s);
  if (!m.is_null()) r.body["message"] = std::move(m);
  return r;
}

ApiReply ErrorReply(const absl::Status& s, bool locked) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return ErrorKey(400, "err.invalid", s);
    case absl::StatusCode::kNotFound:
      return ErrorKey(404, "err.not_found", s);
    case absl::StatusCode::kPermissionDenied:
      return ErrorKey(403, "err.permission", s);
    case absl::StatusCode::kFailedPrecondition:
      return locked ? ErrorKey(423, "err.locked", s) : ErrorKey(409, "err.refused", s);
    // The store's own (store/store_messages.h), never a program error: the
    // database held by another fieldsync process (the daemon writing), a
    // disk error, a full disk, a damaged file, a write of what is there.
    case absl::StatusCode::kUnavailable: {
      const std::optional<Message> m = MessageOf(s);
      const std::string key = m ? m->key : "";
      return ErrorKey(503,
                      key == kMsgStoreBusy                                    ? "err.busy"
                      : key == kMsgStoreIo || key == kMsgStoreCommitUnsure ? "err.disk_error"
                                                                              : "err.unavailable",
                      s);
    }
    case absl::StatusCode::kResourceExhausted: {
      // SQLITE_FULL, before or at COMMIT; else (no free case code) the
      // program's.
      const std::optional<Message> m = MessageOf(s);
      return m && (m->key == kMsgStoreDiskFull || m->key == kMsgStoreCommitUnsure)
                 ? ErrorKey(507, "err.disk_full", s)
                 : ErrorKey(500, "err.internal", s);
    }
    case absl::StatusCode::kDataLoss:
      return ErrorKey(500, "err.damaged", s);
    case absl::StatusCode::kAlreadyExists:
      return ErrorKey(409, "err.refused", s);
    default:
      return ErrorKey(500, "err.internal", s);
  }
}

Json BodyObject(const ApiRequest& r) {
  Json in = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!in.is_discarded() && !in.is_object()) return Json(Json::value_t::discarded);
  return in;
}

absl::StatusOr<std::string> TextOf(const Json& in, const char* key) {
  auto it = in.find(key);
  if (it == in.end() || it->is_null()) return std::string();
  if (!it->is_string()) return absl::InvalidArgumentError(absl::StrCat(key, " must be text"));
  return NormalizeInput(it->get<std::string>(), key);
}

absl::StatusOr<bool> FlagOf(const Json& in, const char* key) {
  auto it = in.find(key);
  if (it == in.end()) return false;
  if (!it->is_boolean()) return absl::InvalidArgumentError(absl::StrCat(key, " must be true or false"));
  return it->get<bool>();
}

std::optional<ApiReply> NeedsKeys(const ConsoleOffice& o, std::string_view what) {
  absl::Status s = o.office->RequireUnlocked(what);
  if (s.ok()) return std::nullopt;
  return ErrorKey(423, "err.locked", s);
}

ApiReply Api::State() {
  ApiReply r;
  const auto until = keys_.Until();
  r.body = {{"unlocked", until.has_value()},
            {"until", until.value_or(0)},
            {"idle_lock_millis", keys_.idle_millis()}};
  return r;
}

ApiReply Api::Handle(const ApiRequest& r) {
  // Polled by the Sync page while a pass runs: not activity (an open tab
  // would never lock), and not held up by a request under way.
  if (r.path == "sync" && r.method == "GET") return SyncState();
  std::lock_guard<std::mutex> l(mu_);
  // Never idle while a request runs; the idle time counts from the end of
  // the page's last request (an unlock takes a second of Argon2id).
  struct Busy {
    KeyWatch& k;
    explicit Busy(KeyWatch& w) : k(w) { k.Begin(); }
    ~Busy() { k.End(); }
  } busy(keys_);
  if (r.path == "state" && r.method == "GET") return State();
  if (r.path == "lock" && r.method == "POST") {
    keys_.Lock();
    return State();
  }
  if (r.path == "unlock" && r.method == "POST") {
    Json in = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (in.is_discarded() || !in.is_object() || !in.contains("passphrase") ||
        !in["passphrase"].is_string()) {
      return ErrorKey(400, "err.invalid", "passphrase");
    }
    // One copy, then the parsed one wiped (the caller wipes the body;
    // Unlock wipes `pass`). Not wiped: the JSON lexer's token buffer, and
    // httplib's reading buffers (docs/CONSOLE.md).
    std::string& parsed = in["passphrase"].get_ref<std::string&>();
    std::string pass = parsed;
    sodium_memzero(parsed.data(), parsed.size());
    in = Json();
    absl::Status s = keys_.Unlock(std::move(pass));
    if (s.code() == absl::StatusCode::kUnauthenticated) return ErrorKey(403, "err.passphrase");
    if (!s.ok()) return ErrorReply(s, false);
    return State();
  }
  auto o = OpenConsoleOffice(keys_, officer_);
  if (!o.ok()) return ErrorReply(o.status(), false);
  if (r.method == "GET") {
    if (r.path == "today") return Today(**o);
    if (r.path == "cases") return Cases(**o, r);
    if (r.path == "search") return Search(**o, r);
    if (r.path == "case") return CaseFile(**o, r);
    if (r.path == "referrals") return Referrals(**o);
    if (r.path == "devices") return Devices(**o);
    if (r.path == "conflicts") return Conflicts(**o);
    if (r.path == "setaside") return SetAside(**o);
    if (r.path == "report") return Report(**o, r);
    if (r.path == "directory") return DirectoryPage(**o, r);
  } else if (r.method == "POST") {
    if (r.path == "intake") return Intake(**o, r);
    if (r.path == "setfield") return SetField(**o, r);
    if (r.path == "close") return Close(**o, r);
    if (r.path == "consent") return AddConsent(**o, r);
    if (r.path == "withdraw") return WithdrawConsent(**o, r);
    if (r.path == "refer") return Refer(**o, r);
    if (r.path == "respond") return Respond(**o, r);
    if (r.path == "approve") return Approve(**o, r);
    if (r.path == "remove") return Remove(**o, r);
    if (r.path == "resolve") return ResolveConflict(**o, r);
    if (r.path == "setaside") return SetAsideAction(**o, r);
    if (r.path == "import") return Import(**o, r);
    if (r.path == "sync") return SyncStart(*std::move(o));
  }
  return ErrorKey(404, "err.not_found", absl::StrCat(r.method, " /api/", r.path));
}

}  // namespace fieldsync::node::console
