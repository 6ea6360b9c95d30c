// The hub's gRPC service (fieldsync.v1.Sync) over a HubStore, and the server
// that runs it. The service checks the protocol version and the node's
// credential on every call, then hands the work to the store.
#ifndef FIELDSYNC_HUB_SERVICE_H_
#define FIELDSYNC_HUB_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clock/clock_source.h"
#include "hub/store.h"

namespace grpc {
class Server;
}

namespace fieldsync::hub {

struct ServerOptions {
  // host:port; port 0 picks a free one (tests use 127.0.0.1:0).
  std::string listen = "0.0.0.0:7443";
  // PEM files of the hub's TLS certificate (with its chain) and key.
  std::string tls_cert;
  std::string tls_key;
  // Plain-text gRPC: refused unless `listen` is a loopback address.
  bool insecure = false;
  // PEM certificates (the first of each file) of proxies that end TLS in
  // front of the hub: a node's credential proof made over one of them is
  // taken as over the hub's own (`serve --proof-cert`, repeatable;
  // docs/PROTOCOL.md, "Credentials").
  std::vector<std::string> proof_certs;
  // No call is authenticated by a bearer (`serve --refuse-bearer`: a fleet
  // whose laptops all send proofs).
  bool refuse_bearer = false;
  ClockSource* clock = nullptr;
  // Logs one line per call to stderr.
  bool verbose = false;
  // gzip on responses (off: tests that read what goes over the wire).
  bool compress = true;
};

// How many calls the service is handling; shutdown waits for none.
class CallsInProgress;
class StoreGate;

struct RunningServer {
  std::shared_ptr<void> service;  // outlives the server (declared first)
  std::shared_ptr<CallsInProgress> calls;
  std::shared_ptr<StoreGate> gate;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  // Shuts the server down once no call is in progress, waiting up to
  // tuning::kHubShutdownGraceMillis for calls to finish; calls still running
  // then are cancelled. Connections without a call do not hold it up.
  ~RunningServer();
  // What health checks say of the hub ("") and of fieldsync.v1.Sync, and
  // whether sync calls are served: serve sets NOT_SERVING while its store
  // fails (docs/OPERATING.md), and every sync call is then answered
  // UNAVAILABLE before it reads the store (hub/store_gate.h).
  void SetServing(bool serving);
};

// The listen address and --insecure as StartServer judges them: one line for
// a wrong one (checked before anything else is done).
absl::Status CheckListen(const ServerOptions& options);

// Starts serving `store` (which must outlive the server). INVALID_ARGUMENT
// for a bad address or insecure off loopback; FAILED_PRECONDITION for
// unreadable certificates; UNAVAILABLE if the address cannot be bound.
absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(const ServerOptions& options,
                                                           HubStore* store);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_SERVICE_H_
