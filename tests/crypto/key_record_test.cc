// Key records (sync-core/crypto/key_record.h): round trips of every kind,
// tampering, wrong signers, replays into another case, version, office or
// recipient, and the refusal of malformed records (SECURITY.md, tests 4 and 8).
#include "crypto/key_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "clock/hlc.h"
#include "crypto/identity.h"
#include "crypto/secret.h"
#include "crypto_test_util.h"

namespace fieldsync::crypto {
namespace {

using crypto_test::FixedId;
using crypto_test::SignByHand;
using crypto_test::SpecKeyRecordBody;
using ::testing::AnyOf;
using ::testing::HasSubstr;

// "Lào Cai", spelled in bytes.
const std::string kProvince = "L\xc3\xa0o Cai";
constexpr Hlc kCreated = Hlc::FromParts(1'764'000'000'000, 9);

class KeyRecordTest : public ::testing::Test {
 protected:
  KeyRecordTest()
      : signer_(DeviceIdentity::Generate(FixedId(0xA0))),
        member_(DeviceIdentity::Generate(FixedId(0xB0))),
        outsider_(DeviceIdentity::Generate(FixedId(0xC0))),
        office_(NewOfficeKey(kProvince, 1)),
        office_record_(Must(OfficeKeyRecord(signer_, kCreated, office_))),
        ring_x_(FixedId(0x10)),
        ring_y_(FixedId(0x11)),
        data_key_(SecretBytes::Random(kDataKeyBytes)) {}

  static KeyRecord Parsed(const KeyRecord& r) {
    absl::StatusOr<KeyRecord> p = ParseKeyRecord(r.bytes);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : KeyRecord();
  }

  KeyRecord Share(const DeviceIdentity& to) const {
    return Must(ShareOfficeKey(signer_, kCreated, office_, to.public_keys()));
  }
  KeyRecord Wrap(const RowId& ring, uint32_t version,
                 DataKeyPurpose purpose = DataKeyPurpose::kOwner) const {
    return Must(WrapDataKey(signer_, kCreated, ring, version, data_key_, office_record_, purpose));
  }
  KeyRecord WrapForOffice(const RowId& ring, uint32_t version) const {
    return WrapDataKeyForOffice(signer_.device(), kCreated, ring, version, data_key_, office_);
  }

  // Whether the record opens to the expected key (for the kinds that hold one).
  bool Opens(const KeyRecord& r) const {
    if (r.kind == KeyRecordKind::kOfficeShare) {
      return OpenOfficeShare(member_, r, office_record_).ok();
    }
    if (r.kind == KeyRecordKind::kDataKey || r.kind == KeyRecordKind::kOfficeDataKey) {
      absl::StatusOr<SecretBytes> k = OpenDataKey(office_, r);
      return k.ok() && k->view() == data_key_.view();
    }
    return true;
  }

  DeviceIdentity signer_;
  DeviceIdentity member_;
  DeviceIdentity outsider_;
  OfficeKey office_;
  KeyRecord office_record_;
  RowId ring_x_;
  RowId ring_y_;
  SecretBytes data_key_;
};

void ExpectSameRecord(const KeyRecord& a, const KeyRecord& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.signer, b.signer);
  EXPECT_EQ(a.created, b.created);
  EXPECT_EQ(a.province, b.province);
  EXPECT_EQ(a.generation, b.generation);
  EXPECT_EQ(a.office_key_id, b.office_key_id);
  EXPECT_EQ(a.office_pk, b.office_pk);
  EXPECT_EQ(a.recipient, b.recipient);
  EXPECT_EQ(a.keyring, b.keyring);
  EXPECT_EQ(a.key_version, b.key_version);
  EXPECT_EQ(a.purpose, b.purpose);
  EXPECT_EQ(a.sealed, b.sealed);
  EXPECT_EQ(a.signature, b.signature);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.Id(), b.Id());
}

// ---- Round trips ----

