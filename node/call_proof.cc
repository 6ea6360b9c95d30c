#include "node/call_proof.h"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/credential_proof.h"
#include "proto/tls_files.h"
#include "proto/wire.h"

namespace fieldsync::node {
namespace {

// Both proofs of a call, over the certificate whose digest is given: the
// version 1 proof, which a hub that holds no link key for the device
// checks, and the version 2 proof, which one that holds it checks alone.
// Both, whatever any Hello said: what a server answers about the link key
// changes nothing the laptop sends (docs/PROTOCOL.md, "Credentials").
void AddProofs(std::multimap<std::string, std::string>* metadata, std::string_view secret_hash,
               const crypto::LinkKey& link, const DeviceId& hub, const DeviceId& device,
               std::string_view digest) {
  metadata->emplace(wire::kProofKey,
                    wire::ProofHeader(device, crypto::CredentialProof(secret_hash, hub, device,
                                                                      digest)));
  metadata->emplace(wire::kLinkProofKey,
                    wire::LinkProofHeader(device, digest, link.Proof(hub, device, digest)));
}

// Puts a call's proofs in its metadata once gRPC knows the connection the
// call goes on (AttachProof).
class ProofPlugin final : public grpc::MetadataCredentialsPlugin {
 public:
  ProofPlugin(std::string secret_hash, crypto::LinkKey link, const DeviceId& hub,
              const DeviceId& device)
      : secret_hash_(std::move(secret_hash)), link_(std::move(link)), hub_(hub), device_(device) {}

  // A hash, a signature and strings: no need for a thread of gRPC's.
  bool IsBlocking() const override { return false; }

  grpc::Status GetMetadata(grpc::string_ref, grpc::string_ref,
                           const grpc::AuthContext& channel,
                           std::multimap<std::string, std::string>* metadata) override {
    const std::vector<grpc::string_ref> pem =
        channel.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    absl::StatusOr<std::string> digest = absl::NotFoundError("none");
    if (pem.size() == 1) {
      digest = wire::LeafCertificateDigest(std::string_view(pem[0].data(), pem[0].size()));
    }
    // UNAVAILABLE: retried; nothing of the credential was sent.
    if (!digest.ok()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the far end of the connection showed no server identity to bind this "
                          "laptop's credential proof to; nothing of the credential was sent");
    }
    AddProofs(metadata, secret_hash_, link_, hub_, device_, *digest);
    return grpc::Status::OK;
  }

 private:
  const std::string secret_hash_;
  const crypto::LinkKey link_;
  const DeviceId hub_;
  const DeviceId device_;
};

}  // namespace

void AttachProof(grpc::ClientContext* ctx, const sync::Credential& cred, const DeviceId& hub,
                 bool insecure) {
  std::string key = crypto::SecretHash(cred.secret);
  crypto::LinkKey link(cred.secret);
  if (insecure) {
    std::multimap<std::string, std::string> metadata;
    AddProofs(&metadata, key, link, hub, cred.device, crypto::NoCertificateDigest());
    for (const auto& [k, v] : metadata) ctx->AddMetadata(k, v);
    return;
  }
  ctx->set_credentials(grpc::MetadataCredentialsFromPlugin(
      std::make_unique<ProofPlugin>(std::move(key), std::move(link), hub, cred.device)));
}

}  // namespace fieldsync::node
