#include "sync/loopback.h"

#include "absl/strings/str_cat.h"

namespace fieldsync::sync {

bool LoopbackTransport::Draw(double p) {
  if (p <= 0) return false;
  // 53 random bits as a double in [0, 1): the same on every platform,
  // unlike std::uniform_real_distribution.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return u < p;
}

void LoopbackTransport::MaybeReplay() {
  if (sent_pushes_.empty() || !Draw(faults_.replay_push)) return;
  const Sent& late = sent_pushes_[rng_() % sent_pushes_.size()];
  if (!late.live) return;
  ++counters_.pushes_replayed;
  // What the hub answers goes nowhere: the connection it came on is gone.
  hub_.Push(late.req).IgnoreError();
}

absl::Status LoopbackTransport::Send(const char* call) {
  ++counters_.calls;
  MaybeReplay();
  if (down_) return absl::UnavailableError(absl::StrCat("the link is down (", call, ")"));
  if (Draw(faults_.drop_request)) {
    ++counters_.requests_dropped;
    return absl::UnavailableError(absl::StrCat("the link dropped the request (", call, ")"));
  }
  return absl::OkStatus();
}

absl::Status LoopbackTransport::LostReply(const char* call) {
  if (!Draw(faults_.drop_reply)) return absl::OkStatus();
  ++counters_.replies_dropped;
  return absl::UnavailableError(absl::StrCat("the link dropped the answer (", call, ")"));
}

absl::StatusOr<HelloReply> LoopbackTransport::Hello(const HelloRequest& req) {
  if (absl::Status s = Send("hello"); !s.ok()) return s;
  absl::StatusOr<HelloReply> r = hub_.Hello(req);
  if (absl::Status s = LostReply("hello"); !s.ok()) return s;
  return r;
}

absl::StatusOr<EnrollReply> LoopbackTransport::Enroll(const EnrollRequest& req) {
  if (absl::Status s = Send("enrol"); !s.ok()) return s;
  absl::StatusOr<EnrollReply> r = hub_.Enroll(req);
  if (absl::Status s = LostReply("enrol"); !s.ok()) return s;
  return r;
}

absl::StatusOr<PushOutcome> LoopbackTransport::Push(const PushRequest& req) {
  if (absl::Status s = Send("push"); !s.ok()) return s;
  absl::StatusOr<PushOutcome> r = hub_.Push(req);
  if (faults_.replay_push > 0) {
    if (sent_pushes_.size() == 4) sent_pushes_.erase(sent_pushes_.begin());
    sent_pushes_.push_back(Sent{req, true});
  }
  if (Draw(faults_.duplicate_push)) {
    ++counters_.pushes_duplicated;
    r = hub_.Push(req);
  }
  if (absl::Status s = LostReply("push"); !s.ok()) return s;
  return r;
}

absl::Status LoopbackTransport::Deliver(const std::vector<PullChunk>& chunks,
                                        const std::function<absl::Status(PullChunk&)>& on_chunk) {
  for (const PullChunk& c : chunks) {
    PullChunk copy = c;
    if (absl::Status s = on_chunk(copy); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status LoopbackTransport::Pull(const PullRequest& req,
                                     const std::function<absl::Status(PullChunk&)>& on_chunk) {
  if (absl::Status s = Send("pull"); !s.ok()) return s;
  const bool keep = faults_.stale_pull > 0 || faults_.duplicate_pull > 0;
  // An earlier call's answer, whole, before this call's own.
  if (!past_pulls_.empty() && Draw(faults_.stale_pull)) {
    ++counters_.pulls_stale;
    if (absl::Status s = Deliver(past_pulls_[rng_() % past_pulls_.size()], on_chunk); !s.ok()) {
      return s;
    }
  }
  std::vector<PullChunk> sent;
  bool cut = false;
  absl::Status node_stopped;
  ++counters_.pulls;
  absl::Status s = hub_.Pull(req, [&](PullChunk& chunk) -> absl::Status {
    if (Draw(faults_.cut_pull)) {
      cut = true;
      ++counters_.pulls_cut;
      return absl::CancelledError("cut");
    }
    ++counters_.pull_messages;
    if (keep) sent.push_back(chunk);
    node_stopped = on_chunk(chunk);
    return node_stopped;
  });
  if (cut) return absl::UnavailableError("the link was cut during the pull");
  if (!node_stopped.ok()) return node_stopped;
  if (!s.ok()) return s;
  if (keep) {
    // This call's answer again, after its end.
    if (Draw(faults_.duplicate_pull)) {
      ++counters_.pulls_duplicated;
      if (absl::Status d = Deliver(sent, on_chunk); !d.ok()) return d;
    }
    if (past_pulls_.size() == 4) past_pulls_.erase(past_pulls_.begin());
    past_pulls_.push_back(std::move(sent));
  }
  return s;
}

}  // namespace fieldsync::sync