TEST_F(KeyRecordTest, OfficeKeyRecordRoundTrips) {
  const KeyRecord parsed = Parsed(office_record_);
  ExpectSameRecord(parsed, office_record_);
  EXPECT_EQ(parsed.kind, KeyRecordKind::kOfficeKey);
  EXPECT_EQ(parsed.signer, signer_.device());
  EXPECT_EQ(parsed.created, kCreated);
  EXPECT_EQ(parsed.province, kProvince);
  EXPECT_EQ(parsed.generation, 1u);
  EXPECT_EQ(parsed.office_key_id, office_.id);
  EXPECT_EQ(parsed.office_pk, office_.public_key);
  EXPECT_EQ(parsed.bytes.size(), 27u + 1 + kProvince.size() + 4 + 16 + 32 + 64);
  // The bytes are the documented layout, then the signature.
  EXPECT_EQ(SpecKeyRecordBody(parsed) + parsed.signature, parsed.bytes);
  EXPECT_TRUE(VerifyKeyRecord(parsed, signer_.public_keys()).ok());
}

TEST_F(KeyRecordTest, OfficeShareRoundTripsAndOpensToTheOfficeKey) {
  const KeyRecord share = Parsed(Share(member_));
  EXPECT_EQ(share.kind, KeyRecordKind::kOfficeShare);
  EXPECT_EQ(share.recipient, member_.device());
  EXPECT_EQ(share.province, kProvince);
  EXPECT_EQ(share.generation, 1u);
  EXPECT_EQ(share.office_key_id, office_.id);
  EXPECT_EQ(share.sealed.size(), 96u);
  EXPECT_EQ(share.bytes.size(), 27u + 1 + kProvince.size() + 4 + 16 + 16 + 96 + 64);
  EXPECT_EQ(SpecKeyRecordBody(share) + share.signature, share.bytes);
  ASSERT_TRUE(VerifyKeyRecord(share, signer_.public_keys()).ok());

  absl::StatusOr<OfficeKey> opened = OpenOfficeShare(member_, share, Parsed(office_record_));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->id, office_.id);
  EXPECT_EQ(opened->province, kProvince);
  EXPECT_EQ(opened->generation, 1u);
  EXPECT_EQ(opened->public_key, office_.public_key);
  EXPECT_EQ(opened->secret_key.view(), office_.secret_key.view());
}

TEST_F(KeyRecordTest, DataKeyRecordRoundTripsAndOpensToTheDataKey) {
  for (DataKeyPurpose purpose : {DataKeyPurpose::kOwner, DataKeyPurpose::kReferral,
                                 DataKeyPurpose::kRelayed}) {
    const KeyRecord wrap = Parsed(Wrap(ring_x_, 2, purpose));
    EXPECT_EQ(wrap.kind, KeyRecordKind::kDataKey);
    EXPECT_EQ(wrap.keyring, ring_x_);
    EXPECT_EQ(wrap.key_version, 2u);
    EXPECT_EQ(wrap.province, kProvince);
    EXPECT_EQ(wrap.office_key_id, office_.id);
    EXPECT_EQ(wrap.purpose, purpose);
    EXPECT_EQ(wrap.sealed.size(), 100u);
    EXPECT_EQ(wrap.bytes.size(), 27u + 16 + 4 + 1 + kProvince.size() + 16 + 1 + 100 + 64);
    EXPECT_EQ(SpecKeyRecordBody(wrap) + wrap.signature, wrap.bytes);
    ASSERT_TRUE(VerifyKeyRecord(wrap, signer_.public_keys()).ok());

    absl::StatusOr<SecretBytes> key = OpenDataKey(office_, wrap);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(key->view(), data_key_.view());

    // A member that received the office key through its share opens it too.
    absl::StatusOr<OfficeKey> office =
        OpenOfficeShare(member_, Parsed(Share(member_)), Parsed(office_record_));
    ASSERT_TRUE(office.ok()) << office.status();
    absl::StatusOr<SecretBytes> again = OpenDataKey(*office, wrap);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->view(), data_key_.view());
  }
}

TEST_F(KeyRecordTest, OfficeDataKeyRecordRoundTripsAndOpensToTheDataKey) {
  const KeyRecord wrap = Parsed(WrapForOffice(ring_x_, 2));
  EXPECT_EQ(wrap.kind, KeyRecordKind::kOfficeDataKey);
  EXPECT_EQ(wrap.signer, signer_.device());
  EXPECT_EQ(wrap.keyring, ring_x_);
  EXPECT_EQ(wrap.key_version, 2u);
  EXPECT_EQ(wrap.province, kProvince);
  EXPECT_EQ(wrap.office_key_id, office_.id);
  EXPECT_EQ(wrap.sealed.size(), 92u);
  EXPECT_TRUE(wrap.signature.empty());
  EXPECT_EQ(wrap.bytes.size(), 27u + 16 + 4 + 1 + kProvince.size() + 16 + 92);
  EXPECT_EQ(SpecKeyRecordBody(wrap), wrap.bytes);
  ASSERT_TRUE(VerifyKeyRecord(wrap, signer_.public_keys()).ok());

  absl::StatusOr<SecretBytes> key = OpenDataKey(office_, wrap);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->view(), data_key_.view());
}

