// A cap on the long streams of the operator services (attack review 21,
// LOW 5): gRPC's health Watch and server reflection need no credential and
// are cheap to hold open, and neither is counted with the sync calls
// (CallsInProgress). At most kMaxOperatorStreams of them are open at once,
// over every connection; one past the cap is cancelled as it starts
// (CANCELLED: a monitor retries later), and the sync calls are not touched.
// A unary health Check is not a stream and is not counted.
#ifndef FIELDSYNC_HUB_OPERATOR_STREAMS_H_
#define FIELDSYNC_HUB_OPERATOR_STREAMS_H_

#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <memory>

namespace fieldsync::hub {

inline constexpr int kMaxOperatorStreams = 32;

// Makes an interceptor per call, counting the operator streams open.
class OperatorStreamsCap final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  OperatorStreamsCap() : open_(std::make_shared<std::atomic<int>>(0)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  std::shared_ptr<std::atomic<int>> open_;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_OPERATOR_STREAMS_H_
