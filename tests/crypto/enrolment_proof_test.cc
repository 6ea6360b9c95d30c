// The enrolment proof (sync-core/crypto/enrolment_proof.h): what it binds,
// and its bytes frozen as format version 1 produced them.
#include "crypto/enrolment_proof.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto_test_util.h"
#include "kat_vectors.h"

namespace fieldsync::crypto {
namespace {

using crypto_test::FixedId;
using crypto_test::Hex;
namespace kat = crypto_test::kat;

DeviceIdentity IdentityA() {
  return crypto_test::IdentityFromSeeds(kat::kDeviceA, kat::kSignSeedA, kat::kBoxSecretA);
}
DeviceIdentity IdentityB() {
  return crypto_test::IdentityFromSeeds(kat::kDeviceB, kat::kSignSeedB, kat::kBoxSecretB);
}

const std::string kChallenge(kEnrolChallengeBytes, '\x5a');
const std::string kToken = "fsenroll-00112233445566778899aabbccddeeff00112233";

TEST(EnrolmentProofTest, ItVerifiesOnlyForTheHubChallengeTokenAndKeysItWasMadeFor) {
  const DeviceIdentity a = IdentityA();
  const DeviceId hub = FixedId(0x40);
  const std::string proof = Must(SignEnrolment(a, hub, kChallenge, kToken));
  EXPECT_TRUE(VerifyEnrolment(a.public_keys(), hub, kChallenge, kToken, proof).ok());
  EXPECT_FALSE(VerifyEnrolment(a.public_keys(), FixedId(0x41), kChallenge, kToken, proof).ok());
  std::string other_challenge = kChallenge;
  other_challenge[31] ^= 1;
  EXPECT_FALSE(VerifyEnrolment(a.public_keys(), hub, other_challenge, kToken, proof).ok());
  EXPECT_FALSE(VerifyEnrolment(a.public_keys(), hub, kChallenge, kToken + "0", proof).ok());
  // The X25519 key is bound too, and another device's keys do not verify.
  DevicePublic other_box = a.public_keys();
  other_box.box_pk = IdentityB().public_keys().box_pk;
  EXPECT_FALSE(VerifyEnrolment(other_box, hub, kChallenge, kToken, proof).ok());
  EXPECT_FALSE(VerifyEnrolment(IdentityB().public_keys(), hub, kChallenge, kToken, proof).ok());
  EXPECT_EQ(VerifyEnrolment(a.public_keys(), hub, "short", kToken, proof).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(SignEnrolment(a, hub, "short", kToken).ok());
}

// Version 2 (attack review 23, MED 1): bound to the certificate the
// laptop saw; the hub takes it only over a certificate it serves, and
// still takes version 1 from an older laptop.
TEST(EnrolmentProofTest, AVersion2ProofVerifiesOnlyOverTheCertificateItWasMadeFor) {
  const DeviceIdentity a = IdentityA();
  const DeviceId hub = FixedId(0x40);
  const std::string seen(32, '\x11');    // a relay's certificate
  const std::string served(32, '\x22');  // the hub's
  const std::string proof = Must(SignEnrolment(a, hub, kChallenge, kToken, seen));
  EXPECT_TRUE(VerifyEnrolment(a.public_keys(), hub, kChallenge, kToken, proof, {served, seen}).ok());
  EXPECT_FALSE(VerifyEnrolment(a.public_keys(), hub, kChallenge, kToken, proof, {served}).ok());
  // Not taken as a version 1 proof either.
  EXPECT_FALSE(VerifyEnrolment(a.public_keys(), hub, kChallenge, kToken, proof).ok());
  // A version 1 proof is still taken, whatever the hub serves.
  const std::string v1 = Must(SignEnrolment(a, hub, kChallenge, kToken));
  EXPECT_TRUE(VerifyEnrolment(a.public_keys(), hub, kChallenge, kToken, v1, {served}).ok());
  EXPECT_NE(proof, Must(SignEnrolment(a, hub, kChallenge, kToken, served)));
}

TEST(EnrolmentProofTest, KnownAnswer) {
  const DeviceIdentity a = IdentityA();
  const DeviceId hub = FixedId(0x40);
  // hub id, challenge, BLAKE2b-256 of the token (checked with Python's
  // hashlib.blake2b(digest_size=32)), then the device and its two keys.
  const std::string message = EnrolmentMessage(hub, kChallenge, kToken, a.public_keys());
  EXPECT_EQ(Hex(message.substr(0, 80)),
            "404142434445464748494a4b4c4d4e4f5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
            "5a5a5a5a5a5a5a5a0d145276fe3fd9e261503e202eab3dcf7b809b2bbf48352aeb0ab8ef573485f4");
  EXPECT_EQ(message.substr(80), std::string(a.device().view()) + a.public_keys().sign_pk +
                                    a.public_keys().box_pk);
  EXPECT_EQ(Hex(Must(SignEnrolment(a, hub, kChallenge, kToken))),
            "eaaf6d5d913899183d68db51cd0a49bd6d01ab34ef416142d07d358c1b735ae4"
            "190d74bb5a663fa4ed29b0e243ac3736a42d2377a8155d75edd3545f79f5150b");
}

}  // namespace
}  // namespace fieldsync::crypto