TEST_F(KeyRecordTest, ErasureRecordRoundTrips) {
  const KeyRecord erasure = Must(ErasureRecord(signer_, kCreated, ring_x_));
  const KeyRecord parsed = Parsed(erasure);
  ExpectSameRecord(parsed, erasure);
  EXPECT_EQ(parsed.kind, KeyRecordKind::kErasure);
  EXPECT_EQ(parsed.keyring, ring_x_);
  EXPECT_EQ(parsed.bytes.size(), 27u + 16 + 64);
  EXPECT_EQ(SpecKeyRecordBody(parsed) + parsed.signature, parsed.bytes);
  EXPECT_TRUE(VerifyKeyRecord(parsed, signer_.public_keys()).ok());
}

TEST_F(KeyRecordTest, IdIsBlake2b128OfTheBytes) {
  const KeyRecord a = Must(ErasureRecord(signer_, kCreated, ring_x_));
  const KeyRecord b = Must(ErasureRecord(signer_, kCreated, ring_x_));
  const KeyRecord c = Must(ErasureRecord(signer_, kCreated, ring_y_));
  EXPECT_EQ(a.Id().size(), 16u);
  EXPECT_EQ(a.Id(), b.Id());
  EXPECT_NE(a.Id(), c.Id());
  std::string expect(16, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(expect.data()), expect.size(),
                     crypto_test::U(a.bytes), a.bytes.size(), nullptr, 0);
  EXPECT_EQ(a.Id(), expect);
}

// ---- Tampering ----

TEST_F(KeyRecordTest, EveryTamperedBitIsRejected) {
  const std::vector<KeyRecord> records = {
      office_record_,
      Share(member_),
      Wrap(ring_x_, 2, DataKeyPurpose::kOwner),
      Wrap(ring_x_, 2, DataKeyPurpose::kReferral),
      WrapForOffice(ring_x_, 2),
      Must(ErasureRecord(signer_, kCreated, ring_x_)),
  };
  for (const KeyRecord& original : records) {
    // The untouched record passes every check, so each refusal below is the
    // edit's doing.
    const KeyRecord parsed = Parsed(original);
    ASSERT_TRUE(VerifyKeyRecord(parsed, signer_.public_keys()).ok());
    ASSERT_TRUE(Opens(parsed)) << original.Describe();
    const bool is_signed = original.kind != KeyRecordKind::kOfficeDataKey;

    for (size_t i = 0; i < original.bytes.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string t = original.bytes;
        t[i] = static_cast<char>(t[i] ^ (1 << bit));
        absl::StatusOr<KeyRecord> p = ParseKeyRecord(t);
        if (!p.ok()) continue;  // refused by the parser
        const absl::Status v = VerifyKeyRecord(*p, signer_.public_keys());
        if (is_signed) {
          // The signature covers every byte, itself included.
          EXPECT_EQ(v.code(), absl::StatusCode::kUnauthenticated)
              << original.Describe() << ": byte " << i << " bit " << bit << " verified";
        } else {
          // Kind 5 has no signature: the AEAD over the record catches it.
          EXPECT_FALSE(v.ok() && Opens(*p))
              << original.Describe() << ": byte " << i << " bit " << bit << " accepted";
        }
      }
    }
  }
}

