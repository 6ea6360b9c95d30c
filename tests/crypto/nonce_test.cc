// Nonces never repeat across a million encryptions under one key in one
// place, and no two of those ciphertexts are equal (SECURITY.md, test 6).
#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "change/value.h"
#include "clock/hlc.h"
#include "crypto/envelope.h"
#include "crypto/secret.h"
#include "crypto_test_util.h"

namespace fieldsync::crypto {
namespace {

constexpr size_t kSeals = 1'000'000;
constexpr size_t kNonceOffset = 22;
constexpr size_t kNonceBytes = 24;
// An empty text seals to the smallest bucket: 32 bytes padded + 16 tag.
constexpr size_t kBodyBytes = 32 + kEnvelopeTagBytes;

TEST(NonceTest, AMillionSealsUnderOneKeyNeverRepeatANonceOrACiphertext) {
  const SecretBytes key = SecretBytes::Random(kDataKeyBytes);
  const RowId ring = crypto_test::FixedId(0x10);
  const FieldContext where{"persons", crypto_test::FixedId(0x20), "full_name",
                           Hlc::FromParts(1'764'000'000'000, 1), crypto_test::FixedId(0x30)};
  // The same value every time: only the nonce can make the ciphertexts differ.
  const Value value = Value::Text("");

  absl::flat_hash_set<std::array<char, kNonceBytes>> nonces;
  absl::flat_hash_set<std::array<char, kBodyBytes>> bodies;
  nonces.reserve(kSeals);
  bodies.reserve(kSeals);

  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < kSeals; ++i) {
    absl::StatusOr<std::string> sealed = SealValue(key, ring, 1, where, value);
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    ASSERT_EQ(sealed->size(), kEnvelopeHeaderBytes + kBodyBytes);

    std::array<char, kNonceBytes> nonce;
    std::memcpy(nonce.data(), sealed->data() + kNonceOffset, kNonceBytes);
    ASSERT_TRUE(nonces.insert(nonce).second)
        << "nonce " << crypto_test::Hex(std::string_view(nonce.data(), nonce.size()))
        << " repeated at seal " << i;

    std::array<char, kBodyBytes> body;
    std::memcpy(body.data(), sealed->data() + kEnvelopeHeaderBytes, kBodyBytes);
    ASSERT_TRUE(bodies.insert(body).second) << "ciphertext repeated at seal " << i;

    // A sample still opens: these are real envelopes, not a broken sealer
    // that emits random bytes.
    if (i % 100'000 == 0) {
      absl::StatusOr<Value> back = OpenValue(key, *sealed, where);
      ASSERT_TRUE(back.ok()) << back.status();
      ASSERT_EQ(*back, value);
    }
  }
  EXPECT_EQ(nonces.size(), kSeals);
  EXPECT_EQ(bodies.size(), kSeals);
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("seconds", std::to_string(seconds));
}

}  // namespace
}  // namespace fieldsync::crypto

