// The credential proofs (sync-core/crypto/credential_proof.h): what the
// version 2 proof (the link key's) binds, and its bytes frozen. The
// expected bytes were computed apart from this code (Python's hashlib
// BLAKE2b and the `cryptography` package's Ed25519) from the definition in
// docs/CRYPTO.md, "Credential proofs".
#include "crypto/credential_proof.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto_test_util.h"

namespace fieldsync::crypto {
namespace {

using crypto_test::FixedId;
using crypto_test::Hex;

std::string Secret() {
  std::string s(32, '\0');
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i);
  return s;
}

TEST(CredentialProofTest, TheLinkKeyAndItsProofAreTheFrozenBytes) {
  const LinkKey link(Secret());
  EXPECT_EQ(Hex(link.public_key()), "e236c61be5a1969ba584d750adeb4059144d640ac0377ca68810dde07f734c29");
  EXPECT_EQ(Hex(link.Proof(FixedId(0x40), FixedId(0x11), std::string(32, '\xd1'))),
            "c94c0201e072dcfedc85adcf85cc27e6e61fd447ed7cd71af2d70cc650e3100ece4a31008741d44e2bec272b1bfc7b2348efa7e518a75669d605b4c98cdd7600");
}

TEST(CredentialProofTest, ALinkProofVerifiesOnlyForTheHubDeviceAndCertificateItWasMadeFor) {
  const LinkKey link(Secret());
  const DeviceId hub = FixedId(0x40), device = FixedId(0x11);
  const std::string cert(32, 'C');
  const std::string proof = link.Proof(hub, device, cert);
  EXPECT_TRUE(VerifyLinkProof(link.public_key(), hub, device, cert, proof));
  EXPECT_FALSE(VerifyLinkProof(link.public_key(), FixedId(0x41), device, cert, proof));
  EXPECT_FALSE(VerifyLinkProof(link.public_key(), hub, FixedId(0x12), cert, proof));
  EXPECT_FALSE(VerifyLinkProof(link.public_key(), hub, device, std::string(32, 'D'), proof));
  std::string flipped = proof;
  flipped[5] ^= 1;
  EXPECT_FALSE(VerifyLinkProof(link.public_key(), hub, device, cert, flipped));
  // Another secret's key, and what the hub stores of this one, verify nothing.
  EXPECT_FALSE(VerifyLinkProof(LinkKey("another secret").public_key(), hub, device, cert, proof));
  EXPECT_FALSE(VerifyLinkProof(SecretHash(Secret()), hub, device, cert, proof));
  EXPECT_FALSE(VerifyLinkProof("", hub, device, cert, proof));
  // The link key is not the version 1 proof's key, nor its proof.
  EXPECT_NE(link.public_key(), SecretHash(Secret()));
  EXPECT_NE(proof.substr(0, 32), CredentialProof(SecretHash(Secret()), hub, device, cert));
}

}  // namespace
}  // namespace fieldsync::crypto
