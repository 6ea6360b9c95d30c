// What carries the sync protocol between a node and a hub. The node's
// engine (sync/pass.h) talks only to this interface; node/grpc_transport.h
// implements it over gRPC and TLS, sync/loopback.h in process (for the
// simulation), and the hub's side (hub/sync_handler.h) answers it, so that
// a loopback transport can hand a node's requests straight to a hub.
//
// Errors are absl::Status values: the hub's refusals keep the code it gave
// (docs/PROTOCOL.md, "Errors"); a link that failed is UNAVAILABLE or
// DEADLINE_EXCEEDED with a message saying what to check. A transport does
// not retry (sync/retry.h decides that).
#ifndef FIELDSYNC_SYNC_TRANSPORT_H_
#define FIELDSYNC_SYNC_TRANSPORT_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sync/messages.h"

namespace fieldsync::sync {

class Transport {
 public:
  virtual ~Transport() = default;

  virtual absl::StatusOr<HelloReply> Hello(const HelloRequest& req) = 0;
  virtual absl::StatusOr<EnrollReply> Enroll(const EnrollRequest& req) = 0;
  // The hub stores all of a push or nothing of it.
  virtual absl::StatusOr<PushOutcome> Push(const PushRequest& req) = 0;
  // Streams the pull's messages to `on_chunk` in order, each once. An
  // error from `on_chunk` ends the call and is returned as it is; the
  // chunk may be consumed (moved from) by it.
  virtual absl::Status Pull(const PullRequest& req,
                            const std::function<absl::Status(PullChunk&)>& on_chunk) = 0;
  // After a failed pass: forget connections so that the next call dials
  // anew (gRPC's channel may never retry a broken TLS handshake).
  virtual void Reset() {}
};

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_TRANSPORT_H_
