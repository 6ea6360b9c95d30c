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
  links->addresses_ = std::move(addresses);
  return links;
}

absl::StatusOr<sync::HelloReply> HubLinks::Hello(const sync::HelloRequest& req) {
  absl::StatusOr<sync::HelloReply> first = links_[current_]->Hello(req);
  if (first.ok() || !DidNotAnswer(first.status()) || links_.size() == 1) return first;
  // Once round the other addresses, in the order given after this one.
  std::string tried = std::string(first.status().message());
  for (size_t k = 1; k < links_.size(); ++k) {
    const size_t i = (current_ + k) % links_.size();
    absl::StatusOr<sync::HelloReply> r = links_[i]->Hello(req);
    if (r.ok() || !DidNotAnswer(r.status())) {
      current_ = i;
      return r;
    }
    absl::StrAppend(&tried, "; and ", r.status().message());
  }
  // None answered: said for each, with the code of the first (both codes
  // are retried alike, sync/retry.h).
  return absl::Status(first.status().code(),
                      absl::StrCat("none of the hub's ", links_.size(), " addresses answered: ",
                                   tried));
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
}

void HubLinks::SetStop(const std::atomic<bool>* stop) {
  for (auto& l : links_) l->SetStop(stop);
}

}  // namespace fieldsync::node
