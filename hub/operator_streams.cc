#include "hub/operator_streams.h"

#include <grpcpp/server_context.h>

#include <string_view>

namespace fieldsync::hub {
namespace {

bool IsOperatorStream(std::string_view method) {
  return method == "/grpc.health.v1.Health/Watch" ||
         method == "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo" ||
         method == "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
}

// Counts its stream from creation to the call's end (gRPC destroys a
// call's interceptors with the call); cancels it if it is one too many.
class Counted final : public grpc::experimental::Interceptor {
 public:
  Counted(grpc::experimental::ServerRpcInfo* info, std::shared_ptr<std::atomic<int>> open)
      : info_(info), open_(std::move(open)) {
    over_ = open_->fetch_add(1) >= kMaxOperatorStreams;
  }
  ~Counted() override { open_->fetch_sub(1); }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (over_ && methods->QueryInterceptionHookPoint(
                     grpc::experimental::InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      info_->server_context()->TryCancel();
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  std::shared_ptr<std::atomic<int>> open_;
  bool over_ = false;
};

}  // namespace

grpc::experimental::Interceptor* OperatorStreamsCap::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  if (info == nullptr || info->method() == nullptr || !IsOperatorStream(info->method())) {
    return nullptr;
  }
  return new Counted(info, open_);
}

}  // namespace fieldsync::hub
