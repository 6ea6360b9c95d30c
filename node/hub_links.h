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
// The secret itself goes to no address (session 23, attack review 22,
// MED 1): every call carries a proof of it bound to the TLS certificate
// the laptop saw on the very connection carrying the call
// (crypto/credential_proof.h, node/grpc_transport.cc), and the hub takes
// only proofs bound to a certificate it serves. Whatever answers at an
// address with a certificate of its own (another hub, anyone the CA gave
// one, a relay), at the first connection or at one gRPC made again by
// itself (idle, GOAWAY, a DNS change), gets a proof no hub takes.
//
// What the probe still does is routing (attack review 21, MED 1 and 2):
// the first Hello to an address not yet confirmed carries no credential,
// and only if its answer names the hub id enrolment recorded (hub.conf) is
// the Hello sent again with it, so an address serving another hub is
// passed over before it could refuse this laptop's proof, which would read
// as a revocation and stop the daemon. With one address, or none of several
// answering as this laptop's hub, the pass fails UNAVAILABLE (retried). An
// address stays confirmed until it does not answer or the links are Reset;
// that is no longer trusted with anything secret. A hub.conf without
// hub_id (enrolled before it was kept) makes no probe here; the transport
// learns the id for its proofs from a Hello without a credential (a wrong
// id only makes proofs no hub takes). Every hub answers a Hello without a
// credential (enrolment begins with one); a hub older than proofs says so
// in its Hello answer and gets nothing more (docs/PROTOCOL.md,
// "Credentials").
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
