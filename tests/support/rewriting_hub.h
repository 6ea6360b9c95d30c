// A hub that runs other code on its pull stream: the real hub, each pull
// message rewritten before the node takes it (attack tests).
#ifndef FIELDSYNC_TESTS_SUPPORT_REWRITING_HUB_H_
#define FIELDSYNC_TESTS_SUPPORT_REWRITING_HUB_H_

#include <functional>
#include <utility>

#include "sync/forwarding_transport.h"

namespace fieldsync::testing {

// The real hub, with each pull message passed through `rewrite` first (a
// hub running other code). `rewrite` returns false to cut the connection
// after the message it was given (which is delivered).
class RewritingHub : public sync::ForwardingTransport {
 public:
  RewritingHub(sync::Transport& real, std::function<bool(sync::PullChunk&)> rewrite)
      : ForwardingTransport(real), rewrite_(std::move(rewrite)) {}
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override {
    return ForwardingTransport::Pull(req, [&](sync::PullChunk& c) -> absl::Status {
      const bool go_on = rewrite_(c);
      absl::Status s = on_chunk(c);
      if (!s.ok()) return s;
      return go_on ? absl::OkStatus() : absl::UnavailableError("the network cut the pull");
    });
  }

 private:
  std::function<bool(sync::PullChunk&)> rewrite_;
};

// The real hub, with each push reply passed through `rewrite` before the
// node takes it (a hub that lies about what it did with a push).
class RewritingPushHub : public sync::ForwardingTransport {
 public:
  RewritingPushHub(sync::Transport& real,
                   std::function<void(const sync::PushRequest&, sync::PushOutcome&)> rewrite)
      : ForwardingTransport(real), rewrite_(std::move(rewrite)) {}
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    absl::StatusOr<sync::PushOutcome> out = ForwardingTransport::Push(req);
    if (out.ok()) rewrite_(req, *out);
    return out;
  }

 private:
  std::function<void(const sync::PushRequest&, sync::PushOutcome&)> rewrite_;
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_REWRITING_HUB_H_
