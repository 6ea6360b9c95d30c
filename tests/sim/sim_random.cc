#include "sim/sim_random.h"

#include <sodium.h>

#include <cstring>
#include <mutex>

namespace fieldsync::sim {
namespace {

struct Stream {
  std::mutex mu;
  unsigned char key[crypto_stream_chacha20_KEYBYTES] = {};
  uint64_t block = 0;  // a fresh nonce for every call
};

Stream& St() {
  static Stream* s = new Stream;
  return *s;
}

const char* Name() { return "fieldsync-sim-chacha20"; }

void Buf(void* const out, const size_t size) {
  Stream& s = St();
  std::lock_guard<std::mutex> l(s.mu);
  unsigned char nonce[crypto_stream_chacha20_NONCEBYTES];
  for (size_t i = 0; i < sizeof nonce; ++i) nonce[i] = static_cast<unsigned char>(s.block >> (8 * i));
  ++s.block;
  crypto_stream_chacha20(static_cast<unsigned char*>(out), size, nonce, s.key);
}

uint32_t Random() {
  uint32_t v;
  Buf(&v, sizeof v);
  return v;
}

// As libsodium's own: rejection below 2^32 mod upper, so no bias.
uint32_t Uniform(const uint32_t upper) {
  if (upper < 2) return 0;
  const uint32_t min = (1U + ~upper) % upper;
  uint32_t r;
  do {
    r = Random();
  } while (r < min);
  return r % upper;
}

void Stir() {}
int Close() { return 0; }

randombytes_implementation kImpl = {Name, Random, Stir, Uniform, Buf, Close};

}  // namespace

bool InstallDeterministicSodium() {
  static bool fresh = [] {
    randombytes_set_implementation(&kImpl);
    return sodium_init() == 0;
  }();
  return fresh;
}

void SeedSodium(uint64_t seed) {
  Stream& s = St();
  std::lock_guard<std::mutex> l(s.mu);
  unsigned char in[8];
  for (size_t i = 0; i < 8; ++i) in[i] = static_cast<unsigned char>(seed >> (8 * i));
  crypto_generichash(s.key, sizeof s.key, in, sizeof in, nullptr, 0);
  s.block = 0;
}

}  // namespace fieldsync::sim
