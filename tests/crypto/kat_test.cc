// Known-answer vectors (SECURITY.md, test 7): every crypto format of
// sync-core/crypto, produced from the fixed inputs of kat_vectors.h, must be
// byte for byte what format version 1 produced when the vectors were frozen,
// and the frozen bytes must still open.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/commit.h"
#include "change/id.h"
#include "change/value.h"
#include "clock/hlc.h"
#include "crypto/commit_signature.h"
#include "crypto/envelope.h"
#include "crypto/identity.h"
#include "crypto/key_record.h"
#include "crypto/keystore.h"
#include "crypto/secret.h"
#include "crypto_test_util.h"
#include "kat_vectors.h"

namespace fieldsync::crypto {
namespace {

using crypto_test::Hex;
using crypto_test::IdFromHex;
using crypto_test::Unhex;
namespace kat = crypto_test::kat;

DeviceIdentity IdentityA() {
  return crypto_test::IdentityFromSeeds(kat::kDeviceA, kat::kSignSeedA, kat::kBoxSecretA);
}
DeviceIdentity IdentityB() {
  return crypto_test::IdentityFromSeeds(kat::kDeviceB, kat::kSignSeedB, kat::kBoxSecretB);
}

OfficeKey FixedOfficeKey() {
  OfficeKey k;
  k.id = IdFromHex(kat::kOfficeKeyId);
  k.province = std::string(kat::kProvince);
  k.generation = kat::kGeneration;
  k.secret_key = SecretBytes::Copy(Unhex(kat::kOfficeSecret));
  k.public_key.resize(32);
  crypto_scalarmult_base(reinterpret_cast<unsigned char*>(k.public_key.data()),
                         k.secret_key.data());
  return k;
}

Hlc Created() { return Hlc::FromPacked(kat::kHlcPacked); }

FieldContext Where() {
  return FieldContext{kat::kTable, IdFromHex(kat::kRowId), kat::kColumn,
                      Hlc::FromPacked(kat::kHlcPacked), IdFromHex(kat::kDeviceA)};
}

SecretBytes DataKey() { return SecretBytes::Copy(Unhex(kat::kDataKey)); }

KeyRecord ParseHex(std::string_view hex) {
  absl::StatusOr<KeyRecord> r = ParseKeyRecord(Unhex(hex));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : KeyRecord();
}

// The bytes of a record before its sealed part (what holds no randomness).
std::string BeforeSealed(const KeyRecord& r) {
  return r.bytes.substr(0, r.bytes.size() - r.sealed.size() - r.signature.size());
}

// ---- (a) Sealed field envelope ----

TEST(KatTest, EnvelopeIsFrozen) {
  absl::StatusOr<std::string> sealed =
      SealValueWithNonce(DataKey(), IdFromHex(kat::kKeyRing), kat::kKeyVersion, Where(),
                         Value::Text(std::string(kat::kName)), Unhex(kat::kNonce));
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(Hex(*sealed), kat::kEnvelope);
}

TEST(KatTest, FrozenEnvelopeOpens) {
  const std::string frozen = Unhex(kat::kEnvelope);
  ASSERT_EQ(frozen.size(), kEnvelopeHeaderBytes + 32 + kEnvelopeTagBytes);
  absl::StatusOr<EnvelopeHeader> h = ParseEnvelope(frozen);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->keyring, IdFromHex(kat::kKeyRing));
  EXPECT_EQ(h->key_version, kat::kKeyVersion);
  EXPECT_EQ(Hex(h->nonce), kat::kNonce);
  absl::StatusOr<Value> v = OpenValue(DataKey(), frozen, Where());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, Value::Text(std::string(kat::kName)));
}

TEST(KatTest, FrozenEnvelopeIsWhatTheHeaderDocumentationDescribes) {
  // Rebuilt from envelope.h's description with raw libsodium, not the library.
  const std::string field_key =
      crypto_test::SpecFieldKey(Unhex(kat::kDataKey), kat::kTable, kat::kColumn);
  const std::string nonce = Unhex(kat::kNonce);
  const std::string rebuilt = crypto_test::SpecSeal(
      field_key, IdFromHex(kat::kKeyRing), kat::kKeyVersion, nonce,
      crypto_test::SpecCommitment(field_key, nonce), Where(),
      crypto_test::SpecPlaintext(static_cast<uint8_t>(Value::Kind::kText), kat::kName));
  EXPECT_EQ(Hex(rebuilt), kat::kEnvelope);
}

