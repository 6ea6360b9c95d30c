// The passphrase keystore (sync-core/crypto/keystore.h): round trip, wrong
// passphrase, downgraded or edited header, truncation, passphrase change and
// the refusals of Create (SECURITY.md, test 5).
//
// Every Argon2id derivation at MODERATE costs about a second and 256 MiB
// here, so the tests start from the frozen keystore of kat_vectors.h rather
// than making one each; the derivations are counted in comments (14 in
// all). Refusals that happen before derivation cost nothing.
#include "crypto/keystore.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "crypto/identity.h"
#include "crypto_test_util.h"
#include "kat_vectors.h"
#include "support/temp_dir.h"

namespace fieldsync::crypto {
namespace {

using crypto_test::FixedId;
using crypto_test::ReadFileBytes;
using crypto_test::WriteFileBytes;
using ::testing::HasSubstr;

// The frozen keystore's passphrase, one that is wrong by one letter, and a
// Vietnamese one for new keystores ("hoa sen nở trên mặt hồ").
const std::string kPassphrase(crypto_test::kat::kPassphrase);
const std::string kWrongPassphrase = "fieldsync known-answer passphrasE";
const std::string kNewPassphrase = "hoa sen n\xe1\xbb\x9f tr\xc3\xaan m\xe1\xba\xb7t h\xe1\xbb\x93";

// Header offsets (keystore.h).
constexpr size_t kOpsOffset = 10;
constexpr size_t kMemOffset = 18;
constexpr size_t kSaltOffset = 26;
constexpr size_t kDeviceOffset = 66;

void PutU64At(std::string* bytes, size_t offset, uint64_t v) {
  for (int i = 0; i < 8; ++i) (*bytes)[offset + i] = static_cast<char>(v >> (56 - 8 * i));
}
uint64_t U64At(const std::string& bytes, size_t offset) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[offset + i]);
  return v;
}

void ExpectSameIdentity(const DeviceIdentity& a, const DeviceIdentity& b) {
  EXPECT_EQ(a.device(), b.device());
  EXPECT_EQ(a.public_keys().sign_pk, b.public_keys().sign_pk);
  EXPECT_EQ(a.public_keys().box_pk, b.public_keys().box_pk);
  EXPECT_EQ(Must(a.sign_secret()), Must(b.sign_secret()));
  EXPECT_EQ(Must(a.box_secret()), Must(b.box_secret()));
}

class KeystoreTest : public ::testing::Test {
 protected:
  // The frozen keystore of kat_vectors.h (device A under kat::kPassphrase):
  // a keystore to edit without paying a derivation to make one, in every
  // process (ctest runs each test in its own).
  KeystoreTest() : good_(crypto_test::Unhex(crypto_test::kat::kKeystore)), identity_(IdentityA()) {}

  static DeviceIdentity IdentityA() {
    return crypto_test::IdentityFromSeeds(crypto_test::kat::kDeviceA, crypto_test::kat::kSignSeedA,
                                          crypto_test::kat::kBoxSecretA);
  }

  // A fresh copy of `bytes` in this test's directory.
  std::string Install(const std::string& bytes) {
    const std::string path = dir_.File("keystore");
    WriteFileBytes(path, bytes);
    return path;
  }

  const std::string good_;
  const DeviceIdentity identity_;
  testing::TempDir dir_;
};

TEST_F(KeystoreTest, CreateThenUnlockGivesBackTheSameKeys) {  // derivations: 2
  const DeviceIdentity created = DeviceIdentity::Generate(FixedId(0x42));
  const std::string path = dir_.File("new-keystore");
  const absl::Status s = CreateKeystoreFile(path, created, kNewPassphrase);
  ASSERT_TRUE(s.ok()) << s;
  const std::string bytes = ReadFileBytes(path);
  ASSERT_EQ(bytes.size(), kKeystoreBytes);
  absl::StatusOr<KeystoreHeader> h = ParseKeystore(bytes);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->device, created.device());
  EXPECT_EQ(h->params.opslimit, uint64_t{crypto_pwhash_OPSLIMIT_MODERATE});
  EXPECT_EQ(h->params.memlimit, uint64_t{crypto_pwhash_MEMLIMIT_MODERATE});

  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  absl::StatusOr<DeviceIdentity> id = UnlockKeystoreFile(path, kNewPassphrase);
  ASSERT_TRUE(id.ok()) << id.status();
  ExpectSameIdentity(*id, created);
}

TEST_F(KeystoreTest, WrongPassphraseIsRefusedAndChangesNothing) {  // derivations: 1
  const std::string path = Install(good_);
  absl::StatusOr<DeviceIdentity> id = UnlockKeystoreFile(path, kWrongPassphrase);
  ASSERT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(id.status().message()), HasSubstr("wrong passphrase"));
  EXPECT_EQ(ReadFileBytes(path), good_);
}

