// A link that loses the hub's answer to one push: the push reaches the hub
// and is stored or refused there, the laptop gets UNAVAILABLE instead (the
// link cut after the hub answered), and its next pass pushes it again.
#ifndef FIELDSYNC_TESTS_SUPPORT_ANSWER_LOST_ONCE_H_
#define FIELDSYNC_TESTS_SUPPORT_ANSWER_LOST_ONCE_H_

#include "sync/forwarding_transport.h"

namespace fieldsync::testing {

// The hub's answer to the first push that carries commits lost.
class AnswerLostOnce : public sync::ForwardingTransport {
 public:
  explicit AnswerLostOnce(sync::Transport& real) : ForwardingTransport(real) {}
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    absl::StatusOr<sync::PushOutcome> out = ForwardingTransport::Push(req);
    if (lost_ || req.commits.empty()) return out;
    lost_ = true;
    return absl::UnavailableError("the link was cut before the hub's answer");
  }
  bool lost() const { return lost_; }

 private:
  bool lost_ = false;
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_ANSWER_LOST_ONCE_H_