// ---- (b) Device identity and signatures ----

TEST(KatTest, DevicePublicKeysAndFingerprintAreFrozen) {
  const DeviceIdentity a = IdentityA();
  EXPECT_EQ(a.device(), IdFromHex(kat::kDeviceA));
  EXPECT_EQ(Hex(a.public_keys().sign_pk), kat::kSignPublicA);
  EXPECT_EQ(Hex(a.public_keys().box_pk), kat::kBoxPublicA);
  EXPECT_EQ(Fingerprint(a.public_keys()), kat::kFingerprintA);
  // The RFC vectors' public keys (RFC 8032 test 1, RFC 7748 Alice).
  EXPECT_EQ(Hex(a.public_keys().sign_pk),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  EXPECT_EQ(Hex(a.public_keys().box_pk),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  const DeviceIdentity b = IdentityB();  // RFC 8032 test 2, RFC 7748 Bob
  EXPECT_EQ(Hex(b.public_keys().sign_pk),
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  EXPECT_EQ(Hex(b.public_keys().box_pk),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  // The Ed25519 secret key is the seed then the public key.
  EXPECT_EQ(Hex(Must(a.sign_secret())),
            std::string(kat::kSignSeedA) + std::string(kat::kSignPublicA));
}

TEST(KatTest, CommitSignatureIsFrozen) {
  const DeviceIdentity a = IdentityA();
  const std::string sig = Must(a.Sign(kCommitSignDomain, kat::kCommitMessage));
  EXPECT_EQ(Hex(sig), kat::kCommitSignature);
}

TEST(KatTest, FrozenCommitSignatureVerifies) {
  const std::string sig = Unhex(kat::kCommitSignature);
  const std::string pk = Unhex(kat::kSignPublicA);
  EXPECT_TRUE(VerifySignature(pk, kCommitSignDomain, kat::kCommitMessage, sig, "kat").ok());
  // It is Ed25519 over domain 0x00 message, checked here with raw libsodium.
  std::string m(kCommitSignDomain);
  m.push_back('\0');
  m.append(kat::kCommitMessage.data(), kat::kCommitMessage.size());
  EXPECT_EQ(crypto_sign_verify_detached(crypto_test::U(sig), crypto_test::U(m), m.size(),
                                        crypto_test::U(pk)),
            0);
  // Domain separation: not a key record signature, not another message.
  EXPECT_EQ(VerifySignature(pk, kKeyRecordSignDomain, kat::kCommitMessage, sig, "kat").code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(
      VerifySignature(pk, kCommitSignDomain, "fieldsync known-answer commit messagE", sig, "kat")
          .code(),
      absl::StatusCode::kUnauthenticated);
}

Commit FixedCommit() {
  Commit c;
  c.author = IdFromHex(kat::kDeviceA);
  c.seq = 1;
  c.hlc = Created();
  RowChange change;
  change.table = std::string(kat::kTable);
  change.row = IdFromHex(kat::kRowId);
  FieldWrite name;
  name.column = std::string(kat::kColumn);
  name.value = Value::Bytes(Unhex(kat::kEnvelope));
  FieldWrite province;
  province.column = "province";
  province.value = Value::Text(std::string(kat::kProvince));
  province.base = Version{Hlc::FromPacked(kat::kHlcPacked - 1), IdFromHex(kat::kDeviceB)};
  change.fields = {name, province};
  c.changes = {change};
  return c;
}

TEST(KatTest, SignedCommitMessageAndSignatureAreFrozen) {
  const Commit c = FixedCommit();
  absl::StatusOr<std::string> m = CommitSignedMessage(c);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(Hex(*m), kat::kCommitSignedMessage);
  EXPECT_EQ(Hex(Must(SignCommit(IdentityA(), c))), kat::kSignedCommitSignature);
}

TEST(KatTest, FrozenCommitSignatureVerifiesWholeAndTrimmed) {
  Commit c = FixedCommit();
  c.signature = Unhex(kat::kSignedCommitSignature);
  EXPECT_TRUE(VerifyCommitSignature(c, Unhex(kat::kSignPublicA)).ok());
  // Trimmed by a hub: the row change replaced by its digest still verifies.
  Commit trimmed = c;
  trimmed.changes.clear();
  trimmed.omitted = {{0, ChangeDigest(c.changes[0])}};
  EXPECT_TRUE(VerifyCommitSignature(trimmed, Unhex(kat::kSignPublicA)).ok());
  // Another value does not.
  Commit edited = c;
  edited.changes[0].fields[1].value = Value::Text("H\xc3\xa0 N\xe1\xbb\x99i");
  EXPECT_EQ(VerifyCommitSignature(edited, Unhex(kat::kSignPublicA)).code(),
            absl::StatusCode::kUnauthenticated);
}

// ---- (c) Key records ----

TEST(KatTest, OfficePublicKeyIsFrozen) {
  EXPECT_EQ(Hex(FixedOfficeKey().public_key), kat::kOfficePublic);
}

TEST(KatTest, OfficeKeyRecordIsFrozen) {
  const KeyRecord r = Must(OfficeKeyRecord(IdentityA(), Created(), FixedOfficeKey()));
  EXPECT_EQ(Hex(r.bytes), kat::kOfficeKeyRecord);
  EXPECT_EQ(Hex(r.Id()), kat::kOfficeKeyRecordId);
}

TEST(KatTest, FrozenOfficeKeyRecordParsesAndVerifies) {
  const KeyRecord r = ParseHex(kat::kOfficeKeyRecord);
  EXPECT_EQ(r.kind, KeyRecordKind::kOfficeKey);
  EXPECT_EQ(r.signer, IdFromHex(kat::kDeviceA));
  EXPECT_EQ(r.created, Created());
  EXPECT_EQ(r.province, kat::kProvince);
  EXPECT_EQ(r.generation, kat::kGeneration);
  EXPECT_EQ(r.office_key_id, IdFromHex(kat::kOfficeKeyId));
  EXPECT_EQ(Hex(r.office_pk), kat::kOfficePublic);
  EXPECT_EQ(Hex(r.Id()), kat::kOfficeKeyRecordId);
  EXPECT_TRUE(VerifyKeyRecord(r, IdentityA().public_keys()).ok());
}

TEST(KatTest, ErasureRecordIsFrozen) {
  const KeyRecord r = Must(ErasureRecord(IdentityA(), Created(), IdFromHex(kat::kKeyRing)));
  EXPECT_EQ(Hex(r.bytes), kat::kErasureRecord);
  const KeyRecord parsed = ParseHex(kat::kErasureRecord);
  EXPECT_EQ(parsed.kind, KeyRecordKind::kErasure);
  EXPECT_EQ(parsed.keyring, IdFromHex(kat::kKeyRing));
  EXPECT_TRUE(VerifyKeyRecord(parsed, IdentityA().public_keys()).ok());
}

TEST(KatTest, FrozenOfficeShareParsesVerifiesAndOpens) {
  const KeyRecord share = ParseHex(kat::kOfficeShareRecord);
  EXPECT_EQ(share.kind, KeyRecordKind::kOfficeShare);
  EXPECT_EQ(share.recipient, IdFromHex(kat::kDeviceB));
  ASSERT_TRUE(VerifyKeyRecord(share, IdentityA().public_keys()).ok());
  absl::StatusOr<OfficeKey> k =
      OpenOfficeShare(IdentityB(), share, ParseHex(kat::kOfficeKeyRecord));
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(Hex(k->secret_key.view()), kat::kOfficeSecret);
  EXPECT_EQ(k->id, IdFromHex(kat::kOfficeKeyId));
  // Everything before the sealed part is deterministic: today's code writes it the same.
  const KeyRecord fresh =
      Must(ShareOfficeKey(IdentityA(), Created(), FixedOfficeKey(), IdentityB().public_keys()));
  EXPECT_EQ(Hex(BeforeSealed(fresh)), Hex(BeforeSealed(share)));
  EXPECT_EQ(fresh.bytes.size(), share.bytes.size());
}

TEST(KatTest, FrozenDataKeyRecordParsesVerifiesAndOpens) {
  const KeyRecord wrap = ParseHex(kat::kDataKeyRecord);
  EXPECT_EQ(wrap.kind, KeyRecordKind::kDataKey);
  EXPECT_EQ(wrap.keyring, IdFromHex(kat::kKeyRing));
  EXPECT_EQ(wrap.key_version, kat::kKeyVersion);
  EXPECT_EQ(wrap.purpose, DataKeyPurpose::kOwner);
  ASSERT_TRUE(VerifyKeyRecord(wrap, IdentityA().public_keys()).ok());
  absl::StatusOr<SecretBytes> key = OpenDataKey(FixedOfficeKey(), wrap);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(Hex(key->view()), kat::kDataKey);
  const KeyRecord fresh =
      Must(WrapDataKey(IdentityA(), Created(), IdFromHex(kat::kKeyRing), kat::kKeyVersion, DataKey(),
                  ParseHex(kat::kOfficeKeyRecord), DataKeyPurpose::kOwner));
  EXPECT_EQ(Hex(BeforeSealed(fresh)), Hex(BeforeSealed(wrap)));
  EXPECT_EQ(fresh.bytes.size(), wrap.bytes.size());
}

TEST(KatTest, FrozenOfficeDataKeyRecordParsesVerifiesAndOpens) {
  const KeyRecord wrap = ParseHex(kat::kOfficeDataKeyRecord);
  EXPECT_EQ(wrap.kind, KeyRecordKind::kOfficeDataKey);
  EXPECT_EQ(wrap.signer, IdFromHex(kat::kDeviceA));
  EXPECT_EQ(wrap.keyring, IdFromHex(kat::kKeyRing));
  EXPECT_EQ(wrap.key_version, kat::kKeyVersion);
  ASSERT_TRUE(VerifyKeyRecord(wrap, IdentityA().public_keys()).ok());
  absl::StatusOr<SecretBytes> key = OpenDataKey(FixedOfficeKey(), wrap);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(Hex(key->view()), kat::kDataKey);
  const KeyRecord fresh =
      WrapDataKeyForOffice(IdFromHex(kat::kDeviceA), Created(), IdFromHex(kat::kKeyRing),
                           kat::kKeyVersion, DataKey(), FixedOfficeKey());
  EXPECT_EQ(Hex(BeforeSealed(fresh)), Hex(BeforeSealed(wrap)));
  EXPECT_EQ(fresh.bytes.size(), wrap.bytes.size());
}

// ---- (d) Keystore ----

TEST(KatTest, FrozenKeystoreUnlocksToDeviceA) {  // one Argon2id derivation
  const std::string frozen = Unhex(kat::kKeystore);
  ASSERT_EQ(frozen.size(), kKeystoreBytes);
  ASSERT_EQ(frozen.size(), 210u);
  absl::StatusOr<KeystoreHeader> h = ParseKeystore(frozen);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->device, IdFromHex(kat::kDeviceA));
  EXPECT_EQ(h->params.opslimit, KdfParams::Moderate().opslimit);
  EXPECT_EQ(h->params.memlimit, KdfParams::Moderate().memlimit);
  EXPECT_EQ(h->params.opslimit, uint64_t{crypto_pwhash_OPSLIMIT_MODERATE});
  EXPECT_EQ(h->params.memlimit, uint64_t{crypto_pwhash_MEMLIMIT_MODERATE});

  absl::StatusOr<DeviceIdentity> id = OpenKeystore(frozen, kat::kPassphrase);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->device(), IdFromHex(kat::kDeviceA));
  EXPECT_EQ(Hex(id->public_keys().sign_pk), kat::kSignPublicA);
  EXPECT_EQ(Hex(id->public_keys().box_pk), kat::kBoxPublicA);
  EXPECT_EQ(Hex(Must(id->box_secret())), kat::kBoxSecretA);
}

}  // namespace
}  // namespace fieldsync::crypto
