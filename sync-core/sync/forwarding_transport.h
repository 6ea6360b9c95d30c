// A transport that hands every call on to another transport: the base of
// the transports that change a few calls of a real one (a test's lying or
// older hub, a link that cuts, the harness's link to a hub served in the
// process). A subclass overrides only the calls it changes and calls the
// base's (ForwardingTransport::Push ...) or next() for the rest.
#ifndef FIELDSYNC_SYNC_FORWARDING_TRANSPORT_H_
#define FIELDSYNC_SYNC_FORWARDING_TRANSPORT_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sync/transport.h"

namespace fieldsync::sync {

class ForwardingTransport : public Transport {
 public:
  // Every call goes to `next`, which outlives this transport.
  explicit ForwardingTransport(Transport& next) : next_(&next) {}

  absl::StatusOr<HelloReply> Hello(const HelloRequest& req) override;
  absl::StatusOr<EnrollReply> Enroll(const EnrollRequest& req) override;
  absl::StatusOr<PushOutcome> Push(const PushRequest& req) override;
  absl::Status Pull(const PullRequest& req,
                    const std::function<absl::Status(PullChunk&)>& on_chunk) override;
  // Passed on too: the transport behind may hold connections.
  void Reset() override;

 protected:
  // For a subclass that finds where calls go at each call (Next()).
  ForwardingTransport() = default;

  // Where a call goes. An error is the call's answer (e.g. UNAVAILABLE:
  // the hub behind is stopped); Reset() then does nothing.
  virtual absl::StatusOr<Transport*> Next() const;

 private:
  Transport* next_ = nullptr;
};

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_FORWARDING_TRANSPORT_H_
