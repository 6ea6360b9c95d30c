// fieldhub serve: the sync service for the nodes (hub/help/serve.txt).
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "hub/commands/command.h"
#include "hub/commands/hub_file.h"
#include "hub/pg/backup.h"
#include "hub/refusal_log.h"
#include "hub/serve_log.h"
#include "hub/service.h"
#include "hub/store_health.h"
#include "proto/address.h"

namespace fieldsync::hub {
namespace {

// How often serving wakes to write summaries due and look at the store.
constexpr time_t kServeTickSeconds = 2;
// How long serve goes on after its file was found gone or replaced (the
// health check's FAILED_PRECONDITION) before it stops, so that a restart
// (systemd's Restart=on-failure) opens the file now at the path: long
// enough for an administrator's `mv` there and back, short enough that a
// process holding a file nobody will open again does not linger. Its sync
// calls are refused meanwhile (hub/store_gate.h).
constexpr time_t kServeStoreGoneSeconds = 20;

class Serve final : public Command {
 public:
  explicit Serve(ServeExtension extension) : Command("serve"), extension_(std::move(extension)) {}

  void Declare(CLI::App& app) override {
    DeclareDataDir(app);
    DeclareStore(app);
    app.add_option("--listen", options_.listen);
    app.add_option("--tls-cert", tls_cert_);
    app.add_option("--tls-key", tls_key_);
    app.add_option("--proof-cert", options_.proof_certs);
    app.add_flag("--refuse-bearer", options_.refuse_bearer);
    app.add_option("--port-file", port_file_);
    app.add_flag("--insecure", options_.insecure);
    app.add_flag("--verbose", options_.verbose);
    app.add_flag("--no-compression", no_compression_);
    if (extension_.declare) extension_.declare(app);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (!operands.empty()) return Usage(io, "serve takes no operands");
    const DataDir dir = HubDir();
    options_.tls_cert = tls_cert_.empty() ? dir.path + "/tls/hub.crt" : tls_cert_;
    options_.tls_key = tls_key_.empty() ? dir.path + "/tls/hub.key" : tls_key_;
    options_.compress = !no_compression_;
    // A port over 65535 would wrap around to another one: a wrong command
    // line (process attack 80).
    if (absl::StatusOr<wire::HostPort> hp = wire::ParseHostPort(options_.listen); !hp.ok()) {
      return Usage(io, absl::StrCat("--listen: ", hp.status().message()));
    }
    if (absl::Status s = CheckListen(options_); !s.ok()) return Fail(io, s);
    // Signals are taken by sigwait below; block them before gRPC starts its
    // threads so that none of those threads receives them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    // Held while serving: `fieldhub restore` does not replace hub.db under
    // a running hub, nor does a second hub serve the same file.
    // (No directory: opening the store says to run fieldhub init.)
    std::unique_ptr<ServeLock> lock;
    if (std::error_code ec; std::filesystem::is_directory(dir.path, ec)) {
      auto taken = ServeLock::Take(dir.path, "another fieldhub serve or a fieldhub restore is "
                                             "running on " + dir.path + "; nothing was started");
      if (!taken.ok()) return Fail(io, taken.status());
      lock = *std::move(taken);
    }
    // On PostgreSQL the serve lock (hub/pg/backup.h), held on a connection
    // of its own while serving: `fieldhub restore --store` refuses while
    // any hub process holds it.
    std::unique_ptr<pg::Connection> serve_lock;
    if (OnPostgres()) {
      auto held = pg::HoldServeLock(StoreTarget(), StoreLabel());
      if (!held.ok()) return Fail(io, held.status());
      serve_lock = *std::move(held);
    }
    // A damaged hub.db is not served: nodes would pull from it and push
    // into it, and tokens would be issued into it.
    // The one command besides `init` and `migrate` that brings a
    // PostgreSQL store's schema up to date (attack review 22, MED 5).
    auto store = OpenHubStore(FileCheck::kWhole, SchemaUpgrade::kMigrate);
    if (!store.ok()) return Fail(io, store.status());
    if (extension_.before_serving) {
      absl::Status s = extension_.before_serving(**store, io);
      if (!s.ok()) return Fail(io, s);
    }
    auto server = StartServer(options_, store->get());
    if (!server.ok()) return Fail(io, server.status());
    if (!port_file_.empty()) {
      std::ofstream(port_file_) << (*server)->port << "\n";
    }
    ServeLog(LogPriority::kNotice,
             absl::StrCat("serving ", StoreLabel(), " on port ", (*server)->port, " (",
                          options_.insecure ? "plain text, loopback only" : "TLS",
                          "); stop with Ctrl-C or SIGTERM"),
             io.err);
    // Woken now and then to write the refusal lines' summaries due
    // (hub/refusal_log.h) and to look at the store (health).
    // On PostgreSQL no file is the store: a hub.db left in the data
    // directory is not watched (attack review 22, LOW 7).
    StoreHealth health(store->get(), OnPostgres() ? std::string() : dir.ReplicaPath());
    bool serving = true;
    time_t gone_for = 0;
    int sig = 0;
    const timespec tick{kServeTickSeconds, 0};
    while ((sig = sigtimedwait(&set, nullptr, &tick)) < 0) {
      LogRefusalSummaries();
      const absl::Status s = health.Check();
      gone_for = absl::IsFailedPrecondition(s) ? gone_for + kServeTickSeconds : 0;
      if (gone_for >= kServeStoreGoneSeconds) {
        ServeLog(LogPriority::kError,
                 absl::StrCat(s.message(), " for ", gone_for,
                              " s: stopping, so that a restart serves the file now at the path"),
                 io.err);
        server->reset();
        LogRefusalSummaries(/*all=*/true);
        return kExitFailed;
      }
      if (s.ok() == serving) continue;
      serving = s.ok();
      (*server)->SetServing(serving);
      if (serving) {
        ServeLog(LogPriority::kNotice, "the store answers again (health: SERVING)", io.err);
      } else {
        ServeLog(LogPriority::kError, absl::StrCat(s.message(), " (health: NOT_SERVING)"), io.err);
      }
    }
    ServeLog(LogPriority::kNotice,
             absl::StrCat(sig == SIGTERM ? "SIGTERM" : "SIGINT",
                          " received, finishing calls in progress (health: NOT_SERVING)"),
             io.err);
    server->reset();
    LogRefusalSummaries(/*all=*/true);
    ServeLog(LogPriority::kNotice, "stopped", io.err);
    return kExitOk;
  }

 private:
  ServeExtension extension_;
  ServerOptions options_;
  std::string tls_cert_;
  std::string tls_key_;
  std::string port_file_;
  bool no_compression_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeServeCommand(ServeExtension extension) {
  return std::make_unique<Serve>(std::move(extension));
}

}  // namespace fieldsync::hub
