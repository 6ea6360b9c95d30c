#include "node/hub_links.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "proto/address.h"

namespace fieldsync::node {
namespace {

// Whether a failed Hello means the address did not answer (another may),
// rather than that the hub answered, or that this laptop stopped the call.
bool DidNotAnswer(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HubLinks>> HubLinks::Create(const ClientOptions& options) {
  FS_ASSIGN_OR_RETURN(std::vector<std::string> addresses,
                      wire::SplitHubAddresses(options.address));
  std::unique_ptr<HubLinks> links(new HubLinks());
  for (const std::string& a : addresses) {
    ClientOptions o = options;
    o.address = a;
    FS_ASSIGN_OR_RETURN(std::unique_ptr<GrpcTransport> t, GrpcTransport::Create(o));
    links->links_.push_back(std::move(t));
  }
  links->confirmed_.assign(addresses.size(), false);
  links->addresses_ = std::move(addresses);
  links->hub_id_ = options.hub_id;
  return links;
}

bool HubLinks::Ours(const sync::HelloReply& r) const {
  return hub_id_.empty() || r.hub_id.ToString() == hub_id_;
}

absl::StatusOr<sync::HelloReply> HubLinks::HelloAt(size_t i, const sync::HelloRequest& req) {
  if (hub_id_.empty() || !req.credential.has_value() || confirmed_[i]) {
    absl::StatusOr<sync::HelloReply> r = links_[i]->Hello(req);
    if ((!r.ok() && DidNotAnswer(r.status())) || (r.ok() && !Ours(*r))) confirmed_[i] = false;
    return r;
  }
  sync::HelloRequest probe = req;
  probe.credential.reset();
  absl::StatusOr<sync::HelloReply> r = links_[i]->Hello(probe);
  // A refusal of a Hello that carried no credential says nothing of this
  // laptop's: whatever answers there is not its hub (a proxy's 401/403, a
  // server of the same CA). Passed over as an address that does not
  // answer, never taken for a revocation that stops the daemon (attack
  // review 22, MED 1 (d)).
  if (!r.ok() && !DidNotAnswer(r.status()) &&
      r.status().code() != absl::StatusCode::kCancelled) {
    return absl::UnavailableError(absl::StrCat(
        addresses_[i], " refused a Hello that carried no credential (", r.status().message(),
        "): not this laptop's hub; nothing was sent to it"));
  }
  if (!r.ok() || !Ours(*r)) return r;
  confirmed_[i] = true;
  r = links_[i]->Hello(req);
  if (!r.ok() && DidNotAnswer(r.status())) confirmed_[i] = false;
  return r;
}

absl::StatusOr<sync::HelloReply> HubLinks::Hello(const sync::HelloRequest& req) {
  absl::StatusOr<sync::HelloReply> first = HelloAt(current_, req);
  if (first.ok() && Ours(*first)) return first;
  if (!first.ok() && !DidNotAnswer(first.status())) return first;
  if (links_.size() == 1) {
    if (!first.ok()) return first;
    // UNAVAILABLE: retried, never read as a revoked credential.
    return absl::UnavailableError(absl::StrCat(
        "the hub at ", addresses_[current_], " answered as another hub (id ",
        first->hub_id.ToString(), "), not this laptop's (id ", hub_id_,
        "): nothing was sent to it; check the hub's address in hub.conf"));
  }
  // Once round the other addresses, in the order given after this one.
  std::string tried =
      first.ok() ? absl::StrCat(addresses_[current_], " is another hub (id ",
                                first->hub_id.ToString(), ")")
                 : std::string(first.status().message());
  for (size_t k = 1; k < links_.size(); ++k) {
    const size_t i = (current_ + k) % links_.size();
    absl::StatusOr<sync::HelloReply> r = HelloAt(i, req);
    if (r.ok() && Ours(*r)) {
      current_ = i;
      return r;
    }
    if (r.ok()) {
      absl::StrAppend(&tried, "; and ", addresses_[i], " is another hub (id ",
                      r->hub_id.ToString(), ")");
    } else {
      absl::StrAppend(&tried, "; and ", addresses_[i], ": ", r.status().message());
    }
  }
  // None answered as this laptop's hub: said for each, UNAVAILABLE (retried,
  // sync/retry.h; never read as a revoked credential).
  return absl::UnavailableError(absl::StrCat("none of the hub's ", links_.size(),
                                             " addresses answered as this laptop's hub: ", tried));
}

absl::StatusOr<sync::EnrollReply> HubLinks::Enroll(const sync::EnrollRequest& req) {
  return links_[current_]->Enroll(req);
}

absl::StatusOr<sync::PushOutcome> HubLinks::Push(const sync::PushRequest& req) {
  return links_[current_]->Push(req);
}

absl::Status HubLinks::Pull(const sync::PullRequest& req,
                            const std::function<absl::Status(sync::PullChunk&)>& on_chunk) {
  return links_[current_]->Pull(req, on_chunk);
}

void HubLinks::Reset() {
  for (auto& l : links_) l->Reset();
  confirmed_.assign(links_.size(), false);
}

void HubLinks::SetStop(const std::atomic<bool>* stop) {
  for (auto& l : links_) l->SetStop(stop);
}

}  // namespace fieldsync::node