TEST_F(KeyRecordTest, EditedFieldsOfAParsedRecordFailVerification) {
  // A caller that edits the struct after parsing (or a parser bug that
  // misreads a field) is caught: the fields must be what the bytes say.
  KeyRecord r = Parsed(Wrap(ring_x_, 2));
  r.keyring = ring_y_;
  EXPECT_EQ(VerifyKeyRecord(r, signer_.public_keys()).code(), absl::StatusCode::kUnauthenticated);
  r = Parsed(Wrap(ring_x_, 2));
  r.key_version = 3;
  EXPECT_EQ(VerifyKeyRecord(r, signer_.public_keys()).code(), absl::StatusCode::kUnauthenticated);
  r = Parsed(Share(member_));
  r.recipient = outsider_.device();
  EXPECT_EQ(VerifyKeyRecord(r, signer_.public_keys()).code(), absl::StatusCode::kUnauthenticated);
  r = Parsed(WrapForOffice(ring_x_, 2));
  r.keyring = ring_y_;
  EXPECT_EQ(VerifyKeyRecord(r, signer_.public_keys()).code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(KeyRecordTest, TamperedSealedKeysDoNotOpen) {
  // Even without signature verification, altered sealed bytes do not open.
  KeyRecord share = Parsed(Share(member_));
  KeyRecord wrap = Parsed(Wrap(ring_x_, 2));
  KeyRecord own = Parsed(WrapForOffice(ring_x_, 2));
  for (size_t i = 0; i < share.sealed.size(); ++i) {
    KeyRecord t = share;
    t.sealed[i] = static_cast<char>(t.sealed[i] ^ 0x01);
    EXPECT_EQ(OpenOfficeShare(member_, t, office_record_).status().code(),
              absl::StatusCode::kUnauthenticated)
        << i;
  }
  for (size_t i = 0; i < wrap.sealed.size(); ++i) {
    KeyRecord t = wrap;
    t.sealed[i] = static_cast<char>(t.sealed[i] ^ 0x01);
    EXPECT_EQ(OpenDataKey(office_, t).status().code(), absl::StatusCode::kUnauthenticated) << i;
  }
  for (size_t i = 0; i < own.sealed.size(); ++i) {
    KeyRecord t = own;
    t.sealed[i] = static_cast<char>(t.sealed[i] ^ 0x01);
    EXPECT_EQ(OpenDataKey(office_, t).status().code(), absl::StatusCode::kUnauthenticated) << i;
  }
}

// ---- Wrong signer ----

TEST_F(KeyRecordTest, WrongSignerIsRejected) {
  // An impostor device that claims the signer's id but holds its own keys.
  absl::StatusOr<DeviceIdentity> impostor = DeviceIdentity::FromSecrets(
      signer_.device(), Must(outsider_.sign_secret()), Must(outsider_.box_secret()));
  ASSERT_TRUE(impostor.ok()) << impostor.status();
  DevicePublic forged_public = signer_.public_keys();
  forged_public.sign_pk = outsider_.public_keys().sign_pk;

  const std::vector<KeyRecord> genuine = {office_record_, Share(member_), Wrap(ring_x_, 2),
                                          Must(ErasureRecord(signer_, kCreated, ring_x_))};
  for (const KeyRecord& r : genuine) {
    const KeyRecord parsed = Parsed(r);
    ASSERT_TRUE(VerifyKeyRecord(parsed, signer_.public_keys()).ok()) << r.Describe();
    // Checked against another device.
    EXPECT_EQ(VerifyKeyRecord(parsed, outsider_.public_keys()).code(),
              absl::StatusCode::kUnauthenticated)
        << r.Describe();
    // Checked against the right id with the wrong signing key.
    EXPECT_EQ(VerifyKeyRecord(parsed, forged_public).code(), absl::StatusCode::kUnauthenticated)
        << r.Describe();
  }

  // Records the impostor signs in the signer's name do not verify.
  OfficeKey other = NewOfficeKey(kProvince, 2);
  const std::vector<KeyRecord> forged = {
      Must(OfficeKeyRecord(*impostor, kCreated, other)),
      Must(ShareOfficeKey(*impostor, kCreated, office_, member_.public_keys())),
      Must(WrapDataKey(*impostor, kCreated, ring_x_, 2, data_key_, office_record_,
                  DataKeyPurpose::kReferral)),
      Must(ErasureRecord(*impostor, kCreated, ring_x_))};
  for (const KeyRecord& r : forged) {
    const KeyRecord parsed = Parsed(r);
    ASSERT_EQ(parsed.signer, signer_.device());
    const absl::Status s = VerifyKeyRecord(parsed, signer_.public_keys());
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << r.Describe();
    EXPECT_THAT(std::string(s.message()), HasSubstr("signature")) << r.Describe();
  }

  // A kind-5 record checked against another device.
  EXPECT_EQ(VerifyKeyRecord(Parsed(WrapForOffice(ring_x_, 2)), outsider_.public_keys()).code(),
            absl::StatusCode::kUnauthenticated);
}

// ---- Replays: a key lifted into a record for something else ----

TEST_F(KeyRecordTest, DataKeyForCaseXResignedAsCaseYIsRefused) {
  const KeyRecord x = Parsed(Wrap(ring_x_, 2));
  ASSERT_TRUE(OpenDataKey(office_, x).ok());

  // A legitimate device signs a record for case Y that carries X's sealed key.
  KeyRecord y = x;
  y.keyring = ring_y_;
  y = SignByHand(signer_, y);
  absl::StatusOr<KeyRecord> parsed = ParseKeyRecord(y.bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->keyring, ring_y_);
  ASSERT_EQ(parsed->sealed, x.sealed);
  // Well signed, so only the binding inside the sealed key can refuse it.
  ASSERT_TRUE(VerifyKeyRecord(*parsed, signer_.public_keys()).ok());
  absl::StatusOr<SecretBytes> key = OpenDataKey(office_, *parsed);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(key.status().message()), HasSubstr("another case or version"));
}

TEST_F(KeyRecordTest, DataKeyForVersion2ResignedAsVersion3IsRefused) {
  const KeyRecord v2 = Parsed(Wrap(ring_x_, 2));
  KeyRecord v3 = v2;
  v3.key_version = 3;
  v3 = SignByHand(signer_, v3);
  absl::StatusOr<KeyRecord> parsed = ParseKeyRecord(v3.bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(VerifyKeyRecord(*parsed, signer_.public_keys()).ok());
  EXPECT_EQ(OpenDataKey(office_, *parsed).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(KeyRecordTest, ReferralGrantForCaseXReplayedForCaseYIsRefused) {
  // The receiving office's key, and a referral grant of case X to it.
  OfficeKey receiving = NewOfficeKey("H\xc3\xa0 N\xe1\xbb\x99i", 1);
  const KeyRecord receiving_record = Must(OfficeKeyRecord(signer_, kCreated, receiving));
  const KeyRecord grant = Parsed(Must(WrapDataKey(signer_, kCreated, ring_x_, 1, data_key_,
                                             receiving_record, DataKeyPurpose::kReferral)));
  ASSERT_TRUE(OpenDataKey(receiving, grant).ok());
  KeyRecord replay = grant;
  replay.keyring = ring_y_;
  replay = SignByHand(signer_, replay);
  ASSERT_TRUE(VerifyKeyRecord(Parsed(replay), signer_.public_keys()).ok());
  EXPECT_EQ(OpenDataKey(receiving, Parsed(replay)).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(KeyRecordTest, EditedKeyRingBytesBreakTheSignature) {
  const KeyRecord x = Wrap(ring_x_, 2);
  // Key ring: bytes 27..42 of a data key record.
  std::string t = x.bytes;
  t.replace(27, 16, ring_y_.view());
  absl::StatusOr<KeyRecord> parsed = ParseKeyRecord(t);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->keyring, ring_y_);
  EXPECT_EQ(VerifyKeyRecord(*parsed, signer_.public_keys()).code(),
            absl::StatusCode::kUnauthenticated);
  // And it does not open as Y's key either.
  EXPECT_EQ(OpenDataKey(office_, *parsed).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(KeyRecordTest, ParsedRecordWithAnotherKeyRingDoesNotOpen) {
  // A caller that skipped verification: the struct claims Y, keeps X's sealed key.
  for (const KeyRecord& original : {Wrap(ring_x_, 2), WrapForOffice(ring_x_, 2)}) {
    KeyRecord r = Parsed(original);
    ASSERT_TRUE(OpenDataKey(office_, r).ok());
    r.keyring = ring_y_;
    EXPECT_EQ(OpenDataKey(office_, r).status().code(), absl::StatusCode::kUnauthenticated)
        << original.Describe();
    r = Parsed(original);
    r.key_version = 3;
    EXPECT_EQ(OpenDataKey(office_, r).status().code(), absl::StatusCode::kUnauthenticated)
        << original.Describe();
  }
}

TEST_F(KeyRecordTest, OfficeDataKeyForCaseXRelabelledAsCaseYIsRefused) {
  // Kind 5 carries no signature: anyone may relabel its bytes. The AEAD,
  // whose additional data is the record up to the sealed part, refuses it.
  const KeyRecord x = Parsed(WrapForOffice(ring_x_, 2));
  KeyRecord y = x;
  y.keyring = ring_y_;
  y.bytes = SpecKeyRecordBody(y);
  absl::StatusOr<KeyRecord> parsed = ParseKeyRecord(y.bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->keyring, ring_y_);
  EXPECT_EQ(OpenDataKey(office_, *parsed).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(KeyRecordTest, DataKeyForAnotherOfficeIsRefused) {
  OfficeKey other = NewOfficeKey(kProvince, 2);
  const KeyRecord wrap = Parsed(Wrap(ring_x_, 2));
  // Presented to another office key: refused before any decryption.
  EXPECT_FALSE(OpenDataKey(other, wrap).ok());
  // Re-signed to name the other office key: sealed to the first, so it does not open.
  KeyRecord moved = wrap;
  moved.office_key_id = other.id;
  moved = SignByHand(signer_, moved);
  ASSERT_TRUE(VerifyKeyRecord(Parsed(moved), signer_.public_keys()).ok());
  EXPECT_EQ(OpenDataKey(other, Parsed(moved)).status().code(), absl::StatusCode::kUnauthenticated);
  // The same for kind 5.
  KeyRecord own = Parsed(WrapForOffice(ring_x_, 2));
  own.office_key_id = other.id;
  own.bytes = SpecKeyRecordBody(own);
  EXPECT_EQ(OpenDataKey(other, Parsed(own)).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(KeyRecordTest, ShareOpenedByADeviceThatIsNotItsRecipientIsRefused) {
  const KeyRecord share = Parsed(Share(member_));
  ASSERT_TRUE(OpenOfficeShare(member_, share, office_record_).ok());
  absl::StatusOr<OfficeKey> k = OpenOfficeShare(outsider_, share, office_record_);
  EXPECT_THAT(k.status().code(),
              AnyOf(absl::StatusCode::kPermissionDenied, absl::StatusCode::kUnauthenticated));
  // Re-addressed to the outsider and re-signed: still sealed to the member.
  KeyRecord readdressed = share;
  readdressed.recipient = outsider_.device();
  readdressed = SignByHand(signer_, readdressed);
  ASSERT_TRUE(VerifyKeyRecord(Parsed(readdressed), signer_.public_keys()).ok());
  EXPECT_EQ(OpenOfficeShare(outsider_, Parsed(readdressed), office_record_).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(KeyRecordTest, ShareWithAnotherSharesSealedBytesIsRefused) {
  // Same office key, other recipient: the sealed bytes do not open for me.
  const KeyRecord mine = Parsed(Share(member_));
  const KeyRecord theirs = Parsed(Share(outsider_));
  KeyRecord swapped = mine;
  swapped.sealed = theirs.sealed;
  swapped = SignByHand(signer_, swapped);
  ASSERT_TRUE(VerifyKeyRecord(Parsed(swapped), signer_.public_keys()).ok());
  EXPECT_EQ(OpenOfficeShare(member_, Parsed(swapped), office_record_).status().code(),
            absl::StatusCode::kUnauthenticated);

  // Addressed to me, but holding another office key (another generation):
  // it opens, and the office key id inside does not match.
  OfficeKey gen2 = NewOfficeKey(kProvince, 2);
  const KeyRecord gen2_share =
      Parsed(Must(ShareOfficeKey(signer_, kCreated, gen2, member_.public_keys())));
  ASSERT_TRUE(OpenOfficeShare(member_, gen2_share, Must(OfficeKeyRecord(signer_, kCreated, gen2))).ok());
  KeyRecord lifted = mine;
  lifted.sealed = gen2_share.sealed;
  lifted = SignByHand(signer_, lifted);
  ASSERT_TRUE(VerifyKeyRecord(Parsed(lifted), signer_.public_keys()).ok());
  EXPECT_EQ(OpenOfficeShare(member_, Parsed(lifted), office_record_).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(KeyRecordTest, ShareCheckedAgainstAnotherOfficeKeyRecordIsRefused) {
  OfficeKey gen2 = NewOfficeKey(kProvince, 2);
  const KeyRecord share = Parsed(Share(member_));
  EXPECT_EQ(
      OpenOfficeShare(member_, share, Must(OfficeKeyRecord(signer_, kCreated, gen2))).status().code(),
      absl::StatusCode::kUnauthenticated);
  // An office key record naming this key's id and generation but another
  // public key: the secret inside the share does not match it.
  KeyRecord fake = Parsed(office_record_);
  fake.office_pk = gen2.public_key;
  fake = SignByHand(signer_, fake);
  EXPECT_EQ(OpenOfficeShare(member_, share, Parsed(fake)).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// ---- Malformed records ----

TEST_F(KeyRecordTest, EveryTruncationIsRefusedWithAClearError) {
  for (const KeyRecord& r :
       {office_record_, Share(member_), Wrap(ring_x_, 2), WrapForOffice(ring_x_, 2),
        Must(ErasureRecord(signer_, kCreated, ring_x_))}) {
    for (size_t len = 0; len < r.bytes.size(); ++len) {
      absl::StatusOr<KeyRecord> p = ParseKeyRecord(r.bytes.substr(0, len));
      ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument)
          << r.Describe() << ": prefix of " << len;
      EXPECT_THAT(std::string(p.status().message()), HasSubstr("malformed key record"))
          << r.Describe() << ": prefix of " << len;
    }
  }
}

TEST_F(KeyRecordTest, OversizedRecordsAreRefusedWithAClearError) {
  for (const KeyRecord& r :
       {office_record_, Share(member_), Wrap(ring_x_, 2), WrapForOffice(ring_x_, 2),
        Must(ErasureRecord(signer_, kCreated, ring_x_))}) {
    for (size_t extra : {size_t{1}, size_t{64}}) {
      absl::StatusOr<KeyRecord> p = ParseKeyRecord(r.bytes + std::string(extra, '\0'));
      ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << r.Describe();
      EXPECT_THAT(std::string(p.status().message()), HasSubstr("trailing")) << r.Describe();
    }
    for (size_t size : {kMaxKeyRecordBytes + 1, size_t{1} << 20}) {
      std::string big = r.bytes;
      big.resize(size, '\x5a');
      absl::StatusOr<KeyRecord> p = ParseKeyRecord(big);
      ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << r.Describe();
      EXPECT_THAT(std::string(p.status().message()), HasSubstr("exceeds the limit"));
    }
  }
}

TEST_F(KeyRecordTest, UnknownFormatVersionIsFailedPrecondition) {
  for (int version : {0, 2, 0xff}) {
    std::string t = office_record_.bytes;
    t[1] = static_cast<char>(version);
    absl::StatusOr<KeyRecord> p = ParseKeyRecord(t);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition) << version;
    EXPECT_THAT(std::string(p.status().message()), HasSubstr("format version"));
  }
  EXPECT_EQ(ParseKeyRecord(std::string("\xF6\x02", 2)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(KeyRecordTest, UnknownKindOrMagicIsRefused) {
  for (int kind : {0, 7, 0x7f, 0xff}) {
    std::string t = office_record_.bytes;
    t[2] = static_cast<char>(kind);
    absl::StatusOr<KeyRecord> p = ParseKeyRecord(t);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << kind;
    EXPECT_THAT(std::string(p.status().message()), HasSubstr("unknown kind")) << kind;
  }
  std::string t = office_record_.bytes;
  t[0] = static_cast<char>(0xF5);  // an envelope's magic
  absl::StatusOr<KeyRecord> p = ParseKeyRecord(t);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("wrong magic"));
}

TEST_F(KeyRecordTest, GenerationZeroVersionZeroAndBadProvinceAreRefused) {
  KeyRecord r = Parsed(office_record_);
  r.generation = 0;
  EXPECT_EQ(ParseKeyRecord(SignByHand(signer_, r).bytes).status().code(),
            absl::StatusCode::kInvalidArgument);
  r = Parsed(Wrap(ring_x_, 2));
  r.key_version = 0;
  EXPECT_EQ(ParseKeyRecord(SignByHand(signer_, r).bytes).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (const std::string& province : {std::string(), std::string(65, 'a'), std::string("\xc3")}) {
    r = Parsed(office_record_);
    r.province = province;
    EXPECT_EQ(ParseKeyRecord(SignByHand(signer_, r).bytes).status().code(),
              absl::StatusCode::kInvalidArgument)
        << province.size();
  }
}

}  // namespace
}  // namespace fieldsync::crypto