TEST_F(KeystoreTest, LoweredParametersAreRefusedBeforeDerivation) {  // derivations: 0
  struct Lowered {
    uint64_t ops;
    uint64_t mem;
  };
  const uint64_t ops = crypto_pwhash_OPSLIMIT_MODERATE;
  const uint64_t mem = crypto_pwhash_MEMLIMIT_MODERATE;
  const uint64_t low_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  const uint64_t low_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  const auto start = std::chrono::steady_clock::now();
  for (const Lowered& l : {Lowered{low_ops, low_mem}, Lowered{low_ops, mem}, Lowered{ops, low_mem},
                           Lowered{ops - 1, mem}, Lowered{ops, mem - 1},
                           // Argon2id's cheapest: if this were derived at all,
                           // the AEAD would answer UNAUTHENTICATED instead.
                           Lowered{1, 8192}, Lowered{0, 0}}) {
    std::string t = good_;
    PutU64At(&t, kOpsOffset, l.ops);
    PutU64At(&t, kMemOffset, l.mem);
    const std::string why =
        "opslimit " + std::to_string(l.ops) + " memlimit " + std::to_string(l.mem);

    absl::StatusOr<KeystoreHeader> h = ParseKeystore(t);
    EXPECT_EQ(h.status().code(), absl::StatusCode::kFailedPrecondition) << why;
    EXPECT_THAT(std::string(h.status().message()), HasSubstr("below the minimum")) << why;
    // With the right passphrase: a derivation would have ended in OK or
    // UNAUTHENTICATED; FAILED_PRECONDITION is the refusal that comes first.
    absl::StatusOr<DeviceIdentity> id = OpenKeystore(t, kPassphrase);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition) << why;
    const std::string path = Install(t);
    EXPECT_EQ(UnlockKeystoreFile(path, kPassphrase).status().code(),
              absl::StatusCode::kFailedPrecondition)
        << why;
    EXPECT_EQ(ReadFileBytes(path), t);
  }
  // 21 refusals take milliseconds; had they derived keys first (even at the
  // lowered costs), they would take seconds.
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 1.0);
}

TEST_F(KeystoreTest, AbsurdParametersAreRefusedBeforeDerivation) {  // derivations: 0
  // A corrupted header must not make the unlock allocate terabytes or spin.
  for (const auto& [ops, mem] : {std::pair<uint64_t, uint64_t>{65, crypto_pwhash_MEMLIMIT_MODERATE},
                                 {crypto_pwhash_OPSLIMIT_MODERATE, (uint64_t{4} << 30) + 1},
                                 {UINT64_MAX, UINT64_MAX}}) {
    std::string t = good_;
    PutU64At(&t, kOpsOffset, ops);
    PutU64At(&t, kMemOffset, mem);
    EXPECT_EQ(OpenKeystore(t, kPassphrase).status().code(), absl::StatusCode::kFailedPrecondition)
        << ops << " " << mem;
  }
}

TEST_F(KeystoreTest, EditedHeaderFailsToOpen) {  // derivations: 5
  // Unedited, it opens: the refusals below are the edits' doing.
  absl::StatusOr<DeviceIdentity> unedited = OpenKeystore(good_, kPassphrase);
  ASSERT_TRUE(unedited.ok()) << unedited.status();
  ExpectSameIdentity(*unedited, identity_);

  struct Edit {
    const char* what;
    std::string bytes;
  };
  std::string ops_up = good_;
  PutU64At(&ops_up, kOpsOffset, U64At(good_, kOpsOffset) + 1);
  // Argon2 counts memory in KiB, so one more byte derives the very same key:
  // only the header bound as additional data refuses this one.
  std::string mem_up = good_;
  PutU64At(&mem_up, kMemOffset, U64At(good_, kMemOffset) + 1);
  std::string salt = good_;
  salt[kSaltOffset + 5] = static_cast<char>(salt[kSaltOffset + 5] ^ 0x01);
  std::string device = good_;
  device[kDeviceOffset + 15] = static_cast<char>(device[kDeviceOffset + 15] ^ 0x80);

  for (const Edit& e : {Edit{"opslimit + 1", ops_up}, Edit{"memlimit + 1", mem_up},
                        Edit{"salt", salt}, Edit{"device id", device}}) {
    ASSERT_TRUE(ParseKeystore(e.bytes).ok()) << e.what;  // structurally fine, parameters allowed
    absl::StatusOr<DeviceIdentity> id = OpenKeystore(e.bytes, kPassphrase);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated) << e.what;
  }
}

TEST_F(KeystoreTest, EditedMagicVersionOrAlgorithmIsRefused) {  // derivations: 0
  std::string t = good_;
  t[0] = 'X';
  EXPECT_EQ(OpenKeystore(t, kPassphrase).status().code(), absl::StatusCode::kInvalidArgument);
  for (int version : {0, 2, 0xff}) {
    t = good_;
    t[8] = static_cast<char>(version);
    absl::StatusOr<DeviceIdentity> id = OpenKeystore(t, kPassphrase);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition) << version;
    EXPECT_THAT(std::string(id.status().message()), HasSubstr("format version"));
  }
  for (int alg : {0, 1, 3}) {  // 1 = Argon2i
    t = good_;
    t[9] = static_cast<char>(alg);
    EXPECT_EQ(OpenKeystore(t, kPassphrase).status().code(), absl::StatusCode::kFailedPrecondition)
        << alg;
  }
}

