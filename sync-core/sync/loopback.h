// An in-process transport: a node's requests handed straight to a hub's
// side of the protocol (hub/sync_handler.h implements Transport too), with
// the faults of a bad link drawn from a seed: calls lost before the hub
// saw them, answers lost after it acted, pull streams cut halfway, pushes
// delivered twice or replayed late. The same seed gives the same faults,
// call for call.
// Used by the deterministic simulation (tests/sim/) and loopback tests.
#ifndef FIELDSYNC_SYNC_LOOPBACK_H_
#define FIELDSYNC_SYNC_LOOPBACK_H_

#include <cstdint>
#include <random>
#include <vector>

#include "sync/transport.h"

namespace fieldsync::sync {

// Probabilities, each in [0, 1].
struct LinkFaults {
  double drop_request = 0;    // a call fails before it reaches the hub
  double drop_reply = 0;      // the hub acted, its answer is lost
  double cut_pull = 0;        // before each pull message: the stream is cut
  double duplicate_push = 0;  // a push arrives twice (the first answer lost)
  double replay_push = 0;     // before a call, an older push of this link arrives again
  double stale_pull = 0;      // a pull first receives the messages of an earlier pull
  double duplicate_pull = 0;  // a pull's messages arrive again after its end
};

struct LinkCounters {
  uint64_t calls = 0;
  uint64_t requests_dropped = 0;
  uint64_t replies_dropped = 0;
  uint64_t pulls_cut = 0;
  uint64_t pushes_duplicated = 0;
  uint64_t pushes_replayed = 0;
  uint64_t pulls_stale = 0;       // answers of an earlier pull delivered to a later one
  uint64_t pulls_duplicated = 0;  // answers delivered twice
  uint64_t pulls = 0;             // pull calls that reached the hub
  uint64_t pull_messages = 0;     // messages of their own answers handed to the node
};

class LoopbackTransport final : public Transport {
 public:
  LoopbackTransport(Transport& hub, uint64_t seed) : hub_(hub), rng_(seed) {}

  void set_faults(const LinkFaults& faults) { faults_ = faults; }
  // A link that is down fails every call (UNAVAILABLE) until it is up.
  void set_down(bool down) { down_ = down; }
  const LinkCounters& counters() const { return counters_; }
  // The hub was put back from a backup: the pushes sent so far came on
  // connections of the hub process that is gone, so none of them can
  // arrive late any more (a retry layer holds a request seconds, not the
  // minutes of a restore; TLS lets nothing else replay one). They are no
  // longer replayed; the draws stay as they were, so that a seed's schedule
  // is the same.
  void ForgetSentPushes() {
    for (Sent& s : sent_pushes_) s.live = false;
  }

  absl::StatusOr<HelloReply> Hello(const HelloRequest& req) override;
  absl::StatusOr<EnrollReply> Enroll(const EnrollRequest& req) override;
  absl::StatusOr<PushOutcome> Push(const PushRequest& req) override;
  absl::Status Pull(const PullRequest& req,
                    const std::function<absl::Status(PullChunk&)>& on_chunk) override;

 private:
  bool Draw(double p);
  // UNAVAILABLE if the link is down or the request is lost.
  absl::Status Send(const char* call);
  absl::Status LostReply(const char* call);
  // A late copy of an earlier push, from a connection the link lost.
  void MaybeReplay();
  // Hands `chunks` (copies) to the node; its first refusal, if any.
  static absl::Status Deliver(const std::vector<PullChunk>& chunks,
                              const std::function<absl::Status(PullChunk&)>& on_chunk);

  Transport& hub_;
  std::mt19937_64 rng_;
  LinkFaults faults_;
  LinkCounters counters_;
  bool down_ = false;
  struct Sent {
    PushRequest req;
    bool live = true;  // false: sent to a hub since put back from a backup
  };
  std::vector<Sent> sent_pushes_;  // the last few, for replays
  // The messages of the last few whole pull answers, for stale deliveries.
  std::vector<std::vector<PullChunk>> past_pulls_;
};

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_LOOPBACK_H_
