// The node's links to its hub when the hub has several addresses (`fieldnode
// enroll --hub A,B`: several hub processes on one store, issue 15 point 2):
// one gRPC transport an address, the calls going to one of them at a time.
// A pass starts with Hello; when the address in use does not answer it
// (UNAVAILABLE: refused, unreachable, a TLS handshake that failed;
// DEADLINE_EXCEEDED), Hello is tried at the next address, and so on once
// round the list; the first that answers is kept for the rest of the pass
// and the passes after, until it in turn does not answer. Only Hello moves:
// a push or pull that fails ends the pass as it always did, and the next
// pass's Hello finds an address that answers. What the address in use
// answers (a refusal) is never a reason to move. Another address is kept
// only if it answers Hello as this laptop's hub: a refusal there, or a hub
// of another id than enrolment recorded (a retired hub, another hub under
// the same CA, a proxy answering 401/403), is passed over like an address
// that does not answer, and never taken for this laptop's credential being
// revoked (attack review 21, MED 1 and 2); one in use that names another
// hub is passed over too.
//
// The credential (`Bearer <device>.<secret>`) goes to an address only once
// it is confirmed (attack review 21, MED 2): the first Hello to an address
// not yet confirmed carries none, and only if its answer names the hub id
// enrolment recorded (hub.conf) is the Hello sent again with it. An address
// answering as another hub never sees the secret: with one address, or none
// of several answering as this laptop's hub, the pass fails UNAVAILABLE
// (retried) and nothing is pushed. An address stays confirmed until it does
// not answer or the links are Reset (a new connection may reach another
// machine). Every hub answers a Hello without a credential (enrolment
// begins with one), so older hubs need nothing new (docs/PROTOCOL.md,
// "Credentials"). What this does not stop: a party holding a key of the
// same CA for the address's name can repeat the hub's id, which is no
// secret; only a proof bound to the hub's own key would.
#ifndef FIELDSYNC_NODE_HUB_LINKS_H_
#define FIELDSYNC_NODE_HUB_LINKS_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/grpc_transport.h"
#include "sync/transport.h"

namespace fieldsync::node {

class HubLinks final : public sync::Transport {
 public:
  // `options.address` is one address or several, comma-separated
  // (wire::SplitHubAddresses); each gets a GrpcTransport of `options`.
  // The errors of GrpcTransport::Create, and INVALID_ARGUMENT for a list
  // that does not parse.
  static absl::StatusOr<std::unique_ptr<HubLinks>> Create(const ClientOptions& options);

  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& req) override;
  absl::StatusOr<sync::EnrollReply> Enroll(const sync::EnrollRequest& req) override;
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override;
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override;
  void Reset() override;
  // GrpcTransport::SetStop, for every address.
  void SetStop(const std::atomic<bool>* stop);

  // The address calls go to now.
  const std::string& current() const { return addresses_[current_]; }

 private:
  HubLinks() = default;

  // Whether `r` is this laptop's hub (by the id enrolment recorded).
  bool Ours(const sync::HelloReply& r) const;
  // Hello at address `i`, its credential held back until `i` is confirmed.
  absl::StatusOr<sync::HelloReply> HelloAt(size_t i, const sync::HelloRequest& req);

  std::vector<std::string> addresses_;
  std::string hub_id_;
  std::vector<std::unique_ptr<GrpcTransport>> links_;
  size_t current_ = 0;
  // Per address: it answered a Hello without a credential as this
  // laptop's hub, and has not failed to answer since.
  std::vector<bool> confirmed_;
};

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_HUB_LINKS_H_
