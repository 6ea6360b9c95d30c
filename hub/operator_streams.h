// A cap on the long streams of the operator services (attack review 21,
// LOW 5): gRPC's health Watch and server reflection need no credential and
// are cheap to hold open, and neither is counted with the sync calls
// (CallsInProgress). At most kMaxOperatorStreams of them are open at once,
// over every connection, and at most kMaxOperatorStreamsAPeer from one peer
// (its address without the port, an IPv6 one's /64: hub/refusal_log.h's
// PeerAddress), so that one client holding streams open does not shut out
// every real monitor (attack review 22, LOW 4); one past either cap is
// cancelled as it starts (CANCELLED: a monitor retries later), and the sync
// calls are not touched. A unary health Check is not a stream and is not
// counted. Behind a proxy every monitor is the proxy's one peer: serve the
// health service to monitors directly, or count on the unary Check.
#ifndef FIELDSYNC_HUB_OPERATOR_STREAMS_H_
#define FIELDSYNC_HUB_OPERATOR_STREAMS_H_

#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <memory>

namespace fieldsync::hub {

inline constexpr int kMaxOperatorStreams = 32;
inline constexpr int kMaxOperatorStreamsAPeer = 4;

// The operator streams open, in all and a peer.
struct OpenOperatorStreams;

// Makes an interceptor per call, counting the operator streams open.
class OperatorStreamsCap final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  OperatorStreamsCap();
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  std::shared_ptr<OpenOperatorStreams> open_;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_OPERATOR_STREAMS_H_
