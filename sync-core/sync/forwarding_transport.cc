#include "sync/forwarding_transport.h"

#include "base/status_macros.h"

namespace fieldsync::sync {

absl::StatusOr<HelloReply> ForwardingTransport::Hello(const HelloRequest& req) {
  FS_ASSIGN_OR_RETURN(Transport * next, Next());
  return next->Hello(req);
}

absl::StatusOr<EnrollReply> ForwardingTransport::Enroll(const EnrollRequest& req) {
  FS_ASSIGN_OR_RETURN(Transport * next, Next());
  return next->Enroll(req);
}

absl::StatusOr<PushOutcome> ForwardingTransport::Push(const PushRequest& req) {
  FS_ASSIGN_OR_RETURN(Transport * next, Next());
  return next->Push(req);
}

absl::Status ForwardingTransport::Pull(const PullRequest& req,
                                       const std::function<absl::Status(PullChunk&)>& on_chunk) {
  FS_ASSIGN_OR_RETURN(Transport * next, Next());
  return next->Pull(req, on_chunk);
}

void ForwardingTransport::Reset() {
  absl::StatusOr<Transport*> next = Next();
  if (next.ok()) (*next)->Reset();
}

absl::StatusOr<Transport*> ForwardingTransport::Next() const {
  if (next_ == nullptr) return absl::InternalError("a forwarding transport with nowhere to go");
  return next_;
}

}  // namespace fieldsync::sync
