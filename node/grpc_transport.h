// The sync protocol over gRPC and TLS, as a node calls the hub: one
// channel of its own, a deadline on every call, the node's credential in
// the call's metadata as a proof bound to the connection's certificate
// (node/call_proof.h; a hub that checks none gets nothing more), and a
// failed link explained in words a user can act on. Implements
// sync::Transport (sync-core/sync/transport.h).
#ifndef FIELDSYNC_NODE_GRPC_TRANSPORT_H_
#define FIELDSYNC_NODE_GRPC_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "base/tuning.h"
#include "sync/transport.h"

namespace fieldsync::node {

struct ClientOptions {
  // HOST:PORT. SyncClient::Create also takes several, comma-separated, of
  // one hub (node/hub_links.h); GrpcTransport takes one.
  std::string address;
  std::string ca_file;
  bool insecure = false;
  int64_t call_timeout_millis = tuning::kCallTimeoutMillis;
  int64_t pull_timeout_millis = tuning::kPullTimeoutMillis;
  // Keepalive pings (a link gone silent fails after at most their sum).
  int64_t keepalive_time_millis = tuning::kNodeKeepaliveTimeMillis;
  int64_t keepalive_timeout_millis = tuning::kNodeKeepaliveTimeoutMillis;
  // A connection and its TLS handshake not done by then fail the call.
  int64_t connect_timeout_millis = tuning::kNodeConnectTimeoutMillis;
  uint32_t pull_batch = 0;  // 0: the hub's default
  uint32_t push_batch = tuning::kPushCommitsPerCall;
  // gzip on requests (off: tests that read what goes over the wire).
  bool compress = true;
  // The hub's device id as enrolment recorded it (hub.conf), as text; empty
  // before enrolment. With several addresses, one whose Hello names another
  // hub is passed over (node/hub_links.h).
  std::string hub_id;
};

// Whether the words of a call that failed INTERNAL or UNKNOWN say that the
// link broke under it rather than that the hub answered so: gRPC gives
// those codes for a stream reset halfway ("Received RST_STREAM with error
// code 2", "Stream removed"), a socket closed or reset, a GOAWAY, bytes that
// are not HTTP/2. Such a failure is reported as UNAVAILABLE ("the link to
// the hub broke"), which is retried; the hub's own INTERNAL and UNKNOWN
// answers are not (sync/retry.h).
bool SaysTheLinkBroke(std::string_view grpc_message);
// Whether a call that failed INTERNAL or UNKNOWN failed because the link
// broke: its words say so, or the hub did not mark it as its own answer
// (wire::kHubErrorDetails; a hub of the build before the mark marks none,
// and its errors are retried as they were then). Words gRPC may use for a
// cut that SaysTheLinkBroke does not know are thus still a broken link.
bool LinkBroke(const grpc::Status& g);

class GrpcTransport final : public sync::Transport {
 public:
  // INVALID_ARGUMENT for insecure off loopback; FAILED_PRECONDITION for an
  // unreadable CA file. Connecting is lazy: errors show at the first call.
  static absl::StatusOr<std::unique_ptr<GrpcTransport>> Create(const ClientOptions& options);
  ~GrpcTransport() override;

  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& req) override;
  absl::StatusOr<sync::EnrollReply> Enroll(const sync::EnrollRequest& req) override;
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override;
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override;
  // A fresh channel. After a connection broke during its TLS handshake,
  // gRPC 1.51's channel was seen to never try again (calls failed at once,
  // no new connection for as long as we waited): a failed pass therefore
  // drops its channel and the next pass dials anew.
  void Reset() override;
  // While *stop is true (SIGTERM: the daemon and `fieldnode sync`), the
  // call under way is cancelled within kDaemonStopPollMillis and fails
  // CANCELLED. Null: calls run to their end. Set around a pass.
  void SetStop(const std::atomic<bool>* stop);

  class Impl;

 private:
  explicit GrpcTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_GRPC_TRANSPORT_H_