TEST_F(KeystoreTest, TruncatedFileIsInvalidArgument) {  // derivations: 0
  for (size_t len : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{10}, size_t{17},
                     size_t{25}, size_t{26}, size_t{41}, size_t{42}, size_t{66}, size_t{81},
                     size_t{82}, size_t{100}, kKeystoreBytes - 16, kKeystoreBytes - 1}) {
    const std::string t = good_.substr(0, len);
    absl::StatusOr<KeystoreHeader> h = ParseKeystore(t);
    ASSERT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument) << len;
    EXPECT_THAT(std::string(h.status().message()), HasSubstr("malformed keystore")) << len;
    EXPECT_EQ(OpenKeystore(t, kPassphrase).status().code(), absl::StatusCode::kInvalidArgument)
        << len;
    EXPECT_EQ(UnlockKeystoreFile(Install(t), kPassphrase).status().code(),
              absl::StatusCode::kInvalidArgument)
        << len;
  }
}

TEST_F(KeystoreTest, OversizedFileIsInvalidArgument) {  // derivations: 0
  for (size_t extra : {size_t{1}, size_t{16}, size_t{5000}}) {
    const std::string t = good_ + std::string(extra, '\0');
    EXPECT_EQ(OpenKeystore(t, kPassphrase).status().code(), absl::StatusCode::kInvalidArgument)
        << extra;
    EXPECT_EQ(UnlockKeystoreFile(Install(t), kPassphrase).status().code(),
              absl::StatusCode::kInvalidArgument)
        << extra;
  }
}

TEST_F(KeystoreTest, MissingFileIsNotFound) {  // derivations: 0
  EXPECT_EQ(UnlockKeystoreFile(dir_.File("absent"), kPassphrase).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(KeystoreTest, PassphraseChangeReplacesThePassphraseAndKeepsTheKeys) {  // derivations: 4
  const std::string path = Install(good_);
  const std::string new_passphrase = "twelve bytes";  // the shortest accepted
  ASSERT_EQ(new_passphrase.size(), kMinPassphraseBytes);
  const absl::Status s = ChangeKeystorePassphrase(path, kPassphrase, new_passphrase);  // 2
  ASSERT_TRUE(s.ok()) << s;
  const std::string changed = ReadFileBytes(path);
  ASSERT_EQ(changed.size(), kKeystoreBytes);
  EXPECT_NE(changed.substr(kSaltOffset, 16), good_.substr(kSaltOffset, 16)) << "salt reused";
  EXPECT_NE(changed.substr(42, 24), good_.substr(42, 24)) << "nonce reused";

  EXPECT_EQ(UnlockKeystoreFile(path, kPassphrase).status().code(),  // 1
            absl::StatusCode::kUnauthenticated);
  absl::StatusOr<DeviceIdentity> id = UnlockKeystoreFile(path, new_passphrase);  // 1
  ASSERT_TRUE(id.ok()) << id.status();
  ExpectSameIdentity(*id, identity_);
}

TEST_F(KeystoreTest, PassphraseChangeWithAWrongOldPassphraseChangesNothing) {  // derivations: 1
  const std::string path = Install(good_);
  const absl::Status s = ChangeKeystorePassphrase(path, kWrongPassphrase, "a new passphrase");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s.message()), HasSubstr("wrong passphrase"));
  EXPECT_EQ(ReadFileBytes(path), good_);
}

TEST_F(KeystoreTest, PassphraseChangeToAShortPassphraseIsRefused) {  // derivations: 0
  const std::string path = Install(good_);
  const absl::Status s = ChangeKeystorePassphrase(path, kPassphrase, "eleven byte");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadFileBytes(path), good_);
}

TEST_F(KeystoreTest, CreateRefusesToOverwrite) {  // derivations: 1
  const std::string path = Install(good_);
  const DeviceIdentity other = DeviceIdentity::Generate(FixedId(0x43));
  const absl::Status s = CreateKeystoreFile(path, other, kPassphrase);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadFileBytes(path), good_);
}

TEST_F(KeystoreTest, CreateRefusesAShortPassphrase) {  // derivations: 0
  const std::string path = dir_.File("new-keystore");
  const absl::Status s = CreateKeystoreFile(path, identity_, "eleven byte");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  struct stat st;
  EXPECT_NE(stat(path.c_str(), &st), 0) << "a keystore was written";
}

TEST_F(KeystoreTest, SealingBelowModerateIsRefused) {  // derivations: 0
  const KdfParams interactive{crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE};
  EXPECT_EQ(SealKeystore(identity_, kPassphrase, interactive).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fieldsync::crypto
