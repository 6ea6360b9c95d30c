#include "hub/operator_streams.h"

#include <grpcpp/server_context.h>

#include <map>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "hub/refusal_log.h"

namespace fieldsync::hub {

struct OpenOperatorStreams {
  std::atomic<int> total{0};

  // Counts one more stream of `peer`, unless it has its cap open.
  bool Take(const std::string& peer) {
    absl::MutexLock l(&mu);
    int& n = per_peer[peer];
    if (n >= kMaxOperatorStreamsAPeer) return false;
    ++n;
    return true;
  }
  void Give(const std::string& peer) {
    absl::MutexLock l(&mu);
    auto it = per_peer.find(peer);
    if (it != per_peer.end() && --it->second <= 0) per_peer.erase(it);
  }

  absl::Mutex mu;
  std::map<std::string, int> per_peer ABSL_GUARDED_BY(mu);
};

OperatorStreamsCap::OperatorStreamsCap() : open_(std::make_shared<OpenOperatorStreams>()) {}

namespace {

bool IsOperatorStream(std::string_view method) {
  return method == "/grpc.health.v1.Health/Watch" ||
         method == "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo" ||
         method == "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
}

// Counts its stream from creation to the call's end (gRPC destroys a
// call's interceptors with the call), and its peer's from its metadata (the
// call's peer is known then); cancels it if it is one too many.
class Counted final : public grpc::experimental::Interceptor {
 public:
  Counted(grpc::experimental::ServerRpcInfo* info, std::shared_ptr<OpenOperatorStreams> open)
      : info_(info), open_(std::move(open)) {
    over_ = open_->total.fetch_add(1) >= kMaxOperatorStreams;
  }
  ~Counted() override {
    open_->total.fetch_sub(1);
    if (!peer_.empty()) open_->Give(peer_);
  }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      if (!over_) {
        std::string peer = PeerAddress(info_->server_context()->peer());
        if (open_->Take(peer)) {
          peer_ = std::move(peer);
        } else {
          over_ = true;
        }
      }
      if (over_) info_->server_context()->TryCancel();
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  std::shared_ptr<OpenOperatorStreams> open_;
  bool over_ = false;
  std::string peer_;  // counted in open_'s peers while not empty
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
