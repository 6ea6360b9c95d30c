// crypto/hash.h against libsodium's one-shot crypto_generichash: keyed
// BLAKE2b, the incremental hasher (plain and keyed, fed in random pieces),
// and the hex form. Randomized: the seed is printed and can be replayed with
// FIELDSYNC_SEED=N.
#include "crypto/hash.h"

#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace fieldsync::crypto {
namespace {

const unsigned char* U(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// libsodium's one-shot BLAKE2b, the reference.
std::string Reference(const std::string& data, size_t out_bytes, const std::string& key) {
  std::string out(out_bytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(), U(data),
                     data.size(), key.empty() ? nullptr : U(key), key.size());
  return out;
}

uint32_t Seed() {
  const char* env = std::getenv("FIELDSYNC_SEED");
  const uint32_t seed = env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10))
                            : std::random_device{}();
  std::printf("hash_test seed %u (replay: FIELDSYNC_SEED=%u)\n", seed, seed);
  return seed;
}

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

class HashTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
};

TEST_F(HashTest, Blake2b256EqualsLibsodium) {
  for (const std::string& data : {std::string(), std::string("abc"), std::string(1000, 'x')}) {
    EXPECT_EQ(Blake2b256(data), Reference(data, kHashBytes, ""));
  }
}

TEST_F(HashTest, KeyedEqualsLibsodiumOneShot) {
  std::mt19937 rng(Seed());
  for (int round = 0; round < 200; ++round) {
    const size_t key_bytes = 16 + rng() % 49;  // 16..64
    const size_t out_bytes = 16 + rng() % 49;  // 16..64
    const std::string key = RandomBytes(rng, key_bytes);
    const std::string data = RandomBytes(rng, rng() % 600);
    SCOPED_TRACE(testing::Message() << "round " << round);
    EXPECT_EQ(KeyedBlake2b(key, data, out_bytes), Reference(data, out_bytes, key));
  }
  // The default length is 32 bytes.
  const std::string key(kHashKeyBytes, 'k');
  EXPECT_EQ(KeyedBlake2b(key, "abc"), Reference("abc", kHashBytes, key));
  // A key changes the hash.
  EXPECT_NE(KeyedBlake2b(key, "abc"), Blake2b256("abc"));
}

TEST_F(HashTest, IncrementalEqualsOneShotOfTheConcatenation) {
  std::mt19937 rng(Seed());
  for (int round = 0; round < 200; ++round) {
    const bool keyed = round % 2 == 1;
    const size_t out_bytes = round % 3 == 0 ? kHashBytes : 16 + rng() % 49;
    const std::string key = keyed ? RandomBytes(rng, 16 + rng() % 49) : "";
    const std::string data = RandomBytes(rng, rng() % 2000);
    Blake2bHasher h(out_bytes, key);
    // Fed in random pieces, empty ones included.
    for (size_t at = 0; at < data.size();) {
      const size_t n = std::min<size_t>(data.size() - at, rng() % 300);
      h.Update(std::string_view(data).substr(at, n));
      at += n;
    }
    SCOPED_TRACE(testing::Message() << "round " << round << (keyed ? ", keyed" : ""));
    const std::string got = h.Final();
    EXPECT_EQ(got, Reference(data, out_bytes, key));
    if (keyed) {
      EXPECT_EQ(got, KeyedBlake2b(key, data, out_bytes));
    } else if (out_bytes == kHashBytes) {
      EXPECT_EQ(got, Blake2b256(data));
    }
  }
}

TEST_F(HashTest, DomainHashIsTheIncrementalHashOfDomainZeroParts) {
  Blake2bHasher h;
  h.Update("fieldsync test").Update(std::string_view("\0", 1)).Update("a").Update("bc");
  EXPECT_EQ(DomainHash("fieldsync test", {"a", "bc"}), h.Final());
}

TEST_F(HashTest, HashHexEqualsLibsodiumHex) {
  std::mt19937 rng(Seed());
  const std::string bytes = RandomBytes(rng, 32);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, U(bytes), bytes.size());
  EXPECT_EQ(HashHex(bytes), std::string(hex, 64));
  EXPECT_EQ(HashHex(std::string("\x00\xff\x0a", 3)), "00ff0a");
  EXPECT_EQ(HashHex(""), "");
}

}  // namespace
}  // namespace fieldsync::crypto
