// A hub that claims it lost a laptop's commits and refuses one of them when
// it is sent again (a hub put back from a backup, or one lying about what
// it lost): the real hub, its Hello and push answers rewritten.
#ifndef FIELDSYNC_TESTS_SUPPORT_LYING_RESTORED_HUB_H_
#define FIELDSYNC_TESTS_SUPPORT_LYING_RESTORED_HUB_H_

#include <cstdint>

#include "change/commit_codec.h"
#include "sync/forwarding_transport.h"

namespace fieldsync::testing {

// Hello's `own` at 0, and commit `refuse` refused (ROW_COLLECTED) whenever
// it is pushed; `lying` off: everything passed on as the hub answered.
class LyingRestoredHub : public sync::ForwardingTransport {
 public:
  LyingRestoredHub(sync::Transport& real, uint64_t refuse)
      : ForwardingTransport(real), refuse_(refuse) {}
  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& req) override {
    absl::StatusOr<sync::HelloReply> out = ForwardingTransport::Hello(req);
    if (lying_ && out.ok() && out->own) {
      out->own->acknowledged_seq = 0;
      out->own->accounted_seq = 0;
    }
    return out;
  }
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    absl::StatusOr<sync::PushOutcome> out = ForwardingTransport::Push(req);
    if (!lying_ || !out.ok()) return out;
    for (const sync::PushedCommit& c : req.commits) {
      auto d = DecodeCommit(c.canonical);
      if (d.ok() && d->seq == refuse_) {
        out->refusals.push_back({refuse_, sync::RefusalCode::kRowCollected, "lost, then refused",
                                 0});
      }
    }
    return out;
  }
  void set_lying(bool l) { lying_ = l; }

 private:
  const uint64_t refuse_;
  bool lying_ = true;
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_LYING_RESTORED_HUB_H_
