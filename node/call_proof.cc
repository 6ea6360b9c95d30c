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

// Puts a call's proof in its metadata once gRPC knows the connection the
// call goes on (AttachProof).
class ProofPlugin final : public grpc::MetadataCredentialsPlugin {
 public:
  ProofPlugin(std::string secret_hash, const DeviceId& hub, const DeviceId& device)
      : secret_hash_(std::move(secret_hash)), hub_(hub), device_(device) {}

  // A hash and a string: no need for a thread of gRPC's.
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
    metadata->emplace(wire::kProofKey,
                      wire::ProofHeader(device_, crypto::CredentialProof(secret_hash_, hub_,
                                                                         device_, *digest)));
    return grpc::Status::OK;
  }

 private:
  const std::string secret_hash_;
  const DeviceId hub_;
  const DeviceId device_;
};

}  // namespace

void AttachProof(grpc::ClientContext* ctx, const sync::Credential& cred, const DeviceId& hub,
                 bool insecure) {
  std::string key = crypto::SecretHash(cred.secret);
  if (insecure) {
    ctx->AddMetadata(wire::kProofKey,
                     wire::ProofHeader(cred.device, crypto::CredentialProof(
                                                        key, hub, cred.device,
                                                        crypto::NoCertificateDigest())));
    return;
  }
  ctx->set_credentials(grpc::MetadataCredentialsFromPlugin(
      std::make_unique<ProofPlugin>(std::move(key), hub, cred.device)));
}

}  // namespace fieldsync::node
