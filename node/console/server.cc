#include "node/console/server.h"

#include <fcntl.h>
#include <httplib.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "console_assets.h"
#include "node/console/api.h"
#include "node/console/auth.h"
#include "node/console/keys.h"

namespace fieldsync::node::console {
namespace {

// Bodies: 8 MiB, for a register of some thousands of rows sent in base64
// to the Import page (docs/CONSOLE.md).
constexpr size_t kMaxBody = 8 << 20;

void Headers(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
}

void Reply(httplib::Response& res, const ApiReply& r) {
  res.status = r.status;
  res.set_content(JsonStored(r.body), "application/json; charset=utf-8");
}

const assets::Asset* FindAsset(std::string_view path) {
  for (const assets::Asset& a : assets::kAssets) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

}  // namespace

struct Server::Impl {
  Impl(const ServerOptions& o, std::string token)
      : keys(o.dir, o.idle_millis), api(keys, o.officer), gate(std::move(token)), dir(o.dir.path) {}

  httplib::Server http;
  KeyWatch keys;
  Api api;
  Gate gate;
  int port = 0;
  std::string address;
  std::mutex launch_mu;
  std::string launch_file;  // "" if none (guarded by launch_mu)
  std::string dir;

  void RemoveLaunchFile() {
    std::lock_guard<std::mutex> l(launch_mu);
    if (!launch_file.empty()) unlink(launch_file.c_str());
    launch_file.clear();
  }
  std::thread listener, idle;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;

  void Routes();
  void IdleLoop() {
    std::unique_lock<std::mutex> l(mu);
    while (!stopping) {
      cv.wait_for(l, std::chrono::milliseconds(500));
      if (!stopping) keys.LockIfIdle();
    }
  }
};

void Server::Impl::Routes() {
  http.set_payload_max_length(kMaxBody);
  // Every request: the Host names the console; a change comes from its
  // Origin; the API needs the session header (but for the exchange of the
  // token that gives it).
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    Headers(res);
    if (!gate.HostAllowed(req.get_header_value("Host"))) {
      res.status = 403;
      res.set_content("refused: the Host header does not name this console\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method != "GET" && req.method != "HEAD" &&
        !gate.OriginAllowed(req.get_header_value("Origin"))) {
      res.status = 403;
      res.set_content("refused: a change must come from the console's own page\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (absl::StartsWith(req.path, "/api/") && req.path != "/api/session" &&
        !gate.Valid(req.get_header_value(kSessionHeader))) {
      Reply(res, ErrorKey(401, "err.session"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // The page itself is the same for all (the app, no data): a page with
  // ?token= exchanges it (POST /api/session) and keeps the session in its
  // sessionStorage; without a session its API requests are refused.
  const assets::Asset* index = FindAsset("/index.html");
  http.Get("/", [index](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(index->body), std::string(index->type));
  });
  http.Post("/api/session", [this](const httplib::Request& req, httplib::Response& res) {
    Json in = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    std::optional<std::string> session;
    if (!in.is_discarded() && in.is_object() && in.contains("token") && in["token"].is_string()) {
      session = gate.Exchange(in["token"].get<std::string>());
    }
    if (!session) {
      Reply(res, ErrorKey(401, "err.session"));
      return;
    }
    RemoveLaunchFile();  // it led to a token that is spent
    ApiReply r;
    r.body = {{"session", *session}};
    Reply(res, r);
  });
  for (const assets::Asset& a : assets::kAssets) {
    if (a.path == "/index.html") continue;
    http.Get(std::string(a.path), [&a](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(a.body), std::string(a.type));
    });
  }
  auto api_route = [this](const httplib::Request& req, httplib::Response& res) {
    ApiRequest r;
    r.method = req.method;
    r.path = req.path.substr(5);
    for (const auto& [k, v] : req.params) r.query[k] = v;
    r.body = req.body;
    Reply(res, api.Handle(r));
    if (r.path == "unlock") {
      // The passphrase's copies this process owns: ours, and httplib's
      // request body (its object, handed to us as const).
      sodium_memzero(r.body.data(), r.body.size());
      std::string& body = const_cast<std::string&>(req.body);
      sodium_memzero(body.data(), body.size());
    }
  };
  http.Get(R"(/api/([a-z]+))", api_route);
  http.Post(R"(/api/([a-z]+))", api_route);
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  const std::string token = Gate::RandomHex(24);
  auto impl = std::make_unique<Impl>(options, token);
  int port = options.port;
  if (port == 0) {
    port = impl->http.bind_to_any_port("127.0.0.1");
  } else if (!impl->http.bind_to_port("127.0.0.1", port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on 127.0.0.1:", options.port, ": the port is taken or not allowed; give "
        "another with --port N, or leave it out to have one chosen"));
  }
  impl->port = port;
  impl->gate.SetPort(port);
  impl->address = absl::StrCat("http://127.0.0.1:", port, "/?token=", token);
  impl->Routes();
  Impl* i = impl.get();
  impl->listener = std::thread([i] { i->http.listen_after_bind(); });
  // Serving before Start returns (a Stop before the loop began would not
  // end it): the loop sets is_running at its first step.
  for (int n = 0; n < 5000 && !impl->http.is_running(); ++n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl->idle = std::thread([i] { i->IdleLoop(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const { return impl_->port; }
std::string Server::Address() const { return impl_->address; }

absl::StatusOr<std::string> Server::WriteLaunchFile() {
  const std::string path = impl_->dir + "/console-open.html";
  // The address is digits, letters and ":/?=." only: nothing to escape.
  const std::string page = absl::StrCat(
      "<!doctype html><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url=",
      impl_->address, "\"><title>fieldsync</title><p><a href=\"", impl_->address,
      "\">fieldsync</a></p>\n");
  std::lock_guard<std::mutex> l(impl_->launch_mu);
  unlink(path.c_str());  // one left by a console that was killed
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  const bool written = write(fd, page.data(), page.size()) == static_cast<ssize_t>(page.size());
  close(fd);
  if (!written) {
    unlink(path.c_str());
    return absl::FailedPreconditionError(absl::StrCat("cannot write ", path));
  }
  impl_->launch_file = path;
  return path;
}

void Server::Stop() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->http.stop();
  impl_->RemoveLaunchFile();
  if (impl_->listener.joinable()) impl_->listener.join();
  if (impl_->idle.joinable()) impl_->idle.join();
}

}  // namespace fieldsync::node::console
